package outboxtest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/meshmq/meshmq/peer/outbox"
)

func testDeadLetterRedrive(t *testing.T, h Harness) {
	s := open(t, h, h.Database(t), "p")
	rs := recs("r", 3)
	appendAll(t, s, rs...)
	t0 := time.Unix(1_800_000_000, 0)
	tried := *rs[1]
	tried.Attempts = 5
	fresh := rec("fresh") // never appended: Seq 0
	dls := []outbox.DeadLetter{
		{Record: tried, Reason: "expired", Error: "deadline passed", At: t0},
		{Record: *fresh, Reason: "no-route", Error: "", At: t0.Add(time.Second)},
	}
	if err := s.DeadLetter(t.Context(), dls); err != nil {
		t.Fatalf("dead letter: %v", err)
	}
	if dls[0].Seq != rs[1].Seq {
		t.Fatalf("dead letter of seq %d got seq %d", rs[1].Seq, dls[0].Seq)
	}
	if dls[1].Seq <= rs[2].Seq {
		t.Fatalf("fresh dead letter got seq %d, want one after %d (the same sequence)", dls[1].Seq, rs[2].Seq)
	}
	fresh.Seq = dls[1].Seq
	sameRecords(t, "pending", pending(t, s), pick(rs, 0, 2))
	wantDead := func(what string, want ...outbox.DeadLetter) {
		t.Helper()
		got := deadLetters(t, s)
		if len(got) != len(want) {
			t.Fatalf("%s: %d dead letters %+v, want %d", what, len(got), got, len(want))
		}
		for i := range got {
			sameRecord(t, fmt.Sprintf("%s[%d]", what, i), &got[i].Record, &want[i].Record)
			if got[i].Reason != want[i].Reason || got[i].Error != want[i].Error || !got[i].At.Equal(want[i].At) {
				t.Fatalf("%s[%d]: got %q %q %v, want %q %q %v", what, i,
					got[i].Reason, got[i].Error, got[i].At, want[i].Reason, want[i].Error, want[i].At)
			}
		}
	}
	wantDead("dead letters", dls...)

	// An unknown seq moves nothing.
	_, err := s.Redrive(t.Context(), []uint64{dls[1].Seq, 1 << 40})
	if !errors.Is(err, outbox.ErrNotFound) {
		t.Fatalf("redrive of an unknown seq: %v, want ErrNotFound", err)
	}
	wantDead("dead letters after a failed redrive", dls...)
	sameRecords(t, "pending after a failed redrive", pending(t, s), pick(rs, 0, 2))

	back, err := s.Redrive(t.Context(), []uint64{dls[1].Seq, dls[0].Seq})
	if err != nil {
		t.Fatalf("redrive: %v", err)
	}
	if len(back) != 2 || back[0].Seq <= dls[1].Seq || back[1].Seq <= back[0].Seq {
		t.Fatalf("redriven seqs %v, want two increasing after %d", seqs(back), dls[1].Seq)
	}
	fresh.Seq, fresh.Attempts = back[0].Seq, 0
	tried.Seq, tried.Attempts = back[1].Seq, 0
	sameRecords(t, "redriven", back, []*outbox.Record{fresh, &tried})
	sameRecords(t, "pending after redrive", pending(t, s), []*outbox.Record{rs[0], rs[2], fresh, &tried})
	wantDead("dead letters after redrive")
	if _, err := s.Redrive(t.Context(), []uint64{dls[0].Seq}); !errors.Is(err, outbox.ErrNotFound) {
		t.Fatalf("second redrive: %v, want ErrNotFound", err)
	}

	// At zero is stamped, and written back with the seq.
	zero := []outbox.DeadLetter{{Record: *rec("z"), Reason: "r"}}
	before := time.Now()
	if err := s.DeadLetter(t.Context(), zero); err != nil {
		t.Fatalf("dead letter: %v", err)
	}
	if zero[0].At.Before(before) || zero[0].Seq <= tried.Seq {
		t.Fatalf("dead letter with no At: at %v seq %d, want >= %v and > %d", zero[0].At, zero[0].Seq, before, tried.Seq)
	}
}

// testDeadLettersPaged reads more dead letters than a page, ordered by At
// then seq.
func testDeadLettersPaged(t *testing.T, h Harness) {
	s := open(t, h, h.Database(t), "p")
	at := time.Unix(1_800_000_000, 0)
	var dls []outbox.DeadLetter
	for i := range 600 {
		// Three times share each At: the seq breaks the ties.
		dls = append(dls, outbox.DeadLetter{Record: *rec(fmt.Sprint(i)), Reason: "r", At: at.Add(time.Duration(i/3) * time.Millisecond)})
	}
	if err := s.DeadLetter(t.Context(), dls); err != nil {
		t.Fatalf("dead letter: %v", err)
	}
	got := deadLetters(t, s)
	if len(got) != len(dls) {
		t.Fatalf("%d dead letters, want %d", len(got), len(dls))
	}
	for i := range got {
		if got[i].ID != dls[i].ID || got[i].Seq != dls[i].Seq {
			t.Fatalf("dead letter %d: %s seq %d, want %s seq %d", i, got[i].ID, got[i].Seq, dls[i].ID, dls[i].Seq)
		}
	}
}
