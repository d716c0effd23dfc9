package outboxtest

import (
	"testing"

	"github.com/meshmq/meshmq/peer/outbox"
)

// The transactional outbox: AppendTx and the polling relay.

func testOutboxRollback(t *testing.T, h Harness) {
	s := open(t, h, h.Database(t), "p")
	lost := rec("lost")
	tx := begin(t, s.DB())
	if err := s.AppendTx(t.Context(), tx, []*outbox.Record{lost}); err != nil {
		t.Fatalf("append tx: %v", err)
	}
	if lost.Seq == 0 {
		t.Fatal("append tx set no seq")
	}
	if err := tx.Rollback(); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	kept := recs("kept", 2)
	appendTx(t, s, kept...)
	increasing(t, "append tx", seqs(kept))
	r := s.Relay()
	defer r.Close()
	// The rolled-back row would come first: it is not there at all.
	sameRecords(t, "relayed", next(t, r), kept)
	sameRecords(t, "pending (outbox rows are not)", pending(t, s), nil)
}

func testOutboxOnceUntilAcked(t *testing.T, h Harness) {
	s := open(t, h, h.Database(t), "p")
	o := recs("o", 6)
	appendTx(t, s, o[0], o[1])
	appendTx(t, s, o[2])
	r := s.Relay()
	sameRecords(t, "first batch", next(t, r), o[:3])
	appendTx(t, s, o[3])
	sameRecords(t, "second batch (the first not again)", next(t, r), o[3:4])

	// A new relay (a new epoch) takes what is not acknowledged, once.
	ack(t, s, o[0], o[1], o[3])
	if err := r.Close(); err != nil {
		t.Fatalf("relay close: %v", err)
	}
	r = s.Relay()
	sameRecords(t, "after a restart", next(t, r), o[2:3])
	appendTx(t, s, o[4])
	sameRecords(t, "then", next(t, r), o[4:5])

	ack(t, s, o[2], o[4])
	r.Close()
	r = s.Relay()
	defer r.Close()
	appendTx(t, s, o[5])
	sameRecords(t, "after acking all", next(t, r), o[5:6])
}

// testOutboxDeadLetter: an outbox record the peer gives up on leaves the
// outbox for the peer's dead letters.
func testOutboxDeadLetter(t *testing.T, h Harness) {
	s := open(t, h, h.Database(t), "p")
	o := recs("o", 3)
	appendTx(t, s, o...)
	r := s.Relay()
	sameRecords(t, "relayed", next(t, r), o)
	if err := s.DeadLetter(t.Context(), []outbox.DeadLetter{{Record: *o[1], Reason: "expired"}}); err != nil {
		t.Fatalf("dead letter: %v", err)
	}
	if dls := deadLetters(t, s); len(dls) != 1 || dls[0].Seq != o[1].Seq {
		t.Fatalf("dead letters %+v, want seq %d", dls, o[1].Seq)
	}
	r.Close()
	r = s.Relay()
	defer r.Close()
	sameRecords(t, "relayed by a new relay", next(t, r), pick(o, 0, 2))
}

// testOutboxLateCommit: a row whose transaction commits after a later
// row's is still relayed: the relay keeps no high-water mark.
func testOutboxLateCommit(t *testing.T, h Harness) {
	if !h.ConcurrentWriters {
		t.Skip("the database runs one writing transaction at a time: seq order is commit order")
	}
	s := open(t, h, h.Database(t), "p")
	a, b := rec("a"), rec("b")
	txA := begin(t, s.DB())
	defer txA.Rollback()
	if err := s.AppendTx(t.Context(), txA, []*outbox.Record{a}); err != nil {
		t.Fatalf("append tx a: %v", err)
	}
	appendTx(t, s, b)
	if a.Seq >= b.Seq {
		t.Fatalf("a's seq %d, b's %d: want a first", a.Seq, b.Seq)
	}
	r := s.Relay()
	defer r.Close()
	sameRecords(t, "before a commits", next(t, r), []*outbox.Record{b})
	commit(t, txA)
	sameRecords(t, "after a commits", next(t, r), []*outbox.Record{a})
}

// testOutboxFullBatch: a relay returns at most a batch, and the rest at
// once after.
func testOutboxFullBatch(t *testing.T, h Harness) {
	s := open(t, h, h.Database(t), "p")
	o := recs("o", 300)
	appendTx(t, s, o...)
	r := s.Relay()
	defer r.Close()
	var got []*outbox.Record
	for len(got) < len(o) {
		batch := next(t, r)
		if len(batch) > 256 {
			t.Fatalf("a batch of %d, want at most 256", len(batch))
		}
		got = append(got, batch...)
	}
	sameRecords(t, "relayed", got, o)
}
