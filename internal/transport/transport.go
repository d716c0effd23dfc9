package transport

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// Transport owns a listener and the connections to remote peers.
type Transport struct {
	cfg        Config
	logger     *slog.Logger
	ln         net.Listener
	endpoint   string
	budget     *semaphore.Weighted
	handshakes chan struct{} // one token per handshake under way

	ctx      context.Context // canceled by Close: ends dials and budget waits
	cancel   context.CancelFunc
	done     chan struct{} // closed by Close
	finished chan struct{} // closed when Close has finished
	wg       sync.WaitGroup
	conns    atomic.Int64 // established connections

	mu           sync.Mutex
	links        map[string]*Link
	pending      map[net.Conn]struct{} // connections under handshake
	closed       bool
	closeStarted bool // Close ran (Abort only sets closed)

	stats Stats
}

// Stats counts the transport's connections and what it refused; all
// fields are atomic.
type Stats struct {
	Dials             atomic.Uint64 // outbound connections attempted
	DialFailures      atomic.Uint64 // of those, not through HELLO (refusals included)
	Accepted          atomic.Uint64 // inbound connections through HELLO
	OverLimit         atomic.Uint64 // refused: MaxConnections established already (ERROR busy)
	HandshakesRefused atomic.Uint64 // over MaxHandshakes
	HandshakesFailed  atomic.Uint64 // bad greeting, limits, timeout, refusals
	ProtocolErrors    atomic.Uint64 // connections closed for a violation after HELLO

	limitWarned [2]atomic.Int64 // unix nanos of the last warning per limit (see warnLimit)
}

// The limits warnLimit speaks of.
const (
	limitConnections = iota
	limitHandshakes
)

// warnLimit logs that a limit refused a connection, at most once a minute
// per limit: a connect storm must be visible without flooding the log (the
// counters in Stats count every refusal).
func (t *Transport) warnLimit(which int, msg string, args ...any) {
	now := time.Now().UnixNano()
	last := &t.stats.limitWarned[which]
	l := last.Load()
	if l != 0 && now-l < int64(time.Minute) || !last.CompareAndSwap(l, now) {
		return
	}
	t.logger.Warn(msg, args...)
}

// Open returns the number of established connections.
func (t *Transport) Open() int { return int(t.conns.Load()) }

// Limits returns the MaxConnections and MaxHandshakes in force.
func (t *Transport) Limits() (maxConnections, maxHandshakes int) {
	return t.cfg.MaxConnections, t.cfg.MaxHandshakes
}

// Listen starts a transport listening on cfg.Listen.
func Listen(cfg Config) (*Transport, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	addr, _ := parseEndpoint(cfg.Listen)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("transport: listen on %s: %w", cfg.Listen, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Transport{
		cfg:        cfg,
		logger:     cfg.Logger.With("peer", cfg.Name),
		ln:         ln,
		endpoint:   "tcp://" + ln.Addr().String(),
		budget:     semaphore.NewWeighted(int64(cfg.MaxReceiveMemory)),
		handshakes: make(chan struct{}, cfg.MaxHandshakes),
		ctx:        ctx,
		cancel:     cancel,
		done:       make(chan struct{}),
		finished:   make(chan struct{}),
		links:      make(map[string]*Link),
	}
	if cfg.Advertise == "" {
		t.cfg.Advertise = t.endpoint
	}
	t.wg.Add(1)
	go t.acceptLoop()
	return t, nil
}

// Endpoint returns the endpoint the transport listens on, with the real port.
func (t *Transport) Endpoint() string { return t.endpoint }

// Name returns the local peer name.
func (t *Transport) Name() string { return t.cfg.Name }

// Epoch returns the local process epoch.
func (t *Transport) Epoch() uint64 { return t.cfg.Epoch }

// Stats returns the transport's counters.
func (t *Transport) Stats() *Stats { return &t.stats }

// Connect returns the link to the named peer and keeps it connected to
// endpoint, redialing with backoff, until the transport closes.
func (t *Transport) Connect(name, endpoint string) (*Link, error) {
	if name == t.cfg.Name {
		return nil, fmt.Errorf("transport: cannot connect to self (%s)", name)
	}
	if _, err := parseEndpoint(endpoint); err != nil {
		return nil, err
	}
	for {
		l, err := t.link(name)
		if err != nil {
			return nil, err
		}
		ok, err := l.want(endpoint)
		if err != nil {
			return nil, err
		}
		if ok {
			return l, nil
		}
	}
}

// Link returns the link to the named peer, or nil if there is none.
func (t *Transport) Link(name string) *Link {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.links[name]
}

// Conns returns the current connection of every link.
func (t *Transport) Conns() []*Conn {
	t.mu.Lock()
	links := make([]*Link, 0, len(t.links))
	for _, l := range t.links {
		links = append(links, l)
	}
	t.mu.Unlock()
	var out []*Conn
	for _, l := range links {
		if c := l.Conn(); c != nil {
			out = append(out, c)
		}
	}
	return out
}

func (t *Transport) link(name string) (*Link, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, ErrClosed
	}
	l := t.links[name]
	if l == nil {
		l = newLink(t, name)
		t.links[name] = l
	}
	return l, nil
}

