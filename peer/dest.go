package peer

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/internal/transport"
	"github.com/meshmq/meshmq/internal/wire"
	"github.com/meshmq/meshmq/peer/outbox"
)

// dataStream is the stream id of point-to-point messages to one peer.
const dataStream = 1

// sweepInterval is how often a destination looks for messages past their
// retry policy's age or their TTL.
const sweepInterval = 100 * time.Millisecond

// dest is the sending side toward one peer: the messages sent to it and not
// yet acknowledged, in sequence order, and a pump goroutine that writes them
// to the current connection as credit allows. Every unacknowledged message is
// written again, in order, on each new connection; a NACKed one again after its
// backoff.
type dest struct {
	p    *Peer
	name string
	link *transport.Link
	wake chan struct{}
	quit chan struct{}

	mu      sync.Mutex
	conn    *transport.Conn
	nextSeq uint64
	unacked []*outMsg // ascending seq; done ones are dropped when they reach the front
	live    int       // unacked and not done
	sendq   []*outMsg // to write on conn, in order
	resendq []*outMsg // NACKed and due: written before sendq, credit already granted
	retries []*outMsg // NACKed, waiting for retryAt
	skips   []uint64  // seqs the receiver must settle without handling
	epoch   uint64    // the receiver's epoch on the last connection
	limit   uint64    // credit: the highest seq conn may carry
	limited bool      // limit is known for conn (set by the first write)
	initial uint64    // the receiver's initial credit; 0: no limit
	stopped bool
	gone    bool // discovery says the peer failed or left: fail over once disconnected

	counts  destCounters
	writing bool // the pump is writing a batch it took: no write may overtake it
}

// outMsg is one message in the retry buffer. It is kept small: the retry
// buffer holds many, and the garbage collector scans them all.
type outMsg struct {
	seq      uint64
	storeSeq uint64 // the store's Seq for it
	enc      []byte // its encoding, shared by every transmission
	policy   *RetryPolicy
	created  int64 // unix ns
	expires  int64 // unix ns; 0: never
	retryAt  int64 // unix ns, while waiting
	attempts int32
	size     int32         // what it counts in the buffer
	group    *group        // the subscriber group of a published copy; nil for Send
	lane     *lane         // the partition of a keyed message to a partitioned service
	ch       *chanCounters // its channel's counters; nil for records that never decoded
	fresh    bool          // its ID was made for it: its first transmission is flagged fresh
	urgent   bool          // a request or a reply: someone waits for it
	relayed  bool          // from the outbox: the relay learns when it is settled
	shared   bool          // a copy of a published outbox record: the copies share its Seq
	done     bool
	queued   bool // in sendq or resendq
	waiting  bool // in retries
	lastErr  string
}

// record is m as the store sees it.
func (m *outMsg) record(dest string) outbox.Record {
	var hdr channel.Message
	if wire.DecodeMessage(m.enc, &hdr) != nil {
		hdr = channel.Message{}
	}
	return m.recordOf(dest, &hdr)
}

// recordOf is record for m, the encoding of msg: nothing to decode.
func (m *outMsg) recordOf(dest string, msg *channel.Message) outbox.Record {
	return outbox.Record{Seq: m.storeSeq, ID: msg.ID, Channel: msg.Channel, Key: msg.Key,
		Dest: outbox.Destination{Peer: dest, Group: m.groupKey()}, Message: m.enc,
		Created: time.Unix(0, m.created), Attempts: int(m.attempts)}
}

// flags are the entry flags of transmission number attempt.
func (m *outMsg) flags(attempt int32) wire.Flags {
	if m.fresh && attempt == 1 {
		return wire.FlagFresh
	}
	return 0
}

// partition is the entry's partition field.
func (m *outMsg) partition() int64 {
	if m.lane == nil {
		return wire.NoPartition
	}
	return int64(m.lane.key.part)
}

// groupKey is the group's identity for the store: what restore finds it by.
func (m *outMsg) groupKey() string {
	if m.group == nil {
		return ""
	}
	return m.group.key
}

