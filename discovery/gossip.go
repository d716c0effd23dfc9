package discovery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/meshmq/meshmq/internal/wire"
	"github.com/meshmq/meshmq/security"
)

// Profile picks memberlist's timings.
type Profile uint8

const (
	// ProfileLAN is memberlist's LAN configuration: a crashed peer is
	// detected in about 5-8 s, joins converge in under a second.
	ProfileLAN Profile = iota
	// ProfileFast suits tests and single-host clusters: a crashed peer is
	// detected in about 0.5 s, at the cost of more gossip traffic.
	ProfileFast
)

// Catalog is what a member offers, fetched from it over the data connection
// (its node metadata carries only the version).
type Catalog struct {
	Version       uint64
	Services      []string
	Partitions    map[string]int // partition counts of partitioned services
	Subscriptions []Subscription
	MessageTypes  []MessageType
}

// CatalogFetcher fetches a member's catalog; the peer provides one that asks
// over the data connection. have is the version already held (0: none); a
// fetcher returns nil, nil when the member answered that its catalog is
// still that version (not modified, PROTOCOL.md 10): the member keeps what it
// has.
type CatalogFetcher func(ctx context.Context, m Member, have uint64) (*Catalog, error)

// GossipConfig configures Gossip.
type GossipConfig struct {
	// Bind is the gossip address, host:port (UDP and TCP); port 0 picks a
	// free one. Default "127.0.0.1:0".
	Bind string
	// Advertise is the address others reach this node at, when it differs
	// from Bind (NAT, containers).
	Advertise string
	// Seeds are gossip addresses (host:port) of members to join. Joining is
	// retried until one answers, and repeated every RejoinInterval for seeds
	// that are not members, so that partitions heal.
	Seeds []string
	// Keys, if set, encrypt and authenticate gossip (AES-GCM; 16, 24 or 32
	// bytes each); the first is used to encrypt, all to decrypt. A node
	// without a key cannot join or read the gossip.
	Keys [][]byte
	// Cluster names the cluster (memberlist's label, up to 255 bytes): nodes
	// of different clusters ignore each other's gossip even when they reach
	// each other's addresses, as on a shared host or after a port is reused.
	// All members of a cluster use the same. Default: none.
	Cluster string
	// Profile picks the timings. Default ProfileLAN.
	Profile Profile
	// RejoinInterval is how often seeds are joined again. Default 30 s
	// (LAN) or 1 s (fast).
	RejoinInterval time.Duration
	// Fetch fetches members' catalogs. A peer sets it; without one, members
	// are listed without services.
	Fetch CatalogFetcher
	// Logger receives discovery's and memberlist's logs. Default: none.
	Logger *slog.Logger
}

