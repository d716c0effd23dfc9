package peer

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
)

// Subscriber groups, as a publisher sees them. A group is identified by its
// name, or, for a subscription without one, by its member and pattern. It
// exists while a member subscribes or a failed member may return: a member
// that fails (crashes) leaves the group away, and the publisher retains its
// copies; members that leave or unsubscribe end it.

// groups is the publisher's registry of subscriber groups.
type groups struct {
	mu    sync.Mutex
	byKey map[string]*group
	// cache maps a topic to the groups matching it; replaced on every
	// change, so readers on the Publish path take no lock.
	cache atomic.Pointer[sync.Map]
}

type group struct {
	key  string // publisher-local identity
	wire string // the DATA entry group: the name, or "@" and the pattern
	// routing orders a partitioned group's new copies after its retained
	// ones while these are handed to the lanes (lock order: before g.mu).
	routing sync.Mutex

	mu     sync.Mutex
	alive  []groupMember           // alive members
	failed map[string]failedMember // crashed members that may return
	// names of the alive members, replaced on change: read without g.mu
	// by a destination holding its own lock (lock order: g.mu before d.mu).
	names atomic.Pointer[map[string]struct{}]
	gone  bool // no member left: copies are given up
	// Effective bounds: the largest of the members', defaults for zeros.
	maxAge     time.Duration
	maxCount   int
	maxBytes   int
	dropNewest bool
	bestEffort bool
	partitions int
	policy     *RetryPolicy // the peer's retry policy with maxAge as its age limit; replaced, never changed
	n, bytes   int          // copies not yet acknowledged or dead-lettered
	retained   []*outMsg    // copies waiting for a member to return
}

// groupMember is an alive member of a group.
type groupMember struct {
	name string
	sub  discovery.Subscription
	d    *dest // nil until first sent to
}

type failedMember struct {
	sub discovery.Subscription
	at  time.Time
}

func (gs *groups) init() {
	gs.byKey = make(map[string]*group)
	gs.cache.Store(new(sync.Map))
}

// matching returns the groups subscribed to topic.
func (gs *groups) matching(topic string) []*group {
	cache := gs.cache.Load()
	if v, ok := cache.Load(topic); ok {
		return v.([]*group)
	}
	gs.mu.Lock()
	var out []*group
	for _, g := range gs.byKey {
		g.mu.Lock()
		if g.matches(topic) {
			out = append(out, g)
		}
		g.mu.Unlock()
	}
	if gs.cache.Load() == cache {
		cache.Store(topic, out)
	}
	gs.mu.Unlock()
	return out
}

// matches reports whether a member, alive or failed, subscribes to topic.
// The caller holds g.mu.
func (g *group) matches(topic string) bool {
	for _, gm := range g.alive {
		if channel.MatchTopic(gm.sub.Pattern, topic) {
			return true
		}
	}
	for _, f := range g.failed {
		if channel.MatchTopic(f.sub.Pattern, topic) {
			return true
		}
	}
	return false
}

// has reports whether member is an alive member of the group.
func (g *group) has(member string) bool {
	if names := g.names.Load(); names != nil {
		_, ok := (*names)[member]
		return ok
	}
	return false
}

func (g *group) unreliable() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.bestEffort
}

