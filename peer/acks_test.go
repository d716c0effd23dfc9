package peer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/internal/transport"
	"github.com/meshmq/meshmq/internal/wire"
)

// withTransportHandler wraps the handler the peer's transport calls.
func withTransportHandler(wrap func(transport.Handler) transport.Handler) Option {
	return func(c *config) error { c.wrapHandler = wrap; return nil }
}

// hookHandler calls its hooks around an inner transport handler.
type hookHandler struct {
	inner    transport.Handler
	beforeUp func(c *transport.Conn)
	afterUp  func(c *transport.Conn)
	packet   func(c *transport.Conn, p wire.Packet)
}

func (h *hookHandler) Up(c *transport.Conn) {
	if h.beforeUp != nil {
		h.beforeUp(c)
	}
	h.inner.Up(c)
	if h.afterUp != nil {
		h.afterUp(c)
	}
}

func (h *hookHandler) Packet(c *transport.Conn, p wire.Packet) {
	if h.packet != nil {
		h.packet(c, p)
	}
	h.inner.Packet(c, p)
}

func (h *hookHandler) Down(c *transport.Conn, err error) { h.inner.Down(c, err) }

// wireLog is a raw client's transport handler: the control packets it
// receives, in order, and how its connection ended.
type wireLog struct {
	mu      sync.Mutex
	packets []wire.Packet
	down    chan error
}

func (w *wireLog) Up(*transport.Conn) {}

func (w *wireLog) Packet(_ *transport.Conn, p wire.Packet) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.packets = append(w.packets, p)
}

func (w *wireLog) Down(_ *transport.Conn, err error) { w.down <- err }

func (w *wireLog) snapshot() []wire.Packet {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]wire.Packet(nil), w.packets...)
}

