package wire

import (
	"fmt"
	"time"

	"github.com/meshmq/meshmq/channel"
)

// Message map keys (PROTOCOL.md, "Message"). Zero-valued fields are omitted.
const (
	msgID = 1 + iota
	msgKind
	msgChannel
	msgTo
	msgKey
	msgHeaders
	msgBody
	msgCorrelationID
	msgReplyTo
	msgDeadline
	msgTTL
	msgTime
)

// maxHeaders bounds the headers one message may carry.
const maxHeaders = 1024

// AppendMessage appends m's encoding: everything the sender says about the
// message, and nothing per destination (those fields are in Entry). From and
// Attempt are not encoded: the receiver sets them.
// MessageSizeHint is an upper bound of m's encoded size, for sizing the
// buffer it is appended to (headers are estimated, not bounded).
func MessageSizeHint(m *channel.Message) int {
	n := 64 + len(m.ID) + len(m.Channel) + len(m.To) + len(m.Key) + len(m.Body) + len(m.CorrelationID) + len(m.ReplyTo)
	for k, v := range m.Headers {
		n += 10 + len(k) + len(v)
	}
	return n
}

func AppendMessage(b []byte, m *channel.Message) []byte {
	n := 0
	for _, set := range [...]bool{m.ID != "", m.Kind != 0, m.Channel != "", m.To != "", m.Key != "",
		len(m.Headers) > 0, len(m.Body) > 0, m.CorrelationID != "", m.ReplyTo != "",
		!m.Deadline.IsZero(), m.TTL != 0, !m.Time.IsZero()} {
		if set {
			n++
		}
	}
	b = appendMapLen(b, n)
	if m.ID != "" {
		b = appendStr(append(b, msgID), m.ID)
	}
	if m.Kind != 0 {
		b = appendUint(append(b, msgKind), uint64(m.Kind))
	}
	if m.Channel != "" {
		b = appendStr(append(b, msgChannel), m.Channel)
	}
	if m.To != "" {
		b = appendStr(append(b, msgTo), m.To)
	}
	if m.Key != "" {
		b = appendStr(append(b, msgKey), m.Key)
	}
	if len(m.Headers) > 0 {
		b = appendHeaders(append(b, msgHeaders), m.Headers)
	}
	if len(m.Body) > 0 {
		b = appendBin(append(b, msgBody), m.Body)
	}
	if m.CorrelationID != "" {
		b = appendStr(append(b, msgCorrelationID), m.CorrelationID)
	}
	if m.ReplyTo != "" {
		b = appendStr(append(b, msgReplyTo), m.ReplyTo)
	}
	if !m.Deadline.IsZero() {
		b = appendInt(append(b, msgDeadline), m.Deadline.UnixNano())
	}
	if m.TTL != 0 {
		b = appendInt(append(b, msgTTL), int64(m.TTL))
	}
	if !m.Time.IsZero() {
		b = appendInt(append(b, msgTime), m.Time.UnixNano())
	}
	return b
}

// appendHeaders writes headers sorted by key, so that one message always
// encodes to the same bytes.
func appendHeaders(b []byte, h channel.Headers) []byte {
	b = appendMapLen(b, len(h))
	var stack [8]string
	keys := stack[:0]
	for k := range h {
		keys = append(keys, k)
	}
	sortStrings(keys)
	for _, k := range keys {
		b = appendStr(appendStr(b, k), h[k])
	}
	return b
}

// sortStrings is an insertion sort: header sets are small.
func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// DecodeMessage decodes an encoded message into m, which it resets first.
// m.Body aliases b; strings are copied. From and Attempt are left for the
// caller, which knows the connection and the entry.
func DecodeMessage(b []byte, m *channel.Message) error { return DecodeMessageAfter(b, m, nil) }

// DecodeMessageAfter is DecodeMessage for the messages of a batch: strings
// equal to prev's channel share its storage instead of allocating.
func DecodeMessageAfter(b []byte, m *channel.Message, prev *channel.Message) error {
	*m = channel.Message{}
	r := reader{b: b}
	err := r.fields(func(k uint64) (bool, error) {
		var err error
		var v int64
		switch k {
		case msgID:
			m.ID, err = r.str()
		case msgKind:
			var u uint64
			u, err = r.uint()
			if u > 255 {
				return true, errRange
			}
			m.Kind = channel.Kind(u)
		case msgChannel:
			var p []byte
			if p, err = r.rawBytes(); err == nil {
				if prev != nil && string(p) == prev.Channel {
					m.Channel = prev.Channel
				} else {
					m.Channel = string(p)
				}
			}
		case msgTo:
			m.To, err = r.str()
		case msgKey:
			m.Key, err = r.str()
		case msgHeaders:
			err = r.headers(m)
		case msgBody:
			m.Body, err = r.rawBytes()
		case msgCorrelationID:
			m.CorrelationID, err = r.str()
		case msgReplyTo:
			m.ReplyTo, err = r.str()
		case msgDeadline:
			if v, err = r.int(); err == nil {
				m.Deadline = time.Unix(0, v)
			}
		case msgTTL:
			if v, err = r.int(); err == nil {
				m.TTL = time.Duration(v)
			}
		case msgTime:
			if v, err = r.int(); err == nil {
				m.Time = time.Unix(0, v)
			}
		default:
			return false, nil
		}
		return true, err
	})
	if err == nil && r.remaining() != 0 {
		err = fmt.Errorf("%w: %d trailing bytes", ErrMalformed, r.remaining())
	}
	if err != nil {
		return &DecodeError{Packet: "message", Field: "fields", Offset: r.off, Err: err}
	}
	return nil
}

func (r *reader) headers(m *channel.Message) error {
	n, err := r.mapLen()
	if err != nil {
		return err
	}
	if n > maxHeaders {
		return fmt.Errorf("%w: %d headers", ErrMalformed, n)
	}
	m.Headers = make(channel.Headers, n)
	for i := 0; i < n; i++ {
		k, err := r.str()
		if err != nil {
			return err
		}
		v, err := r.str()
		if err != nil {
			return err
		}
		m.Headers[k] = v
	}
	return nil
}
