package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/examples/internal/cli"
	"github.com/meshmq/meshmq/peer"
)

// common holds the flags every command takes: how meshctl joins the
// cluster, as whom, and how long it waits.
type common struct {
	join    []string
	gossip  string // gossip bind address
	data    string // data endpoint
	cluster string
	profile discovery.Profile
	name    string
	key     []byte // -key; nil: none
	peers   []discovery.Member
	timeout time.Duration
	expect  int // wait for at least this many members
	verbose bool

	security cli.SecurityFlags

	// raw flag values, checked by check
	joinRaw, profileRaw, keyRaw, peersRaw string
}

// Flag defaults.
const (
	defaultTimeout = 10 * time.Second
	// closeTimeout bounds the graceful close at the end of every command:
	// what meshctl sent is acknowledged before (or given up on), so the
	// close has only to leave the cluster and drain.
	closeTimeout = 5 * time.Second
	// slowWait is when a wait starts saying what it waits for, and how often
	// it says so again.
	slowWait      = time.Second
	slowWaitAgain = 5 * time.Second
)

// commonUsage is the part of every command's help about joining.
const commonUsage = `
Joining: -join takes the gossip address of any member (examples/cluster
prints it: "gossip 127.0.0.1:7946"); meshctl joins as a member of its own,
named -name, and leaves when done. For a cluster started with -cluster,
-curve-key/-allow/-gossip-key or -key, give meshctl the same (its own key
pair, in the others' allowlist; -gossip-key-hex for -key). -timeout bounds
the wait for the cluster.
`

func (c *common) register(fs *cli.Flags) {
	fs.StringVar(&c.joinRaw, "join", "", "the gossip addresses (host:port, comma-separated) of members to join: `SEEDS` such as 127.0.0.1:7946")
	fs.StringVar(&c.gossip, "gossip", "127.0.0.1:0", "gossip bind address, `host:port` (port 0: any free port); another host's cluster needs an address it can reach")
	fs.StringVar(&c.data, "data", "tcp://127.0.0.1:0", "data `endpoint`, tcp://host:port (port 0: any free port)")
	fs.StringVar(&c.cluster, "cluster", "", "cluster `NAME`, as the members were started with (-cluster)")
	fs.StringVar(&c.profileRaw, "profile", "fast", "gossip timings: fast or lan, as the members use")
	fs.StringVar(&c.name, "name", "", "this peer's name, unique in the cluster (default meshctl-<random>)")
	fs.StringVar(&c.keyRaw, "gossip-key-hex", "", "`HEX` AES gossip key, for a cluster started with examples/cluster -key (or -gossip-key, not both)")
	fs.StringVar(&c.peersRaw, "peers", "", "a static member list instead of gossip, `NAME=tcp://HOST:PORT,...` (send, request, bench): each is taken to handle the service")
	fs.DurationVar(&c.timeout, "timeout", defaultTimeout, "how long to wait for the cluster (joining, a member for the target), and then for acknowledgements or the reply")
	fs.IntVar(&c.expect, "expect", 0, "wait until at least `N` members are in view (unset: 1 with -join or -peers)")
	fs.BoolVar(&c.verbose, "v", false, "debug logs from the peer, discovery and memberlist, to standard error")
	c.security.Register(fs.FlagSet)
}

