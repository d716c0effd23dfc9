package peer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/internal/wire"
	"github.com/meshmq/meshmq/peer/outbox"
)

// Durability. With a durable store (the SQL stores) every message is in
// the store before Send returns, and stays there until acknowledged or
// dead-lettered: a peer restarted after a crash resends, in Seq order, what
// the store holds for it (restore), and a peer that closes with messages
// unacknowledged keeps them there instead of dead-lettering them. Records
// written into the application's transaction (SendTx, PublishTx: the
// transactional outbox) are sent by the relay once committed.

// SendTx writes msg into the outbox inside the application's transaction tx,
// as Send would send it: the message is sent once tx commits — by the relay
// of this peer or of another peer on the same database — and never if tx
// rolls back. The send middleware runs now, as the message is written, so
// what it adds (trace context, metrics) follows the message from the outbox.
// The store must keep an outbox (outbox.TxAppender: the SQL stores), else
// SendTx fails with ErrNoOutbox. BestEffort and Retry do not apply.
func (p *Peer) SendTx(ctx context.Context, tx *sql.Tx, msg *channel.Message, opts ...SendOption) error {
	if tx == nil {
		return fmt.Errorf("%w: nil transaction", ErrNoOutbox)
	}
	return p.Send(ctx, msg, append(opts, inTx(tx))...)
}

// PublishTx writes the event msg into the outbox inside the application's
// transaction tx, as Publish would publish it: the relay copies it to the
// groups subscribed when it is sent, after tx commits. Unlike Publish, an
// event with no subscriber yet is not dropped: it waits, in order, for a
// first subscriber (Stats.HeldEvents) up to the retry policy's MaxAge, then
// counts as Unheard. See SendTx.
func (p *Peer) PublishTx(ctx context.Context, tx *sql.Tx, msg *channel.Message, opts ...SendOption) error {
	if tx == nil {
		return fmt.Errorf("%w: nil transaction", ErrNoOutbox)
	}
	return p.Publish(ctx, msg, append(opts, inTx(tx))...)
}

func inTx(tx *sql.Tx) SendOption {
	return func(c *sendConfig) error {
		c.tx = tx
		return nil
	}
}

// appendTx is the core of SendTx and PublishTx: the message, encoded, into
// the outbox in tx.
func (p *Peer) appendTx(ctx context.Context, msg *channel.Message, sc *sendConfig) error {
	txa, ok := p.store.(outbox.TxAppender)
	if !ok {
		return ErrNoOutbox
	}
	if sc.bestEffort || sc.retry != nil {
		return &OptionError{"SendTx", "BestEffort and Retry do not apply to the outbox"}
	}
	enc, err := p.encode(msg)
	if err != nil {
		return err
	}
	rec := &outbox.Record{ID: msg.ID, Channel: msg.Channel, Key: msg.Key, Dest: outbox.Destination{Peer: msg.To},
		Message: enc, Created: msg.Time}
	if sc.publish {
		rec.Dest.Group = outbox.AllGroups
	}
	if err := txa.AppendTx(ctx, sc.tx, []*outbox.Record{rec}); err != nil {
		return fmt.Errorf("peer: outbox: %w", err)
	}
	return nil
}

// restore resends what the store kept for this peer: messages unacknowledged
// when it crashed or closed, in Seq order (so each key's order holds).
func (p *Peer) restore(ctx context.Context) error {
	var recs []*outbox.Record
	if err := p.store.Pending(ctx, func(r *outbox.Record) error {
		recs = append(recs, r)
		return nil
	}); err != nil {
		return fmt.Errorf("peer: restoring from the store: %w", err)
	}
	for _, r := range recs {
		p.resume(ctx, r, resumeRestored)
	}
	if len(recs) > 0 {
		p.stats.restored.Add(uint64(len(recs)))
		p.log.Info("restored unacknowledged messages from the store", "messages", len(recs))
	}
	return nil
}

type resumeFrom int

const (
	resumeRestored resumeFrom = iota // reloaded at start
	resumeRedriven                   // re-driven dead letters
	resumeRelayed                    // from the outbox, through the relay
)

