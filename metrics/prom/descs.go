package prom

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshmq/meshmq/peer"
)

// The fixed set of descriptors, and how each metric's value is read from a
// Stats snapshot.

type metric[S any] struct {
	desc  *prometheus.Desc
	typ   prometheus.ValueType
	value func(*S) float64
}

type descs struct {
	peer            []metric[peer.Stats]
	channel         []metric[peer.ChannelStats]
	destination     []metric[peer.DestinationStats]
	memberEvents    *prometheus.Desc
	handlerDuration *prometheus.Desc
}

// all lists every descriptor, for Describe.
func (d *descs) all() []*prometheus.Desc {
	var out []*prometheus.Desc
	for _, m := range d.peer {
		out = append(out, m.desc)
	}
	for _, m := range d.channel {
		out = append(out, m.desc)
	}
	for _, m := range d.destination {
		out = append(out, m.desc)
	}
	return append(out, d.memberEvents, d.handlerDuration)
}

// memberEvents are the values of the event label of member_events_total.
var memberEvents = []struct {
	name  string
	count func(*peer.MemberStats) uint64
}{
	{"joined", func(m *peer.MemberStats) uint64 { return m.Joined }},
	{"left", func(m *peer.MemberStats) uint64 { return m.Left }},
	{"failed", func(m *peer.MemberStats) uint64 { return m.Failed }},
}

