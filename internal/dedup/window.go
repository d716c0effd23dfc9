// Package dedup holds the receiver's window of recently handled message IDs:
// the second line of duplicate detection, for resends across sender epochs
// (a sender restarted from a durable store resends under new sequence
// numbers). Within an epoch, sequence numbers (package seqset) are exact.
package dedup

import (
	"hash/maphash"
	"sync"
)

// Window remembers at least the last n/2 IDs added and at most the last n.
// IDs go into the current generation, an open-addressing table of n/2; when
// it is full it becomes the previous one and the one before is cleared whole,
// which costs far less than evicting IDs one by one. A duplicate older than
// the window is not detected. It keeps 64-bit hashes of the IDs, not the IDs
// (8 bytes each): two different IDs collide with probability about n/2^64 per
// message, which would drop one as a duplicate. Safe for concurrent use.
type Window struct {
	seed      maphash.Seed
	half      int
	mu        sync.Mutex
	cur, prev table
}

// table is a set of non-zero hashes with linear probing, at most half full.
type table struct {
	slots []uint64
	n     int
}

func newTable(capacity int) table {
	size := 1
	for size < 2*capacity {
		size <<= 1
	}
	return table{slots: make([]uint64, size)}
}

func (t *table) has(h uint64) bool {
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch t.slots[i] {
		case h:
			return true
		case 0:
			return false
		}
	}
}

// add inserts h unless present, in one probe sequence.
func (t *table) add(h uint64) {
	mask := uint64(len(t.slots) - 1)
	i := h & mask
	for t.slots[i] != 0 {
		if t.slots[i] == h {
			return
		}
		i = (i + 1) & mask
	}
	t.slots[i] = h
	t.n++
}

func (t *table) reset() {
	clear(t.slots)
	t.n = 0
}

// NewWindow returns a window of n IDs (n <= 0 disables it).
func NewWindow(n int) *Window {
	w := &Window{seed: maphash.MakeSeed(), half: max(n/2, 1)}
	if n > 0 {
		w.cur, w.prev = newTable(w.half), newTable(w.half)
	}
	return w
}

// hash keys id by scope: the same message handled by two subscriptions of
// one peer is two handlings, each deduplicated on its own.
func (w *Window) hash(scope, id string) uint64 {
	if scope == "" {
		return maphash.String(w.seed, id) | 1
	}
	var h maphash.Hash
	h.SetSeed(w.seed)
	h.WriteString(scope)
	h.WriteByte(0)
	h.WriteString(id)
	return h.Sum64() | 1
}

// Seen reports whether id is in the window for scope ("" for services).
func (w *Window) Seen(scope, id string) bool {
	if w.cur.slots == nil || id == "" {
		return false
	}
	h := w.hash(scope, id)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cur.has(h) || w.prev.has(h)
}

// Add puts id in the window for scope.
func (w *Window) Add(scope, id string) {
	if w.cur.slots == nil || id == "" {
		return
	}
	h := w.hash(scope, id)
	w.mu.Lock()
	defer w.mu.Unlock()
	// An ID still in the previous generation is added to the current one
	// too: it stays as long as if it were new. The tables are larger than
	// the caches, so each probe sequence saved is a cache miss saved.
	if w.cur.n >= w.half && !w.cur.has(h) {
		w.prev, w.cur = w.cur, w.prev
		w.cur.reset()
	}
	w.cur.add(h)
}

// Len returns how many IDs the window holds.
func (w *Window) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cur.n + w.prev.n
}
