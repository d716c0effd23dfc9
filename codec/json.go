package codec

import "encoding/json"

// JSON returns the encoding/json codec, content type [ContentTypeJSON].
func JSON() Codec { return jsonCodec{} }

type jsonCodec struct{}

func (jsonCodec) ContentType() string { return ContentTypeJSON }

func (jsonCodec) Marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, &Error{Op: OpMarshal, ContentType: ContentTypeJSON, Err: err}
	}
	return b, nil
}

func (jsonCodec) Unmarshal(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return &Error{Op: OpUnmarshal, ContentType: ContentTypeJSON, Err: err}
	}
	return nil
}
