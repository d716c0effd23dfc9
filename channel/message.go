package channel

import (
	"bytes"
	"time"
)

// Message is the unit of communication between peers.
//
// The fields up to Time travel with the message. From and Attempt
// describe one delivery and are set by the receiving peer.
type Message struct {
	// ID identifies the message; see NewID. Redeliveries keep the ID, so
	// receivers can use it to discard duplicates.
	ID string
	// Kind says what the message means to its receiver.
	Kind Kind
	// Channel is the service name for point-to-point delivery, or the
	// topic for publish-subscribe. A reply needs none.
	Channel string
	// To names the destination peer. Empty means any instance that serves
	// Channel.
	To string
	// Key is the ordering key. Messages on a channel that share a
	// non-empty Key, such as the ID of the entity they concern, are meant
	// to be processed in the order they were sent.
	Key string
	// Headers hold metadata, such as the body's content type.
	Headers Headers
	// Body is the encoded payload; see Encode and Decode.
	Body []byte
	// CorrelationID links a request and its reply: on a request, the ID
	// its reply will carry here; on a reply, the request's.
	CorrelationID string
	// ReplyTo is, on a request, the name of the peer the reply goes to.
	ReplyTo string
	// Deadline is the absolute time by which a request must be handled;
	// zero means none. A receiver should not start work after it passes.
	Deadline time.Time
	// TTL is how long after Time the message stays deliverable; after
	// that it is dead-lettered instead. Zero means it does not expire.
	TTL time.Duration
	// Time is when the message was created.
	Time time.Time

	// From is the name of the peer that sent this delivery. The receiving
	// peer sets it from the connection; a value claimed on the wire is never
	// trusted. With peer.WithSecurity the name is authenticated: bound to
	// the CURVE key the sender proved it holds. Without it, it is the name
	// the sender gave when it connected.
	From string
	// Attempt counts deliveries of this message: 1 for the first.
	Attempt int
}

// NewDocument returns a Document message for channel, with a new ID, the
// current Time, and v encoded as its body; see [NewEvent].
func NewDocument(channel string, v any) (*Message, error) {
	return newMessage(Document, channel, v)
}

// NewCommand returns a Command message for channel, with a new ID, the
// current Time, and v encoded as its body; see [NewEvent].
func NewCommand(channel string, v any) (*Message, error) {
	return newMessage(Command, channel, v)
}

// NewEvent returns an Event message for channel (a topic), with a new ID,
// the current Time, and v encoded as its body.
//
// v is encoded with [codec.Default], even if it is a []byte, so that every
// body decodes the same way; if v is nil the message has no body and no
// content-type header. To send bytes that are already encoded, or to use
// another codec, build the message and set its body with Encode or
// directly. The error, if any, comes from encoding v.
func NewEvent(channel string, v any) (*Message, error) {
	return newMessage(Event, channel, v)
}

func newMessage(k Kind, channel string, v any) (*Message, error) {
	m := &Message{ID: NewID(), Kind: k, Channel: channel, Time: time.Now()}
	if v != nil {
		if err := m.Encode(nil, v); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Clone returns a deep copy of m: the copy's Headers and Body share no
// memory with m's. Clone of nil is nil.
func (m *Message) Clone() *Message {
	if m == nil {
		return nil
	}
	c := *m
	c.Headers = m.Headers.Clone()
	c.Body = bytes.Clone(m.Body)
	return &c
}

// Expired reports whether m should no longer be delivered at now: its
// Deadline is set and has passed, or its TTL is positive and more than
// TTL has passed since Time. A TTL is ignored if Time is zero, as its
// start is unknown.
func (m *Message) Expired(now time.Time) bool {
	if !m.Deadline.IsZero() && now.After(m.Deadline) {
		return true
	}
	return m.TTL > 0 && !m.Time.IsZero() && now.After(m.Time.Add(m.TTL))
}
