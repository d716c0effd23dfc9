package transport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
)

// ZMTP 3 framing (RFC 23).
const (
	greetingLen = 64
	flagMore    = 0x01
	flagLong    = 0x02
	flagCommand = 0x04

	readBufferSize  = 16 << 10
	writeBufferSize = 32 << 10

	// minFrameRate is the slowest a frame body may arrive once its header
	// has: a client that trickles a large frame is cut off, not waited for.
	minFrameRate = 64 << 10 // bytes per second
)

// phase is how far a connection has come; each allows less than the next.
type phase uint8

const (
	phaseGreeting phase = iota // the 64-byte ZMTP greeting
	phaseZMTP                  // ZMTP commands (READY) only, small frames
	phaseHello                 // the meshmq HELLO, small frames
	phaseOpen                  // any packet up to MaxFrameSize
)

// guard sits between a connection and zmq4. zmq4 allocates a frame's body as
// soon as it has read the frame's header, and panics or stalls on some
// malformed handshakes; the guard therefore parses every frame header on the
// byte stream before zmq4 sees it, and fails the read when the header breaks
// a limit, so zmq4 never allocates for a frame we would not accept. It also
// buffers both directions (zmq4 writes a frame's header and body separately)
// and keeps the read deadlines that detect dead peers.
//
// Reads happen on one goroutine at a time (the handshake, then the reader);
// writes may come from the writer and from zmq4 answering a PING, so they
// are serialized by wmu.
type guard struct {
	net.Conn                // the connection below: raw TCP or a security layer
	br        *bufio.Reader // reads from rawReader{g}
	mechanism string        // expected ZMTP mechanism in the remote greeting

	phase     phase
	greetLeft int
	frameLeft uint64 // bytes of the current frame, header included, not yet read

	hsMaxFrame uint64 // frame limit until phaseOpen
	maxFrame   uint64

	// Frames above freeBelow are read only while holding their size in
	// budget, shared by all connections, so that stalled senders of large
	// frames cannot together hold more than the configured receive memory.
	budget    *semaphore.Weighted
	freeBelow uint64
	held      int64
	ctx       context.Context // canceled when the connection closes

	idle          time.Duration // read deadline after phaseOpen
	frameDeadline time.Time
	timedOutFrame bool

	wmu          sync.Mutex
	bw           *bufio.Writer // nil until phaseOpen: writes go straight through
	writeTimeout time.Duration
}

type guardConfig struct {
	mechanism  string
	hsMaxFrame uint64
	maxFrame   uint64
	budget     *semaphore.Weighted
	freeBelow  uint64
	idle       time.Duration
	writeTO    time.Duration
}

func newGuard(ctx context.Context, c net.Conn, cfg guardConfig) *guard {
	g := &guard{
		Conn:         c,
		mechanism:    cfg.mechanism,
		greetLeft:    greetingLen,
		hsMaxFrame:   cfg.hsMaxFrame,
		maxFrame:     cfg.maxFrame,
		budget:       cfg.budget,
		freeBelow:    cfg.freeBelow,
		ctx:          ctx,
		idle:         cfg.idle,
		writeTimeout: cfg.writeTO,
	}
	g.br = bufio.NewReaderSize(rawReader{g}, readBufferSize)
	return g
}

// zmtpDone is called once zmq4's handshake returned: HELLO comes next.
func (g *guard) zmtpDone() { g.phase = phaseHello }

// open lifts the handshake limits and turns on write buffering. The caller
// clears the handshake's absolute deadline.
func (g *guard) open() {
	g.phase = phaseOpen
	g.wmu.Lock()
	g.bw = bufio.NewWriterSize(rawWriter{g}, writeBufferSize)
	g.wmu.Unlock()
}

// Read implements net.Conn for zmq4.
func (g *guard) Read(p []byte) (int, error) {
	if g.greetLeft > 0 {
		if g.greetLeft == greetingLen {
			if err := g.checkGreeting(); err != nil {
				return 0, err
			}
		}
		if len(p) > g.greetLeft {
			p = p[:g.greetLeft]
		}
		n, err := g.br.Read(p)
		g.greetLeft -= n
		if g.greetLeft == 0 {
			g.phase = phaseZMTP
		}
		return n, err
	}
	if g.frameLeft == 0 {
		if err := g.nextFrame(); err != nil {
			return 0, err
		}
	}
	if uint64(len(p)) > g.frameLeft {
		p = p[:g.frameLeft]
	}
	n, err := g.br.Read(p)
	g.frameLeft -= uint64(n)
	return n, err
}

func (g *guard) checkGreeting() error {
	b, err := g.br.Peek(greetingLen)
	if err != nil {
		return err
	}
	return checkGreeting(b, g.mechanism)
}

// checkGreeting checks a ZMTP greeting: signature, version 3 or later, and
// the security mechanism.
func checkGreeting(b []byte, mechanism string) error {
	if b[0] != 0xff || b[9] != 0x7f {
		return protocolErr("not a ZMTP peer (bad greeting signature)")
	}
	if b[10] < 3 {
		return protocolErr("ZMTP %d.%d is not supported, need 3.0 or later", b[10], b[11])
	}
	mech := b[12:32]
	if i := bytes.IndexByte(mech, 0); i >= 0 {
		mech = mech[:i]
	}
	if string(mech) != mechanism {
		return protocolErr("security mechanism %q, want %q", mech, mechanism)
	}
	return nil
}

