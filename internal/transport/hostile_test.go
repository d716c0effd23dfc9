package transport

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"
	"go.uber.org/goleak"

	"github.com/meshmq/meshmq/internal/curve"
	"github.com/meshmq/meshmq/internal/wire"
)

// The hostile-input tests run each case against a listener using the NULL
// mechanism and against one using CURVE. With CURVE, the bytes of a client
// that has not authenticated fail in the CURVE handshake, and a client that
// has (the hand-made clients hold the key "client", which the victim admits)
// reaches the same guard and HELLO checks as over NULL, its frames sealed in
// MESSAGEs. Either way the listener must survive, keep accepting, serve a
// legitimate peer afterwards, hold its memory budget and leak no goroutine.

// hostileSec is the security of one hostile-input test's transports.
type hostileSec struct {
	curve *curvePeers // nil: the NULL mechanism
}

// hostileNames are the peers of the hostile-input tests: the listeners under
// attack ("victim", "hub"), legitimate peers, and "client", the key of the
// hand-made clients.
var hostileNames = []string{"victim", "hub", "good", "p1", "p2", "p3", "client"}

// forEachHostileSec runs test against NULL and CURVE listeners, checking
// that nothing the test started outlives it.
func forEachHostileSec(t *testing.T, test func(*testing.T, hostileSec)) {
	t.Run("NULL", func(t *testing.T) {
		noLeaks(t)
		test(t, hostileSec{})
	})
	t.Run("CURVE", func(t *testing.T) {
		noLeaks(t)
		p := newCurvePeers(t, hostileNames...)
		test(t, hostileSec{curve: &p})
	})
}

// noLeaks fails t if goroutines started from now on outlive t's cleanups
// (this one, registered first, runs last).
func noLeaks(t *testing.T) {
	t.Helper()
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })
}

// cfg is a peer's configuration; with CURVE it admits the keys of allowed.
func (s hostileSec) cfg(name string, h Handler, allowed ...string) Config {
	if s.curve == nil {
		return fast(name, h)
	}
	return s.curve.cfg(name, h, allowed...)
}

// victim is the attacked listener's configuration: it admits "good" and the
// hand-made clients.
func (s hostileSec) victim(h Handler) Config { return s.cfg("victim", h, "good", "client") }

// greeting is the ZMTP greeting the victim expects.
func (s hostileSec) greeting() []byte {
	if s.curve != nil {
		return zmtpGreeting("CURVE")
	}
	return nullGreeting()
}

// either returns null over NULL and curve with CURVE.
func (s hostileSec) either(null, curve error) error {
	if s.curve != nil {
		return curve
	}
	return null
}

// frameOverhead is what a frame adds on the wire past the ZMTP layer: a
// CURVE MESSAGE's name, nonce, MAC and flags.
func (s hostileSec) frameOverhead() uint64 {
	if s.curve != nil {
		return curveMessageOverhead
	}
	return 0
}

// handConn is a client made by hand.
type handConn struct {
	raw net.Conn   // the TCP connection
	zc  *zmq4.Conn // zmq4's DEALER on it
	cc  *curveConn // with CURVE: the client layer zmq4 runs over
	tap *tap       // with CURVE: between cc and raw
}

// zmtp takes plaintext ZMTP frames: raw, or with CURVE the client layer,
// which seals each complete frame in a MESSAGE.
func (h *handConn) zmtp() io.Writer {
	if h.cc != nil {
		return h.cc
	}
	return h.raw
}

// openZMTP runs zmq4's DEALER handshake on raw; with CURVE over a client
// layer holding "client"'s key, which the victim admits.
func (s hostileSec) openZMTP(t testing.TB, raw net.Conn) *handConn {
	t.Helper()
	h := &handConn{raw: raw}
	var conn net.Conn = raw
	if s.curve != nil {
		h.tap = &tap{Conn: raw}
		h.cc = newCurveConn(h.tap, curveConfig{keys: s.curve.keys["client"], serverKey: s.curve.keys["victim"].Public,
			deadline: time.Now().Add(curveIOTimeout), maxFrame: 64 << 20})
		conn = h.cc
	}
	zc, err := zmq4.Open(conn, null.Security(), zmq4.Dealer, nil, false, nil)
	if err != nil {
		t.Fatalf("ZMTP handshake with the victim: %v", err)
	}
	h.zc = zc
	return h
}

