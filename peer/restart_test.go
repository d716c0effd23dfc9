package peer

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
)

// kill tears the peer's connections down without draining, as a crash
// would, then reaps its goroutines: acknowledgements not yet written are lost.
func (p *Peer) kill() {
	if g, ok := p.disc.(*discovery.Gossip); ok {
		g.Shutdown() // no graceful leave either
	}
	p.tr.Abort()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p.Close(ctx)
}

// restartScenario streams n keyed messages to a receiver that is stopped
// (gracefully or not) and restarted on the same endpoint mid-stream, and
// returns the handled counts.
func restartScenario(t *testing.T, n int, graceful bool) (*counter, int) {
	cnt := newCounter()
	var handled atomic.Int64
	h := func(ctx context.Context, m *channel.Message) error {
		cnt.record(m)
		handled.Add(1)
		return nil
	}
	rx, err := New(context.Background(), fastOpts("rx")...)
	if err != nil {
		t.Fatal(err)
	}
	if err := rx.Handle("work", h, Concurrency(4)); err != nil {
		t.Fatal(err)
	}
	ep := rx.Endpoint()
	tx := start(t, append(fastOpts("tx"), WithDiscovery(discovery.NewStatic(member(rx, "work"))))...)

	sent := make(chan error, 1)
	go func() {
		ctx := context.Background()
		for i := 0; i < n; i++ {
			if err := tx.Send(ctx, indexed("work", i, fmt.Sprint(i%50))); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	waitFor(t, "a third handled", func() bool { return handled.Load() >= int64(n/3) })
	if graceful {
		closePeer(t, rx)
	} else {
		rx.kill()
	}
	cnt.segment()
	rx2 := start(t, append(fastOpts("rx"), WithListen(ep))...)
	if err := rx2.Handle("work", h, Concurrency(4)); err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	waitForState(t, "all handled", func() bool { return cnt.distinct() == n }, tx, rx2)
	waitFor(t, "all acknowledged", func() bool { return tx.Stats().InFlight == 0 })
	dups := cnt.check(t, n)
	cnt.checkOrder(t)
	if st := tx.Stats(); st.DeadLettered != 0 {
		t.Fatalf("dead letters: %+v", st)
	}
	return cnt, dups
}

// A receiver closed gracefully mid-stream and restarted on the same address:
// nothing lost, nothing handled twice.
func TestGracefulRestartLosesNothingHandlesNothingTwice(t *testing.T) {
	_, dups := restartScenario(t, 30_000, true)
	if dups != 0 {
		t.Fatalf("%d messages handled twice across a graceful restart", dups)
	}
}

// A receiver killed abruptly (no drain) and restarted: nothing lost;
// duplicates only for handlers that ran before their acknowledgement left.
func TestAbruptRestartLosesNothing(t *testing.T) {
	_, dups := restartScenario(t, 30_000, false)
	t.Logf("handled twice after the kill: %d (handlers that ran before their ack left)", dups)
}
