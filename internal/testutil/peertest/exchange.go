package peertest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/peer"
)

// What Exchange makes two peers do, in numbers.
const (
	Orders = 10 // commands to "orders": one fails once, one is poison
	Events = 2  // events to "events.x"
)

// Exchange starts "rx" (with rxOpts) and "tx", both with the Quick profile,
// and makes tx send rx Orders commands on "orders" (the 4th fails once,
// the 8th is poison), a duplicate of the first, Events events on
// "events.x", and one request to "quote", which rx answers with "42". It
// returns once everything is settled: nothing in flight at either peer, the
// duplicate dropped and every event handled.
func Exchange(t testing.TB, rxOpts ...peer.Option) (tx, rx *peer.Peer) {
	t.Helper()
	rx = Start(t, "rx", rxOpts...)
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
	tx = Start(t, "tx", StaticDiscovery(rx))

	ctx, cancel := context.WithTimeout(context.Background(), testutil.Deadline)
	defer cancel()
	for i := range Orders {
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
	for i := range Events {
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
			rs.Channels["events.x"].Handled == Events
	}, func() { t.Logf("tx: %+v\nrx: %+v", tx.Stats(), rx.Stats()) })
	return tx, rx
}
