package peer

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
)

// service runs one handler: a pool of workers over a queue in which messages
// with the same sender and Key wait for each other, so they are handled one
// at a time in send order; after a retryable failure the key is held until
// the failed message comes back (or its sender says to skip it).
type service struct {
	p     *Peer
	name  string
	h     channel.Handler
	conc  int
	scope string          // dedup scope: "" for a service, the subscription key
	parts int             // partitions advertised; 0: not partitioned
	ctx   context.Context // the peer's, marked as a handler's
	// last is the counters of the channel handled last: a service's
	// messages all have its name, a subscription's mostly few topics.
	last atomic.Pointer[namedCounters]
	docs []discovery.MessageType // what it takes and answers (Takes, Answers)

	mu       sync.Mutex
	cond     *sync.Cond
	ready    []*inMsg // runnable, in arrival order
	keys     map[keyID]*keyQueue
	stopping bool
	wg       sync.WaitGroup
}

// keyID names a queue of messages handled one at a time: a sender's key,
// or a sender's partition (part = partition + 1) of a partitioned service.
// The sender is its name, not its epoch: a restarted sender's messages of a
// key wait for the one its earlier incarnation left running here.
type keyID struct {
	from string
	key  string
	part int32
}

// keyQueue holds one key's messages. scheduled: one of them is in ready or
// running; blocked: one failed and waits for its resend.
type keyQueue struct {
	id        keyID
	items     []*inMsg
	scheduled bool
	running   bool
	blocked   *inMsg
}

func newService(p *Peer, name string, h channel.Handler, conc int) *service {
	s := &service{p: p, name: name, h: h, conc: conc, keys: make(map[keyID]*keyQueue),
		ctx: context.WithValue(p.ctx, handlerKey{}, true)}
	s.cond = sync.NewCond(&s.mu)
	return s
}

func (s *service) start() {
	s.wg.Add(s.conc)
	for i := 0; i < s.conc; i++ {
		go s.work()
	}
}

// enqueue adds a received message; false when the service stopped. The
// caller may hold receiver.mu.
func (s *service) enqueue(im *inMsg) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return false
	}
	if (im.msg.Key == "" && im.part == 0) || im.bestEffort {
		s.push(im)
		return true
	}
	id := keyID{im.from.name, im.msg.Key, 0}
	if im.part > 0 {
		id = keyID{from: im.from.name, part: im.part} // one partition at a time
	}
	kq := s.keys[id]
	if kq == nil {
		kq = &keyQueue{id: id}
		s.keys[id] = kq
	}
	im.kq = kq
	if kq.scheduled || kq.blocked != nil {
		// What waits may turn out a duplicate of what runs: look again.
		im.recheck = im.mayRepeat
		kq.items = append(kq.items, im)
		return true
	}
	kq.scheduled = true
	s.push(im)
	return true
}

func (s *service) push(im *inMsg) {
	s.ready = append(s.ready, im)
	s.cond.Signal()
}

// resume puts a failed message back at the head of its key.
func (s *service) resume(im *inMsg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if kq := im.kq; kq != nil {
		if kq.blocked != im {
			return
		}
		kq.blocked, kq.scheduled = nil, true
	}
	s.push(im)
}

// skip releases a key held for a message the sender told us to skip.
func (s *service) skip(im *inMsg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if kq := im.kq; kq != nil && kq.blocked == im {
		kq.blocked = nil
		s.next(kq)
	}
}

// next schedules a key's next message, or forgets an idle key. The caller
// holds s.mu.
func (s *service) next(kq *keyQueue) {
	if len(kq.items) > 0 {
		im := kq.items[0]
		kq.items[0] = nil
		kq.items = kq.items[1:]
		kq.scheduled = true
		s.push(im)
		return
	}
	kq.scheduled = false
	if kq.blocked == nil {
		delete(s.keys, kq.id)
	}
}

// purge removes from's messages (everyone's when from is nil) that are
// queued or blocked (not running) and returns them. A key queue may hold
// messages of two incarnations of a sender: the others stay, in order. The
// caller holds receiver.mu.
func (s *service) purge(from *inPeer) []*inMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	match := func(im *inMsg) bool { return from == nil || im.from == from }
	var out []*inMsg
	kept := s.ready[:0]
	for _, im := range s.ready {
		if !match(im) {
			kept = append(kept, im)
			continue
		}
		out = append(out, im)
		if im.kq != nil {
			im.kq.scheduled = false // its key's next one may go
		}
	}
	clear(s.ready[len(kept):])
	s.ready = kept
	for _, kq := range s.keys {
		if from != nil && kq.id.from != from.name {
			continue
		}
		items := kq.items[:0]
		for _, im := range kq.items {
			if match(im) {
				out = append(out, im)
			} else {
				items = append(items, im)
			}
		}
		clear(kq.items[len(items):])
		kq.items = items
		if kq.blocked != nil && match(kq.blocked) {
			out = append(out, kq.blocked)
			kq.blocked = nil
		}
		if !kq.running && !kq.scheduled && kq.blocked == nil {
			s.next(kq) // the next that stayed, or the key is forgotten
		}
	}
	return out
}

