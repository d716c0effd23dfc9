package jsonschema

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Schema is a JSON Schema document, kept as an ordered tree of maps so that
// it marshals deterministically (encoding/json sorts map keys).
type Schema = map[string]any

// For returns the JSON Schema of v's type (v may be a value or a pointer to
// one), as JSON.
func For(v any) ([]byte, error) {
	if v == nil {
		return nil, fmt.Errorf("jsonschema: nil value has no type")
	}
	t := reflect.TypeOf(v)
	g := &gen{defs: map[string]Schema{}, seen: map[reflect.Type]string{}}
	s := g.schema(t)
	s["$schema"] = "http://json-schema.org/draft-07/schema#"
	if len(g.defs) > 0 {
		s["definitions"] = g.defs
	}
	return json.Marshal(s)
}

type gen struct {
	defs  map[string]Schema
	seen  map[reflect.Type]string // struct types being or already described: their definition name
	stack []reflect.Type
}

var (
	timeType      = reflect.TypeFor[time.Time]()
	durationType  = reflect.TypeFor[time.Duration]()
	rawType       = reflect.TypeFor[json.RawMessage]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

func (g *gen) schema(t reflect.Type) Schema {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case timeType:
		return Schema{"type": "string", "format": "date-time"}
	case durationType:
		return Schema{"type": "integer", "description": "nanoseconds"}
	case rawType:
		return Schema{}
	}
	if t.Kind() != reflect.Struct && reflect.PointerTo(t).Implements(textMarshaler) {
		return Schema{"type": "string"}
	}
	switch t.Kind() {
	case reflect.Bool:
		return Schema{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return Schema{"type": "integer"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return Schema{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return Schema{"type": "number"}
	case reflect.String:
		return Schema{"type": "string"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return Schema{"type": "string", "contentEncoding": "base64"}
		}
		s := Schema{"type": "array", "items": g.schema(t.Elem())}
		if t.Kind() == reflect.Array {
			s["minItems"], s["maxItems"] = t.Len(), t.Len()
		}
		return s
	case reflect.Map:
		return Schema{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Struct:
		return g.structSchema(t)
	}
	return Schema{} // interfaces, and what no codec encodes: anything
}

// structSchema describes a struct inline, or as a reference when it is
// recursive (it appears inside itself).
func (g *gen) structSchema(t reflect.Type) Schema {
	for _, on := range g.stack {
		if on == t {
			name := g.defName(t)
			return Schema{"$ref": "#/definitions/" + name}
		}
	}
	if name, ok := g.seen[t]; ok {
		return Schema{"$ref": "#/definitions/" + name}
	}
	g.stack = append(g.stack, t)
	s := g.object(t)
	g.stack = g.stack[:len(g.stack)-1]
	if name, ok := g.seen[t]; ok {
		// It referred to itself: the definition holds it, here a reference.
		g.defs[name] = s
		return Schema{"$ref": "#/definitions/" + name}
	}
	return s
}

func (g *gen) defName(t reflect.Type) string {
	if name, ok := g.seen[t]; ok {
		return name
	}
	name := t.Name()
	if name == "" {
		name = "anonymous"
	}
	for base, i := name, 2; ; i++ {
		if !g.taken(name) {
			break
		}
		name = fmt.Sprintf("%s%d", base, i)
	}
	g.seen[t] = name
	g.defs[name] = Schema{} // filled when the outermost description ends
	return name
}

func (g *gen) taken(name string) bool {
	_, ok := g.defs[name]
	return ok
}

func (g *gen) object(t reflect.Type) Schema {
	props := Schema{}
	var required []string
	g.fields(t, props, &required)
	s := Schema{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

// fields adds t's encoded fields, promoting those of embedded structs as
// encoding/json does.
func (g *gen) fields(t reflect.Type, props Schema, required *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				g.fields(ft, props, required)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		ps := g.schema(f.Type)
		switch f.Type.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
			ps = nullable(ps) // nil encodes as null
		}
		if d := f.Tag.Get("doc"); d != "" {
			if _, ref := ps["$ref"]; ref {
				ps = Schema{"allOf": []any{ps}, "description": d}
			} else {
				ps["description"] = d
			}
		}
		props[name] = ps
		if !strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer {
			*required = append(*required, name)
		}
	}
}

// nullable lets s also be null.
func nullable(s Schema) Schema {
	switch t := s["type"].(type) {
	case string:
		s["type"] = []string{t, "null"}
		return s
	case nil:
		if len(s) == 0 {
			return s // anything, null included
		}
	}
	return Schema{"anyOf": []any{s, Schema{"type": "null"}}}
}
