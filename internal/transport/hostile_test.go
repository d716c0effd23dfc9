package transport

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"

	"github.com/meshmq/meshmq/internal/wire"
)

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

// dialHello completes ZMTP and HELLO as the named peer, by hand, and returns
// the connection, positioned after the acceptor's HELLO.
func dialHello(t testing.TB, ep, name string) net.Conn {
	t.Helper()
	raw := rawDial(t, ep)
	raw.SetDeadline(time.Now().Add(5 * time.Second))
	zc, err := zmq4.Open(raw, null.Security(), zmq4.Dealer, nil, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	hello := &wire.Hello{Versions: []uint64{1}, Name: name, Epoch: 1, HeartbeatTimeout: time.Hour}
	if err := zc.SendMsg(zmq4.NewMsg(hello.Append(nil))); err != nil {
		t.Fatal(err)
	}
	msg, err := zc.RecvMsg()
	if err != nil {
		t.Fatal(err)
	}
	if p, err := wire.Decode(msg.Frames[0]); err != nil || p.Type() != wire.TypeHello {
		t.Fatalf("no HELLO back: %v %v", p, err)
	}
	raw.SetDeadline(time.Time{})
	return raw
}

// Each attack leaves the listener serving: a legitimate peer connects and
// exchanges a message while the attacking connections are still open.
func TestHostileInputThenLegitimateExchange(t *testing.T) {
	cfg := fast("victim", nil)
	cfg.HandshakeTimeout = time.Minute // idle clients must not block accepts even so
	cfg.HeartbeatTimeout = time.Minute
	attacks := []struct {
		name string
		run  func(t *testing.T, ep string)
	}{
		{"idle TCP connection", func(t *testing.T, ep string) {
			for i := 0; i < 10; i++ {
				rawDial(t, ep)
			}
		}},
		{"random bytes", func(t *testing.T, ep string) {
			for i := 0; i < 20; i++ {
				junk := make([]byte, 1+i*97)
				rand.Read(junk)
				rawDial(t, ep).Write(junk)
			}
		}},
		{"greeting then a 2^50-byte frame header", func(t *testing.T, ep string) {
			c := rawDial(t, ep)
			c.Write(nullGreeting())
			c.Write(longHeader(flagCommand, 1<<50))
			expectClosed(t, c)
		}},
		{"greeting then a 2^63-1-byte message frame", func(t *testing.T, ep string) {
			c := rawDial(t, ep)
			c.Write(nullGreeting())
			c.Write(longHeader(0, 1<<63-1))
			expectClosed(t, c)
		}},
		{"truncated READY properties", func(t *testing.T, ep string) {
			for _, body := range [][]byte{
				append([]byte{5}, "READY\x05Hello"...),               // property cut in its length
				append([]byte{5}, "READY\x03abc\x00\x00\xff\xff"...), // value longer than the frame
				append([]byte{5}, "READY\x00"...),                    // empty property name
				{200, 'R'},                                           // name longer than the frame
			} {
				c := rawDial(t, ep)
				c.Write(nullGreeting())
				c.Write(append([]byte{flagCommand, byte(len(body))}, body...))
				expectClosed(t, c)
			}
		}},
		{"multi-frame message after HELLO", func(t *testing.T, ep string) {
			c := dialHello(t, ep, "multi")
			c.Write([]byte{flagMore, 1, 0x90, 0, 1, 0x90})
			expectClosed(t, c)
		}},
		{"garbage packet after HELLO", func(t *testing.T, ep string) {
			c := dialHello(t, ep, "garbage")
			c.Write([]byte{0, 3, 0x92, 0x01, 0xdd})
			expectClosed(t, c)
		}},
		{"huge frame after HELLO", func(t *testing.T, ep string) {
			c := dialHello(t, ep, "huge")
			c.Write(longHeader(0, 1<<40))
			expectClosed(t, c)
		}},
		{"HELLO with a name and no versions", func(t *testing.T, ep string) {
			c := rawDial(t, ep)
			zc, err := zmq4.Open(c, null.Security(), zmq4.Dealer, nil, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			zc.SendMsg(zmq4.NewMsg([]byte{0x93, 0, 0xa6, 'm', 'e', 's', 'h', 'm', 'q', 0x81, 2, 0xa1, 'x'}))
			expectClosed(t, c)
		}},
	}
	for _, at := range attacks {
		t.Run(at.name, func(t *testing.T) {
			rv := newRecorder()
			c := cfg
			c.Handler = rv
			victim := listen(t, c)
			at.run(t, victim.Endpoint())
			good := listen(t, fast("good", newRecorder()))
			exchange(t, connect(t, good, victim), rv)
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

// Many clients announce frames as large as allowed and stall mid-body: the
// heap stays under the receive budget plus 16 MiB, and legitimate traffic
// flows meanwhile.
func TestStalledLargeFramesStayWithinMemoryBudget(t *testing.T) {
	const (
		frame   = 4 << 20
		budget  = 16 << 20
		clients = 40
	)
	cfg := fast("victim", nil)
	cfg.MaxMessageSize = frame - frameOverhead
	cfg.MaxFrameSize = frame
	cfg.MaxReceiveMemory = budget
	cfg.HeartbeatTimeout = time.Minute
	rv := newRecorder()
	cfg.Handler = rv
	victim := listen(t, cfg)

	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dialHello(t, victim.Endpoint(), fmt.Sprintf("staller-%d", i))
			c.Write(longHeader(0, frame))
			c.Write(make([]byte, 64<<10)) // a little of the body, then nothing
		}()
	}
	// Pre-HELLO clients announcing the same never get past the handshake limit.
	for i := 0; i < clients; i++ {
		c := rawDial(t, victim.Endpoint())
		c.Write(nullGreeting())
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
	good := listen(t, fast("good", newRecorder()))
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
func TestHandshakeLimit(t *testing.T) {
	cfg := fast("victim", nil)
	cfg.MaxHandshakes = 4
	cfg.HandshakeTimeout = 300 * time.Millisecond
	rv := newRecorder()
	cfg.Handler = rv
	victim := listen(t, cfg)
	for i := 0; i < 4; i++ {
		rawDial(t, victim.Endpoint())
	}
	waitFor(t, "handshake slots in use", func() bool { return len(victim.handshakes) == 4 })
	extra := rawDial(t, victim.Endpoint())
	expectClosed(t, extra)
	waitFor(t, "idle handshakes to time out", func() bool { return len(victim.handshakes) == 0 })
	good := listen(t, fast("good", newRecorder()))
	exchange(t, connect(t, good, victim), rv)
}

// Past MaxConnections new peers are refused (ERROR busy) and keep retrying;
// once a connection ends, the waiting peer gets in.
func TestConnectionLimit(t *testing.T) {
	cfg := fast("hub", nil)
	cfg.MaxConnections = 2
	rh := newRecorder()
	cfg.Handler = rh
	hub := listen(t, cfg)
	p1 := listen(t, fast("p1", newRecorder()))
	p2 := listen(t, fast("p2", newRecorder()))
	connect(t, p1, hub)
	connect(t, p2, hub)

	p3, err := Listen(fast("p3", newRecorder()))
	if err != nil {
		t.Fatal(err)
	}
	defer closeTransport(t, p3)
	if err := p3.dial(newLink(p3, "hub"), hub.Endpoint()); !isRefusal(err, wire.CodeBusy) {
		t.Fatalf("third connection: %v, want ERROR busy", err)
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
