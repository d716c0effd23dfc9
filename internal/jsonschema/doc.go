// Package jsonschema derives a JSON Schema (draft-07, the default schema
// format of AsyncAPI 3.0) from a Go type, as meshmq's codecs encode it:
// field names from `json` tags (which the msgpack codec uses too),
// omitempty fields optional, []byte as a base64 string in JSON, time.Time
// as an RFC 3339 string. A `doc:"..."` tag becomes the property's
// description. Recursive types are described through definitions.
package jsonschema