// resume sends a record the store holds already (restored, re-driven or
// relayed), under its Seq: nothing is appended again. It is never flagged
// fresh: it may have been delivered before.
func (p *Peer) resume(ctx context.Context, rec *outbox.Record, from resumeFrom) error {
	var hdr channel.Message
	if err := wire.DecodeMessage(rec.Message, &hdr); err != nil {
		// Nothing can route it: it goes to the dead letters, not away.
		size := len(rec.Message) + outMsgOverhead
		p.buf.force(1, size) // what dead-lettering releases
		m := &outMsg{storeSeq: rec.Seq, enc: rec.Message, size: int32(size), created: rec.Created.UnixNano(),
			attempts: int32(rec.Attempts), relayed: from == resumeRelayed}
		p.deadLetter(nil, []deadMsg{{m: m, reason: ReasonPermanent, text: "undecodable record: " + err.Error()}})
		return nil
	}
	if rec.Dest.Group == outbox.AllGroups {
		return p.resumePublish(ctx, rec, &hdr)
	}
	size := len(rec.Message) + outMsgOverhead
	if from == resumeRestored {
		// The buffer takes everything kept, even past its bounds: nothing
		// else runs yet to free room.
		p.buf.force(1, size)
	} else if err := p.buf.acquire(ctx, 1, size, false, false); err != nil {
		return err
	}
	m := &outMsg{storeSeq: rec.Seq, enc: rec.Message, size: int32(size), policy: &p.cfg.retry,
		created: rec.Created.UnixNano(), attempts: int32(rec.Attempts), relayed: from == resumeRelayed,
		urgent: hdr.Kind == channel.Reply || hdr.ReplyTo != ""}
	if exp := expiry(&hdr); !exp.IsZero() {
		m.expires = exp.UnixNano()
	}
	p.stats.sent.Add(1)
	p.accepted(m, hdr.Channel)
	if rec.Dest.Group != "" {
		m.group = p.groups.restored(rec.Dest.Group, hdr.Channel, p.cfg.retry)
		m.policy = m.group.retryPolicy(nil, &p.cfg.retry)
		p.deadLetter(nil, p.admitCopy(m, hdr.Channel, hdr.Key))
		return nil
	}
	p.routeNew(m, &hdr)
	return nil
}

// routeNew hands a buffered point-to-point message to its partition's lane,
// its destination, or the parked list.
func (p *Peer) routeNew(m *outMsg, hdr *channel.Message) {
	if hdr.Key != "" && hdr.To == "" {
		if l := p.laneFor(hdr.Channel, hdr.Key); l != nil {
			l.submit(m)
			return
		}
	}
	p.reroute(m)
}

// resumePublish copies a published outbox record to every group subscribed
// to its topic. The copies share the record: it is removed from the store
// once every copy is acknowledged or dead-lettered.
func (p *Peer) resumePublish(ctx context.Context, rec *outbox.Record, hdr *channel.Message) error {
	gs := p.groups.matching(hdr.Channel)
	if len(gs) == 0 || p.heldTopics[hdr.Channel] > 0 {
		// No subscriber known yet — discovery may not have converged since
		// the relay started. The event waits for one, up to the retry
		// policy's age: an outbox event is not dropped lightly. Behind an
		// event of its topic that waits, it waits too, even if a subscriber
		// came meanwhile: the topic's events keep their order.
		p.hold(heldEvent{rec: rec, topic: hdr.Channel, since: time.Now()})
		return nil
	}
	return p.fanOut(ctx, hdr, rec.Message, gs, &sendConfig{}, rec)
}

// settleStored tells the store and the relay that ms were acknowledged: a
// shared record (a published outbox record) once its last copy is.
func (p *Peer) settleStored(ms []*outMsg) {
	if !p.ackStore {
		return
	}
	seqs := make([]uint64, 0, len(ms))
	var relayed []uint64
	for _, m := range ms {
		if m.shared && !p.lastCopy(m.storeSeq) {
			continue
		}
		seqs = append(seqs, m.storeSeq)
		if m.relayed {
			relayed = append(relayed, m.storeSeq)
		}
	}
	if len(seqs) > 0 {
		if err := p.store.Ack(context.Background(), toRanges(seqs)); err != nil {
			p.log.Error("store ack failed", "err", err)
		}
	}
	if len(relayed) > 0 && p.relay != nil {
		p.relay.Settled(relayed)
	}
}

// lastCopy counts one copy of a shared record as settled and reports
// whether it was the last.
func (p *Peer) lastCopy(seq uint64) bool {
	p.sharedMu.Lock()
	defer p.sharedMu.Unlock()
	n := p.shared[seq] - 1
	if n > 0 {
		p.shared[seq] = n
		return false
	}
	delete(p.shared, seq)
	return true
}

