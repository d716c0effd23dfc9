package peer

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/internal/wire"
)

// Subscription is a registered Subscribe.
type Subscription struct {
	p   *Peer
	adv discovery.Subscription // what is advertised
	key string                 // its name on the wire (DATA entry group)
	svc *service
}

// Pattern returns the subscription's topic pattern.
func (s *Subscription) Pattern() string { return s.adv.Pattern }

// Group returns the subscriber group, "" for none.
func (s *Subscription) Group() string { return s.adv.Group }

// subKey is the subscription's name on the wire: its group, or for a
// subscription without one, "@" and its pattern (group names cannot start
// with "@").
func subKey(pattern, group string) string {
	if group != "" {
		return group
	}
	return "@" + pattern
}

func validGroup(name string) error {
	switch {
	case name == "" || len(name) > channel.MaxTopicLen:
		return &OptionError{"Group", fmt.Sprintf("name must be 1 to %d bytes", channel.MaxTopicLen)}
	case strings.HasPrefix(name, "@"):
		return &OptionError{"Group", "name must not start with @"}
	case strings.ContainsAny(name, " \t\r\n"):
		return &OptionError{"Group", "name contains white space"}
	}
	return nil
}

// Subscribe registers h for the events published to topics matching
// pattern ("orders.created", "orders.*", "orders.>": * matches one
// dot-separated token, > one or more at the end). Every subscriber group gets
// each event once, at least once: its publisher keeps the copy until a member
// acknowledges it (h returned nil), retries it, and fails over to another
// member of the group; while every member is failed it retains copies within
// the group's bounds (Retain) and delivers them when a member returns. A
// subscription without Group is a group of its own. h's errors are handled
// as for Handle. Options: Group, Concurrency, Retain, DropNewest, Unreliable.
func (p *Peer) Subscribe(pattern string, h channel.Handler, opts ...HandleOption) (*Subscription, error) {
	if err := channel.ValidatePattern(pattern); err != nil {
		return nil, fmt.Errorf("peer: Subscribe: %w", err)
	}
	if h == nil {
		return nil, &OptionError{"Subscribe", "need a handler"}
	}
	hc := handleConfig{concurrency: 1}
	for _, o := range opts {
		if err := o(&hc); err != nil {
			return nil, err
		}
	}
	if p.closing.Load() {
		return nil, ErrClosed
	}
	adv := hc.sub
	adv.Pattern, adv.Group, adv.Partitions = pattern, hc.group, hc.partitions
	key := subKey(pattern, hc.group)
	s := &Subscription{p: p, adv: adv, key: key}
	name := pattern
	if hc.group != "" {
		name += " (group " + hc.group + ")"
	}
	s.svc = newService(p, name, chainHandle(h, p.cfg.handleMW), hc.concurrency)
	s.svc.scope = key
	s.svc.parts = hc.partitions
	var err error
	if s.svc.docs, err = handlerDocs(pattern, &hc, true); err != nil {
		return nil, err
	}
	p.mu.Lock()
	if _, ok := p.subs[key]; ok {
		p.mu.Unlock()
		return nil, fmt.Errorf("%w: subscription %s", ErrDuplicateHandler, key)
	}
	p.subs[key] = s
	p.publishSubs()
	p.mu.Unlock()
	s.svc.start()
	if err := p.disc.Update(p.member()); err != nil {
		s.Unsubscribe(context.Background())
		return nil, fmt.Errorf("peer: advertising the subscription: %w", err)
	}
	return s, nil
}

// Unsubscribe ends the subscription: it is withdrawn from the cluster, the
// running handlers finish (until ctx ends), and the events queued for it are
// refused, so that their publishers send them to another member of the group
// (or, when none is left, dead-letter them with ReasonUnsubscribed). It is
// idempotent.
func (s *Subscription) Unsubscribe(ctx context.Context) error {
	p := s.p
	p.mu.Lock()
	if p.subs[s.key] != s {
		p.mu.Unlock()
		return nil
	}
	delete(p.subs, s.key)
	p.publishSubs()
	p.mu.Unlock()
	err := p.disc.Update(p.member())
	s.svc.stop()
	done := make(chan struct{})
	go func() { s.svc.wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	p.recv.refuseQueued(s.svc)
	if err != nil {
		return fmt.Errorf("peer: withdrawing the subscription: %w", err)
	}
	return nil
}

// publishSubs refreshes the receive path's copy of the subscriptions and
// bumps the catalog version. The caller holds p.mu.
func (p *Peer) publishSubs() {
	snapshot := maps.Clone(p.subs)
	p.subTable.Store(&snapshot)
	p.catalogVersion.Add(1)
}

func (p *Peer) subscription(key string) *Subscription {
	if m := p.subTable.Load(); m != nil {
		return (*m)[key]
	}
	return nil
}

// allServices returns the handlers of services and subscriptions.
func (p *Peer) allServices() []*service {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*service, 0, len(p.services)+len(p.subs))
	for _, s := range p.services {
		out = append(out, s)
	}
	for _, s := range p.subs {
		out = append(out, s.svc)
	}
	return out
}

// Catalog conversions between the wire and discovery.

func toWireSub(s discovery.Subscription) wire.Subscription {
	ws := wire.Subscription{Pattern: s.Pattern, Group: s.Group, BestEffort: s.BestEffort, Partitions: uint64(s.Partitions),
		MaxAge: s.MaxAge, MaxCount: uint64(s.MaxCount), MaxBytes: uint64(s.MaxBytes)}
	if s.DropNewest {
		ws.Overflow = wire.OverflowDropNewest
	}
	return ws
}

func fromWireSub(ws wire.Subscription) (discovery.Subscription, bool) {
	s := discovery.Subscription{Pattern: ws.Pattern, Group: ws.Group, BestEffort: ws.BestEffort,
		DropNewest: ws.Overflow == wire.OverflowDropNewest, MaxAge: ws.MaxAge, Partitions: int(min(ws.Partitions, MaxPartitions)),
		MaxCount: int(min(ws.MaxCount, 1<<40)), MaxBytes: int(min(ws.MaxBytes, 1<<50))}
	// A member's catalog is input from the network: skip what we cannot use.
	if channel.ValidatePattern(s.Pattern) != nil || (s.Group != "" && validGroup(s.Group) != nil) || s.MaxAge < 0 {
		return s, false
	}
	return s, true
}