// check checks the common flags after parsing. needJoin says whether the
// command is useless alone (without -join or -peers); static whether it can
// work with a static member list.
func (c *common) check(fs *cli.Flags, needJoin, static bool) error {
	c.join = cli.SplitList(c.joinRaw)
	for _, s := range c.join {
		if cli.CheckHostPort(s) != nil {
			return fs.Fail("-join %q: want comma-separated host:port gossip addresses, such as 127.0.0.1:7946", s)
		}
	}
	if cli.CheckHostPort(c.gossip) != nil {
		return fs.Fail("-gossip %q: want host:port, such as 127.0.0.1:7950", c.gossip)
	}
	if hp, ok := strings.CutPrefix(c.data, "tcp://"); !ok || cli.CheckHostPort(hp) != nil {
		return fs.Fail("-data %q: want tcp://host:port, such as tcp://127.0.0.1:7010", c.data)
	}
	switch strings.ToLower(c.profileRaw) {
	case "fast":
		c.profile = discovery.ProfileFast
	case "lan":
		c.profile = discovery.ProfileLAN
	default:
		return fs.Fail("-profile %q: want fast or lan", c.profileRaw)
	}
	if c.timeout <= 0 {
		return fs.Fail("-timeout %v: want a positive duration, such as 10s", c.timeout)
	}
	if c.expect < 0 {
		return fs.Fail("-expect %d: want a number of members, 0 or more", c.expect)
	}
	if c.name == "" {
		var b [3]byte
		rand.Read(b[:])
		c.name = "meshctl-" + hex.EncodeToString(b[:])
	}
	if c.keyRaw != "" {
		k, err := hex.DecodeString(c.keyRaw)
		if err != nil {
			return fs.Fail("-gossip-key-hex: not hex: %v", err)
		}
		if n := len(k); n != 16 && n != 24 && n != 32 {
			return fs.Fail("-gossip-key-hex: %d bytes long; AES needs 16, 24 or 32 (32, 48 or 64 hex digits)", n)
		}
		c.key = k
		if c.security.GossipKeyFile() != "" {
			return fs.Fail("-gossip-key-hex and -gossip-key both set the gossip key: give one")
		}
	}
	if err := c.security.Check(); err != nil {
		return fs.Fail("%v", err)
	}
	for _, p := range cli.SplitList(c.peersRaw) {
		name, ep, ok := strings.Cut(p, "=")
		hp, tcp := strings.CutPrefix(ep, "tcp://")
		if !ok || name == "" || !tcp || cli.CheckHostPort(hp) != nil {
			return fs.Fail("-peers %q: want NAME=tcp://HOST:PORT, such as a=tcp://127.0.0.1:7001", p)
		}
		if slices.ContainsFunc(c.peers, func(m discovery.Member) bool { return m.Name == name }) {
			return fs.Fail("-peers: %q given twice", name)
		}
		c.peers = append(c.peers, discovery.Member{Name: name, Endpoint: ep})
	}
	switch {
	case len(c.peers) > 0 && !static:
		return fs.Fail("-peers: %s needs gossip (-join): a static member list says nothing about services, subscriptions or types", fs.Name())
	case len(c.peers) > 0 && len(c.join) > 0:
		return fs.Fail("-peers and -join: give one (a static member list, or gossip)")
	case len(c.peers) > 0 && c.keyRaw+c.security.GossipKeyFile() != "":
		return fs.Fail("-peers: no gossip, so no gossip key (-gossip-key, -gossip-key-hex)")
	case len(c.peers) > 0 && c.security.CurveKeyFile() != "":
		return fs.Fail("-peers with -curve-key: secured members admit only the peers their discovery tells them of; use -join")
	case needJoin && len(c.join) == 0 && len(c.peers) == 0:
		return fs.Fail("-join is required: the gossip address of a member of the cluster, such as 127.0.0.1:7946")
	}
	expectSet := false
	fs.Visit(func(f *flag.Flag) { expectSet = expectSet || f.Name == "expect" })
	if !expectSet {
		if len(c.join) > 0 || len(c.peers) > 0 {
			c.expect = 1
		}
	}
	return nil
}

// session is meshctl's peer in the cluster, for one command.
type session struct {
	*common
	e      *env
	p      *peer.Peer
	sec    *cli.Security
	logger *slog.Logger
	// deadLetters receives what the peer gave up on (buffered; extra ones
	// are dropped: commands report the first).
	deadLetters chan peer.DeadLetter
	refusals    cli.Refusals
}

// start starts meshctl's peer: by gossip, joining -join, or with the
// static member list of -peers, each member taken to handle services.
// ctx bounds the start only.
func (c *common) start(ctx context.Context, e *env, services []string, opts ...peer.Option) (*session, error) {
	sec, err := c.security.Load()
	if err != nil {
		return nil, err
	}
	s := &session{common: c, e: e, sec: sec, deadLetters: make(chan peer.DeadLetter, 16)}
	s.logger = cli.Logger(e.stderr, c.verbose)
	base := []peer.Option{
		peer.WithName(c.name), peer.WithListen(c.data), peer.WithLogger(s.logger),
		peer.WithDeadLetter(func(d peer.DeadLetter) {
			select {
			case s.deadLetters <- d:
			default:
			}
		}),
	}
	if len(c.peers) > 0 {
		members := make([]discovery.Member, len(c.peers))
		for i, m := range c.peers {
			m.Services = slices.Clone(services)
			members[i] = m
		}
		base = append(base, peer.WithDiscovery(discovery.NewStatic(members...)))
	} else {
		gopts, err := sec.PeerOptions(c.gossipConfig(c.join))
		if err != nil {
			return nil, err
		}
		base = append(base, gopts...)
	}
	if c.profile == discovery.ProfileFast {
		// As examples/cluster: data connections matched to fast gossip.
		base = append(base, peer.WithHeartbeat(100*time.Millisecond, time.Second),
			peer.WithReconnect(10*time.Millisecond, 500*time.Millisecond))
	}
	p, err := peer.New(ctx, append(base, opts...)...)
	if err != nil {
		return nil, err
	}
	s.p = p
	if c.verbose {
		fmt.Fprintf(e.stderr, "meshctl: peer %s, data %s%s\n", c.name, p.Endpoint(), s.gossipAddr(", gossip "))
		fmt.Fprintf(e.stderr, "meshctl: %s\n", sec.Describe(p.Stats().Security))
	}
	return s, nil
}