// heldEvent is a published outbox record waiting for a subscriber.
type heldEvent struct {
	rec   *outbox.Record
	topic string
	since time.Time
}

const (
	// maxHeldEvents bounds the published outbox records waiting for a
	// subscriber: past it the relay stops taking more.
	maxHeldEvents = 4096
	// heldRetry is how often waiting records look for subscribers again.
	heldRetry = 100 * time.Millisecond
)

func (p *Peer) hold(h heldEvent) {
	p.heldEvents = append(p.heldEvents, h)
	p.heldTopics[h.topic]++
	p.stats.heldEvents.Store(int64(len(p.heldEvents)))
}

// retryHeld publishes the waiting outbox events whose topic has subscribers
// now, in order, and gives up (Unheard) on those past the retry policy's
// age. Only the relay loop touches heldEvents and heldTopics.
func (p *Peer) retryHeld(ctx context.Context) error {
	held := p.heldEvents
	p.heldEvents = nil
	clear(p.heldTopics)
	now := time.Now()
	for i, h := range held {
		switch {
		case len(p.groups.matching(h.topic)) > 0:
			var hdr channel.Message
			if err := wire.DecodeMessage(h.rec.Message, &hdr); err == nil {
				if err := p.resumePublish(ctx, h.rec, &hdr); err != nil {
					for _, h := range held[i:] {
						p.hold(h)
					}
					return err
				}
			}
		case p.cfg.retry.MaxAge > 0 && now.Sub(h.since) > p.cfg.retry.MaxAge:
			p.log.Warn("outbox event had no subscriber", "id", h.rec.ID, "topic", h.topic)
			p.stats.published.Add(1)
			p.stats.unheard.Add(1)
			p.settleStored([]*outMsg{{storeSeq: h.rec.Seq, relayed: true}})
		default:
			p.hold(h)
		}
	}
	p.stats.heldEvents.Store(int64(len(p.heldEvents)))
	return nil
}

// relayLoop sends what the relay returns from the outbox.
func (p *Peer) relayLoop(ctx context.Context) {
	defer p.wg.Done()
	wait := 100 * time.Millisecond
	for {
		nextCtx, cancel := ctx, context.CancelFunc(func() {})
		if len(p.heldEvents) > 0 {
			if err := p.retryHeld(ctx); err != nil {
				return
			}
			if len(p.heldEvents) >= maxHeldEvents {
				select {
				case <-ctx.Done():
					return
				case <-time.After(heldRetry):
				}
				continue
			}
			if len(p.heldEvents) > 0 {
				// Come back to them soon even if nothing new is committed.
				nextCtx, cancel = context.WithTimeout(ctx, heldRetry)
			}
		}
		recs, err := p.relay.Next(nextCtx)
		cancel()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, outbox.ErrClosed) {
				return
			}
			if nextCtx.Err() != nil {
				continue // time to look at the held events again
			}
			p.log.Warn("outbox relay", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, 5*time.Second)
			continue
		}
		wait = 100 * time.Millisecond
		for _, r := range recs {
			if err := p.resume(ctx, r, resumeRelayed); err != nil {
				return // ctx ended: the records stay in the outbox
			}
			p.stats.relayed.Add(1)
		}
	}
}

// keep takes out of dead what a durable store keeps for the next start
// instead: what Close leaves unacknowledged. It frees their buffer room.
func (p *Peer) keep(dead []deadMsg) []deadMsg {
	if !p.durable {
		return dead
	}
	out := dead[:0]
	n, bytes := 0, 0
	var kept []*outMsg
	for _, dm := range dead {
		if dm.reason != ReasonClosed {
			out = append(out, dm)
			continue
		}
		kept = append(kept, dm.m)
		n++
		bytes += int(dm.m.size)
	}
	if n > 0 {
		p.released(kept)
		p.buf.release(n, bytes)
		p.stats.kept.Add(uint64(n))
	}
	return out
}

// deadStored settles the dead letters' outbox records: the relay's, and a
// shared record once its last copy is settled.
func (p *Peer) deadStored(dead []deadMsg) {
	var shared []*outMsg
	var relayed []uint64
	for _, dm := range dead {
		switch {
		case dm.m.shared:
			shared = append(shared, dm.m)
		case dm.m.relayed:
			relayed = append(relayed, dm.m.storeSeq)
		}
	}
	if len(shared) > 0 {
		p.settleStored(shared)
	}
	if len(relayed) > 0 && p.relay != nil {
		p.relay.Settled(relayed)
	}
}
