package transport

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"

	"github.com/meshmq/meshmq/internal/curve"
	"github.com/meshmq/meshmq/internal/testutil/pypeer"
	"github.com/meshmq/meshmq/internal/wire"

	"github.com/meshmq/meshmq/security"
)

// curveIOTimeout bounds a test connection's whole life.
const curveIOTimeout = 20 * time.Second

func mustCurveKP(t testing.TB) curve.KeyPair {
	t.Helper()
	kp, err := security.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	client, err = net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		client.Close()
		t.Fatal(r.err)
	}
	t.Cleanup(func() { client.Close(); r.c.Close() })
	return client, r.c
}

// tap records what is written to the wire, and can hold it back so that a
// test sends it later, reordered or again.
type tap struct {
	net.Conn
	mu   sync.Mutex
	sent []byte
	hold bool
	held []byte
}

func (t *tap) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.sent = append(t.sent, p...)
	if t.hold {
		t.held = append(t.held, p...)
		t.mu.Unlock()
		return len(p), nil
	}
	t.mu.Unlock()
	return t.Conn.Write(p)
}

func (t *tap) snapshot() (sent, held []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return bytes.Clone(t.sent), bytes.Clone(t.held)
}

func (t *tap) setHold(h bool) {
	t.mu.Lock()
	t.hold = h
	t.mu.Unlock()
}

// wireFrame is one ZMTP frame as it went over the wire.
type wireFrame struct {
	flags byte
	body  []byte
	raw   []byte // header and body
}

// parseWire splits a byte stream into ZMTP frames; it fails on a truncated one.
func parseWire(t testing.TB, b []byte) []wireFrame {
	t.Helper()
	var out []wireFrame
	for len(b) > 0 {
		if len(b) < 2 {
			t.Fatalf("truncated frame header % x", b)
		}
		fl, hl, size := b[0], 2, uint64(b[1])
		if fl&flagLong != 0 {
			if len(b) < 9 {
				t.Fatalf("truncated long frame header % x", b)
			}
			hl, size = 9, binary.BigEndian.Uint64(b[1:9])
		}
		if uint64(len(b)-hl) < size {
			t.Fatalf("truncated frame: %d of %d bytes", len(b)-hl, size)
		}
		n := hl + int(size)
		out = append(out, wireFrame{flags: fl, body: b[hl:n], raw: b[:n]})
		b = b[n:]
	}
	return out
}

// zmtpEnd is zmq4 over a curveConn.
type zmtpEnd struct {
	cc  *curveConn
	tap *tap
	zc  *zmq4.Conn
	err error
}

type curvePairOpts struct {
	clientKeys, serverKeys curve.KeyPair
	serverKey              curve.PublicKey // what the client dials
	authorize              func(curve.PublicKey, net.Addr) error
}

// openCurvePair runs zmq4's handshake, a DEALER with identity "go-dealer"
// against a ROUTER, over curveConns on a TCP connection, both ends at once.
func openCurvePair(t testing.TB, o curvePairOpts) (cli, srv *zmtpEnd) {
	t.Helper()
	cr, sr := tcpPair(t)
	deadline := time.Now().Add(curveIOTimeout)
	cli = &zmtpEnd{tap: &tap{Conn: cr}}
	srv = &zmtpEnd{tap: &tap{Conn: sr}}
	cli.cc = newCurveConn(cli.tap, curveConfig{keys: o.clientKeys, serverKey: o.serverKey, deadline: deadline, maxFrame: 1 << 20})
	srv.cc = newCurveConn(srv.tap, curveConfig{server: true, keys: o.serverKeys, authorize: o.authorize, deadline: deadline, maxFrame: 1 << 20})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		srv.zc, srv.err = zmq4.Open(srv.cc, null.Security(), zmq4.Router, nil, true, nil)
	}()
	go func() {
		defer wg.Done()
		cli.zc, cli.err = zmq4.Open(cli.cc, null.Security(), zmq4.Dealer, zmq4.SocketIdentity("go-dealer"), false, nil)
	}()
	wg.Wait()
	return cli, srv
}

func allowKey(k curve.PublicKey) func(curve.PublicKey, net.Addr) error {
	return func(got curve.PublicKey, _ net.Addr) error {
		if got != k {
			return fmt.Errorf("key %s is not listed", got)
		}
		return nil
	}
}

