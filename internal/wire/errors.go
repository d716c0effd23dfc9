package wire

import (
	"errors"
	"fmt"
)

// ErrMalformed matches every decoding failure: truncated input, a value of
// the wrong msgpack type, an out-of-range number, nesting past the limit.
var ErrMalformed = errors.New("wire: malformed packet")

// ErrUnsupportedVersion is returned when two peers share no protocol version.
var ErrUnsupportedVersion = errors.New("wire: no common protocol version")

// ErrNotMeshmq is returned when the first packet on a connection is not a
// meshmq HELLO.
var ErrNotMeshmq = errors.New("wire: peer does not speak meshmq")

var (
	errTruncated = fmt.Errorf("%w: truncated", ErrMalformed)
	errRange     = fmt.Errorf("%w: integer out of range", ErrMalformed)
	errDepth     = fmt.Errorf("%w: nesting too deep", ErrMalformed)
)

func errType(want string, code byte) error {
	return fmt.Errorf("%w: want %s, found msgpack code 0x%02x", ErrMalformed, want, code)
}

// DecodeError says which packet and field could not be decoded.
type DecodeError struct {
	Packet string // packet type name, e.g. "DATA"
	Field  string // field name, e.g. "entry.seq"
	Offset int    // byte offset in the frame where decoding stopped
	Err    error  // wraps ErrMalformed
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("wire: decode %s %s at offset %d: %v", e.Packet, e.Field, e.Offset, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }
