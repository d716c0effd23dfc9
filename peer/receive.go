package peer

import (
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/internal/seqset"
	"github.com/meshmq/meshmq/internal/transport"
	"github.com/meshmq/meshmq/internal/wire"
)

// receiver is the receiving side: per sender, per stream, which sequence
// numbers are settled (exact duplicate detection within the sender's epoch)
// and which are in progress; it hands new messages to services and sends
// ACK and CREDIT, coalesced by one flusher goroutine.
type receiver struct {
	p      *Peer
	timer  *time.Timer   // armed when something waits to be acknowledged: flush within ackDelay
	urgent chan struct{} // ackBatch settled since the last flush: flush now
	quit   chan struct{}
	// flushMu makes a flush whole: Close's final flush must not return while
	// the flusher goroutine still holds acknowledgements it has not queued.
	flushMu sync.Mutex

	mu        sync.Mutex
	senders   map[string]*inPeer
	dirty     []*inPeer
	unflushed int  // settles since the last flush
	armed     bool // timer runs
	ackBatch  int
}

// ackDelay is how long an acknowledgement may wait for others to share its
// packet, as TCP's delayed ACK does: a lone ACK written at once competes
// with the reply its handler just sent (measured: a quarter of a request's
// round trip). Under load ackBatch flushes first, so credit keeps flowing.
const ackDelay = time.Millisecond

// yieldBelow: a DATA packet of fewer entries is latency-bound traffic.
const yieldBelow = 4

// inPeer is what the receiver knows of one sender's current epoch.
type inPeer struct {
	name    string
	epoch   uint64
	conn    *transport.Conn // where ACKs go; nil while disconnected
	streams map[uint64]*inStream
	dirty   bool
	// refused holds, per key, the seqs refused for want of a handler: later
	// messages of the key are refused too until the first comes back, so a
	// handler registered in between cannot see them out of order.
	refused map[string][]uint64
	// drained is closed once no handler runs a message of this sender,
	// for a DRAIN waiting on them (drain); nil when nobody waits.
	drained chan struct{}
}

// heldBack reports whether seq of key must wait behind a refused one; the
// first refused seq itself passes (and stops holding the key back).
func (ip *inPeer) heldBack(key string, seq uint64) bool {
	list := ip.refused[key]
	switch {
	case len(list) == 0 || seq < list[0]:
		return false
	case seq == list[0]:
		if len(list) == 1 {
			delete(ip.refused, key)
		} else {
			ip.refused[key] = list[1:]
		}
		return false
	}
	ip.refuse(key, seq)
	return true
}

func (ip *inPeer) refuse(key string, seq uint64) {
	if ip.refused == nil {
		ip.refused = make(map[string][]uint64)
	}
	list := ip.refused[key]
	i, found := slices.BinarySearch(list, seq)
	if !found {
		ip.refused[key] = slices.Insert(list, i, seq)
	}
}

type inStream struct {
	id      uint64
	settled seqset.Set
	started bool
	active  map[uint64]*inMsg // received, not settled: queued, running, or failed awaiting a resend
	granted uint64            // the credit limit last sent
}

// inMsg is one received message on its way through a service.
type inMsg struct {
	from       *inPeer
	stream     *inStream
	seq        uint64
	msg        channel.Message
	svc        *service
	kq         *keyQueue
	bestEffort bool
	part       int32 // partition + 1 of a message to a partitioned service or group; 0: none
	mayRepeat  bool  // not flagged fresh: its id may have been handled before
	recheck    bool  // waited behind another of its key: look its id up again before it runs
	running    bool  // guarded by svc.mu
	failed     bool  // guarded by receiver.mu: NACKed, waiting for the resend
}

func (r *receiver) init(p *Peer) {
	r.p = p
	r.timer = time.NewTimer(time.Hour)
	r.timer.Stop()
	r.urgent = make(chan struct{}, 1)
	r.quit = make(chan struct{})
	r.ackBatch = max(1, p.cfg.credit/8)
	r.senders = make(map[string]*inPeer)
}

