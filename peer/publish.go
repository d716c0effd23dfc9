package peer

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/peer/outbox"
)

// Publish sends msg, an event on the topic msg.Channel (no wildcards), to
// every subscriber group whose pattern matches it: one copy per group,
// encoded once, each copy at least once through the retry buffer (see
// Subscribe for failover and retention). It returns once every copy is in
// the retry buffer; with no subscriber at all the event goes nowhere and is
// counted (Stats.Unheard). Each group's copies are bounded on their own: a
// slow or absent group dead-letters its overflow (ReasonOverflow) instead of
// holding Publish back, which waits only when the sender's whole retry
// buffer is full. With BestEffort, or for Unreliable subscriptions, copies
// are sent at most once to a connected member and never retained.
//
// Publish fills in an empty ID, Time, and Kind (Event).
func (p *Peer) Publish(ctx context.Context, msg *channel.Message, opts ...SendOption) error {
	if msg == nil {
		return fmt.Errorf("%w: nil message", channel.ErrInvalidMessage)
	}
	sc := sendConfig{publish: true}
	for _, o := range opts {
		if err := o(&sc); err != nil {
			return err
		}
	}
	if p.closing.Load() && !inHandler(ctx) {
		return ErrClosed
	}
	sc.fill(msg, channel.Event)
	if err := channel.ValidateTopic(msg.Channel); err != nil {
		return fmt.Errorf("peer: Publish: %w", err)
	}
	if msg.To != "" || msg.Kind == channel.Reply {
		return fmt.Errorf("%w: a published message has no To and is not a reply", channel.ErrInvalidMessage)
	}
	if err := msg.Validate(); err != nil {
		return err
	}
	return p.dispatch(ctx, msg, &sc)
}

// publishCore is sendCore for Publish: one encoding, one copy per group.
func (p *Peer) publishCore(ctx context.Context, msg *channel.Message, sc *sendConfig) error {
	gs := p.groups.matching(msg.Channel)
	if len(gs) == 0 {
		p.stats.unheard.Add(1)
		return nil
	}
	enc, err := p.encode(msg)
	if err != nil {
		return err
	}
	return p.fanOut(ctx, msg, enc, gs, sc, nil)
}

// fanOut sends the event msg, encoded as enc, to the groups gs: at most once
// to the unreliable ones, through the retry buffer to the others, one copy
// each. The copies of a relayed outbox record (rec) share it, in the store
// already; others are appended to the store together.
func (p *Peer) fanOut(ctx context.Context, msg *channel.Message, enc []byte, gs []*group, sc *sendConfig, rec *outbox.Record) error {
	var reliable []*group
	for _, g := range gs {
		if sc.bestEffort || g.unreliable() {
			p.sendBestEffortCopy(ctx, g, msg.Channel, enc)
			continue
		}
		reliable = append(reliable, g)
	}
	p.stats.published.Add(1)
	if len(reliable) == 0 {
		if rec != nil { // sent at most once, as its groups asked
			p.settleStored([]*outMsg{{storeSeq: rec.Seq, relayed: true}})
		}
		return nil
	}
	size := len(enc) + outMsgOverhead
	// Room for every copy at once: an event reaches all its groups or none.
	failFast := p.cfg.failFast && rec == nil // the relay waits for room
	if err := p.buf.acquire(ctx, len(reliable), size*len(reliable), failFast, inHandler(ctx)); err != nil {
		return err
	}
	var exp int64
	if t := expiry(msg); !t.IsZero() {
		exp = t.UnixNano()
	}
	copies := make([]outMsg, len(reliable)) // one allocation for all
	for i, g := range reliable {
		copies[i] = outMsg{enc: enc, size: int32(size), policy: g.retryPolicy(sc.retry, &p.cfg.retry),
			created: msg.Time.UnixNano(), expires: exp, group: g, fresh: sc.freshID}
	}
	switch {
	case rec != nil:
		for i := range copies {
			copies[i].storeSeq, copies[i].relayed, copies[i].shared = rec.Seq, true, true
		}
		p.sharedMu.Lock()
		// += : a relay that lost its role and took it back under a new
		// epoch returns the record again while copies of the first take
		// are in flight.
		p.shared[rec.Seq] += len(copies)
		p.sharedMu.Unlock()
	case p.ackStore:
		// All copies in one append: stored together or not at all.
		recs := make([]*outbox.Record, len(copies))
		for i := range copies {
			rec := copies[i].recordOf("", msg)
			recs[i] = &rec
		}
		if err := p.store.Append(ctx, recs); err != nil {
			p.buf.release(len(copies), size*len(copies))
			return fmt.Errorf("peer: store: %w", err)
		}
		for i := range copies {
			copies[i].storeSeq = recs[i].Seq
		}
	}
	var dead []deadMsg
	for i := range copies {
		p.accepted(&copies[i], msg.Channel)
		dead = append(dead, p.admitCopy(&copies[i], msg.Channel, msg.Key)...)
	}
	p.stats.sent.Add(uint64(len(copies)))
	p.deadLetter(nil, dead)
	return nil
}

