package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"
)

// options are the command line: what the driver (chaos tests) passes.
type options struct {
	role        string // consumer, subscriber, responder, sender, publisher, requester
	name        string // peer name, the same across restarts
	inc         int    // incarnation, from 1
	log         string // event log, shared by the incarnations
	listen      string // data endpoint
	gossip      string // gossip bind address
	seeds       []string
	cluster     string
	store       string // sqlite:PATH or postgres:DSN
	prefix      string // the store's table prefix (PostgreSQL: one per sender)
	service     string // the point-to-point channel consumed or sent to
	groups      []string
	partitions  int
	concurrency int
	keys        int
	messages    int     // sender, publisher: total over the keys; requester: requests
	rate        float64 // messages per second over all keys; 0: as fast as possible
	closeWait   time.Duration
	verbose     bool
}

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("chaospeer", flag.ContinueOnError)
	o := &options{}
	var seeds, groups string
	fs.StringVar(&o.role, "role", "", "consumer, subscriber, responder, sender, publisher or requester")
	fs.StringVar(&o.name, "name", "", "peer name (required)")
	fs.IntVar(&o.inc, "inc", 1, "incarnation of the process, from 1")
	fs.StringVar(&o.log, "log", "", "event log file (required)")
	fs.StringVar(&o.listen, "listen", "tcp://127.0.0.1:0", "data endpoint")
	fs.StringVar(&o.gossip, "gossip", "127.0.0.1:0", "gossip bind address")
	fs.StringVar(&seeds, "seeds", "", "comma-separated gossip addresses to join")
	fs.StringVar(&o.cluster, "cluster", "", "gossip cluster name")
	fs.StringVar(&o.store, "store", "", "sqlite:PATH or postgres:DSN (senders and publishers)")
	fs.StringVar(&o.prefix, "prefix", "meshmq", "table prefix of the store")
	fs.StringVar(&o.service, "service", "orders", "service consumed, sent to or requested")
	fs.StringVar(&groups, "groups", "", "subscriber: its group; publisher: every group that must get each event (comma-separated)")
	fs.IntVar(&o.partitions, "partitions", 64, "partitions of the consumed service or subscription")
	fs.IntVar(&o.concurrency, "concurrency", 8, "handler concurrency")
	fs.IntVar(&o.keys, "keys", 16, "keys a sender or publisher sends over")
	fs.IntVar(&o.messages, "messages", 1000, "messages to send (over all keys), or requests to make")
	fs.Float64Var(&o.rate, "rate", 0, "messages per second (0: no pacing)")
	fs.DurationVar(&o.closeWait, "close-wait", 20*time.Second, "how long Close may drain on SIGTERM")
	fs.BoolVar(&o.verbose, "v", false, "peer logs to stderr")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o.seeds = split(seeds)
	o.groups = split(groups)
	switch {
	case o.name == "" || o.log == "":
		return nil, errors.New("-name and -log are required")
	case o.inc < 1:
		return nil, errors.New("-inc must be 1 or more")
	case o.keys < 1 || o.messages < 0 || o.rate < 0:
		return nil, errors.New("-keys, -messages, -rate out of range")
	}
	switch o.role {
	case "consumer", "responder", "requester":
	case "subscriber":
		if len(o.groups) != 1 {
			return nil, errors.New("a subscriber needs one -groups")
		}
	case "sender", "publisher":
		if o.store == "" {
			return nil, fmt.Errorf("a %s needs -store", o.role)
		}
		if o.role == "publisher" && len(o.groups) == 0 {
			return nil, errors.New("a publisher needs -groups")
		}
	default:
		return nil, fmt.Errorf("unknown -role %q", o.role)
	}
	return o, nil
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