// dialHello completes the handshake and HELLO as the named peer, by hand,
// and returns the connection, positioned after the acceptor's HELLO.
func (s hostileSec) dialHello(t testing.TB, ep, name string) *handConn {
	t.Helper()
	raw := rawDial(t, ep)
	raw.SetDeadline(time.Now().Add(5 * time.Second))
	h := s.openZMTP(t, raw)
	hello := &wire.Hello{Versions: []uint64{1}, Name: name, Epoch: 1, HeartbeatTimeout: time.Hour}
	if err := h.zc.SendMsg(zmq4.NewMsg(hello.Append(nil))); err != nil {
		t.Fatal(err)
	}
	msg, err := h.zc.RecvMsg()
	if err != nil {
		t.Fatal(err)
	}
	if p, err := wire.Decode(msg.Frames[0]); err != nil || p.Type() != wire.TypeHello {
		t.Fatalf("no HELLO back: %v %v", p, err)
	}
	raw.SetDeadline(time.Time{})
	return h
}

// nullGreeting is a ZMTP 3.0 greeting offering the NULL mechanism.
func nullGreeting() []byte {
	g := make([]byte, greetingLen)
	g[0], g[9], g[10], g[11] = 0xff, 0x7f, 3, 0
	copy(g[12:], "NULL")
	return g
}

// readyCommand is a well-formed NULL READY command frame from a DEALER.
func readyCommand() []byte {
	body := []byte{5}
	body = append(body, "READY"...)
	prop := func(k, v string) {
		body = append(body, byte(len(k)))
		body = append(body, k...)
		body = binary.BigEndian.AppendUint32(body, uint32(len(v)))
		body = append(body, v...)
	}
	prop("Socket-Type", "DEALER")
	return append([]byte{flagCommand, byte(len(body))}, body...)
}

func longHeader(flags byte, size uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{flags | flagLong}, size)
}

