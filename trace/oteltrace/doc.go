// Package oteltrace traces meshmq messages with OpenTelemetry: W3C trace
// context (traceparent, tracestate) travels in message headers, from the
// span that sent a message to the span that handled it.
//
// [New] returns a [Middleware] whose Send method is a peer.SendMiddleware
// and whose Handle method is a peer.HandleMiddleware; give both to a peer:
//
//	tr := oteltrace.New()
//	p, err := peer.New(ctx, peer.WithSendMiddleware(tr.Send), peer.WithHandleMiddleware(tr.Handle))
//
// Send starts a producer span, "send <channel>" ("publish <topic>" for
// events, which Publish makes by default: Kind Event; "send (reply)" for
// replies), as a child of the span in the
// caller's ctx, and injects its context into the message's headers through
// the propagator (propagation.TraceContext by default). Handle extracts it
// and starts a consumer span, "process <channel>", as its child, which the
// handler gets in its ctx (a handler's own spans and sends join the trace);
// a handler that fails (an error or a panic) ends it with an error status.
// Spans carry OpenTelemetry's messaging attributes: messaging.system
// "meshmq", messaging.operation.type and .name, messaging.destination.name
// (the channel), messaging.message.id, messaging.message.conversation_id
// (the correlation ID of requests and replies), messaging.message.body.size,
// and meshmq.message.kind, .key, .to, .from and .attempt where they apply.
// [HeaderCarrier] adapts channel.Headers to propagation.TextMapCarrier for
// code that injects or extracts by hand; Middleware.Inject and Extract do it
// with the Middleware's propagator.
//
// Guarantees and limits:
//   - The producer span covers Send (Publish, Request, SendTx, PublishTx)
//     until the message is in the retry buffer or the outbox, not its
//     delivery: retries, failover and the relay send the stored message,
//     headers included, without running the send middleware again.
//   - The transactional outbox: SendTx and PublishTx run the send middleware
//     when the message is written into the application's transaction, so
//     the trace context is stored with the message and reaches the handler
//     after the relay sends it — the handler's span is in the trace that was
//     active when SendTx was called, whenever the relay sends it. A
//     transaction rolled back leaves a producer span and no consumer span.
//   - Each handler run gets its own consumer span: a retried message makes
//     one span per attempt (meshmq.message.attempt), all children of the one
//     producer span.
//   - A reply is sent with its handler's ctx (after the handler returned),
//     so its producer span is a child of the request's consumer span. A
//     reply answered from the responder's reply cache starts a new trace.
//   - Headers are copied before the trace context is written into them, so
//     a Headers map shared with another message is not changed.
//   - The package starts no goroutine. With otel's global TracerProvider
//     (the default) and no SDK installed, spans are not recorded, yet the
//     caller's trace context still propagates.
//
// Importing this package is the only way OpenTelemetry's trace API becomes a
// dependency: package peer does not import it.
package oteltrace
