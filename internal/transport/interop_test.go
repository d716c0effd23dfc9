package transport

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/internal/testutil/pypeer"
	"github.com/meshmq/meshmq/internal/wire"
)

// The interop tests prove that PROTOCOL.md suffices to write a peer on libzmq:
// testdata/libzmq_peer.py speaks it with pyzmq (libzmq) and msgpack, as a
// DEALER dialing a transport and as a ROUTER a transport dials. Both sides
// exchange DATA both ways, including a frame over 64 KiB and an encoded
// message (PROTOCOL.md 6) built by the other side, idle past the other's
// heartbeat timeout on HEARTBEATs alone, and end with DRAIN. Each test runs
// over the NULL mechanism and over ZMTP CURVE (libzmq's CURVE against the
// transport's curveConn), sharing the test body.

const (
	pyPeerScript = "testdata/libzmq_peer.py"
	pyEventWait  = pypeer.EventWait // for what the script does before its next line
)

// A libzmq DEALER dials the transport, which accepts as a ROUTER (with
// CURVE: libzmq is the client, the transport the server that authorizes it).
func TestLibzmqDealerDialsTransport(t *testing.T) {
	forEachInteropSecurity(t, testLibzmqDealerDialsTransport)
}

func testLibzmqDealerDialsTransport(t *testing.T, sec interopSecurity) {
	rec := newRecorder()
	tr := listen(t, sec.config(rec))
	toPy := goEntries()
	py := startPy(t, sec, "dial", tr.Endpoint(), tr.Name(), strconv.Itoa(len(toPy)))

	// The script checked our HELLO as a dialer must (magic, chosen version,
	// name) and prints it.
	hello := py.Next(t, "hello")
	checkHelloSeenByPy(t, hello, tr, []uint64{wire.Version})
	var c *Conn
	waitFor(t, "the connection from the libzmq peer", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if len(rec.ups) > 0 {
			c = rec.ups[0]
		}
		return c != nil
	})
	if c.Outbound() {
		t.Fatal("the libzmq peer's connection is outbound")
	}
	checkPyHello(t, c, "")
	sec.checkKeys(t, c, hello, false)

	exchangeWithPy(t, py, rec, c, toPy)

	// The script drained after it had every entry; we answered with DRAIN.
	done := py.Next(t, "done")
	py.Wait(t)
	checkDone(t, done)
	waitFor(t, "the drained connection to close", func() bool { _, ok := rec.downErr(c); return ok })
	if err, _ := rec.downErr(c); !errors.Is(err, ErrRemoteDrained) {
		t.Errorf("connection closed with %v, want ErrRemoteDrained", err)
	}
	checkPyDrain(t, rec, "done")
	checkOneConnection(t, rec)
}

// The transport dials a libzmq ROUTER as a DEALER (with CURVE: libzmq is
// the server, its ZAP handler admitting the transport's client key).
func TestTransportDialsLibzmqRouter(t *testing.T) {
	forEachInteropSecurity(t, testTransportDialsLibzmqRouter)
}

func testTransportDialsLibzmqRouter(t *testing.T, sec interopSecurity) {
	rec := newRecorder()
	tr := listen(t, sec.config(rec))
	py := startPy(t, sec, "listen", "tcp://127.0.0.1:*")
	ep := py.Next(t, "endpoint").Endpoint

	l, err := tr.Connect("py", ep)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := l.WaitUp(ctx)
	if err != nil {
		t.Fatalf("connecting to the libzmq peer at %s: %v", ep, err)
	}
	if !c.Outbound() {
		t.Fatal("the connection to the libzmq peer is not outbound")
	}
	hello := py.Next(t, "hello")
	checkHelloSeenByPy(t, hello, tr, versions)
	checkPyHello(t, c, ep)
	sec.checkKeys(t, c, hello, true)

	exchangeWithPy(t, py, rec, c, goEntries())

	// We drain; the script ends on our DRAIN. (Its answering DRAIN does not
	// reach us: libzmq cannot half-close, and ends the connection on the FIN
	// that follows our DRAIN. Reading to the end is enough for a clean close.)
	closeTransport(t, tr)
	done := py.Next(t, "done")
	py.Wait(t)
	checkDone(t, done)
	if err, ok := rec.downErr(c); !ok || err != nil {
		t.Errorf("connection closed with %v (down reported: %v), want a clean drain", err, ok)
	}
	checkOneConnection(t, rec)
}

