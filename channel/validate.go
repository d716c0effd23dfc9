package channel

import "errors"

// ErrInvalidMessage is matched (via errors.Is) by every [*ValidationError].
var ErrInvalidMessage = errors.New("channel: invalid message")

// ValidationError reports a Message field that fails [Message.Validate].
type ValidationError struct {
	Field  string // name of the Message field, such as "Channel"
	Reason string // what is wrong with it
}

func (e *ValidationError) Error() string {
	return "channel: invalid message: " + e.Field + ": " + e.Reason
}

// Is makes errors.Is(err, ErrInvalidMessage) report true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidMessage }

// Validate reports the first problem that would stop m from being
// delivered, as a [*ValidationError]: Kind must be valid; a Reply needs
// CorrelationID and To (it goes back to one peer), any other kind needs
// Channel; and TTL must not be negative.
func (m *Message) Validate() error {
	switch {
	case m.Kind == 0:
		return &ValidationError{Field: "Kind", Reason: "unset"}
	case !m.Kind.Valid():
		return &ValidationError{Field: "Kind", Reason: "unknown " + m.Kind.String()}
	case m.Kind == Reply && m.CorrelationID == "":
		return &ValidationError{Field: "CorrelationID", Reason: "required for a reply"}
	case m.Kind == Reply && m.To == "":
		return &ValidationError{Field: "To", Reason: "required for a reply"}
	case m.Kind != Reply && m.Channel == "":
		return &ValidationError{Field: "Channel", Reason: "required"}
	case m.TTL < 0:
		return &ValidationError{Field: "TTL", Reason: "negative"}
	}
	return nil
}
