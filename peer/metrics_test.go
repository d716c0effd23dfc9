package peer

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
)

// Per-channel, per-destination and membership figures add up to what
// happened: every message sent once, acknowledged or dead-lettered, a
// retry, a duplicate dropped, handler latencies counted once per run.
func TestStatsPerChannelAndDestination(t *testing.T) {
	rx := start(t, fastOpts("rx")...)
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
	got := newCounter()
	subscribe(t, rx, "events.*", got.handler)
	tx := start(t, append(fastOpts("tx"), WithDiscovery(discovery.NewStatic(rx.Advertisement())))...)
	ctx := context.Background()
	const n = 20
	for i := 0; i < n; i++ {
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
	// The same ID again, once the first is settled: dropped by the
	// receiver's ID window.
	waitForState(t, "the first sends settled", func() bool { return tx.Stats().InFlight == 0 }, tx, rx)
	if err := tx.Send(ctx, &channel.Message{Kind: channel.Command, Channel: "orders", ID: "o-0", Body: []byte("again")}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := tx.Publish(ctx, event("events.x", i)); err != nil {
			t.Fatal(err)
		}
	}
	waitForState(t, "all settled", func() bool { return tx.Stats().InFlight == 0 && got.distinct() == 3 }, tx, rx)

	ts, rs := tx.Stats(), rx.Stats()
	o := ts.Channels["orders"]
	if o.Sent != n+1 || o.Acked != n || o.DeadLettered != 1 || o.Retried < 1 || o.InFlight != 0 || o.BufferBytes != 0 {
		t.Errorf("sender's orders: %+v", o)
	}
	if e := ts.Channels["events.x"]; e.Sent != 3 || e.Acked != 3 || e.InFlight != 0 {
		t.Errorf("sender's events.x: %+v", e)
	}
	d := ts.Destinations["rx"]
	if d.Sent != n+1+3 || d.Acked != n+3 || d.DeadLettered != 1 || d.Retried < 1 || d.InFlight != 0 || !d.Connected {
		t.Errorf("destination rx: %+v", d)
	}
	ro := rs.Channels["orders"]
	// Handled: n-1 (the poison is not); errors: the retry's first run and
	// the poison; runs: n+1, each timed once.
	if ro.Handled != n-1 || ro.HandlerErrors != 2 || ro.Duplicates != 1 || ro.HandlerLatency.Count != n+1 {
		t.Errorf("receiver's orders: %+v", ro)
	}
	var sum uint64
	for _, c := range ro.HandlerLatency.Counts {
		sum += c
	}
	if sum != ro.HandlerLatency.Count || len(ro.HandlerLatency.Counts) != len(LatencyBounds)+1 || ro.HandlerLatency.Sum <= 0 {
		t.Errorf("latency histogram: %+v", ro.HandlerLatency)
	}
	if re := rs.Channels["events.x"]; re.Handled != 3 {
		t.Errorf("receiver's events.x: %+v", re)
	}
	if ts.Members.Alive != 1 {
		t.Errorf("members: %+v", ts.Members)
	}
}

// Past maxChannels, channels are counted together.
func TestChannelTableBound(t *testing.T) {
	var ct channelTable
	for i := 0; i < maxChannels+10; i++ {
		ct.of(fmt.Sprint("topic.", i)).handled.Add(1)
	}
	s := ct.snapshot()
	if len(s) != maxChannels+1 || s[OtherChannels].Handled != 10 || s["topic.0"].Handled != 1 {
		t.Fatalf("%d channels, other %+v", len(s), s[OtherChannels])
	}
}

// Membership events are counted.
func TestStatsMembers(t *testing.T) {
	cl := newCluster(t)
	a := cl.peer("a")
	b := cl.unmanaged("b")
	waitFor(t, "a sees b", func() bool { return a.Stats().Members.Alive == 1 })
	closePeer(t, b)
	waitFor(t, "b left", func() bool { s := a.Stats().Members; return s.Alive == 0 && s.Left == 1 })
	if s := a.Stats().Members; s.Joined != 1 || s.Failed != 0 {
		t.Fatalf("members: %+v", s)
	}
}
