package curve

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshmq/meshmq/internal/testutil/pypeer"

	"github.com/meshmq/meshmq/security"
)

// The interop tests check this package against libzmq 4.3 (pyzmq, with
// libsodium) on the wire: testdata/curve_peer.py runs a CURVE ROUTER that a
// Go client dials and a CURVE DEALER that dials a Go server. The Go side is a
// minimal raw ZMTP 3.0 endpoint written here (greeting, frames); everything
// CURVE is this package: HELLO/WELCOME/INITIATE/READY/ERROR through
// Client/Server and AppendCommand/ParseCommand, MESSAGE through Session.
// Keys go to Python as Z85.

const (
	pyScript  = "testdata/curve_peer.py"
	pyWait    = pypeer.EventWait // for what the script does before its next line
	ioTimeout = 20 * time.Second // a Go connection's whole life
)

// The multipart messages the Go side sends (goMessages) and the script
// sends (pyMessages, built the same way in curve_peer.py). Both include a
// 100 KiB part (a long ZMTP frame) and an empty part.
func bigPart(mul, mod int) []byte {
	b := make([]byte, 100*1024)
	for i := range b {
		b[i] = byte(i * mul % mod)
	}
	return b
}

func goMessages() [][][]byte {
	return [][][]byte{
		{[]byte("go-1"), bigPart(13, 241), {}, []byte("go-last")},
		{[]byte("go-2")},
	}
}

func pyMessages() [][][]byte {
	return [][][]byte{
		{[]byte("py-1"), {}, bigPart(7, 251), []byte("py-last")},
		{[]byte("py-2")},
	}
}

// Keys: Z85 from Go parses in libzmq and the other way round, and both
// derive the same public keys.
func TestLibzmqCurveKeys(t *testing.T) {
	kp := mustKP(t)
	py := startCurvePy(t, "keys", kp.Secret.Z85())
	ev := py.Next(t, "keys")
	py.Next(t, "done")
	py.Wait(t)

	if ev.GoDerived != kp.Public.String() {
		t.Errorf("libzmq derives %s from the Go secret key, Go %s", ev.GoDerived, kp.Public)
	}
	pub, err := security.ParsePublicKey(ev.Public)
	if err != nil {
		t.Fatalf("ParsePublicKey(%q) of zmq.curve_keypair(): %v", ev.Public, err)
	}
	sec, err := security.ParseSecretKey(ev.Secret)
	if err != nil {
		t.Fatalf("ParseSecretKey of zmq.curve_keypair(): %v", err)
	}
	derived, err := sec.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	if derived != pub || derived.String() != ev.Derived || ev.Derived != ev.Public {
		t.Errorf("public keys differ: zmq.curve_keypair %s, zmq.curve_public %s, Go %s", ev.Public, ev.Derived, derived)
	}
	if sec.Z85() != ev.Secret {
		t.Errorf("secret key re-encodes as a different Z85 string")
	}
	if err := (&KeyPair{Public: pub, Secret: sec}).Check(); err != nil {
		t.Errorf("libzmq key pair: %v", err)
	}
}

