package asyncapi

import (
	"bytes"
	"encoding/json"

	"sigs.k8s.io/yaml"
)

// JSON returns the document as indented JSON, every object's keys sorted:
// the same document always gives the same bytes.
func (d *Document) JSON() ([]byte, error) {
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	// Through a tree of maps, which encoding/json writes with sorted keys.
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(tree); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// YAML returns the document as YAML, converted from its JSON (keys
// sorted).
func (d *Document) YAML() ([]byte, error) {
	j, err := d.JSON()
	if err != nil {
		return nil, err
	}
	return yaml.JSONToYAML(j)
}
