package transport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/meshmq/meshmq/internal/curve"
)

// CurveConfig turns on ZMTP CURVE security (RFC 25, CurveZMQ RFC 26) on
// every connection, dialed or accepted, wire-compatible with libzmq 4.3.
type CurveConfig struct {
	// Keys is this peer's long-term key pair: its server key on accepted
	// connections, its client key on dialed ones.
	Keys curve.KeyPair
	// ServerKey returns the long-term public key of the named peer about to
	// be dialed; false (or a nil ServerKey) fails the dial.
	ServerKey func(remoteName string) (curve.PublicKey, bool)
	// Authorize admits (nil) or refuses a client whose long-term key the
	// handshake has verified, before READY; a refused client gets ERROR
	// "400". A nil Authorize refuses every client (deny by default).
	Authorize func(clientKey curve.PublicKey, remoteAddr net.Addr) error
	// Identify binds the name a client claims in its HELLO to the key it
	// authenticated with: nil admits the name, an error refuses the
	// connection with ERROR CodeUnauthorized (the dialer retries, as after
	// any refusal). A nil Identify leaves names unchecked.
	Identify func(name string, clientKey curve.PublicKey) error
}

// ErrCurveRefused matches the error of a CURVE handshake that the server
// answered with ERROR (an unauthorized client key).
var ErrCurveRefused = errors.New("transport: CURVE handshake refused by the remote peer")

// MESSAGE overhead on the wire beyond the plaintext frame body:
// "\x07MESSAGE" (8), short nonce (8), box MAC (16), flags (1).
const curveMessageOverhead = 8 + 8 + 16 + 1

type curveConfig struct {
	server    bool
	keys      curve.KeyPair
	serverKey curve.PublicKey                       // client side: the key dialed
	authorize func(curve.PublicKey, net.Addr) error // server side
	deadline  time.Time                             // for the whole handshake; zero: none
	maxFrame  uint64                                // plaintext ZMTP frame limit

	// Optional: MESSAGE frames over freeBelow are read only while holding
	// their size in budget (the transport's MaxReceiveMemory).
	budget    *semaphore.Weighted
	freeBelow uint64
	ctx       context.Context
}

// curveConn translates between ZMTP 3 with the CURVE mechanism on the wire
// (the net.Conn it wraps) and the ZMTP 3 NULL byte stream zmq4 reads and
// writes (through the guard) on top of it:
//
//   - zmq4's NULL greeting is swallowed; it reads a NULL greeting made up
//     here. Its NULL READY is swallowed too and its metadata (Socket-Type,
//     Identity) goes into the CURVE INITIATE (client) or READY (server).
//   - When zmq4 then reads the remote READY, the whole CURVE handshake runs
//     (greeting "CURVE" with as-server 0, HELLO, WELCOME, INITIATE, READY or
//     ERROR) under cfg.deadline, and zmq4 reads a NULL READY carrying the
//     remote side's CURVE metadata.
//   - Then each ZMTP frame zmq4 writes becomes one MESSAGE in a ZMTP data
//     frame (0x00, 0x02 when long: libzmq drops MESSAGEs in command frames),
//     its MORE and command flags inside the box; and each MESSAGE read
//     becomes a plaintext frame with those flags restored.
//
// Any error is final: the wrapped connection is closed and every later Read
// or Write fails with the first error. Reads come from one goroutine at a
// time; writes may come from several and are serialized by wmu, which covers
// taking the nonce and writing the frame, so frames leave in nonce order.
type curveConn struct {
	net.Conn // the wire
	cfg      curveConfig
	br       *bufio.Reader // on the wire; read side only

	// Read side (one reader at a time).
	rstate     uint8
	rhdr       [9]byte
	rh, rb     []byte // what Read returns next: a frame header, then its body
	sess       *curve.Session
	rframe     *[]byte // pooled buffer of the frame Read hands on; nil: none, or not pooled
	heldBudget uint64  // budget held for the frame Read hands on, until the guard takes it
	peerKey    curve.PublicKey
	peerMD     curve.Metadata

	dmu sync.Mutex
	rdl time.Time // the read deadline set from above

	// Write side.
	wmu     sync.Mutex
	wstate  uint8
	wgreet  []byte // zmq4's greeting so far
	whdr    [9]byte
	whn     int  // header bytes so far
	whave   bool // the header is complete
	wsize   uint64
	wbody   []byte
	localMD curve.Metadata
	wsess   *curve.Session
	wout    []byte

	emu sync.Mutex
	err error
}