func (s *service) work() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		for !s.stopping && len(s.ready) == 0 {
			s.cond.Wait()
		}
		if s.stopping {
			s.mu.Unlock()
			return
		}
		im := s.ready[0]
		s.ready[0] = nil
		s.ready = s.ready[1:]
		im.running = true
		if im.kq != nil {
			im.kq.running = true
		}
		s.mu.Unlock()

		var o outcome
		var err error
		if im.recheck && s.p.dedup.Seen(s.scope, im.msg.ID) {
			o = duplicate
		} else {
			o, err = s.run(im)
		}

		// A settled message is acknowledged before its key's next one can
		// run: acknowledgements of a key then leave in handling order, so a
		// sender that loses this peer never has an earlier message of the
		// key unacknowledged behind later acknowledged ones, to be handled
		// again after them elsewhere.
		final := o == handled || o == permanent || o == duplicate
		if final {
			s.p.recv.settle(im, o, err)
		}
		s.mu.Lock()
		im.running = false
		if kq := im.kq; kq != nil {
			kq.running = false
		}
		if kq := im.kq; kq != nil && s.keys[kq.id] == kq {
			if o == retry || o == panicked {
				kq.blocked, kq.scheduled = im, false
			} else {
				s.next(kq)
			}
		}
		s.mu.Unlock()
		if !final {
			// After the key is blocked: the resend the NACK brings resumes it.
			s.p.recv.settle(im, o, err)
		}
	}
}

// run calls the handler and, when it succeeded, sends the reply it made.
func (s *service) run(im *inMsg) (outcome, error) {
	o, slot, err := s.call(im)
	if o != handled || slot == nil {
		return o, err
	}
	// Recorded as handled before the reply leaves, like the reply itself
	// (sendReply): a repeat of the request must not run the handler again.
	s.p.dedup.Add(s.scope, im.msg.ID)
	if s.p.sendReply(&im.msg, slot) { // only a handler that succeeded answers
		// The reply woke the connection's writer; the acknowledgement about
		// to be recorded would wake the flusher, which the scheduler runs
		// first. Yield so the reply is written first: it is what the
		// requester waits for.
		runtime.Gosched()
	}
	return o, err
}

// call runs the handler, turning a panic into an error, and counts the
// outcome before any reply leaves: whoever reads the reply and then Stats
// finds the handling counted.
func (s *service) call(im *inMsg) (o outcome, slot *replySlot, err error) {
	c := s.counters(im.msg.Channel)
	began := time.Now()
	defer func() {
		if r := recover(); r != nil {
			o, err = panicked, fmt.Errorf("handler for %s panicked: %v", s.name, r)
		}
		c.latency.observe(time.Since(began))
		switch o {
		case handled:
			s.p.stats.handled.Add(1)
			c.handled.Add(1)
		default:
			s.p.stats.handlerErrors.Add(1)
			c.handlerErrors.Add(1)
		}
	}()
	ctx := s.ctx
	if !im.msg.Deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, im.msg.Deadline)
		defer cancel()
	}
	if im.msg.ReplyTo != "" && im.msg.CorrelationID != "" {
		slot = &replySlot{p: s.p, to: im.msg.ReplyTo}
		ctx = context.WithValue(ctx, replyKey{}, slot)
	}
	err = s.h(ctx, &im.msg)
	switch {
	case err == nil:
		return handled, slot, nil
	case channel.IsPermanent(err):
		return permanent, slot, err
	}
	return retry, slot, err
}

// stop makes the workers return once their current message is done; what
// is queued stays unacknowledged, for its senders to resend.
func (s *service) stop() {
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	s.cond.Broadcast()
}

func (s *service) wait() { s.wg.Wait() }

type namedCounters struct {
	name string
	c    *chanCounters
}

// counters returns the counters of channel, handled here.
func (s *service) counters(channel string) *chanCounters {
	if l := s.last.Load(); l != nil && l.name == channel {
		return l.c
	}
	c := s.p.chans.of(channel)
	s.last.Store(&namedCounters{channel, c})
	return c
}
