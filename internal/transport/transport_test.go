package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/meshmq/meshmq/internal/wire"
)

// Every entry arrives once, in order, intact, in both directions over one
// connection, from one-byte bodies to frames that carry a single large one.
func TestRoundTripBatchesInOrder(t *testing.T) {
	ra, rb := newRecorder(), newRecorder()
	a := listen(t, fast("a", ra))
	b := listen(t, fast("b", rb))
	ab := connect(t, a, b)

	sizes := []int{0, 1, 64, 255, 256, 1000, 65535, 65536, 200_000, 1 << 20}
	const n = 5000
	want := make([][]byte, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range want {
		size := sizes[i%len(sizes)]
		if size > 1000 && i%97 != 0 {
			size = 64
		}
		want[i] = make([]byte, size)
		for j := range want[i] {
			want[i][j] = byte(rng.Uint32())
		}
	}
	ctx := context.Background()
	for i, body := range want {
		if err := ab.Send(ctx, entry(7, uint64(i+1), body)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "all entries at b", func() bool { return rb.count() >= n })
	got := rb.snapshot()
	if len(got) != n {
		t.Fatalf("b got %d entries, want %d", len(got), n)
	}
	for i, e := range got {
		if e.Seq != uint64(i+1) || e.Stream != 7 || !bytes.Equal(e.Message, want[i]) {
			t.Fatalf("entry %d: stream %d seq %d, %d bytes; want seq %d, %d bytes", i, e.Stream, e.Seq, len(e.Message), i+1, len(want[i]))
		}
	}

	// The other direction uses the same connection.
	ba := b.Link("a")
	if ba == nil || ba.Conn() == nil || ba.Conn().Outbound() {
		t.Fatal("b has no inbound connection from a")
	}
	for i := 0; i < 100; i++ {
		if err := ba.Send(ctx, entry(3, uint64(i+1), []byte{byte(i)})); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "entries at a", func() bool { return ra.count() >= 100 })
	for i, e := range ra.snapshot() {
		if e.Seq != uint64(i+1) || !bytes.Equal(e.Message, []byte{byte(i)}) {
			t.Fatalf("a: entry %d out of order or corrupt", i)
		}
	}
}

// Control packets travel beside DATA and arrive decoded.
func TestControlPackets(t *testing.T) {
	rb := newRecorder()
	a := listen(t, fast("a", newRecorder()))
	b := listen(t, fast("b", rb))
	c, err := connect(t, a, b).WaitUp(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sent := []wire.Packet{
		&wire.Ack{Streams: []wire.StreamAck{{Stream: 1, Through: 10, Ranges: []wire.Range{{From: 12, To: 14}}}}},
		&wire.Nack{Items: []wire.StreamNack{{Stream: 1, Seq: 11, Reason: wire.ReasonHandlerError, RetryAfter: time.Second, Text: "db down"}}},
		&wire.Credit{Streams: []wire.StreamCredit{{Stream: 1, Limit: 1024}}},
		&wire.CatalogRequest{ID: 1, Have: 0},
	}
	for _, p := range sent {
		if err := c.SendPacket(p); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "control packets", func() bool {
		rb.mu.Lock()
		defer rb.mu.Unlock()
		return len(rb.packets) == len(sent)
	})
	for i, p := range rb.packets {
		if !bytes.Equal(wire.Encode(p), wire.Encode(sent[i])) {
			t.Errorf("packet %d: got %#v, want %#v", i, p, sent[i])
		}
	}
}

func TestMessageLimitOnSend(t *testing.T) {
	cfg := fast("a", nil)
	cfg.MaxMessageSize = 1000
	a := listen(t, cfg)
	b := listen(t, fast("b", newRecorder()))
	l := connect(t, a, b)
	err := l.Send(context.Background(), entry(1, 1, make([]byte, 1001)))
	var le *LimitError
	if !errors.Is(err, ErrTooLarge) || !errors.As(err, &le) || le.Limit != 1000 {
		t.Fatalf("got %v, want a LimitError of 1000", err)
	}
}

// The remote side's smaller limit, announced in HELLO, applies on send.
func TestRemoteMessageLimit(t *testing.T) {
	cfg := fast("b", newRecorder())
	cfg.MaxMessageSize = 500
	a := listen(t, fast("a", nil))
	b := listen(t, cfg)
	l := connect(t, a, b)
	if err := l.Send(context.Background(), entry(1, 1, make([]byte, 501))); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
}

// A peer that completes HELLO and then sends nothing is detected by the
// heartbeat timeout, and the connection closes with ErrHeartbeatTimeout.
func TestHeartbeatDetectsSilentPeer(t *testing.T) {
	rb := newRecorder()
	b := listen(t, fast("b", rb))
	raw := dialHello(t, b.Endpoint(), "silent")
	defer raw.Close()
	waitFor(t, "the link up", func() bool { return b.Link("silent") != nil && b.Link("silent").Conn() != nil })
	c := b.Link("silent").Conn()
	waitFor(t, "the silent peer declared dead", func() bool { _, ok := rb.downErr(c); return ok })
	if err, _ := rb.downErr(c); !errors.Is(err, ErrHeartbeatTimeout) {
		t.Fatalf("closed with %v, want ErrHeartbeatTimeout", err)
	}
}

// Idle connections stay up: heartbeats flow both ways.
func TestHeartbeatsKeepIdleConnection(t *testing.T) {
	a := listen(t, fast("a", newRecorder()))
	b := listen(t, fast("b", newRecorder()))
	l := connect(t, a, b)
	c := l.Conn()
	bc := b.Link("a").Conn()
	// Twenty heartbeats each way span four heartbeat timeouts.
	waitFor(t, "heartbeats", func() bool { return c.heartbeats.Load() >= 20 && bc.heartbeats.Load() >= 20 })
	if l.Conn() != c || c.Err() != nil || b.Link("a").Conn() != bc {
		t.Fatalf("idle connection closed or replaced: %v", c.Err())
	}
}

// A wanted link reconnects when its peer restarts on the same endpoint.
func TestReconnectAfterRemoteRestart(t *testing.T) {
	ra := newRecorder()
	a := listen(t, fast("a", ra))
	rb := newRecorder()
	b, err := Listen(fast("b", rb))
	if err != nil {
		t.Fatal(err)
	}
	ep := b.Endpoint()
	l := connect(t, a, b)
	exchange(t, l, rb)
	first := l.Conn()
	closeTransport(t, b)
	waitFor(t, "a to notice", func() bool { _, ok := ra.downErr(first); return ok })

	rb2 := newRecorder()
	cfg := fast("b", rb2)
	cfg.Listen = ep
	b2 := listen(t, cfg)
	exchange(t, l, rb2)
	if c := l.Conn(); c == first || c.RemoteEpoch() != b2.Epoch() {
		t.Fatalf("link is not on the restarted peer (epoch %d, want %d)", c.RemoteEpoch(), b2.Epoch())
	}
}

// A peer that stops reading fills its own queue only; sends to another
// destination go on and arrive.
func TestStalledReaderDoesNotBlockOthers(t *testing.T) {
	stalled := newRecorder()
	stalled.block = make(chan struct{})
	cfgA := fast("a", newRecorder())
	cfgA.SendQueueBytes = 1 << 20
	cfgA.WriteTimeout = time.Minute
	a := listen(t, cfgA)
	slow := listen(t, fast("slow", stalled))
	rc := newRecorder()
	ok := listen(t, fast("ok", rc))
	toSlow := connect(t, a, slow)
	toOK := connect(t, a, ok)
	var unblock sync.Once
	release := func() { unblock.Do(func() { close(stalled.block) }) }
	t.Cleanup(release) // runs before the transports' cleanups close them

	// Fill the stalled peer's socket buffers and our queue for it.
	body := make([]byte, 16<<10)
	c := toSlow.Conn()
	full := false
	for i := 0; i < 100_000 && !full; i++ {
		err := c.TrySend(entry(1, uint64(i+1), body))
		switch {
		case errors.Is(err, ErrQueueFull):
			full = true
		case err != nil:
			t.Fatal(err)
		}
	}
	if !full {
		t.Fatal("the queue to the stalled peer never filled")
	}
	// A blocking Send to it waits until its ctx ends. (The kernel may still
	// take a few bytes, so the queue may accept some before it stays full.)
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err := c.Send(ctx, entry(1, 0, body))
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil || i == 100_000 {
			t.Fatalf("send to a stalled peer's full queue: %v after %d sends", err, i)
		}
	}
	// Meanwhile the other destination works.
	for i := 0; i < 1000; i++ {
		if err := toOK.Send(context.Background(), entry(2, uint64(i+1), body[:100])); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "delivery to the healthy peer", func() bool { return rc.count() == 1000 })
	release()
	waitFor(t, "the stalled peer to catch up", func() bool { return stalled.count() > 0 })
}

// Two peers that dial each other at once end with one connection, the same
// on both sides.
func TestSimultaneousDialEndsWithOneConnection(t *testing.T) {
	for i := 0; i < 20; i++ {
		ra, rb := newRecorder(), newRecorder()
		a, err := Listen(fast(fmt.Sprintf("a%d", i), ra))
		if err != nil {
			t.Fatal(err)
		}
		b, err := Listen(fast(fmt.Sprintf("b%d", i), rb))
		if err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		errs := make(chan error, 2)
		go func() { <-start; _, err := a.Connect(b.Name(), b.Endpoint()); errs <- err }()
		go func() { <-start; _, err := b.Connect(a.Name(), a.Endpoint()); errs <- err }()
		close(start)
		for j := 0; j < 2; j++ {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		la, lb := a.Link(b.Name()), b.Link(a.Name())
		// Settled: both sides hold a connection and they are the two ends
		// of one TCP connection.
		waitFor(t, "one shared connection", func() bool {
			ca, cb := la.Conn(), lb.Conn()
			return ca != nil && cb != nil && ca.raw.LocalAddr().String() == cb.raw.RemoteAddr().String() &&
				ca.raw.RemoteAddr().String() == cb.raw.LocalAddr().String()
		})
		ca := la.Conn()
		exchange(t, la, rb)
		exchange(t, lb, ra)
		if la.Conn() != ca {
			t.Fatalf("round %d: connection changed after settling", i)
		}
		closeTransport(t, a)
		closeTransport(t, b)
	}
}

// Close drains: queued entries are written before DRAIN, and the remote side
// sees a graceful close.
func TestCloseDrainsQueuedEntries(t *testing.T) {
	ra, rb := newRecorder(), newRecorder()
	a, err := Listen(fast("a", ra))
	if err != nil {
		t.Fatal(err)
	}
	b := listen(t, fast("b", rb))
	l := connect(t, a, b)
	c := l.Conn()
	for i := 0; i < 10_000; i++ {
		if err := l.Send(context.Background(), entry(1, uint64(i+1), make([]byte, 64))); err != nil {
			t.Fatal(err)
		}
	}
	closeTransport(t, a)
	if got := rb.count(); got != 10_000 {
		t.Fatalf("b received %d of 10000 entries queued before Close", got)
	}
	if err, ok := ra.downErr(c); !ok || err != nil {
		t.Fatalf("a's connection closed with %v (down reported: %v), want a clean drain", err, ok)
	}
	waitFor(t, "b to let go of a", func() bool { l := b.Link("a"); return l == nil || l.Conn() == nil })
	if err := l.Send(context.Background(), entry(1, 1, nil)); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("send after close: %v", err)
	}
	if err := a.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// The endpoint dialed must host the named peer.
func TestWrongPeerAtEndpoint(t *testing.T) {
	a := listen(t, fast("a", nil))
	b := listen(t, fast("b", nil))
	if _, err := a.Connect("c", b.Endpoint()); err != nil {
		t.Fatal(err)
	}
	err := a.dial(a.Link("c"), b.Endpoint())
	if !errors.Is(err, ErrWrongPeer) {
		t.Fatalf("got %v, want ErrWrongPeer", err)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Name: "x", Listen: "udp://1.2.3.4:5"},
		{Name: "x", MaxMessageSize: 1 << 20, MaxFrameSize: 1 << 10},
		{Name: "x", MaxFrameSize: 8 << 20, MaxReceiveMemory: 1 << 20},
		{Name: "x", HeartbeatInterval: time.Second, HeartbeatTimeout: time.Second},
	} {
		if _, err := Listen(cfg); err == nil {
			t.Errorf("Listen(%+v) accepted a bad config", cfg)
		}
	}
}

// The rules of PROTOCOL.md 4.3, on the accepting side.
func TestAdmitRules(t *testing.T) {
	tr := listen(t, fast("m", nil))
	inbound := func(name string, epoch uint64) *Conn {
		c := &Conn{t: tr, remote: wire.Hello{Name: name, Epoch: epoch}, raw: nopConn{}, closed: make(chan struct{}), cancel: func() {}}
		return c
	}
	outbound := func(name string, epoch uint64) *Conn {
		c := inbound(name, epoch)
		c.outbound = true
		return c
	}
	for _, tc := range []struct {
		name    string
		dialing bool
		cur     *Conn
		in      *Conn
		accept  bool
	}{
		{"no connection", false, nil, inbound("z", 1), true},
		{"our dial under way, we sort first", true, nil, inbound("z", 1), false},
		{"our dial under way, they sort first", true, nil, inbound("a", 1), true},
		{"our established dial, we sort first", false, outbound("z", 1), inbound("z", 1), false},
		{"our established dial, they sort first", false, outbound("a", 1), inbound("a", 1), true},
		{"their earlier dial: they redialed", false, inbound("z", 1), inbound("z", 1), true},
		{"they restarted (new epoch)", true, outbound("z", 1), inbound("z", 2), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLink(tr, tc.in.remote.Name)
			l.dialing = tc.dialing
			if tc.cur != nil {
				l.setCur(tc.cur)
				tr.conns.Add(-1)
			}
			refusal, _ := l.admit(tc.in)
			if accepted := refusal == nil; accepted != tc.accept {
				t.Fatalf("accepted %v, want %v (refusal %v)", accepted, tc.accept, refusal)
			}
			if tc.accept {
				tr.conns.Add(-1)
				if l.cur != tc.in {
					t.Fatal("accepted connection is not current")
				}
				if tc.cur != nil && tc.cur.Err() != ErrReplaced {
					t.Fatalf("old connection: %v, want ErrReplaced", tc.cur.Err())
				}
			}
		})
	}
}

type nopConn struct{ net.Conn }

func (nopConn) Close() error { return nil }

// WriteNow never blocks its caller: toward a peer that stopped reading it
// writes inline while the socket has room, then declines for want of room,
// and the writer goroutine takes over what is queued.
func TestWriteNowDeclinesAFullSocket(t *testing.T) {
	stalled := newRecorder()
	stalled.block = make(chan struct{})
	a := listen(t, fast("a", newRecorder()))
	slow := listen(t, fast("slow", stalled))
	c := connect(t, a, slow).Conn()
	var unblock sync.Once
	release := func() { unblock.Do(func() { close(stalled.block) }) }
	t.Cleanup(release)

	body := make([]byte, 8<<10)
	type result struct {
		inline, queued int
		full           bool // declined for want of room
	}
	done := make(chan result, 1)
	go func() {
		var r result
		for r.queued < 100_000 {
			if err := c.TryQueue(entry(1, uint64(r.queued+1), body)); err != nil {
				break
			}
			r.queued++
			if c.WriteNow() {
				r.inline++
				continue
			}
			// Declined: the writer was busy (it writes the queue), or
			// the socket is short of room (the test's end).
			if q, ok := sockQueued(c.raw); ok && c.sndbuf > 0 && c.sndbuf-q < 8*(len(body)+64) {
				r.full = true
				break
			}
			c.Wake()
			for {
				c.mu.Lock()
				idle := c.dataBytes == 0
				c.mu.Unlock()
				if idle {
					break
				}
				runtime.Gosched()
			}
		}
		done <- r
	}()
	var r result
	waitFor(t, "WriteNow to decline a full socket", func() bool {
		select {
		case r = <-done:
			return true
		default:
			return false
		}
	})
	if r.inline == 0 || !r.full {
		t.Fatalf("%d inline writes of %d entries", r.inline, r.queued)
	}
	t.Logf("%d of %d entries of 8 KiB written inline before the socket was full", r.inline, r.queued)
	c.Wake()
	release()
	waitFor(t, "everything delivered", func() bool { return stalled.count() == r.queued })
}
