package otelmetric

import (
	"go.opentelemetry.io/otel/attribute"

	"github.com/meshmq/meshmq/peer"
)

// ScopeName is the instrumentation scope of the package's meter.
const ScopeName = "github.com/meshmq/meshmq/metrics/otelmetric"

// The attributes of the package's observations.
const (
	// PeerKey is the name of the peer observed.
	PeerKey = attribute.Key("meshmq.peer")
	// ChannelKey is a channel: a service or a topic.
	ChannelKey = attribute.Key("meshmq.channel")
	// DestinationKey is a member the peer sends to.
	DestinationKey = attribute.Key("meshmq.destination")
	// MemberEventKey is a kind of membership event: joined, left, failed.
	MemberEventKey = attribute.Key("meshmq.member.event")
	// ErrorTypeKey is the OpenTelemetry error.type of a failed handler run:
	// ErrorRetryable, ErrorPermanent or ErrorPanic.
	ErrorTypeKey = attribute.Key("error.type")
)

// The error.type values of meshmq.handler.duration.
const (
	ErrorRetryable = "retryable" // the handler returned an error; the message is retried
	ErrorPermanent = "permanent" // the handler returned channel.Permanent: dead-lettered
	ErrorPanic     = "panic"     // the handler panicked; the peer retries the message
)

// ReplyChannel is the channel attribute of replies, which have no channel of
// their own.
const ReplyChannel = peer.ReplyChannel

func channelName(name string) string {
	if name == "" {
		return ReplyChannel
	}
	return name
}
