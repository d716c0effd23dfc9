package oteltrace

import (
	"fmt"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func spanWithID(i int) trace.SpanContext {
	var sid trace.SpanID
	sid[7] = byte(i)
	sid[6] = byte(i >> 8)
	sid[5] = byte(i>>16) | 0x80 // never zero
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: sid})
}

// A reply's parent is taken once; entries no reply takes are pushed out
// past the bound, oldest first; a request put again (a retried run) keeps
// its newest entry.
func TestReplyParents(t *testing.T) {
	var r replyParents
	if _, ok := r.take("none"); ok {
		t.Fatal("took from an empty table")
	}
	r.put("a", spanWithID(1))
	if sc, ok := r.take("a"); !ok || sc.SpanID() != spanWithID(1).SpanID() {
		t.Fatalf("take a: %v, %v", sc, ok)
	}
	if _, ok := r.take("a"); ok {
		t.Fatal("took a twice")
	}

	for i := range maxReplyParents + 10 {
		r.put(fmt.Sprint("r", i), spanWithID(i))
	}
	if n := r.len(); n != maxReplyParents {
		t.Fatalf("%d entries, want %d", n, maxReplyParents)
	}
	if _, ok := r.take("r9"); ok {
		t.Error("r9 not pushed out")
	}
	if sc, ok := r.take("r10"); !ok || sc.SpanID() != spanWithID(10).SpanID() {
		t.Error("r10 pushed out")
	}

	// r11 put again: its old ring slot, when reused, leaves the new entry.
	r.put("r11", spanWithID(99))
	for i := range maxReplyParents - 1 {
		r.put(fmt.Sprint("s", i), spanWithID(i))
	}
	if sc, ok := r.take("r11"); !ok || sc.SpanID() != spanWithID(99).SpanID() {
		t.Errorf("r11: %v, %v; want its newest entry", sc, ok)
	}
}