func rawDial(t testing.TB, ep string) net.Conn {
	t.Helper()
	addr, err := parseEndpoint(ep)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dialHello completes ZMTP and HELLO as the named peer over NULL.
func dialHello(t testing.TB, ep, name string) net.Conn {
	t.Helper()
	return hostileSec{}.dialHello(t, ep, name).raw
}

// hostileEnv is what an attack gets: the victim, its endpoint, what its
// handler recorded and the errors of its failed handshakes.
type hostileEnv struct {
	hostileSec
	ep     string
	victim *Transport
	rec    *recorder
	log    *failureLog
}

// Each attack leaves the listener serving: a legitimate peer connects and
// exchanges a message while the attacking connections are still open. The
// attacks after HELLO end the attacker's connection with the error they
// deserve; the CURVE attacks during the handshake fail it as they should,
// without a WELCOME to a HELLO that does not verify.
func TestHostileInputThenLegitimateExchange(t *testing.T) {
	forEachHostileSec(t, testHostileInputThenLegitimateExchange)
}

func testHostileInputThenLegitimateExchange(t *testing.T, s hostileSec) {
	type attack struct {
		name      string
		curveOnly bool
		run       func(t *testing.T, e *hostileEnv)
	}
	attacks := []attack{
		{name: "idle TCP connection", run: func(t *testing.T, e *hostileEnv) {
			for i := 0; i < 10; i++ {
				rawDial(t, e.ep)
			}
		}},
		{name: "random bytes", run: func(t *testing.T, e *hostileEnv) {
			for i := 0; i < 20; i++ {
				junk := make([]byte, 1+i*97)
				rand.Read(junk)
				rawDial(t, e.ep).Write(junk)
			}
		}},
		{name: "greeting then a 2^50-byte frame header", run: func(t *testing.T, e *hostileEnv) {
			c := rawDial(t, e.ep)
			c.Write(e.greeting())
			c.Write(longHeader(flagCommand, 1<<50))
			expectClosed(t, c)
			e.wantHandshakeErr(t, ErrTooLarge)
		}},
		{name: "greeting then a 2^63-1-byte message frame", run: func(t *testing.T, e *hostileEnv) {
			c := rawDial(t, e.ep)
			c.Write(e.greeting())
			c.Write(longHeader(0, 1<<63-1))
			expectClosed(t, c)
			// The guard checks the size first, the CURVE layer the flags.
			e.wantHandshakeErr(t, e.either(ErrTooLarge, ErrProtocol))
		}},
		{name: "greeting then a 2^63-byte command frame", run: func(t *testing.T, e *hostileEnv) {
			c := rawDial(t, e.ep)
			c.Write(e.greeting())
			c.Write(longHeader(flagCommand, 1<<63))
			expectClosed(t, c)
			e.wantHandshakeErr(t, ErrTooLarge)
		}},
		{name: "truncated READY properties", run: func(t *testing.T, e *hostileEnv) {
			for _, body := range [][]byte{
				append([]byte{5}, "READY\x05Hello"...),               // property cut in its length
				append([]byte{5}, "READY\x03abc\x00\x00\xff\xff"...), // value longer than the frame
				append([]byte{5}, "READY\x00"...),                    // empty property name
				{200, 'R'},                                           // name longer than the frame
			} {
				c := rawDial(t, e.ep)
				c.Write(e.greeting())
				c.Write(append([]byte{flagCommand, byte(len(body))}, body...))
				expectClosed(t, c)
				e.wantHandshakeErr(t, ErrProtocol)
			}
		}},
		{name: "multi-frame message after HELLO", run: func(t *testing.T, e *hostileEnv) {
			h := e.dialHello(t, e.ep, "multi")
			h.zmtp().Write([]byte{flagMore, 1, 0x90, 0, 1, 0x90})
			expectClosed(t, h.raw)
			e.wantDown(t, "multi", ErrProtocol)
		}},
		{name: "garbage packet after HELLO", run: func(t *testing.T, e *hostileEnv) {
			before := e.victim.Stats().ProtocolErrors.Load()
			h := e.dialHello(t, e.ep, "garbage")
			h.zmtp().Write([]byte{0, 3, 0x92, 0x01, 0xdd})
			expectClosed(t, h.raw)
			e.wantDown(t, "garbage", ErrProtocol)
			if n := e.victim.Stats().ProtocolErrors.Load(); n != before+1 {
				t.Fatalf("ProtocolErrors %d after %d, want one more", n, before)
			}
		}},
		{name: "huge frame after HELLO", run: func(t *testing.T, e *hostileEnv) {
			// With CURVE, the header of a 1 TiB MESSAGE frame.
			h := e.dialHello(t, e.ep, "huge")
			h.raw.Write(longHeader(0, 1<<40))
			expectClosed(t, h.raw)
			e.wantDown(t, "huge", ErrTooLarge)
		}},
		{name: "HELLO with a name and no versions", run: func(t *testing.T, e *hostileEnv) {
			h := e.openZMTP(t, rawDial(t, e.ep))
			h.zc.SendMsg(zmq4.NewMsg([]byte{0x93, 0, 0xa6, 'm', 'e', 's', 'h', 'm', 'q', 0x81, 2, 0xa1, 'x'}))
			expectClosed(t, h.raw)
			e.wantHandshakeErr(t, wire.ErrMalformed)
		}},

		// CURVE only: the handshake before authentication.
		{name: "HELLO over the command limit", curveOnly: true, run: func(t *testing.T, e *hostileEnv) {
			// Announced and sent whole: refused from its header.
			body, err := curve.AppendCommand(nil, curve.CmdHello, e.curveHello(t))
			if err != nil {
				t.Fatal(err)
			}
			body = append(body, make([]byte, curve.MaxHandshakeCommand+1-len(body))...)
			e.curveHandshakeAttack(t, commandFrame(body), false, ErrTooLarge)
		}},
		{name: "HELLO a byte too long or short", curveOnly: true, run: func(t *testing.T, e *hostileEnv) {
			hello := e.curveHello(t)
			for _, data := range [][]byte{append(hello, 0), hello[:len(hello)-1]} {
				e.curveHandshakeAttack(t, curveCommandFrame(t, curve.CmdHello, data), false, curve.ErrMalformed)
			}
		}},
		{name: "truncated HELLO", curveOnly: true, run: func(t *testing.T, e *hostileEnv) {
			// The stream ends in the middle of HELLO's frame.
			frame := curveCommandFrame(t, curve.CmdHello, e.curveHello(t))
			e.curveHandshakeAttack(t, frame[:len(frame)/2], true, io.ErrUnexpectedEOF)
		}},
		{name: "HELLO with a bad box", curveOnly: true, run: func(t *testing.T, e *hostileEnv) {
			for _, bad := range []struct {
				change func(data []byte)
				want   error
			}{
				{func(d []byte) { d[len(d)-1] ^= 1 }, curve.ErrBadBox},         // MAC or signature
				{func(d []byte) { d[2+72] ^= 1 }, curve.ErrBadBox},             // another transient key
				{func(d []byte) { clear(d[2+72 : 2+72+32]) }, curve.ErrBadKey}, // a low-order transient key
				{func(d []byte) { d[2+72+32+7]++ }, curve.ErrBadBox},           // another nonce
				{func(d []byte) { d[0] = 2 }, curve.ErrBadVersion},             // CurveZMQ 2.0
				{func(d []byte) { d[2+72+32+8+16] ^= 1 }, curve.ErrBadBox},     // ciphertext
			} {
				data := e.curveHello(t)
				bad.change(data)
				e.curveHandshakeAttack(t, curveCommandFrame(t, curve.CmdHello, data), false, bad.want)
			}
		}},
		{name: "garbage commands instead of HELLO", curveOnly: true, run: func(t *testing.T, e *hostileEnv) {
			hello := e.curveHello(t)
			for _, bad := range []struct {
				frame []byte
				want  error
			}{
				{curveCommandFrame(t, curve.CmdInitiate, hello), ErrProtocol},
				{curveCommandFrame(t, curve.CmdMessage, hello), ErrProtocol},
				{curveCommandFrame(t, curve.CmdError, curve.ErrorData("400")), ErrCurveRefused},
				{[]byte{flagCommand, 0}, ErrProtocol},                                                     // no name
				{[]byte{flagCommand, 3, 9, 'H', 'E'}, ErrProtocol},                                        // name past the body
				{append([]byte{0, 200}, curveCommandFrame(t, curve.CmdHello, hello)[2:]...), ErrProtocol}, // in a data frame
			} {
				e.curveHandshakeAttack(t, bad.frame, false, bad.want)
			}
		}},

		// CURVE only: an authenticated client's MESSAGE frames. (The
		// curveConn tests check these at the layer; here the listener
		// reports them as the connection's end and serves on.)
		{name: "MESSAGE with a bad MAC", curveOnly: true, run: func(t *testing.T, e *hostileEnv) {
			h := e.dialHello(t, e.ep, "forger")
			f := heldMessage(t, h, dataPacket([]byte("forged")))
			f.body[len("\x07MESSAGE")+8] ^= 1 // the box's first MAC byte, after the short nonce
			h.raw.Write(f.raw)
			expectClosed(t, h.raw)
			e.wantDown(t, "forger", curve.ErrBadBox)
			e.wantDelivered(t, []byte("forged"), 0)
		}},
		{name: "replayed MESSAGE", curveOnly: true, run: func(t *testing.T, e *hostileEnv) {
			h := e.dialHello(t, e.ep, "replayer")
			f := heldMessage(t, h, dataPacket([]byte("once")))
			h.raw.Write(f.raw)
			waitFor(t, "the first copy", func() bool { return e.delivered([]byte("once")) == 1 })
			h.raw.Write(f.raw)
			expectClosed(t, h.raw)
			e.wantDown(t, "replayer", curve.ErrNonce)
			e.wantDelivered(t, []byte("once"), 1)
		}},
		{name: "handshake commands after the handshake", curveOnly: true, run: func(t *testing.T, e *hostileEnv) {
			hello := e.curveHello(t)
			for i, frame := range []func(h *handConn) []byte{
				func(*handConn) []byte { return curveCommandFrame(t, curve.CmdHello, hello) },
				func(*handConn) []byte { // a HELLO in a data frame, as MESSAGEs go
					return append([]byte{0, 200}, curveCommandFrame(t, curve.CmdHello, hello)[2:]...)
				},
				func(h *handConn) []byte { // the client's own INITIATE again
					sent, _ := h.tap.snapshot()
					for _, f := range parseWire(t, sent[greetingLen:]) {
						if bytes.HasPrefix(f.body, []byte("\x08INITIATE")) {
							return f.raw
						}
					}
					t.Fatal("no INITIATE sent")
					return nil
				},
				func(*handConn) []byte { // READY in a data frame, as long as a MESSAGE
					body, _ := curve.AppendCommand(nil, curve.CmdReady, make([]byte, 40))
					return append([]byte{0, byte(len(body))}, body...)
				},
			} {
				name := fmt.Sprintf("commander-%d", i)
				h := e.dialHello(t, e.ep, name)
				h.raw.Write(frame(h))
				expectClosed(t, h.raw)
				e.wantDown(t, name, ErrProtocol)
			}
		}},
		{name: "MESSAGE frame over the frame limit", curveOnly: true, run: func(t *testing.T, e *hostileEnv) {
			limit := uint64(e.victim.cfg.MaxFrameSize) + curveMessageOverhead
			h := e.dialHello(t, e.ep, "oversized")
			h.raw.Write(longHeader(0, limit+1))
			h.raw.Write(make([]byte, 64<<10))
			expectClosed(t, h.raw)
			var le *LimitError
			if err := e.wantDown(t, "oversized", ErrTooLarge); !errors.As(err, &le) || le.Size != limit+1 || le.Limit != limit {
				t.Errorf("refused with %v, want a frame of %d bytes over the limit of %d", err, limit+1, limit)
			}
		}},
	}
	for _, at := range attacks {
		if at.curveOnly && s.curve == nil {
			continue
		}
		t.Run(at.name, func(t *testing.T) {
			noLeaks(t)
			e := &hostileEnv{hostileSec: s, rec: newRecorder(), log: newFailureLog()}
			cfg := s.victim(e.rec)
			cfg.HandshakeTimeout = time.Minute // idle clients must not block accepts even so
			cfg.HeartbeatTimeout = time.Minute
			cfg.Logger = slog.New(e.log)
			e.victim = listen(t, cfg)
			e.ep = e.victim.Endpoint()
			at.run(t, e)
			good := listen(t, s.cfg("good", newRecorder()))
			exchange(t, connect(t, good, e.victim), e.rec)
		})
	}
}

// expectClosed waits for the server to close c.
func expectClosed(t testing.TB, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	for {
		if _, err := c.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the server kept a connection that broke the protocol")
			}
			return
		}
	}
}