// A Go client (DEALER) dials a libzmq CURVE ROUTER whose ZAP handler admits
// only the key file the Go side wrote. A client with the wrong server key and
// one with an unlisted key are turned away first; then the listed client
// exchanges two messages, each echoed.
func TestGoClientLibzmqServer(t *testing.T) {
	skp, ckp, rogue := mustKP(t), mustKP(t), mustKP(t)
	certs := t.TempDir()
	if err := security.WritePublicKey(filepath.Join(certs, "go-client.key"), ckp.Public); err != nil {
		t.Fatal(err)
	}
	py := startCurvePy(t, "server", skp.Secret.Z85(), certs, "2")
	addr, ok := strings.CutPrefix(py.Next(t, "endpoint").Endpoint, "tcp://")
	if !ok {
		t.Fatalf("endpoint %q is not tcp://", addr)
	}
	dealer := Metadata{{"Socket-Type", []byte("DEALER")}, {"Identity", []byte("go-client")}, {"X-Meshmq", []byte("interop")}}

	t.Run("wrong server key", func(t *testing.T) {
		// libzmq cannot open HELLO and closes the connection without a word.
		z := dialZMTP(t, addr)
		c, err := NewClient(ckp, rogue.Public, WithMetadata(dealer))
		if err != nil {
			t.Fatal(err)
		}
		hello, err := c.Hello()
		if err != nil {
			t.Fatal(err)
		}
		if err := z.writeCommand(CmdHello, hello); err != nil {
			t.Fatal(err)
		}
		name, data, err := z.readCommand()
		if err == nil {
			t.Fatalf("libzmq answered a HELLO for another server key with %s (%d bytes)", name, len(data))
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
			t.Fatalf("want the connection closed, got %v", err)
		}
	})

	t.Run("unlisted client key", func(t *testing.T) {
		// The ZAP handler refuses: libzmq sends ERROR "400" instead of READY.
		z := dialZMTP(t, addr)
		c, err := NewClient(rogue, skp.Public, WithMetadata(dealer))
		if err != nil {
			t.Fatal(err)
		}
		err = z.clientHandshake(c)
		var pe *peerError
		if !errors.As(err, &pe) {
			t.Fatalf("handshake with an unlisted key: %v, want ERROR from libzmq", err)
		}
		if pe.reason != RefusalReason || pe.after != CmdInitiate {
			t.Errorf("libzmq sent ERROR %q after %s, want %q after INITIATE", pe.reason, pe.after, RefusalReason)
		}
		if c.Session() != nil {
			t.Error("client has a session after ERROR")
		}
	})

	t.Run("listed client", func(t *testing.T) {
		z := dialZMTP(t, addr)
		c, err := NewClient(ckp, skp.Public, WithMetadata(dealer))
		if err != nil {
			t.Fatal(err)
		}
		if err := z.clientHandshake(c); err != nil {
			t.Fatalf("handshake with libzmq: %v", err)
		}
		if v, _ := c.PeerMetadata().Get("Socket-Type"); string(v) != "ROUTER" {
			t.Errorf("libzmq READY Socket-Type %q, want ROUTER (metadata %v)", v, c.PeerMetadata())
		}
		s := c.Session()
		for i, msg := range goMessages() {
			if err := z.sendMessage(s, msg); err != nil {
				t.Fatalf("send message %d: %v", i, err)
			}
			got, err := z.recvMessage(s)
			if err != nil {
				t.Fatalf("receive echo %d: %v", i, err)
			}
			checkParts(t, fmt.Sprintf("echo %d from libzmq", i), got, msg)

			ev := py.Next(t, "echo")
			checkPyParts(t, fmt.Sprintf("message %d as libzmq received it", i), ev.Parts, msg)
			if ev.Identity != "go-client" || deref(ev.SocketType) != "DEALER" || deref(ev.XMeshmq) != "interop" ||
				deref(ev.UserID) != ckp.Public.String() {
				t.Errorf("libzmq saw identity %q, Socket-Type %q, X-Meshmq %q, User-Id %q; want go-client, DEALER, interop, %s",
					ev.Identity, deref(ev.SocketType), deref(ev.XMeshmq), deref(ev.UserID), ckp.Public)
			}
		}
		z.checkSeenMsgFlags(t)
	})

	py.Next(t, "done")
	py.Wait(t)
}