// exchangeWithPy receives the script's entries, then sends toPy and checks
// what the script received.
func exchangeWithPy(t *testing.T, py *pyPeer, rec *recorder, c *Conn, toPy []wire.Entry) {
	t.Helper()
	want := pyEntries()
	waitFor(t, "the libzmq peer's entries", func() bool { return rec.count() >= len(want) })
	checkEntries(t, rec.snapshot(), want)
	checkPyMessage(t, rec.snapshot()[4].Message)

	// The script idled for 2.5 heartbeat timeouts before its last DATA:
	// its HEARTBEATs alone kept the connection up.
	if n := c.heartbeats.Load(); n < 3 {
		t.Errorf("received %d HEARTBEATs from the libzmq peer, want at least 3", n)
	}
	if err := c.Err(); err != nil {
		t.Fatalf("connection closed: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range toPy {
		if err := c.Send(ctx, &toPy[i]); err != nil {
			t.Fatalf("send entry %d: %v", i, err)
		}
	}
	for i, e := range toPy {
		got := py.Next(t, "entry")
		sum := sha256.Sum256(e.Message)
		wantPart := (*int64)(nil)
		if e.Partition != wire.NoPartition {
			wantPart = &e.Partition
		}
		if got.Stream != e.Stream || got.Seq != e.Seq || got.Attempt != e.Attempt || got.Group != e.Group ||
			got.Flags != uint64(e.Flags) || !ptrEqual(got.Partition, wantPart) ||
			got.Len != len(e.Message) || got.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("libzmq peer's entry %d: %+v\nwant %+v with %d bytes", i, got, e, len(e.Message))
		}
	}
	checkMessageSeenByPy(t, received(py)[1].Decoded, goMessage())
}

// pyEntries are the entries the script sends in its three DATA packets.
func pyEntries() []wire.Entry {
	big := make([]byte, 100_000)
	for i := range big {
		big[i] = byte(i * 7 % 251)
	}
	none := int64(wire.NoPartition)
	return []wire.Entry{
		{Stream: 7, Seq: 1, Attempt: 1, Partition: none, Message: []byte("py-1")},
		{Stream: 7, Seq: 2, Attempt: 1, Partition: 3, Group: "workers", Message: []byte{}},
		{Stream: 7, Seq: 0, Attempt: 1, Partition: none, Flags: wire.FlagBestEffort, Message: []byte("best effort")},
		{Stream: 7, Seq: 3, Attempt: 1, Partition: none, Message: big},
		{Stream: 7, Seq: 4, Attempt: 1, Partition: none, Message: wire.AppendMessage(nil, pyMessage())},
		{Stream: 7, Seq: 5, Attempt: 2, Partition: 0, Message: []byte("resent")},
	}
}

// pyMessage is the message the script encodes with msgpack (PROTOCOL.md 6).
func pyMessage() *channel.Message {
	return &channel.Message{
		ID: "py-msg-1", Kind: channel.Event, Channel: "orders.created", Key: "order-42",
		Headers: channel.Headers{channel.HeaderContentType: "application/json", "x-trace": "t-1"},
		Body:    []byte(`{"total":42}`), ReplyTo: "py",
		TTL: 30 * time.Second, Time: time.Unix(0, 1_700_000_000_123_456_789),
	}
}

