package peer

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/meshmq/meshmq/channel"
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

// A sender restarted (a new epoch) that resends a message the receiver
// already handled — as one reloading a durable buffer does — is caught by the
// receiver's window of message IDs.
func TestDuplicateIDAcrossSenderEpochs(t *testing.T) {
	var mu sync.Mutex
	handled := map[string]int{}
	h := func(ctx context.Context, m *channel.Message) error {
		mu.Lock()
		handled[m.ID]++
		mu.Unlock()
		return nil
	}
	rx := start(t, fastOpts("rx")...)
	if err := rx.Handle("work", h); err != nil {
		t.Fatal(err)
	}
	send := func(ids ...string) {
		tx, err := New(context.Background(), append(fastOpts("tx"), WithDiscovery(discovery.NewStatic(member(rx, "work"))))...)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			m := indexed("work", 0, "")
			m.ID = id
			if err := tx.Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		}
		closePeer(t, tx) // waits for the acknowledgements
	}
	send("order-1")
	send("order-1", "order-2") // the same name, a new epoch
	mu.Lock()
	defer mu.Unlock()
	if handled["order-1"] != 1 || handled["order-2"] != 1 {
		t.Fatalf("handled %v, want each once", handled)
	}
	if st := rx.Stats(); st.Duplicates != 1 {
		t.Fatalf("duplicates %d, want 1", st.Duplicates)
	}
}