func openedCurvePair(t testing.TB) (cli, srv *zmtpEnd, ckp, skp curve.KeyPair) {
	t.Helper()
	ckp, skp = mustCurveKP(t), mustCurveKP(t)
	cli, srv = openCurvePair(t, curvePairOpts{clientKeys: ckp, serverKeys: skp, serverKey: skp.Public, authorize: allowKey(ckp.Public)})
	if cli.err != nil || srv.err != nil {
		t.Fatalf("handshake: client %v, server %v", cli.err, srv.err)
	}
	return cli, srv, ckp, skp
}

func curveBigPart(mul, mod int) []byte {
	b := make([]byte, 100*1024)
	for i := range b {
		b[i] = byte(i * mul % mod)
	}
	return b
}

// sendAsync sends msg from another goroutine (a 100 KiB message may not
// fit the socket buffers before the other side reads).
func sendAsync(zc *zmq4.Conn, msg zmq4.Msg) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- zc.SendMsg(msg) }()
	return ch
}

func checkFrames(t *testing.T, what string, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d frames, want %d", what, len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("%s: frame %d differs (%d bytes, want %d)", what, i, len(got[i]), len(want[i]))
		}
	}
}

// Two zmq4 ends, DEALER and ROUTER, talk over curveConn: multipart messages
// with a 100 KiB and an empty part both ways, PING/PONG; zmq4's metadata
// travels in INITIATE and READY; on the wire everything after the handshake
// is MESSAGE data frames without MORE, and no plaintext.
func TestCurveConnZmq4Multipart(t *testing.T) {
	cli, srv, ckp, skp := openedCurvePair(t)

	if k := srv.cc.PeerKey(); k != ckp.Public {
		t.Errorf("server: peer key %s, want the client's %s", k, ckp.Public)
	}
	if k := cli.cc.PeerKey(); k != skp.Public {
		t.Errorf("client: peer key %s, want the server's %s", k, skp.Public)
	}
	if v, _ := srv.cc.PeerMetadata().Get("Identity"); string(v) != "go-dealer" {
		t.Errorf("INITIATE metadata Identity %q, want go-dealer (%v)", v, srv.cc.PeerMetadata())
	}
	if st, id := srv.zc.Peer.Meta["Socket-Type"], srv.zc.Peer.Meta["Identity"]; st != "DEALER" || id != "go-dealer" {
		t.Errorf("ROUTER's zmq4 sees Socket-Type %q, Identity %q; want DEALER, go-dealer", st, id)
	}
	if st := cli.zc.Peer.Meta["Socket-Type"]; st != "ROUTER" {
		t.Errorf("DEALER's zmq4 sees Socket-Type %q, want ROUTER", st)
	}

	msgs := [][][]byte{
		{[]byte("go-1"), curveBigPart(13, 241), {}, []byte("go-last")},
		{[]byte("go-2")},
	}
	for i, m := range msgs {
		sent := sendAsync(cli.zc, zmq4.NewMsgFrom(m...))
		got, err := srv.zc.RecvMsg()
		if err != nil {
			t.Fatalf("ROUTER receive %d: %v", i, err)
		}
		if err := <-sent; err != nil {
			t.Fatalf("DEALER send %d: %v", i, err)
		}
		checkFrames(t, fmt.Sprintf("message %d at the ROUTER", i), got.Frames, m)
		sent = sendAsync(srv.zc, zmq4.NewMsgFrom(got.Frames...))
		echo, err := cli.zc.RecvMsg()
		if err != nil {
			t.Fatalf("DEALER receive %d: %v", i, err)
		}
		if err := <-sent; err != nil {
			t.Fatalf("ROUTER send %d: %v", i, err)
		}
		checkFrames(t, fmt.Sprintf("echo %d at the DEALER", i), echo.Frames, m)
	}

	// A ZMTP command: PING goes as a MESSAGE with the command flag, zmq4
	// answers PONG the same way.
	if err := srv.zc.SendCmd(zmq4.CmdPing, []byte{0, 0}); err != nil {
		t.Fatal(err)
	}
	if m, err := cli.zc.RecvMsg(); err != nil || m.Type != zmq4.CmdMsg {
		t.Fatalf("DEALER: %v, %v; want the PING command", m, err)
	}
	if m, err := srv.zc.RecvMsg(); err != nil || m.Type != zmq4.CmdMsg {
		t.Fatalf("ROUTER: %v, %v; want the PONG command", m, err)
	}

	for _, e := range []struct {
		name      string
		end       *zmtpEnd
		handshake []string
	}{{"client", cli, []string{"HELLO", "INITIATE"}}, {"server", srv, []string{"WELCOME", "READY"}}} {
		sent, _ := e.end.tap.snapshot()
		if len(sent) < greetingLen || string(bytes.TrimRight(sent[12:32], "\x00")) != "CURVE" || sent[32] != 0 {
			t.Fatalf("%s greeting % x: want mechanism CURVE, as-server 0", e.name, sent[:min(len(sent), greetingLen)])
		}
		frames := parseWire(t, sent[greetingLen:])
		if len(frames) < len(e.handshake)+3 {
			t.Fatalf("%s sent %d frames", e.name, len(frames))
		}
		for i, name := range e.handshake {
			f := frames[i]
			if f.flags&^flagLong != flagCommand || !bytes.HasPrefix(f.body, append([]byte{byte(len(name))}, name...)) {
				t.Errorf("%s frame %d: flags 0x%02x % x..., want command %s", e.name, i, f.flags, f.body[:min(len(f.body), 10)], name)
			}
		}
		for i, f := range frames[len(e.handshake):] {
			if f.flags&^flagLong != 0 || !bytes.HasPrefix(f.body, []byte("\x07MESSAGE")) {
				t.Errorf("%s frame %d: flags 0x%02x % x..., want a MESSAGE in a data frame", e.name, i+len(e.handshake), f.flags, f.body[:min(len(f.body), 10)])
			}
		}
		if bytes.Contains(sent, []byte("go-last")) || bytes.Contains(sent, curveBigPart(13, 241)[:64]) {
			t.Errorf("%s sent plaintext", e.name)
		}
	}
	cli.zc.Close()
	srv.zc.Close()
}