// readUntilClosed returns what the server sent on c until it closed c.
func readUntilClosed(t testing.TB, c net.Conn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if isTimeout(err) {
		t.Fatal("the server kept a connection that broke the protocol")
	}
	return b
}

// commandFrame frames body as a ZMTP command frame.
func commandFrame(body []byte) []byte {
	return append(appendFrameHeader(nil, flagCommand, len(body)), body...)
}

// curveCommandFrame frames a CURVE command as a ZMTP command frame.
func curveCommandFrame(t testing.TB, name string, data []byte) []byte {
	t.Helper()
	body, err := curve.AppendCommand(nil, name, data)
	if err != nil {
		t.Fatal(err)
	}
	return commandFrame(body)
}

// curveHello is the HELLO data of a fresh client of the victim.
func (s hostileSec) curveHello(t testing.TB) []byte {
	t.Helper()
	cl, err := curve.NewClient(s.curve.keys["client"], s.curve.keys["victim"].Public)
	if err != nil {
		t.Fatal(err)
	}
	hello, err := cl.Hello()
	if err != nil {
		t.Fatal(err)
	}
	return hello
}

// curveHandshakeAttack sends the CURVE greeting and then frames, closing
// its write side after them if half; the victim must close the connection
// having sent nothing but its greeting (no WELCOME), and fail the
// handshake with want.
func (e *hostileEnv) curveHandshakeAttack(t *testing.T, frames []byte, half bool, want error) {
	t.Helper()
	c := rawDial(t, e.ep)
	c.Write(append(zmtpGreeting("CURVE"), frames...)) // the victim may close before taking it all
	if half {
		c.(*net.TCPConn).CloseWrite()
	}
	if got := readUntilClosed(t, c); !bytes.Equal(got, zmtpGreeting("CURVE")) {
		t.Errorf("the victim sent % x..., want its CURVE greeting only", got[:min(len(got), greetingLen+16)])
	}
	e.wantHandshakeErr(t, want)
}