// A libzmq CURVE DEALER dials a Go server, which admits its key; the server
// echoes the two messages it sends.
func TestLibzmqClientGoServer(t *testing.T) {
	skp, ckp := mustKP(t), mustKP(t)
	ln := listenLocal(t)
	py := startCurvePy(t, "client", "tcp://"+ln.Addr().String(), skp.Public.String(), ckp.Public.String(), ckp.Secret.Z85(), "echo")

	var md Metadata
	srv, err := NewServer(skp, func(k PublicKey, m Metadata) error {
		md = m
		return allowOnly(ckp.Public)(k, m)
	}, WithMetadata(Metadata{{"Socket-Type", []byte("ROUTER")}, {"X-Meshmq", []byte("go-server")}}))
	if err != nil {
		t.Fatal(err)
	}
	z := acceptZMTP(t, ln)
	if err := z.serverHandshake(srv); err != nil {
		t.Fatalf("handshake with libzmq: %v", err)
	}
	if srv.ClientKey() != ckp.Public {
		t.Errorf("client key %s, want %s", srv.ClientKey(), ckp.Public)
	}
	if v, _ := md.Get("Socket-Type"); string(v) != "DEALER" {
		t.Errorf("libzmq INITIATE Socket-Type %q, want DEALER (metadata %v)", v, md)
	}
	s := srv.Session()
	for i, want := range pyMessages() {
		got, err := z.recvMessage(s)
		if err != nil {
			t.Fatalf("receive message %d: %v", i, err)
		}
		checkParts(t, fmt.Sprintf("message %d from libzmq", i), got, want)
		if err := z.sendMessage(s, got); err != nil {
			t.Fatalf("send echo %d: %v", i, err)
		}
		ev := py.Next(t, "echo")
		checkPyParts(t, fmt.Sprintf("echo %d as libzmq received it", i), ev.Parts, want)
		if deref(ev.SocketType) != "ROUTER" || deref(ev.XMeshmq) != "go-server" {
			t.Errorf("libzmq saw Socket-Type %q, X-Meshmq %q; want ROUTER, go-server", deref(ev.SocketType), deref(ev.XMeshmq))
		}
	}
	z.checkSeenMsgFlags(t)
	py.Next(t, "done")
	py.Wait(t)
}

// A libzmq client is turned away by the Go server: with the wrong server key
// the server cannot open HELLO and closes; with a key authorize refuses it
// sends ERROR "400", which libzmq reports as an authentication failure.
// Neither side receives a message.
func TestLibzmqClientRefused(t *testing.T) {
	skp, ckp, other := mustKP(t), mustKP(t), mustKP(t)

	t.Run("wrong server key", func(t *testing.T) {
		ln := listenLocal(t)
		py := startCurvePy(t, "client", "tcp://"+ln.Addr().String(), other.Public.String(), ckp.Public.String(), ckp.Secret.Z85(), "refused")
		srv, err := NewServer(skp, AllowAny)
		if err != nil {
			t.Fatal(err)
		}
		z := acceptZMTP(t, ln)
		err = z.serverHandshake(srv)
		if !errors.Is(err, ErrBadBox) || !strings.Contains(err.Error(), "HELLO") {
			t.Fatalf("server handshake: %v, want a HELLO box failure", err)
		}
		if srv.Session() != nil {
			t.Fatal("server has a session")
		}
		z.conn.Close()
		ev := py.Next(t, "refused")
		py.Next(t, "done")
		py.Wait(t)
		t.Logf("libzmq socket monitor: %+v", ev.Monitor)
		if hasEvent(ev.Monitor, "handshake_failed_auth") {
			t.Errorf("libzmq reports an authentication failure, but no ERROR was sent: %v", ev.Monitor)
		}
	})

	t.Run("unauthorized client key", func(t *testing.T) {
		ln := listenLocal(t)
		py := startCurvePy(t, "client", "tcp://"+ln.Addr().String(), skp.Public.String(), ckp.Public.String(), ckp.Secret.Z85(), "refused")
		var asked PublicKey
		srv, err := NewServer(skp, func(k PublicKey, m Metadata) error {
			asked = k
			return allowOnly(other.Public)(k, m)
		})
		if err != nil {
			t.Fatal(err)
		}
		z := acceptZMTP(t, ln)
		err = z.serverHandshake(srv)
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("server handshake: %v, want ErrUnauthorized", err)
		}
		if asked != ckp.Public {
			t.Errorf("authorize saw key %s, want the libzmq client's %s", asked, ckp.Public)
		}
		if srv.Session() != nil {
			t.Fatal("server has a session")
		}
		ev := py.Next(t, "refused")
		py.Next(t, "done")
		py.Wait(t)
		t.Logf("libzmq socket monitor: %+v", ev.Monitor)
		if !hasEventValue(ev.Monitor, "handshake_failed_auth", 400) {
			t.Errorf("libzmq monitor events %v, want handshake_failed_auth 400 (it did not take our ERROR)", ev.Monitor)
		}
	})
}

