package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/peer"
)

// statusInterval is how often a worker reports to the driver.
const statusInterval = 250 * time.Millisecond

// worker runs its share of the peers until its stdin closes. It prints
// "seed ADDR" once its first peer is up when it is the first worker, then
// "status CONVERGED OPEN DIALS" every statusInterval: how many of its peers
// list every other peer with its catalog, and their data connections.
func worker(args []string) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	count := fs.Int("count", 1, "peers in this process")
	first := fs.Int("first", 0, "index of its first peer")
	total := fs.Int("total", 1, "peers in the cluster")
	profile := fs.String("profile", "lan", "gossip profile")
	cluster := fs.String("cluster", "", "gossip cluster name")
	seed := fs.String("seed", "", "gossip address to join (none: this worker's first peer is the seed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	prof, err := parseProfile(*profile)
	if err != nil {
		return err
	}
	ctx := context.Background()
	var (
		mu    sync.Mutex
		peers []*peer.Peer
	)
	defer func() {
		var wg sync.WaitGroup
		for _, p := range peers {
			wg.Go(func() {
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				p.Close(cctx)
			})
		}
		wg.Wait()
	}()
	start := func(i int, seeds []string) (*peer.Peer, *discovery.Gossip, error) {
		g, err := discovery.NewGossip(discovery.GossipConfig{Seeds: seeds, Profile: prof, Cluster: *cluster})
		if err != nil {
			return nil, nil, err
		}
		p, err := peer.New(ctx, peer.WithName(fmt.Sprintf("p%d", i)), peer.WithDiscovery(g))
		if err != nil {
			return nil, nil, err
		}
		if err := p.Handle("all", func(context.Context, *channel.Message) error { return nil }); err != nil {
			p.Close(ctx)
			return nil, nil, err
		}
		return p, g, nil
	}
	seeds := []string{*seed}
	from := *first
	if *seed == "" {
		p, g, err := start(from, nil)
		if err != nil {
			return err
		}
		peers = append(peers, p)
		seeds = []string{g.Addr()}
		fmt.Printf("seed %s\n", g.Addr())
		from++
	}
	var wg sync.WaitGroup
	var errs []error
	for i := from; i < *first+*count; i++ {
		wg.Go(func() {
			p, _, err := start(i, seeds)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			peers = append(peers, p)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	eof := make(chan struct{})
	go func() {
		io.Copy(io.Discard, bufio.NewReader(os.Stdin))
		close(eof)
	}()
	tick := time.NewTicker(statusInterval)
	defer tick.Stop()
	for {
		select {
		case <-eof:
			return nil
		case <-tick.C:
		}
		converged, open, dials := 0, 0, uint64(0)
		for _, p := range peers {
			if sees(p, *total) {
				converged++
			}
			c := p.Stats().Connections
			open += c.Open
			dials += c.Dials
		}
		fmt.Printf("status %d %d %d\n", converged, open, dials)
	}
}

// sees reports whether p lists every other of the total peers, each with
// the service "all" in its catalog.
func sees(p *peer.Peer, total int) bool {
	n := 0
	for _, m := range p.Members() {
		if m.Handles("all") {
			n++
		}
	}
	return n == total-1
}

func parseProfile(s string) (discovery.Profile, error) {
	switch s {
	case "lan":
		return discovery.ProfileLAN, nil
	case "fast":
		return discovery.ProfileFast, nil
	}
	return 0, fmt.Errorf("profile %q: want lan or fast", s)
}
