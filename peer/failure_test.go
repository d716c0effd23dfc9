package peer

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/peer/outbox"
)

// deadLetters collects what the dead-letter callback receives.
type deadLetters struct {
	mu   sync.Mutex
	list []DeadLetter
}

func (d *deadLetters) add(dl DeadLetter) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.list = append(d.list, dl)
}

func (d *deadLetters) get() []DeadLetter {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]DeadLetter(nil), d.list...)
}

func pair(t *testing.T, h channel.Handler, rxOpts []Option, txOpts ...Option) (rx, tx *Peer) {
	rx = start(t, append(fastOpts("rx"), rxOpts...)...)
	if err := rx.Handle("work", h, Concurrency(4)); err != nil {
		t.Fatal(err)
	}
	tx = start(t, append(append(fastOpts("tx"), WithDiscovery(discovery.NewStatic(member(rx, "work")))), txOpts...)...)
	return rx, tx
}

// A handler that fails three times, then succeeds: the message is handled
// once, after four attempts; later messages of its key wait for it.
func TestFailingHandlerRetriedThenHandledOnce(t *testing.T) {
	cnt := newCounter()
	var mu sync.Mutex
	failures := map[string]int{}
	h := func(ctx context.Context, m *channel.Message) error {
		mu.Lock()
		n := failures[m.ID]
		failures[m.ID] = n + 1
		mu.Unlock()
		if m.Key == "flaky" && n < 3 && m.Attempt != n+1 {
			return fmt.Errorf("attempt %d numbered %d", n+1, m.Attempt)
		}
		if m.Key == "flaky" && n < 3 {
			return errors.New("database unavailable")
		}
		cnt.record(m)
		return nil
	}
	_, tx := pair(t, h, nil)
	ctx := context.Background()
	const n = 200
	for i := 0; i < n; i++ {
		key := "steady"
		if i%10 == 0 {
			key = "flaky"
		}
		if err := tx.Send(ctx, indexed("work", i, key)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "all handled", func() bool { return cnt.distinct() == n })
	waitFor(t, "all acknowledged", func() bool { return tx.Stats().InFlight == 0 })
	if dups := cnt.check(t, n); dups != 0 {
		t.Fatalf("%d duplicates", dups)
	}
	cnt.checkOrder(t)
	st := tx.Stats()
	if st.Retried < 3 || st.DeadLettered != 0 {
		t.Fatalf("stats: %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	for id, k := range failures {
		if k > 4 {
			t.Fatalf("message %s ran %d times", id, k)
		}
	}
}

// A message whose handler always fails is dead-lettered after the policy's
// attempts; one whose handler returns a permanent error is dead-lettered at
// once. Both carry the reason and the handler's error; others go through.
func TestPoisonAndPermanentAreDeadLettered(t *testing.T) {
	cnt := newCounter()
	var fixed atomic.Bool
	h := func(ctx context.Context, m *channel.Message) error {
		switch string(m.Headers.Get("test")) {
		case "poison":
			return errors.New("cannot parse order")
		case "permanent":
			if !fixed.Load() {
				return channel.Permanent(errors.New("unknown customer"))
			}
		}
		cnt.record(m)
		return nil
	}
	var dl deadLetters
	policy := RetryPolicy{MaxAttempts: 3, MaxAge: time.Minute, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}
	_, tx := pair(t, h, nil, WithDeadLetter(dl.add), WithRetry(policy))
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		m := indexed("work", i, "k")
		switch i {
		case 5:
			m.SetHeader("test", "poison")
		case 6:
			m.SetHeader("test", "permanent")
		}
		if err := tx.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "two dead letters", func() bool { return len(dl.get()) == 2 })
	waitFor(t, "the rest handled", func() bool { return cnt.distinct() == 18 })
	byReason := map[Reason]DeadLetter{}
	for _, d := range dl.get() {
		byReason[d.Reason] = d
	}
	poison, perm := byReason[ReasonMaxAttempts], byReason[ReasonPermanent]
	if poison.Message == nil || poison.Message.Headers.Get("test") != "poison" || poison.Attempts != 3 ||
		poison.Err == nil || poison.Err.Error() != "cannot parse order" {
		t.Fatalf("poison dead letter: %+v", poison)
	}
	if perm.Message == nil || perm.Message.Headers.Get("test") != "permanent" || perm.Attempts != 1 ||
		perm.Err == nil || perm.Err.Error() != "unknown customer" {
		t.Fatalf("permanent dead letter: %+v", perm)
	}
	cnt.checkOrder(t) // the key went on after the poison message was skipped
	waitFor(t, "buffer empty", func() bool { return tx.Stats().InFlight == 0 })
	var stored []outbox.DeadLetter
	tx.DeadLetters(ctx, func(d outbox.DeadLetter) error { stored = append(stored, d); return nil })
	if len(stored) != 2 {
		t.Fatalf("store keeps %d dead letters, want 2", len(stored))
	}
	// Re-driven once the cause is fixed, the permanent one is handled.
	fixed.Store(true)
	if err := tx.Redrive(ctx, perm.Seq); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the re-driven message handled", func() bool { return cnt.distinct() == 19 })
	stored = stored[:0]
	tx.DeadLetters(ctx, func(d outbox.DeadLetter) error { stored = append(stored, d); return nil })
	if len(stored) != 1 || stored[0].Reason != string(ReasonMaxAttempts) {
		t.Fatalf("dead letters after redrive: %+v", stored)
	}
}

// A handler panic is recovered, reported as an error and retried.
func TestHandlerPanicIsRetried(t *testing.T) {
	cnt := newCounter()
	var once sync.Once
	h := func(ctx context.Context, m *channel.Message) error {
		once.Do(func() { panic("boom") })
		cnt.record(m)
		return nil
	}
	rx, tx := pair(t, h, nil)
	if err := tx.Send(context.Background(), indexed("work", 0, "")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "handled after the panic", func() bool { return cnt.distinct() == 1 })
	if st := rx.Stats(); st.HandlerErrors != 1 || st.Handled != 1 {
		t.Fatalf("receiver stats: %+v", st)
	}
}

// With no receiver reachable the buffer fills: Send waits until its ctx
// ends, or fails at once WithFailFast.
func TestFullBufferBlocksOrFails(t *testing.T) {
	ghost := discovery.Member{Name: "ghost", Endpoint: "tcp://127.0.0.1:1", Services: []string{"work"}}
	for _, failFast := range []bool{false, true} {
		t.Run(fmt.Sprintf("failFast=%v", failFast), func(t *testing.T) {
			opts := append(fastOpts("tx"), WithDiscovery(discovery.NewStatic(ghost)), WithBuffer(10, 1<<20))
			if failFast {
				opts = append(opts, WithFailFast())
			}
			var dl deadLetters
			opts = append(opts, WithDeadLetter(dl.add))
			tx, err := New(context.Background(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 10; i++ {
				if err := tx.Send(context.Background(), indexed("work", i, "")); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			err = tx.Send(ctx, indexed("work", 10, ""))
			want := context.DeadlineExceeded
			if failFast {
				want = ErrBufferFull
			}
			if !errors.Is(err, want) {
				t.Fatalf("Send on a full buffer: %v, want %v", err, want)
			}
			if st := tx.Stats(); st.InFlight != 10 || st.Sent != 10 {
				t.Fatalf("stats: %+v", st)
			}
			// Close waits for acknowledgements that cannot come, until its ctx ends.
			ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			if err := tx.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Close: %v, want deadline exceeded", err)
			}
			if got := len(dl.get()); got != 10 {
				t.Fatalf("%d of 10 unacknowledged messages dead-lettered at close", got)
			}
			for _, d := range dl.get() {
				if d.Reason != ReasonClosed {
					t.Fatalf("reason %v", d.Reason)
				}
			}
		})
	}
}

// A slow handler slows its sender through credits and the bounded buffer:
// heap in use stays under the buffer limit plus 16 MiB.
func TestSlowHandlerBoundsMemory(t *testing.T) {
	const bufBytes = 8 << 20
	release := make(chan struct{})
	h := func(ctx context.Context, m *channel.Message) error {
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	}
	_, tx := pair(t, h, []Option{WithCredit(256)}, WithBuffer(1<<20, bufBytes))
	body := make([]byte, 4096)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	sent := 0
	for ; ; sent++ {
		m := &channel.Message{Channel: "work", Body: body}
		if err := tx.Send(ctx, m); err != nil {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatal(err)
			}
			break
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := tx.Stats()
	if st.BufferBytes > bufBytes {
		t.Fatalf("buffer holds %d bytes, limit %d", st.BufferBytes, bufBytes)
	}
	if limit := uint64(bufBytes + 16<<20); ms.HeapInuse > limit {
		t.Fatalf("heap in use %d MiB with a stalled handler; limit %d MiB", ms.HeapInuse>>20, limit>>20)
	}
	t.Logf("sent %d before the buffer filled; heap in use %d MiB; buffer %d MiB", sent, ms.HeapInuse>>20, st.BufferBytes>>20)
	close(release)
	waitFor(t, "the backlog to drain", func() bool { return tx.Stats().InFlight == 0 })
}
