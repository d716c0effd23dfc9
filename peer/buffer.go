package peer

import (
	"context"
	"sync"
)

// buffer bounds the retry buffer of all destinations together, in messages
// and bytes: Send reserves room before a message is kept, an acknowledgement
// or a dead letter returns it.
type buffer struct {
	mu       sync.Mutex
	n, bytes int
	maxN     int
	maxBytes int
	closed   bool
	space    chan struct{} // a release happened
	empty    chan struct{} // closed when n reaches 0, for waitEmpty
}

func (b *buffer) init(maxN, maxBytes int) {
	b.maxN, b.maxBytes = maxN, maxBytes
	b.space = make(chan struct{}, 1)
}

// acquire reserves room for n messages of size bytes in all, waiting until
// ctx ends unless failFast. They always fit an empty buffer. A closed buffer
// takes only what afterClose allows (replies of finishing handlers).
func (b *buffer) acquire(ctx context.Context, n, size int, failFast, afterClose bool) error {
	return b.admit(ctx, n, size, failFast, afterClose, false)
}

// force admits at once, beyond the bounds: for replies, which are at most
// one per running handler, so that a handler never waits on a buffer that
// its own peer's traffic filled.
func (b *buffer) force(n, size int) {
	b.admit(context.Background(), n, size, false, true, true)
}

func (b *buffer) admit(ctx context.Context, n, size int, failFast, afterClose, force bool) error {
	waited := false
	for {
		b.mu.Lock()
		if b.closed && !afterClose {
			b.mu.Unlock()
			return ErrClosed
		}
		if force || b.n == 0 || (b.n+n <= b.maxN && b.bytes+size <= b.maxBytes) {
			b.n += n
			b.bytes += size
			room := b.n < b.maxN && b.bytes < b.maxBytes
			b.mu.Unlock()
			if waited && room {
				signal(b.space) // pass the wake-up on to another waiter
			}
			return nil
		}
		b.mu.Unlock()
		if failFast {
			return ErrBufferFull
		}
		waited = true
		select {
		case <-b.space:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (b *buffer) release(n, bytes int) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.n -= n
	b.bytes -= bytes
	if b.n == 0 && b.empty != nil {
		close(b.empty)
		b.empty = nil
	}
	b.mu.Unlock()
	signal(b.space)
}

// waitEmpty waits until every reserved message was released.
func (b *buffer) waitEmpty(ctx context.Context) error {
	b.mu.Lock()
	if b.n == 0 {
		b.mu.Unlock()
		return nil
	}
	if b.empty == nil {
		b.empty = make(chan struct{})
	}
	ch := b.empty
	b.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *buffer) usage() (n, bytes int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n, b.bytes
}

func (b *buffer) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	signal(b.space)
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