// retryPolicy is the policy of the group's copies: the sender's, with the
// group's retention age as the age limit.
func (g *group) retryPolicy(override, base *RetryPolicy) *RetryPolicy {
	if override != nil {
		p := *override
		g.mu.Lock()
		p.MaxAge = g.maxAge
		g.mu.Unlock()
		return &p
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.policy
}

// release uncounts a copy that was acknowledged or dead-lettered.
func (g *group) release(n, bytes int) {
	g.mu.Lock()
	g.n -= n
	g.bytes -= bytes
	g.mu.Unlock()
}

// recompute sets the effective bounds from the members'. The caller holds
// g.mu.
func (g *group) recompute(base RetryPolicy) {
	g.maxAge, g.maxCount, g.maxBytes, g.dropNewest, g.bestEffort, g.partitions = 0, 0, 0, false, false, 0
	apply := func(s discovery.Subscription) {
		g.partitions = max(g.partitions, s.Partitions)
		g.maxAge = max(g.maxAge, s.MaxAge)
		g.maxCount = max(g.maxCount, s.MaxCount)
		g.maxBytes = max(g.maxBytes, s.MaxBytes)
		g.dropNewest = g.dropNewest || s.DropNewest
		g.bestEffort = g.bestEffort || s.BestEffort
	}
	for _, gm := range g.alive {
		apply(gm.sub)
	}
	for _, f := range g.failed {
		apply(f.sub)
	}
	if g.maxAge == 0 {
		g.maxAge = DefaultRetainAge
	}
	if g.maxCount == 0 {
		g.maxCount = DefaultRetainCount
	}
	if g.maxBytes == 0 {
		g.maxBytes = DefaultRetainBytes
	}
	p := base
	p.MaxAge = g.maxAge
	if g.policy == nil || *g.policy != p {
		g.policy = &p
	}
}

// member returns the index of name in alive, or -1. The caller holds g.mu.
func (g *group) member(name string) int {
	for i := range g.alive {
		if g.alive[i].name == name {
			return i
		}
	}
	return -1
}

// setAlive sets or removes name among the alive members and republishes
// their names. The caller holds g.mu.
func (g *group) setAlive(name string, sub discovery.Subscription, alive bool) {
	i := g.member(name)
	switch {
	case alive && i >= 0:
		g.alive[i].sub = sub
	case alive:
		g.alive = append(g.alive, groupMember{name: name, sub: sub})
	case i >= 0:
		g.alive = slices.Delete(g.alive, i, i+1)
	}
	names := make(map[string]struct{}, len(g.alive))
	for _, gm := range g.alive {
		names[gm.name] = struct{}{}
	}
	g.names.Store(&names)
}

// groupKey is a subscription's group identity at the publisher.
func groupKey(member string, s discovery.Subscription) string {
	if s.Group != "" {
		return "g/" + s.Group
	}
	return "m/" + member + "/" + s.Pattern
}

// update applies a membership event. It returns the groups a member came
// (back) to, whose retained copies can go now, and the copies of groups
// that ended.
func (gs *groups) update(e discovery.Event, base RetryPolicy, now time.Time) (back []*group, dead []deadMsg) {
	name := e.Member.Name
	wanted := make(map[string]discovery.Subscription)
	if e.Type == discovery.Joined || e.Type == discovery.Updated {
		for _, s := range e.Member.Subscriptions {
			wanted[groupKey(name, s)] = s
		}
	}
	gs.mu.Lock()
	defer gs.mu.Unlock()
	changed := false
	for key, s := range wanted {
		if gs.byKey[key] == nil {
			wire := subKey(s.Pattern, s.Group)
			gs.byKey[key] = &group{key: key, wire: wire, failed: make(map[string]failedMember)}
		}
	}
	for key, g := range gs.byKey {
		g.mu.Lock()
		i := g.member(name)
		alive := i >= 0
		_, failed := g.failed[name]
		s, want := wanted[key]
		if !want && !alive && !failed {
			g.mu.Unlock()
			continue
		}
		switch {
		case want:
			if !alive || g.alive[i].sub != s {
				changed = true
			}
			g.setAlive(name, s, true)
			delete(g.failed, name)
			delete(g.failed, "") // a restored group's stand-in for its unknown members
			if !alive && len(g.retained) > 0 {
				back = append(back, g)
			}
		case alive && e.Type == discovery.Failed:
			g.failed[name] = failedMember{sub: g.alive[i].sub, at: now}
			g.setAlive(name, discovery.Subscription{}, false)
			changed = true
		case alive || failed:
			// Left, unsubscribed, or (failed) replaced by a start without it.
			g.setAlive(name, discovery.Subscription{}, false)
			delete(g.failed, name)
			changed = true
		}
		g.recompute(base)
		if len(g.alive) == 0 && len(g.failed) == 0 {
			dead = append(dead, g.end()...)
			delete(gs.byKey, key)
		}
		g.mu.Unlock()
	}
	if changed {
		gs.cache.Store(new(sync.Map))
	}
	return back, dead
}

// restored returns the group a restored copy was for: the registered one,
// or, before discovery shows it, a group that is away — as if its members
// had failed — so the copy is retained until a member comes back (or the
// retention age passes). key is the group's identity as the store kept it.
func (gs *groups) restored(key, topic string, base RetryPolicy) *group {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if g := gs.byKey[key]; g != nil {
		return g
	}
	// "g/" + name, or "m/" + member + "/" + pattern (groupKey).
	member, sub := "", discovery.Subscription{Pattern: topic}
	if name, ok := strings.CutPrefix(key, "g/"); ok {
		sub.Group = name
	} else if rest, ok := strings.CutPrefix(key, "m/"); ok {
		if m, pattern, ok := strings.Cut(rest, "/"); ok {
			member, sub.Pattern = m, pattern
		}
	}
	g := &group{key: key, wire: subKey(sub.Pattern, sub.Group), failed: make(map[string]failedMember)}
	g.failed[member] = failedMember{sub: sub, at: time.Now()}
	g.recompute(base)
	gs.byKey[key] = g
	gs.cache.Store(new(sync.Map))
	return g
}

// end marks the group gone and gives up its retained copies. The caller
// holds g.mu.
func (g *group) end() []deadMsg {
	g.gone = true
	dead := make([]deadMsg, len(g.retained))
	for i, m := range g.retained {
		dead[i] = deadMsg{m: m, reason: ReasonUnsubscribed, text: "group " + g.wire + " has no member left"}
	}
	g.retained = nil
	return dead
}

// takeRetained removes the retained copies, in order, to route them again.
func (g *group) takeRetained() []*outMsg {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := g.retained
	g.retained = nil
	return out
}

// sweep dead-letters retained copies past their age or expiry, and forgets
// failed members that stayed away longer than the retention age.
func (gs *groups) sweep(now time.Time) []deadMsg {
	var dead []deadMsg
	gs.mu.Lock()
	defer gs.mu.Unlock()
	changed := false
	for key, g := range gs.byKey {
		g.mu.Lock()
		kept := g.retained[:0]
		for _, m := range g.retained {
			switch {
			case m.expires != 0 && now.UnixNano() > m.expires:
				dead = append(dead, deadMsg{m: m, reason: ReasonExpired, text: "expired while group " + g.wire + " was away"})
			case now.UnixNano()-m.created > int64(g.maxAge):
				dead = append(dead, deadMsg{m: m, reason: ReasonMaxAge, text: "group " + g.wire + " away past its retention"})
			default:
				kept = append(kept, m)
			}
		}
		clear(g.retained[len(kept):])
		g.retained = kept
		for name, f := range g.failed {
			if now.Sub(f.at) > g.maxAge {
				delete(g.failed, name)
				changed = true
			}
		}
		if len(g.alive) == 0 && len(g.failed) == 0 {
			dead = append(dead, g.end()...)
			delete(gs.byKey, key)
		}
		g.mu.Unlock()
	}
	if changed {
		gs.cache.Store(new(sync.Map))
	}
	return dead
}

// retainedCount returns how many copies wait for absent groups.
func (gs *groups) retainedCount() int {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	n := 0
	for _, g := range gs.byKey {
		g.mu.Lock()
		n += len(g.retained)
		g.mu.Unlock()
	}
	return n
}

// takeAllRetained empties every group's retention, at Close.
func (gs *groups) takeAllRetained() []*outMsg {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	var out []*outMsg
	for _, g := range gs.byKey {
		out = append(out, g.takeRetained()...)
	}
	return out
}
