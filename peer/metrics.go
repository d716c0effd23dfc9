package peer

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
)

// Per-channel and per-destination counters, and the handler latency
// histogram. They are updated on the hot path with atomics only; Stats
// copies them out.

// ChannelStats counts one channel's traffic: as the sender (services sent
// to, topics published to) and as the receiver (services handled, topics of
// the events handled).
type ChannelStats struct {
	Sent         uint64 // messages (event copies) accepted for delivery, at least once
	Acked        uint64 // acknowledged by their receiver
	Retried      uint64 // resends
	DeadLettered uint64 // given up on
	InFlight     int    // in the retry buffer
	BufferBytes  int    // their size in the buffer

	Handled        uint64    // handler returned nil
	HandlerErrors  uint64    // handler errors and panics
	Duplicates     uint64    // dropped as already handled
	HandlerLatency Histogram // handler run times, errors included
}

// DestinationStats counts the messages given to one member.
type DestinationStats struct {
	Sent         uint64 // messages handed to it (first sends, failed-over ones included)
	Acked        uint64
	Retried      uint64
	DeadLettered uint64
	InFlight     int  // unacknowledged
	BufferBytes  int  // their size in the buffer
	Connected    bool // a data connection is up
}

// MemberStats counts membership: members in view now, and the events
// discovery reported since the peer started.
type MemberStats struct {
	Alive  int
	Joined uint64 // includes restarts of a member under its name
	Left   uint64
	Failed uint64
}

// Histogram is a cumulative-bucket histogram of durations in seconds, as
// Prometheus and OpenTelemetry take them: Counts[i] counts the observations
// at most Bounds[i] seconds (not cumulative); the last count is past the
// last bound.
type Histogram struct {
	Bounds []float64 // upper bounds in seconds, ascending
	Counts []uint64  // len(Bounds)+1
	Count  uint64
	Sum    float64 // seconds
}

// LatencyBounds are the bucket bounds of handler latency, in seconds.
var LatencyBounds = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

type histogram struct {
	counts [17]atomic.Uint64 // len(LatencyBounds)+1
	sumNs  atomic.Uint64
}

func (h *histogram) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(LatencyBounds) && s > LatencyBounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(uint64(max(d, 0)))
}

func (h *histogram) snapshot() Histogram {
	out := Histogram{Bounds: LatencyBounds, Counts: make([]uint64, len(h.counts))}
	for i := range h.counts {
		out.Counts[i] = h.counts[i].Load()
		out.Count += out.Counts[i]
	}
	out.Sum = float64(h.sumNs.Load()) / 1e9
	return out
}

// chanCounters are one channel's counters.
type chanCounters struct {
	// In the buffer: sent minus released, in messages and bytes. Two
	// monotonic counts rather than a gauge: the sending goroutine adds, the
	// acknowledging one adds to its own, in runs (see released).
	// Each group on its own cache lines: the sending goroutines, the
	// acknowledging and writing ones, and the handlers update them
	// concurrently.
	sent, sentBytes atomic.Uint64
	_               [cacheLine - 16]byte
	released        atomic.Uint64
	releasedBytes   atomic.Uint64
	acked, retried  atomic.Uint64
	dead            atomic.Uint64
	_               [cacheLine - 40]byte
	handled         atomic.Uint64
	handlerErrors   atomic.Uint64
	duplicates      atomic.Uint64
	latency         histogram
}

const cacheLine = 64

// maxChannels bounds the channels counted one by one: topics can be many
// (one per order, say); past the bound they are counted together under
// OtherChannels.
const maxChannels = 1024

// ReplyChannel is the channel under which Stats counts replies, which have
// no channel of their own.
const ReplyChannel = "(reply)"

// OtherChannels is the name under which Stats counts the channels past the
// first 1,024 seen.
const OtherChannels = "(other)"

type channelTable struct {
	m     sync.Map // channel name → *chanCounters
	n     atomic.Int32
	other chanCounters
}

// of returns the counters of channel name ("": replies).
func (t *channelTable) of(name string) *chanCounters {
	if name == "" {
		name = ReplyChannel
	}
	if c, ok := t.m.Load(name); ok {
		return c.(*chanCounters)
	}
	if t.n.Load() >= maxChannels {
		return &t.other
	}
	c, loaded := t.m.LoadOrStore(name, new(chanCounters))
	if !loaded {
		t.n.Add(1)
	}
	return c.(*chanCounters)
}

