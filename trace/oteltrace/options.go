package oteltrace

import (
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Option configures a Middleware.
type Option func(*config)

type config struct {
	tp   trace.TracerProvider
	prop propagation.TextMapPropagator
}

// WithTracerProvider sets the TracerProvider spans are started with.
// Default: otel's global one (otel.GetTracerProvider), which delegates to
// the provider installed later with otel.SetTracerProvider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithPropagator sets the propagator that writes the trace context into
// message headers and reads it back. Default: propagation.TraceContext (W3C
// traceparent and tracestate). Pass otel.GetTextMapPropagator() to follow
// the global one, or a composite with propagation.Baggage to carry baggage
// too. Senders and receivers must agree.
func WithPropagator(p propagation.TextMapPropagator) Option {
	return func(c *config) { c.prop = p }
}
