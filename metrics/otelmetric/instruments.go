package otelmetric

import (
	"errors"

	"go.opentelemetry.io/otel/metric"

	"github.com/meshmq/meshmq/peer"
)

// The observable instruments, and how each reads its value from a Stats
// snapshot; the package documentation lists them.

type kind int

const (
	counter kind = iota
	upDown
	gauge
)

type spec[S any] struct {
	name, unit, desc string
	kind             kind
	value            func(*S) int64
}

var peerSpecs = []spec[peer.Stats]{
	{"meshmq.sent_best_effort", "{message}", "Best-effort (at most once) messages written to a connection.", counter,
		func(s *peer.Stats) int64 { return int64(s.SentBestEffort) }},
	{"meshmq.transmissions", "{transmission}", "Message transmissions written to connections: first sends and resends.", counter,
		func(s *peer.Stats) int64 { return int64(s.Transmissions) }},
	{"meshmq.rejected", "{message}", "Received messages refused: no handler, undecodable, expired, or the peer shutting down.", counter,
		func(s *peer.Stats) int64 { return int64(s.Rejected) }},
	{"meshmq.late_replies", "{reply}", "Replies that arrived after their request had given up.", counter,
		func(s *peer.Stats) int64 { return int64(s.LateReplies) }},
	{"meshmq.cached_replies", "{reply}", "Repeated requests answered from the reply cache without running the handler.", counter,
		func(s *peer.Stats) int64 { return int64(s.CachedReplies) }},
	{"meshmq.failed_over", "{message}", "Messages moved to another instance or group member after theirs failed.", counter,
		func(s *peer.Stats) int64 { return int64(s.FailedOver) }},
	{"meshmq.published", "{event}", "Events accepted by Publish (each copied to every subscriber group).", counter,
		func(s *peer.Stats) int64 { return int64(s.Published) }},
	{"meshmq.unheard", "{event}", "Events published while no group subscribed to their topic.", counter,
		func(s *peer.Stats) int64 { return int64(s.Unheard) }},
	{"meshmq.lost_best_effort", "{event}", "Best-effort copies of events not sent because no member of their group was connected.", counter,
		func(s *peer.Stats) int64 { return int64(s.LostBestEffort) }},
	{"meshmq.restored", "{message}", "Messages a durable store kept and the peer resent at start.", counter,
		func(s *peer.Stats) int64 { return int64(s.Restored) }},
	{"meshmq.relayed", "{message}", "Transactional outbox records the relay handed over for sending.", counter,
		func(s *peer.Stats) int64 { return int64(s.Relayed) }},
	{"meshmq.kept", "{message}", "Messages left unacknowledged in a durable store at Close, for the next start.", counter,
		func(s *peer.Stats) int64 { return int64(s.Kept) }},
	{"meshmq.in_flight", "{message}", "Messages in the retry buffer, retained event copies included.", upDown,
		func(s *peer.Stats) int64 { return int64(s.InFlight) }},
	{"meshmq.buffer.size", "By", "Encoded bytes of the messages in the retry buffer.", upDown,
		func(s *peer.Stats) int64 { return int64(s.BufferBytes) }},
	{"meshmq.retained", "{event}", "Event copies retained for subscriber groups whose members have all failed.", upDown,
		func(s *peer.Stats) int64 { return int64(s.Retained) }},
	{"meshmq.held_events", "{event}", "Events from the transactional outbox waiting for a first subscriber.", upDown,
		func(s *peer.Stats) int64 { return int64(s.HeldEvents) }},
	{"meshmq.members", "{member}", "Members in the peer's discovery view.", upDown,
		func(s *peer.Stats) int64 { return int64(s.Members.Alive) }},
	{"meshmq.security.refused", "{connection}", "Connections refused because their key is not in the allowlist.", counter,
		func(s *peer.Stats) int64 { return int64(s.Security.Refused) }},
	{"meshmq.security.unidentified", "{connection}", "Connections refused because the claimed name advertises another key.", counter,
		func(s *peer.Stats) int64 { return int64(s.Security.Unidentified) }},
	{"meshmq.security.insecure", "1", "1 if some of the peer's traffic is not encrypted and authenticated, else 0.", gauge,
		func(s *peer.Stats) int64 { return boolValue(len(s.Security.Insecure) > 0) }},
	{"meshmq.connections", "{connection}", "Data connections established.", upDown,
		func(s *peer.Stats) int64 { return int64(s.Connections.Open) }},
	{"meshmq.connection.dials", "{connection}", "Outbound data connections attempted.", counter,
		func(s *peer.Stats) int64 { return int64(s.Connections.Dials) }},
	{"meshmq.connection.dial_failures", "{connection}", "Outbound data connections not established (unreachable, refused, failed handshake).", counter,
		func(s *peer.Stats) int64 { return int64(s.Connections.DialFailures) }},
	{"meshmq.connection.accepts", "{connection}", "Inbound data connections established.", counter,
		func(s *peer.Stats) int64 { return int64(s.Connections.Accepted) }},
	{"meshmq.connection.over_limit", "{connection}", "Inbound data connections refused: MaxConnections established already.", counter,
		func(s *peer.Stats) int64 { return int64(s.Connections.OverLimit) }},
	{"meshmq.handshake.refused", "{connection}", "Inbound connections closed at accept: MaxHandshakes under way.", counter,
		func(s *peer.Stats) int64 { return int64(s.Connections.HandshakesRefused) }},
	{"meshmq.handshake.failed", "{connection}", "Inbound handshakes that failed (bad greeting, timeout, refusal).", counter,
		func(s *peer.Stats) int64 { return int64(s.Connections.HandshakesFailed) }},
	{"meshmq.protocol_errors", "{connection}", "Data connections closed for a protocol violation after HELLO.", counter,
		func(s *peer.Stats) int64 { return int64(s.Connections.ProtocolErrors) }},
}