// dataPacket is a DATA packet of one entry with body.
func dataPacket(body []byte) []byte {
	return (&wire.Data{Entries: []wire.Entry{*entry(5, 1, body)}}).Append(nil)
}

// heldMessage seals packet in a MESSAGE as h's CURVE layer sends it, and
// returns the MESSAGE's frame without sending it. From then on h's tap holds
// what h's zmq4 writes.
func heldMessage(t testing.TB, h *handConn, packet []byte) wireFrame {
	t.Helper()
	h.tap.setHold(true)
	if err := h.zc.SendMsg(zmq4.NewMsg(packet)); err != nil {
		t.Fatal(err)
	}
	h.tap.mu.Lock()
	held := h.tap.held
	h.tap.sent, h.tap.held = nil, nil // keep no copies
	h.tap.mu.Unlock()
	h.cc.wmu.Lock()
	h.cc.wbody, h.cc.wout = nil, nil // nor the layer's buffers (kept up to 1 MiB)
	h.cc.wmu.Unlock()
	frames := parseWire(t, held)
	if len(frames) != 1 || frames[0].flags&^flagLong != 0 || !bytes.HasPrefix(frames[0].body, []byte("\x07MESSAGE")) {
		t.Fatalf("the client sealed %d frames (% x...), want one MESSAGE", len(frames), held[:min(len(held), 16)])
	}
	return frames[0]
}

