package jsonschema

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

type base struct {
	ID string `json:"id" doc:"the order's ID"`
}

type node struct {
	Value int   `json:"value"`
	Next  *node `json:"next,omitempty"`
}

type order struct {
	base
	Customer string            `json:"customer"`
	Lines    []line            `json:"lines"`
	Tags     map[string]string `json:"tags,omitempty"`
	At       time.Time         `json:"at"`
	Blob     []byte            `json:"blob,omitempty"`
	Note     *string           `json:"note"`
	Chain    *node             `json:"chain,omitempty"`
	Any      any               `json:"any,omitempty"`
	skipped  int
	Ignored  int `json:"-"`
	Plain    uint8
}

type line struct {
	SKU string  `json:"sku"`
	Qty uint    `json:"qty"`
	Per float64 `json:"per"`
}

func compile(t *testing.T, schema []byte) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("mem://schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("mem://schema.json")
	if err != nil {
		t.Fatalf("the derived schema does not compile: %v\n%s", err, schema)
	}
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, v any) error {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return s.Validate(inst)
}

// The schema of a type accepts the type's own encodings and rejects
// documents of another shape.
func TestSchemaValidatesEncodings(t *testing.T) {
	raw, err := For(&order{})
	if err != nil {
		t.Fatal(err)
	}
	s := compile(t, raw)
	note := "leave at the door"
	good := order{base: base{ID: "o-1"}, Customer: "ada", Lines: []line{{"sku-1", 2, 9.5}},
		Tags: map[string]string{"eu": "yes"}, At: time.Now(), Blob: []byte{1, 2}, Note: &note,
		Chain: &node{1, &node{2, nil}}, Any: []int{1}}
	if err := validate(t, s, good); err != nil {
		t.Fatalf("an order does not validate: %v\n%s", err, raw)
	}
	if err := validate(t, s, order{}); err != nil {
		t.Fatalf("a zero order does not validate: %v", err)
	}
	for name, bad := range map[string]any{
		"lines of strings": map[string]any{"id": "x", "customer": "c", "lines": []string{"a"}, "at": "2026-01-01T00:00:00Z", "note": nil, "Plain": 1},
		"missing customer": map[string]any{"id": "x", "lines": []any{}, "at": "2026-01-01T00:00:00Z", "note": nil, "Plain": 1},
		"negative qty":     map[string]any{"id": "x", "customer": "c", "lines": []any{map[string]any{"sku": "s", "qty": -1, "per": 1}}, "at": "2026-01-01T00:00:00Z", "note": nil, "Plain": 1},
		"chain of strings": map[string]any{"id": "x", "customer": "c", "lines": []any{}, "at": "2026-01-01T00:00:00Z", "note": nil, "Plain": 1, "chain": map[string]any{"value": 1, "next": map[string]any{"value": "two"}}},
	} {
		if err := validate(t, s, bad); err == nil {
			t.Errorf("%s: validated", name)
		}
	}
	for _, want := range []string{`"description":"the order's ID"`, `"format":"date-time"`, `"contentEncoding":"base64"`, `"$ref":"#/definitions/node"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("schema lacks %s:\n%s", want, raw)
		}
	}
	if strings.Contains(string(raw), "skipped") || strings.Contains(string(raw), "Ignored") {
		t.Errorf("unexported or json:\"-\" fields described:\n%s", raw)
	}
}

func TestSchemaOfScalars(t *testing.T) {
	for v, want := range map[any]string{
		"":          `"type":"string"`,
		3:           `"type":"integer"`,
		2.5:         `"type":"number"`,
		true:        `"type":"boolean"`,
		[3]int{}:    `"maxItems":3`,
		uint16(1):   `"minimum":0`,
		time.Second: `"description":"nanoseconds"`,
	} {
		raw, err := For(v)
		if err != nil || !strings.Contains(string(raw), want) {
			t.Errorf("For(%T) = %s, %v; want %s", v, raw, err, want)
		}
	}
	if _, err := For(nil); err == nil {
		t.Error("For(nil) succeeded")
	}
}
