package codec

// Content types of the built-in codecs.
const (
	ContentTypeMsgPack = "application/msgpack"
	ContentTypeJSON    = "application/json"
)

// Codec marshals values to bytes and back for one content type.
// Implementations must be safe for concurrent use.
type Codec interface {
	// ContentType returns the media type written to a message's
	// content-type header, such as "application/json".
	ContentType() string
	// Marshal returns the encoding of v.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into the value pointed to by v.
	Unmarshal(data []byte, v any) error
}

// Default returns the codec used when none is specified: [MsgPack].
//
// It is a function rather than a variable so that it cannot be reassigned
// behind the back of concurrent users.
func Default() Codec { return msgPackCodec{} }
