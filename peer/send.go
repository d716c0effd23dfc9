package peer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/internal/transport"
	"github.com/meshmq/meshmq/internal/wire"
	"github.com/meshmq/meshmq/peer/outbox"
)

type sendConfigKey struct{}

// handlerKey marks the contexts handlers run with: what a handler sends
// is part of its work, which Close lets finish.
type handlerKey struct{}

func inHandler(ctx context.Context) bool { return ctx.Value(handlerKey{}) != nil }

// Send sends msg one-way: to the peer named in msg.To, or else to one
// instance of the service msg.Channel (the one with the fewest unacknowledged
// messages among the connected ones). With no instance yet, the message waits
// in the retry buffer until one appears or its policy gives up; a named peer
// discovery does not know is ErrNoRoute. It returns once the message is in the
// retry buffer (at-least-once): from there it is delivered, retried, or handed
// to the dead-letter callback, never dropped silently. When the buffer is
// full Send waits until ctx ends (or fails with ErrBufferFull WithFailFast).
//
// Send fills in an empty ID (channel.NewID), Time (now) and Kind (Document).
// The message must not be modified while Send runs; it may be afterwards.
func (p *Peer) Send(ctx context.Context, msg *channel.Message, opts ...SendOption) error {
	if msg == nil {
		return fmt.Errorf("%w: nil message", channel.ErrInvalidMessage)
	}
	var sc sendConfig
	for _, o := range opts {
		if err := o(&sc); err != nil {
			return err
		}
	}
	// A closing peer refuses new messages, but lets the handlers it waits for
	// finish their work: send their replies, commands and events.
	if p.closing.Load() && msg.Kind != channel.Reply && !inHandler(ctx) {
		return ErrClosed
	}
	sc.fill(msg, channel.Document)
	if err := msg.Validate(); err != nil {
		return err
	}
	return p.dispatch(ctx, msg, &sc)
}

// fill sets what Send and Publish fill in: an ID (made here: fresh), the
// time, the kind.
func (sc *sendConfig) fill(msg *channel.Message, kind channel.Kind) {
	if msg.ID == "" {
		msg.ID = channel.NewID()
		sc.freshID = true
	}
	if msg.Time.IsZero() {
		msg.Time = time.Now()
	}
	if msg.Kind == 0 {
		msg.Kind = kind
	}
}

// dispatch runs the send middleware chain around sendCore; without
// middleware it calls the core directly, sparing the context that carries
// sc through the chain.
func (p *Peer) dispatch(ctx context.Context, msg *channel.Message, sc *sendConfig) error {
	if len(p.cfg.sendMW) > 0 {
		return p.send(context.WithValue(ctx, sendConfigKey{}, sc), msg)
	}
	return p.core(ctx, msg, sc)
}

// sendCore is the innermost SendFunc: the end of the middleware chain.
func (p *Peer) sendCore(ctx context.Context, msg *channel.Message) error {
	sc, _ := ctx.Value(sendConfigKey{}).(*sendConfig)
	if sc == nil {
		sc = &sendConfig{}
	}
	return p.core(ctx, msg, sc)
}

func (p *Peer) core(ctx context.Context, msg *channel.Message, sc *sendConfig) error {
	if sc.tx != nil {
		return p.appendTx(ctx, msg, sc)
	}
	if sc.publish {
		return p.publishCore(ctx, msg, sc)
	}
	return p.sendWith(ctx, msg, sc)
}

// sendWith routes, encodes once, buffers and queues.
func (p *Peer) sendWith(ctx context.Context, msg *channel.Message, sc *sendConfig) error {
	if msg.Key != "" && msg.To == "" && !sc.bestEffort {
		if l := p.laneFor(msg.Channel, msg.Key); l != nil {
			return p.sendPartitioned(ctx, msg, sc, l)
		}
	}
	target, err := p.route(msg)
	if err != nil && (msg.To != "" || !errors.Is(err, ErrNoRoute)) {
		return err
	}
	var d *dest
	if target != "" {
		if d, err = p.dest(target); err != nil {
			return err
		}
	}
	if sc.bestEffort {
		if d == nil {
			return fmt.Errorf("%w: no instance of %q", ErrNoRoute, msg.Channel)
		}
		enc, err := p.encode(msg)
		if err != nil {
			return err
		}
		return d.sendBestEffort(ctx, enc, "")
	}
	m, err := p.buffered(ctx, msg, sc, target)
	if err != nil {
		return err
	}
	switch {
	case d == nil:
		// No instance of the service yet: the message waits in the buffer
		// until one appears or its policy gives up.
		p.park(m)
	case !d.enqueue(m):
		p.buf.release(1, int(m.size))
		p.unaccepted(m)
		return ErrClosed
	}
	p.stats.sent.Add(1)
	return nil
}

// encode encodes msg once, for every transmission, within the size limit.
func (p *Peer) encode(msg *channel.Message) ([]byte, error) {
	enc := wire.AppendMessage(make([]byte, 0, wire.MessageSizeHint(msg)), msg)
	if max := p.tr.MaxMessageSize(); len(enc) > max {
		return nil, &transport.LimitError{What: "message", Size: uint64(len(enc)), Limit: uint64(max)}
	}
	return enc, nil
}