// goEntries are what the Go side sends the script: a message the script
// decodes, a frame over 64 KiB, best-effort, partition and group.
func goEntries() []wire.Entry {
	big := make([]byte, 200_000)
	for i := range big {
		big[i] = byte(i * 13 % 241)
	}
	none := int64(wire.NoPartition)
	return []wire.Entry{
		{Stream: 9, Seq: 1, Attempt: 1, Partition: none, Message: []byte("go-1")},
		{Stream: 9, Seq: 2, Attempt: 1, Partition: 5, Group: "billing", Message: wire.AppendMessage(nil, goMessage())},
		{Stream: 9, Seq: 3, Attempt: 1, Partition: none, Message: big},
		{Stream: 9, Seq: 0, Attempt: 1, Partition: none, Flags: wire.FlagBestEffort, Message: []byte{}},
		{Stream: 9, Seq: 4, Attempt: 3, Partition: 0, Message: []byte("go-last")},
	}
}

func goMessage() *channel.Message {
	return &channel.Message{
		ID: "go-msg-1", Kind: channel.Command, Channel: "billing", To: "py", Key: "acct-7",
		Headers: channel.Headers{channel.HeaderContentType: "application/msgpack", "x-trace": "go"},
		Body:    []byte{0x81, 0xa1, 'n', 0x2a}, CorrelationID: "corr-1", ReplyTo: "go",
		Deadline: time.Unix(1_800_000_000, 5), Time: time.Unix(1_700_000_000, 0),
	}
}

func checkEntries(t *testing.T, got, want []wire.Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("received %d entries from the libzmq peer, want %d", len(got), len(want))
	}
	for i, g := range got {
		w := want[i]
		if g.Stream != w.Stream || g.Seq != w.Seq || g.Attempt != w.Attempt || g.Partition != w.Partition ||
			g.Group != w.Group || g.Flags != w.Flags || !bytes.Equal(g.Message, w.Message) {
			t.Errorf("entry %d from the libzmq peer: stream %d seq %d attempt %d partition %d group %q flags %d, %d bytes\n"+
				"want stream %d seq %d attempt %d partition %d group %q flags %d, %d bytes (byte-identical)", i,
				g.Stream, g.Seq, g.Attempt, g.Partition, g.Group, g.Flags, len(g.Message),
				w.Stream, w.Seq, w.Attempt, w.Partition, w.Group, w.Flags, len(w.Message))
		}
	}
}

// checkPyMessage decodes the message msgpack built in Python.
func checkPyMessage(t *testing.T, b []byte) {
	t.Helper()
	var m channel.Message
	if err := wire.DecodeMessage(b, &m); err != nil {
		t.Fatalf("decode the libzmq peer's message: %v", err)
	}
	w := pyMessage()
	if m.ID != w.ID || m.Kind != w.Kind || m.Channel != w.Channel || m.To != "" || m.Key != w.Key ||
		len(m.Headers) != 2 || m.Headers.Get(channel.HeaderContentType) != "application/json" ||
		m.Headers.Get("x-trace") != "t-1" || !bytes.Equal(m.Body, w.Body) || m.CorrelationID != "" ||
		m.ReplyTo != w.ReplyTo || !m.Deadline.IsZero() || m.TTL != w.TTL || !m.Time.Equal(w.Time) {
		t.Errorf("the libzmq peer's message decoded to %+v\nwant %+v", m, *w)
	}
}

// checkMessageSeenByPy compares what Python's msgpack decoded from our
// encoding of m, keyed by PROTOCOL.md 6's integer keys.
func checkMessageSeenByPy(t *testing.T, got map[string]any, m *channel.Message) {
	t.Helper()
	want := map[string]any{
		"1": m.ID, "2": json.Number(strconv.Itoa(int(m.Kind))), "3": m.Channel, "4": m.To, "5": m.Key,
		"6": map[string]any{channel.HeaderContentType: m.Headers.Get(channel.HeaderContentType), "x-trace": m.Headers.Get("x-trace")},
		"7": hex.EncodeToString(m.Body), "8": m.CorrelationID, "9": m.ReplyTo,
		"10": json.Number(strconv.FormatInt(m.Deadline.UnixNano(), 10)),
		"12": json.Number(strconv.FormatInt(m.Time.UnixNano(), 10)),
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Errorf("the libzmq peer decoded our message as\n%s\nwant\n%s", gotJSON, wantJSON)
	}
}

