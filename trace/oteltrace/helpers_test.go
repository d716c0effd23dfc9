package oteltrace_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/trace/oteltrace"
)

// tracing is a TracerProvider whose ended spans a recorder keeps.
type tracing struct {
	tp *sdktrace.TracerProvider
	sr *tracetest.SpanRecorder
}

func newTracing(t *testing.T) *tracing {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() {
		if err := tp.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return &tracing{tp, sr}
}

// middleware returns a Middleware on the test's provider.
func (tr *tracing) middleware(opts ...oteltrace.Option) *oteltrace.Middleware {
	return oteltrace.New(append([]oteltrace.Option{oteltrace.WithTracerProvider(tr.tp)}, opts...)...)
}

// root starts a span of the test itself, as an application would.
func (tr *tracing) root(name string) (context.Context, trace.Span) {
	return tr.tp.Tracer("test").Start(context.Background(), name)
}

// ended returns the ended spans named name.
func (tr *tracing) ended(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range tr.sr.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// wait waits until n spans named name have ended, and returns them.
func (tr *tracing) wait(t *testing.T, name string, n int) []sdktrace.ReadOnlySpan {
	t.Helper()
	testutil.WaitFor(t, name+" spans ended", func() bool { return len(tr.ended(name)) >= n }, func() {
		for _, s := range tr.sr.Ended() {
			t.Logf("ended: %s %v parent %v", s.Name(), s.SpanContext().SpanID(), s.Parent().SpanID())
		}
	})
	spans := tr.ended(name)
	if len(spans) != n {
		t.Fatalf("%d %s spans, want %d", len(spans), name, n)
	}
	return spans
}

// attrs returns a span's attributes by key.
func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	out := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		out[kv.Key] = kv.Value
	}
	return out
}

// checkAttrs checks that s has the attributes want (and maybe others).
func checkAttrs(t *testing.T, s sdktrace.ReadOnlySpan, want ...attribute.KeyValue) {
	t.Helper()
	have := attrs(s)
	for _, kv := range want {
		if v, ok := have[kv.Key]; !ok || v != kv.Value {
			t.Errorf("%s: %s = %v (set: %v), want %v", s.Name(), kv.Key, v.Emit(), ok, kv.Value.Emit())
		}
	}
}

// childOf checks that s is a child of parent, in its trace.
func childOf(t *testing.T, s sdktrace.ReadOnlySpan, parent trace.SpanContext) {
	t.Helper()
	if s.Parent().SpanID() != parent.SpanID() || s.SpanContext().TraceID() != parent.TraceID() {
		t.Errorf("%s: trace %v parent %v, want a child of %v in trace %v",
			s.Name(), s.SpanContext().TraceID(), s.Parent().SpanID(), parent.SpanID(), parent.TraceID())
	}
}

// received is what a handler saw.
type received struct {
	span    trace.SpanContext
	headers map[string]string
	body    string
}

// waitFor receives one value from ch, failing the test after the deadline.
func waitFor[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testutil.Deadline):
		t.Fatal("timed out")
		panic("unreachable")
	}
}
