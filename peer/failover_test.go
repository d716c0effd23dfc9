package peer

import (
	"context"
	"testing"
	"time"

	"github.com/meshmq/meshmq/discovery"
)

// With no instance of its service, a message waits in the retry buffer until
// one appears — or its policy gives up, and it is dead-lettered.
func TestNoInstanceWaitsInTheBuffer(t *testing.T) {
	var dl deadLetters
	static := discovery.NewStatic()
	tx := start(t, append(fastOpts("tx"), WithDiscovery(static), WithDeadLetter(dl.add))...)
	ctx := context.Background()
	if err := tx.Send(ctx, indexed("work", 0, "")); err != nil {
		t.Fatal(err)
	}
	short := RetryPolicy{MaxAge: 50 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}
	if err := tx.Send(ctx, indexed("nobody-handles", 1, ""), Retry(short)); err != nil {
		t.Fatal(err)
	}
	if st := tx.Stats(); st.InFlight != 2 {
		t.Fatalf("in flight %d, want 2 parked", st.InFlight)
	}
	waitFor(t, "the unroutable one dead-lettered", func() bool { return len(dl.get()) == 1 })
	if d := dl.get()[0]; d.Reason != ReasonMaxAge || d.Message.Channel != "nobody-handles" {
		t.Fatalf("dead letter %+v", d)
	}
	cnt := newCounter()
	rx := start(t, fastOpts("rx")...)
	if err := rx.Handle("work", cnt.handler); err != nil {
		t.Fatal(err)
	}
	static.Add(member(rx, "work"))
	waitFor(t, "the parked message delivered", func() bool { return cnt.distinct() == 1 })
	waitFor(t, "acknowledged", func() bool { return tx.Stats().InFlight == 0 })
}

// failoverScenario: two instances of a service; one goes (gracefully or
// killed) mid-stream; discovery reports it; its pending messages move to the
// other. Nothing is lost; duplicates only after a kill.
func failoverScenario(t *testing.T, graceful bool) (dups int) {
	const n = 20_000
	c1, c2 := newCounter(), newCounter()
	static := discovery.NewStatic()
	rx1 := start(t, fastOpts("rx1")...)
	rx2, err := New(context.Background(), fastOpts("rx2")...)
	if err != nil {
		t.Fatal(err)
	}
	if err := rx1.Handle("work", c1.handler, Concurrency(2)); err != nil {
		t.Fatal(err)
	}
	if err := rx2.Handle("work", c2.handler, Concurrency(2)); err != nil {
		t.Fatal(err)
	}
	static.Add(member(rx1, "work"))
	static.Add(member(rx2, "work"))
	tx := start(t, append(fastOpts("tx"), WithDiscovery(static), WithDeadLetter(func(d DeadLetter) {
		t.Errorf("unexpected %v", d)
	}))...)
	ctx := context.Background()
	for i := 0; i < n; i++ {
		// No keys: per-key order across instances is the ordering
		// release's; here each message must arrive, once.
		if err := tx.Send(ctx, indexed("work", i, "")); err != nil {
			t.Fatal(err)
		}
		if i == n/2 {
			if graceful {
				go func() { closePeer(t, rx2); static.Remove("rx2", false) }()
			} else {
				rx2.kill()
				static.Remove("rx2", true)
			}
		}
	}
	waitForState(t, "all handled", func() bool { return union(c1, c2).distinct() == n }, tx)
	waitFor(t, "all acknowledged", func() bool { return tx.Stats().InFlight == 0 })
	if graceful {
		closePeer(t, rx2)
	}
	if c2.distinct() == 0 || c1.distinct() == 0 {
		t.Fatalf("one instance handled nothing: %d and %d", c1.distinct(), c2.distinct())
	}
	return union(c1, c2).check(t, n)
}

// An instance that leaves gracefully loses nothing and handles nothing twice.
func TestFailoverOnGracefulLeave(t *testing.T) {
	if dups := failoverScenario(t, true); dups != 0 {
		t.Fatalf("%d handled twice", dups)
	}
}

// An instance killed mid-stream: its pending messages fail over, nothing is
// lost; duplicates only for handlers that ran before their ack left.
func TestFailoverOnKill(t *testing.T) {
	dups := failoverScenario(t, false)
	t.Logf("handled twice after the kill: %d", dups)
}
