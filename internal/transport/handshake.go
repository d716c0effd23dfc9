package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"

	"github.com/meshmq/meshmq/internal/wire"
)

// versions lists the protocol versions this build speaks.
var versions = []uint64{wire.Version}

// dial connects to ep and runs the handshake as the dialing side (a ZMTP
// DEALER); on success the connection is the link's current one.
func (t *Transport) dial(l *Link, ep string) error {
	addr, err := parseEndpoint(ep)
	if err != nil {
		return err
	}
	t.stats.Dials.Add(1)
	d := net.Dialer{Timeout: t.cfg.HandshakeTimeout}
	raw, err := d.DialContext(t.ctx, "tcp", addr)
	if err != nil {
		if t.ctx.Err() != nil {
			return ErrClosed
		}
		t.stats.DialFailures.Add(1)
		return fmt.Errorf("transport: dial %s: %w", ep, err)
	}
	c, err := t.handshake(raw, l)
	if err != nil {
		if !errors.Is(err, ErrClosed) {
			t.stats.DialFailures.Add(1)
		}
		return err
	}
	t.cfg.Handler.Up(c)
	c.start()
	return nil
}

// accept runs the handshake of an inbound connection (a ZMTP ROUTER).
func (t *Transport) accept(raw net.Conn) error {
	c, err := t.handshake(raw, nil)
	if err != nil {
		return err
	}
	t.stats.Accepted.Add(1)
	t.cfg.Handler.Up(c)
	c.start()
	return nil
}

