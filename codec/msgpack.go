package codec

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// MsgPack returns the MessagePack codec, content type [ContentTypeMsgPack],
// built on github.com/vmihailenco/msgpack/v5 with its default encoding
// rules plus one addition: a struct field without a `msgpack` tag uses its
// `json` tag, so a type tagged only for JSON has the same field names, and
// omissions, under both codecs.
//
// Because message bodies come from other processes, Unmarshal is stricter
// than the underlying library, which trusts declared lengths. It first
// checks that data holds exactly one value (trailing bytes are an error,
// as in encoding/json), that no declared length exceeds the bytes that
// remain, and that nesting is at most 10000 levels deep. This bounds the
// memory and stack a malformed or hostile body can make it use. Of
// MessagePack's extension types only the timestamp (-1), which encodes
// time.Time, is accepted; register a custom [Codec] to use others.
func MsgPack() Codec { return msgPackCodec{} }

type msgPackCodec struct{}

// structTag is the fallback tag for fields without a `msgpack` tag.
const structTag = "json"

// maxPooledSize caps the buffers kept in the pools, so that one large
// message does not pin its memory for the life of the process.
const maxPooledSize = 64 << 10

// encoderState is an encoder bound to its own output buffer. Binding them
// once lets Marshal skip the encoder's writer setup on every call.
type encoderState struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
}

var encoderPool = sync.Pool{New: func() any {
	s := new(encoderState)
	s.enc = msgpack.NewEncoder(&s.buf)
	s.enc.SetCustomStructTag(structTag)
	return s
}}

// decoderState is a decoder bound to its own reader. The library's
// msgpack.Unmarshal is deliberately not used: it enables value
// preallocation, which starts a never-ending goroutine per decoded type.
type decoderState struct {
	r    guardedReader
	exts []span
	dec  *msgpack.Decoder
}

var decoderPool = sync.Pool{New: func() any {
	s := new(decoderState)
	s.dec = msgpack.NewDecoder(&s.r)
	s.dec.SetCustomStructTag(structTag)
	return s
}}

func (msgPackCodec) ContentType() string { return ContentTypeMsgPack }

func (msgPackCodec) Marshal(v any) ([]byte, error) {
	s := encoderPool.Get().(*encoderState)
	s.buf.Reset()
	if err := s.enc.Encode(v); err != nil {
		// Not pooled: a failed custom encoder may have left it altered.
		return nil, &Error{Op: OpMarshal, ContentType: ContentTypeMsgPack, Err: err}
	}
	// The buffer goes back to the pool, so the caller gets a copy. One
	// exact-size allocation is cheaper than growing a fresh buffer.
	out := bytes.Clone(s.buf.Bytes())
	if s.buf.Cap() <= maxPooledSize {
		encoderPool.Put(s)
	}
	return out, nil
}

func (msgPackCodec) Unmarshal(data []byte, v any) (err error) {
	s := decoderPool.Get().(*decoderState)
	s.exts, err = checkMsgPack(data, s.exts[:0])
	if err != nil {
		putDecoder(s, len(data)) // unused, so still clean
		return &Error{Op: OpUnmarshal, ContentType: ContentTypeMsgPack, Err: err}
	}
	s.r.reset(data, s.exts)
	defer func() {
		// The library can still panic on well-formed input that does not
		// fit the target, such as an unhashable key for a map[any]any.
		if p := recover(); p != nil {
			err = &Error{Op: OpUnmarshal, ContentType: ContentTypeMsgPack, Err: fmt.Errorf("msgpack: decoder panic: %v", p)}
		}
	}()
	if err := s.dec.Decode(v); err != nil {
		// Not pooled: after some errors the decoder keeps recording every
		// byte it reads into an internal buffer.
		return &Error{Op: OpUnmarshal, ContentType: ContentTypeMsgPack, Err: err}
	}
	putDecoder(s, len(data))
	return nil
}

// putDecoder pools s after decoding n bytes. The decoder's scratch buffer
// grows to the longest string it has read, and s.exts to the number of
// timestamps, so only decoders that have seen small inputs are kept.
func putDecoder(s *decoderState, n int) {
	s.r.reset(nil, nil) // drop references to the input
	if n <= maxPooledSize {
		decoderPool.Put(s)
	}
}
