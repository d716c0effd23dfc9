package outboxtest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/peer/outbox"
)

// testRelayTakeover: of two relays only one returns rows; when it closes
// with rows taken and not acknowledged, the other takes over and returns
// all of them again, in seq order, then new ones.
func testRelayTakeover(t *testing.T, h Harness) {
	db := h.Database(t)
	s1 := open(t, h, db, "a")
	s2 := s1
	if h.RelayPerDatabase {
		s2 = open(t, h, db, "b")
	}
	stores := []Store{s1, s2}
	relays := []outbox.Relay{s1.Relay(), s2.Relay()}
	o := recs("o", 5)
	appendTx(t, s1, o[:3]...)

	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	type result struct {
		relay int
		recs  []*outbox.Record
	}
	results := make(chan result, 16)
	for i, r := range relays {
		wg.Go(func() {
			defer r.Close()
			for {
				rs, err := r.Next(ctx)
				if err != nil {
					if ctx.Err() == nil && !errors.Is(err, outbox.ErrClosed) {
						t.Errorf("relay %d: %v", i, err)
					}
					return
				}
				results <- result{i, rs}
			}
		})
	}
	wait := func(what string) result {
		t.Helper()
		select {
		case res := <-results:
			return res
		case <-time.After(testutil.Deadline):
			t.Fatalf("timed out waiting for %s", what)
			return result{}
		}
	}
	first := wait("the active relay")
	sameRecords(t, "active relay's first batch", first.recs, o[:3])
	appendTx(t, s1, o[3])
	res := wait("the active relay's second batch")
	if res.relay != first.relay {
		t.Fatalf("relay %d returned %v while relay %d is active", res.relay, ids(res.recs), first.relay)
	}
	sameRecords(t, "active relay's second batch", res.recs, o[3:4])
	select {
	case res := <-results:
		t.Fatalf("relay %d returned %v", res.relay, ids(res.recs))
	default:
	}

	// The active one goes with o[0..3] taken, none acknowledged.
	if h.RelayPerDatabase {
		if err := stores[first.relay].Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
	} else if err := relays[first.relay].Close(); err != nil {
		t.Fatalf("relay close: %v", err)
	}
	res = wait("the takeover")
	if res.relay == first.relay {
		t.Fatalf("the closed relay returned %v", ids(res.recs))
	}
	sameRecords(t, "after the takeover", res.recs, o[:4])
	appendTx(t, stores[res.relay], o[4])
	res = wait("the new active relay's second batch")
	sameRecords(t, "then", res.recs, o[4:5])
}

// testRelayContext: Next ends with its ctx, and with Close.
func testRelayContext(t *testing.T, h Harness) {
	s := open(t, h, h.Database(t), "p")
	r := s.Relay()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := r.Next(ctx)
		done <- err
	}()
	cancel()
	if err := waitErr(t, done); !errors.Is(err, context.Canceled) {
		t.Fatalf("next after cancel: %v, want context.Canceled", err)
	}
	tctx, tcancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer tcancel()
	if _, err := r.Next(tctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("next past its deadline: %v, want context.DeadlineExceeded", err)
	}

	go func() {
		_, err := r.Next(t.Context())
		done <- err
	}()
	if err := r.Close(); err != nil {
		t.Fatalf("relay close: %v", err)
	}
	if err := waitErr(t, done); !errors.Is(err, outbox.ErrClosed) {
		t.Fatalf("next after close: %v, want ErrClosed", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second relay close: %v", err)
	}

	// Closing the store closes its relays.
	r = s.Relay()
	go func() {
		_, err := r.Next(t.Context())
		done <- err
	}()
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := waitErr(t, done); !errors.Is(err, outbox.ErrClosed) {
		t.Fatalf("next after the store's close: %v, want ErrClosed", err)
	}
}

func waitErr(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(testutil.Deadline):
		t.Fatal("timed out waiting for Next to return")
		return nil
	}
}
