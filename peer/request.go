package peer

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/meshmq/meshmq/channel"
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
	mu  sync.Mutex
	msg *channel.Message
	ctx context.Context // Reply's: what handle middleware added (a trace span) reaches the reply's send middleware
}

// Reply records reply as the answer to the request being handled in ctx. It
// is sent, to the requester directly, only once the handler returns nil; the
// peer sets its Kind, To and CorrelationID. Reply fails outside a handler or
// for a message that is not a request.
func Reply(ctx context.Context, reply *channel.Message) error {
	slot, _ := ctx.Value(replyKey{}).(*replySlot)
	if slot == nil {
		return errors.New("peer: Reply outside a handler, or for a message sent without Request (no ReplyTo)")
	}
	if reply == nil {
		return fmt.Errorf("%w: nil reply", channel.ErrInvalidMessage)
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
		p.log.Warn("sending a reply", "to", req.ReplyTo, "correlation", req.CorrelationID, "err", err)
	}
	return true
}

// pendingReplies hands replies, by correlation ID, to the Requests waiting
// for them.
type pendingReplies = waiters[string, *channel.Message]
