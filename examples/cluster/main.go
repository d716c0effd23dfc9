// Command cluster runs one meshmq peer per process, so that a cluster can be
// started by hand, one terminal per peer, and watched as peers come and go.
// Peers find each other by gossip (discovery.Gossip); a sender's messages go
// to one instance of their service, and move to another when it leaves.
//
// Three terminals:
//
//	go run ./examples/cluster -name a -listen tcp://127.0.0.1:7001 -gossip 127.0.0.1:7946 -serve orders
//	go run ./examples/cluster -name b -listen tcp://127.0.0.1:7002 -gossip 127.0.0.1:7947 -join 127.0.0.1:7946 -serve orders
//	go run ./examples/cluster -name c -listen tcp://127.0.0.1:7003 -gossip 127.0.0.1:7948 -join 127.0.0.1:7946 -send orders -rate 20
//
// Every peer prints members joining and leaving; a and b print
// "orders: handled N from c attempt 1" for each message they handle, and c
// its counters every second. A sender picks the instance with the fewest
// unacknowledged messages, ties at random, so a and b share the stream. Stop
// one with Ctrl-C: it drains and leaves, and c's messages go on to the
// other, none lost or handled twice. Kill it with kill -9 instead: once
// gossip declares it failed, c resends to the other what it had not
// acknowledged.
//
// Secured, with the keys examples/keygen writes (it prints these commands):
// every data connection is ZMTP CURVE, encrypted and authenticated both
// ways, and a peer admits, and dials, only the peers whose public keys are
// in its -allow list; gossip is encrypted with the gossip key.
//
//	go run ./examples/keygen -dir keys a b c
//	go run ./examples/cluster -name a -listen tcp://127.0.0.1:7001 -gossip 127.0.0.1:7946 -serve orders \
//		-curve-key keys/a.key_secret -allow keys/allowed -gossip-key keys/gossip.key
//	go run ./examples/cluster -name b -listen tcp://127.0.0.1:7002 -gossip 127.0.0.1:7947 -join 127.0.0.1:7946 -serve orders \
//		-curve-key keys/b.key_secret -allow keys/allowed -gossip-key keys/gossip.key
//	go run ./examples/cluster -name c -listen tcp://127.0.0.1:7003 -gossip 127.0.0.1:7948 -join 127.0.0.1:7946 -send orders -rate 20 \
//		-curve-key keys/c.key_secret -allow keys/allowed -gossip-key keys/gossip.key
//
// Each peer prints one line saying how it is secured ("secured: CURVE key
// ..., 3 allowed keys, gossip encrypted") or what is not ("not secured:
// ..."), and a line when it refuses connections, or to dial, for keys not
// in its allowlist. A peer started with a key that is not in the others'
// allowlists joins the gossip if it has the gossip key, but no peer
// connects to it or accepts its connections: it is never listed as a
// member, and gets none of the stream.
//
// Flags: -name (required), -listen, -gossip, -join, -serve, -send, -rate,
// -count, -profile fast|lan, -cluster, -key (hex AES key for gossip),
// -curve-key FILE (this peer's secret key file), -allow PATHS (public key
// files and directories; required with -curve-key), -gossip-key FILE (not
// with -key), -v (debug logs).
// Ctrl-C or SIGTERM closes the peer gracefully, waiting up to 10 s for what
// it sent to be acknowledged; a second Ctrl-C quits at once.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/examples/internal/cli"
	"github.com/meshmq/meshmq/peer"
)

// drainTimeout bounds the graceful close: what is still unacknowledged then
// is dead-lettered.
const drainTimeout = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills the process, in case draining is stuck
	}()
	cli.Exit("cluster", run(ctx, os.Args[1:], os.Stdout))
}

// run is the command: it starts the peer described by args, prints what
// happens to out, and closes the peer gracefully once ctx ends.
func run(ctx context.Context, args []string, out io.Writer) error {
	o, err := parseArgs(args)
	if err != nil {
		return err
	}
	// The files -curve-key, -allow and -gossip-key name are read here, not
	// in parseArgs: a missing or too open key file is not a mistake the
	// usage text helps with, so it is an error of its own (exit status 1).
	sec, err := o.security.Load()
	if err != nil {
		return err
	}
	con := cli.NewConsole(out)
	logger := cli.Logger(con, o.verbose)

	gc := discovery.GossipConfig{Bind: o.gossip, Seeds: o.join, Cluster: o.cluster, Profile: o.profile, Logger: logger}
	if o.key != nil {
		gc.Keys = [][]byte{o.key}
	}
	// peer.WithGossip, and with -curve-key one security.Config through
	// peer.WithSecurity: CURVE keys, allowlist and gossip key together.
	secOpts, err := sec.PeerOptions(gc)
	if err != nil {
		return err
	}
	opts := append([]peer.Option{
		peer.WithName(o.name), peer.WithListen(o.listen),
		peer.WithLogger(logger), peer.WithDeadLetter(printDeadLetters(con)),
	}, secOpts...)
	if o.profile == discovery.ProfileFast {
		// Match the data connections to fast gossip: a silent peer is cut
		// off within a second, a returning one redialed at once.
		opts = append(opts, peer.WithHeartbeat(100*time.Millisecond, time.Second),
			peer.WithReconnect(10*time.Millisecond, 500*time.Millisecond))
	}
	p, err := peer.New(ctx, opts...)
	if err != nil {
		return err
	}
	// The gossip the peer built for WithGossip: its address is the one the
	// others -join.
	g, ok := p.Discovery().(*discovery.Gossip)
	if !ok {
		return errors.Join(fmt.Errorf("discovery is %T, want *discovery.Gossip", p.Discovery()), closePeer(p, con))
	}
	con.Printf("peer %s: data %s, gossip %s", o.name, p.Endpoint(), g.Addr())
	con.Printf("%s", sec.Describe(p.Stats().Security))

	for _, s := range o.serve {
		if err := p.Handle(s, handler(con, s)); err != nil {
			return errors.Join(err, closePeer(p, con))
		}
	}
	if len(o.serve) > 0 {
		con.Printf("serving %s", strings.Join(o.serve, ", "))
	}

	var wg sync.WaitGroup
	loops, stopLoops := context.WithCancel(ctx)
	defer stopLoops()
	wg.Go(func() { watchMembers(loops, p, con) })

	if len(o.join) > 0 {
		con.Printf("joining %s", strings.Join(o.join, ", "))
		select {
		case <-p.Ready():
			con.Printf("joined the cluster")
		case <-ctx.Done():
		}
	}
	if o.send != "" && ctx.Err() == nil {
		wg.Go(func() { sendStream(loops, p, con, o.send, o.rate, o.count) })
		wg.Go(func() { printStatus(loops, p, con) })
	}

	<-ctx.Done()
	stopLoops()
	wg.Wait()
	return closePeer(p, con)
}

// closePeer closes p gracefully: its messages acknowledged, running handlers
// finished, connections drained, the cluster told it is leaving.
func closePeer(p *peer.Peer, con *cli.Console) error {
	con.Printf("closing: draining for up to %v (Ctrl-C again quits at once)", drainTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	start := time.Now()
	if err := p.Close(ctx); err != nil {
		con.Printf("gave up draining after %v: %s", drainTimeout, statusLine(p.Stats()))
		return fmt.Errorf("close: %w", err)
	}
	con.Printf("drained in %v: %s", time.Since(start).Round(time.Millisecond), statusLine(p.Stats()))
	return nil
}
