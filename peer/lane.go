package peer

import (
	"slices"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/internal/wire"
	"github.com/meshmq/meshmq/peer/outbox"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshmq/meshmq/internal/partition"
)

// Partitioned services and subscriber groups. A keyed message to a service
// handled with Partitions(n) (a keyed event for a group subscribed with it)
// belongs to partition partition.Of(key, n), and every partition has one
// owner at a time: the live instance (member) that wins the rendezvous hash
// over the cluster view. The sender keeps a lane per
// partition: its messages go to the lane's owner in order; when the owner
// changes, new messages wait in the lane until the old owner has settled all
// it was given (acknowledged or dead-lettered), or, if it failed, until its
// connection is closed and its unacknowledged messages are back at the head
// of the lane. So a partition's messages are handled by one instance at a
// time, in send order, across retries, failover and ownership moves.

type laneKey struct {
	service string
	part    int
}

type lane struct {
	p     *Peer
	key   laneKey
	group *group // a partition of a subscriber group; nil: of a service

	routing sync.Mutex // of an unknown lane: held while its messages leave it

	mu       sync.Mutex
	last     *dest // the instance the lane last gave messages to
	flushing bool  // the store commits acknowledgements before a handoff
	owner    *dest
	inflight int       // messages given to owner, not settled
	held     []*outMsg // waiting for an owner, in send order
	gen      uint64    // lanes.routes when target was computed
	target   *dest     // the owner by the view of gen
}

// lanes holds the lanes of partitioned services, and what routing to them
// needs from the view.
type lanes struct {
	mu     sync.Mutex
	byKey  map[laneKey]*lane // every lane, for sweeps and wake-ups
	routes atomic.Uint64     // bumped when the view or a destination's state changes
	// services maps a service to its *serviceLanes: read on every keyed
	// Send without a lock.
	services sync.Map
	// unrouted counts the messages waiting in services' unknown lanes: while
	// it is 0, a keyed Send looks no further.
	unrouted atomic.Int64
}

// unknownPart is the partition of a service's unknown lane: where its keyed
// messages wait, in send order, while no member is known to handle it, so
// that none is sent before discovery says whether the service is
// partitioned, and none overtakes an earlier one of its key once it does.
// That is where a restarted sender's restored messages wait for discovery.
const unknownPart = -1

// serviceLanes is a service's partition count by the view of gen, and its
// lanes by partition.
type serviceLanes struct {
	n     int
	known bool // some member handles the service
	gen   uint64
	lanes []atomic.Pointer[lane]
}

func (ls *lanes) init() {
	ls.byKey = make(map[laneKey]*lane)
	ls.routes.Store(1) // a new lane's gen, 0, is never current
}

// changed invalidates owners and partition counts.
func (ls *lanes) changed() { ls.routes.Add(1) }

// serviceLanes returns the service's partitions by the current view.
func (p *Peer) serviceLanes(service string) *serviceLanes {
	ls := &p.lanes
	gen := ls.routes.Load()
	v, _ := ls.services.Load(service)
	sl, _ := v.(*serviceLanes)
	if sl != nil && sl.gen == gen {
		return sl
	}
	n, known := 0, false
	for _, m := range p.view() {
		if m.Handles(service) {
			n, known = max(n, m.Partitions[service]), true
		}
	}
	next := &serviceLanes{n: n, known: known, gen: gen}
	if sl != nil && sl.n == n {
		next.lanes = sl.lanes // the same partitions: the same lanes
	} else {
		next.lanes = make([]atomic.Pointer[lane], n)
	}
	ls.services.Store(service, next)
	return next
}

// laneFor returns the lane of a keyed message to service: its partition's,
// or the service's unknown lane while no member handles it; nil when the
// service is not partitioned.
func (p *Peer) laneFor(service, key string) *lane {
	ls := &p.lanes
	if ls.unrouted.Load() > 0 {
		// Messages that waited for the service go first.
		if u := p.lane(laneKey{service, unknownPart}, false); u != nil {
			p.routeUnknown(u)
		}
	}
	sl := p.serviceLanes(service)
	if sl.n == 0 {
		if sl.known {
			return nil
		}
		return p.lane(laneKey{service, unknownPart}, true)
	}
	part := partition.Of(key, sl.n)
	if l := sl.lanes[part].Load(); l != nil {
		return l
	}
	l := p.lane(laneKey{service, part}, true)
	sl.lanes[part].Store(l)
	return l
}

// lane returns the lane of k, made if missing and make is set.
func (p *Peer) lane(k laneKey, make bool) *lane {
	ls := &p.lanes
	ls.mu.Lock()
	defer ls.mu.Unlock()
	l := ls.byKey[k]
	if l == nil && make {
		l = &lane{p: p, key: k}
		ls.byKey[k] = l
	}
	return l
}

// routeUnknown takes the messages of a service's unknown lane, in order, to
// their partitions' lanes once the service is known, or to any instance if
// it is not partitioned. Keyed sends of the service wait on u.routing
// meanwhile (the count of unrouted messages drops only after), so none
// overtakes them.
func (p *Peer) routeUnknown(u *lane) {
	u.routing.Lock()
	defer u.routing.Unlock()
	sl := p.serviceLanes(u.key.service)
	if !sl.known {
		return
	}
	u.mu.Lock()
	held := u.held
	u.held = nil
	u.mu.Unlock()
	if len(held) == 0 {
		return
	}
	defer p.lanes.unrouted.Add(-int64(len(held)))
	for _, m := range held {
		var hdr channel.Message
		if sl.n == 0 || wire.DecodeMessage(m.enc, &hdr) != nil {
			p.reroute(m)
			continue
		}
		part := partition.Of(hdr.Key, sl.n)
		l := sl.lanes[part].Load()
		if l == nil {
			l = p.lane(laneKey{u.key.service, part}, true)
			sl.lanes[part].Store(l)
		}
		l.submit(m)
	}
}

// groupLane returns the lane of a keyed copy for a partitioned group, or nil.
func (p *Peer) groupLane(g *group, key string) *lane {
	if key == "" {
		return nil
	}
	g.mu.Lock()
	n := g.partitions
	g.mu.Unlock()
	if n == 0 {
		return nil
	}
	k := laneKey{"\x00" + g.key, partition.Of(key, n)}
	ls := &p.lanes
	ls.mu.Lock()
	l := ls.byKey[k]
	var orphans []*outMsg
	if l == nil || l.group != g {
		// A group that ended and formed again is another group: what the
		// old one's lane still held was for members that are gone.
		if l != nil {
			l.mu.Lock()
			orphans, l.held = l.held, nil
			l.mu.Unlock()
		}
		l = &lane{p: p, key: k, group: g}
		ls.byKey[k] = l
	}
	ls.mu.Unlock()
	if len(orphans) > 0 {
		dead := make([]deadMsg, len(orphans))
		for i, m := range orphans {
			m.lane = nil // never given to an owner
			dead[i] = deadMsg{m: m, reason: ReasonUnsubscribed, text: "its subscriber group ended"}
		}
		p.deadLetter(nil, dead)
	}
	return l
}

// ownerNow returns the partition's owner by the current view: the winner among
// the members handling the service whose destination is not gone. The
// caller holds l.mu.
func (l *lane) ownerNow() *dest {
	gen := l.p.lanes.routes.Load()
	if l.gen == gen && (l.target == nil || !l.target.isGone()) {
		return l.target
	}
	var names []string
	if l.group != nil {
		l.group.mu.Lock()
		for _, gm := range l.group.alive {
			names = append(names, gm.name)
		}
		l.group.mu.Unlock()
	} else {
		for _, m := range l.p.view() {
			if m.Handles(l.key.service) {
				names = append(names, m.Name)
			}
		}
	}
	names = slices.DeleteFunc(names, func(name string) bool {
		d := l.p.destIfAny(name)
		return d != nil && d.isGone()
	})
	l.gen, l.target = gen, nil
	if i := partition.Owner(l.key.part, names); i >= 0 {
		if d, err := l.p.dest(names[i]); err == nil {
			l.target = d
		}
	}
	return l.target
}

// submit adds m to the lane and sends what may go.
func (l *lane) submit(m *outMsg) {
	if l.key.part == unknownPart {
		l.mu.Lock()
		l.held = append(l.held, m) // never in flight: m.lane stays nil
		l.p.lanes.unrouted.Add(1)
		l.mu.Unlock()
		// The service may have become known since laneFor looked.
		l.p.routeUnknown(l)
		return
	}
	m.lane = l
	l.mu.Lock()
	l.held = append(l.held, m)
	fenced := l.advance()
	l.mu.Unlock()
	l.p.failoverAll(fenced)
}

// advance gives the held messages to the owner when the lane may send: the
// owner is the current one, or the previous one has nothing left unsettled.
// It returns destinations found fenced while enqueueing, for failover after
// the lock. The caller holds l.mu.
func (l *lane) advance() []*dest {
	if len(l.held) == 0 {
		return nil
	}
	target := l.ownerNow()
	if l.owner != target {
		if l.owner != nil && l.inflight > 0 {
			return nil // the old owner first settles what it has
		}
		l.owner = target
	}
	if l.owner == nil {
		return nil // no instance: the messages wait, within their policy
	}
	if l.last != nil && l.last != l.owner && l.p.ackStore {
		if f, ok := l.p.store.(outbox.Flusher); ok {
			// A handoff. The store removes acknowledged records lazily: a
			// crash now could restore one the last instance handled while
			// later ones of its key, handled by the next, are gone, and
			// replay it after them. What was acknowledged is committed
			// first, so that a restored message's key replays in order.
			if !l.flushing {
				l.flushing = true
				l.p.wg.Add(1)
				go l.flushHandoff(f)
			}
			return nil
		}
	}
	l.last = l.owner
	var fenced []*dest
	for i, m := range l.held {
		ok, f := l.owner.enqueueFenced(m)
		if !ok {
			// The destination stopped (Close): the rest waits here.
			copy(l.held, l.held[i:])
			l.held = l.held[:len(l.held)-i]
			return fenced
		}
		l.inflight++
		if f && len(fenced) == 0 {
			fenced = append(fenced, l.owner)
		}
	}
	clear(l.held)
	l.held = l.held[:0]
	return fenced
}