// gossipConfig is the gossip configuration of a peer of meshctl joining
// seeds, without the keys of -gossip-key (sec.PeerOptions adds them).
func (c *common) gossipConfig(seeds []string) discovery.GossipConfig {
	gc := discovery.GossipConfig{Bind: c.gossip, Seeds: seeds, Cluster: c.cluster, Profile: c.profile}
	if c.key != nil {
		gc.Keys = [][]byte{c.key}
	}
	return gc
}

// gossipAddr is prefix and the peer's gossip address, "" without gossip.
func (s *session) gossipAddr(prefix string) string {
	if g, ok := s.p.Discovery().(*discovery.Gossip); ok {
		return prefix + g.Addr()
	}
	return ""
}

// close closes the peer gracefully: it leaves the cluster.
func (s *session) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := s.p.Close(ctx); err != nil {
		return fmt.Errorf("leaving the cluster: %w", err)
	}
	return nil
}

// finish closes the session and returns err, or the close's error when err
// is nil.
func (s *session) finish(err error) error {
	if cerr := s.close(); err == nil {
		err = cerr
	}
	return err
}

// target is what a command waits for in the members' view.
type target struct {
	what string // "a member handling service orders"
	ok   func([]discovery.Member) bool
	// missing says what is missing, for the error after -timeout: "no
	// member handles service orders".
	missing string
}

// serviceTarget waits for a member handling service, or for the member to
// (which should handle it).
func serviceTarget(service, to string) target {
	if to != "" {
		return target{
			what:    fmt.Sprintf("member %s (-to)", to),
			missing: fmt.Sprintf("no member named %s (-to)", to),
			ok: func(ms []discovery.Member) bool {
				return slices.ContainsFunc(ms, func(m discovery.Member) bool { return m.Name == to })
			},
		}
	}
	return target{
		what:    "a member handling service " + service,
		missing: "no member handles service " + service,
		ok: func(ms []discovery.Member) bool {
			return slices.ContainsFunc(ms, func(m discovery.Member) bool { return m.Handles(service) })
		},
	}
}

// topicTarget waits for a member subscribing to a pattern matching topic.
func topicTarget(topic string) target {
	return target{
		what:    "a subscriber to topic " + topic,
		missing: "no member subscribes to topic " + topic,
		ok: func(ms []discovery.Member) bool {
			return len(subscribers(ms, topic)) > 0
		},
	}
}

// subscribers returns the subscriptions of members matching topic, as
// "member (pattern, group)".
func subscribers(ms []discovery.Member, topic string) []string {
	var out []string
	for _, m := range ms {
		for _, sub := range m.Subscriptions {
			if channel.MatchTopic(sub.Pattern, topic) {
				out = append(out, fmt.Sprintf("%s (%s)", m.Name, describeSubscription(sub)))
			}
		}
	}
	return out
}

