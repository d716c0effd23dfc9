package transport

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/meshmq/meshmq/internal/curve"
	"github.com/meshmq/meshmq/internal/wire"
)

// Conn is one established connection to a remote peer. Sends are queued
// and written by the connection's writer goroutine, which packs queued
// entries into DATA frames of up to BatchBytes and flushes as soon as the
// queue is empty, so a lone message is not delayed and a burst shares frames
// and syscalls. A caller waiting on its message (a request, a reply) may
// write it itself with WriteNow when that cannot block.
//
// A queued entry is written at most once, on this connection only: when the
// connection breaks, what it had not written is dropped with it. Delivery
// guarantees belong to the layer above (acknowledgements and resends).
type Conn struct {
	t         *Transport
	link      *Link
	remote    wire.Hello // the remote side's HELLO
	version   uint64
	outbound  bool
	heartbeat time.Duration // our send interval when idle

	raw    net.Conn // closing it unblocks the reader and the writer
	g      *guard
	curve  *curveConn // nil without Config.Curve
	zc     *zmq4.Conn
	ctx    context.Context
	cancel context.CancelFunc

	mu          sync.Mutex
	state       connState
	err         error
	data        []wire.Entry
	dataBytes   int // queued and being written
	ctrl        [][]byte
	ctrlBytes   int
	fatal       []byte // an ERROR to write before closing with fatalErr
	fatalErr    error
	drained     bool // the remote side sent DRAIN
	sentDrain   bool // we sent DRAIN
	remoteFirst bool // the remote side drained before we did
	holdDrain   bool // our answer to the remote DRAIN waits for the handler (answerDrain)

	wake   chan struct{} // the writer has work
	space  chan struct{} // the queue has room again
	closed chan struct{} // closed with state connClosed
	done   chan struct{} // closed once both goroutines ended and Down returned

	wmu    sync.Mutex
	w      writer
	sndbuf int // the socket's send buffer at first use; -1: unknown (under wmu)

	exits      atomic.Int32
	heartbeats atomic.Uint64 // HEARTBEATs received
}

type connState uint8

const (
	connOpen     connState = iota
	connDraining           // DATA refused; the writer sends DRAIN after the queue
	connClosed
)

// maxControlBytes bounds queued control packets; past it the remote side is
// not reading and the connection is useless.
const maxControlBytes = 4 << 20

// Link returns the link this connection belongs to.
func (c *Conn) Link() *Link { return c.link }

// RemoteName returns the remote peer's name as it said in HELLO (with a
// security layer, as that layer authenticated it).
func (c *Conn) RemoteName() string { return c.remote.Name }

// RemoteEpoch returns the remote peer's process epoch.
func (c *Conn) RemoteEpoch() uint64 { return c.remote.Epoch }

// Remote returns the remote side's HELLO: limits, heartbeat, credit.
func (c *Conn) Remote() wire.Hello { return c.remote }

// PeerKey returns the remote peer's CURVE long-term public key (the server
// key dialed, or the client key authenticated and authorized); false when
// the connection does not use CURVE.
func (c *Conn) PeerKey() (curve.PublicKey, bool) {
	if c.curve == nil {
		return curve.PublicKey{}, false
	}
	return c.curve.PeerKey(), true
}

// Outbound reports whether this side dialed the connection.
func (c *Conn) Outbound() bool { return c.outbound }

// RemoteAddr returns the remote network address.
func (c *Conn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// Done is closed once the connection has fully closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Closed is closed as soon as the connection is closing: nothing more is
// written to it.
func (c *Conn) Closed() <-chan struct{} { return c.closed }

// Current reports whether c is its link's current connection: false once
// another replaced it or it closed. Handler calls for different connections
// of one link may come in any order, so a handler that keeps one connection
// per peer checks this in Up, under the lock that guards its choice: an Up
// that arrives after the Up of the connection that replaced it is stale.
func (c *Conn) Current() bool { return c.link != nil && c.link.Conn() == c }

// Err returns why the connection closed, or nil while it is open.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Conn) maxMessage() int {
	n := c.t.cfg.MaxMessageSize
	if r := c.remote.MaxMessage; r > 0 && r < uint64(n) {
		n = int(r)
	}
	return n
}

// Send queues e, waiting while the queue is full until ctx ends. e.Message
// is retained until written and must not be modified meanwhile.
func (c *Conn) Send(ctx context.Context, e *wire.Entry) error { return c.send(ctx, e) }

