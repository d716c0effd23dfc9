package peer

import (
	"context"
	"errors"
	"fmt"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/peer/outbox"
)

// Reason says why a message was dead-lettered.
type Reason string

const (
	ReasonPermanent    Reason = "permanent"    // the handler returned a permanent error
	ReasonMaxAttempts  Reason = "max-attempts" // the retry policy's attempts ran out
	ReasonMaxAge       Reason = "max-age"      // unacknowledged past the retry policy's age
	ReasonExpired      Reason = "expired"      // past its TTL or deadline
	ReasonRejected     Reason = "rejected"     // the receiver could not take it (undecodable, too large, unauthorized)
	ReasonClosed       Reason = "closed"       // the peer closed before it was acknowledged
	ReasonOverflow     Reason = "overflow"     // its subscriber group had more copies than its bounds allow
	ReasonUnsubscribed Reason = "unsubscribed" // its subscriber group unsubscribed or left

	// ReasonUndeliverable: a reply whose requester could not be reached
	// (no connection, not listed by discovery), or that could not be sent
	// at all (too large, the peer closed). Such a reply never entered the
	// retry buffer; a buffered one ends as any message does.
	ReasonUndeliverable Reason = "undeliverable"
)

// DeadLetter is a message a sender gave up on.
type DeadLetter struct {
	Seq         uint64 // its number in the store, for Redrive
	Message     *channel.Message
	Destination string // peer name
	Reason      Reason
	Err         error // the receiver's error text, if it gave one
	Attempts    int
}

func (d DeadLetter) String() string {
	return fmt.Sprintf("dead letter %s to %s after %d attempts: %s: %v", d.Message.ID, d.Destination, d.Attempts, d.Reason, d.Err)
}

// DeadLetters calls fn for each dead letter the store keeps, oldest first.
func (p *Peer) DeadLetters(ctx context.Context, fn func(outbox.DeadLetter) error) error {
	return p.store.DeadLetters(ctx, fn)
}

// Redrive takes dead letters out of the store, by their Seq, and sends them
// again as they were first sent (same ID and encoding; the send middleware
// does not run again), routed afresh: a published copy to its group.
func (p *Peer) Redrive(ctx context.Context, seqs ...uint64) error {
	recs, err := p.store.Redrive(ctx, seqs)
	for _, r := range recs {
		if rerr := p.resume(ctx, r, resumeRedriven); rerr != nil {
			return errors.Join(err, fmt.Errorf("peer: redrive %d: %w", r.Seq, rerr))
		}
	}
	return err
}