// checkHelloSeenByPy checks our HELLO as the script decoded it.
func checkHelloSeenByPy(t *testing.T, h pyEvent, tr *Transport, versions []uint64) {
	t.Helper()
	if !slices.Equal(h.Versions, versions) || h.Name != tr.Name() || h.Epoch != tr.Epoch() ||
		h.Endpoint != tr.Endpoint() || h.MaxFrame != uint64(tr.cfg.MaxFrameSize) ||
		h.MaxMessage != uint64(tr.cfg.MaxMessageSize) || h.HeartbeatMS != uint64(tr.cfg.HeartbeatTimeout/time.Millisecond) {
		t.Errorf("the libzmq peer saw our HELLO as %+v", h)
	}
}

// checkPyHello checks the script's HELLO as the transport decoded it.
func checkPyHello(t *testing.T, c *Conn, endpoint string) {
	t.Helper()
	h := c.Remote()
	if c.RemoteName() != "py" || !slices.Equal(h.Versions, []uint64{wire.Version}) || h.Epoch == 0 ||
		h.Endpoint != endpoint || h.MaxFrame != 4<<20+64<<10 || h.MaxMessage != 4<<20 ||
		h.HeartbeatTimeout != 2*time.Second || c.version != wire.Version {
		t.Errorf("the libzmq peer's HELLO: %+v (version %d)", h, c.version)
	}
}

// checkDone checks the script's summary: it received our HEARTBEATs while
// it idled, and our DRAIN.
func checkDone(t *testing.T, done pyEvent) {
	t.Helper()
	if done.Heartbeats < 3 {
		t.Errorf("the libzmq peer received %d HEARTBEATs from us, want at least 3", done.Heartbeats)
	}
	if done.Drain == nil || *done.Drain != "closing" {
		t.Errorf("the libzmq peer got DRAIN %v from us, want \"closing\"", done.Drain)
	}
}

func checkPyDrain(t *testing.T, rec *recorder, reason string) {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, p := range rec.packets {
		if d, ok := p.(*wire.Drain); ok && d.Reason == reason {
			return
		}
	}
	t.Errorf("no DRAIN %q from the libzmq peer among %v", reason, rec.packets)
}

// checkOneConnection checks, once the connection is closed, that it was the
// only one and that nothing arrived twice.
func checkOneConnection(t *testing.T, rec *recorder) {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.ups) != 1 {
		t.Errorf("%d connections came up, want exactly 1", len(rec.ups))
	}
	if n := len(rec.entries); n != len(pyEntries()) {
		t.Errorf("received %d entries from the libzmq peer in all, want %d", n, len(pyEntries()))
	}
}

func ptrEqual(a, b *int64) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

// pyEvent is one JSON line of the script's output.
type pyEvent struct {
	Event string `json:"event"`

	Endpoint string `json:"endpoint"` // "endpoint", "hello"

	Versions    []uint64 `json:"versions"` // "hello": the remote HELLO
	Name        string   `json:"name"`
	Epoch       uint64   `json:"epoch"`
	MaxFrame    uint64   `json:"max_frame"`
	MaxMessage  uint64   `json:"max_message"`
	HeartbeatMS uint64   `json:"heartbeat_ms"`
	UserID      *string  `json:"user_id"` // the ZAP User-Id on the remote HELLO's frame

	Stream    uint64         `json:"stream"` // "entry": one DATA entry received
	Seq       uint64         `json:"seq"`
	Attempt   uint64         `json:"attempt"`
	Partition *int64         `json:"partition"`
	Group     string         `json:"group"`
	Flags     uint64         `json:"flags"`
	Len       int            `json:"len"`
	SHA256    string         `json:"sha256"`
	Decoded   map[string]any `json:"decoded"` // the message, if it is a msgpack map

	Heartbeats int     `json:"heartbeats"` // "done"
	Drain      *string `json:"drain"`
}