func (c *Conn) send(ctx context.Context, e *wire.Entry) error { return c.sendWake(ctx, e, true) }

// TrySend queues e or fails at once with ErrQueueFull.
func (c *Conn) TrySend(e *wire.Entry) error { return c.send(nil, e) }

// TryQueue is TrySend that does not wake the writer: the caller writes
// with WriteNow, or wakes it with Wake.
func (c *Conn) TryQueue(e *wire.Entry) error { return c.sendWake(nil, e, false) }

// inlineWriteMax bounds what WriteNow writes: a larger queue is the writer
// goroutine's.
const inlineWriteMax = 16 << 10

func (c *Conn) sendWake(ctx context.Context, e *wire.Entry, wake bool) error {
	if n := len(e.Message); n > c.maxMessage() {
		return &LimitError{What: "message", Size: uint64(n), Limit: uint64(c.maxMessage())}
	}
	size := e.Size()
	waited := false
	for {
		c.mu.Lock()
		if c.state != connOpen {
			err := c.sendErr()
			c.mu.Unlock()
			return err
		}
		// One entry is always admitted to an empty queue, however large.
		if c.dataBytes == 0 || c.dataBytes+size <= c.t.cfg.SendQueueBytes {
			c.data = append(c.data, *e)
			c.dataBytes += size
			first := len(c.data)+len(c.ctrl) == 1
			c.mu.Unlock()
			if first && wake {
				signal(c.wake)
			}
			if waited {
				// Pass the wake-up on: others may wait and there may be room.
				signal(c.space)
			}
			return nil
		}
		c.mu.Unlock()
		if ctx == nil {
			return ErrQueueFull
		}
		waited = true
		select {
		case <-c.space:
		case <-ctx.Done():
			return ctx.Err()
		case <-c.closed:
		}
	}
}

func (c *Conn) sendErr() error {
	if c.state == connClosed && c.err != nil {
		return fmt.Errorf("%w: %w", ErrNotConnected, c.err)
	}
	return ErrNotConnected
}

// SendPacket queues a control packet (ACK, NACK, CREDIT, catalog). Control
// packets go out before queued DATA and are accepted while draining.
func (c *Conn) SendPacket(p wire.Packet) error {
	b := p.Append(nil)
	c.mu.Lock()
	if c.state == connClosed {
		err := c.sendErr()
		c.mu.Unlock()
		return err
	}
	if c.ctrlBytes+len(b) > maxControlBytes {
		c.mu.Unlock()
		c.close(fmt.Errorf("transport: %s is not reading control packets", c.remote.Name))
		return ErrQueueFull
	}
	c.ctrl = append(c.ctrl, b)
	c.ctrlBytes += len(b)
	first := len(c.data)+len(c.ctrl) == 1
	c.mu.Unlock()
	if first {
		signal(c.wake)
	}
	return nil
}

// Drain stops taking DATA, sends what is queued, then DRAIN, and closes the
// write side; the connection ends when the remote side closes too.
func (c *Conn) Drain() {
	c.mu.Lock()
	if c.state == connOpen {
		c.state = connDraining
	}
	c.mu.Unlock()
	signal(c.wake)
}

// remoteDrain takes a DRAIN: DATA not yet written is dropped and no more is
// taken (the remote side will not handle it; the layer above resends what
// stays unacknowledged); control packets still go, then our DRAIN, held
// until answerDrain: the handler first queues the ACKs and NACKs it owes. It
// reports false when our DRAIN had gone already and the connection is done.
func (c *Conn) remoteDrain() (owed bool) {
	c.mu.Lock()
	c.drained = true
	if c.sentDrain {
		// Both DRAINs are through: the connection is done.
		c.mu.Unlock()
		c.close(nil)
		return false
	}
	c.remoteFirst = c.state == connOpen
	c.holdDrain = true
	for i := range c.data {
		c.dataBytes -= c.data[i].Size()
	}
	clear(c.data)
	c.data = c.data[:0]
	if c.state == connOpen {
		c.state = connDraining
	}
	c.mu.Unlock()
	signal(c.space)
	signal(c.wake)
	return true
}

// answerDrain lets the writer send our DRAIN once what is queued is written.
func (c *Conn) answerDrain() {
	c.mu.Lock()
	c.holdDrain = false
	c.mu.Unlock()
	signal(c.wake)
}

// Close closes the connection at once; queued packets are dropped.
func (c *Conn) Close() { c.close(ErrClosed) }

