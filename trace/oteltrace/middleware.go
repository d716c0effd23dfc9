package oteltrace

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/peer"
)

// Middleware traces a peer's sends and handler runs. Its Send method is a
// peer.SendMiddleware, its Handle method a peer.HandleMiddleware; give both
// to the same peer. It is safe for concurrent use.
type Middleware struct {
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

// New returns a Middleware configured by opts.
func New(opts ...Option) *Middleware {
	var c config
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.prop == nil {
		c.prop = propagation.TraceContext{}
	}
	return &Middleware{
		tracer: c.tp.Tracer(ScopeName, trace.WithSchemaURL(semconv.SchemaURL)),
		prop:   c.prop,
	}
}

// Send is the send middleware: it starts a producer span, a child of the
// span in ctx, injects its context into msg's headers, and passes the
// span's ctx on. The span ends when next returns, with an error status if
// next failed (the message was refused).
func (m *Middleware) Send(next peer.SendFunc) peer.SendFunc {
	return func(ctx context.Context, msg *channel.Message) error {
		op, name := sendOperation(msg)
		ctx, span := m.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(messageAttributes(msg, semconv.MessagingOperationTypeSend, op)...))
		defer span.End()
		m.prop.Inject(ctx, &messageCarrier{msg: msg})
		err := next(ctx, msg)
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		return err
	}
}

// Handle is the handle middleware: it extracts the sender's trace context
// from msg's headers, starts a consumer span, "process <channel>", as its
// child (a root span when the message carries none), and runs the handler
// with the span's ctx. A handler error or panic is recorded on the span,
// which ends with an error status and error.type ErrorRetryable,
// ErrorPermanent or ErrorPanic; a panic is passed on.
func (m *Middleware) Handle(next channel.Handler) channel.Handler {
	return func(ctx context.Context, msg *channel.Message) (err error) {
		ctx = m.prop.Extract(ctx, &messageCarrier{msg: msg})
		kv := messageAttributes(msg, semconv.MessagingOperationTypeProcess, "process")
		if msg.From != "" {
			kv = append(kv, FromKey.String(msg.From))
		}
		if msg.Attempt > 0 {
			kv = append(kv, AttemptKey.Int(msg.Attempt))
		}
		ctx, span := m.tracer.Start(ctx, "process "+msg.Channel, trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(kv...))
		panicked := true
		defer func() {
			switch {
			case panicked:
				span.SetAttributes(semconv.ErrorTypeKey.String(ErrorPanic))
				span.SetStatus(codes.Error, "handler panicked")
			case err != nil:
				et := ErrorRetryable
				if channel.IsPermanent(err) {
					et = ErrorPermanent
				}
				span.SetAttributes(semconv.ErrorTypeKey.String(et))
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			}
			span.End()
		}()
		err = next(ctx, msg)
		panicked = false
		return err
	}
}

// Inject writes the trace context of ctx into msg's headers with the
// Middleware's propagator, copying the headers first. Send does it; this is
// for messages built and sent by other means.
func (m *Middleware) Inject(ctx context.Context, msg *channel.Message) {
	m.prop.Inject(ctx, &messageCarrier{msg: msg})
}

// Extract returns ctx with the trace context msg's headers carry, such as
// a reply's (Request returns it unhandled): a span started from it joins
// the sender's trace.
func (m *Middleware) Extract(ctx context.Context, msg *channel.Message) context.Context {
	return m.prop.Extract(ctx, &messageCarrier{msg: msg})
}
