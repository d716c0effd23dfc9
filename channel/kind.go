package channel

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Kind says what a message means to its receiver. The zero Kind is unset
// and invalid; senders fill in a default before a message leaves.
type Kind uint8

const (
	// Document carries data for the receiver to store or process, with no
	// action implied.
	Document Kind = 1
	// Command asks the receiver to do something.
	Command Kind = 2
	// Event announces that something has happened.
	Event Kind = 3
	// Reply answers an earlier message, identified by its CorrelationID.
	Reply Kind = 4
)

var kindNames = [...]string{
	Document: "document",
	Command:  "command",
	Event:    "event",
	Reply:    "reply",
}

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool { return k >= Document && k <= Reply }

// String returns the lower-case name of k, such as "event", or "Kind(n)"
// if k is not valid.
func (k Kind) String() string {
	if k.Valid() {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// ErrUnknownKind is returned, wrapped, by [ParseKind].
var ErrUnknownKind = errors.New("channel: unknown kind")

// ParseKind returns the Kind named s, ignoring case; it is the inverse of
// [Kind.String] for valid kinds.
func ParseKind(s string) (Kind, error) {
	for k := Document; k <= Reply; k++ {
		if strings.EqualFold(s, kindNames[k]) {
			return k, nil
		}
	}
	return 0, fmt.Errorf("%w %q", ErrUnknownKind, s)
}

// Type is how a channel delivers messages.
type Type uint8

const (
	// PointToPoint delivers each message to one instance of a service.
	PointToPoint Type = 1
	// PublishSubscribe delivers each message to every subscriber of a topic.
	PublishSubscribe Type = 2
)

// Valid reports whether t is one of the defined channel types.
func (t Type) Valid() bool { return t == PointToPoint || t == PublishSubscribe }

// String returns "point-to-point", "publish-subscribe", or "Type(n)" if t
// is not valid.
func (t Type) String() string {
	switch t {
	case PointToPoint:
		return "point-to-point"
	case PublishSubscribe:
		return "publish-subscribe"
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}