// A client dialing with another server key fails; the server cannot open
// HELLO and closes without a word.
func TestCurveConnWrongServerKey(t *testing.T) {
	ckp, skp, other := mustCurveKP(t), mustCurveKP(t), mustCurveKP(t)
	called := false
	cli, srv := openCurvePair(t, curvePairOpts{clientKeys: ckp, serverKeys: skp, serverKey: other.Public,
		authorize: func(curve.PublicKey, net.Addr) error { called = true; return nil }})
	if !errors.Is(srv.err, curve.ErrBadBox) || !strings.Contains(srv.err.Error(), "HELLO") {
		t.Errorf("server: %v, want a HELLO box failure", srv.err)
	}
	if cli.err == nil || !strings.Contains(cli.err.Error(), "wrong server key") {
		t.Errorf("client: %v, want the connection closed after HELLO", cli.err)
	}
	if called {
		t.Error("authorize was called")
	}
	sent, _ := srv.tap.snapshot()
	if len(sent) != greetingLen {
		t.Errorf("server sent %d bytes, want its greeting only", len(sent))
	}
}

// A client key authorize refuses gets ERROR "400"; authorize sees the
// client's key and address.
func TestCurveConnUnauthorizedClient(t *testing.T) {
	ckp, skp := mustCurveKP(t), mustCurveKP(t)
	var gotKey curve.PublicKey
	var gotAddr net.Addr
	cli, srv := openCurvePair(t, curvePairOpts{clientKeys: ckp, serverKeys: skp, serverKey: skp.Public,
		authorize: func(k curve.PublicKey, a net.Addr) error {
			gotKey, gotAddr = k, a
			return errors.New("not on the list")
		}})
	if !errors.Is(srv.err, curve.ErrUnauthorized) || !strings.Contains(srv.err.Error(), "not on the list") {
		t.Errorf("server: %v, want ErrUnauthorized", srv.err)
	}
	if !errors.Is(cli.err, ErrCurveRefused) || !strings.Contains(cli.err.Error(), `"400"`) {
		t.Errorf("client: %v, want ErrCurveRefused with reason 400", cli.err)
	}
	if gotKey != ckp.Public {
		t.Errorf("authorize saw key %s, want %s", gotKey, ckp.Public)
	}
	if gotAddr == nil || gotAddr.String() != cli.tap.LocalAddr().String() {
		t.Errorf("authorize saw address %v, want the client's %v", gotAddr, cli.tap.LocalAddr())
	}
	sent, _ := srv.tap.snapshot()
	frames := parseWire(t, sent[greetingLen:])
	if last := frames[len(frames)-1]; last.flags != flagCommand || !bytes.Equal(last.body, []byte("\x05ERROR\x03400")) {
		t.Errorf("server's last frame 0x%02x %q, want command ERROR 400", last.flags, last.body)
	}

	// A nil authorize refuses everyone.
	cli, srv = openCurvePair(t, curvePairOpts{clientKeys: ckp, serverKeys: skp, serverKey: skp.Public})
	if !errors.Is(srv.err, curve.ErrUnauthorized) || !errors.Is(cli.err, ErrCurveRefused) {
		t.Errorf("nil authorize: server %v, client %v; want a refusal", srv.err, cli.err)
	}
}

