package oteltrace_test

import (
	"context"
	"testing"
	"time"

	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/internal/testutil/peertest"
	"github.com/meshmq/meshmq/peer"
	"github.com/meshmq/meshmq/trace/oteltrace"
)

// Request → handler → reply: one trace. The request's producer span is a
// child of the caller's span, the responder's consumer span its child, and
// the reply's producer span a child of the consumer span; the reply carries
// its context back to the requester.
func TestRequestReplyOneTrace(t *testing.T) {
	tr := newTracing(t)
	rxTr := tr.middleware()
	rx := peertest.Start(t, "rx", peer.WithSendMiddleware(rxTr.Send), peer.WithHandleMiddleware(rxTr.Handle))
	if err := rx.Handle("quote", func(ctx context.Context, m *channel.Message) error {
		return peer.Reply(ctx, &channel.Message{Body: []byte("42")})
	}); err != nil {
		t.Fatal(err)
	}
	txTr := tr.middleware()
	tx := peertest.Start(t, "tx", peer.WithSendMiddleware(txTr.Send), peer.WithHandleMiddleware(txTr.Handle),
		peertest.StaticDiscovery(rx))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ctx, ask := tr.tp.Tracer("test").Start(ctx, "ask")
	req := &channel.Message{Channel: "quote"}
	reply, err := tx.Request(ctx, req)
	if err != nil || string(reply.Body) != "42" {
		t.Fatalf("request: %v, %v", reply, err)
	}
	ask.End()

	send := tr.wait(t, "send quote", 1)[0]
	process := tr.wait(t, "process quote", 1)[0]
	answer := tr.wait(t, "send "+oteltrace.ReplyDestination, 1)[0]
	childOf(t, send, ask.SpanContext())
	childOf(t, process, send.SpanContext())
	childOf(t, answer, process.SpanContext())
	checkAttrs(t, send, semconv.MessagingMessageConversationID(req.CorrelationID), oteltrace.KindKey.String("command"))
	checkAttrs(t, answer, semconv.MessagingMessageConversationID(req.CorrelationID), oteltrace.KindKey.String("reply"),
		oteltrace.ToKey.String("tx"), semconv.MessagingOperationName("send"))
	if _, ok := attrs(answer)[semconv.MessagingDestinationNameKey]; ok {
		t.Error("a reply's span names a destination channel")
	}

	// The requester continues the trace from the reply.
	got := trace.SpanContextFromContext(txTr.Extract(context.Background(), reply))
	if got.TraceID() != ask.SpanContext().TraceID() || got.SpanID() != answer.SpanContext().SpanID() || !got.IsRemote() {
		t.Errorf("the reply carries %v, want the reply span %v", got, answer.SpanContext())
	}
}
