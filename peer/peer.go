package peer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/internal/dedup"
	"github.com/meshmq/meshmq/internal/transport"
	"github.com/meshmq/meshmq/internal/wire"
	"github.com/meshmq/meshmq/peer/outbox"
)

// Peer is a meshmq peer embedded in a service: it handles the services it
// registers and sends to others. All methods are safe for concurrent use.
type Peer struct {
	cfg       config
	log       *slog.Logger
	tr        *transport.Transport
	disc      discovery.Discovery
	store     outbox.Store
	ownStore  bool
	send      SendFunc // the send middleware chain around p.sendCore
	dedup     *dedup.Window
	ctx       context.Context // canceled when Close gives up waiting: handlers' ctx
	cancel    context.CancelFunc
	wg        sync.WaitGroup // the peer's own goroutines
	closing   atomic.Bool
	closeOnce sync.Once
	closeErr  error
	closed    chan struct{}

	members  atomic.Pointer[[]discovery.Member]       // the discovery view, refreshed on events
	handlers atomic.Pointer[map[string]*service]      // copy of services for the receive path
	subTable atomic.Pointer[map[string]*Subscription] // copy of subs for the receive path
	// ackStore is false for the memory store, which has nothing to do on
	// acknowledgements: the peer then skips collecting them.
	ackStore bool
	durable  bool // the store keeps records across restarts: Close keeps, New restores
	relay    outbox.Relay
	// relayStop ends the relay loop when Close begins.
	relayStop context.CancelFunc
	sharedMu  sync.Mutex
	shared    map[uint64]int // a published outbox record's Seq: its copies not yet settled
	// heldEvents are published outbox records waiting for a subscriber,
	// in order; only the relay loop touches them.
	heldEvents []heldEvent
	heldTopics map[string]int // how many of heldEvents each topic has

	mu       sync.Mutex
	services map[string]*service
	subs     map[string]*Subscription // by subKey
	dests    map[string]*dest
	parked   []*outMsg // no instance of their service yet
	// drained names the peers whose last connection ended with their
	// DRAIN: they closed gracefully (Close drains after leaving discovery).
	drained  map[string]bool
	stopped  bool // Close has taken the list of destinations
	parkWake chan struct{}
	parkQuit chan struct{}

	buf            buffer
	recv           receiver
	stats          counters
	catalogs       catalogRequests
	replies        pendingReplies
	replyCache     replyCache
	groups         groups
	lanes          lanes
	catalogVersion atomic.Uint64           // bumped by Handle
	emits          []discovery.MessageType // Emits
	sec            securityState
	chans          channelTable
	memberEvents   memberCounters
}

