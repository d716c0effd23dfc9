package main

import (
	"flag"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/examples/internal/cli"
)

// Roles: the demo (no -role) runs the other two as child processes.
const (
	roleDemo     = ""
	roleOrders   = "orders"
	roleShipping = "shipping"
)

// Defaults that depend on the role.
const (
	defaultOrdersRate = 20 // orders per second, -role orders
	defaultDemoRate   = 50
	defaultDemoCount  = 750
	minDemoCount      = 100 // the demo kills at a quarter and at half way
)

// options are the parsed and checked command line.
type options struct {
	role     string
	name     string // peer name
	listen   string // data endpoint
	gossip   string // gossip bind address
	join     []string
	cluster  string // gossip cluster label
	profile  discovery.Profile
	db       string // SQLite file
	postgres string // PostgreSQL DSN, instead of db
	rate     float64
	count    int // the last order number to create; 0: no limit
	quiet    bool
	holdTx   int    // orders: stop inside this order's transaction
	holdAck  int    // shipping: stop after this many shipments, before acknowledging the last
	dir      string // demo: keep the databases here
	verbose  bool
}

const usageHead = `Usage: go run ./examples/orders [-role orders|shipping] [flags]

The transactional outbox and the idempotent consumer, across kill -9.
An orders service INSERTs each order and writes its OrderCreated event into
the outbox in the same transaction (peer.PublishTx); a shipping service
ships each order exactly once (outbox.Idempotent), whichever of the two
crashes when.

Without -role it runs the demo: an orders and a shipping process (this
program, re-executed) with SQLite databases in a temporary directory; it
kills each with SIGKILL mid-stream and restarts it, then checks both
databases: every committed order shipped exactly once, no rolled-back
order shipped. No setup needed; it takes about 15 seconds.

  go run ./examples/orders
  go run ./examples/orders -postgres postgres://user:pass@localhost/db   # on PostgreSQL

By hand, one terminal each (shipping first; either may be killed and
started again with the same command):

  go run ./examples/orders -role shipping -db /tmp/shipping.db -gossip 127.0.0.1:7946 -join 127.0.0.1:7947
  go run ./examples/orders -role orders -db /tmp/orders.db -gossip 127.0.0.1:7947 -join 127.0.0.1:7946 -rate 5

then, for instance:

  sqlite3 /tmp/orders.db 'SELECT count(*) FROM orders'
  sqlite3 /tmp/shipping.db 'SELECT count(*) FROM shipments'

Flags:
`

// Which flags go with which role.
var (
	roleOnlyFlags     = []string{"name", "listen", "gossip", "join", "cluster", "db", "quiet"}
	ordersOnlyFlags   = []string{"hold-tx"}
	shippingOnlyFlags = []string{"hold-ack"}
	demoOnlyFlags     = []string{"dir"}
	notShippingFlags  = []string{"rate", "count"} // orders and the demo
)

