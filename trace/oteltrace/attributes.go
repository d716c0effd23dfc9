package oteltrace

import (
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	"github.com/meshmq/meshmq/channel"
)

// ScopeName is the instrumentation scope of the package's tracer.
const ScopeName = "github.com/meshmq/meshmq/trace/oteltrace"

// System is the messaging.system of meshmq spans.
const System = "meshmq"

// ReplyDestination stands for the destination in the names of replies'
// spans ("send (reply)"): a reply goes to its requester, not to a channel.
const ReplyDestination = "(reply)"

// meshmq's own span attributes, beside OpenTelemetry's messaging ones.
const (
	KindKey    = attribute.Key("meshmq.message.kind")    // document, command, event, reply
	KeyKey     = attribute.Key("meshmq.message.key")     // the ordering key, when set
	ToKey      = attribute.Key("meshmq.message.to")      // the peer a message is addressed to, when set
	FromKey    = attribute.Key("meshmq.message.from")    // the peer a handled message came from
	AttemptKey = attribute.Key("meshmq.message.attempt") // the delivery a handler runs: 1 for the first
)

// The error.type values of failed handler runs.
const (
	ErrorRetryable = "retryable" // an error: the message is retried
	ErrorPermanent = "permanent" // channel.Permanent: dead-lettered
	ErrorPanic     = "panic"     // a panic: retried
)

// sendOperation is the messaging.operation.name and the span name of
// sending msg.
func sendOperation(msg *channel.Message) (op, name string) {
	switch msg.Kind {
	case channel.Event:
		return "publish", "publish " + msg.Channel
	case channel.Reply:
		return "send", "send " + ReplyDestination
	}
	return "send", "send " + msg.Channel
}

// messageAttributes are the attributes of msg both sides record.
func messageAttributes(msg *channel.Message, op attribute.KeyValue, opName string) []attribute.KeyValue {
	kv := make([]attribute.KeyValue, 0, 12)
	kv = append(kv,
		semconv.MessagingSystemKey.String(System),
		op,
		semconv.MessagingOperationName(opName),
		semconv.MessagingMessageID(msg.ID),
		semconv.MessagingMessageBodySize(len(msg.Body)),
		KindKey.String(msg.Kind.String()),
	)
	if msg.Channel != "" {
		kv = append(kv, semconv.MessagingDestinationName(msg.Channel))
	}
	if msg.CorrelationID != "" {
		kv = append(kv, semconv.MessagingMessageConversationID(msg.CorrelationID))
	}
	if msg.Key != "" {
		kv = append(kv, KeyKey.String(msg.Key))
	}
	if msg.To != "" {
		kv = append(kv, ToKey.String(msg.To))
	}
	return kv
}