func checkParts(t *testing.T, what string, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d parts, want %d", what, len(got), len(want))
		return
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("%s: part %d differs (%d bytes, want %d)", what, i, len(got[i]), len(want[i]))
		}
	}
}

func checkPyParts(t *testing.T, what string, got []pyPart, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d parts, want %d", what, len(got), len(want))
		return
	}
	for i, p := range want {
		sum := sha256.Sum256(p)
		if got[i].Len != len(p) || got[i].SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: part %d is %d bytes with sha256 %s, want %d bytes", what, i, got[i].Len, got[i].SHA256, len(p))
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "<none>"
	}
	return *s
}

func hasEvent(evs []pyMonitorEvent, name string) bool {
	for _, e := range evs {
		if e.Event == name {
			return true
		}
	}
	return false
}

func hasEventValue(evs []pyMonitorEvent, name string, value int) bool {
	for _, e := range evs {
		if e.Event == name && e.Value == value {
			return true
		}
	}
	return false
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe"))
}

// ---- A minimal raw ZMTP 3.0 endpoint ----

// ZMTP 3.0 frame flags (RFC 23).
const (
	zmtpMore    byte = 0x01
	zmtpLong    byte = 0x02
	zmtpCommand byte = 0x04

	maxMessageFrame = 1 << 20
)

type zmtpConn struct {
	conn net.Conn
	r    *bufio.Reader
	seen map[byte]int // ZMTP frame flags of the MESSAGE frames received
}

// peerError is an ERROR command received from the peer.
type peerError struct{ reason, after string }

func (e *peerError) Error() string {
	return fmt.Sprintf("peer sent ERROR %q after %s", e.reason, e.after)
}

func listenLocal(t *testing.T) *net.TCPListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.(*net.TCPListener)
}

func dialZMTP(t *testing.T, addr string) *zmtpConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return greetZMTP(t, conn)
}

// acceptZMTP accepts one connection (and closes the listener: pyzmq's
// reconnects then fail fast instead of reaching us).
func acceptZMTP(t *testing.T, ln *net.TCPListener) *zmtpConn {
	t.Helper()
	if err := ln.SetDeadline(time.Now().Add(pyWait)); err != nil {
		t.Fatal(err)
	}
	conn, err := ln.Accept()
	if err != nil {
		t.Fatalf("no connection from libzmq: %v", err)
	}
	ln.Close()
	return greetZMTP(t, conn)
}

// greetZMTP exchanges the 64-byte greetings: signature, version 3.0,
// mechanism CURVE, as-server 0 (libzmq sends 0 from both ends with CURVE).
func greetZMTP(t *testing.T, conn net.Conn) *zmtpConn {
	t.Helper()
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
		t.Fatal(err)
	}
	var g [64]byte
	g[0], g[9], g[10], g[11] = 0xFF, 0x7F, 3, 0
	copy(g[12:32], "CURVE")
	if _, err := conn.Write(g[:]); err != nil {
		t.Fatalf("write greeting: %v", err)
	}
	z := &zmtpConn{conn: conn, r: bufio.NewReader(conn), seen: map[byte]int{}}
	var p [64]byte
	if _, err := io.ReadFull(z.r, p[:]); err != nil {
		t.Fatalf("read greeting: %v", err)
	}
	var mech [20]byte
	copy(mech[:], "CURVE")
	if p[0] != 0xFF || p[9]&1 != 1 || p[10] < 3 || !bytes.Equal(p[12:32], mech[:]) {
		t.Fatalf("libzmq greeting % x: want signature, version 3.x, mechanism CURVE", p[:])
	}
	if p[32] != 0 {
		t.Errorf("libzmq greeting as-server = %d, want 0", p[32])
	}
	return z
}

