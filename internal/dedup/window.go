// Package dedup holds the receiver's window of recently handled message IDs:
// the second line of duplicate detection, for resends across sender epochs
// (a sender restarted from a durable store resends under new sequence
// numbers). Within an epoch, sequence numbers (package seqset) are exact.
package dedup

import "sync"

// Window remembers the last n IDs added; older ones are forgotten, so a
// duplicate older than the window is not detected. Safe for concurrent use.
type Window struct {
	mu   sync.Mutex
	ids  map[string]struct{}
	ring []string
	next int
}

// NewWindow returns a window of n IDs (n <= 0 disables it).
func NewWindow(n int) *Window {
	if n <= 0 {
		return &Window{}
	}
	return &Window{ids: make(map[string]struct{}, n), ring: make([]string, n)}
}

// Seen reports whether id is in the window.
func (w *Window) Seen(id string) bool {
	if w.ring == nil || id == "" {
		return false
	}
	w.mu.Lock()
	_, ok := w.ids[id]
	w.mu.Unlock()
	return ok
}

// Add puts id in the window, evicting the oldest when full.
func (w *Window) Add(id string) {
	if w.ring == nil || id == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.ids[id]; ok {
		return
	}
	if old := w.ring[w.next]; old != "" {
		delete(w.ids, old)
	}
	w.ring[w.next] = id
	w.ids[id] = struct{}{}
	w.next = (w.next + 1) % len(w.ring)
}

// Len returns how many IDs the window holds.
func (w *Window) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.ids)
}