const (
	rGreeting  = iota // zmq4 reads the made-up NULL greeting
	rHandshake        // zmq4 reads the remote READY: run the CURVE handshake
	rOpen             // MESSAGEs
)

const (
	wGreeting = iota // zmq4 writes its NULL greeting
	wReady           // zmq4 writes its NULL READY
	wWait            // the CURVE handshake has not completed
	wOpen            // frames become MESSAGEs
)

// maxKeptBuffer bounds the buffers a curveConn keeps between frames.
const maxKeptBuffer = 1 << 20

func newCurveConn(raw net.Conn, cfg curveConfig) *curveConn {
	return &curveConn{Conn: raw, cfg: cfg, br: bufio.NewReaderSize(raw, readBufferSize)}
}

// PeerKey returns the remote peer's long-term public key once the handshake
// has completed: on the server side the client key it authenticated (and
// Authorize admitted), on the client side the server key it dialed, which
// the handshake proved the server holds.
func (c *curveConn) PeerKey() curve.PublicKey { return c.peerKey }

// wipe erases the session keys once the connection's loops have ended (or
// its handshake failed): nothing reads or writes it any more.
func (c *curveConn) wipe() {
	c.fail(net.ErrClosed)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.sess != nil {
		c.sess.Close()
	}
	c.recycleFrame()
	c.releaseBudget()
}

// PeerMetadata returns the remote side's CURVE metadata once the handshake
// has completed.
func (c *curveConn) PeerMetadata() curve.Metadata { return c.peerMD }

func (c *curveConn) failed() error {
	c.emu.Lock()
	defer c.emu.Unlock()
	return c.err
}

// fail records err (the first one wins), closes the wire and returns err.
func (c *curveConn) fail(err error) error {
	c.emu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.emu.Unlock()
	c.Conn.Close()
	return err
}

// SetDeadline and SetReadDeadline note the read deadline, which a large
// MESSAGE extends (see readMessage).
func (c *curveConn) SetDeadline(t time.Time) error {
	c.setRDL(t)
	return c.Conn.SetDeadline(t)
}

func (c *curveConn) SetReadDeadline(t time.Time) error {
	c.setRDL(t)
	return c.Conn.SetReadDeadline(t)
}

func (c *curveConn) setRDL(t time.Time) {
	c.dmu.Lock()
	c.rdl = t
	c.dmu.Unlock()
}

// Read implements net.Conn for the guard and zmq4.
func (c *curveConn) Read(p []byte) (int, error) {
	if err := c.failed(); err != nil {
		return 0, err
	}
	for len(c.rh) == 0 && len(c.rb) == 0 {
		var err error
		switch c.rstate {
		case rGreeting:
			c.rb = zmtpGreeting(nullMechanism)
			c.rstate = rHandshake
		case rHandshake:
			if err = c.handshake(); err == nil {
				err = c.presentReady()
				c.rstate = rOpen
			}
		default:
			err = c.readMessage()
		}
		if err != nil {
			return 0, c.fail(err)
		}
	}
	n := copy(p, c.rh)
	c.rh = c.rh[n:]
	m := copy(p[n:], c.rb)
	c.rb = c.rb[m:]
	if len(c.rb) == 0 {
		c.rb = nil // do not pin the plaintext
		c.recycleFrame()
	}
	return n + m, nil
}

const nullMechanism = "NULL"