// Gossip is discovery by gossip on hashicorp/memberlist. It runs a
// memberlist node per peer start under a unique node name (the peer name and
// a random suffix), so a peer restarted under the same name, on the same or
// another address, is a new node that replaces the old one at once instead of
// waiting for memberlist to reclaim the name. Members are reported by peer
// name, the newest start winning.
//
// Events: Joined when a member's catalog is first known, Updated when it
// changes (or the peer restarted), Left when it left gracefully (it says so
// in its metadata before leaving), Failed when memberlist declared it dead.
type Gossip struct {
	cfg GossipConfig
	log *slog.Logger

	mu       sync.Mutex
	ml       *memberlist.Memberlist
	addr     string // our gossip address
	keyring  *memberlist.Keyring
	local    meta
	metaB    []byte
	notify   func(Event)
	view     map[string]*viewEntry // by peer name
	events   []rawEvent            // from memberlist's callbacks, for the loop
	started  bool
	left     bool
	ready    chan struct{}
	readyOne sync.Once

	wake   chan struct{}
	update chan struct{}
	quit   chan struct{}
	ctx    context.Context // canceled with quit: bounds catalog fetches
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type viewEntry struct {
	node   string // memberlist node name of the current start
	addr   string // its gossip address, host:port
	meta   meta
	member Member
	known  bool   // catalog fetched and Joined reported
	catVer uint64 // version of the catalog applied: concurrent fetches may answer out of order
}

type rawKind uint8

const (
	rawJoin rawKind = iota
	rawUpdate
	rawLeave
	rawCatalog // a fetch finished
)

type rawEvent struct {
	kind rawKind
	node string
	addr string
	meta meta
	err  error
	cat  *Catalog
	left bool // memberlist says the node left (it broadcast its own leave)
}

// NewGossip returns a Gossip discovery; Start joins.
func NewGossip(cfg GossipConfig) (*Gossip, error) {
	if cfg.Bind == "" {
		cfg.Bind = "127.0.0.1:0"
	}
	if cfg.RejoinInterval <= 0 {
		cfg.RejoinInterval = 30 * time.Second
		if cfg.Profile == ProfileFast {
			cfg.RejoinInterval = time.Second
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	g := &Gossip{cfg: cfg, log: cfg.Logger, view: map[string]*viewEntry{}, ready: make(chan struct{}),
		wake: make(chan struct{}, 1), update: make(chan struct{}, 1), quit: make(chan struct{})}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	if len(cfg.Cluster) > 255 {
		return nil, fmt.Errorf("discovery: Cluster longer than 255 bytes")
	}
	if len(cfg.Keys) > 0 {
		for _, k := range cfg.Keys {
			if err := memberlist.ValidateKey(k); err != nil {
				return nil, fmt.Errorf("discovery: gossip key: %w", err)
			}
		}
		kr, err := memberlist.NewKeyring(cfg.Keys, cfg.Keys[0])
		if err != nil {
			return nil, fmt.Errorf("discovery: gossip keyring: %w", err)
		}
		g.keyring = kr
	}
	return g, nil
}

func (g *Gossip) config(nodeName string) (*memberlist.Config, error) {
	var c *memberlist.Config
	switch g.cfg.Profile {
	case ProfileFast:
		c = memberlist.DefaultLocalConfig()
		c.ProbeInterval = 100 * time.Millisecond
		c.ProbeTimeout = 50 * time.Millisecond
		c.GossipInterval = 20 * time.Millisecond
		c.SuspicionMult = 3
		c.SuspicionMaxTimeoutMult = 3
		c.RetransmitMult = 3
		c.PushPullInterval = time.Second
		c.TCPTimeout = 500 * time.Millisecond
		c.GossipToTheDeadTime = time.Second
		c.DeadNodeReclaimTime = 500 * time.Millisecond
	default:
		c = memberlist.DefaultLANConfig()
	}
	c.Name = nodeName
	host, port, err := splitHostPort(g.cfg.Bind)
	if err != nil {
		return nil, fmt.Errorf("discovery: Bind: %w", err)
	}
	c.BindAddr, c.BindPort = host, port
	c.AdvertisePort = port
	if g.cfg.Advertise != "" {
		if c.AdvertiseAddr, c.AdvertisePort, err = splitHostPort(g.cfg.Advertise); err != nil {
			return nil, fmt.Errorf("discovery: Advertise: %w", err)
		}
	}
	c.Keyring = g.keyring
	c.Label = g.cfg.Cluster
	c.Delegate = (*delegate)(g)
	c.Events = (*events)(g)
	c.Logger = newStdLogger(g.log)
	return c, nil
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port in %q", addr)
	}
	return host, port, nil
}

// Start implements Discovery: it starts the memberlist node and joins the
// seeds in the background; Ready is closed once joined.
func (g *Gossip) Start(ctx context.Context, local Member, notify func(Event)) error {
	g.mu.Lock()
	if g.started {
		g.mu.Unlock()
		return errors.New("discovery: gossip already started")
	}
	var suffix [6]byte
	rand.Read(suffix[:])
	g.local = meta{Version: metaVersion, Name: local.Name, Endpoint: local.Endpoint, Epoch: uint64(time.Now().UnixNano()),
		CatalogVersion: 1, Protocol: wire.Version}
	if !local.Key.IsZero() {
		g.local.Key = local.Key[:]
	}
	b, err := g.local.encode()
	if err != nil {
		g.mu.Unlock()
		return err
	}
	g.metaB, g.notify, g.started = b, notify, true
	g.mu.Unlock()
	conf, err := g.config(local.Name + "#" + hex.EncodeToString(suffix[:]))
	if err != nil {
		return err
	}
	// Create calls back into the delegate: no lock may be held here.
	ml, err := createMemberlist(conf)
	if err != nil {
		return fmt.Errorf("discovery: start gossip on %s: %w", g.cfg.Bind, err)
	}
	// Read our address once, before anything updates our node (memberlist
	// hands out its own node, which it writes under its lock).
	n := ml.LocalNode()
	addr := net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
	g.mu.Lock()
	g.ml, g.addr = ml, addr
	g.mu.Unlock()
	g.wg.Add(3)
	go g.loop()
	go g.joinLoop()
	go g.updateLoop()
	return nil
}

// createMemberlist turns memberlist's panics (oversized metadata) into errors.
func createMemberlist(conf *memberlist.Config) (ml *memberlist.Memberlist, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("memberlist: %v", r)
		}
	}()
	return memberlist.Create(conf)
}

