package oteltrace

import (
	"maps"
	"slices"

	"go.opentelemetry.io/otel/propagation"

	"github.com/meshmq/meshmq/channel"
)

// HeaderCarrier adapts channel.Headers to propagation.TextMapCarrier, as
// propagation.MapCarrier does a map: Get and Keys read the headers, Set
// writes them. Set needs a non-nil map: inject into a message's headers
// after making them, or through Middleware.Inject, which does.
type HeaderCarrier channel.Headers

var _ propagation.TextMapCarrier = HeaderCarrier(nil)

// Get returns the value of the header key, or "" when it is absent.
func (c HeaderCarrier) Get(key string) string { return c[key] }

// Set sets the header key to value.
func (c HeaderCarrier) Set(key, value string) { c[key] = value }

// Keys lists the header names, sorted.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// messageCarrier injects into a message's headers, copying them at the
// first Set: the caller's map may be shared with another message.
type messageCarrier struct {
	msg    *channel.Message
	copied bool
}

func (c *messageCarrier) Get(key string) string { return c.msg.Headers.Get(key) }

func (c *messageCarrier) Set(key, value string) {
	if !c.copied {
		h := make(channel.Headers, len(c.msg.Headers)+2)
		maps.Copy(h, c.msg.Headers)
		c.msg.Headers, c.copied = h, true
	}
	c.msg.Headers[key] = value
}

func (c *messageCarrier) Keys() []string { return HeaderCarrier(c.msg.Headers).Keys() }