// zmtpGreeting returns a ZMTP 3.0 greeting with as-server 0.
func zmtpGreeting(mechanism string) []byte {
	g := make([]byte, greetingLen)
	g[0], g[9], g[10], g[11] = 0xff, 0x7f, 3, 0
	copy(g[12:32], mechanism)
	return g
}

// setFrame makes hdr+body the next thing Read returns.
func (c *curveConn) setFrame(flags byte, body []byte) {
	if len(body) > 255 {
		c.rhdr[0] = flags | flagLong
		binary.BigEndian.PutUint64(c.rhdr[1:], uint64(len(body)))
		c.rh = c.rhdr[:9]
	} else {
		c.rhdr[0], c.rhdr[1] = flags, byte(len(body))
		c.rh = c.rhdr[:2]
	}
	c.rb = body
}

// presentReady queues the NULL READY zmq4 reads: the remote CURVE metadata.
func (c *curveConn) presentReady() error {
	body, err := curve.AppendCommand(nil, curve.CmdReady, nil)
	if err != nil {
		return err
	}
	if body, err = curve.AppendMetadata(body, c.peerMD); err != nil {
		return err
	}
	c.setFrame(flagCommand, body)
	return nil
}

// handshake runs the CURVE handshake on the wire, with the metadata zmq4
// has written in its NULL READY.
func (c *curveConn) handshake() error {
	c.wmu.Lock()
	state, md := c.wstate, c.localMD
	c.wmu.Unlock()
	if state != wWait {
		return protocolErr("zmq4 read its peer's READY before sending its own")
	}
	if !c.cfg.deadline.IsZero() {
		if err := c.Conn.SetDeadline(c.cfg.deadline); err != nil {
			return err
		}
	}
	if err := c.writeWire(zmtpGreeting("CURVE")); err != nil {
		return fmt.Errorf("transport: send CURVE greeting: %w", err)
	}
	if err := c.readGreeting(); err != nil {
		return err
	}
	var err error
	if c.cfg.server {
		err = c.serverHandshake(md)
	} else {
		err = c.clientHandshake(md)
	}
	if err != nil {
		return err
	}
	c.wmu.Lock()
	c.wsess, c.wstate = c.sess, wOpen
	c.wmu.Unlock()
	return nil
}

func (c *curveConn) readGreeting() error {
	g := make([]byte, greetingLen)
	if _, err := io.ReadFull(c.br, g); err != nil {
		return fmt.Errorf("transport: read CURVE greeting: %w", err)
	}
	if err := checkGreeting(g, "CURVE"); err != nil {
		return err
	}
	// as-server (g[32]) is 0 from both ends with CURVE: the role is ours.
	return nil
}

func (c *curveConn) clientHandshake(md curve.Metadata) error {
	cl, err := curve.NewClient(c.cfg.keys, c.cfg.serverKey, curve.WithMetadata(md))
	if err != nil {
		return fmt.Errorf("transport: CURVE client: %w", err)
	}
	hello, err := cl.Hello()
	if err != nil {
		return err
	}
	if err := c.writeCommand(curve.CmdHello, hello); err != nil {
		return err
	}
	welcome, err := c.expect(curve.CmdWelcome)
	if err != nil {
		if isEOF(err) || isReset(err) {
			// libzmq and this package close without a word when HELLO
			// does not open.
			return fmt.Errorf("transport: CURVE server closed the connection after HELLO (wrong server key?): %w", err)
		}
		return err
	}
	initiate, err := cl.Welcome(welcome)
	if err != nil {
		return fmt.Errorf("transport: CURVE WELCOME: %w", err)
	}
	if err := c.writeCommand(curve.CmdInitiate, initiate); err != nil {
		return err
	}
	ready, err := c.expect(curve.CmdReady)
	if err != nil {
		return err
	}
	if err := cl.Ready(ready); err != nil {
		return fmt.Errorf("transport: CURVE READY: %w", err)
	}
	c.sess, c.peerKey, c.peerMD = cl.Session(), c.cfg.serverKey, cl.PeerMetadata()
	return nil
}