// sender returns the state of c's sender, starting afresh on a new epoch.
// The caller holds r.mu.
func (r *receiver) sender(c *transport.Conn) *inPeer {
	ip := r.senders[c.RemoteName()]
	if ip == nil || ip.epoch != c.RemoteEpoch() {
		if ip != nil {
			r.purge(ip)
		}
		ip = &inPeer{name: c.RemoteName(), epoch: c.RemoteEpoch(), streams: make(map[uint64]*inStream)}
		r.senders[ip.name] = ip
	}
	return ip
}

func (ip *inPeer) stream(id uint64) *inStream {
	st := ip.streams[id]
	if st == nil {
		st = &inStream{id: id, active: make(map[uint64]*inMsg)}
		ip.streams[id] = st
	}
	return st
}

// up and down purge what was queued from the sender's earlier connection:
// it resends all of it, in order, on the next one.
func (r *receiver) up(c *transport.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !c.Current() {
		// Replaced already, and the Up of its replacement may have come
		// first: acknowledgements must follow the link's current
		// connection, not the last Up (down would then leave none).
		return
	}
	ip := r.sender(c)
	r.purge(ip)
	ip.conn = c
	if len(ip.streams) > 0 {
		// What is settled goes again on the new connection at once: an
		// ACK queued on the old one may have been lost with it.
		r.markDirty(ip)
	}
}

func (r *receiver) down(c *transport.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ip := r.senders[c.RemoteName()]
	if ip == nil || ip.conn != c {
		return
	}
	ip.conn = nil
	r.purge(ip)
}

// purge drops ip's messages that are queued or failed, not running. The
// caller holds r.mu.
func (r *receiver) purge(ip *inPeer) {
	for _, s := range r.p.allServices() {
		for _, im := range s.purge(ip) {
			if im.stream != nil && im.stream.active[im.seq] == im {
				delete(im.stream.active, im.seq)
			}
		}
	}
	for _, st := range ip.streams {
		for seq, im := range st.active {
			if im.failed {
				delete(st.active, seq)
			}
		}
	}
	ip.refused = nil
}