// await waits until meshctl has joined the cluster, until at least -expect
// members are in view and until t (if any) holds, for -timeout. With
// settle, it then waits until the view has stopped changing for a moment
// (every member's catalog fetched), within what is left of -timeout: for
// commands that report on the whole cluster.
func (s *session) await(ctx context.Context, t *target, settle bool) error {
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	said := time.Time{}
	say := func(what string) {
		if now := time.Now(); now.Sub(start) >= slowWait && now.Sub(said) >= slowWaitAgain {
			said = now
			fmt.Fprintf(s.e.stderr, "meshctl: waiting for %s (%v so far; members: %s)\n",
				what, now.Sub(start).Round(100*time.Millisecond), summarize(s.p.Members()))
		}
		if line, ok := s.refusals.Check(s.p.Stats().Security, time.Now()); ok {
			fmt.Fprintf(s.e.stderr, "meshctl: %s\n", line)
		}
	}
	joined := func() bool {
		select {
		case <-s.p.Ready():
			return true
		default:
			return false
		}
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	// wait waits until ok holds; after -timeout it fails with missing and
	// the members in view.
	wait := func(what, missing string, ok func() bool) error {
		for !ok() {
			say(what)
			select {
			case <-tick.C:
			case <-wctx.Done():
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if !joined() {
					return fmt.Errorf("could not join the cluster at %s within %v: no member answered "+
						"(is one's gossip there, with the same -cluster and gossip key?)", strings.Join(s.join, ", "), s.timeout)
				}
				return fmt.Errorf("%s after %v; members: %s", missing, s.timeout, summarize(s.p.Members()))
			}
		}
		return nil
	}
	if err := wait("gossip to join "+strings.Join(s.join, ", "), "", joined); err != nil {
		return err
	}
	if s.expect > 0 {
		err := wait(fmt.Sprintf("%d members", s.expect), fmt.Sprintf("fewer than %d members (-expect)", s.expect),
			func() bool { return len(s.p.Members()) >= s.expect })
		if err != nil {
			return err
		}
	}
	if t != nil {
		if err := wait(t.what, t.missing, func() bool { return t.ok(s.p.Members()) }); err != nil {
			return err
		}
	}
	if settle && len(s.peers) == 0 {
		s.settle(wctx)
	}
	return ctx.Err()
}

// settle waits until the members' view has not changed for a while (a
// few gossip rounds), or until ctx ends.
func (s *session) settle(ctx context.Context) {
	quiet := 300 * time.Millisecond
	if s.profile == discovery.ProfileLAN {
		quiet = time.Second
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	last, since := viewKey(s.p.Members()), time.Now()
	for time.Since(since) < quiet {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if k := viewKey(s.p.Members()); k != last {
			last, since = k, time.Now()
		}
	}
}

// viewKey sums up a view: members, endpoints, services, subscriptions and
// message types.
func viewKey(ms []discovery.Member) string {
	var b strings.Builder
	for _, m := range sortMembers(ms) {
		fmt.Fprintf(&b, "%s %s %s %v %v %d|", m.Name, m.Endpoint, m.Key, sortedCopy(m.Services), m.Subscriptions, len(m.MessageTypes))
	}
	return b.String()
}

// summarize names members and what they serve, for messages:
// "a (serves orders), b (subscribes orders.>)", "none".
func summarize(ms []discovery.Member) string {
	if len(ms) == 0 {
		return "none"
	}
	var parts []string
	for _, m := range sortMembers(ms) {
		var what []string
		if len(m.Services) > 0 {
			what = append(what, "serves "+strings.Join(sortedCopy(m.Services), ", "))
		}
		for _, sub := range m.Subscriptions {
			what = append(what, "subscribes "+describeSubscription(sub))
		}
		if len(what) == 0 {
			what = append(what, "serves nothing")
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", m.Name, strings.Join(what, "; ")))
	}
	return strings.Join(parts, ", ")
}

func describeSubscription(sub discovery.Subscription) string {
	var extra []string
	if sub.Group != "" {
		extra = append(extra, "group "+sub.Group)
	}
	if sub.Partitions > 0 {
		extra = append(extra, fmt.Sprintf("%d partitions", sub.Partitions))
	}
	if sub.BestEffort {
		extra = append(extra, "best effort")
	}
	if len(extra) == 0 {
		return sub.Pattern
	}
	return sub.Pattern + " [" + strings.Join(extra, ", ") + "]"
}

func sortMembers(ms []discovery.Member) []discovery.Member {
	ms = slices.Clone(ms)
	slices.SortFunc(ms, func(a, b discovery.Member) int { return strings.Compare(a.Name, b.Name) })
	return ms
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// deadLetterError is the error of a message given up on.
func deadLetterError(d peer.DeadLetter) error {
	msg := fmt.Sprintf("dead-lettered (%s) after %s", d.Reason, plural(d.Attempts, "attempt", "attempts"))
	if d.Destination != "" {
		msg += " at " + d.Destination
	}
	if d.Err != nil {
		msg += ": " + d.Err.Error()
	}
	return errors.New(msg)
}

// destinations lists the members meshctl sent to, with what they
// acknowledged: "b (acked 1)".
func destinations(st peer.Stats) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(st.Destinations)) {
		d := st.Destinations[name]
		state := "connected"
		if !d.Connected {
			state = "not connected"
		}
		parts = append(parts, fmt.Sprintf("%s (sent %d, acked %d, in flight %d, %s)", name, d.Sent, d.Acked, d.InFlight, state))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
