package channel

import "maps"

// HeaderContentType names the header holding the media type of a
// message's body, such as "application/json". A message without it has a
// MessagePack body.
const HeaderContentType = "content-type"

// Headers are a message's metadata. Keys are case-sensitive and, by
// convention, lower case. A nil Headers is empty and safe to read; use
// [Message.SetHeader] to write, as it allocates the map when needed.
type Headers map[string]string

// Get returns the value of key k, or "" if it is absent.
func (h Headers) Get(k string) string { return h[k] }

// Clone returns a copy of h that shares no memory with it; nil stays nil.
func (h Headers) Clone() Headers { return maps.Clone(h) }

// SetHeader sets header k to v, allocating m.Headers if it is nil.
func (m *Message) SetHeader(k, v string) {
	if m.Headers == nil {
		m.Headers = make(Headers)
	}
	m.Headers[k] = v
}
