package peer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/internal/testutil"
)

func gossipFor(t *testing.T, seeds ...string) *discovery.Gossip {
	t.Helper()
	g, err := discovery.NewGossip(discovery.GossipConfig{Seeds: seeds, Profile: discovery.ProfileFast, Cluster: testutil.Cluster(t), Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// Peers that find each other by gossip route by the catalogs they fetch over
// the data connection: a service handled by two peers gets every message
// exactly once, spread over both; handlers registered after start are
// advertised.
func TestSendOverGossipDiscovery(t *testing.T) {
	g1 := gossipFor(t)
	rx1 := start(t, append(fastOpts("rx1"), WithDiscovery(g1))...)
	seed := g1.Addr()
	rx2 := start(t, append(fastOpts("rx2"), WithDiscovery(gossipFor(t, seed)))...)
	tx := start(t, append(fastOpts("tx"), WithDiscovery(gossipFor(t, seed)))...)

	c1, c2 := newCounter(), newCounter()
	if err := rx1.Handle("work", c1.handler); err != nil {
		t.Fatal(err)
	}
	if err := rx2.Handle("work", c2.handler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both instances in tx's view", func() bool {
		n := 0
		for _, m := range tx.Members() {
			if m.Handles("work") {
				n++
			}
		}
		return n == 2
	})
	const n = 2000
	for i := 0; i < n; i++ {
		if err := tx.Send(context.Background(), indexed("work", i, "")); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "all handled", func() bool { return c1.distinct()+c2.distinct() == n })
	waitFor(t, "all acknowledged", func() bool { return tx.Stats().InFlight == 0 })
	if dups := union(c1, c2).check(t, n); dups != 0 {
		t.Fatalf("%d duplicates", dups)
	}
	if c1.distinct() == 0 || c2.distinct() == 0 {
		t.Fatalf("load not spread: %d and %d", c1.distinct(), c2.distinct())
	}
}

// gossipFailover: two instances and a sender over gossip; one instance goes
// mid-stream, gracefully or killed (its memberlist and sockets shut without a
// word); gossip reports it and its pending messages fail over.
func gossipFailover(t *testing.T, graceful bool) int {
	const n = 10_000
	g1 := gossipFor(t)
	rx1 := start(t, append(fastOpts("rx1"), WithDiscovery(g1))...)
	seed := g1.Addr()
	rx2, err := New(context.Background(), append(fastOpts("rx2"), WithDiscovery(gossipFor(t, seed)))...)
	if err != nil {
		t.Fatal(err)
	}
	tx := start(t, append(fastOpts("tx"), WithDiscovery(gossipFor(t, seed)))...)
	c1, c2 := newCounter(), newCounter()
	if err := rx1.Handle("work", c1.handler, Concurrency(2)); err != nil {
		t.Fatal(err)
	}
	if err := rx2.Handle("work", c2.handler, Concurrency(2)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both instances in view", func() bool {
		k := 0
		for _, m := range tx.Members() {
			if m.Handles("work") {
				k++
			}
		}
		return k == 2
	})
	for i := 0; i < n; i++ {
		if err := tx.Send(context.Background(), indexed("work", i, "")); err != nil {
			t.Fatal(err)
		}
		if i == n/2 {
			if graceful {
				go closePeer(t, rx2)
			} else {
				rx2.kill()
			}
		}
	}
	waitForState(t, "all handled", func() bool { return union(c1, c2).distinct() == n }, tx)
	waitFor(t, "all acknowledged", func() bool { return tx.Stats().InFlight == 0 })
	waitFor(t, "the gone instance out of the view", func() bool {
		for _, m := range tx.Members() {
			if m.Name == "rx2" {
				return false
			}
		}
		return true
	})
	if graceful {
		closePeer(t, rx2)
	}
	return union(c1, c2).check(t, n)
}

func TestGossipFailoverOnKill(t *testing.T) {
	t.Logf("handled twice after the kill: %d (handlers that ran before their ack left)", gossipFailover(t, false))
}

func TestGossipGracefulLeaveLosesNothing(t *testing.T) {
	if dups := gossipFailover(t, true); dups != 0 {
		t.Fatalf("%d handled twice after a graceful leave", dups)
	}
}

// A peer with 1,000 services: its catalog, fetched over the data connection,
// reaches every member (gossip metadata holds only its version).
func TestThousandServicesReachEveryMember(t *testing.T) {
	g0 := gossipFor(t)
	big := start(t, append(fastOpts("big"), WithDiscovery(g0))...)
	others := []*Peer{
		start(t, append(fastOpts("o1"), WithDiscovery(gossipFor(t, g0.Addr())))...),
		start(t, append(fastOpts("o2"), WithDiscovery(gossipFor(t, g0.Addr())))...),
	}
	nop := func(context.Context, *channel.Message) error { return nil }
	for i := 0; i < 1000; i++ {
		if err := big.Handle(fmt.Sprintf("service-%04d", i), nop); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range others {
		<-o.Ready()
		waitFor(t, "1,000 services at "+o.Name(), func() bool {
			for _, m := range o.Members() {
				if m.Name == "big" && len(m.Services) == 1000 && m.Handles("service-0999") {
					return true
				}
			}
			return false
		})
	}
}

// A peer restarted under the same name on a new port is routed to again.
func TestRestartUnderSameNameRoutedAgain(t *testing.T) {
	g0 := gossipFor(t)
	tx := start(t, append(fastOpts("tx"), WithDiscovery(g0))...)
	cnt := newCounter()
	rx, err := New(context.Background(), append(fastOpts("rx"), WithDiscovery(gossipFor(t, g0.Addr())))...)
	if err != nil {
		t.Fatal(err)
	}
	rx.Handle("work", cnt.handler)
	waitFor(t, "rx in view", func() bool { return len(tx.Members()) == 1 && tx.Members()[0].Handles("work") })
	if err := tx.Send(context.Background(), indexed("work", 0, "")); err != nil {
		t.Fatal(err)
	}
	// Acknowledged, not only handled: a kill before the ack left would
	// rightly have it handled again by the restarted peer.
	waitFor(t, "first message acknowledged", func() bool { return cnt.distinct() == 1 && tx.Stats().InFlight == 0 })
	old := rx.Endpoint()
	rx.kill()
	restarted := time.Now()
	rx2 := start(t, append(fastOpts("rx"), WithDiscovery(gossipFor(t, g0.Addr())))...)
	rx2.Handle("work", cnt.handler)
	if rx2.Endpoint() == old {
		t.Fatal("restarted on the same port; the test wants a new one")
	}
	if err := tx.Send(context.Background(), indexed("work", 1, "")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the message at the restarted peer", func() bool { return cnt.distinct() == 2 })
	t.Logf("routed to the restarted peer %v after its start", time.Since(restarted))
	if cnt.check(t, 2) != 0 {
		t.Fatal("duplicates")
	}
}
