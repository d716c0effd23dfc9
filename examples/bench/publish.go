package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/peer"
)

// publishFanout publishes n events of size bytes, at least once, to subs
// subscribers (each a group of its own) and returns deliveries per second:
// subs*n over the time until every copy is handled and acknowledged.
func publishFanout(ctx context.Context, size, n, subs int) (float64, error) {
	var handled atomic.Int64
	var members []discovery.Member
	var peers []*peer.Peer
	defer func() {
		for _, p := range peers {
			p.Close(context.Background())
		}
	}()
	for i := 0; i < subs; i++ {
		rx, err := peer.New(ctx, peer.WithName(fmt.Sprintf("bench-sub%d", i)))
		if err != nil {
			return 0, err
		}
		peers = append(peers, rx)
		if _, err := rx.Subscribe("bench.>", func(context.Context, *channel.Message) error {
			handled.Add(1)
			return nil
			// Bounded like the whole retry buffer: the run measures delivery
			// under backpressure, not a slow group's overflow.
		}, peer.Concurrency(2), peer.Retain(0, 1<<14, 0)); err != nil {
			return 0, err
		}
		members = append(members, discovery.Member{Name: rx.Name(), Endpoint: rx.Endpoint(),
			Subscriptions: []discovery.Subscription{{Pattern: "bench.>", MaxCount: 1 << 14}}})
	}
	tx, err := peer.New(ctx, peer.WithName("bench-pub"), peer.WithDiscovery(discovery.NewStatic(members...)))
	if err != nil {
		return 0, err
	}
	peers = append([]*peer.Peer{tx}, peers...) // closed first
	body := make([]byte, size)
	if err := tx.Publish(ctx, &channel.Message{Channel: "bench.tick", Body: body}); err != nil {
		return 0, err
	}
	if err := waitUntil(ctx, func() bool { return handled.Load() == int64(subs) }); err != nil {
		return 0, fmt.Errorf("connecting: %w", err)
	}
	handled.Store(0)
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := tx.Publish(ctx, &channel.Message{Channel: "bench.tick", Body: body}); err != nil {
			return 0, err
		}
	}
	total := int64(subs * n)
	if err := waitUntil(ctx, func() bool { return handled.Load() >= total && tx.Stats().InFlight == 0 }); err != nil {
		return 0, fmt.Errorf("handled %d of %d (%+v): %w", handled.Load(), total, tx.Stats(), err)
	}
	if s := tx.Stats(); s.DeadLettered != 0 {
		return 0, fmt.Errorf("%d copies dead-lettered", s.DeadLettered)
	}
	return float64(total) / time.Since(start).Seconds(), nil
}