func (z *zmtpConn) writeFrame(flags byte, body []byte) error {
	hdr := make([]byte, 0, 9)
	if len(body) > 255 {
		hdr = append(hdr, flags|zmtpLong)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(len(body)))
	} else {
		hdr = append(hdr, flags, byte(len(body)))
	}
	_, err := z.conn.Write(append(hdr, body...))
	return err
}

func (z *zmtpConn) readFrame(limit int) (flags byte, body []byte, err error) {
	if flags, err = z.r.ReadByte(); err != nil {
		return 0, nil, err
	}
	if flags&^(zmtpMore|zmtpLong|zmtpCommand) != 0 {
		return 0, nil, fmt.Errorf("frame flags %#x", flags)
	}
	var n uint64
	if flags&zmtpLong != 0 {
		var b [8]byte
		if _, err := io.ReadFull(z.r, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	} else {
		b, err := z.r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		n = uint64(b)
	}
	if n > uint64(limit) {
		return 0, nil, fmt.Errorf("frame of %d bytes, limit %d", n, limit)
	}
	body = make([]byte, n)
	if _, err := io.ReadFull(z.r, body); err != nil {
		return 0, nil, err
	}
	return flags, body, nil
}

func (z *zmtpConn) writeCommand(name string, data []byte) error {
	body, err := AppendCommand(nil, name, data)
	if err != nil {
		return err
	}
	return z.writeFrame(zmtpCommand, body)
}

// readCommand reads one handshake command frame.
func (z *zmtpConn) readCommand() (name string, data []byte, err error) {
	flags, body, err := z.readFrame(MaxHandshakeCommand)
	if err != nil {
		return "", nil, err
	}
	if flags&zmtpCommand == 0 || flags&zmtpMore != 0 {
		return "", nil, fmt.Errorf("handshake frame with flags %#x: % x", flags, body[:min(len(body), 32)])
	}
	return ParseCommand(body)
}

// expect reads a handshake command, which must be want; an ERROR becomes a
// *peerError.
func (z *zmtpConn) expect(want, after string) ([]byte, error) {
	name, data, err := z.readCommand()
	if err != nil {
		return nil, fmt.Errorf("waiting for %s: %w", want, err)
	}
	if name == CmdError {
		reason, err := ParseError(data)
		if err != nil {
			return nil, fmt.Errorf("ERROR instead of %s: %w (% x)", want, err, data)
		}
		return nil, &peerError{reason: reason, after: after}
	}
	if name != want {
		return nil, fmt.Errorf("got %s (%d bytes), want %s", name, len(data), want)
	}
	return data, nil
}

func (z *zmtpConn) clientHandshake(c *Client) error {
	hello, err := c.Hello()
	if err != nil {
		return err
	}
	if err := z.writeCommand(CmdHello, hello); err != nil {
		return err
	}
	welcome, err := z.expect(CmdWelcome, CmdHello)
	if err != nil {
		return err
	}
	initiate, err := c.Welcome(welcome)
	if err != nil {
		return fmt.Errorf("Welcome: %w", err)
	}
	if err := z.writeCommand(CmdInitiate, initiate); err != nil {
		return err
	}
	ready, err := z.expect(CmdReady, CmdInitiate)
	if err != nil {
		return err
	}
	if err := c.Ready(ready); err != nil {
		return fmt.Errorf("Ready: %w", err)
	}
	return nil
}

// serverHandshake runs the server side; after a failure it has sent ERROR
// where Initiate produced one, and half-closed the connection.
func (z *zmtpConn) serverHandshake(s *Server) error {
	hello, err := z.expect(CmdHello, "greeting")
	if err != nil {
		return err
	}
	welcome, err := s.Hello(hello)
	if err != nil {
		return err
	}
	if err := z.writeCommand(CmdWelcome, welcome); err != nil {
		return err
	}
	initiate, err := z.expect(CmdInitiate, CmdWelcome)
	if err != nil {
		return err
	}
	reply, _, err := s.Initiate(initiate)
	if err != nil {
		if reply != nil {
			if werr := z.writeCommand(CmdError, reply); werr != nil {
				return errors.Join(err, werr)
			}
			// Half-close and wait for libzmq to close: a full close with
			// unread input could reset the connection before it reads ERROR.
			z.conn.(*net.TCPConn).CloseWrite()
			io.Copy(io.Discard, z.r)
		}
		return err
	}
	return z.writeCommand(CmdReady, reply)
}

func (z *zmtpConn) sendMessage(s *Session, parts [][]byte) error {
	for i, p := range parts {
		var flags byte
		if i < len(parts)-1 {
			flags = FlagMore
		}
		body, err := AppendCommand(nil, CmdMessage, nil)
		if err != nil {
			return err
		}
		if body, err = s.AppendSeal(body, flags, p); err != nil {
			return err
		}
		// A data frame, not a command frame, and without MORE: as libzmq
		// 4.3 sends MESSAGE. (It silently drops MESSAGEs in command frames,
		// 0x04: in this test, the echo never came, in either direction.)
		if err := z.writeFrame(0, body); err != nil {
			return err
		}
	}
	return nil
}

func (z *zmtpConn) recvMessage(s *Session) ([][]byte, error) {
	var parts [][]byte
	for {
		zflags, body, err := z.readFrame(maxMessageFrame)
		if err != nil {
			return parts, err
		}
		z.seen[zflags]++
		name, data, err := ParseCommand(body)
		if err != nil {
			return parts, err
		}
		if name != CmdMessage {
			return parts, fmt.Errorf("got %s, want MESSAGE", name)
		}
		flags, part, err := s.Open(data)
		if err != nil {
			return parts, err
		}
		if flags&FlagCommand != 0 {
			return parts, fmt.Errorf("unexpected command in MESSAGE: %q", part)
		}
		parts = append(parts, part)
		if flags&FlagMore == 0 {
			return parts, nil
		}
	}
}

// checkSeenMsgFlags checks that libzmq sent its MESSAGEs in data frames
// (flags 0x00, or 0x02 when long) without MORE: MORE travels encrypted.
func (z *zmtpConn) checkSeenMsgFlags(t *testing.T) {
	t.Helper()
	for f, n := range z.seen {
		if f&^zmtpLong != 0 {
			t.Errorf("libzmq sent %d MESSAGE frames with ZMTP flags %#02x, want 0x00 or 0x02", n, f)
		}
	}
	if len(z.seen) == 0 {
		t.Error("no MESSAGE frames from libzmq")
	}
}

// ---- The Python peer ----

type pyPart struct {
	Len    int    `json:"len"`
	SHA256 string `json:"sha256"`
}

type pyMonitorEvent struct {
	Event string `json:"event"`
	Value int    `json:"value"`
}

type pyEvent struct {
	Event    string `json:"event"`
	Endpoint string `json:"endpoint"` // "endpoint"

	Public    string `json:"public"` // "keys"
	Secret    string `json:"secret"`
	Derived   string `json:"derived"`
	GoDerived string `json:"go_derived"`

	Identity   string   `json:"identity"` // "echo"
	Parts      []pyPart `json:"parts"`
	SocketType *string  `json:"socket_type"`
	UserID     *string  `json:"user_id"`
	XMeshmq    *string  `json:"x_meshmq"`

	Monitor []pyMonitorEvent `json:"monitor"` // "refused"
}

func (e pyEvent) EventName() string { return e.Event }

// curvePy is a running testdata/curve_peer.py.
type curvePy = pypeer.Peer[pyEvent]

func startCurvePy(t *testing.T, args ...string) *curvePy {
	t.Helper()
	pypeer.Require(t, "import zmq, sys; sys.exit(0 if zmq.has('curve') else 3)", "import zmq with CURVE support")
	return pypeer.Start[pyEvent](t, pyScript, args...)
}
