package peer

import "sync/atomic"

// Stats is a snapshot of a peer's counters.
type Stats struct {
	Sent           uint64 // messages accepted by Send (at-least-once)
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
	InFlight       int    // messages in the retry buffer
	BufferBytes    int    // their encoded bytes
}

type counters struct {
	sent, sentBE, transmissions, retried, acked, dead atomic.Uint64
	handled, handlerErrors, duplicates, rejected      atomic.Uint64
	lateReplies                                       atomic.Uint64
}

// Stats returns the peer's counters.
func (p *Peer) Stats() Stats {
	n, b := p.buf.usage()
	c := &p.stats
	return Stats{
		Sent: c.sent.Load(), SentBestEffort: c.sentBE.Load(), Transmissions: c.transmissions.Load(),
		Retried: c.retried.Load(), Acked: c.acked.Load(), DeadLettered: c.dead.Load(),
		Handled: c.handled.Load(), HandlerErrors: c.handlerErrors.Load(), Duplicates: c.duplicates.Load(),
		Rejected: c.rejected.Load(), LateReplies: c.lateReplies.Load(), InFlight: n, BufferBytes: b,
	}
}