// MESSAGE frames changed on the wire are rejected and end the connection:
// replayed, reordered, forged, or in a command frame.
func TestCurveConnRejectsInjectedFrames(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inject func(t *testing.T, f1, f2 wireFrame) [][]byte // after f1 arrived
		want   error
		before int // messages the server receives before the failure
	}{
		{"replayed", func(t *testing.T, f1, f2 wireFrame) [][]byte { return [][]byte{f1.raw} }, curve.ErrNonce, 0},
		{"reordered", func(t *testing.T, f1, f2 wireFrame) [][]byte { return nil }, curve.ErrNonce, 1},
		{"forged", func(t *testing.T, f1, f2 wireFrame) [][]byte {
			b := bytes.Clone(f2.raw)
			b[len(b)-1] ^= 1
			return [][]byte{b}
		}, curve.ErrBadBox, 0},
		{"command frame", func(t *testing.T, f1, f2 wireFrame) [][]byte {
			b := bytes.Clone(f2.raw)
			b[0] |= flagCommand
			return [][]byte{b}
		}, ErrProtocol, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cli, srv, _, _ := openedCurvePair(t)
			cli.tap.setHold(true)
			for _, s := range []string{"one", "two"} {
				if err := cli.zc.SendMsg(zmq4.NewMsgString(s)); err != nil {
					t.Fatal(err)
				}
			}
			_, held := cli.tap.snapshot()
			frames := parseWire(t, held)
			if len(frames) != 2 {
				t.Fatalf("%d frames held, want 2", len(frames))
			}
			f1, f2 := frames[0], frames[1]
			var out [][]byte
			if tc.name == "reordered" {
				out = [][]byte{f2.raw, f1.raw}
			} else {
				// f1 goes through, then the injected frames.
				if _, err := cli.tap.Conn.Write(f1.raw); err != nil {
					t.Fatal(err)
				}
				if m, err := srv.zc.RecvMsg(); err != nil || string(m.Frames[0]) != "one" {
					t.Fatalf("first message: %v, %v", m, err)
				}
				out = tc.inject(t, f1, f2)
			}
			for _, b := range out {
				if _, err := cli.tap.Conn.Write(b); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < tc.before; i++ {
				if m, err := srv.zc.RecvMsg(); err != nil || string(m.Frames[0]) != "two" {
					t.Fatalf("message before the failure: %v, %v", m, err)
				}
			}
			m, err := srv.zc.RecvMsg()
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrProtocol) {
				t.Fatalf("server received %v, %v; want %v (a protocol error)", m, err, tc.want)
			}
			// The connection is over: the curveConn closed it.
			if _, err := srv.zc.RecvMsg(); err == nil {
				t.Error("server received after the failure")
			}
			if _, err := cli.tap.Conn.Read(make([]byte, 1)); err == nil {
				t.Error("the server did not close the connection")
			}
		})
	}
}

// What zmq4 writes is checked before it goes out: a frame over the limit
// fails the write and the connection.
func TestCurveConnLocalFrameLimit(t *testing.T) {
	cli, _, _, _ := openedCurvePair(t)
	err := cli.zc.SendMsg(zmq4.NewMsg(make([]byte, 1<<20+1)))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("send over the limit: %v, want ErrTooLarge", err)
	}
	if err := cli.zc.SendMsg(zmq4.NewMsgString("after")); err == nil {
		t.Error("send after a failure succeeded")
	}
}

// A remote MESSAGE frame over the limit is refused from its header.
func TestCurveConnRemoteFrameLimit(t *testing.T) {
	cli, srv, _, _ := openedCurvePair(t)
	hdr := appendFrameHeader(nil, 0, 1<<40)
	if _, err := cli.tap.Conn.Write(hdr); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.zc.RecvMsg(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("frame header of 1 TiB: %v, want ErrTooLarge", err)
	}
}

// ---- Through the transport ----

type curvePeers struct {
	keys map[string]curve.KeyPair
}

