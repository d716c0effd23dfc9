package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/meshmq/meshmq/chaos"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/peer"
	"github.com/meshmq/meshmq/peer/outbox"
	"github.com/meshmq/meshmq/peer/outbox/postgres"
	"github.com/meshmq/meshmq/peer/outbox/sqlite"
)

// startTimeout bounds waiting for the cluster at start.
const startTimeout = 60 * time.Second

// run starts the peer in its role, logs Start, runs until ctx ends, then
// closes the peer and logs Closed.
func run(ctx context.Context, o *options) error {
	log, err := chaos.OpenLog(o.log, o.name, o.inc)
	if err != nil {
		return err
	}
	defer log.Close()
	// What this process logged in earlier incarnations: where a sender
	// goes on.
	past, err := chaos.ReadLog(o.log)
	if err != nil {
		return err
	}

	var st interface {
		outbox.Store
		io.Closer
	}
	if o.store != "" {
		if st, err = openStore(ctx, o); err != nil {
			return err
		}
		defer st.Close()
	}
	p, err := peer.New(ctx, peerOptions(o, st, log)...)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	loops, stopLoops := context.WithCancel(ctx)
	defer stopLoops()
	wg.Go(func() { watchView(loops, p, log) })

	err = startRole(loops, o, p, log, past, &wg)
	if err == nil {
		<-ctx.Done()
	}
	stopLoops()
	wg.Wait()
	cctx, cancel := context.WithTimeout(context.Background(), o.closeWait)
	defer cancel()
	cerr := p.Close(cctx)
	note := "ok"
	if cerr != nil {
		note = cerr.Error()
	}
	return errors.Join(err, log.Write(chaos.Event{Kind: chaos.Closed, Note: note}), cerr)
}

// startRole registers the role's handlers or starts its loops (in wg), and
// logs Start once the peer can do its work.
func startRole(ctx context.Context, o *options, p *peer.Peer, log *chaos.Log, past []chaos.Event, wg *sync.WaitGroup) error {
	var err error
	switch o.role {
	case "consumer":
		err = p.Handle(o.service, handler(o.service, log), peer.Partitions(o.partitions), peer.Concurrency(o.concurrency))
	case "subscriber":
		_, err = p.Subscribe("ev.>", handler(o.groups[0], log), peer.Group(o.groups[0]),
			peer.Partitions(o.partitions), peer.Concurrency(o.concurrency))
	case "responder":
		err = p.Handle(o.service, responder(log), peer.Concurrency(o.concurrency))
	case "sender":
		err = waitFor(ctx, "an instance of "+o.service, func() bool { return handled(p, o.service) })
		if err == nil {
			wg.Go(func() { sendAll(ctx, o, p, log, past) })
		}
	case "publisher":
		err = waitFor(ctx, "a member of each group", func() bool { return subscribed(p, o.groups) })
		if err == nil {
			wg.Go(func() { sendAll(ctx, o, p, log, past) })
		}
	case "requester":
		err = waitFor(ctx, "an instance of "+o.service, func() bool { return handled(p, o.service) })
		if err == nil {
			wg.Go(func() { requestAll(ctx, o, p, log, past) })
		}
	}
	if err != nil {
		return err
	}
	return log.Write(chaos.Event{Kind: chaos.Start, Note: fmt.Sprintf("pid=%d", os.Getpid())})
}

func peerOptions(o *options, st outbox.Store, log *chaos.Log) []peer.Option {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if o.verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	opts := []peer.Option{
		peer.WithName(o.name), peer.WithListen(o.listen), peer.WithLogger(logger),
		peer.WithGossip(discovery.GossipConfig{Bind: o.gossip, Seeds: o.seeds, Cluster: o.cluster, Profile: discovery.ProfileFast}),
		// A killed peer's connections close at once (its sockets go with
		// it); the timeout only decides when a silent one is given up. At
		// one second, a peer stalled that long on a loaded machine was
		// fenced out while alive, and handled the messages that had
		// reached it after they had moved on (order broken across
		// instances): the default's five seconds, a returning peer
		// redialed at once.
		peer.WithHeartbeat(time.Second, 5*time.Second),
		peer.WithReconnect(10*time.Millisecond, 500*time.Millisecond),
		// No limit on attempts or age: in these scenarios every message
		// must get through, so a dead letter is a finding.
		peer.WithRetry(peer.RetryPolicy{MinBackoff: 10 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, Jitter: 0.5}),
		peer.WithDeadLetter(func(d peer.DeadLetter) {
			e := chaos.Event{Kind: chaos.Dead, ID: d.Message.ID, Key: d.Message.Key, Note: string(d.Reason) + "@" + d.Destination}
			_, e.Seq, _ = chaos.ParseMessageID(d.Message.ID)
			log.Write(e)
		}),
	}
	if st != nil {
		opts = append(opts, peer.WithStore(st))
	}
	return opts
}

func openStore(ctx context.Context, o *options) (interface {
	outbox.Store
	io.Closer
}, error) {
	kind, arg, _ := strings.Cut(o.store, ":")
	switch kind {
	case "sqlite":
		return sqlite.Open(ctx, arg)
	case "postgres":
		return postgres.Open(ctx, arg, postgres.TablePrefix(o.prefix))
	}
	return nil, fmt.Errorf("unknown store %q", o.store)
}

// waitFor polls cond until it holds, ctx ends or startTimeout passes.
func waitFor(ctx context.Context, what string, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

func handled(p *peer.Peer, service string) bool {
	return slices.ContainsFunc(p.Members(), func(m discovery.Member) bool { return m.Handles(service) })
}

// subscribed reports whether p sees a subscriber of each group.
func subscribed(p *peer.Peer, groups []string) bool {
	for _, g := range groups {
		if !slices.ContainsFunc(p.Members(), func(m discovery.Member) bool {
			return slices.ContainsFunc(m.Subscriptions, func(s discovery.Subscription) bool { return s.Group == g })
		}) {
			return false
		}
	}
	return true
}

// watchView logs the peer's member names whenever they change, so that the
// driver can tell when the cluster is whole again.
func watchView(ctx context.Context, p *peer.Peer, log *chaos.Log) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	last := "\x00" // no view logged yet
	for {
		var names []string
		for _, m := range p.Members() {
			if m.Name != p.Name() {
				names = append(names, m.Name)
			}
		}
		slices.Sort(names)
		if v := strings.Join(names, ","); v != last {
			last = v
			log.Write(chaos.Event{Kind: chaos.View, Note: v})
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