func (c *Conn) close(err error) {
	c.mu.Lock()
	if c.state == connClosed {
		c.mu.Unlock()
		return
	}
	if err == nil && c.remoteFirst {
		err = ErrRemoteDrained
	}
	c.state, c.err = connClosed, err
	c.mu.Unlock()
	close(c.closed)
	c.cancel()
	c.raw.Close()
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// start runs the reader and the writer; Up has been called.
func (c *Conn) start() {
	c.t.wg.Add(2)
	go c.readLoop()
	go c.writeLoop()
}

// exit is called by each goroutine as it ends; the second one finishes the
// connection.
func (c *Conn) exit() {
	defer c.t.wg.Done()
	if c.exits.Add(1) < 2 {
		return
	}
	c.mu.Lock()
	err := c.err
	c.data, c.ctrl = nil, nil
	c.mu.Unlock()
	if c.curve != nil {
		c.curve.wipe()
	}
	c.link.detach(c)
	c.t.conns.Add(-1)
	c.t.cfg.Handler.Down(c, err)
	close(c.done)
}

func (c *Conn) readLoop() {
	defer c.exit()
	defer c.g.release()
	for {
		msg, err := c.recv()
		if err != nil {
			c.mu.Lock()
			draining := c.state == connDraining
			c.mu.Unlock()
			if draining && isEOF(err) {
				err = nil // we drained and the remote side closed: clean
			}
			c.close(err)
			return
		}
		if msg.Type == zmq4.CmdMsg {
			continue // ZMTP PING/PONG from libzmq peers: liveness only
		}
		p, err := wire.Decode(msg.Frames[0])
		if err != nil {
			c.fail(wire.CodeProtocol, fmt.Errorf("%w: %w", ErrProtocol, err))
			return
		}
		switch p := p.(type) {
		case *wire.Heartbeat:
			c.heartbeats.Add(1)
		case *wire.Hello:
			c.fail(wire.CodeProtocol, protocolErr("second HELLO"))
			return
		case *wire.Error:
			c.close(&RefusedError{Code: p.Code, Text: p.Text})
			return
		case *wire.Drain:
			// DATA stops first; the handler then queues what it owes
			// (PROTOCOL.md 9), and only then does our DRAIN go.
			owed := c.remoteDrain()
			c.t.cfg.Handler.Packet(c, p)
			if owed {
				c.answerDrain()
			}
		default:
			c.t.cfg.Handler.Packet(c, p)
		}
	}
}

// recv reads one message. zmq4 runs on bytes the guard has checked; a panic
// in it must still not take the process down.
func (c *Conn) recv() (msg zmq4.Msg, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: zmq4 panicked: %v", ErrProtocol, r)
		}
	}()
	msg, err = c.zc.RecvMsg()
	if err == nil && msg.Type != zmq4.CmdMsg && len(msg.Frames) != 1 {
		err = protocolErr("%d frames in one message", len(msg.Frames))
	}
	return msg, err
}

// fail has the writer send an ERROR saying why, then closes. It waits a
// little for the writer, which may be stuck on a remote side not reading.
func (c *Conn) fail(code wire.Code, err error) {
	c.t.stats.ProtocolErrors.Add(1)
	c.t.logger.Warn("closing connection", "peer", c.remote.Name, "addr", c.raw.RemoteAddr(), "err", err)
	c.mu.Lock()
	c.fatal = (&wire.Error{Code: code, Text: err.Error()}).Append(nil)
	c.fatalErr = err
	c.mu.Unlock()
	signal(c.wake)
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-c.closed:
	case <-t.C:
		c.close(err)
	}
}

func (c *Conn) writeLoop() {
	defer c.exit()
	c.wmu.Lock()
	w := &c.w
	w.c = c
	c.wmu.Unlock()
	tick := time.NewTicker(c.heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-c.wake:
		case <-tick.C:
			c.wmu.Lock()
			if !w.wrote {
				w.frame = (&wire.Heartbeat{Time: time.Now()}).Append(w.frame[:0])
				if err := w.send(w.frame); err == nil {
					err = c.g.Flush()
				}
			}
			w.wrote = false
			c.wmu.Unlock()
			continue
		case <-c.closed:
			return
		}
		c.wmu.Lock()
		draining, err := w.drainQueue()
		if err == nil {
			err = c.g.Flush()
		}
		c.wmu.Unlock()
		if err != nil {
			c.close(fmt.Errorf("transport: writing to %s: %w", c.remote.Name, err))
			return
		}
		if draining {
			w.frame = (&wire.Drain{Reason: "closing"}).Append(w.frame[:0])
			err := w.send(w.frame)
			if err == nil {
				err = c.g.Flush()
			}
			c.mu.Lock()
			c.sentDrain = true
			done := c.drained
			c.mu.Unlock()
			if err != nil || done {
				// Both DRAINs are through (or ours cannot be): close. The
				// remote side has nothing more to send, so closing does not
				// reset the connection under unread data.
				c.close(err)
				return
			}
			// Keep the write side open: a libzmq peer drops the whole
			// connection on a FIN and could not send its ACKs and DRAIN.
			<-c.closed
			return
		}
	}
}