// SetCatalogFetcher sets how catalogs are fetched, when the configuration
// had none; the peer calls it before Start with one that asks over the data
// connection.
func (g *Gossip) SetCatalogFetcher(f CatalogFetcher) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cfg.Fetch == nil {
		g.cfg.Fetch = f
	}
}

// Ready is closed once the node has joined a seed (at once without seeds).
func (g *Gossip) Ready() <-chan struct{} { return g.ready }

// Addr returns the gossip address others can join, with the real port.
func (g *Gossip) Addr() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.addr
}

// Members implements Discovery: the members whose catalog is known.
func (g *Gossip) Members() []Member {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Member, 0, len(g.view))
	for _, e := range g.view {
		if e.known {
			out = append(out, e.member)
		}
	}
	slices.SortFunc(out, func(a, b Member) int { return cmpString(a.Name, b.Name) })
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// MemberKey returns the CURVE public key the named member advertises in
// its gossip metadata, known before its catalog is (a member fetching our
// catalog connects before we have fetched its own).
func (g *Gossip) MemberKey(name string) (security.PublicKey, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if e := g.view[name]; e != nil && !e.member.Key.IsZero() {
		return e.member.Key, true
	}
	// Not in the view yet: memberlist may have told us of the node
	// already, in an event still waiting for the loop. Its newest start
	// decides.
	var best meta
	for _, ev := range g.events {
		if (ev.kind == rawJoin || ev.kind == rawUpdate) && ev.meta.Name == name && ev.meta.Epoch >= best.Epoch {
			best = ev.meta
		}
	}
	if k := best.key(); best.Name != "" && !k.IsZero() {
		return k, true
	}
	return security.PublicKey{}, false
}

// Encrypted reports whether gossip is encrypted and authenticated
// (GossipConfig.Keys).
func (g *Gossip) Encrypted() bool { return g.keyring != nil }

// Update implements Discovery: a new catalog version is gossiped; members
// fetch the catalog from this peer.
func (g *Gossip) Update(local Member) error {
	g.mu.Lock()
	if !g.started || g.left {
		g.mu.Unlock()
		return ErrNotStarted
	}
	g.local.CatalogVersion++
	g.local.Endpoint = local.Endpoint
	b, err := g.local.encode()
	if err == nil {
		g.metaB = b
	}
	g.mu.Unlock()
	if err != nil {
		return err
	}
	signalChan(g.update)
	return nil
}

// Leave implements Discovery: it says it is leaving, leaves, and shuts the
// node down. Idempotent.
func (g *Gossip) Leave(ctx context.Context) error {
	g.mu.Lock()
	if !g.started || g.left || g.ml == nil {
		g.mu.Unlock()
		return nil
	}
	g.left = true
	g.local.Leaving = true
	b, _ := g.local.encode()
	g.metaB = b
	ml := g.ml
	g.mu.Unlock()
	// A broadcast goes out within a gossip interval or two: waiting longer
	// only delays a Close when nobody is left to hear it.
	timeout := time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, max(time.Until(d)/4, 10*time.Millisecond))
	}
	// The leave is announced as well as can be: a broadcast nobody took
	// in time (the others left first, or are unreachable) is no failure of
	// ours, and they see the node fail instead.
	var errs []error
	if err := ml.UpdateNode(timeout); err != nil {
		g.log.Info("announcing the leave", "err", err)
	}
	if err := ml.Leave(timeout); err != nil {
		g.log.Info("leaving", "err", err)
	}
	close(g.quit)
	g.cancel()
	g.wg.Wait()
	if err := ml.Shutdown(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("discovery: leave: %w", errors.Join(errs...))
	}
	return nil
}

// Shutdown stops the node without leaving: the others detect it as failed,
// as after a crash. Leave is the graceful way out.
func (g *Gossip) Shutdown() {
	g.mu.Lock()
	if !g.started || g.left || g.ml == nil {
		g.mu.Unlock()
		return
	}
	g.left = true
	ml := g.ml
	g.mu.Unlock()
	close(g.quit)
	g.cancel()
	g.wg.Wait()
	ml.Shutdown()
}

// AddKey, UseKey and RemoveKey rotate the gossip key: add the new key on every
// node, then use it on every node, then remove the old one.
func (g *Gossip) AddKey(key []byte) error {
	return g.withKeyring(func(k *memberlist.Keyring) error { return k.AddKey(key) })
}
func (g *Gossip) UseKey(key []byte) error {
	return g.withKeyring(func(k *memberlist.Keyring) error { return k.UseKey(key) })
}
func (g *Gossip) RemoveKey(key []byte) error {
	return g.withKeyring(func(k *memberlist.Keyring) error { return k.RemoveKey(key) })
}

