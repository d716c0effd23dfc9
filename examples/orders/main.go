// Command orders shows the transactional outbox and the idempotent consumer
// keeping two services consistent across kill -9, with no broker.
//
// The orders service INSERTs each order and, in the same transaction,
// writes its OrderCreated event into the outbox with peer.PublishTx (topic
// orders.created, keyed by customer): the event exists if and only if the
// order does. Its peer keeps its store in the same database
// (peer.WithStore) and relays the outbox once transactions commit; an event
// committed before the peer has heard of a subscriber waits there for one,
// in order (the orders process says so as it happens). About
// one order in ten fails a credit check after the INSERT and is rolled
// back: no order, no event.
//
// The shipping service subscribes to orders.> in the group "shipping" and
// handles each event with outbox.Idempotent: the message ID is claimed in
// the transaction that inserts the shipment, so an event delivered again —
// its acknowledgement lost in a crash, or resent by a restarted orders
// process — finds its claim and is acknowledged without a second shipment.
//
// Run it with no flags for the demo (about 15 seconds, no setup: SQLite
// files in a temporary directory). It runs the two services as child
// processes, kills orders with SIGKILL inside a transaction and restarts it,
// kills shipping with SIGKILL between a commit and its acknowledgement and
// restarts it, then checks the two databases: every committed order has
// exactly one shipment, no rolled-back order has one, no shipment lacks its
// order, and each customer's orders were shipped in order.
//
//	go run ./examples/orders
//	go run ./examples/orders -postgres postgres://user:pass@localhost/db
//
// Or run the services by hand, one terminal each, and kill and restart them
// at will:
//
//	go run ./examples/orders -role shipping -db /tmp/shipping.db -gossip 127.0.0.1:7946 -join 127.0.0.1:7947
//	go run ./examples/orders -role orders -db /tmp/orders.db -gossip 127.0.0.1:7947 -join 127.0.0.1:7946 -rate 5
//
// Both roles take -name, -listen, -gossip, -join and -cluster as in
// examples/cluster, -db FILE or -postgres DSN, -quiet (a status line per
// second), -v; orders takes -rate and -count (the last order number, across
// restarts). Ctrl-C or SIGTERM closes a peer gracefully.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/examples/internal/cli"
	"github.com/meshmq/meshmq/peer"
)

// envChild is set in the environment of the processes the demo starts:
// they stop gracefully when their stdin closes (the demo's stop, and the
// demo's death), and the test binary runs main's code when it is set.
const envChild = "MESHMQ_ORDERS_DEMO_CHILD"

// drainTimeout bounds the graceful close.
const drainTimeout = 10 * time.Second

func main() { os.Exit(mainExit(os.Args[1:])) }

// mainExit runs the command and returns its exit code.
func mainExit(args []string) int {
	signaled, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-signaled.Done()
		stop() // a second Ctrl-C kills the process, in case closing is stuck
	}()
	ctx, cancel := context.WithCancel(signaled)
	defer cancel()
	if os.Getenv(envChild) != "" {
		go func() {
			io.Copy(io.Discard, os.Stdin)
			cancel()
		}()
	}
	return cli.ExitCode("orders", run(ctx, args, os.Stdout), os.Stdout, os.Stderr)
}

// run is the command: the role args name, or the demo, printing to out,
// until ctx ends (a role) or the demo is over.
func run(ctx context.Context, args []string, out io.Writer) error {
	o, err := parseArgs(args)
	if err != nil {
		return err
	}
	switch o.role {
	case roleOrders:
		return runOrders(ctx, o, cli.NewConsole(out))
	case roleShipping:
		return runShipping(ctx, o, cli.NewConsole(out))
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("the demo runs this program again, and cannot find it: %w", err)
	}
	err = runDemo(ctx, demoConfigOf(o, exe), out)
	if err != nil && ctx.Err() != nil {
		return errors.New("demo interrupted")
	}
	return err
}

// newPeer starts the role's peer on gossip discovery. It builds its own
// discovery.Gossip rather than pass peer.WithGossip, to print its address
// for the others to -join.
func newPeer(ctx context.Context, o *options, logger *slog.Logger, extra ...peer.Option) (*peer.Peer, *discovery.Gossip, error) {
	g, err := discovery.NewGossip(discovery.GossipConfig{Bind: o.gossip, Seeds: o.join, Cluster: o.cluster,
		Profile: o.profile, Logger: logger})
	if err != nil {
		return nil, nil, err
	}
	opts := []peer.Option{peer.WithName(o.name), peer.WithListen(o.listen), peer.WithDiscovery(g), peer.WithLogger(logger)}
	if o.profile == discovery.ProfileFast {
		// Match the data connections to fast gossip: a silent peer is cut
		// off within a second, a returning one redialed at once.
		opts = append(opts, peer.WithHeartbeat(100*time.Millisecond, time.Second),
			peer.WithReconnect(10*time.Millisecond, 500*time.Millisecond))
	}
	p, err := peer.New(ctx, append(opts, extra...)...)
	if err != nil {
		return nil, nil, err
	}
	return p, g, nil
}

// closePeer closes p gracefully: running handlers finish, what it sent is
// acknowledged (or, unacknowledged, kept in its durable store for the next
// start), and the cluster is told it leaves.
func closePeer(p *peer.Peer, con *cli.Console) error {
	con.Printf("closing: draining for up to %v (Ctrl-C again quits at once)", drainTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	start := time.Now()
	if err := p.Close(ctx); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	con.Printf("closed in %v", time.Since(start).Round(time.Millisecond))
	return nil
}

// closeAfter closes p after err, and returns both.
func closeAfter(err error, p *peer.Peer, con *cli.Console) error {
	return errors.Join(err, closePeer(p, con))
}

// scanLines calls fn with each line r yields, until r ends.
func scanLines(r io.Reader, fn func(string)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fn(sc.Text())
	}
	io.Copy(io.Discard, r) // a line too long stops the scanner: keep the pipe flowing
}