// writer holds the writer goroutine's buffers.
type writer struct {
	c     *Conn
	frame []byte
	spare []wire.Entry
	wrote bool
}

// drainQueue writes everything queued; it reports whether the connection is
// draining and the queue is now empty.
func (w *writer) drainQueue() (draining bool, err error) {
	c := w.c
	batch := c.t.cfg.BatchBytes
	for {
		c.mu.Lock()
		if fatal, ferr := c.fatal, c.fatalErr; fatal != nil {
			c.mu.Unlock()
			if w.send(fatal) == nil {
				c.g.Flush()
			}
			c.close(ferr)
			return false, ferr
		}
		ctrl, data := c.ctrl, c.data
		c.ctrl, c.ctrlBytes = nil, 0
		c.data = w.spare[:0]
		draining = c.state == connDraining && !c.holdDrain
		c.mu.Unlock()
		if len(ctrl) == 0 && len(data) == 0 {
			w.spare = data
			return draining, nil
		}
		for _, b := range ctrl {
			if err := w.send(b); err != nil {
				return false, err
			}
		}
		written := 0
		for i := 0; i < len(data); {
			n, size := 0, wire.DataOverhead(len(data)-i)
			for j := i; j < len(data); j++ {
				s := data[j].Size()
				if n > 0 && size+s > batch {
					break
				}
				size += s
				n++
			}
			w.frame = wire.AppendDataHeader(w.frame[:0], n)
			for j := i; j < i+n; j++ {
				w.frame = wire.AppendEntry(w.frame, &data[j])
				written += data[j].Size()
			}
			if err := w.send(w.frame); err != nil {
				return false, err
			}
			i += n
		}
		clear(data) // drop references to message bytes
		w.spare = data[:0]
		if written > 0 {
			c.mu.Lock()
			c.dataBytes -= written
			c.mu.Unlock()
			signal(c.space)
		}
		if cap(w.frame) > 4*batch {
			w.frame = nil // one huge message must not pin its buffer
		}
	}
}

// Wake makes the writer goroutine write what is queued (after TryQueue).
func (c *Conn) Wake() { signal(c.wake) }

// WriteNow writes what is queued from the calling goroutine, saving the
// hop to the writer goroutine for a message someone waits for (a request,
// a reply). It does so only when the write cannot block: the writer is idle
// and the socket's send buffer has room for the queue many times over, so
// that a remote side that stopped reading never holds the caller (whose ctx
// a blocked write would not honor). It reports false when it did not write;
// the caller then wakes the writer.
func (c *Conn) WriteNow() bool {
	if !c.wmu.TryLock() {
		return false
	}
	if c.w.c == nil {
		c.wmu.Unlock()
		return false // the writer goroutine has not started
	}
	c.mu.Lock()
	queued := c.dataBytes + c.ctrlBytes
	c.mu.Unlock()
	if c.sndbuf == 0 {
		if n, ok := sockBuf(c.raw); ok {
			c.sndbuf = n
		} else {
			c.sndbuf = -1
		}
	}
	// The kernel counts buffers, not bytes: keep a wide margin.
	inSocket, ok := sockQueued(c.raw)
	if !ok || c.sndbuf < 0 || queued > inlineWriteMax || c.sndbuf-inSocket < 8*(queued+wire.DataOverhead(1)) {
		c.wmu.Unlock()
		return false
	}
	draining, err := c.w.drainQueue()
	if err == nil {
		err = c.g.Flush()
	}
	c.wmu.Unlock()
	if err != nil {
		c.close(fmt.Errorf("transport: writing to %s: %w", c.remote.Name, err))
		return true
	}
	if draining {
		signal(c.wake)
	}
	return true
}

func (w *writer) send(frame []byte) error {
	w.wrote = true
	return w.c.zc.SendMsg(zmq4.NewMsg(frame))
}
