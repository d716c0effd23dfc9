package oteltrace_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/internal/testutil/peertest"
	"github.com/meshmq/meshmq/peer"
	"github.com/meshmq/meshmq/trace/oteltrace"
)

// Send → handler: one trace. The producer span is a child of the caller's
// span, the consumer span a child of the producer span, and the handler
// runs in the consumer span.
func TestSendToHandlerOneTrace(t *testing.T) {
	tr := newTracing(t)
	got := make(chan received, 1)
	rx := peertest.Start(t, "rx", peer.WithHandleMiddleware(tr.middleware().Handle))
	if err := rx.Handle("billing", func(ctx context.Context, m *channel.Message) error {
		got <- received{span: trace.SpanContextFromContext(ctx), headers: m.Headers.Clone(), body: string(m.Body)}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	tx := peertest.Start(t, "tx", peer.WithSendMiddleware(tr.middleware().Send), peertest.StaticDiscovery(rx))

	ctx, checkout := tr.root("checkout")
	shared := channel.Headers{"tenant": "t-1"} // a map another message might share
	msg := &channel.Message{Kind: channel.Command, Channel: "billing", Key: "o-1", Headers: shared, Body: []byte("charge")}
	if err := tx.Send(ctx, msg); err != nil {
		t.Fatal(err)
	}
	checkout.End()
	h := waitFor(t, got)

	send := tr.wait(t, "send billing", 1)[0]
	process := tr.wait(t, "process billing", 1)[0]
	childOf(t, send, checkout.SpanContext())
	childOf(t, process, send.SpanContext())
	if !process.Parent().IsRemote() {
		t.Error("the consumer span's parent is not remote")
	}
	if h.span.TraceID() != process.SpanContext().TraceID() || h.span.SpanID() != process.SpanContext().SpanID() {
		t.Errorf("the handler ran in span %v, want the consumer span %v", h.span.SpanID(), process.SpanContext().SpanID())
	}
	if send.SpanKind() != trace.SpanKindProducer || process.SpanKind() != trace.SpanKindConsumer {
		t.Errorf("span kinds %v, %v", send.SpanKind(), process.SpanKind())
	}
	common := []attribute.KeyValue{
		semconv.MessagingSystemKey.String("meshmq"),
		semconv.MessagingDestinationName("billing"),
		semconv.MessagingMessageID(msg.ID),
		semconv.MessagingMessageBodySize(len("charge")),
		oteltrace.KindKey.String("command"),
		oteltrace.KeyKey.String("o-1"),
	}
	checkAttrs(t, send, append(common, semconv.MessagingOperationTypeSend, semconv.MessagingOperationName("send"))...)
	checkAttrs(t, process, append(common, semconv.MessagingOperationTypeProcess, semconv.MessagingOperationName("process"),
		oteltrace.FromKey.String("tx"), oteltrace.AttemptKey.Int(1))...)
	if send.Status().Code != codes.Unset || process.Status().Code != codes.Unset {
		t.Errorf("statuses %v, %v", send.Status(), process.Status())
	}
	if s := send.InstrumentationScope(); s.Name != oteltrace.ScopeName || s.SchemaURL != semconv.SchemaURL {
		t.Errorf("scope %+v", s)
	}

	// The headers: the trace context added to a copy; the caller's map as
	// it was.
	if _, ok := shared["traceparent"]; ok || len(shared) != 1 {
		t.Errorf("the caller's headers map changed: %v", shared)
	}
	if h.headers["tenant"] != "t-1" || h.headers["traceparent"] == "" || msg.Headers["traceparent"] != h.headers["traceparent"] {
		t.Errorf("received headers %v, sent %v", h.headers, msg.Headers)
	}
}

// Publish → subscriber: "publish <topic>" and "process <topic>", one trace.
func TestPublishToSubscriberOneTrace(t *testing.T) {
	tr := newTracing(t)
	got := make(chan received, 1)
	rx := peertest.Start(t, "rx", peer.WithHandleMiddleware(tr.middleware().Handle))
	if _, err := rx.Subscribe("orders.>", func(ctx context.Context, m *channel.Message) error {
		got <- received{span: trace.SpanContextFromContext(ctx)}
		return nil
	}, peer.Group("audit")); err != nil {
		t.Fatal(err)
	}
	tx := peertest.Start(t, "tx", peer.WithSendMiddleware(tr.middleware().Send), peertest.StaticDiscovery(rx))
	ctx, place := tr.root("place order")
	msg := &channel.Message{Channel: "orders.eu.created", Body: []byte("o-1")}
	if err := tx.Publish(ctx, msg); err != nil {
		t.Fatal(err)
	}
	place.End()
	h := waitFor(t, got)
	publish := tr.wait(t, "publish orders.eu.created", 1)[0]
	process := tr.wait(t, "process orders.eu.created", 1)[0]
	childOf(t, publish, place.SpanContext())
	childOf(t, process, publish.SpanContext())
	if h.span.SpanID() != process.SpanContext().SpanID() {
		t.Error("the handler did not run in the consumer span")
	}
	checkAttrs(t, publish, semconv.MessagingOperationTypeSend, semconv.MessagingOperationName("publish"),
		semconv.MessagingDestinationName("orders.eu.created"), oteltrace.KindKey.String("event"))
}

// A failed run ends its span with an error status and error.type; each run
// has its own span, all children of the one producer span.
func TestHandlerFailuresRecorded(t *testing.T) {
	tr := newTracing(t)
	var mu sync.Mutex
	runs := map[string]int{}
	rx := peertest.Start(t, "rx", peer.WithHandleMiddleware(tr.middleware().Handle))
	if err := rx.Handle("work", func(ctx context.Context, m *channel.Message) error {
		mu.Lock()
		runs[string(m.Body)]++
		first := runs[string(m.Body)] == 1
		mu.Unlock()
		switch {
		case string(m.Body) == "poison":
			return channel.Permanent(errors.New("bad input"))
		case string(m.Body) == "retry" && first:
			return errors.New("try again")
		case string(m.Body) == "panic" && first:
			panic("boom")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	tx := peertest.Start(t, "tx", peer.WithSendMiddleware(tr.middleware().Send), peertest.StaticDiscovery(rx))
	ids := map[string]string{} // body → message ID
	for _, body := range []string{"retry", "poison", "panic"} {
		m := &channel.Message{Channel: "work", Body: []byte(body)}
		if err := tx.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		ids[body] = m.ID
	}
	processes := tr.wait(t, "process work", 5) // retry ×2, poison, panic ×2
	sends := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range tr.wait(t, "send work", 3) {
		sends[attrs(s)[semconv.MessagingMessageIDKey].AsString()] = s
	}

	type outcome struct {
		body    string
		attempt int64
	}
	seen := map[outcome]sdktrace.ReadOnlySpan{}
	for _, p := range processes {
		a := attrs(p)
		id := a[semconv.MessagingMessageIDKey].AsString()
		for body, bid := range ids {
			if bid == id {
				seen[outcome{body, a[oteltrace.AttemptKey].AsInt64()}] = p
			}
		}
		if s, ok := sends[id]; !ok {
			t.Errorf("process span of %s without its send span", id)
		} else {
			childOf(t, p, s.SpanContext())
		}
	}
	for o, want := range map[outcome]string{
		{"retry", 1}:  oteltrace.ErrorRetryable,
		{"retry", 2}:  "",
		{"poison", 1}: oteltrace.ErrorPermanent,
		{"panic", 1}:  oteltrace.ErrorPanic,
		{"panic", 2}:  "",
	} {
		p, ok := seen[o]
		if !ok {
			t.Errorf("%v: no span", o)
			continue
		}
		et, hasType := attrs(p)[semconv.ErrorTypeKey]
		switch {
		case want == "" && (p.Status().Code != codes.Unset || hasType):
			t.Errorf("%v: status %v, error.type %v", o, p.Status(), et.Emit())
		case want != "" && (p.Status().Code != codes.Error || et.AsString() != want):
			t.Errorf("%v: status %v, error.type %q, want an error of type %s", o, p.Status(), et.AsString(), want)
		}
		if want == oteltrace.ErrorRetryable || want == oteltrace.ErrorPermanent {
			if ev := p.Events(); len(ev) != 1 || ev[0].Name != "exception" {
				t.Errorf("%v: events %v, want the exception", o, ev)
			}
		}
	}
}

// A message without trace context (its sender traces nothing) starts a new
// trace at its handler.
func TestUntracedSenderNewTrace(t *testing.T) {
	tr := newTracing(t)
	got := make(chan received, 1)
	rx := peertest.Start(t, "rx", peer.WithHandleMiddleware(tr.middleware().Handle))
	if err := rx.Handle("billing", func(ctx context.Context, m *channel.Message) error {
		got <- received{span: trace.SpanContextFromContext(ctx)}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	tx := peertest.Start(t, "tx", peertest.StaticDiscovery(rx))
	if err := tx.Send(context.Background(), &channel.Message{Channel: "billing"}); err != nil {
		t.Fatal(err)
	}
	h := waitFor(t, got)
	p := tr.wait(t, "process billing", 1)[0]
	if p.Parent().IsValid() || !h.span.IsValid() || h.span.SpanID() != p.SpanContext().SpanID() {
		t.Errorf("parent %v, handler span %v", p.Parent(), h.span)
	}
}