func (g *Gossip) withKeyring(fn func(*memberlist.Keyring) error) error {
	if g.keyring == nil {
		return errors.New("discovery: gossip encryption is off (no Keys configured)")
	}
	return fn(g.keyring)
}

func signalChan(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// joinLoop joins the seeds until one answers, then re-joins seeds that are
// not members every RejoinInterval (memberlist never heals a partition).
func (g *Gossip) joinLoop() {
	defer g.wg.Done()
	if len(g.cfg.Seeds) == 0 {
		g.readyOne.Do(func() { close(g.ready) })
		return
	}
	delay := 50 * time.Millisecond
	joined := false
	for {
		missing := g.missingSeeds()
		if len(missing) > 0 {
			n, err := g.ml.Join(missing)
			switch {
			case n > 0:
				if !joined {
					joined = true
					g.readyOne.Do(func() { close(g.ready) })
				}
			case err != nil && !joined:
				g.log.Info("joining seeds", "seeds", missing, "err", err)
			}
		}
		wait := g.cfg.RejoinInterval
		if !joined {
			wait, delay = delay, min(2*delay, g.cfg.RejoinInterval)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-g.quit:
			t.Stop()
			return
		}
	}
}

// missingSeeds returns the seeds no known member is at. (It reads our own
// view: memberlist's nodes change under its lock.)
func (g *Gossip) missingSeeds() []string {
	g.mu.Lock()
	have := map[string]bool{}
	for _, e := range g.view {
		have[e.addr] = true
	}
	g.mu.Unlock()
	var out []string
	for _, s := range g.cfg.Seeds {
		if !have[s] {
			out = append(out, s)
		}
	}
	return out
}

// updateLoop gossips metadata changes; UpdateNode blocks while it
// retransmits, so it runs here, coalescing changes.
func (g *Gossip) updateLoop() {
	defer g.wg.Done()
	for {
		select {
		case <-g.update:
			if err := g.ml.UpdateNode(time.Second); err != nil {
				g.log.Warn("gossiping an update", "err", err)
			}
		case <-g.quit:
			return
		}
	}
}

// loop applies memberlist's events to the view and calls notify, in order,
// outside memberlist's locks (calling back into memberlist from its
// callbacks deadlocks).
func (g *Gossip) loop() {
	defer g.wg.Done()
	for {
		select {
		case <-g.wake:
		case <-g.quit:
			return
		}
		for {
			g.mu.Lock()
			evs := g.events
			g.events = nil
			g.mu.Unlock()
			if len(evs) == 0 {
				break
			}
			for _, ev := range evs {
				for _, out := range g.apply(ev) {
					if g.notify != nil {
						g.notify(out)
					}
				}
			}
		}
	}
}

func (g *Gossip) post(ev rawEvent) {
	g.mu.Lock()
	g.events = append(g.events, ev)
	g.mu.Unlock()
	signalChan(g.wake)
}

// apply updates the view for one event and returns what to report.
func (g *Gossip) apply(ev rawEvent) []Event {
	g.mu.Lock()
	defer g.mu.Unlock()
	name := ev.meta.Name
	if name == g.local.Name {
		return nil
	}
	e := g.view[name]
	switch ev.kind {
	case rawJoin, rawUpdate:
		switch {
		case e == nil:
			e = &viewEntry{node: ev.node, addr: ev.addr, meta: ev.meta, member: Member{Name: name, Endpoint: ev.meta.Endpoint, Key: ev.meta.key()}}
			g.view[name] = e
			g.fetch(e, 0)
		case ev.node != e.node:
			if ev.meta.Epoch < e.meta.Epoch {
				return nil // an older start of the peer, still gossiped about
			}
			// The peer restarted: the new start replaces the old one.
			e.node, e.addr, e.meta, e.catVer = ev.node, ev.addr, ev.meta, 0
			e.member.Endpoint, e.member.Key = ev.meta.Endpoint, ev.meta.key()
			g.fetch(e, 0)
			if e.known {
				return []Event{{Type: Updated, Member: e.member}}
			}
		default:
			old := e.meta
			e.meta, e.addr = ev.meta, ev.addr
			if ev.meta.CatalogVersion != old.CatalogVersion || ev.meta.Endpoint != old.Endpoint {
				e.member.Endpoint = ev.meta.Endpoint
				// have: the version applied, not the one gossip announced
				// before (its fetch may not have come back).
				have := uint64(0)
				if e.known {
					have = e.catVer
				}
				g.fetch(e, have)
			}
		}
	case rawCatalog:
		if e == nil || ev.node != e.node {
			return nil
		}
		if ev.err != nil {
			g.log.Info("fetching a catalog", "member", name, "err", ev.err)
			return nil
		}
		if ev.cat != nil {
			if e.known && ev.cat.Version < e.catVer {
				return nil // an older answer than the one applied
			}
			e.catVer = ev.cat.Version
			e.member.Services = slices.Clone(ev.cat.Services)
			e.member.Partitions = maps.Clone(ev.cat.Partitions)
			e.member.Subscriptions = slices.Clone(ev.cat.Subscriptions)
			e.member.MessageTypes = slices.Clone(ev.cat.MessageTypes)
		}
		typ := Updated
		if !e.known {
			e.known, typ = true, Joined
		}
		return []Event{{Type: typ, Member: e.member}}
	case rawLeave:
		if e == nil || ev.node != e.node {
			return nil // a replaced start going away
		}
		delete(g.view, name)
		if !e.known {
			return nil
		}
		typ := Failed
		// Either signal of a graceful leave will do: the leaving flag in its
		// metadata, or memberlist's own leave message.
		if e.meta.Leaving || ev.meta.Leaving || ev.left {
			typ = Left
		}
		return []Event{{Type: typ, Member: e.member}}
	}
	return nil
}

// fetch gets e's catalog in the background and posts the result. The caller
// holds g.mu.
func (g *Gossip) fetch(e *viewEntry, have uint64) {
	if g.cfg.Fetch == nil {
		g.post0(rawEvent{kind: rawCatalog, node: e.node, meta: e.meta})
		return
	}
	m, node, fetch := e.member, e.node, g.cfg.Fetch
	m.Services, m.Partitions, m.Subscriptions, m.MessageTypes = nil, nil, nil, nil
	ver := e.meta
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		// Retry until the catalog comes, with backoff, for as long as this
		// start of the member is in the view: a member whose catalog we
		// never get would never be routed to.
		for attempt := 0; ; attempt++ {
			ctx, cancel := context.WithTimeout(g.ctx, 5*time.Second)
			cat, err := fetch(ctx, m, have)
			cancel()
			if err == nil {
				g.post(rawEvent{kind: rawCatalog, node: node, meta: ver, cat: cat})
				return
			}
			if attempt == 4 {
				g.log.Info("fetching a catalog, still trying", "member", m.Name, "err", err)
			}
			t := time.NewTimer(min(time.Duration(50<<min(attempt, 7))*time.Millisecond, 5*time.Second))
			select {
			case <-t.C:
			case <-g.ctx.Done():
				t.Stop()
				return
			}
			g.mu.Lock()
			e := g.view[m.Name]
			current := e != nil && e.node == node
			g.mu.Unlock()
			if !current {
				return
			}
		}
	}()
}

