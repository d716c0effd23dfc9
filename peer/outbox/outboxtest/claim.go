package outboxtest

import (
	"errors"
	"testing"
	"time"

	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/peer/outbox"
)

// The idempotent consumer: Claim and PruneProcessed.

func claim(t *testing.T, s Store, consumer, id string, thenCommit bool) error {
	t.Helper()
	tx := begin(t, s.DB())
	err := s.Claim(t.Context(), tx, consumer, id)
	if thenCommit && err == nil {
		commit(t, tx)
	} else if rerr := tx.Rollback(); rerr != nil {
		t.Fatalf("rollback: %v", rerr)
	}
	return err
}

func wantClaim(t *testing.T, err error, processed bool, what string) {
	t.Helper()
	switch {
	case processed && !errors.Is(err, outbox.ErrProcessed):
		t.Fatalf("%s: %v, want ErrProcessed", what, err)
	case !processed && err != nil:
		t.Fatalf("%s: %v", what, err)
	}
}

func testClaim(t *testing.T, h Harness) {
	s := open(t, h, h.Database(t), "p")
	wantClaim(t, claim(t, s, "billing", "m1", true), false, "first claim")

	// The second claim fails, and its transaction goes on.
	tx := begin(t, s.DB())
	wantClaim(t, s.Claim(t.Context(), tx, "billing", "m1"), true, "second claim")
	wantClaim(t, s.Claim(t.Context(), tx, "billing", "m2"), false, "another claim in that transaction")
	commit(t, tx)
	wantClaim(t, claim(t, s, "billing", "m2", false), true, "claim of m2 after commit")

	wantClaim(t, claim(t, s, "audit", "m1", true), false, "another consumer's claim")

	// A rolled-back claim leaves the message free.
	wantClaim(t, claim(t, s, "billing", "m3", false), false, "claim rolled back")
	wantClaim(t, claim(t, s, "billing", "m3", true), false, "claim after a rollback")
	wantClaim(t, claim(t, s, "billing", "m3", false), true, "claim after that")
}

// testClaimConcurrent: a claim racing an uncommitted one waits for it: it
// fails if that commits, succeeds if that rolls back.
func testClaimConcurrent(t *testing.T, h Harness) {
	s := open(t, h, h.Database(t), "p")
	for _, first := range []struct {
		commit    bool
		processed bool
	}{{true, true}, {false, false}} {
		id := "m-commit"
		if !first.commit {
			id = "m-rollback"
		}
		txA := begin(t, s.DB())
		if err := s.Claim(t.Context(), txA, "billing", id); err != nil {
			t.Fatalf("claim: %v", err)
		}
		done := make(chan error, 1)
		go func() {
			tx, err := s.DB().BeginTx(t.Context(), nil)
			if err != nil {
				done <- err
				return
			}
			err = s.Claim(t.Context(), tx, "billing", id)
			if err == nil {
				err = tx.Commit()
			} else {
				tx.Rollback()
			}
			done <- err
		}()
		if first.commit {
			commit(t, txA)
		} else if err := txA.Rollback(); err != nil {
			t.Fatalf("rollback: %v", err)
		}
		var err error
		select {
		case err = <-done:
		case <-time.After(testutil.Deadline):
			t.Fatal("timed out waiting for the racing claim")
		}
		wantClaim(t, err, first.processed, "racing claim of "+id)
	}
}

func testPrune(t *testing.T, h Harness) {
	s := open(t, h, h.Database(t), "p")
	wantClaim(t, claim(t, s, "c", "old", true), false, "claim")
	// A cut strictly after the first claim and before the second.
	mark := time.Now()
	for !time.Now().After(mark) {
	}
	cut := time.Now()
	wantClaim(t, claim(t, s, "c", "new", true), false, "claim")

	if n, err := s.PruneProcessed(t.Context(), mark.Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("prune of nothing: %d, %v; want 0", n, err)
	}
	if n, err := s.PruneProcessed(t.Context(), cut); err != nil || n != 1 {
		t.Fatalf("prune: %d, %v; want 1", n, err)
	}
	wantClaim(t, claim(t, s, "c", "old", false), false, "claim of a pruned message")
	wantClaim(t, claim(t, s, "c", "new", false), true, "claim of a kept message")
}

func testClosed(t *testing.T, h Harness) {
	s := open(t, h, h.Database(t), "p")
	r := s.Relay()
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	ctx := t.Context()
	for what, err := range map[string]error{
		"append":       s.Append(ctx, []*outbox.Record{rec("x")}),
		"ack":          s.Ack(ctx, []outbox.Range{{From: 1, To: 1}}),
		"readdress":    s.Readdress(ctx, []uint64{1}, outbox.Destination{}),
		"pending":      s.Pending(ctx, func(*outbox.Record) error { return nil }),
		"dead letter":  s.DeadLetter(ctx, []outbox.DeadLetter{{Record: *rec("x")}}),
		"dead letters": s.DeadLetters(ctx, func(outbox.DeadLetter) error { return nil }),
		"set owner":    s.SetOwner("q"),
	} {
		if !errors.Is(err, outbox.ErrClosed) {
			t.Errorf("%s after close: %v, want ErrClosed", what, err)
		}
	}
	if _, err := s.Redrive(ctx, []uint64{1}); !errors.Is(err, outbox.ErrClosed) {
		t.Errorf("redrive after close: %v, want ErrClosed", err)
	}
	if _, err := r.Next(ctx); !errors.Is(err, outbox.ErrClosed) {
		t.Errorf("next of a relay after close: %v, want ErrClosed", err)
	}
	if _, err := s.Relay().Next(ctx); !errors.Is(err, outbox.ErrClosed) {
		t.Errorf("next of a relay made after close: %v, want ErrClosed", err)
	}
}