const (
	counter = prometheus.CounterValue
	gauge   = prometheus.GaugeValue
)

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func newDescs(ns string, constLabels prometheus.Labels) descs {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(ns, "", name), help, labels, constLabels)
	}
	pm := func(name string, t prometheus.ValueType, help string, v func(*peer.Stats) float64) metric[peer.Stats] {
		return metric[peer.Stats]{desc(name, help, "peer"), t, v}
	}
	cm := func(name string, t prometheus.ValueType, help string, v func(*peer.ChannelStats) float64) metric[peer.ChannelStats] {
		return metric[peer.ChannelStats]{desc("channel_"+name, help, "peer", "channel"), t, v}
	}
	dm := func(name string, t prometheus.ValueType, help string, v func(*peer.DestinationStats) float64) metric[peer.DestinationStats] {
		return metric[peer.DestinationStats]{desc("destination_"+name, help, "peer", "destination"), t, v}
	}
	return descs{
		peer: []metric[peer.Stats]{
			pm("sent_best_effort_total", counter, "Best-effort (at most once) messages written to a connection.",
				func(s *peer.Stats) float64 { return float64(s.SentBestEffort) }),
			pm("transmissions_total", counter, "Message transmissions written to connections: first sends and resends.",
				func(s *peer.Stats) float64 { return float64(s.Transmissions) }),
			pm("rejected_total", counter, "Received messages refused: no handler, undecodable, expired, or the peer shutting down.",
				func(s *peer.Stats) float64 { return float64(s.Rejected) }),
			pm("late_replies_total", counter, "Replies that arrived after their request had given up.",
				func(s *peer.Stats) float64 { return float64(s.LateReplies) }),
			pm("cached_replies_total", counter, "Repeated requests answered from the reply cache without running the handler.",
				func(s *peer.Stats) float64 { return float64(s.CachedReplies) }),
			pm("failed_over_total", counter, "Messages moved to another instance or group member after theirs failed.",
				func(s *peer.Stats) float64 { return float64(s.FailedOver) }),
			pm("published_total", counter, "Events accepted by Publish (each copied to every subscriber group).",
				func(s *peer.Stats) float64 { return float64(s.Published) }),
			pm("unheard_total", counter, "Events published while no group subscribed to their topic.",
				func(s *peer.Stats) float64 { return float64(s.Unheard) }),
			pm("lost_best_effort_total", counter, "Best-effort copies of events not sent because no member of their group was connected.",
				func(s *peer.Stats) float64 { return float64(s.LostBestEffort) }),
			pm("restored_total", counter, "Messages a durable store kept and the peer resent at start.",
				func(s *peer.Stats) float64 { return float64(s.Restored) }),
			pm("relayed_total", counter, "Transactional outbox records the relay handed over for sending.",
				func(s *peer.Stats) float64 { return float64(s.Relayed) }),
			pm("kept_total", counter, "Messages left unacknowledged in a durable store at Close, for the next start.",
				func(s *peer.Stats) float64 { return float64(s.Kept) }),
			pm("in_flight", gauge, "Messages in the retry buffer, retained event copies included.",
				func(s *peer.Stats) float64 { return float64(s.InFlight) }),
			pm("buffer_bytes", gauge, "Encoded bytes of the messages in the retry buffer.",
				func(s *peer.Stats) float64 { return float64(s.BufferBytes) }),
			pm("retained", gauge, "Event copies retained for subscriber groups whose members have all failed.",
				func(s *peer.Stats) float64 { return float64(s.Retained) }),
			pm("held_events", gauge, "Events from the transactional outbox waiting for a first subscriber.",
				func(s *peer.Stats) float64 { return float64(s.HeldEvents) }),
			pm("members", gauge, "Members in the peer's discovery view.",
				func(s *peer.Stats) float64 { return float64(s.Members.Alive) }),
			pm("security_refused_total", counter, "Connections refused because their key is not in the allowlist.",
				func(s *peer.Stats) float64 { return float64(s.Security.Refused) }),
			pm("security_unidentified_total", counter, "Connections refused because the claimed name advertises another key.",
				func(s *peer.Stats) float64 { return float64(s.Security.Unidentified) }),
			pm("security_insecure", gauge, "1 if some of the peer's traffic is not encrypted and authenticated, else 0.",
				func(s *peer.Stats) float64 { return boolValue(len(s.Security.Insecure) > 0) }),
			pm("connections", gauge, "Data connections established.",
				func(s *peer.Stats) float64 { return float64(s.Connections.Open) }),
			pm("connection_dials_total", counter, "Outbound data connections attempted.",
				func(s *peer.Stats) float64 { return float64(s.Connections.Dials) }),
			pm("connection_dial_failures_total", counter, "Outbound data connections not established (unreachable, refused, failed handshake).",
				func(s *peer.Stats) float64 { return float64(s.Connections.DialFailures) }),
			pm("connection_accepts_total", counter, "Inbound data connections established.",
				func(s *peer.Stats) float64 { return float64(s.Connections.Accepted) }),
			pm("connection_over_limit_total", counter, "Inbound data connections refused: MaxConnections established already.",
				func(s *peer.Stats) float64 { return float64(s.Connections.OverLimit) }),
			pm("handshakes_refused_total", counter, "Inbound connections closed at accept: MaxHandshakes under way.",
				func(s *peer.Stats) float64 { return float64(s.Connections.HandshakesRefused) }),
			pm("handshakes_failed_total", counter, "Inbound handshakes that failed (bad greeting, timeout, refusal).",
				func(s *peer.Stats) float64 { return float64(s.Connections.HandshakesFailed) }),
			pm("protocol_errors_total", counter, "Data connections closed for a protocol violation after HELLO.",
				func(s *peer.Stats) float64 { return float64(s.Connections.ProtocolErrors) }),
		},
		channel: []metric[peer.ChannelStats]{
			cm("sent_total", counter, "Messages (event copies) accepted for at-least-once delivery on the channel.",
				func(s *peer.ChannelStats) float64 { return float64(s.Sent) }),
			cm("acked_total", counter, "Messages sent on the channel and acknowledged by their receiver.",
				func(s *peer.ChannelStats) float64 { return float64(s.Acked) }),
			cm("retried_total", counter, "Resends of messages on the channel.",
				func(s *peer.ChannelStats) float64 { return float64(s.Retried) }),
			cm("dead_lettered_total", counter, "Messages sent on the channel and given up on (dead letters).",
				func(s *peer.ChannelStats) float64 { return float64(s.DeadLettered) }),
			cm("handled_total", counter, "Messages received on the channel whose handler returned nil.",
				func(s *peer.ChannelStats) float64 { return float64(s.Handled) }),
			cm("handler_errors_total", counter, "Handler runs on the channel that returned an error or panicked.",
				func(s *peer.ChannelStats) float64 { return float64(s.HandlerErrors) }),
			cm("duplicates_total", counter, "Messages received on the channel and dropped as already handled.",
				func(s *peer.ChannelStats) float64 { return float64(s.Duplicates) }),
			cm("in_flight", gauge, "Messages of the channel in the retry buffer.",
				func(s *peer.ChannelStats) float64 { return float64(s.InFlight) }),
			cm("buffer_bytes", gauge, "Encoded bytes of the channel's messages in the retry buffer.",
				func(s *peer.ChannelStats) float64 { return float64(s.BufferBytes) }),
		},
		destination: []metric[peer.DestinationStats]{
			dm("sent_total", counter, "Messages handed to the member, failed-over ones included.",
				func(s *peer.DestinationStats) float64 { return float64(s.Sent) }),
			dm("acked_total", counter, "Messages the member acknowledged.",
				func(s *peer.DestinationStats) float64 { return float64(s.Acked) }),
			dm("retried_total", counter, "Resends to the member.",
				func(s *peer.DestinationStats) float64 { return float64(s.Retried) }),
			dm("dead_lettered_total", counter, "Messages to the member given up on (dead letters).",
				func(s *peer.DestinationStats) float64 { return float64(s.DeadLettered) }),
			dm("in_flight", gauge, "Messages handed to the member and not yet acknowledged.",
				func(s *peer.DestinationStats) float64 { return float64(s.InFlight) }),
			dm("buffer_bytes", gauge, "Encoded bytes of the messages handed to the member and not yet acknowledged.",
				func(s *peer.DestinationStats) float64 { return float64(s.BufferBytes) }),
			dm("connected", gauge, "1 if a data connection to the member is up, else 0.",
				func(s *peer.DestinationStats) float64 { return boolValue(s.Connected) }),
		},
		memberEvents: desc("member_events_total",
			"Membership events discovery reported: joined (restarts included), left, failed.", "peer", "event"),
		handlerDuration: desc("handler_duration_seconds",
			"Run time of the channel's handler, in seconds, errors and panics included.", "peer", "channel"),
	}
}