// post0 posts an event while g.mu is held.
func (g *Gossip) post0(ev rawEvent) {
	g.events = append(g.events, ev)
	signalChan(g.wake)
}

// delegate gives memberlist our metadata.
type delegate Gossip

func (d *delegate) NodeMeta(limit int) []byte {
	g := (*Gossip)(d)
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.metaB) > limit {
		return nil
	}
	return slices.Clone(g.metaB)
}
func (d *delegate) NotifyMsg([]byte)                {}
func (d *delegate) GetBroadcasts(int, int) [][]byte { return nil }
func (d *delegate) LocalState(bool) []byte          { return nil }
func (d *delegate) MergeRemoteState([]byte, bool)   {}

// events queues memberlist's callbacks for the loop; they run under
// memberlist's lock, so they only copy.
type events Gossip

func (ev *events) raw(kind rawKind, n *memberlist.Node) {
	g := (*Gossip)(ev)
	m, err := decodeMeta(n.Meta)
	if err != nil {
		g.log.Debug("ignoring a gossip node", "node", n.Name, "err", err)
		return
	}
	// Copy what we need now: memberlist changes its nodes under its lock.
	addr := net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
	g.post(rawEvent{kind: kind, node: n.Name, addr: addr, meta: m, left: n.State == memberlist.StateLeft})
}

func (ev *events) NotifyJoin(n *memberlist.Node)   { ev.raw(rawJoin, n) }
func (ev *events) NotifyUpdate(n *memberlist.Node) { ev.raw(rawUpdate, n) }
func (ev *events) NotifyLeave(n *memberlist.Node)  { ev.raw(rawLeave, n) }