func (m *outMsg) groupName() string {
	if m.group == nil {
		return ""
	}
	return m.group.wire
}

func newDest(p *Peer, name string, link *transport.Link) *dest {
	return &dest{p: p, name: name, link: link, wake: make(chan struct{}, 1), quit: make(chan struct{})}
}

// disconnectedPenalty makes routing prefer connected instances unless they
// are that many messages busier.
const disconnectedPenalty = 1024

func (d *dest) connected() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.conn != nil
}

// routeLoad is load and isGone in one lock.
func (d *dest) routeLoad() (load int, gone bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn == nil {
		return d.live + disconnectedPenalty, d.gone
	}
	return d.live, d.gone
}

func (d *dest) enqueue(m *outMsg) bool {
	ok, fenced := d.enqueueFenced(m)
	if fenced {
		d.p.failover(d)
	}
	return ok
}

// enqueueFenced queues m; fenced reports that the peer is gone and
// disconnected, so that m must fail over (which the caller starts, outside
// its locks).
func (d *dest) enqueueFenced(m *outMsg) (ok, fenced bool) {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return false, false
	}
	d.nextSeq++
	m.seq, m.queued = d.nextSeq, true
	d.unacked = append(d.unacked, m)
	d.live++
	d.counts.sent.Add(1)
	if c := d.conn; d.writeNow(m) {
		d.mu.Unlock()
		// A request or a reply is written by the goroutine sending it when
		// the connection's writer is idle: someone waits for it. Other
		// messages wake the writer, which batches what accumulates.
		if !m.urgent || !c.WriteNow() {
			c.Wake()
		}
		d.p.stats.transmissions.Add(1)
		return true, false
	}
	d.sendq = append(d.sendq, m)
	first := len(d.sendq) == 1
	// Routed here just as the peer went: its failover may have run already,
	// and nothing else would move this message.
	fenced = d.gone && d.conn == nil
	d.mu.Unlock()
	if first && !fenced {
		signal(d.wake)
	}
	return true, fenced
}

// writeNow hands m straight to the connection's writer when nothing is
// queued before it and credit allows: one goroutine hop less than the pump,
// which matters for a request's round trip. The caller holds d.mu.
func (d *dest) writeNow(m *outMsg) bool {
	if d.conn == nil || d.writing || !d.limited || len(d.sendq) > 0 || len(d.resendq) > 0 || len(d.skips) > 0 ||
		(d.initial > 0 && m.seq > d.limit) {
		return false
	}
	e := wire.Entry{Stream: dataStream, Seq: m.seq, Attempt: uint64(m.attempts + 1), Partition: m.partition(),
		Group: m.groupName(), Flags: m.flags(m.attempts + 1), Message: m.enc}
	if d.conn.TryQueue(&e) != nil {
		return false // full or closing: the pump takes it
	}
	m.queued = false
	m.attempts++
	return true
}

func (d *dest) sendBestEffort(ctx context.Context, enc []byte, group string) error {
	d.mu.Lock()
	c := d.conn
	d.mu.Unlock()
	if c == nil {
		return ErrNotConnected
	}
	err := c.Send(ctx, &wire.Entry{Stream: dataStream, Attempt: 1, Partition: wire.NoPartition, Group: group, Flags: wire.FlagBestEffort, Message: enc})
	if errors.Is(err, transport.ErrNotConnected) {
		return ErrNotConnected
	}
	if err == nil {
		d.p.stats.sentBE.Add(1)
	}
	return err
}

