package peer

import (
	"context"
	"fmt"
	"testing"

	"github.com/meshmq/meshmq/discovery"
)

// 100,000 messages, each handled exactly once, and every one acknowledged.
func TestEveryMessageHandledOnce(t *testing.T) {
	const n = 100_000
	rx := start(t, fastOpts("rx")...)
	cnt := newCounter()
	if err := rx.Handle("work", cnt.handler, Concurrency(4)); err != nil {
		t.Fatal(err)
	}
	tx := start(t, append(fastOpts("tx"), WithDiscovery(discovery.NewStatic(member(rx, "work"))))...)
	ctx := context.Background()
	for i := 0; i < n; i++ {
		if err := tx.Send(ctx, indexed("work", i, fmt.Sprint(i%100))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "all handled", func() bool { return cnt.distinct() == n })
	waitFor(t, "all acknowledged", func() bool { return tx.Stats().Acked == n })
	if dups := cnt.check(t, n); dups != 0 {
		t.Fatalf("%d duplicates", dups)
	}
	cnt.checkOrder(t)
	if st := tx.Stats(); st.InFlight != 0 || st.DeadLettered != 0 {
		t.Fatalf("stats after delivery: %+v", st)
	}
}