// admitCopy counts a new copy against its group's bounds, dead-lettering
// the overflow, and routes it.
func (p *Peer) admitCopy(m *outMsg, topic, key string) []deadMsg {
	g := m.group
	l := p.groupLane(g, key)
	var d *dest
	if l == nil {
		d = p.pickMember(g, topic)
	}
	var dead []deadMsg
	g.mu.Lock()
	over := g.n+1 > g.maxCount || g.bytes+int(m.size) > g.maxBytes
	dropNewest := g.dropNewest
	g.n++
	g.bytes += int(m.size)
	var victim *outMsg
	if over && !dropNewest && len(g.retained) > 0 {
		victim = g.retained[0]
		g.retained[0] = nil
		g.retained = g.retained[1:]
	}
	g.mu.Unlock()
	if over && victim == nil && !dropNewest && d != nil {
		if dm, ok := d.dropOldest(g); ok {
			// The copy left d's queue: it is dead-lettered below, as d's.
			p.deadLetter(d, []deadMsg{dm})
			over = false
		}
	}
	switch {
	case victim != nil:
		dead = append(dead, deadMsg{m: victim, reason: ReasonOverflow, text: "group " + g.wire + " full"})
	case over:
		return append(dead, deadMsg{m: m, reason: ReasonOverflow, text: "group " + g.wire + " full"})
	}
	if l != nil {
		// A partitioned group: the copy goes through its partition's lane,
		// behind the copies retained while the group was away, which
		// membership hands to the lanes under g.routing.
		g.routing.Lock()
		g.mu.Lock()
		behind := len(g.retained) > 0
		if behind {
			g.retained = append(g.retained, m)
		}
		g.mu.Unlock()
		if !behind {
			l.submit(m)
		}
		g.routing.Unlock()
		return dead
	}
	if dm := p.routeCopy(m, d); dm != nil {
		dead = append(dead, *dm)
	}
	return dead
}

// routeCopy hands a group's copy to the member d (nil: none alive), or
// retains it while the group is away, or gives it up when the group is gone.
func (p *Peer) routeCopy(m *outMsg, d *dest) *deadMsg {
	if d != nil && d.enqueue(m) {
		return nil
	}
	g := m.group
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gone {
		return &deadMsg{m: m, reason: ReasonUnsubscribed, text: "group " + g.wire + " has no member left"}
	}
	g.retained = append(g.retained, m)
	return nil
}

// rerouteCopy sends a copy that left a member (failover, refusal) to the
// group again.
func (p *Peer) rerouteCopy(m *outMsg, topic string) {
	if dm := p.routeCopy(m, p.pickMember(m.group, topic)); dm != nil {
		p.deadLetter(nil, []deadMsg{*dm})
	}
}

// pickMember chooses the group's member for a copy: among the alive members
// whose pattern matches the topic, the one with the fewest unacknowledged
// messages, preferring connected ones; nil when none is alive.
func (p *Peer) pickMember(g *group, topic string) *dest {
	best, bestScore, ties := -1, 0, 0
	g.mu.Lock() // lock order: g.mu, then p.mu, then d.mu
	for i := range g.alive {
		gm := &g.alive[i]
		if !channel.MatchTopic(gm.sub.Pattern, topic) {
			continue
		}
		if gm.d == nil {
			gm.d = p.destIfAny(gm.name)
		}
		score := 0 // never sent to: dial it, so the load spreads
		if gm.d != nil {
			var gone bool
			if score, gone = gm.d.routeLoad(); gone {
				continue
			}
		}
		switch {
		case best < 0 || score < bestScore:
			best, bestScore, ties = i, score, 1
		case score == bestScore:
			if ties++; rand.IntN(ties) == 0 {
				best = i
			}
		}
	}
	var d *dest
	name := ""
	if best >= 0 {
		d, name = g.alive[best].d, g.alive[best].name
	}
	g.mu.Unlock()
	if best < 0 {
		return nil
	}
	if d == nil {
		var err error
		if d, err = p.dest(name); err != nil {
			return nil
		}
	}
	return d
}

// sendBestEffortCopy writes one copy at most once to a connected member.
func (p *Peer) sendBestEffortCopy(ctx context.Context, g *group, topic string, enc []byte) {
	d := p.pickMember(g, topic)
	if d == nil || d.sendBestEffort(ctx, enc, g.wire) != nil {
		p.stats.lostBestEffort.Add(1)
	}
}
