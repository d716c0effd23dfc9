package channel

import (
	"errors"
	"fmt"

	"github.com/meshmq/meshmq/codec"
)

// Encode sets m's body to v encoded with c, or with [codec.Default] if c
// is nil, and sets the content-type header to match. On error m is
// unchanged and the error is a [*codec.Error].
func (m *Message) Encode(c codec.Codec, v any) error {
	if c == nil {
		c = codec.Default()
	}
	body, err := c.Marshal(v)
	if err != nil {
		return asCodecError(err, codec.OpMarshal, c)
	}
	m.Body = body
	m.SetHeader(HeaderContentType, c.ContentType())
	return nil
}

// Decode decodes m's body into v, which should be a pointer, using the
// codec that the default registry ([codec.Lookup]) holds for m's
// content-type header. A message without the header is decoded as
// MessagePack. A message without a body leaves v unchanged, matching a
// message built from a nil value.
//
// If the content type is unknown, the error matches
// [codec.ErrUnknownContentType] and converts, with errors.As, to a
// [*codec.UnknownContentTypeError]; if the body does not decode, it
// converts to a [*codec.Error]. Neither is likely to succeed on a retry,
// so a [Handler] should usually return them wrapped in [Permanent].
func (m *Message) Decode(v any) error {
	return m.decode(codec.Lookup, v)
}

// DecodeWith is like [Message.Decode] but looks up the codec in r. A nil r
// means the default registry.
func (m *Message) DecodeWith(r *codec.Registry, v any) error {
	if r == nil {
		return m.Decode(v)
	}
	return m.decode(r.Lookup, v)
}

func (m *Message) decode(lookup func(string) (codec.Codec, error), v any) error {
	if len(m.Body) == 0 {
		return nil
	}
	c, err := lookup(m.Headers.Get(HeaderContentType))
	if err == nil {
		if err = c.Unmarshal(m.Body, v); err != nil {
			err = asCodecError(err, codec.OpUnmarshal, c)
		}
	}
	if err != nil {
		return fmt.Errorf("channel: decode message %q: %w", m.ID, err)
	}
	return nil
}

// asCodecError wraps err from c in a [*codec.Error] unless it already is
// one, as errors from the built-in codecs are; custom codecs may differ.
func asCodecError(err error, op string, c codec.Codec) error {
	if _, ok := errors.AsType[*codec.Error](err); ok {
		return err
	}
	return &codec.Error{Op: op, ContentType: c.ContentType(), Err: err}
}