// nextFrame checks the header of the frame about to be read.
func (g *guard) nextFrame() error {
	g.release()
	h, err := g.br.Peek(2)
	if err != nil {
		return err
	}
	fl := h[0]
	if fl&^(flagMore|flagLong|flagCommand) != 0 {
		return protocolErr("reserved ZMTP frame flags set (0x%02x)", fl)
	}
	if fl&flagMore != 0 {
		// meshmq packets are single frames; refusing others also bounds
		// what zmq4 accumulates per message.
		return protocolErr("multi-frame ZMTP message")
	}
	hdr, size := 2, uint64(h[1])
	if fl&flagLong != 0 {
		if h, err = g.br.Peek(9); err != nil {
			return err
		}
		hdr, size = 9, binary.BigEndian.Uint64(h[1:9])
	}
	switch g.phase {
	case phaseZMTP:
		if size > g.hsMaxFrame {
			return &LimitError{What: "handshake frame", Size: size, Limit: g.hsMaxFrame}
		}
		if fl&flagCommand == 0 {
			return protocolErr("message frame during the ZMTP handshake")
		}
		// Small enough to hold whole (hsMaxFrame < readBufferSize): check
		// the command before zmq4 parses it.
		b, err := g.br.Peek(hdr + int(size))
		if err != nil {
			return err
		}
		if err := checkCommand(b[hdr:]); err != nil {
			return err
		}
	case phaseHello:
		if size > g.hsMaxFrame {
			return &LimitError{What: "handshake frame", Size: size, Limit: g.hsMaxFrame}
		}
	default:
		if size > g.maxFrame {
			return &LimitError{What: "frame", Size: size, Limit: g.maxFrame}
		}
		if size > g.freeBelow {
			// A security layer below may already hold the frame's budget
			// (it read the frame whole to decrypt it): the guard takes it
			// over rather than holding it twice.
			if b, ok := g.Conn.(interface{ takeBudget(uint64) bool }); !ok || !b.takeBudget(size) {
				if err := g.budget.Acquire(g.ctx, int64(size)); err != nil {
					return fmt.Errorf("transport: waiting for receive memory: %w", err)
				}
			}
			g.held = int64(size)
		}
		g.frameDeadline = time.Now().Add(g.idle + time.Duration(size)*time.Second/minFrameRate)
	}
	g.frameLeft = uint64(hdr) + size
	return nil
}

// release returns the budget held for the previous frame, which the reader
// has finished with by the time zmq4 asks for the next one.
func (g *guard) release() {
	if g.held > 0 {
		g.budget.Release(g.held)
		g.held = 0
	}
}

// checkCommand validates a ZMTP command's name and, for READY, its
// properties: zmq4 indexes them without bounds checks.
func checkCommand(b []byte) error {
	if len(b) == 0 || int(b[0]) == 0 || 1+int(b[0]) > len(b) {
		return protocolErr("malformed ZMTP command")
	}
	name, body := string(b[1:1+int(b[0])]), b[1+int(b[0]):]
	switch name {
	case "READY":
		for len(body) > 0 {
			k := int(body[0])
			if k == 0 || 1+k+4 > len(body) {
				return protocolErr("malformed ZMTP READY property")
			}
			v := binary.BigEndian.Uint32(body[1+k:])
			if uint64(v) > uint64(len(body)-1-k-4) {
				return protocolErr("malformed ZMTP READY property")
			}
			body = body[1+k+4+int(v):]
		}
	case "ERROR":
		if len(body) == 0 || 1+int(body[0]) > len(body) {
			return protocolErr("malformed ZMTP ERROR")
		}
	}
	return nil
}

// Write implements net.Conn for zmq4.
func (g *guard) Write(p []byte) (int, error) {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	if g.bw == nil {
		return g.Conn.Write(p)
	}
	return g.bw.Write(p)
}

// Flush writes out what Write buffered.
func (g *guard) Flush() error {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	if g.bw == nil {
		return nil
	}
	return g.bw.Flush()
}

// rawReader is the bufio.Reader's source: it renews the read deadline
// before each read once the connection is open.
type rawReader struct{ g *guard }

func (r rawReader) Read(p []byte) (int, error) {
	g := r.g
	if g.phase == phaseOpen {
		d := time.Now().Add(g.idle)
		g.timedOutFrame = false
		if g.frameLeft > 0 && g.frameDeadline.Before(d) {
			d, g.timedOutFrame = g.frameDeadline, true
		}
		if err := g.Conn.SetReadDeadline(d); err != nil {
			return 0, err
		}
	}
	n, err := g.Conn.Read(p)
	if err != nil && g.phase == phaseOpen && isTimeout(err) {
		if g.timedOutFrame {
			return n, protocolErr("frame body arrived slower than %d B/s", minFrameRate)
		}
		return n, fmt.Errorf("%w: nothing received for %v", ErrHeartbeatTimeout, g.idle)
	}
	return n, err
}

// rawWriter is the bufio.Writer's sink: it bounds each write, so a remote
// side that stops reading fails the connection instead of wedging it.
type rawWriter struct{ g *guard }

func (w rawWriter) Write(p []byte) (int, error) {
	if err := w.g.Conn.SetWriteDeadline(time.Now().Add(w.g.writeTimeout)); err != nil {
		return 0, err
	}
	n, err := w.g.Conn.Write(p)
	if err != nil && isTimeout(err) {
		err = fmt.Errorf("transport: remote peer read nothing for %v: %w", w.g.writeTimeout, err)
	}
	return n, err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