func (e pyEvent) EventName() string { return e.Event }

// pyPeer is a running testdata/libzmq_peer.py.
type pyPeer = pypeer.Peer[pyEvent]

// startPy runs the script in mode args[0] ("dial" or "listen") with sec's
// options.
func startPy(t *testing.T, sec interopSecurity, args ...string) *pyPeer {
	t.Helper()
	if sec.curve == nil {
		pypeer.Require(t, "import zmq, msgpack", "import zmq and msgpack")
	} else {
		pypeer.Require(t, "import zmq, msgpack, zmq.auth.thread, sys; sys.exit(0 if zmq.has('curve') else 3)",
			"import zmq (with CURVE support) and msgpack")
	}
	return pypeer.Start[pyEvent](t, pyPeerScript, append(sec.pyOptions(args[0]), args...)...)
}

// interopSecurity is how the transport ("go") and the script ("py") secure
// their connection.
type interopSecurity struct {
	curve *curvePeers // the keys of "go" and "py"; nil: the NULL mechanism
}

// forEachInteropSecurity runs test over NULL and over CURVE.
func forEachInteropSecurity(t *testing.T, test func(*testing.T, interopSecurity)) {
	t.Run("NULL", func(t *testing.T) { test(t, interopSecurity{}) })
	t.Run("CURVE", func(t *testing.T) {
		p := newCurvePeers(t, "go", "py")
		test(t, interopSecurity{curve: &p})
	})
}

// config is the transport's: with CURVE it serves with go's keys and admits
// py's key only, and dials py at py's public key.
func (s interopSecurity) config(h Handler) Config {
	if s.curve == nil {
		return fast("go", h)
	}
	return s.curve.cfg("go", h, "py")
}

// pyOptions are the script's options for mode: with CURVE, py's secret key
// and the key of the other side (the server's, or the one client to admit).
func (s interopSecurity) pyOptions(mode string) []string {
	if s.curve == nil {
		return nil
	}
	opts := []string{"--curve-secret=" + s.curve.keys["py"].Secret.Z85()}
	if mode == "dial" {
		return append(opts, "--curve-server="+s.curve.keys["go"].Public.String())
	}
	return append(opts, "--curve-allow="+s.curve.keys["go"].Public.String())
}

// checkKeys checks what each side authenticated. With CURVE the
// transport's connection has py's key (the client key it admitted, or the
// server key it dialed and the handshake proved); when py serves, its ZAP
// handler admitted go's key, which libzmq attaches to our HELLO as its
// User-Id. Over NULL there are neither.
func (s interopSecurity) checkKeys(t *testing.T, c *Conn, hello pyEvent, pyServes bool) {
	t.Helper()
	key, ok := c.PeerKey()
	if s.curve == nil {
		if ok || hello.UserID != nil {
			t.Errorf("NULL connection: peer key %s (%v), User-Id %q at libzmq", key, ok, strPtr(hello.UserID))
		}
		return
	}
	if want := s.curve.keys["py"].Public; !ok || key != want {
		t.Errorf("the libzmq peer's CURVE key: %s (%v), want %s", key, ok, want)
	}
	want := "<none>" // libzmq's CURVE client runs no ZAP
	if pyServes {
		want = s.curve.keys["go"].Public.String()
	}
	if got := strPtr(hello.UserID); got != want {
		t.Errorf("libzmq's User-Id on our HELLO: %s, want %s", got, want)
	}
}

// received returns the "entry" lines the script printed so far.
func received(py *pyPeer) []pyEvent {
	var out []pyEvent
	for _, ev := range py.Seen() {
		if ev.Event == "entry" {
			out = append(out, ev)
		}
	}
	return out
}