// wantHandshakeErr checks that the next failed inbound handshake failed
// with want.
func (e *hostileEnv) wantHandshakeErr(t testing.TB, want error) {
	t.Helper()
	select {
	case err := <-e.log.errs:
		if !errors.Is(err, want) {
			t.Errorf("handshake failed with %v, want %v", err, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no failed handshake logged, want one failing with %v", want)
	}
}

// wantDown waits for the connection from the named peer to go down and
// checks it did with want.
func (e *hostileEnv) wantDown(t testing.TB, name string, want error) error {
	t.Helper()
	var err error
	waitFor(t, name+"'s connection to go down", func() bool {
		e.rec.mu.Lock()
		defer e.rec.mu.Unlock()
		for c, cerr := range e.rec.downs {
			if c.RemoteName() == name {
				err = cerr
				return true
			}
		}
		return false
	})
	if !errors.Is(err, want) {
		t.Errorf("%s's connection went down with %v, want %v", name, err, want)
	}
	return err
}

// delivered counts the entries received with message body.
func (e *hostileEnv) delivered(body []byte) int {
	n := 0
	for _, en := range e.rec.snapshot() {
		if bytes.Equal(en.Message, body) {
			n++
		}
	}
	return n
}

func (e *hostileEnv) wantDelivered(t testing.TB, body []byte, want int) {
	t.Helper()
	if n := e.delivered(body); n != want {
		t.Errorf("entry %q delivered %d times, want %d", body, n, want)
	}
}

// failureLog is a slog.Handler that keeps the errors of failed inbound
// handshakes, the transport's only report of them.
type failureLog struct {
	slog.Handler
	errs chan error
}

func newFailureLog() *failureLog {
	return &failureLog{Handler: testLogger().Handler(), errs: make(chan error, 256)}
}

func (l *failureLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "inbound handshake failed" {
		r.Attrs(func(a slog.Attr) bool {
			if err, ok := a.Value.Any().(error); ok && a.Key == "err" {
				select {
				case l.errs <- err:
				default:
				}
			}
			return true
		})
	}
	if !l.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return l.Handler.Handle(ctx, r)
}

// Enabled is true for every level: the records kept are not the ones the
// test logger is set to show.
func (l *failureLog) Enabled(context.Context, slog.Level) bool { return true }

func (l *failureLog) WithAttrs(as []slog.Attr) slog.Handler {
	return &failureLog{Handler: l.Handler.WithAttrs(as), errs: l.errs}
}

func (l *failureLog) WithGroup(name string) slog.Handler {
	return &failureLog{Handler: l.Handler.WithGroup(name), errs: l.errs}
}

// Many clients announce frames as large as allowed and stall mid-body: the
// stalled frames take the whole receive budget, the heap stays under the
// budget plus 16 MiB, and legitimate traffic flows meanwhile. With CURVE
// the stallers are authenticated clients announcing MESSAGE frames, which
// cannot be checked before they are whole.
func TestStalledLargeFramesStayWithinMemoryBudget(t *testing.T) {
	forEachHostileSec(t, testStalledLargeFramesStayWithinMemoryBudget)
}

func testStalledLargeFramesStayWithinMemoryBudget(t *testing.T, s hostileSec) {
	const (
		frame   = 4 << 20
		budget  = 16 << 20
		clients = 40
	)
	rv := newRecorder()
	cfg := s.victim(rv)
	cfg.MaxMessageSize = frame - frameOverhead
	cfg.MaxFrameSize = frame
	cfg.MaxReceiveMemory = budget
	cfg.HeartbeatTimeout = time.Minute
	victim := listen(t, cfg)

	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := s.dialHello(t, victim.Endpoint(), fmt.Sprintf("staller-%d", i))
			h.raw.Write(longHeader(0, frame+s.frameOverhead()))
			h.raw.Write(make([]byte, 64<<10)) // a little of the body, then nothing
		}()
	}
	// Pre-HELLO clients announcing the same never get past the handshake limit.
	for i := 0; i < clients; i++ {
		c := rawDial(t, victim.Endpoint())
		c.Write(s.greeting())
		c.Write(longHeader(flagCommand, frame))
	}
	wg.Wait()
	waitFor(t, "the stallers' connections", func() bool {
		n := 0
		for i := 0; i < clients; i++ {
			if l := victim.Link(fmt.Sprintf("staller-%d", i)); l != nil && l.Conn() != nil {
				n++
			}
		}
		return n == clients
	})
	waitFor(t, "the stalled frames to take the receive budget", func() bool {
		if victim.budget.TryAcquire(1) {
			victim.budget.Release(1)
			return false
		}
		return true
	})
	good := listen(t, s.cfg("good", newRecorder()))
	exchange(t, connect(t, good, victim), rv)

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if limit := uint64(budget + 16<<20); ms.HeapInuse > limit {
		t.Fatalf("heap in use %d MiB with %d stalled %d MiB frames; limit %d MiB",
			ms.HeapInuse>>20, clients, frame>>20, limit>>20)
	}
	t.Logf("heap in use: %d MiB (%d clients stalled on %d MiB frames, budget %d MiB)", ms.HeapInuse>>20, clients, frame>>20, budget>>20)
}

