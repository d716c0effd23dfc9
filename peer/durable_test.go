package peer

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/internal/wire"
	"github.com/meshmq/meshmq/peer/outbox"
)

// An outbox event held for want of a subscriber holds back the later events
// of its topic even once a subscriber is known, so that they go in order.
func TestHeldOutboxEventsKeepTheirOrder(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var got []string
	rx := start(t, fastOpts("rx")...)
	if _, err := rx.Subscribe("orders.>", func(ctx context.Context, m *channel.Message) error {
		mu.Lock()
		got = append(got, m.ID)
		mu.Unlock()
		return nil
	}, Group("g")); err != nil {
		t.Fatal(err)
	}
	disc := discovery.NewStatic()
	p := start(t, append(fastOpts("app"), WithDiscovery(disc))...)
	event := func(id string) (*outbox.Record, *channel.Message) {
		m := &channel.Message{ID: id, Kind: channel.Event, Channel: "orders.created", Key: "k", Time: time.Now()}
		enc := wire.AppendMessage(nil, m)
		return &outbox.Record{ID: id, Channel: m.Channel, Key: m.Key, Dest: outbox.Destination{Group: outbox.AllGroups},
			Message: enc, Created: m.Time}, m
	}
	rec, hdr := event("e1")
	if err := p.resumePublish(ctx, rec, hdr); err != nil { // nobody subscribes: held
		t.Fatal(err)
	}
	disc.Add(rx.Advertisement())
	waitFor(t, "the subscriber known", func() bool { return len(p.groups.matching("orders.created")) == 1 })
	rec, hdr = event("e2")
	if err := p.resumePublish(ctx, rec, hdr); err != nil {
		t.Fatal(err)
	}
	if n := p.Stats().HeldEvents; n != 2 {
		t.Fatalf("%d events held, want 2: e2 must wait behind e1", n)
	}
	if err := p.retryHeld(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 2
	})
	if got[0] != "e1" || got[1] != "e2" {
		t.Fatalf("delivered %v, want [e1 e2]", got)
	}
}