// forgetIdle drops a link nobody wants and nothing uses, so that peers that
// connected once do not accumulate. The caller holds l.mu.
func (t *Transport) forgetIdle(l *Link) {
	if l.wanted || l.dialing || l.cur != nil {
		return
	}
	t.mu.Lock()
	if t.links[l.name] == l {
		delete(t.links, l.name)
	}
	t.mu.Unlock()
	l.gone = true
}

func (t *Transport) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

func (t *Transport) acceptLoop() {
	defer t.wg.Done()
	var delay time.Duration
	for {
		raw, err := t.ln.Accept()
		if err != nil {
			if t.isClosed() {
				return // Close or Abort closed the listener
			}
			// Out of file descriptors and the like: back off, keep serving.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			t.logger.Warn("accept failed", "err", err, "retry_in", delay)
			select {
			case <-time.After(delay):
			case <-t.done:
				return
			}
			continue
		}
		delay = 0
		select {
		case t.handshakes <- struct{}{}:
		default:
			t.stats.HandshakesRefused.Add(1)
			t.warnLimit(limitHandshakes, "MaxHandshakes under way: inbound connections refused (Stats counts them; this is said once a minute)",
				"max_handshakes", t.cfg.MaxHandshakes, "addr", raw.RemoteAddr())
			raw.Close()
			continue
		}
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			defer func() { <-t.handshakes }()
			if err := t.accept(raw); err != nil {
				t.stats.HandshakesFailed.Add(1)
				t.logger.Info("inbound handshake failed", "addr", raw.RemoteAddr(), "err", err)
			}
		}()
	}
}

// Close stops accepting and dialing, drains every connection (queued
// packets are written, then DRAIN) and waits for them to close until ctx
// ends; then it closes what is left. Close is idempotent.
func (t *Transport) Close(ctx context.Context) error {
	t.mu.Lock()
	if t.closed && t.closeStarted {
		t.mu.Unlock()
		select {
		case <-t.finished:
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	}
	t.closed, t.closeStarted = true, true
	links := make([]*Link, 0, len(t.links))
	for _, l := range t.links {
		links = append(links, l)
	}
	t.mu.Unlock()

	t.ln.Close()
	var conns []*Conn
	for _, l := range links {
		if c := l.Conn(); c != nil {
			conns = append(conns, c)
			c.Drain()
		}
	}
	var err error
	for _, c := range conns {
		select {
		case <-c.done:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			break
		}
	}
	close(t.done)
	t.cancel()
	t.mu.Lock()
	for raw := range t.pending {
		raw.Close()
	}
	t.mu.Unlock()
	for _, l := range links {
		if c := l.Conn(); c != nil {
			c.Close()
		}
	}
	t.wg.Wait()
	close(t.finished)
	return err
}

// MaxMessageSize returns the largest encoded message the transport sends or
// accepts.
func (t *Transport) MaxMessageSize() int { return t.cfg.MaxMessageSize }

// Abort closes the listener and every connection at once, without draining:
// what it does to the remote side is what a crash of this process does.
// Close still has to be called to wait for the goroutines.
func (t *Transport) Abort() {
	t.mu.Lock()
	t.closed = true
	links := make([]*Link, 0, len(t.links))
	for _, l := range t.links {
		links = append(links, l)
	}
	for raw := range t.pending {
		raw.Close()
	}
	t.mu.Unlock()
	t.ln.Close()
	for _, l := range links {
		if c := l.Conn(); c != nil {
			c.Close()
		}
	}
}
