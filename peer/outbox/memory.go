package outbox

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// Memory is the in-memory store: fast, and empty after a restart. It keeps at
// most MaxDeadLetters dead letters, dropping the oldest beyond.
type Memory struct {
	mu             sync.Mutex
	next           uint64
	pending        map[uint64]*Record
	dead           []DeadLetter
	maxDeadLetters int
}

// NewMemory returns an in-memory store keeping up to maxDeadLetters dead
// letters (default 10,000 when <= 0).
func NewMemory(maxDeadLetters int) *Memory {
	if maxDeadLetters <= 0 {
		maxDeadLetters = 10_000
	}
	return &Memory{pending: make(map[uint64]*Record), maxDeadLetters: maxDeadLetters}
}

func (m *Memory) Append(_ context.Context, recs []*Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range recs {
		m.next++
		r.Seq = m.next
		m.pending[r.Seq] = r
	}
	return nil
}

func (m *Memory) Ack(_ context.Context, ranges []Range) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, rg := range ranges {
		if rg.To-rg.From < 64 {
			for s := rg.From; s <= rg.To; s++ {
				delete(m.pending, s)
			}
			continue
		}
		for s := range m.pending {
			if s >= rg.From && s <= rg.To {
				delete(m.pending, s)
			}
		}
	}
	return nil
}

func (m *Memory) Readdress(_ context.Context, seqs []uint64, to Destination) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range seqs {
		if r, ok := m.pending[s]; ok {
			r.Dest = to
		}
	}
	return nil
}

func (m *Memory) Pending(ctx context.Context, fn func(*Record) error) error {
	m.mu.Lock()
	recs := make([]*Record, 0, len(m.pending))
	for _, r := range m.pending {
		recs = append(recs, r)
	}
	m.mu.Unlock()
	slices.SortFunc(recs, func(a, b *Record) int { return cmpSeq(a.Seq, b.Seq) })
	for _, r := range recs {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func (m *Memory) DeadLetter(_ context.Context, dls []DeadLetter) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, dl := range dls {
		delete(m.pending, dl.Seq)
		m.dead = append(m.dead, dl)
	}
	if over := len(m.dead) - m.maxDeadLetters; over > 0 {
		m.dead = slices.Delete(m.dead, 0, over)
	}
	return nil
}

func (m *Memory) DeadLetters(_ context.Context, fn func(DeadLetter) error) error {
	m.mu.Lock()
	dead := slices.Clone(m.dead)
	m.mu.Unlock()
	for _, dl := range dead {
		if err := fn(dl); err != nil {
			return err
		}
	}
	return nil
}

func (m *Memory) Redrive(_ context.Context, seqs []uint64) ([]*Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Record
	for _, s := range seqs {
		i := slices.IndexFunc(m.dead, func(dl DeadLetter) bool { return dl.Seq == s })
		if i < 0 {
			return out, fmt.Errorf("%w: dead letter %d", ErrNotFound, s)
		}
		r := m.dead[i].Record
		m.dead = slices.Delete(m.dead, i, i+1)
		m.next++
		r.Seq, r.Attempts = m.next, 0
		m.pending[r.Seq] = &r
		out = append(out, &r)
	}
	return out, nil
}

func (m *Memory) Close() error { return nil }

// Len returns the number of pending records.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.pending)
}

func cmpSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