func (p curvePeers) cfg(name string, h Handler, allowed ...string) Config {
	cfg := fast(name, h)
	allow := map[curve.PublicKey]bool{}
	for _, n := range allowed {
		allow[p.keys[n].Public] = true
	}
	cfg.Curve = &CurveConfig{
		Keys: p.keys[name],
		ServerKey: func(remote string) (curve.PublicKey, bool) {
			kp, ok := p.keys[remote]
			return kp.Public, ok
		},
		Authorize: func(k curve.PublicKey, _ net.Addr) error {
			if !allow[k] {
				return fmt.Errorf("%s is not allowed", k)
			}
			return nil
		},
	}
	return cfg
}

func newCurvePeers(t testing.TB, names ...string) curvePeers {
	p := curvePeers{keys: map[string]curve.KeyPair{}}
	for _, n := range names {
		p.keys[n] = mustCurveKP(t)
	}
	return p
}

// Two transports with CURVE exchange packets both ways, small and large
// (over 64 KiB, through the receive budget), and know each other's keys.
func TestTransportsOverCurve(t *testing.T) {
	p := newCurvePeers(t, "a", "b")
	ra, rb := newRecorder(), newRecorder()
	a := listen(t, p.cfg("a", ra, "b"))
	b := listen(t, p.cfg("b", rb, "a"))
	l := connect(t, a, b)
	exchange(t, l, rb)
	var back *Link
	waitFor(t, "b's link to a", func() bool { back = b.Link("a"); return back != nil && back.Conn() != nil })
	exchange(t, back, ra)

	if k, ok := l.Conn().PeerKey(); !ok || k != p.keys["b"].Public {
		t.Errorf("a's connection: peer key %s, %v; want b's %s", k, ok, p.keys["b"].Public)
	}
	if k, ok := back.Conn().PeerKey(); !ok || k != p.keys["a"].Public {
		t.Errorf("b's connection: peer key %s, %v; want a's %s", k, ok, p.keys["a"].Public)
	}

	big := curveBigPart(7, 251)
	big = append(big, big...) // 200 KiB
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := uint64(1); i <= 3; i++ {
		if err := l.Send(ctx, entry(7, i, big)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the large entries", func() bool {
		n := 0
		for _, e := range rb.snapshot() {
			if e.Stream == 7 && bytes.Equal(e.Message, big) {
				n++
			}
		}
		return n == 3
	})
}

// A transport dialing with the wrong key for a peer, or not allowed by it,
// fails the dial; the peer refuses with ERROR 400.
func TestTransportCurveRefusals(t *testing.T) {
	p := newCurvePeers(t, "a", "b", "c")
	b := listen(t, p.cfg("b", nil, "a"))

	t.Run("wrong server key", func(t *testing.T) {
		cfg := p.cfg("a", nil)
		cfg.Curve.ServerKey = func(string) (curve.PublicKey, bool) { return p.keys["c"].Public, true }
		a := listen(t, cfg)
		l, err := a.link("b")
		if err != nil {
			t.Fatal(err)
		}
		if err := a.dial(l, b.Endpoint()); err == nil || !strings.Contains(err.Error(), "wrong server key") {
			t.Fatalf("dial: %v, want a failure after HELLO", err)
		}
	})
	t.Run("unknown server", func(t *testing.T) {
		a := listen(t, p.cfg("a", nil))
		l, err := a.link("nobody")
		if err != nil {
			t.Fatal(err)
		}
		if err := a.dial(l, b.Endpoint()); err == nil || !strings.Contains(err.Error(), "no CURVE server key") {
			t.Fatalf("dial: %v, want no server key", err)
		}
	})
	t.Run("not allowed", func(t *testing.T) {
		c := listen(t, p.cfg("c", nil))
		l, err := c.link("b")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.dial(l, b.Endpoint()); !errors.Is(err, ErrCurveRefused) {
			t.Fatalf("dial: %v, want ErrCurveRefused", err)
		}
	})
	t.Run("NULL peer", func(t *testing.T) {
		n := listen(t, fast("n", nil))
		l, err := n.link("b")
		if err != nil {
			t.Fatal(err)
		}
		if err := n.dial(l, b.Endpoint()); err == nil {
			t.Fatal("a NULL peer got through to a CURVE one")
		}
	})
}

