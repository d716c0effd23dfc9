package codec

import (
	"errors"
	"strconv"
)

// ErrUnknownContentType is matched (via errors.Is) by every
// [*UnknownContentTypeError].
var ErrUnknownContentType = errors.New("codec: unknown content type")

// ErrInvalidCodec is returned by Register when a codec cannot be
// registered: it is nil or its content type is empty or malformed.
var ErrInvalidCodec = errors.New("codec: invalid codec")

// UnknownContentTypeError reports a content type with no registered codec.
type UnknownContentTypeError struct {
	ContentType string // as given to Lookup, unnormalised
}

func (e *UnknownContentTypeError) Error() string {
	return "codec: unknown content type " + strconv.Quote(e.ContentType)
}

// Is makes errors.Is(err, ErrUnknownContentType) report true.
func (e *UnknownContentTypeError) Is(target error) bool {
	return target == ErrUnknownContentType
}

// Op values of [Error].
const (
	OpMarshal   = "marshal"
	OpUnmarshal = "unmarshal"
)

// Error describes a failed Marshal or Unmarshal.
type Error struct {
	Op          string // OpMarshal or OpUnmarshal
	ContentType string // content type of the codec that failed
	Err         error  // underlying cause
}

func (e *Error) Error() string {
	s := "codec: " + e.Op + " " + e.ContentType
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }
