package peer

import (
	"slices"
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

	mu       sync.Mutex
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
}

// serviceLanes is a service's partition count by the view of gen, and its
// lanes by partition.
type serviceLanes struct {
	n     int
	gen   uint64
	lanes []atomic.Pointer[lane]
}

func (ls *lanes) init() {
	ls.byKey = make(map[laneKey]*lane)
	ls.routes.Store(1) // a new lane's gen, 0, is never current
}

// changed invalidates owners and partition counts.
func (ls *lanes) changed() { ls.routes.Add(1) }

// laneFor returns the lane of a keyed message to service, or nil when the
// service is not partitioned.
func (p *Peer) laneFor(service, key string) *lane {
	ls := &p.lanes
	gen := ls.routes.Load()
	v, _ := ls.services.Load(service)
	sl, _ := v.(*serviceLanes)
	if sl == nil || sl.gen != gen {
		n := 0
		for _, m := range p.view() {
			if m.Handles(service) {
				n = max(n, m.Partitions[service])
			}
		}
		next := &serviceLanes{n: n, gen: gen}
		if sl != nil && sl.n == n {
			next.lanes = sl.lanes // the same partitions: the same lanes
		} else {
			next.lanes = make([]atomic.Pointer[lane], n)
		}
		ls.services.Store(service, next)
		sl = next
	}
	if sl.n == 0 {
		return nil
	}
	part := partition.Of(key, sl.n)
	if l := sl.lanes[part].Load(); l != nil {
		return l
	}
	k := laneKey{service, part}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	l := ls.byKey[k]
	if l == nil {
		l = &lane{p: p, key: k}
		ls.byKey[k] = l
	}
	sl.lanes[part].Store(l)
	return l
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
		l.mu.Lock()
		kept := l.held[:0]
		for _, m := range l.held {
			switch {
			case ended:
				dead = append(dead, deadMsg{m: m, reason: ReasonUnsubscribed, text: "its subscriber group ended"})
			case m.expires != 0 && now.UnixNano() > m.expires:
				dead = append(dead, deadMsg{m: m, reason: ReasonExpired, text: "no owner of its partition before it expired"})
			case m.policy.MaxAge > 0 && now.UnixNano()-m.created > int64(m.policy.MaxAge):
				dead = append(dead, deadMsg{m: m, reason: ReasonMaxAge, text: "no owner of its partition"})
			default:
				kept = append(kept, m)
			}
		}
		clear(l.held[len(kept):])
		l.held = kept
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
		l.held = nil
		l.mu.Unlock()
	}
	return out
}
