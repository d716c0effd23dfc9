package asyncapi

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/peer"
)

// Category refers to itself through a slice: its schema is a reference
// into definitions.
type Category struct {
	Name     string     `json:"name"`
	Children []Category `json:"children"`
}

// List holds a recursive Item: its schema is inline, Item's a definition.
type List struct {
	Title string `json:"title"`
	Head  *Item  `json:"head,omitempty"`
}

type Item struct {
	Value int   `json:"value"`
	Next  *Item `json:"next,omitempty"`
}

// A schema written by hand: "#" for itself, $defs, a definition whose name
// needs escaping, and an enum value that looks like a reference.
const handSchema = `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "$id": "http://example.com/tree.json",
  "type": "object",
  "properties": {
    "kids": {"type": "array", "items": {"$ref": "#"}},
    "tag": {"$ref": "#/$defs/a~1b"},
    "mode": {"enum": [{"$ref": "#/not/a/schema"}, "plain"]}
  },
  "$defs": {"a/b": {"type": "string", "maxLength": 3}}
}`

// Recursive payloads: definitions move to components.schemas, references
// are rewritten, and the document still validates — and so do payloads
// against the schemas as they stand in the document.
func TestRecursiveSchemas(t *testing.T) {
	p := startPeer(t, "catalog")
	if err := p.Handle("catalog", nop,
		peer.Takes(peer.MessageType{Payload: Category{}}),
		peer.Takes(peer.MessageType{Payload: &List{}})); err != nil {
		t.Fatal(err)
	}
	self := p.Advertisement()
	self.MessageTypes = append(self.MessageTypes, discovery.MessageType{
		Channel: "catalog", Direction: discovery.Receive, Kind: channel.Command, Name: "Tree", Schema: []byte(handSchema),
	})
	doc, err := ForMembers(Info{}, self)
	if err != nil {
		t.Fatal(err)
	}
	j := valid(t, doc)

	want := []string{"Category", "List", "List.Item", "Tree", "Tree.a_b", headersID}
	if got := keys(doc.Components.Schemas); !slices.Equal(got, want) {
		t.Fatalf("schemas %v, want %v", got, want)
	}
	if strings.Contains(string(j), "#/definitions") || strings.Contains(string(j), "#/$defs") ||
		strings.Contains(string(j), "draft-07/schema") || strings.Contains(string(j), "example.com") {
		t.Errorf("a payload keeps its own definitions, $schema or $id:\n%s", j)
	}
	w := tree(t, j)
	if at(t, w, "components/schemas/Category/properties/children/items/$ref") != "#/components/schemas/Category" ||
		at(t, w, "components/schemas/List/properties/head/anyOf").([]any)[0].(map[string]any)["$ref"] != "#/components/schemas/List.Item" ||
		at(t, w, "components/schemas/Tree/properties/kids/items/$ref") != "#/components/schemas/Tree" {
		t.Errorf("references not rewritten:\n%s", j)
	}
	if !strings.Contains(string(j), `"$ref": "#/not/a/schema"`) {
		t.Errorf("an enum value was rewritten as a reference")
	}

	compile := documentSchemas(t, j)
	for _, c := range []struct {
		schema, instance string
		ok               bool
	}{
		{"Category", `{"name":"a","children":[{"name":"b","children":[{"name":"c","children":[]}]}]}`, true},
		{"Category", `{"name":"a","children":[{"name":"b","children":[{"children":[]}]}]}`, false},
		{"List", `{"title":"l","head":{"value":1,"next":{"value":2,"next":null}}}`, true},
		{"List", `{"title":"l","head":{"value":1,"next":{"value":"two"}}}`, false},
		{"Tree", `{"kids":[{"kids":[{"tag":"abc"}]}],"tag":"ab"}`, true},
		{"Tree", `{"kids":[{"kids":[{"tag":"abcd"}]}]}`, false},
	} {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(c.instance))
		if err != nil {
			t.Fatal(err)
		}
		err = compile(c.schema).Validate(inst)
		if (err == nil) != c.ok {
			t.Errorf("%s against %s: %v, want ok=%v", c.instance, c.schema, err, c.ok)
		}
	}
}

// documentSchemas compiles components.schemas of a document as they stand
// in it, so that their references resolve against the document.
func documentSchemas(t *testing.T, j []byte) func(name string) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.UseLoader(offline{})
	if err := c.AddResource("mem://asyncapi.json", doc); err != nil {
		t.Fatal(err)
	}
	return func(name string) *jsonschema.Schema {
		s, err := c.Compile("mem://asyncapi.json#/components/schemas/" + name)
		if err != nil {
			t.Fatalf("components.schemas.%s: %v", name, err)
		}
		return s
	}
}

// The payload schemas of TestForCluster's cluster check real bodies: a
// Charge encoded as JSON, the way the JSON codec writes it.
func TestPayloadSchemaMatchesJSONBodies(t *testing.T) {
	doc, err := ForMembers(Info{}, discovery.Member{Name: "x", MessageTypes: []discovery.MessageType{
		{Channel: "billing", Direction: discovery.Receive, Kind: channel.Command, Name: "Charge", Schema: mustSchema(t, Charge{})},
	}})
	if err != nil {
		t.Fatal(err)
	}
	j := valid(t, doc)
	body, err := json.Marshal(Charge{Order: "o-1", Cents: 4200})
	if err != nil {
		t.Fatal(err)
	}
	inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err := documentSchemas(t, j)("Charge").Validate(inst); err != nil {
		t.Errorf("a Charge does not match its schema: %v", err)
	}
}

// mustSchema is the schema a peer advertises for v's type.
func mustSchema(t *testing.T, v any) []byte {
	t.Helper()
	p := startPeer(t, "schema")
	if err := p.Emits("x", peer.MessageType{Payload: v}); err != nil {
		t.Fatal(err)
	}
	return p.Advertisement().MessageTypes[0].Schema
}
