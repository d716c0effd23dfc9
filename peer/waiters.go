package peer

import "sync"

// waiters hands a value to the one goroutine waiting for its key: CATALOG
// replies to their requests, replies to their Request calls.
type waiters[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]chan V
}

// open registers a waiter for k; the channel receives at most one value.
func (w *waiters[K, V]) open(k K) chan V {
	ch := make(chan V, 1)
	w.mu.Lock()
	if w.m == nil {
		w.m = make(map[K]chan V)
	}
	w.m[k] = ch
	w.mu.Unlock()
	return ch
}

// close forgets the waiter for k.
func (w *waiters[K, V]) close(k K) {
	w.mu.Lock()
	delete(w.m, k)
	w.mu.Unlock()
}

// deliver hands v to the waiter for k; false if nobody waits.
func (w *waiters[K, V]) deliver(k K, v V) bool {
	w.mu.Lock()
	ch := w.m[k]
	delete(w.m, k)
	w.mu.Unlock()
	if ch == nil {
		return false
	}
	ch <- v
	return true
}
