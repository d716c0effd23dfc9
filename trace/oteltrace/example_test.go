package oteltrace_test

import (
	"context"
	"fmt"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/peer"
	"github.com/meshmq/meshmq/trace/oteltrace"
)

// A command sent in a checkout span is handled in the same trace. A service
// would install its TracerProvider (with an exporter) globally and call
// oteltrace.New() without options.
func Example() {
	ctx := context.Background()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer tp.Shutdown(ctx)

	billingTr := oteltrace.New(oteltrace.WithTracerProvider(tp))
	billing, err := peer.New(ctx, peer.WithName("billing"),
		peer.WithSendMiddleware(billingTr.Send), peer.WithHandleMiddleware(billingTr.Handle))
	if err != nil {
		panic(err)
	}
	defer billing.Close(ctx)
	handled := make(chan trace.SpanContext, 1)
	billing.Handle("billing", func(ctx context.Context, m *channel.Message) error {
		handled <- trace.SpanContextFromContext(ctx) // the consumer span
		return nil
	})

	ordersTr := oteltrace.New(oteltrace.WithTracerProvider(tp))
	orders, err := peer.New(ctx, peer.WithName("orders"),
		peer.WithSendMiddleware(ordersTr.Send), peer.WithHandleMiddleware(ordersTr.Handle),
		peer.WithDiscovery(discovery.NewStatic(billing.Advertisement())))
	if err != nil {
		panic(err)
	}
	defer orders.Close(ctx)

	ctx, checkout := tp.Tracer("shop").Start(ctx, "checkout")
	if err := orders.Send(ctx, &channel.Message{Channel: "billing", Body: []byte("o-1")}); err != nil {
		panic(err)
	}
	checkout.End()
	sc := <-handled
	fmt.Println("handled in the checkout trace:", sc.TraceID() == checkout.SpanContext().TraceID())

	billing.Close(ctx) // its spans have ended once it is closed
	names := map[trace.SpanID]string{checkout.SpanContext().SpanID(): "checkout"}
	for _, s := range spans.Ended() {
		names[s.SpanContext().SpanID()] = s.Name()
	}
	for _, name := range []string{"send billing", "process billing"} {
		for _, s := range spans.Ended() {
			if s.Name() == name {
				fmt.Printf("%s (%s), child of %s\n", s.Name(), s.SpanKind(), names[s.Parent().SpanID()])
			}
		}
	}
	// Output:
	// handled in the checkout trace: true
	// send billing (producer), child of checkout
	// process billing (consumer), child of send billing
}