// New starts a peer: it listens, joins discovery and is ready to Handle and
// Send. ctx bounds the start only.
func New(ctx context.Context, opts ...Option) (*Peer, error) {
	cfg := defaults()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := setupSecurity(&cfg); err != nil {
		return nil, err
	}
	if cfg.gossip != nil {
		if cfg.disc != nil {
			return nil, &OptionError{"WithGossip", "WithDiscovery given too"}
		}
		gc := *cfg.gossip
		if gc.Logger == nil {
			gc.Logger = cfg.logger
		}
		g, err := discovery.NewGossip(gc)
		if err != nil {
			return nil, err
		}
		cfg.disc = g
	}
	p := &Peer{
		cfg:      cfg,
		log:      cfg.logger.With("peer", cfg.name),
		disc:     cfg.disc,
		store:    cfg.store,
		dedup:    dedup.NewWindow(cfg.dedupWindow),
		closed:   make(chan struct{}),
		services: make(map[string]*service),
		subs:     make(map[string]*Subscription),
		drained:  make(map[string]bool),
		dests:    make(map[string]*dest),
		parkWake: make(chan struct{}, 1),
		parkQuit: make(chan struct{}),
	}
	if p.disc == nil {
		p.disc = discovery.NewStatic()
	}
	if p.store == nil {
		p.store, p.ownStore = outbox.NewMemory(0), true
	}
	_, volatile := p.store.(*outbox.Memory)
	p.ackStore = !volatile
	if d, ok := p.store.(outbox.Durable); ok {
		p.durable = d.Durable()
	}
	if o, ok := p.store.(outbox.Owned); ok {
		if err := o.SetOwner(cfg.name); err != nil {
			return nil, fmt.Errorf("peer: store: %w", err)
		}
	}
	p.shared = make(map[uint64]int)
	p.heldTopics = make(map[string]int)
	if cfg.relay != nil && !p.durable {
		return nil, &OptionError{"WithRelay", "relaying an outbox needs the store that holds it (WithStore)"}
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.buf.init(cfg.maxMessages, cfg.maxBytes)
	p.recv.init(p)
	p.groups.init()
	p.lanes.init()
	p.replyCache.init(replyCacheSize)
	p.send = chainSend(p.sendCore, cfg.sendMW)

	var handler transport.Handler = (*transportHandler)(p)
	if cfg.wrapHandler != nil {
		handler = cfg.wrapHandler(handler)
	}
	tr, err := transport.Listen(transport.Config{
		Name:              cfg.name,
		Listen:            cfg.listen,
		Advertise:         cfg.advertise,
		Handler:           handler,
		Logger:            cfg.logger,
		HeartbeatInterval: cfg.heartbeat,
		HeartbeatTimeout:  cfg.heartbeatTO,
		Reconnect:         cfg.reconnect,
		MaxMessageSize:    cfg.maxMessageLen,
		MaxConnections:    cfg.maxConns,
		MaxHandshakes:     cfg.maxHandshakes,
		InitialCredit:     uint64(cfg.credit),
		Curve:             p.curveConfig(),
	})
	if err != nil {
		p.cancel()
		return nil, fmt.Errorf("peer: %w", err)
	}
	p.tr = tr
	if f, ok := p.disc.(interface {
		SetCatalogFetcher(discovery.CatalogFetcher)
	}); ok {
		f.SetCatalogFetcher(p.fetchCatalog)
	}
	p.startSecurity()
	if err := p.disc.Start(ctx, p.member(), p.onMember); err != nil {
		p.stopSecurity()
		tr.Close(ctx)
		p.cancel()
		return nil, fmt.Errorf("peer: discovery: %w", err)
	}
	p.refreshMembers()
	for _, m := range p.view() {
		// Members known at once (static discovery) send no Joined event.
		p.groups.update(discovery.Event{Type: discovery.Joined, Member: m}, cfg.retry, time.Now())
	}
	p.wg.Add(2)
	go p.recv.flushLoop()
	go p.parkLoop()
	if p.durable {
		if err := p.restore(ctx); err != nil {
			p.Close(context.Background())
			return nil, err
		}
	}
	switch r, ok := p.store.(outbox.Relayer); {
	case cfg.relay != nil:
		p.relay = cfg.relay
	case ok && p.durable && !cfg.noRelay:
		p.relay = r.Relay()
	}
	if p.relay != nil {
		var relayCtx context.Context
		relayCtx, p.relayStop = context.WithCancel(context.Background())
		p.wg.Add(1)
		go p.relayLoop(relayCtx)
	}
	return p, nil
}

// Ready is closed once discovery has joined the cluster (at once for a
// discovery without a join, such as discovery.Static).
func (p *Peer) Ready() <-chan struct{} {
	if r, ok := p.disc.(interface{ Ready() <-chan struct{} }); ok {
		return r.Ready()
	}
	closed := make(chan struct{})
	close(closed)
	return closed
}

// Discovery returns the discovery the peer uses: the one given to
// WithDiscovery, the *discovery.Gossip built for WithSeeds or WithGossip
// (for its gossip address, Addr), or the default *discovery.Static.
func (p *Peer) Discovery() discovery.Discovery { return p.disc }

// Members returns the other members of the cluster as discovery sees them.
func (p *Peer) Members() []discovery.Member { return slices.Clone(p.view()) }

// Name returns the peer's name.
func (p *Peer) Name() string { return p.cfg.name }

// Advertisement returns what the peer advertises to the cluster: its name,
// endpoint, services and subscriptions (with their bounds), as other members
// see it. A static member list (discovery.Static) can be built from it.
func (p *Peer) Advertisement() discovery.Member { return p.member() }

// Endpoint returns the data endpoint the peer listens on, with the real port.
func (p *Peer) Endpoint() string { return p.tr.Endpoint() }

func (p *Peer) member() discovery.Member {
	m, _ := p.memberAt()
	return m
}

// memberAt is member with the catalog version it is: both read under p.mu,
// which every change of the catalog holds while it bumps the version. The
// lists are in the catalog's canonical order (PROTOCOL.md 10), so that one
// version has one encoding.
func (p *Peer) memberAt() (discovery.Member, uint64) {
	m := discovery.Member{Name: p.cfg.name, Endpoint: p.tr.Endpoint()}
	if sc := p.cfg.security; sc != nil {
		m.Key = sc.Keys.Public
	}
	if p.cfg.advertise != "" {
		m.Endpoint = p.cfg.advertise
	}
	p.mu.Lock()
	for name, s := range p.services {
		m.Services = append(m.Services, name)
		if s.parts > 0 {
			if m.Partitions == nil {
				m.Partitions = make(map[string]int)
			}
			m.Partitions[name] = s.parts
		}
	}
	for _, s := range p.subs {
		m.Subscriptions = append(m.Subscriptions, s.adv)
	}
	m.MessageTypes = p.messageTypes()
	version := p.catalogVersion.Load()
	p.mu.Unlock()
	slices.Sort(m.Services)
	slices.SortFunc(m.Subscriptions, compareSubs)
	return m, version
}

// compareSubs is the canonical order of subscriptions: by pattern, then
// group, then the other fields.
func compareSubs(a, b discovery.Subscription) int {
	return cmp.Or(cmp.Compare(a.Pattern, b.Pattern), cmp.Compare(a.Group, b.Group),
		cmpBool(a.BestEffort, b.BestEffort), cmp.Compare(a.Partitions, b.Partitions), cmpBool(a.DropNewest, b.DropNewest),
		cmp.Compare(a.MaxAge, b.MaxAge), cmp.Compare(a.MaxCount, b.MaxCount), cmp.Compare(a.MaxBytes, b.MaxBytes))
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

func (p *Peer) onMember(e discovery.Event) {
	if e.Type == discovery.Failed || e.Type == discovery.Left {
		p.mu.Lock()
		drained := p.drained[e.Member.Name]
		delete(p.drained, e.Member.Name)
		p.mu.Unlock()
		if drained {
			// Gossip lost its leave message, but the peer drained its
			// connection to us: it closed on purpose, it did not crash.
			e.Type = discovery.Left
		}
	}
	p.log.Debug("membership", "event", e.Type, "member", e.Member.Name)
	// Subscriber groups first: once Members shows a subscriber, Publish
	// reaches it.
	back, dead := p.groups.update(e, p.cfg.retry, time.Now())
	p.memberEvents.count(e.Type)
	p.refreshMembers()
	p.deadLetter(nil, dead)
	p.membership(e, back)
}

// refreshMembers caches the discovery view: routing reads it on every Send.
func (p *Peer) refreshMembers() {
	ms := p.disc.Members()
	p.members.Store(&ms)
}

func (p *Peer) view() []discovery.Member {
	if ms := p.members.Load(); ms != nil {
		return *ms
	}
	return nil
}

// Handle registers h for service: point-to-point messages sent to the service
// (or to this peer by name on that channel) are handed to h. h returning nil
// acknowledges the message; an error makes the sender retry it, and
// channel.Permanent(err) dead-letters it at once. A panic is recovered and
// treated as an error.
func (p *Peer) Handle(service string, h channel.Handler, opts ...HandleOption) error {
	if service == "" || h == nil {
		return &OptionError{"Handle", "need a service name and a handler"}
	}
	hc := handleConfig{concurrency: 1}
	for _, o := range opts {
		if err := o(&hc); err != nil {
			return err
		}
	}
	if hc.subOnly != "" {
		return &OptionError{hc.subOnly, "applies to Subscribe, not Handle"}
	}
	if p.closing.Load() {
		return ErrClosed
	}
	p.mu.Lock()
	if _, ok := p.services[service]; ok {
		p.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrDuplicateHandler, service)
	}
	docs, err := handlerDocs(service, &hc, false)
	if err != nil {
		p.mu.Unlock()
		return err
	}
	s := newService(p, service, chainHandle(h, p.cfg.handleMW), hc.concurrency)
	s.parts, s.docs = hc.partitions, docs
	p.services[service] = s
	snapshot := maps.Clone(p.services)
	p.handlers.Store(&snapshot)
	p.catalogVersion.Add(1)
	p.mu.Unlock()
	s.start()
	return p.disc.Update(p.member())
}

func (p *Peer) service(name string) *service {
	if m := p.handlers.Load(); m != nil {
		return (*m)[name]
	}
	return nil
}

// Close shuts the peer down gracefully: Send and Handle refuse new work;
// running handlers finish (their replies still go out) and their
// acknowledgements are sent; the peer waits until everything it sent is
// acknowledged, leaves discovery, then drains its connections. When ctx ends first, handlers' contexts
// are canceled and what is still unacknowledged is dead-lettered with
// ReasonClosed. Close is idempotent; every goroutine has ended when it
// returns.
func (p *Peer) Close(ctx context.Context) error {
	p.closeOnce.Do(func() {
		p.closeErr = p.shutdown(ctx)
		close(p.closed)
	})
	select {
	case <-p.closed:
		return p.closeErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *Peer) shutdown(ctx context.Context) error {
	p.closing.Store(true)
	p.stopSecurity()
	if p.relayStop != nil {
		p.relayStop() // no more from the outbox: the rest waits there
	}
	p.buf.close()
	var errs []error
	// Incoming work first: queued messages stay unacknowledged (their
	// senders resend them elsewhere or later); running handlers finish, and
	// their replies may still be sent.
	services := p.allServices()
	for _, s := range services {
		s.stop()
	}
	stopped := make(chan struct{})
	go func() {
		for _, s := range services {
			s.wait()
		}
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-ctx.Done():
		select {
		case <-stopped: // both were ready: the handlers did finish
		default:
			errs = append(errs, fmt.Errorf("waiting for handlers: %w", ctx.Err()))
			p.cancel() // handlers see their ctx end
			<-stopped
		}
	}
	// Then our messages, replies included: wait for their acknowledgements.
	if err := p.waitAcked(ctx); err != nil {
		errs = append(errs, fmt.Errorf("waiting for acknowledgements: %w", err))
	}
	p.mu.Lock()
	dests := make([]*dest, 0, len(p.dests))
	for _, d := range p.dests {
		dests = append(dests, d)
	}
	p.stopped = true // no destination is created from here on
	p.mu.Unlock()
	p.recv.flushNow()
	// Leave before the connections drain: others stop routing to us first.
	if err := p.disc.Leave(ctx); err != nil {
		errs = append(errs, fmt.Errorf("leaving discovery: %w", err))
	}
	for _, d := range dests {
		d.stop()
	}
	if err := p.tr.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("draining connections: %w", err))
	}
	for _, d := range dests {
		d.deadLetterAll(ReasonClosed)
	}
	close(p.parkQuit)
	p.recv.stop()
	p.cancel()
	p.wg.Wait()
	p.deadLetterParked(ReasonClosed)
	retained := append(p.groups.takeAllRetained(), p.takeAllHeld()...)
	dead := make([]deadMsg, len(retained))
	for i, m := range retained {
		dead[i] = deadMsg{m: m, reason: ReasonClosed}
	}
	p.deadLetter(nil, dead)
	if p.relay != nil {
		if err := p.relay.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing the outbox relay: %w", err))
		}
	}
	if p.ownStore {
		p.store.Close()
	}
	return errors.Join(errs...)
}

