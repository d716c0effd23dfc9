package oteltrace

import (
	"sync"

	"go.opentelemetry.io/otel/trace"
)

// maxReplyParents bounds the consumer spans of requests remembered for
// their replies: a handler that does not reply leaves its entry until it is
// pushed out.
const maxReplyParents = 4096

// replyParents remembers, by correlation ID, the consumer span of each
// request handled, for the producer span of its reply: the peer sends a
// reply after its handler returned, with a ctx that does not carry the
// handler's span.
type replyParents struct {
	mu    sync.Mutex
	spans map[string]replyParent
	ring  []ringEntry // insertion order, oldest at next; made at the first put
	next  int
	seq   uint64
}

type replyParent struct {
	sc  trace.SpanContext
	seq uint64
}

type ringEntry struct {
	id  string
	seq uint64
}

// put remembers sc as the parent of the reply to the request id, pushing
// out the oldest entry when full.
func (r *replyParents) put(id string, sc trace.SpanContext) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.spans == nil {
		r.spans = make(map[string]replyParent)
		r.ring = make([]ringEntry, maxReplyParents)
	}
	old := r.ring[r.next]
	if p, ok := r.spans[old.id]; ok && p.seq == old.seq {
		delete(r.spans, old.id)
	}
	r.seq++
	r.spans[id] = replyParent{sc, r.seq}
	r.ring[r.next] = ringEntry{id, r.seq}
	r.next = (r.next + 1) % maxReplyParents
}

// take returns and forgets the parent of the reply to the request id.
func (r *replyParents) take(id string) (trace.SpanContext, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.spans[id]
	if ok {
		delete(r.spans, id)
	}
	return p.sc, ok
}

// len is the number of entries remembered.
func (r *replyParents) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.spans)
}