func (t *channelTable) snapshot() map[string]ChannelStats {
	out := make(map[string]ChannelStats)
	t.m.Range(func(k, v any) bool {
		out[k.(string)] = v.(*chanCounters).snapshot()
		return true
	})
	if t.n.Load() >= maxChannels {
		out[OtherChannels] = t.other.snapshot()
	}
	return out
}

func (c *chanCounters) snapshot() ChannelStats {
	return ChannelStats{
		Sent: c.sent.Load(), Acked: c.acked.Load(), Retried: c.retried.Load(), DeadLettered: c.dead.Load(),
		InFlight: int(max(int64(c.sent.Load()-c.released.Load()), 0)), BufferBytes: int(max(int64(c.sentBytes.Load()-c.releasedBytes.Load()), 0)),
		Handled: c.handled.Load(), HandlerErrors: c.handlerErrors.Load(), Duplicates: c.duplicates.Load(),
		HandlerLatency: c.latency.snapshot(),
	}
}

// accepted counts m, just taken into the retry buffer for channel.
func (p *Peer) accepted(m *outMsg, channel string) {
	c := p.chans.of(channel)
	m.ch = c
	c.sent.Add(1)
	c.sentBytes.Add(uint64(m.size))
}

// unaccepted takes back accepted for a message that was not sent after all.
func (p *Peer) unaccepted(m *outMsg) {
	if m.ch != nil {
		m.ch.release(1, uint64(m.size))
	}
}

// release counts n messages of size bytes out of the buffer.
func (c *chanCounters) release(n, size uint64) {
	if c != nil {
		c.released.Add(n)
		c.releasedBytes.Add(size)
	}
}

// chanRun adds up a run of settled messages of one channel, so that an ACK
// of many messages costs a few atomic additions, not a few per message.
type chanRun struct {
	c     *chanCounters
	n, sz uint64
}

func (r *chanRun) add(m *outMsg, flush func(c *chanCounters, n, size uint64)) {
	if m.ch != r.c {
		r.flush(flush)
		r.c = m.ch
	}
	r.n++
	r.sz += uint64(m.size)
}

func (r *chanRun) flush(flush func(c *chanCounters, n, size uint64)) {
	if r.c != nil && r.n > 0 {
		flush(r.c, r.n, r.sz)
	}
	r.n, r.sz = 0, 0
}

// duplicate counts a received message dropped as already handled.
func (p *Peer) duplicate(m *channel.Message) {
	p.stats.duplicates.Add(1)
	if m.Channel != "" {
		p.chans.of(m.Channel).duplicates.Add(1)
	}
}

// destCounters are one destination's counters (its in-flight figures come
// from the destination itself).
type destCounters struct {
	sent, acked, retried, dead atomic.Uint64
}

// memberCounters count discovery events.
type memberCounters struct {
	joined, left, failed atomic.Uint64
}

func (c *memberCounters) count(t discovery.EventType) {
	switch t {
	case discovery.Joined, discovery.Updated:
		c.joined.Add(1)
	case discovery.Left:
		c.left.Add(1)
	case discovery.Failed:
		c.failed.Add(1)
	}
}

// destinationStats snapshots every destination.
func (p *Peer) destinationStats() map[string]DestinationStats {
	p.mu.Lock()
	dests := make([]*dest, 0, len(p.dests))
	for _, d := range p.dests {
		dests = append(dests, d)
	}
	p.mu.Unlock()
	out := make(map[string]DestinationStats, len(dests))
	for _, d := range dests {
		s := DestinationStats{Sent: d.counts.sent.Load(), Acked: d.counts.acked.Load(),
			Retried: d.counts.retried.Load(), DeadLettered: d.counts.dead.Load()}
		d.mu.Lock()
		s.InFlight, s.Connected = d.live, d.conn != nil
		for _, m := range d.unacked {
			if !m.done {
				s.BufferBytes += int(m.size)
			}
		}
		d.mu.Unlock()
		out[d.name] = s
	}
	return out
}
