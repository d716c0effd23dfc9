package discovery

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// Static is a fixed membership: the members it was given, minus the local
// peer. Set, Add and Remove change it at run time and report the change as an
// event, which is how tests simulate peers joining, leaving and failing.
type Static struct {
	mu      sync.Mutex
	members []Member
	local   string
	notify  func(Event)
	started bool
	left    bool
}

// NewStatic returns a Static discovery of members.
func NewStatic(members ...Member) *Static {
	return &Static{members: slices.Clone(members)}
}

// Start implements Discovery.
func (s *Static) Start(_ context.Context, local Member, notify func(Event)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return fmt.Errorf("discovery: static discovery already started for %q", s.local)
	}
	s.started, s.local, s.notify = true, local.Name, notify
	return nil
}

// Members implements Discovery.
func (s *Static) Members() []Member {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Member, 0, len(s.members))
	for _, m := range s.members {
		if m.Name != s.local {
			out = append(out, m)
		}
	}
	return out
}

// Update implements Discovery; a static view does not propagate it.
func (s *Static) Update(Member) error { return nil }

// Leave implements Discovery.
func (s *Static) Leave(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.left, s.notify = true, nil
	return nil
}

// Add adds or replaces a member and reports Joined or Updated.
func (s *Static) Add(m Member) {
	s.mu.Lock()
	typ := Joined
	if i := s.index(m.Name); i >= 0 {
		s.members[i], typ = m, Updated
	} else {
		s.members = append(s.members, m)
	}
	s.emit(Event{Type: typ, Member: m})
}

// Remove removes a member and reports it as Left (graceful) or Failed.
func (s *Static) Remove(name string, failed bool) {
	s.mu.Lock()
	i := s.index(name)
	if i < 0 {
		s.mu.Unlock()
		return
	}
	m := s.members[i]
	s.members = slices.Delete(s.members, i, i+1)
	typ := Left
	if failed {
		typ = Failed
	}
	s.emit(Event{Type: typ, Member: m})
}

func (s *Static) index(name string) int {
	return slices.IndexFunc(s.members, func(m Member) bool { return m.Name == name })
}

// emit calls notify outside the lock, in order (calls are serialized by the
// caller's own ordering of Add and Remove).
func (s *Static) emit(e Event) {
	notify := s.notify
	local := s.local
	s.mu.Unlock()
	if notify != nil && e.Member.Name != local {
		notify(e)
	}
}
