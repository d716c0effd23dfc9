package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/peer"
)

// gossipTimes measures, in a cluster of n peers on loopback with the fast
// gossip profile: how long concurrent joins take until every peer lists every
// other (with its catalog); how long until every survivor drops a killed
// peer; and how long until the messages pending at the killed peer are
// handled by another instance of their service.
func gossipTimes(ctx context.Context, n int) (join, detect, failover time.Duration, err error) {
	fast := []peer.Option{peer.WithHeartbeat(50*time.Millisecond, 500*time.Millisecond), peer.WithReconnect(5*time.Millisecond, 50*time.Millisecond)}
	// A cluster name of its own: an earlier run's nodes may still probe
	// the ports this run binds.
	cluster := fmt.Sprintf("bench-%d-%d", os.Getpid(), time.Now().UnixNano())
	newGossip := func(seeds ...string) (*discovery.Gossip, error) {
		return discovery.NewGossip(discovery.GossipConfig{Seeds: seeds, Profile: discovery.ProfileFast, Cluster: cluster})
	}
	var peers []*peer.Peer
	var gossips []*discovery.Gossip
	defer func() {
		var wg sync.WaitGroup
		for _, p := range peers {
			wg.Add(1)
			go func() { defer wg.Done(); p.Close(context.Background()) }()
		}
		wg.Wait()
	}()
	g0, err := newGossip()
	if err != nil {
		return 0, 0, 0, err
	}
	p0, err := peer.New(ctx, append(fast, peer.WithName("p0"), peer.WithDiscovery(g0))...)
	if err != nil {
		return 0, 0, 0, err
	}
	peers, gossips = append(peers, p0), append(gossips, g0)
	seed := g0.Addr()

	// p1 and p2 serve "work"; p1's handler holds messages until released,
	// so they pile up there unacknowledged.
	var handledElsewhere atomic.Int64
	hold := make(chan struct{})
	var holdOnce sync.Once
	defer holdOnce.Do(func() { close(hold) })

	start := time.Now()
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	for i := 1; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g, err := newGossip(seed)
			var p *peer.Peer
			if err == nil {
				p, err = peer.New(ctx, append(fast, peer.WithName(fmt.Sprintf("p%d", i)), peer.WithDiscovery(g))...)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				firstErr = err
				return
			}
			peers, gossips = append(peers, p), append(gossips, g)
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return 0, 0, 0, firstErr
	}
	if err := waitUntil(ctx, func() bool {
		for _, p := range peers {
			if len(p.Members()) != n-1 {
				return false
			}
		}
		return true
	}); err != nil {
		return 0, 0, 0, fmt.Errorf("join: %w", err)
	}
	join = time.Since(start)

	byName := func(name string) int {
		return slices.IndexFunc(peers, func(p *peer.Peer) bool { return p.Name() == name })
	}
	victim, other, sender := peers[byName("p1")], peers[byName("p2")], peers[byName("p0")]
	victim.Handle("work", func(ctx context.Context, m *channel.Message) error {
		select {
		case <-hold:
		case <-ctx.Done():
		}
		return nil
	}, peer.Concurrency(1))
	other.Handle("work", func(context.Context, *channel.Message) error { handledElsewhere.Add(1); return nil })
	if err := waitUntil(ctx, func() bool {
		k := 0
		for _, m := range sender.Members() {
			if m.Handles("work") {
				k++
			}
		}
		return k == 2
	}); err != nil {
		return 0, 0, 0, fmt.Errorf("catalogs: %w", err)
	}
	// Send until some messages are stuck at the victim.
	const batch = 200
	for i := 0; i < batch; i++ {
		if err := sender.Send(ctx, &channel.Message{Channel: "work", Body: []byte("x")}); err != nil {
			return 0, 0, 0, err
		}
	}
	if err := waitUntil(ctx, func() bool {
		return handledElsewhere.Load()+int64(sender.Stats().InFlight) == batch && sender.Stats().InFlight > 0
	}); err != nil {
		return 0, 0, 0, fmt.Errorf("pending at the victim: %w", err)
	}
	survivors := slices.DeleteFunc(slices.Clone(peers), func(p *peer.Peer) bool { return p == victim })
	killAt := time.Now()
	kill(victim, gossips[byName("p1")])
	var detected atomic.Bool
	go func() {
		waitUntil(ctx, func() bool {
			for _, p := range survivors {
				if slices.ContainsFunc(p.Members(), func(m discovery.Member) bool { return m.Name == "p1" }) {
					return false
				}
			}
			return true
		})
		detect = time.Since(killAt)
		detected.Store(true)
	}()
	if err := waitUntil(ctx, func() bool { return handledElsewhere.Load() == batch }); err != nil {
		return 0, 0, 0, fmt.Errorf("failover: %w", err)
	}
	failover = time.Since(killAt)
	if err := waitUntil(ctx, detected.Load); err != nil {
		return 0, 0, 0, fmt.Errorf("detection: %w", err)
	}
	peers = survivors
	return join, detect, failover, nil
}

// kill makes a peer vanish as a crashed process does: its gossip node stops
// without leaving, and its connections drop without draining.
func kill(p *peer.Peer, g *discovery.Gossip) {
	g.Shutdown()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p.Abort()
	p.Close(ctx)
}

func waitUntil(ctx context.Context, cond func() bool) error {
	for !cond() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}
