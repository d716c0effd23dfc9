package asyncapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Payload schemas. A member advertises each payload as a standalone JSON
// Schema (draft-07): "$schema" at its root, recursive types in its root's
// "definitions", referred to as "#/definitions/name". Inside an AsyncAPI
// document a "#..." reference is resolved against the whole document, so
// the payload goes to components.schemas under its message's id, each of
// its definitions beside it as "<message id>.<name>" (a payload that is
// only a reference to a definition is that definition), and every local
// reference is rewritten to point there. The root's "$schema" and "$id"
// are dropped: a message's default schemaFormat, the AsyncAPI Schema
// object, is a superset of draft-07.

// decodeSchema decodes an advertised schema, keeping numbers as written.
func decodeSchema(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the schema")
	}
	switch v.(type) {
	case map[string]any, bool:
		return v, nil
	}
	return nil, fmt.Errorf("a schema is an object or a boolean, not %T", v)
}

// canonical is a schema's JSON with sorted keys: equal schemas, equal text.
func canonical(v any) string {
	b, err := json.Marshal(v)
	if err != nil { // decoded JSON always marshals
		panic(err)
	}
	return string(b)
}

// schemaSet is components.schemas being filled.
type schemaSet struct {
	ids     namer
	schemas map[string]any
}

// add puts payload in the set under id (already unique), with its
// definitions beside it. A payload that is only a reference to one of its
// definitions (a recursive type) is that definition, under id.
func (s *schemaSet) add(id string, payload any) {
	root, ok := payload.(map[string]any)
	if !ok {
		s.schemas[id] = payload // a boolean schema
		return
	}
	root = cloneMap(root)
	delete(root, "$schema")
	delete(root, "$id")
	defs := make(map[string]map[string]any) // keyword -> name -> definition
	for _, kw := range []string{"definitions", "$defs"} {
		if d, ok := root[kw].(map[string]any); ok {
			defs[kw] = d
			delete(root, kw)
		}
	}
	aliasKW, aliasName := "", ""
	if r, ok := root["$ref"].(string); ok && len(root) == 1 {
		for kw, d := range defs {
			if name, ok := strings.CutPrefix(r, "#/"+kw+"/"); ok && !strings.Contains(name, "/") {
				if _, ok := d[unescapePointer(name)]; ok {
					aliasKW, aliasName = kw, unescapePointer(name)
				}
			}
		}
	}
	// Every definition gets its id, then every schema its rewritten refs.
	defNames := make(map[string]map[string]string)
	type movedDef struct {
		id  string
		def any
	}
	var moved []movedDef
	for _, kw := range sortedKeys(defs) {
		names := make(map[string]string, len(defs[kw]))
		for _, name := range sortedKeys(defs[kw]) {
			if kw == aliasKW && name == aliasName {
				names[name] = id
				continue
			}
			did := s.ids.take(id + "." + sanitize(name))
			names[name] = did
			moved = append(moved, movedDef{did, defs[kw][name]})
		}
		defNames[kw] = names
	}
	rw := func(v any) any { return rewriteRefs(v, id, defNames) }
	if aliasKW != "" {
		s.schemas[id] = rw(defs[aliasKW][aliasName])
	} else {
		s.schemas[id] = rw(root)
	}
	for _, m := range moved {
		s.schemas[m.id] = rw(m.def)
	}
}

// rewriteRefs returns v with its document-local references pointing into
// components.schemas.
func rewriteRefs(v any, id string, defNames map[string]map[string]string) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			switch k {
			case "enum", "const", "default", "examples":
				out[k] = e // values, not schemas
				continue
			case "$ref":
				if r, ok := e.(string); ok {
					out[k] = rewriteRef(r, id, defNames)
					continue
				}
			}
			out[k] = rewriteRefs(e, id, defNames)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = rewriteRefs(e, id, defNames)
		}
		return out
	}
	return v
}

func rewriteRef(r, id string, defNames map[string]map[string]string) string {
	ptr, ok := strings.CutPrefix(r, "#")
	if !ok {
		return r // another document's: left as is
	}
	for kw, names := range defNames {
		rest, ok := strings.CutPrefix(ptr, "/"+kw+"/")
		if !ok {
			continue
		}
		tok, tail, _ := strings.Cut(rest, "/")
		if did, ok := names[unescapePointer(tok)]; ok {
			if tail != "" {
				tail = "/" + tail
			}
			return "#/components/schemas/" + did + tail
		}
	}
	return "#/components/schemas/" + id + ptr
}

// unescapePointer decodes one JSON Pointer token (RFC 6901).
func unescapePointer(tok string) string {
	return strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// headersSchema is the schema of a message's headers.
func headersSchema() map[string]any {
	return map[string]any{
		"type": "object",
		"description": "The message's headers: string values. meshmq's envelope fields (ID, Kind, Key, " +
			"CorrelationID, ReplyTo, TTL, ...) are not headers; PROTOCOL.md section 6 lays them out.",
		"properties": map[string]any{
			"content-type": map[string]any{
				"type":        "string",
				"examples":    []any{ContentTypeMsgPack, ContentTypeJSON},
				"description": "The body's encoding (case and parameters ignored); absent means MessagePack.",
			},
		},
		"additionalProperties": map[string]any{"type": "string"},
	}
}