// data takes a DATA packet: drop duplicates, refuse what cannot be handled
// here, queue the rest.
func (r *receiver) data(c *transport.Conn, pk *wire.Data) {
	p := r.p
	// Decode outside the lock, straight into one allocation for the batch;
	// duplicates are decoded in vain, rarely.
	ims := make([]inMsg, len(pk.Entries))
	var errs []error
	for i := range pk.Entries {
		e := &pk.Entries[i]
		if e.Flags&wire.FlagSkip == 0 {
			var prev *channel.Message
			if i > 0 {
				prev = &ims[i-1].msg
			}
			if err := wire.DecodeMessageAfter(e.Message, &ims[i].msg, prev); err != nil {
				if errs == nil {
					errs = make([]error, len(pk.Entries))
				}
				errs[i] = err
			}
		}
	}
	decodeErr := func(i int) error {
		if errs == nil {
			return nil
		}
		return errs[i]
	}
	var nacks []wire.StreamNack
	var replies, cached []*channel.Message
	nack := func(e *wire.Entry, reason wire.Reason, text string) {
		nacks = append(nacks, wire.StreamNack{Stream: e.Stream, Seq: e.Seq, Reason: reason, Text: text})
		p.stats.rejected.Add(1)
	}
	now := time.Now()
	closing := p.closing.Load()
	handed := 0 // messages handed to handlers
	r.mu.Lock()
	ip := r.sender(c)
	for i := range pk.Entries {
		e := &pk.Entries[i]
		im := &ims[i]
		m := &im.msg
		if e.Flags&wire.FlagBestEffort != 0 {
			if decodeErr(i) == nil && !closing {
				if s := p.handlerFor(e, m); s != nil {
					m.From, m.Attempt = ip.name, 1
					im.from, im.svc, im.bestEffort = ip, s, true
					s.enqueue(im)
				}
			}
			continue
		}
		st := ip.stream(e.Stream)
		if !st.started {
			// PROTOCOL.md 5: the first seq a fresh receiver sees is the
			// sender's lowest unacknowledged one; all below were settled.
			st.started = true
			st.settled.SetThrough(e.Seq - 1)
			st.granted = e.Seq - 1 + uint64(p.cfg.credit)
		}
		if st.settled.Contains(e.Seq) {
			if e.Flags&wire.FlagSkip == 0 {
				p.duplicate(m)
			}
			r.markDirty(ip)
			continue
		}
		if e.Flags&wire.FlagSkip != 0 {
			st.settled.Add(e.Seq)
			if im := st.active[e.Seq]; im != nil {
				delete(st.active, e.Seq)
				if im.svc != nil {
					im.svc.skip(im)
				}
			}
			r.markDirty(ip)
			continue
		}
		if old := st.active[e.Seq]; old != nil {
			if old.failed {
				// The resend of a failed message: it goes first in its key.
				old.failed = false
				old.msg.Attempt = int(e.Attempt)
				old.svc.resume(old)
			}
			continue // otherwise queued or running already
		}
		switch err := decodeErr(i); {
		case err != nil:
			st.settled.Add(e.Seq)
			nack(e, wire.ReasonUndecodable, err.Error())
			r.markDirty(ip)
			continue
		case e.Flags&wire.FlagFresh == 0 && p.dedup.Seen(e.Group, m.ID):
			st.settled.Add(e.Seq)
			p.duplicate(m)
			r.markDirty(ip)
			if m.ReplyTo != "" {
				// A request repeated after its reply went out: the same
				// reply again, not a second run.
				if reply := p.replyCache.get(m.ReplyTo, m.ID); reply != nil {
					r := *reply
					r.Headers = reply.Headers.Clone()
					r.CorrelationID = m.CorrelationID
					cached = append(cached, &r)
				}
			}
			continue
		case m.Expired(now):
			st.settled.Add(e.Seq)
			nack(e, wire.ReasonExpired, "expired on arrival")
			r.markDirty(ip)
			continue
		case closing:
			nack(e, wire.ReasonShuttingDown, "peer is closing")
			continue
		}
		if m.Kind == channel.Reply {
			// A reply goes to the Request waiting for it, not to a handler.
			m.From, m.Attempt = ip.name, int(e.Attempt)
			st.settled.Add(e.Seq)
			r.markDirty(ip)
			replies = append(replies, m)
			continue
		}
		if m.Key != "" && ip.heldBack(m.Key, e.Seq) {
			nack(e, wire.ReasonNoHandler, "held back behind an earlier message of its key")
			continue
		}
		s := p.handlerFor(e, m)
		if s == nil {
			if m.Key != "" {
				ip.refuse(m.Key, e.Seq)
			}
			what := m.Channel
			if e.Group != "" {
				what = "subscription " + e.Group + " to " + m.Channel
			}
			nack(e, wire.ReasonNoHandler, "no handler for "+what+" on "+p.cfg.name)
			continue
		}
		m.From, m.Attempt = ip.name, int(e.Attempt)
		im.from, im.stream, im.seq, im.svc = ip, st, e.Seq, s
		im.mayRepeat = e.Flags&wire.FlagFresh == 0 && m.ReplyTo == ""
		if e.Partition != wire.NoPartition && s.parts > 0 && e.Partition < int64(s.parts) {
			im.part = int32(e.Partition) + 1
		}
		handed++
		if !s.enqueue(im) {
			nack(e, wire.ReasonNoHandler, "handler of "+m.Channel+" stopped on "+p.cfg.name)
			continue
		}
		st.active[e.Seq] = im
	}
	r.mu.Unlock()
	if len(nacks) > 0 {
		c.SendPacket(&wire.Nack{Items: nacks})
	}
	for _, m := range replies {
		if !p.replies.deliver(m.CorrelationID, m) {
			p.stats.lateReplies.Add(1)
		}
	}
	if len(pk.Entries) <= yieldBelow && handed+len(replies) > 0 {
		// A lone message (a request, its reply): let the goroutine just
		// readied — a handler's worker, a waiting Request — run now, not
		// after this read loop has gone back to the network and parked.
		runtime.Gosched()
	}
	if len(cached) > 0 {
		p.stats.cachedReplies.Add(uint64(len(cached)))
		// Not on the connection's read loop: Send may wait for room.
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for _, reply := range cached {
				p.resendReply(reply)
			}
		}()
	}
}

