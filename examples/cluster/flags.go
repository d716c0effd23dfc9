package main

import (
	"encoding/hex"
	"math"
	"slices"
	"strings"

	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/examples/internal/cli"
)

// options are the parsed and checked command line.
type options struct {
	name    string
	listen  string // data endpoint
	gossip  string // gossip bind address
	join    []string
	serve   []string
	send    string
	rate    float64 // messages per second
	count   int     // stop sending after this many; 0: never
	profile discovery.Profile
	key     []byte // -key; nil: none (see security)
	cluster string // gossip cluster name
	verbose bool

	// security holds -curve-key, -allow and -gossip-key; run loads the
	// files they name.
	security cli.SecurityFlags
}

const usageHead = `Usage: go run ./examples/cluster -name NAME [flags]

Runs one meshmq peer that finds the others by gossip, handles the -serve
services and sends a numbered stream of messages to the -send service.
Start several, one per terminal; the first needs no -join, the others join it:

  go run ./examples/cluster -name a -listen tcp://127.0.0.1:7001 -gossip 127.0.0.1:7946 -serve orders
  go run ./examples/cluster -name b -listen tcp://127.0.0.1:7002 -gossip 127.0.0.1:7947 -join 127.0.0.1:7946 -serve orders
  go run ./examples/cluster -name c -listen tcp://127.0.0.1:7003 -gossip 127.0.0.1:7948 -join 127.0.0.1:7946 -send orders -rate 20

Secured: CURVE on every data connection, admitting only the keys in -allow,
and encrypted gossip. examples/keygen writes the keys and prints these:

  go run ./examples/keygen -dir keys a b c
  go run ./examples/cluster -name a -listen tcp://127.0.0.1:7001 -gossip 127.0.0.1:7946 -serve orders -curve-key keys/a.key_secret -allow keys/allowed -gossip-key keys/gossip.key
  go run ./examples/cluster -name b -listen tcp://127.0.0.1:7002 -gossip 127.0.0.1:7947 -join 127.0.0.1:7946 -serve orders -curve-key keys/b.key_secret -allow keys/allowed -gossip-key keys/gossip.key
  go run ./examples/cluster -name c -listen tcp://127.0.0.1:7003 -gossip 127.0.0.1:7948 -join 127.0.0.1:7946 -send orders -rate 20 -curve-key keys/c.key_secret -allow keys/allowed -gossip-key keys/gossip.key

Flags:
`

func parseArgs(args []string) (*options, error) {
	fs := cli.NewFlagSet("cluster", usageHead)
	o := &options{}
	var join, serve, profile, key string
	fs.StringVar(&o.name, "name", "", "peer name, unique in the cluster (required)")
	fs.StringVar(&o.listen, "listen", "tcp://127.0.0.1:0", "data endpoint, tcp://host:port (port 0: any free port)")
	fs.StringVar(&o.gossip, "gossip", "127.0.0.1:0", "gossip bind address, host:port, UDP and TCP (port 0: any free port)")
	fs.StringVar(&join, "join", "", "comma-separated gossip addresses of peers to join (none: start a new cluster)")
	fs.StringVar(&serve, "serve", "", "comma-separated services to handle")
	fs.StringVar(&o.send, "send", "", "service to send a numbered stream of messages to")
	fs.Float64Var(&o.rate, "rate", 10, "messages per second to the -send service")
	fs.IntVar(&o.count, "count", 0, "stop sending after this many messages (0: no limit)")
	fs.StringVar(&profile, "profile", "fast", "timings: fast (single host: a crash is noticed in about 0.5 s) or lan (memberlist's defaults: 5-8 s)")
	fs.StringVar(&o.cluster, "cluster", "", "cluster name: peers of other clusters on the same network are ignored")
	fs.StringVar(&key, "key", "", "hex AES key of 16, 24 or 32 bytes that encrypts gossip; every peer needs the same one (or use -gossip-key, not both)")
	o.security.Register(fs.FlagSet)
	fs.BoolVar(&o.verbose, "v", false, "debug logs from the peer, discovery and memberlist")

	if err := fs.Parse(args); err != nil {
		return nil, err
	}

	if fs.NArg() > 0 {
		return nil, fs.Fail("unexpected argument %q: every setting is a flag", fs.Arg(0))
	}
	if o.name == "" {
		return nil, fs.Fail("-name is required")
	}
	if hostPort, ok := strings.CutPrefix(o.listen, "tcp://"); !ok || cli.CheckHostPort(hostPort) != nil {
		return nil, fs.Fail("-listen %q: want tcp://host:port, such as tcp://127.0.0.1:7001", o.listen)
	}
	if cli.CheckHostPort(o.gossip) != nil {
		return nil, fs.Fail("-gossip %q: want host:port, such as 127.0.0.1:7946", o.gossip)
	}
	o.join = cli.SplitList(join)
	for _, s := range o.join {
		if cli.CheckHostPort(s) != nil {
			return nil, fs.Fail("-join %q: want comma-separated host:port gossip addresses, such as 127.0.0.1:7946", s)
		}
	}
	o.serve = cli.SplitList(serve)
	for i, s := range o.serve {
		if slices.Contains(o.serve[:i], s) {
			return nil, fs.Fail("-serve: %q given twice", s)
		}
	}
	if !(o.rate > 0) || math.IsInf(o.rate, 0) {
		return nil, fs.Fail("-rate %v: want a positive number of messages per second", o.rate)
	}
	if o.count < 0 {
		return nil, fs.Fail("-count %d: want 0 (no limit) or more", o.count)
	}
	if o.count > 0 && o.send == "" {
		return nil, fs.Fail("-count needs -send")
	}
	switch strings.ToLower(profile) {
	case "fast":
		o.profile = discovery.ProfileFast
	case "lan":
		o.profile = discovery.ProfileLAN
	default:
		return nil, fs.Fail("-profile %q: want fast or lan", profile)
	}
	if key != "" {
		k, err := hex.DecodeString(key)
		if err != nil {
			return nil, fs.Fail("-key: not hex: %v", err)
		}
		if n := len(k); n != 16 && n != 24 && n != 32 {
			return nil, fs.Fail("-key: %d bytes long; AES needs 16, 24 or 32 (32, 48 or 64 hex digits)", n)
		}
		o.key = k
	}
	if key != "" && o.security.GossipKeyFile() != "" {
		return nil, fs.Fail("-key and -gossip-key both set the gossip key: give one (-gossip-key reads it from a file, such as keys/gossip.key from examples/keygen)")
	}
	if err := o.security.Check(); err != nil {
		return nil, fs.Fail("%v", err)
	}
	return o, nil
}