// A client whose key is allowed but who claims another peer's name in its
// HELLO is refused with CodeUnauthorized; under its own name it gets in.
func TestTransportCurveNameBinding(t *testing.T) {
	p := newCurvePeers(t, "a", "b", "mallory")
	bcfg := p.cfg("b", nil, "a", "mallory")
	bcfg.Curve.Identify = func(name string, key curve.PublicKey) error {
		if kp, ok := p.keys[name]; ok && kp.Public == key {
			return nil
		}
		return errors.New("not the key advertised for " + name)
	}
	b := listen(t, bcfg)

	// mallory holds its own allowed key and claims to be "a".
	mcfg := p.cfg("mallory", nil)
	mcfg.Curve.Keys = p.keys["mallory"]
	mcfg.Name = "a"
	m := listen(t, mcfg)
	l, err := m.link("b")
	if err != nil {
		t.Fatal(err)
	}
	var refused *RefusedError
	if err := m.dial(l, b.Endpoint()); !errors.As(err, &refused) || refused.Code != wire.CodeUnauthorized {
		t.Fatalf("dial as a with mallory's key: %v, want a CodeUnauthorized refusal", err)
	}
	if b.Link("a") != nil && b.Link("a").Conn() != nil {
		t.Fatal("b has a connection it believes is from a")
	}

	// Under its own name, mallory is admitted.
	mcfg.Name = "mallory"
	m2 := listen(t, mcfg)
	l2, err := m2.link("b")
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.dial(l2, b.Endpoint()); err != nil {
		t.Fatalf("dial as mallory: %v", err)
	}
}

func TestCurveConfigValidation(t *testing.T) {
	cfg := fast("a", nil)
	cfg.Curve = &CurveConfig{}
	if _, err := Listen(cfg); err == nil {
		t.Error("Listen with zero CURVE keys succeeded")
	}
	cfg.Curve = &CurveConfig{Keys: mustCurveKP(t)}
	cfg.Secure = nopSecurer{}
	if _, err := Listen(cfg); err == nil {
		t.Error("Listen with Curve and Secure succeeded")
	}
}

type nopSecurer struct{}

func (nopSecurer) Secure(c net.Conn, _ bool, _ time.Time) (net.Conn, error) { return c, nil }

// ---- libzmq interop through curveConn ----
//
// ../curve/testdata/curve_peer.py (internal/curve's libzmq CURVE peer) runs a
// libzmq CURVE ROUTER with a ZAP allowlist that zmq4 dials over curveConn, and
// a libzmq CURVE DEALER that dials zmq4 over curveConn.

const curvePyScript = "../curve/testdata/curve_peer.py"

type curvePyPart struct {
	Len    int    `json:"len"`
	SHA256 string `json:"sha256"`
}

type curvePyEvent struct {
	Event      string        `json:"event"`
	Endpoint   string        `json:"endpoint"`
	Identity   string        `json:"identity"`
	Parts      []curvePyPart `json:"parts"`
	SocketType *string       `json:"socket_type"`
	UserID     *string       `json:"user_id"`
	Monitor    []struct {
		Event string `json:"event"`
		Value int    `json:"value"`
	} `json:"monitor"`
}

func (e curvePyEvent) EventName() string { return e.Event }

type curvePy = pypeer.Peer[curvePyEvent]

func startCurvePy(t *testing.T, args ...string) *curvePy {
	t.Helper()
	pypeer.Require(t, "import zmq, sys; sys.exit(0 if zmq.has('curve') else 3)", "import zmq with CURVE support")
	return pypeer.Start[curvePyEvent](t, curvePyScript, args...)
}

func checkPyDescribed(t *testing.T, what string, got []curvePyPart, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d parts, want %d", what, len(got), len(want))
	}
	for i, p := range want {
		sum := sha256.Sum256(p)
		if got[i].Len != len(p) || got[i].SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: part %d is %d bytes with sha256 %s, want %d bytes", what, i, got[i].Len, got[i].SHA256, len(p))
		}
	}
}

func strPtr(s *string) string {
	if s == nil {
		return "<none>"
	}
	return *s
}

// dialCurveZMQ runs a zmq4 DEALER ("go-dealer") over curveConn to addr.
func dialCurveZMQ(t *testing.T, addr string, keys curve.KeyPair, server curve.PublicKey) (*zmtpEnd, error) {
	t.Helper()
	raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	e := &zmtpEnd{tap: &tap{Conn: raw}}
	e.cc = newCurveConn(e.tap, curveConfig{keys: keys, serverKey: server, deadline: time.Now().Add(curveIOTimeout), maxFrame: 1 << 20})
	e.zc, e.err = zmq4.Open(e.cc, null.Security(), zmq4.Dealer, zmq4.SocketIdentity("go-dealer"), false, nil)
	return e, e.err
}

