package prom_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/peer"
)

// startPeer starts a peer on 127.0.0.1 with quick retries, closed when the
// test ends.
func startPeer(t *testing.T, name string, opts ...peer.Option) *peer.Peer {
	t.Helper()
	opts = append([]peer.Option{
		peer.WithName(name),
		peer.WithLogger(testutil.Logger()),
		peer.WithHeartbeat(50*time.Millisecond, 500*time.Millisecond),
		peer.WithReconnect(5*time.Millisecond, 50*time.Millisecond),
		peer.WithRetry(peer.RetryPolicy{MaxAge: time.Minute, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Jitter: 0.5}),
	}, opts...)
	p, err := peer.New(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("close %s: %v", name, err)
		}
	})
	return p
}

// traffic is what exchange makes two peers do, in numbers.
const (
	orders = 10 // commands to "orders": one fails once, one is poison
	events = 2  // events to "events.x"
)

// exchange starts rx and tx and makes tx send rx orders commands (the 4th
// fails once, the 8th is poison), a duplicate of the first, events
// events, and one request; it returns once everything is settled.
func exchange(t *testing.T) (tx, rx *peer.Peer) {
	rx = startPeer(t, "rx")
	var failedOnce atomic.Bool
	if err := rx.Handle("orders", func(ctx context.Context, m *channel.Message) error {
		switch string(m.Body) {
		case "retry":
			if failedOnce.CompareAndSwap(false, true) {
				return errors.New("once")
			}
		case "poison":
			return channel.Permanent(errors.New("bad order"))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := rx.Handle("quote", func(ctx context.Context, m *channel.Message) error {
		return peer.Reply(ctx, &channel.Message{Body: []byte("42")})
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := rx.Subscribe("events.*", func(context.Context, *channel.Message) error { return nil }); err != nil {
		t.Fatal(err)
	}
	tx = startPeer(t, "tx", peer.WithDiscovery(discovery.NewStatic(rx.Advertisement())))

	ctx, cancel := context.WithTimeout(context.Background(), testutil.Deadline)
	defer cancel()
	for i := range orders {
		body := fmt.Sprint(i)
		switch i {
		case 3:
			body = "retry"
		case 7:
			body = "poison"
		}
		if err := tx.Send(ctx, &channel.Message{Kind: channel.Command, Channel: "orders", ID: fmt.Sprint("o-", i), Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
	}
	testutil.WaitFor(t, "the orders settled", func() bool { return tx.Stats().InFlight == 0 })
	// The first order again: the receiver drops it as a duplicate.
	if err := tx.Send(ctx, &channel.Message{Kind: channel.Command, Channel: "orders", ID: "o-0", Body: []byte("again")}); err != nil {
		t.Fatal(err)
	}
	for i := range events {
		if err := tx.Publish(ctx, &channel.Message{Channel: "events.x", Body: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if r, err := tx.Request(ctx, &channel.Message{Channel: "quote"}); err != nil || string(r.Body) != "42" {
		t.Fatalf("request: %v, %v", r, err)
	}
	testutil.WaitFor(t, "everything settled", func() bool {
		ts, rs := tx.Stats(), rx.Stats()
		return ts.InFlight == 0 && rs.InFlight == 0 && rs.Channels["orders"].Duplicates == 1 &&
			rs.Channels["events.x"].Handled == events
	}, func() { t.Logf("tx: %+v\nrx: %+v", tx.Stats(), rx.Stats()) })
	return tx, rx
}