// Abort drops every connection at once, without draining or acknowledging:
// to the other peers it looks like a crash of this process. It is for fault
// injection (tests, benchmarks, chaos drills); Close must still be called.
func (p *Peer) Abort() {
	p.tr.Abort()
}

// transportHandler receives the transport's events.
type transportHandler Peer

func (h *transportHandler) Up(c *transport.Conn) {
	p := (*Peer)(h)
	p.mu.Lock()
	delete(p.drained, c.RemoteName())
	p.mu.Unlock()
	p.recv.up(c)
	if d := p.destIfAny(c.RemoteName()); d != nil {
		d.up(c)
	}
}

func (h *transportHandler) Down(c *transport.Conn, err error) {
	p := (*Peer)(h)
	p.log.Debug("connection down", "remote", c.RemoteName(), "err", err)
	if errors.Is(err, transport.ErrRemoteDrained) {
		p.mu.Lock()
		p.drained[c.RemoteName()] = true
		p.mu.Unlock()
	}
	p.recv.down(c)
	if d := p.destIfAny(c.RemoteName()); d != nil {
		d.down(c)
	}
}

func (h *transportHandler) Packet(c *transport.Conn, pk wire.Packet) {
	p := (*Peer)(h)
	switch pk := pk.(type) {
	case *wire.Drain:
		p.recv.drain(c)
	case *wire.Data:
		p.recv.data(c, pk)
	case *wire.Ack:
		if d := p.destIfAny(c.RemoteName()); d != nil {
			d.ack(pk)
		}
	case *wire.Nack:
		if d := p.destIfAny(c.RemoteName()); d != nil {
			d.nack(pk)
		}
	case *wire.Credit:
		if d := p.destIfAny(c.RemoteName()); d != nil {
			d.credit(c, pk)
		}
	case *wire.CatalogRequest:
		cat := p.catalog()
		reply := &wire.CatalogReply{ID: pk.ID, Version: cat.Version, Catalog: cat}
		if pk.Have != 0 && pk.Have == cat.Version {
			reply.Catalog = nil // not modified (PROTOCOL.md 10)
		}
		c.SendPacket(reply)
	case *wire.CatalogReply:
		p.catalogs.answer(pk)
	}
}

// drainTimeout bounds how long a DRAIN's answer waits for running
// handlers: the heartbeat timeout, the patience the protocol gives a peer.
func (p *Peer) drainTimeout() time.Duration {
	if p.cfg.heartbeatTO > 0 {
		return p.cfg.heartbeatTO
	}
	return transport.DefaultHeartbeatTimeout
}

func (p *Peer) catalog() *wire.Catalog {
	m, version := p.memberAt() // in canonical order
	cat := &wire.Catalog{Version: version}
	for _, s := range m.Services {
		cat.Services = append(cat.Services, wire.Service{Name: s, Partitions: uint64(m.Partitions[s])})
	}
	for _, s := range m.Subscriptions {
		cat.Subscriptions = append(cat.Subscriptions, toWireSub(s))
	}
	for _, t := range m.MessageTypes {
		cat.MessageTypes = append(cat.MessageTypes, wire.MessageType{Channel: t.Channel, Kind: uint64(t.Kind), Name: t.Name,
			Direction: wire.Direction(t.Direction), Description: t.Description, Schema: t.Schema})
	}
	return cat
}
