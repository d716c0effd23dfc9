package transport

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/meshmq/meshmq/internal/wire"
)

// Link is this peer's relation to one remote peer, by name: at most one
// connection at a time, whichever side dialed it. A wanted link (Connect)
// redials with backoff whenever it has none.
type Link struct {
	t    *Transport
	name string

	mu       sync.Mutex
	endpoint string
	wanted   bool
	running  bool // the dial loop is running
	gone     bool // removed from the transport's table; a new Link replaces it
	dialing  bool // an outbound handshake is in progress
	cur      *Conn
	up       chan struct{} // closed while cur != nil
	kick     chan struct{} // wakes the dial loop
}

func newLink(t *Transport, name string) *Link {
	return &Link{t: t, name: name, up: make(chan struct{}), kick: make(chan struct{}, 1)}
}

// Name returns the remote peer's name.
func (l *Link) Name() string { return l.name }

// Endpoint returns the endpoint the link dials: the one given to Connect, or
// the one the peer advertised in its HELLO.
func (l *Link) Endpoint() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.endpoint
}

// Conn returns the current connection, or nil.
func (l *Link) Conn() *Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cur
}

// Send queues e on the current connection, waiting while its queue is full
// until ctx ends; ErrNotConnected if there is none.
func (l *Link) Send(ctx context.Context, e *wire.Entry) error {
	c := l.Conn()
	if c == nil {
		return ErrNotConnected
	}
	return c.Send(ctx, e)
}

// WaitUp waits until the link has a connection and returns it.
func (l *Link) WaitUp(ctx context.Context) (*Conn, error) {
	for {
		l.mu.Lock()
		c, up := l.cur, l.up
		l.mu.Unlock()
		if c != nil {
			return c, nil
		}
		select {
		case <-up:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-l.t.done:
			return nil, ErrClosed
		}
	}
}

// admit decides, on the accepting side, whether an inbound connection from
// this link's peer wins (PROTOCOL.md, "One connection per pair"): when both
// peers dial each other, the connection dialed by the peer with the smaller
// name wins; otherwise the newer connection replaces the older, whose peer
// has given it up. On success c becomes current.
func (l *Link) admit(c *Conn) (refusal *wire.Error, gone bool) {
	l.mu.Lock()
	if l.gone {
		l.mu.Unlock()
		return nil, true
	}
	if l.t.isClosed() {
		l.mu.Unlock()
		return &wire.Error{Code: wire.CodeShuttingDown, Text: "shutting down"}, false
	}
	cur := l.cur
	if cur == nil && l.t.conns.Load() >= int64(l.t.cfg.MaxConnections) {
		l.mu.Unlock()
		l.t.stats.OverLimit.Add(1)
		l.t.warnLimit(limitConnections, "MaxConnections established: inbound connections refused (Stats counts them; this is said once a minute)",
			"max_connections", l.t.cfg.MaxConnections, "peer", c.remote.Name)
		return &wire.Error{Code: wire.CodeBusy, Text: "too many connections"}, false
	}
	sameEpoch := cur == nil || cur.remote.Epoch == c.remote.Epoch
	ours := l.dialing || (cur != nil && cur.outbound)
	if sameEpoch && ours && l.t.cfg.Name < c.remote.Name {
		l.mu.Unlock()
		return &wire.Error{Code: wire.CodeDuplicate, Text: "a connection dialed by " + l.t.cfg.Name + " wins"}, false
	}
	if l.endpoint == "" {
		l.endpoint = c.remote.Endpoint
	}
	l.setCur(c)
	l.mu.Unlock()
	if cur != nil {
		cur.close(ErrReplaced)
	}
	return nil, false
}

// attach makes an outbound connection current once the remote side has
// accepted it; the acceptor has already dropped any other. It fails once the
// transport is closing.
func (l *Link) attach(c *Conn) bool {
	l.mu.Lock()
	if l.t.isClosed() {
		l.mu.Unlock()
		return false
	}
	cur := l.cur
	l.setCur(c)
	l.mu.Unlock()
	if cur != nil {
		cur.close(ErrReplaced)
	}
	return true
}

func (l *Link) setCur(c *Conn) {
	if l.cur == nil {
		close(l.up)
	}
	l.cur = c
	l.t.conns.Add(1) // the replaced one, if any, is subtracted as it exits
}

// detach forgets c once it has closed.
func (l *Link) detach(c *Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cur != c {
		return
	}
	l.cur = nil
	l.up = make(chan struct{})
	signal(l.kick)
	l.t.forgetIdle(l)
}

// want marks the link wanted at endpoint and starts its dial loop. It fails
// on a link already dropped from the transport's table.
func (l *Link) want(endpoint string) (ok bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gone {
		return false, nil
	}
	if l.t.isClosed() {
		return false, ErrClosed // no goroutine may start once Close waits for them
	}
	if endpoint != "" {
		l.endpoint = endpoint
	}
	l.wanted = true
	signal(l.kick)
	if !l.running {
		l.running = true
		l.t.wg.Add(1)
		go l.dialLoop()
	}
	return true, nil
}

// Forget stops redialing the peer once its connection ends. The connection,
// if up, is left alone: a peer that still answers on it is alive, whatever
// gossip says. A later Connect wants the peer again.
func (l *Link) Forget() {
	l.mu.Lock()
	l.wanted = false
	l.mu.Unlock()
}

// dialLoop keeps a wanted link connected: it dials whenever the link has no
// connection, backing off after failures.
func (l *Link) dialLoop() {
	defer l.t.wg.Done()
	failures := 0
	for {
		l.mu.Lock()
		for l.cur != nil || !l.wanted {
			l.mu.Unlock()
			select {
			case <-l.kick:
			case <-l.t.done:
				return
			}
			l.mu.Lock()
		}
		l.mu.Unlock()
		if failures > 0 {
			t := time.NewTimer(l.t.cfg.Reconnect.Delay(failures))
			select {
			case <-t.C:
			case <-l.t.done:
				t.Stop()
				return
			}
		}
		l.mu.Lock()
		if l.cur != nil || !l.wanted {
			l.mu.Unlock()
			continue
		}
		ep := l.endpoint
		l.dialing = true
		l.mu.Unlock()
		err := l.t.dial(l, ep)
		l.mu.Lock()
		l.dialing = false
		l.mu.Unlock()
		if err == nil {
			failures = 0
			continue
		}
		failures++
		var refused *RefusedError
		if errors.As(err, &refused) && refused.Code == wire.CodeDuplicate {
			// The remote side's own dial wins; it arrives shortly.
			l.t.logger.Debug("dial yielded to the remote side's connection", "peer", l.name)
		} else if !errors.Is(err, ErrClosed) {
			l.t.logger.Info("dial failed", "peer", l.name, "endpoint", ep, "attempt", failures, "err", err)
		}
	}
}
