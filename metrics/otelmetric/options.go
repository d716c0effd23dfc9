package otelmetric

import "go.opentelemetry.io/otel/attribute"

// Option configures Register and HandleMiddleware.
type Option func(*config)

type config struct {
	attrs []attribute.KeyValue
}

// WithAttributes adds attributes to every observation, such as a
// deployment's zone. For HandleMiddleware, which does not know the peer it
// runs in, WithAttributes(PeerKey.String(name)) names it.
func WithAttributes(kv ...attribute.KeyValue) Option {
	return func(c *config) { c.attrs = append(c.attrs, kv...) }
}

func configure(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// set is the attribute set of the configured attributes and kv.
func (c *config) set(kv ...attribute.KeyValue) attribute.Set {
	all := make([]attribute.KeyValue, 0, len(c.attrs)+len(kv))
	return attribute.NewSet(append(append(all, c.attrs...), kv...)...)
}