func (c *curveConn) serverHandshake(md curve.Metadata) error {
	var authorize curve.AuthorizeFunc // nil: curve refuses everyone
	if c.cfg.authorize != nil {
		addr := c.RemoteAddr()
		authorize = func(k curve.PublicKey, _ curve.Metadata) error { return c.cfg.authorize(k, addr) }
	}
	srv, err := curve.NewServer(c.cfg.keys, authorize, curve.WithMetadata(md))
	if err != nil {
		return fmt.Errorf("transport: CURVE server: %w", err)
	}
	hello, err := c.expect(curve.CmdHello)
	if err != nil {
		return err
	}
	welcome, err := srv.Hello(hello)
	if err != nil {
		return fmt.Errorf("transport: CURVE HELLO: %w", err)
	}
	if err := c.writeCommand(curve.CmdWelcome, welcome); err != nil {
		return err
	}
	initiate, err := c.expect(curve.CmdInitiate)
	if err != nil {
		return err
	}
	reply, key, err := srv.Initiate(initiate)
	if err != nil {
		err = fmt.Errorf("transport: CURVE INITIATE: %w", err)
		if reply != nil {
			if werr := c.writeCommand(curve.CmdError, reply); werr != nil {
				return errors.Join(err, werr)
			}
		}
		return err
	}
	if err := c.writeCommand(curve.CmdReady, reply); err != nil {
		return err
	}
	c.sess, c.peerKey, c.peerMD = srv.Session(), key, srv.PeerMetadata()
	return nil
}

// writeWire writes b under wmu.
func (c *curveConn) writeWire(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.Conn.Write(b)
	return err
}

// writeCommand writes a handshake command in a ZMTP command frame.
func (c *curveConn) writeCommand(name string, data []byte) error {
	body, err := curve.AppendCommand(nil, name, data)
	if err != nil {
		return err
	}
	frame := appendFrameHeader(make([]byte, 0, 9+len(body)), flagCommand, len(body))
	if err := c.writeWire(append(frame, body...)); err != nil {
		return fmt.Errorf("transport: send CURVE %s: %w", name, err)
	}
	return nil
}

func appendFrameHeader(dst []byte, flags byte, size int) []byte {
	if size > 255 {
		dst = append(dst, flags|flagLong)
		return binary.BigEndian.AppendUint64(dst, uint64(size))
	}
	return append(dst, flags, byte(size))
}

// readHeader reads a ZMTP frame header from the wire.
func (c *curveConn) readHeader() (flags byte, size uint64, err error) {
	if flags, err = c.br.ReadByte(); err != nil {
		return 0, 0, err
	}
	if flags&flagLong != 0 {
		var b [8]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return 0, 0, err
		}
		return flags, binary.BigEndian.Uint64(b[:]), nil
	}
	b, err := c.br.ReadByte()
	return flags, uint64(b), err
}