// A peer that sends DATA and DRAIN back to back (PROTOCOL.md 9) gets, before
// the receiver's DRAIN, an ACK for every entry whose handler ran — the
// receiver waits for the running ones — a NACK for the one whose handler
// failed, and a retryable NACK (shutting down) for every entry it had not
// started; then the connection closes cleanly.
func TestDrainRightAfterDataSettlesFirst(t *testing.T) {
	const n = 10
	drainSeen := make(chan struct{})
	var seenOnce sync.Once
	rx := start(t, append(fastOpts("drain-rx"), withTransportHandler(func(h transport.Handler) transport.Handler {
		return &hookHandler{inner: h, packet: func(c *transport.Conn, p wire.Packet) {
			if _, ok := p.(*wire.Drain); ok {
				seenOnce.Do(func() { close(drainSeen) })
			}
		}}
	}))...)
	var mu sync.Mutex
	handled := map[uint64]int{}
	failed := map[uint64]bool{}
	var started atomic.Int32
	err := rx.Handle("work", func(ctx context.Context, m *channel.Message) error {
		i := binary.BigEndian.Uint64(m.Body)
		if i < 2 {
			// The slow ones: still running when the DRAIN arrives.
			started.Add(1)
			select {
			case <-drainSeen:
			case <-time.After(10 * time.Second):
			}
			time.Sleep(50 * time.Millisecond) // the rest of its work
		}
		if i == 1 {
			mu.Lock()
			failed[i+1] = true
			mu.Unlock()
			return errors.New("failed")
		}
		mu.Lock()
		handled[i+1]++ // by seq
		mu.Unlock()
		return nil
	}, Concurrency(2))
	if err != nil {
		t.Fatal(err)
	}

	log := &wireLog{down: make(chan error, 1)}
	tr, err := transport.Listen(transport.Config{Name: "drain-tx", Listen: "tcp://127.0.0.1:0", Handler: log, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	link, err := tr.Connect(rx.Name(), rx.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	c, err := link.WaitUp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	link.Forget() // no redial once drained
	for i := 0; i < n; i++ {
		m := indexed("work", i, fmt.Sprintf("k%d", i%2)) // the later ones queue behind the slow ones' keys
		m.ID = fmt.Sprintf("m%d", i)
		e := wire.Entry{Stream: 1, Seq: uint64(i + 1), Attempt: 1, Partition: wire.NoPartition, Message: wire.AppendMessage(nil, m)}
		if err := c.Send(ctx, &e); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the slow handlers running", func() bool { return started.Load() == 2 })
	c.Drain()
	select {
	case err := <-log.down:
		if err != nil {
			t.Errorf("connection ended with %v, want a clean drain", err)
		}
	case <-ctx.Done():
		t.Fatal("the connection did not close after the DRAIN")
	}

	acked := map[uint64]bool{}
	nacked := map[uint64]wire.Reason{}
	drained := false
	for _, p := range log.snapshot() {
		switch p := p.(type) {
		case *wire.Ack:
			if drained {
				t.Errorf("ACK after DRAIN: %+v", p)
			}
			for _, sa := range p.Streams {
				for s := uint64(1); s <= n; s++ {
					if s <= sa.Through {
						acked[s] = true
					}
					for _, r := range sa.Ranges {
						if s >= r.From && s <= r.To {
							acked[s] = true
						}
					}
				}
			}
		case *wire.Nack:
			if drained {
				t.Errorf("NACK after DRAIN: %+v", p)
			}
			for _, it := range p.Items {
				nacked[it.Seq] = it.Reason
			}
		case *wire.Drain:
			drained = true
		}
	}
	if !drained {
		t.Fatal("no DRAIN received")
	}
	mu.Lock()
	defer mu.Unlock()
	for s := uint64(1); s <= n; s++ {
		reason, isNacked := nacked[s]
		switch {
		case failed[s]:
			if acked[s] || !isNacked || reason != wire.ReasonHandlerError {
				t.Errorf("seq %d failed: acked %v, NACKed %v with %v; want a NACK for the handler error before the DRAIN", s, acked[s], isNacked, reason)
			}
		case handled[s] > 0 && !acked[s]:
			t.Errorf("seq %d was handled but not acknowledged before the DRAIN (nacked: %v)", s, isNacked)
		case handled[s] == 0 && !isNacked:
			t.Errorf("seq %d was neither handled nor NACKed before the DRAIN (acked: %v)", s, acked[s])
		case handled[s] == 0 && acked[s]:
			t.Errorf("seq %d acknowledged without being handled", s)
		case isNacked && !reason.Retryable():
			t.Errorf("seq %d NACKed with %v, want a retryable reason", s, reason)
		}
	}
	if handled[1] == 0 || !failed[2] {
		t.Errorf("the running handlers did not finish: handled %v, failed %v", handled, failed)
	}
}

// A sender that closes right after Send returns waits for the
// acknowledgements of what its receiver handles: nothing handled is
// dead-lettered.
func TestCloseRightAfterSendDeadLettersNothingHandled(t *testing.T) {
	const n = 50
	got := newCounter()
	rx := start(t, fastOpts("close-rx")...)
	if err := rx.Handle("work", func(ctx context.Context, m *channel.Message) error {
		time.Sleep(2 * time.Millisecond) // some work
		return got.handler(ctx, m)
	}, Concurrency(4)); err != nil {
		t.Fatal(err)
	}
	var dead atomic.Int32
	tx, err := New(context.Background(), append(fastOpts("close-tx"),
		WithDiscovery(discovery.NewStatic(member(rx, "work"))),
		WithDeadLetter(func(DeadLetter) { dead.Add(1) }))...)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := tx.Send(context.Background(), indexed("work", i, fmt.Sprintf("k%d", i%3))); err != nil {
			t.Fatal(err)
		}
	}
	closePeer(t, tx)
	st := tx.Stats()
	if dead.Load() != 0 || st.DeadLettered != 0 || st.Acked != n || st.InFlight != 0 {
		t.Fatalf("after Close: acked %d, dead-lettered %d (%d reported), in flight %d; want %d acked", st.Acked, st.DeadLettered, dead.Load(), st.InFlight, n)
	}
	if dups := got.check(t, n); dups != 0 {
		t.Fatalf("%d duplicates", dups)
	}
}

// The receiver and the sender each take as their connection to the other
// the link's current one, whatever order the transport reports connections
// up in: Up of a connection already replaced, arriving after Up of the one
// that replaced it, must not make the stale one current — acknowledgements
// would then go nowhere (receiver) or messages stay unsent (sender) while
// the live connection stays up and nothing is ever resent.
func TestLateUpOfReplacedConnection(t *testing.T) {
	for _, side := range []string{"receiver", "sender"} {
		t.Run(side, func(t *testing.T) { testLateUp(t, side) })
	}
}

func testLateUp(t *testing.T, side string) {
	const n = 100
	// Names: the sender ("tx") sorts after the receiver ("rx"), so that a
	// connection the receiver dials replaces one the sender dialed.
	var (
		held     = make(chan *transport.Conn, 1) // the first connection, its Up held
		release  = make(chan struct{})
		upsAfter = make(chan *transport.Conn, 4) // Ups that went through
		first    atomic.Bool
	)
	hook := func(h transport.Handler) transport.Handler {
		return &hookHandler{inner: h,
			beforeUp: func(c *transport.Conn) {
				if first.CompareAndSwap(false, true) {
					held <- c
					<-release
				}
			},
			afterUp: func(c *transport.Conn) { upsAfter <- c },
		}
	}
	rxOpts, txOpts := fastOpts("rx"), fastOpts("tx")
	if side == "receiver" {
		rxOpts = append(rxOpts, withTransportHandler(hook))
	} else {
		txOpts = append(txOpts, withTransportHandler(hook))
	}
	got := newCounter()
	rx := start(t, rxOpts...)
	if err := rx.Handle("work", got.handler); err != nil {
		t.Fatal(err)
	}
	tx := start(t, append(txOpts, WithDiscovery(discovery.NewStatic(member(rx, "work"))))...)
	if _, err := tx.dest(rx.Name()); err != nil { // dials rx: connection X
		t.Fatal(err)
	}
	var x *transport.Conn
	select {
	case x = <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("no connection came up")
	}
	// Replace X by Y while X's Up is held, then let X's Up run late.
	if side == "receiver" {
		// The sender gives X up and redials: rx accepts Y and closes X.
		waitFor(t, "X current at the sender", func() bool { return tx.tr.Link(rx.Name()).Conn() != nil })
		tx.tr.Link(rx.Name()).Conn().Close()
	} else {
		// The receiver gives X up and dials the sender, which accepts Y
		// (its name sorts after) and closes X.
		waitFor(t, "X current at the receiver", func() bool {
			l := rx.tr.Link(tx.Name())
			return l != nil && l.Conn() != nil
		})
		rx.tr.Link(tx.Name()).Conn().Close()
		if _, err := rx.tr.Connect(tx.Name(), tx.Endpoint()); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case y := <-upsAfter:
		if y == x {
			t.Fatal("X came up again")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the replacing connection did not come up")
	}
	close(release)
	<-upsAfter // X's late Up has run
	select {
	case <-x.Done(): // and its Down
	case <-time.After(10 * time.Second):
		t.Fatal("the replaced connection did not end")
	}

	for i := 0; i < n; i++ {
		if err := tx.Send(context.Background(), indexed("work", i, "")); err != nil {
			t.Fatal(err)
		}
	}
	waitForState(t, "every message acknowledged", func() bool {
		st := tx.Stats()
		return st.Acked == n && st.InFlight == 0
	}, tx, rx)
	if dups := got.check(t, n); dups != 0 {
		t.Fatalf("%d duplicates", dups)
	}
}