// handshake runs ZMTP and HELLO on raw under one deadline. l is the link
// being dialed, nil for an inbound connection. It returns a connection that
// is current on its link, or closes raw.
func (t *Transport) handshake(raw net.Conn, l *Link) (c *Conn, err error) {
	if !t.track(raw) {
		raw.Close()
		return nil, ErrClosed
	}
	defer t.untrack(raw)
	defer func() {
		if err != nil {
			raw.Close()
			if c != nil {
				c.cancel()
				if c.curve != nil {
					c.curve.wipe()
				}
			}
		}
	}()
	deadline := time.Now().Add(t.cfg.HandshakeTimeout)
	if err := raw.SetDeadline(deadline); err != nil {
		return nil, err
	}
	var conn net.Conn = raw
	if t.cfg.Secure != nil {
		if conn, err = t.cfg.Secure.Secure(raw, l == nil, deadline); err != nil {
			return nil, fmt.Errorf("transport: security handshake: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(t.ctx)
	c = &Conn{
		t: t, link: l, outbound: l != nil, raw: raw, ctx: ctx, cancel: cancel,
		wake: make(chan struct{}, 1), space: make(chan struct{}, 1),
		closed: make(chan struct{}), done: make(chan struct{}),
	}
	if t.cfg.Curve != nil {
		if c.curve, err = t.newCurve(conn, l, deadline, ctx); err != nil {
			return c, err
		}
		conn = c.curve
	}
	c.g = newGuard(ctx, conn, guardConfig{
		mechanism:  string(zmq4.NullSecurity),
		hsMaxFrame: handshakeMaxFrame,
		maxFrame:   uint64(t.cfg.MaxFrameSize),
		budget:     t.budget,
		freeBelow:  budgetFreeBelow,
		idle:       t.cfg.HeartbeatTimeout,
		writeTO:    t.cfg.WriteTimeout,
	})
	sock := zmq4.Router
	if c.outbound {
		sock = zmq4.Dealer
	}
	if c.zc, err = openZMTP(c.g, sock, !c.outbound); err != nil {
		return c, err
	}
	c.g.zmtpDone()
	if c.outbound {
		err = t.helloOut(c)
	} else {
		err = t.helloIn(c)
	}
	if err != nil {
		return c, err
	}
	// From here the connection is current on its link: failures are
	// reported through Up/Down like any other close.
	c.heartbeat = heartbeatInterval(t.cfg.HeartbeatInterval, c.remote.HeartbeatTimeout)
	c.g.open()
	if err := raw.SetDeadline(time.Time{}); err != nil {
		c.close(err)
	}
	return c, nil
}

// newCurve wraps conn in the CURVE layer: as the server on an inbound
// connection, as the client of l's peer on a dialed one.
func (t *Transport) newCurve(conn net.Conn, l *Link, deadline time.Time, ctx context.Context) (*curveConn, error) {
	cc := t.cfg.Curve
	cfg := curveConfig{
		server: l == nil, keys: cc.Keys, authorize: cc.Authorize, deadline: deadline,
		maxFrame: uint64(t.cfg.MaxFrameSize), budget: t.budget, freeBelow: budgetFreeBelow, ctx: ctx,
	}
	if l != nil {
		var ok bool
		if cc.ServerKey != nil {
			cfg.serverKey, ok = cc.ServerKey(l.name)
		}
		if !ok {
			return nil, fmt.Errorf("transport: no CURVE server key for peer %q", l.name)
		}
	}
	return newCurveConn(conn, cfg), nil
}

// heartbeatInterval is how often to send on an idle connection: our own
// interval, or more often if the remote side's timeout asks for it (a third of
// it), but never more often than every minHeartbeat.
func heartbeatInterval(own, remoteTimeout time.Duration) time.Duration {
	if remoteTimeout > 0 && remoteTimeout/3 < own {
		own = remoteTimeout / 3
	}
	return max(own, minHeartbeat)
}

const minHeartbeat = 5 * time.Millisecond

// openZMTP runs zmq4's greeting and NULL handshake. The guard has checked
// what zmq4 parses; recover is the second line of defense.
func openZMTP(g *guard, sock zmq4.SocketType, server bool) (zc *zmq4.Conn, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: zmq4 panicked in the handshake: %v", ErrProtocol, r)
		}
	}()
	zc, err = zmq4.Open(g, null.Security(), sock, nil, server, nil)
	if err != nil {
		return nil, fmt.Errorf("transport: ZMTP handshake: %w", err)
	}
	return zc, nil
}

// helloOut sends our HELLO and reads the acceptor's answer.
func (t *Transport) helloOut(c *Conn) error {
	if err := c.zc.SendMsg(zmq4.NewMsg(t.cfg.hello(versions, t.cfg.Advertise).Append(nil))); err != nil {
		return fmt.Errorf("transport: send HELLO: %w", err)
	}
	p, err := readFirst(c)
	if err != nil {
		return err
	}
	switch p := p.(type) {
	case *wire.Error:
		return &RefusedError{Code: p.Code, Text: p.Text}
	case *wire.Hello:
		if len(p.Versions) != 1 {
			return protocolErr("acceptor chose %d versions", len(p.Versions))
		}
		if _, err := wire.Negotiate(versions, p.Versions); err != nil {
			return err
		}
		if p.Name != c.link.name {
			return fmt.Errorf("%w: dialed %q, found %q", ErrWrongPeer, c.link.name, p.Name)
		}
		c.remote, c.version = *p, p.Versions[0]
	default:
		return protocolErr("expected HELLO, got %v", p.Type())
	}
	if !c.link.attach(c) {
		return ErrClosed
	}
	return nil
}

// helloIn reads the dialer's HELLO, decides, and answers.
func (t *Transport) helloIn(c *Conn) error {
	p, err := readFirst(c)
	if err != nil {
		return err
	}
	h, ok := p.(*wire.Hello)
	if !ok {
		return t.refuse(c, wire.CodeProtocol, protocolErr("expected HELLO, got %v", p.Type()))
	}
	v, err := wire.Negotiate(versions, h.Versions)
	if err != nil {
		return t.refuse(c, wire.CodeUnsupportedVersion, err)
	}
	if h.Name == t.cfg.Name {
		return t.refuse(c, wire.CodeNameConflict, fmt.Errorf("transport: peer at %s uses our name %q", c.raw.RemoteAddr(), h.Name))
	}
	if cc := t.cfg.Curve; cc != nil && cc.Identify != nil {
		if err := cc.Identify(h.Name, c.curve.PeerKey()); err != nil {
			return t.refuse(c, wire.CodeUnauthorized, fmt.Errorf("%w: %s at %s: %w", ErrUnidentified, h.Name, c.raw.RemoteAddr(), err))
		}
	}
	c.remote, c.version = *h, v
	for {
		l, err := t.link(h.Name)
		if err != nil {
			return t.refuse(c, wire.CodeShuttingDown, err)
		}
		c.link = l
		refusal, gone := l.admit(c)
		if gone {
			continue
		}
		if refusal != nil {
			return t.refuse(c, refusal.Code, &RefusedError{Code: refusal.Code, Text: refusal.Text})
		}
		break
	}
	if err := c.zc.SendMsg(zmq4.NewMsg(t.cfg.hello([]uint64{v}, t.cfg.Advertise).Append(nil))); err != nil {
		c.close(fmt.Errorf("transport: send HELLO: %w", err))
	}
	return nil
}

// refuse sends an ERROR and returns err.
func (t *Transport) refuse(c *Conn, code wire.Code, err error) error {
	c.zc.SendMsg(zmq4.NewMsg((&wire.Error{Code: code, Text: err.Error()}).Append(nil)))
	return err
}

// readFirst reads the first meshmq packet, skipping ZMTP commands.
func readFirst(c *Conn) (wire.Packet, error) {
	for i := 0; i < 4; i++ {
		msg, err := c.recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("transport: connection closed during HELLO: %w", err)
			}
			return nil, err
		}
		if msg.Type == zmq4.CmdMsg {
			continue
		}
		return wire.Decode(msg.Frames[0])
	}
	return nil, protocolErr("no HELLO after ZMTP commands")
}

// track records a connection under handshake so that Close can cut it short.
func (t *Transport) track(raw net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	if t.pending == nil {
		t.pending = make(map[net.Conn]struct{})
	}
	t.pending[raw] = struct{}{}
	return true
}

func (t *Transport) untrack(raw net.Conn) {
	t.mu.Lock()
	delete(t.pending, raw)
	t.mu.Unlock()
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)
}