// zmq4 DEALER over curveConn against a libzmq CURVE ROUTER whose ZAP
// handler admits one client key: the wrong server key and an unlisted
// client key fail, the listed client's multipart messages come back.
func TestCurveConnLibzmqRouter(t *testing.T) {
	skp, ckp, rogue := mustCurveKP(t), mustCurveKP(t), mustCurveKP(t)
	certs := t.TempDir()
	if err := security.WritePublicKey(filepath.Join(certs, "go-client.key"), ckp.Public); err != nil {
		t.Fatal(err)
	}
	msgs := [][][]byte{
		{[]byte("go-1"), curveBigPart(13, 241), {}, []byte("go-last")},
		{[]byte("go-2")},
	}
	py := startCurvePy(t, "server", skp.Secret.Z85(), certs, strconv.Itoa(len(msgs)))
	addr, ok := strings.CutPrefix(py.Next(t, "endpoint").Endpoint, "tcp://")
	if !ok {
		t.Fatalf("endpoint %q is not tcp://", addr)
	}

	if _, err := dialCurveZMQ(t, addr, ckp, rogue.Public); err == nil || !strings.Contains(err.Error(), "wrong server key") {
		t.Errorf("dial with the wrong server key: %v, want closed after HELLO", err)
	}
	if _, err := dialCurveZMQ(t, addr, rogue, skp.Public); !errors.Is(err, ErrCurveRefused) || !strings.Contains(err.Error(), `"400"`) {
		t.Errorf("dial with an unlisted client key: %v, want ErrCurveRefused 400", err)
	}
	e, err := dialCurveZMQ(t, addr, ckp, skp.Public)
	if err != nil {
		t.Fatalf("handshake with libzmq: %v", err)
	}
	if st := e.zc.Peer.Meta["Socket-Type"]; st != "ROUTER" {
		t.Errorf("libzmq's READY as zmq4 sees it: Socket-Type %q, want ROUTER", st)
	}
	if e.cc.PeerKey() != skp.Public {
		t.Errorf("peer key %s, want %s", e.cc.PeerKey(), skp.Public)
	}
	for i, m := range msgs {
		sent := sendAsync(e.zc, zmq4.NewMsgFrom(m...))
		echo, err := e.zc.RecvMsg()
		if err != nil {
			t.Fatalf("receive echo %d: %v", i, err)
		}
		if err := <-sent; err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		checkFrames(t, fmt.Sprintf("echo %d from libzmq", i), echo.Frames, m)
		ev := py.Next(t, "echo")
		checkPyDescribed(t, fmt.Sprintf("message %d as libzmq received it", i), ev.Parts, m)
		if ev.Identity != "go-dealer" || strPtr(ev.SocketType) != "DEALER" || strPtr(ev.UserID) != ckp.Public.String() {
			t.Errorf("libzmq saw identity %q, Socket-Type %q, User-Id %q; want go-dealer, DEALER, %s",
				ev.Identity, strPtr(ev.SocketType), strPtr(ev.UserID), ckp.Public)
		}
	}
	py.Next(t, "done")
	py.Wait(t)
	e.zc.Close()
}

// acceptCurveZMQ accepts one connection and runs a zmq4 ROUTER over curveConn.
func acceptCurveZMQ(t *testing.T, ln net.Listener, keys curve.KeyPair, authorize func(curve.PublicKey, net.Addr) error) (*zmtpEnd, error) {
	t.Helper()
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(pyEventWait))
	raw, err := ln.Accept()
	if err != nil {
		t.Fatalf("no connection from libzmq: %v", err)
	}
	ln.Close() // libzmq's reconnects fail fast instead of reaching us
	t.Cleanup(func() { raw.Close() })
	e := &zmtpEnd{tap: &tap{Conn: raw}}
	e.cc = newCurveConn(e.tap, curveConfig{server: true, keys: keys, authorize: authorize, deadline: time.Now().Add(curveIOTimeout), maxFrame: 1 << 20})
	e.zc, e.err = zmq4.Open(e.cc, null.Security(), zmq4.Router, nil, true, nil)
	return e, e.err
}

