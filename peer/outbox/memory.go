package outbox

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// Memory is the in-memory store, the default: it keeps dead letters (at most
// MaxDeadLetters, dropping the oldest beyond) and nothing across a restart.
// Pending messages live in the peer's retry buffer itself, so for them Memory
// only numbers records: Ack and Readdress have nothing to do, and Pending has
// nothing to reload. That keeps the default send path free of a second copy.
type Memory struct {
	next           atomic.Uint64
	mu             sync.Mutex
	dead           []DeadLetter
	maxDeadLetters int
}

// NewMemory returns an in-memory store keeping up to maxDeadLetters dead
// letters (default 10,000 when <= 0).
func NewMemory(maxDeadLetters int) *Memory {
	if maxDeadLetters <= 0 {
		maxDeadLetters = 10_000
	}
	return &Memory{maxDeadLetters: maxDeadLetters}
}

// Append numbers the records.
func (m *Memory) Append(_ context.Context, recs []*Record) error {
	for _, r := range recs {
		r.Seq = m.next.Add(1)
	}
	return nil
}

// Ack has nothing to do: the peer's buffer forgets acknowledged records.
func (m *Memory) Ack(context.Context, []Range) error { return nil }

// Readdress has nothing to do: records live in the peer's buffer.
func (m *Memory) Readdress(context.Context, []uint64, Destination) error { return nil }

// Pending has nothing to reload: a memory store starts empty.
func (m *Memory) Pending(context.Context, func(*Record) error) error { return nil }

func (m *Memory) DeadLetter(_ context.Context, dls []DeadLetter) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range dls {
		if dls[i].Seq == 0 { // never appended: the peer keeps its buffer itself
			dls[i].Seq = m.next.Add(1)
		}
		m.dead = append(m.dead, dls[i])
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
		r.Seq, r.Attempts = m.next.Add(1), 0
		out = append(out, &r)
	}
	return out, nil
}

func (m *Memory) Close() error { return nil }