// flushHandoff lets the lane go on to its new owner once the store has
// committed the acknowledgements queued so far.
func (l *lane) flushHandoff(f outbox.Flusher) {
	defer l.p.wg.Done()
	if err := f.Flush(l.p.ctx); err != nil && l.p.ctx.Err() == nil {
		l.p.log.Warn("committing acknowledgements before a partition moves", "partition", l.key.part, "err", err)
	}
	l.mu.Lock()
	l.flushing = false
	l.last = nil
	fenced := l.advance()
	l.mu.Unlock()
	l.p.failoverAll(fenced)
}

// settled counts a message of the lane that its owner acknowledged or that
// was dead-lettered.
func (l *lane) settled(n int) {
	l.mu.Lock()
	l.inflight -= n
	fenced := l.advance()
	l.mu.Unlock()
	l.p.failoverAll(fenced)
}

// takeBack puts the unacknowledged messages of a failed owner back at the
// head of the lane, in order, and sends them to the next owner.
func (l *lane) takeBack(from *dest, ms []*outMsg) {
	l.mu.Lock()
	l.inflight -= len(ms)
	l.held = append(ms, l.held...)
	if l.owner == from {
		l.owner = nil
	}
	fenced := l.advance()
	l.mu.Unlock()
	l.p.failoverAll(fenced)
}

func (p *Peer) failoverAll(ds []*dest) {
	for _, d := range ds {
		p.failover(d)
	}
}

// wakeLanes lets lanes waiting for an owner find one, after a membership
// change.
func (p *Peer) wakeLanes() {
	p.lanes.mu.Lock()
	all := make([]*lane, 0, len(p.lanes.byKey))
	for _, l := range p.lanes.byKey {
		all = append(all, l)
	}
	p.lanes.mu.Unlock()
	for _, l := range all {
		if l.key.part == unknownPart {
			p.routeUnknown(l)
			continue
		}
		l.settled(0)
	}
}

// sweepLanes dead-letters held messages past their expiry or age.
func (p *Peer) sweepLanes(now time.Time) {
	p.lanes.mu.Lock()
	all := make([]*lane, 0, len(p.lanes.byKey))
	for _, l := range p.lanes.byKey {
		all = append(all, l)
	}
	p.lanes.mu.Unlock()
	for _, l := range all {
		var dead []deadMsg
		ended := false
		if l.group != nil {
			l.group.mu.Lock()
			ended = l.group.gone
			l.group.mu.Unlock()
		}
		what := "owner of its partition"
		if l.key.part == unknownPart {
			what = "instance of its service"
		}
		l.mu.Lock()
		kept := l.held[:0]
		for _, m := range l.held {
			switch {
			case ended:
				dead = append(dead, deadMsg{m: m, reason: ReasonUnsubscribed, text: "its subscriber group ended"})
			case m.expires != 0 && now.UnixNano() > m.expires:
				dead = append(dead, deadMsg{m: m, reason: ReasonExpired, text: "no " + what + " before it expired"})
			case m.policy.MaxAge > 0 && now.UnixNano()-m.created > int64(m.policy.MaxAge):
				dead = append(dead, deadMsg{m: m, reason: ReasonMaxAge, text: "no " + what})
			default:
				kept = append(kept, m)
			}
		}
		clear(l.held[len(kept):])
		l.held = kept
		if l.key.part == unknownPart {
			p.lanes.unrouted.Add(-int64(len(dead)))
		}
		l.mu.Unlock()
		for i := range dead {
			dead[i].m.lane = nil // never given to an owner: not in flight
		}
		p.deadLetter(nil, dead)
	}
}

// takeAllHeld empties the lanes, at Close.
func (p *Peer) takeAllHeld() []*outMsg {
	p.lanes.mu.Lock()
	defer p.lanes.mu.Unlock()
	var out []*outMsg
	for _, l := range p.lanes.byKey {
		l.mu.Lock()
		for _, m := range l.held {
			m.lane = nil
			out = append(out, m)
		}
		if l.key.part == unknownPart {
			p.lanes.unrouted.Add(-int64(len(l.held)))
		}
		l.held = nil
		l.mu.Unlock()
	}
	return out
}