// A libzmq CURVE DEALER dials zmq4 over curveConn: an admitted client's
// multipart messages are echoed; a refused one gets ERROR 400, which libzmq
// reports as an authentication failure.
func TestCurveConnLibzmqDealer(t *testing.T) {
	skp, ckp, other := mustCurveKP(t), mustCurveKP(t), mustCurveKP(t)
	pyMsgs := [][][]byte{
		{[]byte("py-1"), {}, curveBigPart(7, 251), []byte("py-last")},
		{[]byte("py-2")},
	}

	t.Run("echo", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		py := startCurvePy(t, "client", "tcp://"+ln.Addr().String(), skp.Public.String(), ckp.Public.String(), ckp.Secret.Z85(), "echo")
		e, err := acceptCurveZMQ(t, ln, skp, allowKey(ckp.Public))
		if err != nil {
			t.Fatalf("handshake with libzmq: %v", err)
		}
		if e.cc.PeerKey() != ckp.Public {
			t.Errorf("client key %s, want %s", e.cc.PeerKey(), ckp.Public)
		}
		if st := e.zc.Peer.Meta["Socket-Type"]; st != "DEALER" {
			t.Errorf("libzmq's INITIATE as zmq4 sees it: Socket-Type %q, want DEALER", st)
		}
		for i, want := range pyMsgs {
			got, err := e.zc.RecvMsg()
			if err != nil {
				t.Fatalf("receive message %d: %v", i, err)
			}
			checkFrames(t, fmt.Sprintf("message %d from libzmq", i), got.Frames, want)
			if err := e.zc.SendMsg(zmq4.NewMsgFrom(got.Frames...)); err != nil {
				t.Fatalf("send echo %d: %v", i, err)
			}
			ev := py.Next(t, "echo")
			checkPyDescribed(t, fmt.Sprintf("echo %d as libzmq received it", i), ev.Parts, want)
			if strPtr(ev.SocketType) != "ROUTER" {
				t.Errorf("libzmq saw Socket-Type %q, want ROUTER", strPtr(ev.SocketType))
			}
		}
		py.Next(t, "done")
		py.Wait(t)
		e.zc.Close()
	})

	t.Run("refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		py := startCurvePy(t, "client", "tcp://"+ln.Addr().String(), skp.Public.String(), ckp.Public.String(), ckp.Secret.Z85(), "refused")
		_, err = acceptCurveZMQ(t, ln, skp, allowKey(other.Public))
		if !errors.Is(err, curve.ErrUnauthorized) {
			t.Fatalf("handshake: %v, want ErrUnauthorized", err)
		}
		ev := py.Next(t, "refused")
		py.Next(t, "done")
		py.Wait(t)
		found := false
		for _, m := range ev.Monitor {
			found = found || m.Event == "handshake_failed_auth" && m.Value == 400
		}
		if !found {
			t.Errorf("libzmq monitor events %+v, want handshake_failed_auth 400", ev.Monitor)
		}
	})
}

// The handshake runs under its deadline and refuses oversized commands
// before reading them.
func TestCurveConnHandshakeLimits(t *testing.T) {
	skp := mustCurveKP(t)
	open := func(raw net.Conn, deadline time.Time) error {
		cc := newCurveConn(raw, curveConfig{server: true, keys: skp, authorize: allowKey(skp.Public), deadline: deadline, maxFrame: 1 << 20})
		_, err := zmq4.Open(cc, null.Security(), zmq4.Router, nil, true, nil)
		return err
	}

	t.Run("silent client", func(t *testing.T) {
		_, sr := tcpPair(t)
		start := time.Now()
		err := open(sr, start.Add(100*time.Millisecond))
		if !isTimeout(err) {
			t.Fatalf("handshake with a silent client: %v, want a timeout", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("handshake failed after %v", d)
		}
	})
	t.Run("oversized HELLO", func(t *testing.T) {
		cr, sr := tcpPair(t)
		frame := append(zmtpGreeting("CURVE"), appendFrameHeader(nil, flagCommand, curve.MaxHandshakeCommand+1)...)
		if _, err := cr.Write(frame); err != nil {
			t.Fatal(err)
		}
		if err := open(sr, time.Now().Add(curveIOTimeout)); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("handshake with an oversized HELLO: %v, want ErrTooLarge", err)
		}
	})
	t.Run("NULL client", func(t *testing.T) {
		cr, sr := tcpPair(t)
		if _, err := cr.Write(zmtpGreeting("NULL")); err != nil {
			t.Fatal(err)
		}
		if err := open(sr, time.Now().Add(curveIOTimeout)); !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), `"NULL"`) {
			t.Fatalf("handshake with a NULL client: %v, want a mechanism mismatch", err)
		}
	})
}