// More handshakes than allowed: the excess is refused at once, and once the
// idle ones time out the listener serves again.
func TestHandshakeLimit(t *testing.T) { forEachHostileSec(t, testHandshakeLimit) }

func testHandshakeLimit(t *testing.T, s hostileSec) {
	rv := newRecorder()
	cfg := s.victim(rv)
	cfg.MaxHandshakes = 4
	cfg.HandshakeTimeout = 300 * time.Millisecond
	victim := listen(t, cfg)
	for i := 0; i < 4; i++ {
		rawDial(t, victim.Endpoint())
	}
	waitFor(t, "handshake slots in use", func() bool { return len(victim.handshakes) == 4 })
	extra := rawDial(t, victim.Endpoint())
	expectClosed(t, extra)
	waitFor(t, "idle handshakes to time out", func() bool { return len(victim.handshakes) == 0 })
	good := listen(t, s.cfg("good", newRecorder()))
	exchange(t, connect(t, good, victim), rv)
}

// Past MaxConnections new peers are refused (ERROR busy) and keep retrying;
// once a connection ends, the waiting peer gets in.
func TestConnectionLimit(t *testing.T) { forEachHostileSec(t, testConnectionLimit) }

func testConnectionLimit(t *testing.T, s hostileSec) {
	rh := newRecorder()
	cfg := s.cfg("hub", rh, "p1", "p2", "p3")
	cfg.MaxConnections = 2
	hub := listen(t, cfg)
	p1 := listen(t, s.cfg("p1", newRecorder()))
	p2 := listen(t, s.cfg("p2", newRecorder()))
	connect(t, p1, hub)
	connect(t, p2, hub)

	p3, err := Listen(s.cfg("p3", newRecorder()))
	if err != nil {
		t.Fatal(err)
	}
	defer closeTransport(t, p3)
	if err := p3.dial(newLink(p3, "hub"), hub.Endpoint()); !isRefusal(err, wire.CodeBusy) {
		t.Fatalf("third connection: %v, want ERROR busy", err)
	}
	// The refusal is counted on both sides, the connections in force too.
	if n := hub.Stats().OverLimit.Load(); n != 1 {
		t.Fatalf("hub OverLimit = %d, want 1", n)
	}
	if d, f := p3.Stats().Dials.Load(), p3.Stats().DialFailures.Load(); d != 1 || f != 1 {
		t.Fatalf("p3 dials %d, failures %d; want 1 and 1", d, f)
	}
	if n, a := hub.Open(), hub.Stats().Accepted.Load(); n != 2 || a != 2 {
		t.Fatalf("hub open %d, accepted %d; want 2 and 2", n, a)
	}
	l3, err := p3.Connect("hub", hub.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	closeTransport(t, p1)
	exchange(t, l3, rh)
}

func isRefusal(err error, code wire.Code) bool {
	var r *RefusedError
	return errors.As(err, &r) && r.Code == code
}
