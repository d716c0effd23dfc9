package outboxtest

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/peer/outbox"
)

// The retry buffer: Append, Ack, Readdress, Pending, owners.

func testAppendOrder(t *testing.T, h Harness) {
	s := open(t, h, h.Database(t), "p")
	if !s.Durable() {
		t.Fatal("Durable() = false")
	}
	if err := s.Append(t.Context(), nil); err != nil {
		t.Fatalf("append nothing: %v", err)
	}
	a, b := recs("a", 3), recs("b", 2)
	appendAll(t, s, a...)
	appendAll(t, s, b...)
	all := append(slices.Clone(a), b...)
	increasing(t, "two appends", seqs(all))
	sameRecords(t, "pending", pending(t, s), all)

	// A call of many records: seqs in the order of the call.
	big := recs("big", 1500)
	appendAll(t, s, big...)
	increasing(t, "a call of 1500", seqs(append(slices.Clone(all), big...)))
	sameRecords(t, "pending", pending(t, s), append(all, big...))

	// fn's error ends Pending and is returned as is.
	stop := errors.New("stop")
	n := 0
	err := s.Pending(t.Context(), func(*outbox.Record) error {
		n++
		return stop
	})
	if err != stop || n != 1 {
		t.Fatalf("pending with failing fn: err %v after %d calls, want %v after 1", err, n, stop)
	}
}

func testConcurrentAppenders(t *testing.T, h Harness) {
	const appenders, each = 64, 16
	s := open(t, h, h.Database(t), "p")
	mine := make([][]*outbox.Record, appenders)
	var wg sync.WaitGroup
	errs := make(chan error, appenders)
	for g := range appenders {
		mine[g] = recs(fmt.Sprintf("g%d-", g), each)
		wg.Go(func() {
			// Alternately one and two records a call.
			for i := 0; i < each; {
				n := 1 + i%3%2
				if err := s.Append(t.Context(), mine[g][i:min(i+n, each)]); err != nil {
					errs <- err
					return
				}
				i += n
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("append: %v", err)
	}
	seen := make(map[uint64]*outbox.Record)
	for g, rs := range mine {
		increasing(t, fmt.Sprintf("appender %d", g), seqs(rs))
		for _, r := range rs {
			if o := seen[r.Seq]; o != nil {
				t.Fatalf("seq %d given to %s and %s", r.Seq, o.ID, r.ID)
			}
			seen[r.Seq] = r
		}
	}
	want := make([]*outbox.Record, 0, len(seen))
	for _, r := range seen {
		want = append(want, r)
	}
	slices.SortFunc(want, func(a, b *outbox.Record) int { return cmp.Compare(a.Seq, b.Seq) })
	sameRecords(t, "pending", pending(t, s), want)
}

func testAckAndReopen(t *testing.T, h Harness) {
	db := h.Database(t)
	s := open(t, h, db, "p")
	rs := recs("r", 10)
	appendAll(t, s, rs[:4]...) // 0..3 in one call: consecutive seqs
	for _, r := range rs[4:] {
		appendAll(t, s, r)
	}
	if err := s.Ack(t.Context(), []outbox.Range{{From: rs[1].Seq, To: rs[3].Seq}, {From: rs[6].Seq, To: rs[6].Seq}}); err != nil {
		t.Fatalf("ack: %v", err)
	}
	// Deferred, not forgotten: applied without a flush.
	testutil.WaitFor(t, "the acks applied", func() bool {
		return rowsIn(t, s.DB(), rs[1].Seq, rs[3].Seq) == 0 && rowsIn(t, s.DB(), rs[6].Seq, rs[6].Seq) == 0
	})
	// Queued just before Close: Close commits it.
	if err := s.Ack(t.Context(), []outbox.Range{{From: rs[8].Seq, To: rs[8].Seq}}); err != nil {
		t.Fatalf("ack: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	s = open(t, h, db, "p")
	sameRecords(t, "pending after reopen", pending(t, s), pick(rs, 0, 4, 5, 7, 9))

	// Ack then Pending, with no Close: Pending applies it first.
	if err := s.Ack(t.Context(), []outbox.Range{{From: rs[0].Seq, To: rs[0].Seq}}); err != nil {
		t.Fatalf("ack: %v", err)
	}
	sameRecords(t, "pending after ack", pending(t, s), pick(rs, 4, 5, 7, 9))
	if err := s.Ack(t.Context(), []outbox.Range{{From: 5, To: 4}}); err == nil {
		t.Fatal("ack of a reversed range: no error")
	}
}

func testReaddress(t *testing.T, h Harness) {
	db := h.Database(t)
	s := open(t, h, db, "p")
	rs := recs("r", 3)
	appendAll(t, s, rs...)
	// The peer changes; the group a copy belongs to does not.
	to := outbox.Destination{Peer: "billing-2", Group: "g/other"}
	if err := s.Readdress(t.Context(), []uint64{rs[0].Seq, rs[2].Seq}, to); err != nil {
		t.Fatalf("readdress: %v", err)
	}
	rs[0].Dest.Peer, rs[2].Dest.Peer = to.Peer, to.Peer
	sameRecords(t, "pending", pending(t, s), rs)
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	sameRecords(t, "pending after reopen", pending(t, open(t, h, db, "p")), rs)
}

func testOwners(t *testing.T, h Harness) {
	db := h.Database(t)
	a, b := open(t, h, db, "a"), open(t, h, db, "b")
	ra, rb := recs("a", 3), recs("b", 3)
	for i := range 3 { // interleaved seqs
		appendAll(t, a, ra[i])
		appendAll(t, b, rb[i])
	}
	sameRecords(t, "a's pending", pending(t, a), ra)
	sameRecords(t, "b's pending", pending(t, b), rb)

	// a's ack of a range spanning b's records removes only a's.
	if err := a.Ack(t.Context(), []outbox.Range{{From: ra[0].Seq, To: rb[2].Seq}}); err != nil {
		t.Fatalf("ack: %v", err)
	}
	sameRecords(t, "a's pending after its ack", pending(t, a), nil)
	sameRecords(t, "b's pending after a's ack", pending(t, b), rb)

	// Dead letters too are kept apart.
	if err := b.DeadLetter(t.Context(), []outbox.DeadLetter{{Record: *rb[0], Reason: "expired"}}); err != nil {
		t.Fatalf("dead letter: %v", err)
	}
	if dls := deadLetters(t, a); len(dls) != 0 {
		t.Fatalf("a's dead letters: %v, want none", dls)
	}
	if dls := deadLetters(t, b); len(dls) != 1 || dls[0].Seq != rb[0].Seq {
		t.Fatalf("b's dead letters: %+v, want seq %d", dls, rb[0].Seq)
	}
	if _, err := a.Redrive(t.Context(), []uint64{rb[0].Seq}); !errors.Is(err, outbox.ErrNotFound) {
		t.Fatalf("a redriving b's dead letter: %v, want ErrNotFound", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	sameRecords(t, "b's pending after reopen", pending(t, open(t, h, db, "b")), rb[1:])
}