// handlerFor returns the service or subscription that handles an entry:
// a published copy names its subscription (group), a point-to-point message
// its service; nil when there is none here.
func (p *Peer) handlerFor(e *wire.Entry, m *channel.Message) *service {
	if e.Group != "" {
		if s := p.subscription(e.Group); s != nil && channel.MatchTopic(s.adv.Pattern, m.Channel) {
			return s.svc
		}
		return nil
	}
	if m.To != "" && m.To != p.cfg.name {
		return nil
	}
	return p.service(m.Channel)
}

// refuseQueued NACKs the messages queued for a stopped subscription, so
// that their senders take them elsewhere.
func (r *receiver) refuseQueued(s *service) {
	r.mu.Lock()
	ims := s.purge(nil)
	nacks := make(map[*transport.Conn][]wire.StreamNack)
	for _, im := range ims {
		if im.stream == nil {
			continue // best-effort: nothing to refuse
		}
		if im.stream.active[im.seq] == im {
			delete(im.stream.active, im.seq)
		}
		if c := im.from.conn; c != nil {
			nacks[c] = append(nacks[c], wire.StreamNack{Stream: im.stream.id, Seq: im.seq, Reason: wire.ReasonNoHandler, Text: "unsubscribed"})
		}
	}
	r.mu.Unlock()
	for c, items := range nacks {
		c.SendPacket(&wire.Nack{Items: items})
	}
}

// running reports whether a handler runs (or is about to run) a message of
// ip. The caller holds r.mu.
func (ip *inPeer) running() bool {
	for _, st := range ip.streams {
		for _, im := range st.active {
			if !im.failed {
				return true
			}
		}
	}
	return false
}

// drain answers a DRAIN from c's sender (PROTOCOL.md 9) with what is owed
// on c, before the transport sends our DRAIN: messages queued and not
// started are NACKed with reason 9 (retryable: the sender takes them
// elsewhere or later, and the later messages of their keys with them, so
// per-key order holds); the running ones are waited for, up to the heartbeat
// timeout, and acknowledged (or NACKed) like any other; then the ACKs are
// flushed onto c. It runs on c's reader, which has nothing more to read.
func (r *receiver) drain(c *transport.Conn) {
	r.mu.Lock()
	ip := r.senders[c.RemoteName()]
	if ip == nil || ip.epoch != c.RemoteEpoch() || ip.conn != c {
		r.mu.Unlock()
		return // nothing owed on c: the sender's messages follow another connection
	}
	var nacks []wire.StreamNack
	for _, s := range r.p.allServices() {
		for _, im := range s.purge(ip) {
			if im.stream == nil || im.stream.active[im.seq] != im {
				continue // best-effort, or settled meanwhile
			}
			delete(im.stream.active, im.seq)
			if !im.failed { // a failed one was NACKed already
				nacks = append(nacks, wire.StreamNack{Stream: im.stream.id, Seq: im.seq, Reason: wire.ReasonShuttingDown, Text: "receiver drained before handling it"})
			}
		}
	}
	for _, st := range ip.streams {
		for seq, im := range st.active {
			if im.failed {
				delete(st.active, seq)
			}
		}
	}
	ip.refused = nil
	var wait chan struct{}
	if ip.running() {
		if ip.drained == nil {
			ip.drained = make(chan struct{})
		}
		wait = ip.drained
	}
	r.mu.Unlock()
	if len(nacks) > 0 {
		r.p.stats.rejected.Add(uint64(len(nacks)))
		c.SendPacket(&wire.Nack{Items: nacks})
	}
	if wait != nil {
		t := time.NewTimer(r.p.drainTimeout())
		select {
		case <-wait:
		case <-t.C:
			r.p.log.Warn("handlers still running when the sender drained; their acknowledgements may be lost", "sender", ip.name)
		case <-c.Closed():
		}
		t.Stop()
	}
	r.flushNow()
}

// outcome is how a handler run ended.
type outcome uint8

const (
	handled outcome = iota
	permanent
	retry
	panicked
	duplicate // not run: its id was handled while it waited
)