// buffered encodes msg and takes it into the retry buffer (and the store),
// waiting for room as Send does.
func (p *Peer) buffered(ctx context.Context, msg *channel.Message, sc *sendConfig, target string) (*outMsg, error) {
	enc, err := p.encode(msg)
	if err != nil {
		return nil, err
	}
	policy := &p.cfg.retry
	if sc.retry != nil {
		policy = sc.retry
	}
	size := len(enc) + outMsgOverhead
	if msg.Kind == channel.Reply {
		p.buf.force(1, size)
	} else if err := p.buf.acquire(ctx, 1, size, p.cfg.failFast, inHandler(ctx)); err != nil {
		return nil, err
	}
	m := &outMsg{enc: enc, size: int32(size), policy: policy, created: msg.Time.UnixNano(), fresh: sc.freshID,
		urgent: msg.Kind == channel.Reply || msg.ReplyTo != ""}
	if exp := expiry(msg); !exp.IsZero() {
		m.expires = exp.UnixNano()
	}
	if p.ackStore {
		rec := m.recordOf(target, msg)
		recs := []*outbox.Record{&rec}
		if err := p.store.Append(ctx, recs); err != nil {
			p.buf.release(1, size)
			return nil, fmt.Errorf("peer: store: %w", err)
		}
		m.storeSeq = rec.Seq
	}
	p.accepted(m, msg.Channel)
	return m, nil
}

// sendPartitioned buffers a keyed message to a partitioned service and
// hands it to its partition's lane.
func (p *Peer) sendPartitioned(ctx context.Context, msg *channel.Message, sc *sendConfig, l *lane) error {
	m, err := p.buffered(ctx, msg, sc, "")
	if err != nil {
		return err
	}
	l.submit(m)
	p.stats.sent.Add(1)
	return nil
}

// outMsgOverhead is what the retry buffer counts per message beyond its
// encoding: the bookkeeping that keeps it.
const outMsgOverhead = 384

func expiry(m *channel.Message) time.Time {
	var t time.Time
	if m.TTL > 0 {
		t = m.Time.Add(m.TTL)
	}
	if !m.Deadline.IsZero() && (t.IsZero() || m.Deadline.Before(t)) {
		t = m.Deadline
	}
	return t
}

// route picks the destination peer: msg.To, or the instance of the service
// with the fewest unacknowledged messages, preferring connected ones.
func (p *Peer) route(msg *channel.Message) (string, error) {
	members := p.view()
	if msg.To != "" {
		for _, m := range members {
			if m.Name == msg.To {
				return m.Name, nil
			}
		}
		// A peer that connected to us (a requester awaiting its reply) is
		// reachable even if discovery does not list it: over the connection
		// its HELLO identified, or at the endpoint that HELLO gave.
		if l := p.tr.Link(msg.To); l != nil && (l.Conn() != nil || l.Endpoint() != "") {
			return msg.To, nil
		}
		return "", fmt.Errorf("%w: no member named %q", ErrNoRoute, msg.To)
	}
	best, bestScore, ties := "", 0, 0
	for _, m := range members {
		if !m.Handles(msg.Channel) {
			continue
		}
		score := 0 // never sent to: dial it, so the load spreads
		if d := p.destIfAny(m.Name); d != nil {
			var gone bool
			if score, gone = d.routeLoad(); gone {
				continue
			}
		}
		best, bestScore, ties = pickLeast(best, bestScore, ties, m.Name, score)
	}
	if best == "" {
		return "", fmt.Errorf("%w: no member handles %q", ErrNoRoute, msg.Channel)
	}
	return best, nil
}

// pickLeast is one step of choosing the least loaded candidate: equal loads
// (at low rates every instance is idle) are spread, each of the tied
// candidates picked with equal chance.
func pickLeast(best string, bestScore, ties int, name string, score int) (string, int, int) {
	switch {
	case best == "" || score < bestScore:
		return name, score, 1
	case score == bestScore:
		if ties++; rand.IntN(ties) == 0 {
			best = name
		}
	}
	return best, bestScore, ties
}

func (p *Peer) destIfAny(name string) *dest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dests[name]
}

// dest returns the sending state for a peer, creating it (and dialing the
// peer) on first use.
func (p *Peer) dest(name string) (*dest, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if d := p.dests[name]; d != nil {
		return d, nil
	}
	if p.stopped {
		return nil, ErrClosed
	}
	var member *discovery.Member
	for _, m := range p.view() {
		if m.Name == name {
			member = &m
			break
		}
	}
	endpoint := ""
	var link *transport.Link
	if member != nil {
		endpoint = member.Endpoint
	} else if l := p.tr.Link(name); l != nil {
		endpoint = l.Endpoint() // from its HELLO
		if endpoint == "" && l.Conn() != nil {
			// A peer that gave no endpoint (a client of another
			// implementation) is reached over the connection it made, and
			// never dialed.
			link = l
		}
	}
	if link == nil {
		if endpoint == "" {
			return nil, fmt.Errorf("%w: no member named %q", ErrNoRoute, name)
		}
		var err error
		if link, err = p.tr.Connect(name, endpoint); err != nil {
			if errors.Is(err, transport.ErrClosed) {
				return nil, ErrClosed
			}
			return nil, fmt.Errorf("peer: %w", err)
		}
	}
	d := newDest(p, name, link)
	p.dests[name] = d
	if c := link.Conn(); c != nil {
		d.up(c)
	}
	p.wg.Add(1)
	go d.pump()
	return d, nil
}

// waitAcked waits until the retry buffer is empty.
func (p *Peer) waitAcked(ctx context.Context) error { return p.buf.waitEmpty(ctx) }
