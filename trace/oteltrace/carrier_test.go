package oteltrace_test

import (
	"context"
	"slices"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/trace/oteltrace"
)

func spanContext(t *testing.T) trace.SpanContext {
	t.Helper()
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ts, err := trace.ParseTraceState("vendor=x")
	if err != nil {
		t.Fatal(err)
	}
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, TraceState: ts})
}

// HeaderCarrier round-trips the W3C trace context through message headers.
func TestHeaderCarrier(t *testing.T) {
	sc := spanContext(t)
	h := channel.Headers{"content-type": "application/json"}
	var prop propagation.TraceContext
	prop.Inject(trace.ContextWithSpanContext(context.Background(), sc), oteltrace.HeaderCarrier(h))
	if got := h.Get("traceparent"); got != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Errorf("traceparent %q", got)
	}
	if got := h.Get("tracestate"); got != "vendor=x" {
		t.Errorf("tracestate %q", got)
	}
	if keys := oteltrace.HeaderCarrier(h).Keys(); !slices.Equal(keys, []string{"content-type", "traceparent", "tracestate"}) {
		t.Errorf("keys %v", keys)
	}
	got := trace.SpanContextFromContext(prop.Extract(context.Background(), oteltrace.HeaderCarrier(h)))
	if !got.IsRemote() || got.TraceID() != sc.TraceID() || got.SpanID() != sc.SpanID() || got.TraceState().String() != "vendor=x" {
		t.Errorf("extracted %v", got)
	}
	// Nil headers read as empty.
	if got := trace.SpanContextFromContext(prop.Extract(context.Background(), oteltrace.HeaderCarrier(nil))); got.IsValid() {
		t.Errorf("extracted %v from no headers", got)
	}
	if keys := oteltrace.HeaderCarrier(nil).Keys(); len(keys) != 0 {
		t.Errorf("keys of nil: %v", keys)
	}
}

// Inject and Extract use the Middleware's propagator, here with baggage;
// Inject copies the headers and fills in nil ones.
func TestInjectExtract(t *testing.T) {
	m := oteltrace.New(oteltrace.WithPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})))
	member, err := baggage.NewMember("tenant", "t-1")
	if err != nil {
		t.Fatal(err)
	}
	bag, err := baggage.New(member)
	if err != nil {
		t.Fatal(err)
	}
	ctx := baggage.ContextWithBaggage(trace.ContextWithSpanContext(context.Background(), spanContext(t)), bag)

	var msg channel.Message // nil headers
	m.Inject(ctx, &msg)
	if msg.Headers.Get("traceparent") == "" || msg.Headers.Get("baggage") != "tenant=t-1" {
		t.Fatalf("headers %v", msg.Headers)
	}
	shared := channel.Headers{"a": "b"}
	msg2 := channel.Message{Headers: shared}
	m.Inject(ctx, &msg2)
	if len(shared) != 1 || msg2.Headers.Get("a") != "b" || msg2.Headers.Get("traceparent") == "" {
		t.Errorf("shared %v, message %v", shared, msg2.Headers)
	}

	out := m.Extract(context.Background(), &msg)
	if sc := trace.SpanContextFromContext(out); sc.TraceID() != spanContext(t).TraceID() {
		t.Errorf("extracted %v", sc)
	}
	if v := baggage.FromContext(out).Member("tenant").Value(); v != "t-1" {
		t.Errorf("baggage %q", v)
	}

	// Nothing to inject: the headers stay as they were, nil included.
	var empty channel.Message
	m.Inject(context.Background(), &empty)
	if empty.Headers != nil {
		t.Errorf("headers %v after injecting nothing", empty.Headers)
	}
}