// settle records a handler's outcome: acknowledged, dead-lettered at the
// sender (permanent), or NACKed for a retry that holds its key back.
func (r *receiver) settle(im *inMsg, o outcome, err error) {
	if im.bestEffort {
		return
	}
	r.mu.Lock()
	st := im.stream
	current := st.active[im.seq] == im
	var reason wire.Reason
	switch o {
	case handled, duplicate:
		if current {
			delete(st.active, im.seq)
		}
		st.settled.Add(im.seq)
		if o == handled {
			r.p.dedup.Add(im.svc.scope, im.msg.ID)
		} else {
			r.p.duplicate(&im.msg)
		}
		r.markDirty(im.from)
	case permanent:
		if current {
			delete(st.active, im.seq)
		}
		st.settled.Add(im.seq)
		reason = wire.ReasonPermanent
		r.markDirty(im.from)
	default:
		if current {
			im.failed = true
		}
		reason = wire.ReasonHandlerError
		if o == panicked {
			reason = wire.ReasonPanic
		}
	}
	c := im.from.conn
	var drained chan struct{} // a DRAIN waits for the last running message of im's sender
	if ip := im.from; ip.drained != nil && !ip.running() {
		drained, ip.drained = ip.drained, nil
	}
	r.mu.Unlock()
	if reason != 0 && c != nil {
		text := ""
		if err != nil {
			text = err.Error()
		}
		c.SendPacket(&wire.Nack{Items: []wire.StreamNack{{Stream: st.id, Seq: im.seq, Reason: reason, Text: text}}})
	}
	if drained != nil {
		close(drained) // after the NACK is queued: the DRAIN follows it
	}
}

// markDirty queues ip for the flusher. The caller holds r.mu.
func (r *receiver) markDirty(ip *inPeer) {
	r.unflushed++
	if !ip.dirty {
		ip.dirty = true
		r.dirty = append(r.dirty, ip)
	}
	if !r.armed {
		// A timer, not a wake-up of the flusher: at low rates a goroutine
		// switch per message would cost more than the flush itself.
		r.armed = true
		r.timer.Reset(ackDelay)
	}
	if r.unflushed == r.ackBatch {
		signal(r.urgent)
	}
}

// maxAckRanges keeps one ACK item well inside a frame (16 bytes a range at
// most); a window of 4,096 needs at most 2,048.
const maxAckRanges = 1 << 14

// flushLoop sends ACKs and CREDITs for what settled since the last flush;
// under load one packet covers many messages.
func (r *receiver) flushLoop() {
	defer r.p.wg.Done()
	for {
		select {
		case <-r.urgent:
			r.flushNow()
		case <-r.timer.C:
			r.flushNow()
		case <-r.quit:
			r.timer.Stop()
			return
		}
	}
}

func (r *receiver) flushNow() {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	type out struct {
		c      *transport.Conn
		ack    wire.Ack
		credit wire.Credit
	}
	var outs []out
	window := uint64(r.p.cfg.credit)
	r.mu.Lock()
	r.unflushed, r.armed = 0, false
	// Every settled seq is acknowledged, all ranges included (up to a
	// bound no credit window reaches in practice): an omitted range would be
	// resent, and handled twice, after a graceful restart.
	for _, ip := range r.dirty {
		ip.dirty = false
		if ip.conn == nil {
			continue
		}
		o := out{c: ip.conn}
		for _, st := range ip.streams {
			o.ack.Streams = append(o.ack.Streams, wire.StreamAck{Stream: st.id, Through: st.settled.Through(), Ranges: st.settled.Ranges(maxAckRanges)})
			if limit := st.settled.Through() + window; limit >= st.granted+window/4 {
				st.granted = limit
				o.credit.Streams = append(o.credit.Streams, wire.StreamCredit{Stream: st.id, Limit: limit})
			}
		}
		outs = append(outs, o)
	}
	r.dirty = r.dirty[:0]
	r.mu.Unlock()
	for _, o := range outs {
		if len(o.ack.Streams) > 0 {
			o.c.SendPacket(&o.ack)
		}
		if len(o.credit.Streams) > 0 {
			o.c.SendPacket(&o.credit)
		}
	}
}

func (r *receiver) stop() { close(r.quit) }