// expect reads a handshake command, which must be want; an ERROR fails with
// ErrCurveRefused.
func (c *curveConn) expect(want string) ([]byte, error) {
	flags, size, err := c.readHeader()
	if err != nil {
		return nil, fmt.Errorf("transport: waiting for CURVE %s: %w", want, err)
	}
	if flags&^flagLong != flagCommand {
		return nil, protocolErr("frame with flags 0x%02x during the CURVE handshake", flags)
	}
	if size > uint64(curve.MaxHandshakeCommand) {
		return nil, &LimitError{What: "CURVE handshake command", Size: size, Limit: uint64(curve.MaxHandshakeCommand)}
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(c.br, body); err != nil {
		return nil, fmt.Errorf("transport: waiting for CURVE %s: %w", want, err)
	}
	name, data, err := curve.ParseCommand(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	if name == curve.CmdError {
		reason, err := curve.ParseError(data)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		return nil, fmt.Errorf("%w: ERROR %q instead of %s", ErrCurveRefused, reason, want)
	}
	if name != want {
		return nil, protocolErr("CURVE %s instead of %s", name, want)
	}
	return data, nil
}

// readMessage reads one MESSAGE from the wire, decrypts it in place and
// queues its plaintext frame.
//
// Memory: a frame of up to pooledFrame bytes is read into a buffer from a
// pool shared by all connections, returned once Read has handed the frame
// on, so an idle connection keeps none. A larger frame is read only while
// holding its plaintext size in the receive budget, and the guard takes over
// that hold (takeBudget) for the plaintext frame, so the budget bounds the
// frame from its first byte read here until zmq4 has it.
func (c *curveConn) readMessage() (err error) {
	flags, size, err := c.readHeader()
	if err != nil {
		return err
	}
	if flags&^flagLong != 0 {
		return protocolErr("ZMTP frame flags 0x%02x after the CURVE handshake, want a MESSAGE data frame", flags)
	}
	if limit := c.cfg.maxFrame + curveMessageOverhead; size > limit {
		return &LimitError{What: "CURVE MESSAGE frame", Size: size, Limit: limit}
	}
	if size < curveMessageOverhead {
		return protocolErr("CURVE frame of %d bytes is too short for a MESSAGE", size)
	}
	if n := size - curveMessageOverhead; c.cfg.budget != nil && n > c.cfg.freeBelow {
		if err := c.cfg.budget.Acquire(c.cfg.ctx, int64(n)); err != nil {
			return fmt.Errorf("transport: waiting for receive memory: %w", err)
		}
		c.heldBudget = n
		defer func() {
			if err != nil {
				c.releaseBudget()
			}
		}()
	}
	if size > readBufferSize {
		// As the guard: a large frame may take longer than the idle
		// deadline, but must arrive at minFrameRate.
		c.dmu.Lock()
		d := c.rdl
		c.dmu.Unlock()
		if !d.IsZero() {
			if err := c.Conn.SetReadDeadline(d.Add(time.Duration(size/minFrameRate+1) * time.Second)); err != nil {
				return err
			}
		}
	}
	var body []byte
	if size <= pooledFrame {
		c.rframe = framePool.Get().(*[]byte)
		body = (*c.rframe)[:size]
	} else {
		body = make([]byte, size)
	}
	if _, err := io.ReadFull(c.br, body); err != nil {
		return err
	}
	name, data, err := curve.ParseCommand(body)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	if name != curve.CmdMessage {
		return protocolErr("CURVE %s after the handshake, want MESSAGE", name)
	}
	fl, msg, err := c.sess.OpenInPlace(data)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	var zf byte
	switch fl {
	case 0:
	case curve.FlagMore:
		zf = flagMore
	case curve.FlagCommand:
		zf = flagCommand
	default:
		return protocolErr("CURVE MESSAGE flags 0x%02x", fl)
	}
	c.setFrame(zf, msg)
	return nil
}

// pooledFrame is the largest MESSAGE read into a pooled buffer: a full DATA
// batch (BatchBytes, 64 KiB by default) and its overhead.
const pooledFrame = budgetFreeBelow + curveMessageOverhead

var framePool = sync.Pool{New: func() any {
	b := make([]byte, pooledFrame)
	return &b
}}

// recycleFrame returns the pooled buffer of the frame Read has finished
// with, its plaintext erased.
func (c *curveConn) recycleFrame() {
	if c.rframe != nil {
		clear(*c.rframe)
		framePool.Put(c.rframe)
		c.rframe = nil
	}
}

// takeBudget hands the guard the budget held for the frame it is about to
// read, of size bytes: true if this layer held exactly that.
func (c *curveConn) takeBudget(size uint64) bool {
	if c.heldBudget == 0 || c.heldBudget != size {
		return false
	}
	c.heldBudget = 0
	return true
}

func (c *curveConn) releaseBudget() {
	if c.heldBudget > 0 {
		c.cfg.budget.Release(int64(c.heldBudget))
		c.heldBudget = 0
	}
}

// Write implements net.Conn for the guard and zmq4.
func (c *curveConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.failed(); err != nil {
		return 0, err
	}
	if err := c.translate(p); err != nil {
		return 0, c.fail(err)
	}
	if len(c.wout) > 0 {
		_, err := c.Conn.Write(c.wout)
		c.wout = c.wout[:0]
		if cap(c.wout) > maxKeptBuffer {
			c.wout = nil
		}
		if err != nil {
			return 0, c.fail(err)
		}
	}
	return len(p), nil
}

// translate parses what zmq4 writes (greeting, READY, then frames) and
// appends the MESSAGEs of complete frames to wout. Under wmu.
func (c *curveConn) translate(p []byte) error {
	for len(p) > 0 {
		switch c.wstate {
		case wGreeting:
			n := min(greetingLen-len(c.wgreet), len(p))
			c.wgreet, p = append(c.wgreet, p[:n]...), p[n:]
			if len(c.wgreet) == greetingLen {
				g := c.wgreet
				if g[0] != 0xff || g[9] != 0x7f || string(bytes.TrimRight(g[12:32], "\x00")) != nullMechanism {
					return protocolErr("local ZMTP greeting is not NULL ZMTP 3")
				}
				c.wgreet, c.wstate = nil, wReady
			}
			continue
		case wWait:
			return protocolErr("zmq4 wrote during the CURVE handshake")
		}
		if !c.whave {
			c.whdr[c.whn] = p[0]
			c.whn++
			p = p[1:]
			hl := 2
			if c.whdr[0]&flagLong != 0 {
				hl = 9
			}
			if c.whn < hl {
				continue
			}
			if c.whdr[0]&^(flagMore|flagLong|flagCommand) != 0 {
				return protocolErr("local ZMTP frame flags 0x%02x", c.whdr[0])
			}
			size := uint64(c.whdr[1])
			if hl == 9 {
				size = binary.BigEndian.Uint64(c.whdr[1:9])
			}
			if size > c.cfg.maxFrame {
				return &LimitError{What: "frame", Size: size, Limit: c.cfg.maxFrame}
			}
			c.whave, c.wsize, c.wbody = true, size, c.wbody[:0]
		}
		var body []byte
		n := int(min(c.wsize-uint64(len(c.wbody)), uint64(len(p))))
		if len(c.wbody) == 0 && uint64(n) == c.wsize {
			body = p[:n] // whole in this write: no copy
		} else {
			c.wbody = append(c.wbody, p[:n]...)
			body = c.wbody
		}
		p = p[n:]
		if uint64(len(body)) < c.wsize {
			continue
		}
		flags := c.whdr[0]
		c.whave, c.whn = false, 0
		if err := c.localFrame(flags, body); err != nil {
			return err
		}
		if cap(c.wbody) > maxKeptBuffer {
			c.wbody = nil
		}
	}
	return nil
}

// localFrame handles one complete frame zmq4 wrote. Under wmu.
func (c *curveConn) localFrame(flags byte, body []byte) error {
	if c.wstate == wReady {
		if flags&^flagLong != flagCommand {
			return protocolErr("local ZMTP frame 0x%02x before READY", flags)
		}
		name, data, err := curve.ParseCommand(body)
		if err != nil || name != curve.CmdReady {
			return protocolErr("local ZMTP command before READY")
		}
		if c.localMD, err = curve.ParseMetadata(data); err != nil {
			return fmt.Errorf("%w: local READY: %w", ErrProtocol, err)
		}
		c.wstate = wWait
		return nil
	}
	var cf byte
	if flags&flagMore != 0 {
		cf |= curve.FlagMore
	}
	if flags&flagCommand != 0 {
		cf |= curve.FlagCommand
	}
	// A data frame, never the command flag, and MORE only inside the box.
	c.wout = appendFrameHeader(c.wout, 0, curveMessageOverhead+len(body))
	c.wout = append(c.wout, 7)
	c.wout = append(c.wout, curve.CmdMessage...)
	var err error
	c.wout, err = c.wsess.AppendSeal(c.wout, cf, body)
	return err
}

func isReset(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}