var channelSpecs = []spec[peer.ChannelStats]{
	{"meshmq.channel.sent", "{message}", "Messages (event copies) accepted for at-least-once delivery on the channel.", counter,
		func(s *peer.ChannelStats) int64 { return int64(s.Sent) }},
	{"meshmq.channel.acked", "{message}", "Messages sent on the channel and acknowledged by their receiver.", counter,
		func(s *peer.ChannelStats) int64 { return int64(s.Acked) }},
	{"meshmq.channel.retried", "{message}", "Resends of messages on the channel.", counter,
		func(s *peer.ChannelStats) int64 { return int64(s.Retried) }},
	{"meshmq.channel.dead_lettered", "{message}", "Messages sent on the channel and given up on (dead letters).", counter,
		func(s *peer.ChannelStats) int64 { return int64(s.DeadLettered) }},
	{"meshmq.channel.handled", "{message}", "Messages received on the channel whose handler returned nil.", counter,
		func(s *peer.ChannelStats) int64 { return int64(s.Handled) }},
	{"meshmq.channel.handler_errors", "{error}", "Handler runs on the channel that returned an error or panicked.", counter,
		func(s *peer.ChannelStats) int64 { return int64(s.HandlerErrors) }},
	{"meshmq.channel.duplicates", "{message}", "Messages received on the channel and dropped as already handled.", counter,
		func(s *peer.ChannelStats) int64 { return int64(s.Duplicates) }},
	{"meshmq.channel.in_flight", "{message}", "Messages of the channel in the retry buffer.", upDown,
		func(s *peer.ChannelStats) int64 { return int64(s.InFlight) }},
	{"meshmq.channel.buffer.size", "By", "Encoded bytes of the channel's messages in the retry buffer.", upDown,
		func(s *peer.ChannelStats) int64 { return int64(s.BufferBytes) }},
}

var destinationSpecs = []spec[peer.DestinationStats]{
	{"meshmq.destination.sent", "{message}", "Messages handed to the member, failed-over ones included.", counter,
		func(s *peer.DestinationStats) int64 { return int64(s.Sent) }},
	{"meshmq.destination.acked", "{message}", "Messages the member acknowledged.", counter,
		func(s *peer.DestinationStats) int64 { return int64(s.Acked) }},
	{"meshmq.destination.retried", "{message}", "Resends to the member.", counter,
		func(s *peer.DestinationStats) int64 { return int64(s.Retried) }},
	{"meshmq.destination.dead_lettered", "{message}", "Messages to the member given up on (dead letters).", counter,
		func(s *peer.DestinationStats) int64 { return int64(s.DeadLettered) }},
	{"meshmq.destination.in_flight", "{message}", "Messages handed to the member and not yet acknowledged.", upDown,
		func(s *peer.DestinationStats) int64 { return int64(s.InFlight) }},
	{"meshmq.destination.buffer.size", "By", "Encoded bytes of the messages handed to the member and not yet acknowledged.", upDown,
		func(s *peer.DestinationStats) int64 { return int64(s.BufferBytes) }},
	{"meshmq.destination.connected", "1", "1 if a data connection to the member is up, else 0.", gauge,
		func(s *peer.DestinationStats) int64 { return boolValue(s.Connected) }},
}

var memberEventsSpec = spec[peer.MemberStats]{name: "meshmq.member.events", unit: "{event}",
	desc: "Membership events discovery reported: joined (restarts included), left, failed.", kind: counter}

// memberEvents are the values of meshmq.member.event.
var memberEvents = []struct {
	name  string
	count func(*peer.MemberStats) uint64
}{
	{"joined", func(m *peer.MemberStats) uint64 { return m.Joined }},
	{"left", func(m *peer.MemberStats) uint64 { return m.Left }},
	{"failed", func(m *peer.MemberStats) uint64 { return m.Failed }},
}

func boolValue(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// instrument is an observable instrument with its reader.
type instrument[S any] struct {
	obs   metric.Int64Observable
	value func(*S) int64
}

// create makes the observable instrument of sp on m.
func create[S any](m metric.Meter, sp spec[S]) (instrument[S], error) {
	var (
		obs metric.Int64Observable
		err error
	)
	switch sp.kind {
	case counter:
		obs, err = m.Int64ObservableCounter(sp.name, metric.WithUnit(sp.unit), metric.WithDescription(sp.desc))
	case upDown:
		obs, err = m.Int64ObservableUpDownCounter(sp.name, metric.WithUnit(sp.unit), metric.WithDescription(sp.desc))
	default:
		obs, err = m.Int64ObservableGauge(sp.name, metric.WithUnit(sp.unit), metric.WithDescription(sp.desc))
	}
	return instrument[S]{obs, sp.value}, err
}

// createAll makes the instruments of specs; the error joins every failure.
func createAll[S any](m metric.Meter, specs []spec[S]) ([]instrument[S], error) {
	out := make([]instrument[S], 0, len(specs))
	var errs []error
	for _, sp := range specs {
		in, err := create(m, sp)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, in)
	}
	return out, errors.Join(errs...)
}
