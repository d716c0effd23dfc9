package peer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/internal/wire"
	"github.com/meshmq/meshmq/peer/outbox"
)

// ErrNoResponders is returned by Request when no member handles the service.
var ErrNoResponders = errors.New("peer: no responders")

// Request sends msg to one instance of the service msg.Channel (or the peer
// msg.To) and waits for its reply until ctx ends. The request carries a
// correlation ID, this peer's name as its reply address, and ctx's deadline,
// which the responder's handler sees on its ctx. It is delivered at least
// once like any Send; the handler answers with Reply, and the reply is sent
// only if the handler returns nil. A reply that arrives after Request gave up
// is dropped and counted (Stats.LateReplies).
func (p *Peer) Request(ctx context.Context, msg *channel.Message, opts ...SendOption) (*channel.Message, error) {
	if msg == nil {
		return nil, fmt.Errorf("%w: nil message", channel.ErrInvalidMessage)
	}
	if msg.Kind == 0 {
		msg.Kind = channel.Command
	}
	if msg.CorrelationID == "" {
		msg.CorrelationID = channel.NewID()
	}
	msg.ReplyTo = p.cfg.name
	if d, ok := ctx.Deadline(); ok && (msg.Deadline.IsZero() || d.Before(msg.Deadline)) {
		msg.Deadline = d
	}
	if msg.To == "" {
		if _, err := p.route(msg); errors.Is(err, ErrNoRoute) {
			return nil, fmt.Errorf("%w: %s", ErrNoResponders, msg.Channel)
		}
	}
	ch := p.replies.open(msg.CorrelationID)
	defer p.replies.close(msg.CorrelationID)
	if err := p.Send(ctx, msg, opts...); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.closed:
		return nil, ErrClosed
	}
}

type replyKey struct{}

// replySlot is where a handler's Reply is kept until the handler returns.
type replySlot struct {
	p   *Peer
	to  string // the requester: the request's ReplyTo
	mu  sync.Mutex
	msg *channel.Message
	ctx context.Context // Reply's: what handle middleware added (a trace span) reaches the reply's send middleware
}

// Reply records reply as the answer to the request being handled in ctx. It
// is sent, to the requester directly, only once the handler returns nil; the
// peer sets its Kind, To and CorrelationID. Reply fails outside a handler or
// for a message that is not a request.
//
// The reply goes to the requester named in the request's ReplyTo: a member
// discovery lists, or, if discovery does not list it, over the connection
// the requester identified itself on with its HELLO (or at the endpoint that
// HELLO gave). A reply is never dropped silently:
//   - if the requester cannot be reached when Reply is called (no connection
//     to it and discovery does not list it: it is gone), Reply records
//     nothing and returns an error matching ErrReplyUndeliverable (and its
//     cause, e.g. ErrNoRoute). The handler decides: returning the error makes
//     the request be retried if its requester comes back (resends it);
//     returning nil acknowledges the request without a reply.
//   - if the reply cannot be sent once the handler returned nil (the
//     requester went in between, the reply is too large), it is
//     dead-lettered with ReasonUndeliverable (WithDeadLetter, the store).
//   - once sent, it is in the retry buffer like any message, and ends
//     acknowledged or dead-lettered by the retry policy.
//
// Replies refused by Reply and dead-lettered as undeliverable are counted in
// Stats.UndeliveredReplies.
func Reply(ctx context.Context, reply *channel.Message) error {
	slot, _ := ctx.Value(replyKey{}).(*replySlot)
	if slot == nil {
		return errors.New("peer: Reply outside a handler, or for a message sent without Request (no ReplyTo)")
	}
	if reply == nil {
		return fmt.Errorf("%w: nil reply", channel.ErrInvalidMessage)
	}
	if err := slot.p.replyRoute(slot.to); err != nil {
		slot.p.stats.undeliveredReplies.Add(1)
		return fmt.Errorf("%w to %q: %w", ErrReplyUndeliverable, slot.to, err)
	}
	slot.mu.Lock()
	slot.msg, slot.ctx = reply, ctx
	slot.mu.Unlock()
	return nil
}

// sendReply sends the handler's reply to the requester; it reports whether
// there was one.
func (p *Peer) sendReply(req *channel.Message, slot *replySlot) bool {
	slot.mu.Lock()
	reply, ctx := slot.msg, slot.ctx
	slot.mu.Unlock()
	if reply == nil {
		return false
	}
	// No deadline: a reply the requester no longer waits for still arrives,
	// and is counted there as late.
	reply.Kind, reply.To, reply.CorrelationID, reply.Channel = channel.Reply, req.ReplyTo, req.CorrelationID, ""
	// Cached before it leaves: the requester may repeat the request as soon
	// as it has the reply, and the repeat must find it. (A copy: Send may
	// still write to the reply while a repeat reads the cache.)
	cached := *reply
	cached.Headers = reply.Headers.Clone()
	p.replyCache.put(req.ReplyTo, req.ID, &cached)
	// A reply never waits for room in the retry buffer (buffer.force).
	// The values of the ctx Reply was called with (send middleware sees the
	// handler's trace span), but not its end: the reply goes out even after
	// the handler's deadline, until the peer closes.
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	defer context.AfterFunc(p.ctx, cancel)()
	if err := p.Send(ctx, reply); err != nil {
		p.undeliverable(reply, err)
	}
	return true
}

// replyRoute reports whether a reply can go to the requester named to: a
// member, or a peer connected to this one (PROTOCOL.md 6.1).
func (p *Peer) replyRoute(to string) error {
	_, err := p.route(&channel.Message{To: to})
	return err
}

// undeliverable dead-letters a reply that could not be sent (it never
// entered the retry buffer): the requester could not be reached, or the
// reply could not be sent at all.
func (p *Peer) undeliverable(reply *channel.Message, err error) {
	p.stats.undeliveredReplies.Add(1)
	enc := wire.AppendMessage(nil, reply)
	m := &outMsg{enc: enc, size: int32(len(enc) + outMsgOverhead), created: reply.Time.UnixNano()}
	if reply.Time.IsZero() {
		m.created = time.Now().UnixNano()
	}
	text := fmt.Errorf("%w to %q: %w", ErrReplyUndeliverable, reply.To, err).Error()
	dl := []outbox.DeadLetter{{Record: m.recordOf(reply.To, reply), Reason: string(ReasonUndeliverable), Error: text, At: time.Now()}}
	if serr := p.store.DeadLetter(context.Background(), dl); serr != nil {
		p.log.Error("store dead letter failed", "err", serr)
	}
	p.stats.dead.Add(1)
	d := DeadLetter{Seq: dl[0].Seq, Message: reply, Destination: reply.To, Reason: ReasonUndeliverable, Err: errors.New(text)}
	if p.cfg.onDeadLetter != nil {
		p.cfg.onDeadLetter(d)
	} else {
		p.log.Warn("dead letter", "id", reply.ID, "to", reply.To, "reason", d.Reason, "correlation", reply.CorrelationID, "err", d.Err)
	}
}

// pendingReplies hands replies, by correlation ID, to the Requests waiting
// for them.
type pendingReplies = waiters[string, *channel.Message]