// up switches to a new connection: everything unacknowledged goes again, in
// order, now (a backoff in progress ends with the old connection). The Up of
// a connection already replaced is ignored: it may come after the Up of its
// replacement, and down would then leave the destination without one while
// the link stays up.
func (d *dest) up(c *transport.Conn) {
	d.mu.Lock()
	if d.conn == c || !c.Current() {
		d.mu.Unlock()
		return
	}
	d.conn, d.limited, d.initial = c, false, c.Remote().InitialCredit
	sameReceiver := d.epoch == c.Remote().Epoch
	d.epoch = c.Remote().Epoch
	d.sendq = d.sendq[:0]
	for _, m := range d.unacked {
		m.queued, m.waiting = !m.done, false
		if m.queued {
			d.sendq = append(d.sendq, m)
		}
	}
	d.retries, d.resendq = d.retries[:0], d.resendq[:0]
	// Messages settled out of order by an earlier incarnation of the
	// receiver leave holes a new one cannot tell from messages in flight:
	// skip entries fill them, so its contiguous point (and credit) advances.
	// The same receiver keeps its stream across connections: the skips of
	// seqs gone from unacked (moved to another instance) still have to
	// reach it; a new incarnation starts past them.
	low := d.nextSeq + 1
	if len(d.unacked) > 0 {
		low = d.unacked[0].seq
	}
	keep := d.skips[:0]
	for _, seq := range d.skips {
		if sameReceiver && seq < low {
			keep = append(keep, seq)
		}
	}
	d.skips = keep
	for _, m := range d.unacked {
		if m.done {
			d.skips = append(d.skips, m.seq)
		}
	}
	d.mu.Unlock()
	signal(d.wake)
}

func (d *dest) down(c *transport.Conn) {
	d.mu.Lock()
	if d.conn == c {
		d.conn = nil
	}
	gone := d.gone && d.conn == nil
	d.mu.Unlock()
	if gone {
		d.p.failover(d)
	}
}

// setGone records what discovery says of the peer; it reports whether the
// destination is now gone and disconnected, ready to fail over.
func (d *dest) setGone(gone bool) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gone = gone
	return gone && d.conn == nil
}

func (d *dest) isGone() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.gone
}

// takeForFailover removes the unacknowledged messages that may go to another
// instance (not those sent to this peer by name), in order, once the peer is
// gone and its connection closed: nothing more can reach it, and nothing it
// handled can be acknowledged, so moving them cannot duplicate what it acked.
func (d *dest) takeForFailover() []*outMsg {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.gone || d.conn != nil {
		return nil
	}
	var moved []*outMsg
	for _, m := range d.unacked {
		if m.done {
			continue
		}
		var hdr channel.Message
		if wire.DecodeMessage(m.enc, &hdr) == nil && hdr.To != "" {
			continue // for this peer only: it waits for it, within its policy
		}
		m.done = true
		moved = append(moved, m)
		// The receiver may live on (a cut, not a crash) and see this
		// stream again: the seq must not stay a hole in it.
		d.skips = append(d.skips, m.seq)
	}
	d.live -= len(moved)
	d.compact()
	return moved
}