func parseArgs(args []string) (*options, error) {
	fs := cli.NewFlagSet("orders", usageHead)
	o := &options{}
	var join, profile string
	fs.StringVar(&o.role, "role", "", "orders or shipping; none: the demo")
	fs.StringVar(&o.name, "name", "", "peer name, unique in the cluster (default: the role)")
	fs.StringVar(&o.listen, "listen", "tcp://127.0.0.1:0", "data endpoint, tcp://host:port (port 0: any free port)")
	fs.StringVar(&o.gossip, "gossip", "127.0.0.1:0", "gossip bind address, host:port, UDP and TCP (port 0: any free port)")
	fs.StringVar(&join, "join", "", "comma-separated gossip addresses of peers to join (none: start a new cluster)")
	fs.StringVar(&o.cluster, "cluster", "", "gossip cluster name: peers of other clusters on the same network are ignored")
	fs.StringVar(&profile, "profile", "fast", "timings: fast (single host: a crash is noticed in about 0.5 s) or lan (memberlist's defaults: 5-8 s)")
	fs.StringVar(&o.db, "db", "", "SQLite database file (default orders.db or shipping.db, by role)")
	fs.StringVar(&o.postgres, "postgres", "", "PostgreSQL DSN (URL or key=value), instead of -db; in the demo, both databases go\n"+
		"there, each in a fresh schema")
	fs.Float64Var(&o.rate, "rate", 0, fmt.Sprintf("orders created per second (default %d; the demo %d)", defaultOrdersRate, defaultDemoRate))
	fs.IntVar(&o.count, "count", 0, fmt.Sprintf("stop creating orders at this order number, counting across restarts\n"+
		"(0: no limit; the demo's default %d)", defaultDemoCount))
	fs.BoolVar(&o.quiet, "quiet", false, "a status line per second instead of a line per order")
	fs.IntVar(&o.holdTx, "hold-tx", 0, "orders: stop inside the transaction of order number `N`, before it commits, until\n"+
		"killed (the demo's crash point)")
	fs.IntVar(&o.holdAck, "hold-ack", 0, "shipping: stop after committing the `N`th shipment, before acknowledging it, until\n"+
		"killed (the demo's crash point)")
	fs.StringVar(&o.dir, "dir", "", "demo: put the databases in this directory and keep them (default: a temporary\n"+
		"directory, removed at the end)")
	fs.BoolVar(&o.verbose, "v", false, "debug logs from the peer, the store and discovery (the demo: every line its two\n"+
		"processes print)")

	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	misplaced := func(names []string, where string) error {
		for _, n := range names {
			if set[n] {
				return fs.Fail("-%s applies to %s", n, where)
			}
		}
		return nil
	}

	if fs.NArg() > 0 {
		return nil, fs.Fail("unexpected argument %q: every setting is a flag", fs.Arg(0))
	}
	type rule struct {
		names []string
		where string
	}
	var rules []rule
	switch o.role {
	case roleDemo:
		rules = []rule{{roleOnlyFlags, "-role orders and -role shipping (the demo picks its own)"},
			{ordersOnlyFlags, "-role orders"}, {shippingOnlyFlags, "-role shipping"}}
	case roleOrders:
		rules = []rule{{shippingOnlyFlags, "-role shipping"}, {demoOnlyFlags, "the demo (no -role)"}}
	case roleShipping:
		rules = []rule{{ordersOnlyFlags, "-role orders"}, {demoOnlyFlags, "the demo (no -role)"},
			{notShippingFlags, "-role orders and the demo"}}
	default:
		return nil, fs.Fail("-role %q: want orders, shipping, or none for the demo", o.role)
	}
	for _, r := range rules {
		if err := misplaced(r.names, r.where); err != nil {
			return nil, err
		}
	}
	if o.db != "" && o.postgres != "" {
		return nil, fs.Fail("-db and -postgres: give one")
	}
	if o.role != roleDemo {
		if o.name == "" {
			o.name = o.role
		}
		if o.db == "" && o.postgres == "" {
			o.db = o.role + ".db"
		}
	}
	if hostPort, ok := strings.CutPrefix(o.listen, "tcp://"); !ok || cli.CheckHostPort(hostPort) != nil {
		return nil, fs.Fail("-listen %q: want tcp://host:port, such as tcp://127.0.0.1:7001", o.listen)
	}
	if cli.CheckHostPort(o.gossip) != nil {
		return nil, fs.Fail("-gossip %q: want host:port, such as 127.0.0.1:7946", o.gossip)
	}
	for _, s := range cli.SplitList(join) {
		if !slices.Contains(o.join, s) {
			o.join = append(o.join, s) // a gossip address given twice is joined once
		}
	}
	for _, s := range o.join {
		if cli.CheckHostPort(s) != nil {
			return nil, fs.Fail("-join %q: want comma-separated host:port gossip addresses, such as 127.0.0.1:7946", s)
		}
	}
	switch strings.ToLower(profile) {
	case "fast":
		o.profile = discovery.ProfileFast
	case "lan":
		o.profile = discovery.ProfileLAN
	default:
		return nil, fs.Fail("-profile %q: want fast or lan", profile)
	}
	if o.rate == 0 && !set["rate"] {
		o.rate = defaultOrdersRate
		if o.role == roleDemo {
			o.rate = defaultDemoRate
		}
	}
	if !(o.rate > 0) || math.IsInf(o.rate, 0) {
		return nil, fs.Fail("-rate %v: want a positive number of orders per second", o.rate)
	}
	if o.role == roleDemo && !set["count"] {
		o.count = defaultDemoCount
	}
	switch {
	case o.count < 0:
		return nil, fs.Fail("-count %d: want 0 (no limit) or more", o.count)
	case o.count > maxOrderNumber:
		return nil, fs.Fail("-count %d: order numbers go up to %d", o.count, maxOrderNumber)
	case o.role == roleDemo && o.count < minDemoCount:
		return nil, fs.Fail("-count %d: the demo needs at least %d orders to crash its processes mid-stream", o.count, minDemoCount)
	}
	if o.holdTx < 0 || o.holdAck < 0 {
		return nil, fs.Fail("-hold-tx and -hold-ack: want a positive number")
	}
	return o, nil
}
