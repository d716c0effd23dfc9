package peer

import "sync/atomic"

// Stats is a snapshot of a peer's counters.
type Stats struct {
	Sent           uint64 // messages accepted by Send, and copies of events accepted by Publish (at-least-once)
	SentBestEffort uint64 // best-effort messages written to a connection
	Transmissions  uint64 // DATA entries written, first sends and resends
	Retried        uint64 // resends after a NACK or a reconnection
	Acked          uint64 // messages acknowledged by their receiver
	DeadLettered   uint64 // messages given up on
	Handled        uint64 // messages whose handler returned nil
	HandlerErrors  uint64 // handler errors and panics (each retried or dead-lettered)
	Duplicates     uint64 // received messages dropped as already handled
	Rejected       uint64 // received messages refused (no handler, undecodable, expired, shutting down)
	LateReplies    uint64 // replies that arrived after their Request gave up
	CachedReplies  uint64 // repeated requests answered from the reply cache, without running the handler
	FailedOver     uint64 // messages moved to another instance or group member after theirs failed (a request among them may run twice)
	Published      uint64 // events accepted by Publish
	Unheard        uint64 // events published with no subscriber
	LostBestEffort uint64 // best-effort copies of events not sent: no member connected
	Restored       uint64 // messages a durable store kept, resent at start
	Relayed        uint64 // outbox records the relay handed over (SendTx, PublishTx)
	Kept           uint64 // messages left unacknowledged in a durable store at Close, for the next start
	InFlight       int    // messages in the retry buffer, retained copies included
	BufferBytes    int    // their encoded bytes
	Retained       int    // copies of events waiting for an absent subscriber group
	HeldEvents     int    // events from the outbox waiting for a first subscriber (PublishTx)
	Security       SecurityStats
	Connections    ConnectionStats
	// Per channel (services and topics, sent and handled), per destination
	// (members sent to), and membership.
	Channels     map[string]ChannelStats
	Destinations map[string]DestinationStats
	Members      MemberStats

	// UndeliveredReplies counts replies that could not go to their
	// requester: refused by Reply (ErrReplyUndeliverable), or dead-lettered
	// with ReasonUndeliverable after the handler returned.
	UndeliveredReplies uint64
}

// ConnectionStats counts the peer's data connections, and what its limits
// (WithConnectionLimits) and checks refused.
type ConnectionStats struct {
	Open              int    // established now
	MaxConnections    int    // the limits in force
	MaxHandshakes     int    //
	Dials             uint64 // outbound connections attempted
	DialFailures      uint64 // of those, not established (unreachable, refused, failed handshake)
	Accepted          uint64 // inbound connections established
	OverLimit         uint64 // inbound connections refused: MaxConnections established already
	HandshakesRefused uint64 // inbound connections closed at accept: MaxHandshakes under way
	HandshakesFailed  uint64 // inbound handshakes that failed (bad greeting, timeout, refusal)
	ProtocolErrors    uint64 // connections closed for a protocol violation after HELLO
}

func (p *Peer) connectionStats() ConnectionStats {
	s := p.tr.Stats()
	maxConns, maxHS := p.tr.Limits()
	return ConnectionStats{Open: p.tr.Open(), MaxConnections: maxConns, MaxHandshakes: maxHS,
		Dials: s.Dials.Load(), DialFailures: s.DialFailures.Load(), Accepted: s.Accepted.Load(),
		OverLimit: s.OverLimit.Load(), HandshakesRefused: s.HandshakesRefused.Load(),
		HandshakesFailed: s.HandshakesFailed.Load(), ProtocolErrors: s.ProtocolErrors.Load()}
}

type counters struct {
	sent, sentBE, transmissions, retried, acked, dead atomic.Uint64
	handled, handlerErrors, duplicates, rejected      atomic.Uint64
	lateReplies, cachedReplies, failedOver            atomic.Uint64
	undeliveredReplies                                atomic.Uint64
	restored, relayed, kept                           atomic.Uint64
	heldEvents                                        atomic.Int64
	published, unheard, lostBestEffort                atomic.Uint64
}

// Stats returns the peer's counters.
func (p *Peer) Stats() Stats {
	n, b := p.buf.usage()
	c := &p.stats
	return Stats{
		Sent: c.sent.Load(), SentBestEffort: c.sentBE.Load(), Transmissions: c.transmissions.Load(),
		Retried: c.retried.Load(), Acked: c.acked.Load(), DeadLettered: c.dead.Load(),
		Handled: c.handled.Load(), HandlerErrors: c.handlerErrors.Load(), Duplicates: c.duplicates.Load(),
		Rejected: c.rejected.Load(), LateReplies: c.lateReplies.Load(), CachedReplies: c.cachedReplies.Load(),
		FailedOver: c.failedOver.Load(), Published: c.published.Load(), Unheard: c.unheard.Load(),
		LostBestEffort: c.lostBestEffort.Load(), Restored: c.restored.Load(), Relayed: c.relayed.Load(),
		Kept: c.kept.Load(), InFlight: n, BufferBytes: b, Retained: p.groups.retainedCount(),
		HeldEvents: int(c.heldEvents.Load()), Security: p.securityStats(), Connections: p.connectionStats(),
		Channels: p.chans.snapshot(), Destinations: p.destinationStats(),
		Members: MemberStats{Alive: len(p.view()), Joined: p.memberEvents.joined.Load(),
			Left: p.memberEvents.left.Load(), Failed: p.memberEvents.failed.Load()},
		UndeliveredReplies: c.undeliveredReplies.Load(),
	}
}