// pump writes queued messages while the connection and its credit allow,
// and resends NACKed ones when their backoff ends.
func (d *dest) pump() {
	defer d.p.wg.Done()
	timer := time.NewTimer(sweepInterval)
	defer timer.Stop()
	nextSweep := time.Now().Add(sweepInterval)
	var batch []wire.Entry
	for {
		select {
		case <-d.wake:
		case <-timer.C:
		case <-d.quit:
			return
		}
		now := time.Now()
		d.mu.Lock()
		var dead []deadMsg
		if !now.Before(nextSweep) {
			dead = d.sweep(now)
			nextSweep = now.Add(sweepInterval)
		}
		next := nextSweep
		kept := d.retries[:0]
		for _, m := range d.retries {
			switch {
			case m.done:
			case now.UnixNano() >= m.retryAt:
				m.waiting, m.queued = false, true
				d.resendq = append(d.resendq, m)
			default:
				kept = append(kept, m)
				if at := time.Unix(0, m.retryAt); at.Before(next) {
					next = at
				}
			}
		}
		d.retries = kept
		c := d.conn
		batch = batch[:0]
		if c != nil {
			batch = d.take(batch)
		}
		d.writing = len(batch) > 0
		d.mu.Unlock()
		d.p.deadLetter(d, dead)
		for i := range batch {
			if err := c.Send(d.p.ctx, &batch[i]); err != nil {
				// The connection is gone; the next one resends everything.
				break
			}
			d.p.stats.transmissions.Add(1)
		}
		clear(batch)
		if len(batch) > 0 {
			d.mu.Lock()
			d.writing = false
			d.mu.Unlock()
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(time.Until(next))
	}
}

// take moves into batch the due resends (their seqs were within credit when
// first written), then new messages while credit allows, then pending skips.
// The caller holds d.mu.
func (d *dest) take(batch []wire.Entry) []wire.Entry {
	for _, m := range d.resendq {
		batch = d.write(batch, m)
	}
	clear(d.resendq)
	d.resendq = d.resendq[:0]
	n := 0
	for _, m := range d.sendq {
		if !m.done && m.queued {
			if !d.limited {
				// PROTOCOL.md 7.3: the first seq on a connection sets the base.
				d.limit, d.limited = m.seq+d.initial-1, true
			}
			if d.initial > 0 && m.seq > d.limit {
				break
			}
		}
		n++
		batch = d.write(batch, m)
	}
	clear(d.sendq[:n])
	if d.sendq = d.sendq[n:]; len(d.sendq) == 0 {
		d.sendq = nil
	}
	// Skips go after the first message on a connection: a fresh receiver
	// takes the first seq it sees as the sender's lowest unacknowledged.
	if d.limited {
		for _, seq := range d.skips {
			batch = append(batch, wire.Entry{Stream: dataStream, Seq: seq, Attempt: 1, Partition: wire.NoPartition, Flags: wire.FlagSkip})
		}
		d.skips = d.skips[:0]
	}
	return batch
}

// write appends m's entry to batch unless it was settled meanwhile.
func (d *dest) write(batch []wire.Entry, m *outMsg) []wire.Entry {
	if m.done || !m.queued {
		return batch
	}
	m.queued = false
	m.attempts++
	if m.attempts > 1 {
		d.p.stats.retried.Add(1)
		d.counts.retried.Add(1)
		if m.ch != nil {
			m.ch.retried.Add(1)
		}
	}
	return append(batch, wire.Entry{Stream: dataStream, Seq: m.seq, Attempt: uint64(m.attempts),
		Partition: m.partition(), Group: m.groupName(), Flags: m.flags(m.attempts), Message: m.enc})
}

// sweep finds messages past their age limit or expiry. The caller holds d.mu.
func (d *dest) sweep(now time.Time) []deadMsg {
	var dead []deadMsg
	for _, m := range d.unacked {
		if m.done {
			continue
		}
		switch {
		case m.expires != 0 && now.UnixNano() > m.expires:
			dead = append(dead, d.finishDead(m, ReasonExpired, "expired before it was acknowledged"))
		case m.policy.MaxAge > 0 && now.UnixNano()-m.created > int64(m.policy.MaxAge):
			dead = append(dead, d.finishDead(m, ReasonMaxAge, m.lastErr))
		}
	}
	d.compact()
	return dead
}

// finishDead marks m done as a dead letter and has the receiver settle its
// seq. The caller holds d.mu.
func (d *dest) finishDead(m *outMsg, reason Reason, text string) deadMsg {
	m.done = true
	d.live--
	// Even a seq never written needs its skip: a later one may be written,
	// and the receiver's contiguous point (and credit) must pass the hole.
	d.skips = append(d.skips, m.seq)
	return deadMsg{m: m, reason: reason, text: text}
}

// dropOldest gives up the oldest copy of g still waiting to be written
// (overflow of the group's bounds); it reports false when every copy of g
// here is in flight.
func (d *dest) dropOldest(g *group) (deadMsg, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, m := range d.sendq {
		if m.group == g && !m.done && m.queued && m.attempts == 0 {
			dm := d.finishDead(m, ReasonOverflow, "group "+g.wire+" full")
			d.compact()
			return dm, true
		}
	}
	return deadMsg{}, false
}

// compact drops done messages from the front of unacked.
func (d *dest) compact() {
	i := 0
	for i < len(d.unacked) && d.unacked[i].done {
		d.unacked[i] = nil
		i++
	}
	if i > 0 {
		d.unacked = d.unacked[i:]
	}
}

func (d *dest) find(seq uint64) *outMsg {
	i, ok := slices.BinarySearchFunc(d.unacked, seq, func(m *outMsg, s uint64) int {
		switch {
		case m.seq < s:
			return -1
		case m.seq > s:
			return 1
		}
		return 0
	})
	if !ok {
		return nil
	}
	return d.unacked[i]
}

// ack settles what the receiver acknowledged.
func (d *dest) ack(pk *wire.Ack) {
	var settled []*outMsg
	d.mu.Lock()
	for _, sa := range pk.Streams {
		if sa.Stream != dataStream {
			continue
		}
		for _, m := range d.unacked {
			if m.seq > sa.Through {
				break
			}
			if !m.done {
				m.done = true
				settled = append(settled, m)
			}
		}
		for _, r := range sa.Ranges {
			for s := r.From; s <= r.To && s-r.From < 1<<16; s++ {
				if m := d.find(s); m != nil && !m.done {
					m.done = true
					settled = append(settled, m)
				}
			}
		}
	}
	d.live -= len(settled)
	d.compact()
	d.mu.Unlock()
	if len(settled) == 0 {
		return
	}
	bytes := 0
	var run chanRun
	acked := func(c *chanCounters, n, _ uint64) { c.acked.Add(n) }
	for _, m := range settled {
		bytes += int(m.size)
		run.add(m, acked)
	}
	run.flush(acked)
	d.counts.acked.Add(uint64(len(settled)))
	d.p.settleStored(settled)
	d.p.stats.acked.Add(uint64(len(settled)))
	d.p.released(settled)
	d.p.buf.release(len(settled), bytes)
}

// nack schedules a retry or dead-letters, per the reason and the policy.
func (d *dest) nack(pk *wire.Nack) {
	var dead []deadMsg
	var regroup []*outMsg
	now := time.Now()
	d.mu.Lock()
	for _, it := range pk.Items {
		if it.Stream != dataStream {
			continue
		}
		m := d.find(it.Seq)
		if m == nil || m.done {
			continue
		}
		m.lastErr = it.Text
		switch {
		case it.Reason == wire.ReasonNoHandler && m.group != nil && !m.group.has(d.name):
			// The member no longer subscribes: another member takes it.
			m.done = true
			d.live--
			d.skips = append(d.skips, m.seq)
			regroup = append(regroup, m)
		case !it.Reason.Retryable():
			// The receiver settled it already: no skip needed.
			m.done = true
			d.live--
			reason := ReasonRejected
			switch it.Reason {
			case wire.ReasonPermanent:
				reason = ReasonPermanent
			case wire.ReasonExpired:
				reason = ReasonExpired
			}
			dead = append(dead, deadMsg{m: m, reason: reason, text: it.Text})
		case m.policy.MaxAttempts > 0 && int(m.attempts) >= m.policy.MaxAttempts:
			dead = append(dead, d.finishDead(m, ReasonMaxAttempts, it.Text))
		case !m.queued && !m.waiting:
			delay := m.policy.delay(int(m.attempts))
			m.retryAt, m.waiting = now.Add(max(delay, it.RetryAfter)).UnixNano(), true
			d.retries = append(d.retries, m)
		}
	}
	d.compact()
	d.mu.Unlock()
	d.p.deadLetter(d, dead)
	for _, m := range regroup {
		if m.lane != nil {
			m.lane.takeBack(d, []*outMsg{m.moved()})
			continue
		}
		d.p.reroute(m.moved())
	}
	signal(d.wake)
}

// credit raises the limit of the current connection.
func (d *dest) credit(c *transport.Conn, pk *wire.Credit) {
	d.mu.Lock()
	raised := false
	if c == d.conn {
		for _, sc := range pk.Streams {
			if sc.Stream == dataStream && d.limited && sc.Limit > d.limit {
				d.limit, raised = sc.Limit, true
			}
		}
	}
	d.mu.Unlock()
	if raised {
		signal(d.wake)
	}
}

func (d *dest) stop() {
	d.mu.Lock()
	if !d.stopped {
		d.stopped = true
		close(d.quit)
	}
	d.mu.Unlock()
}

// deadLetterAll gives up on everything still unacknowledged.
func (d *dest) deadLetterAll(reason Reason) {
	var dead []deadMsg
	d.mu.Lock()
	for _, m := range d.unacked {
		if !m.done {
			m.done = true
			d.live--
			dead = append(dead, deadMsg{m: m, reason: reason, text: m.lastErr})
		}
	}
	d.compact()
	d.mu.Unlock()
	d.p.deadLetter(d, dead)
}

type deadMsg struct {
	m      *outMsg
	reason Reason
	text   string
}

// deadLetter stores dead letters, frees their buffer room and tells the
// application. Called without locks held.
func (p *Peer) deadLetter(d *dest, dead []deadMsg) {
	if dead = p.keep(dead); len(dead) == 0 {
		return
	}
	name := "" // a message that never had a destination (no instance)
	if d != nil {
		name = d.name
	}
	dls := make([]outbox.DeadLetter, len(dead))
	bytes := 0
	now := time.Now()
	for i, dm := range dead {
		dls[i] = outbox.DeadLetter{Record: dm.m.record(name), Reason: string(dm.reason), Error: dm.text, At: now}
		if dm.m.shared {
			dls[i].Seq = 0 // its own dead letter: the record stays for the other copies
		}
		bytes += int(dm.m.size)
	}
	if err := p.store.DeadLetter(context.Background(), dls); err != nil {
		p.log.Error("store dead letter failed", "err", err)
	}
	p.deadStored(dead)
	ms := make([]*outMsg, len(dead))
	for i, dm := range dead {
		ms[i] = dm.m
	}
	p.released(ms)
	p.buf.release(len(dead), bytes)
	p.stats.dead.Add(uint64(len(dead)))
	if d != nil {
		d.counts.dead.Add(uint64(len(dead)))
	}
	for _, dm := range dead {
		if dm.m.ch != nil {
			dm.m.ch.dead.Add(1)
		}
	}
	for i, dm := range dead {
		msg := &channel.Message{}
		if err := wire.DecodeMessage(dm.m.enc, msg); err != nil {
			msg = &channel.Message{}
		}
		dl := DeadLetter{Seq: dls[i].Seq, Message: msg, Destination: name, Reason: dm.reason, Attempts: int(dm.m.attempts)}
		if dm.text != "" {
			dl.Err = errors.New(dm.text)
		}
		if p.cfg.onDeadLetter != nil {
			p.cfg.onDeadLetter(dl)
		} else {
			p.log.Warn("dead letter", "id", msg.ID, "channel", msg.Channel, "to", name, "reason", dm.reason, "attempts", dl.Attempts, "err", dl.Err)
		}
	}
}

// released tells the groups and lanes of messages that were acknowledged
// or dead-lettered.
func (p *Peer) released(ms []*outMsg) {
	// Runs of one group or lane (an ACK covers many copies of one group)
	// take its lock once.
	var g *group
	gn, gbytes := 0, 0
	var l *lane
	ln := 0
	var run chanRun
	release := func(c *chanCounters, n, size uint64) { c.release(n, size) }
	defer run.flush(release)
	for _, m := range ms {
		run.add(m, release)
		if m.group != g {
			if gn > 0 {
				g.release(gn, gbytes)
			}
			g, gn, gbytes = m.group, 0, 0
		}
		if m.group != nil {
			gn++
			gbytes += int(m.size)
		}
		if m.lane != l {
			if ln > 0 {
				l.settled(ln)
			}
			l, ln = m.lane, 0
		}
		if m.lane != nil {
			ln++
		}
	}
	if gn > 0 {
		g.release(gn, gbytes)
	}
	if ln > 0 {
		l.settled(ln)
	}
}

// toRanges turns sorted-or-not seqs into ranges of consecutive values.
func toRanges(seqs []uint64) []outbox.Range {
	slices.Sort(seqs)
	var out []outbox.Range
	for _, s := range seqs {
		if n := len(out); n > 0 && out[n-1].To+1 == s {
			out[n-1].To = s
			continue
		}
		out = append(out, outbox.Range{From: s, To: s})
	}
	return out
}
