package durabletest

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/peer"
	"github.com/meshmq/meshmq/peer/outbox"
	"github.com/meshmq/meshmq/peer/outbox/sqlite"
)

func opts(name string, more ...peer.Option) []peer.Option {
	return append([]peer.Option{peer.WithName(name), peer.WithLogger(testutil.Logger()),
		peer.WithHeartbeat(50*time.Millisecond, 500*time.Millisecond),
		peer.WithReconnect(5*time.Millisecond, 50*time.Millisecond)}, more...)
}

func newPeer(t *testing.T, o ...peer.Option) *peer.Peer {
	t.Helper()
	p, err := peer.New(context.Background(), o...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

func openSQLite(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// tally counts what a handler got, by message index, in arrival order.
type tally struct {
	mu    sync.Mutex
	seen  map[int]int
	order map[string][]int
}

func newTally() *tally { return &tally{seen: make(map[int]int), order: make(map[string][]int)} }

func (c *tally) handler(ctx context.Context, m *channel.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := index(m)
	c.seen[i]++
	c.order[m.Key] = append(c.order[m.Key], i)
	return nil
}

func (c *tally) distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// exactly asserts that messages [0, n) each arrived once, each key in order.
func (c *tally) exactly(t *testing.T, n int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range n {
		if c.seen[i] != 1 {
			t.Errorf("message %d arrived %d times", i, c.seen[i])
		}
	}
	if len(c.seen) != n {
		t.Errorf("%d distinct messages, want %d", len(c.seen), n)
	}
	for k, is := range c.order {
		for j := 1; j < len(is); j++ {
			if is[j] < is[j-1] {
				t.Errorf("key %s: %d after %d", k, is[j], is[j-1])
			}
		}
	}
}

// A peer that closes with messages unacknowledged keeps them in its store;
// started again on the store, it sends them.
func TestCloseKeepsRestartSends(t *testing.T) {
	const n = 200
	path := filepath.Join(t.TempDir(), "tx.db")
	rx := newPeer(t, opts("rx")...)
	member := rx.Advertisement()
	member.Services = []string{"work"}
	if err := rx.Close(context.Background()); err != nil { // away while tx sends
		t.Fatal(err)
	}
	tx, err := peer.New(context.Background(), opts("tx", peer.WithStore(openSQLite(t, path)),
		peer.WithDiscovery(discovery.NewStatic(member)))...)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := tx.Send(context.Background(), message(i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := tx.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %v, want the deadline: nobody acknowledges", err)
	}
	if st := tx.Stats(); st.Kept != n || st.DeadLettered != 0 {
		t.Fatalf("kept %d, dead-lettered %d; want %d kept", st.Kept, st.DeadLettered, n)
	}

	got := newTally()
	rx2 := newPeer(t, opts("rx", peer.WithListen(member.Endpoint))...)
	if err := rx2.Handle("work", got.handler); err != nil {
		t.Fatal(err)
	}
	tx2 := newPeer(t, opts("tx", peer.WithStore(openSQLite(t, path)),
		peer.WithDiscovery(discovery.NewStatic(member)))...)
	if r := tx2.Stats().Restored; r != n {
		t.Fatalf("restored %d, want %d", r, n)
	}
	testutil.WaitFor(t, "all delivered", func() bool { return got.distinct() == n && tx2.Stats().InFlight == 0 })
	got.exactly(t, n)
}

// Events written in a transaction reach every subscriber group once if it
// commits, and never if it rolls back; the outbox is empty afterwards.
func TestPublishTx(t *testing.T) {
	ctx := context.Background()
	rx := newPeer(t, opts("rx")...)
	groups := map[string]*tally{"shipping": newTally(), "audit": newTally()}
	for g, c := range groups {
		if _, err := rx.Subscribe("orders.>", c.handler, peer.Group(g)); err != nil {
			t.Fatal(err)
		}
	}
	st := openSQLite(t, filepath.Join(t.TempDir(), "app.db"))
	app := newPeer(t, opts("app", peer.WithStore(st), peer.WithDiscovery(discovery.NewStatic(rx.Advertisement())))...)
	publish := func(from, to int, commit bool) {
		tx, err := st.DB().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := from; i < to; i++ {
			m := message(i)
			m.Channel, m.Kind = "orders.created", channel.Event
			if err := app.PublishTx(ctx, tx, m); err != nil {
				t.Fatal(err)
			}
		}
		if commit {
			err = tx.Commit()
		} else {
			err = tx.Rollback()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	publish(0, 50, true)
	publish(50, 100, false)
	publish(100, 150, true)
	for g, c := range groups {
		testutil.WaitFor(t, g+" has 100 events", func() bool { return c.distinct() >= 100 })
	}
	testutil.WaitFor(t, "the outbox empty", func() bool {
		var n int
		if err := st.DB().QueryRow("SELECT COUNT(*) FROM meshmq_messages").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 0 && app.Stats().InFlight == 0
	})
	for g, c := range groups {
		c.mu.Lock()
		for i := range 150 {
			if want := map[bool]int{true: 0, false: 1}[i >= 50 && i < 100]; c.seen[i] != want {
				t.Errorf("%s: event %d arrived %d times, want %d", g, i, c.seen[i], want)
			}
		}
		c.mu.Unlock()
	}
	if r := app.Stats().Relayed; r != 100 {
		t.Errorf("relayed %d, want 100", r)
	}
}

// A dead letter is kept in the SQL store and can be re-driven: it is then
// delivered once.
func TestRedriveFromStore(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	refuse, handled := true, 0
	rx := newPeer(t, opts("rx")...)
	if err := rx.Handle("work", func(ctx context.Context, m *channel.Message) error {
		mu.Lock()
		defer mu.Unlock()
		if refuse {
			return channel.Permanent(errors.New("not yet"))
		}
		handled++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	st := openSQLite(t, filepath.Join(t.TempDir(), "tx.db"))
	tx := newPeer(t, opts("tx", peer.WithStore(st), peer.WithDiscovery(discovery.NewStatic(rx.Advertisement())))...)
	if err := tx.Send(ctx, message(7)); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "dead-lettered", func() bool { return tx.Stats().DeadLettered == 1 })
	var seqs []uint64
	if err := tx.DeadLetters(ctx, func(dl outbox.DeadLetter) error {
		if dl.ID != message(7).ID || dl.Reason != string(peer.ReasonPermanent) {
			t.Errorf("dead letter %+v", dl)
		}
		seqs = append(seqs, dl.Seq)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(seqs) != 1 {
		t.Fatalf("%d dead letters kept, want 1", len(seqs))
	}
	mu.Lock()
	refuse = false
	mu.Unlock()
	if err := tx.Redrive(ctx, seqs...); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "re-driven and delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return handled == 1 && tx.Stats().InFlight == 0
	})
	n := 0
	tx.DeadLetters(ctx, func(outbox.DeadLetter) error { n++; return nil })
	if n != 0 || handled != 1 {
		t.Fatalf("%d dead letters left, handled %d times", n, handled)
	}
}

// Copies retained for an absent subscriber group survive the publisher's
// restart and reach the group when it comes back.
func TestRetainedCopiesSurviveRestart(t *testing.T) {
	const n = 100
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pub.db")
	sub, err := peer.New(ctx, opts("sub")...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Subscribe("orders.>", newTally().handler, peer.Group("g")); err != nil {
		t.Fatal(err)
	}
	member := sub.Advertisement()
	sub.Abort() // a crash: the group is away, not gone
	sub.Close(ctx)
	pub, err := peer.New(ctx, opts("pub", peer.WithStore(openSQLite(t, path)),
		peer.WithDiscovery(discovery.NewStatic(member)))...)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		m := message(i)
		m.Channel = "orders.created"
		if err := pub.Publish(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	pub.Close(short)
	if k := pub.Stats().Kept; k != n {
		t.Fatalf("kept %d, want %d", k, n)
	}
	got := newTally()
	sub2 := newPeer(t, opts("sub", peer.WithListen(member.Endpoint))...)
	if _, err := sub2.Subscribe("orders.>", got.handler, peer.Group("g")); err != nil {
		t.Fatal(err)
	}
	pub2 := newPeer(t, opts("pub", peer.WithStore(openSQLite(t, path)),
		peer.WithDiscovery(discovery.NewStatic(sub2.Advertisement())))...)
	testutil.WaitFor(t, "the copies delivered", func() bool { return got.distinct() == n && pub2.Stats().InFlight == 0 })
	got.exactly(t, n)
}

// Events relayed from the outbox before any subscriber is known wait for
// one instead of being dropped: a subscriber that appears later gets them.
func TestOutboxEventsWaitForSubscriber(t *testing.T) {
	const n = 50
	ctx := context.Background()
	rx := newPeer(t, opts("rx")...)
	st := openSQLite(t, filepath.Join(t.TempDir(), "app.db"))
	disc := discovery.NewStatic() // nobody subscribes yet
	app := newPeer(t, opts("app", peer.WithStore(st), peer.WithDiscovery(disc))...)
	tx, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		m := message(i)
		m.Channel = "orders.created"
		if err := app.PublishTx(ctx, tx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the events relayed and held", func() bool { return app.Stats().HeldEvents == n })
	got := newTally()
	if _, err := rx.Subscribe("orders.>", got.handler, peer.Group("late")); err != nil {
		t.Fatal(err)
	}
	disc.Add(rx.Advertisement())
	testutil.WaitFor(t, "the held events delivered", func() bool {
		return got.distinct() == n && app.Stats().InFlight == 0 && app.Stats().HeldEvents == 0
	})
	got.exactly(t, n)
	if u := app.Stats().Unheard; u != 0 {
		t.Fatalf("%d unheard", u)
	}
}

// A malformed outbox row (bytes no encoder made) is dead-lettered with its
// reason and kept, not dropped, and the relay goes on with the next rows.
func TestMalformedOutboxRowDeadLettered(t *testing.T) {
	ctx := context.Background()
	got := newTally()
	rx := newPeer(t, opts("rx")...)
	if err := rx.Handle("work", got.handler); err != nil {
		t.Fatal(err)
	}
	st := openSQLite(t, filepath.Join(t.TempDir(), "app.db"))
	var dead []peer.DeadLetter
	var mu sync.Mutex
	app := newPeer(t, opts("app", peer.WithStore(st), peer.WithDiscovery(discovery.NewStatic(rx.Advertisement())),
		peer.WithDeadLetter(func(dl peer.DeadLetter) {
			mu.Lock()
			dead = append(dead, dl)
			mu.Unlock()
		}))...)
	if _, err := st.DB().Exec(`INSERT INTO meshmq_messages (id, channel, message, created) VALUES ('bad', 'work', x'c1ffff', 0)`); err != nil {
		t.Fatal(err)
	}
	tx, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.SendTx(ctx, tx, message(1)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the good row delivered, the bad one dead-lettered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return got.distinct() == 1 && len(dead) == 1 && app.Stats().InFlight == 0
	})
	if dead[0].Reason != peer.ReasonPermanent {
		t.Errorf("dead letter reason %s", dead[0].Reason)
	}
	kept := 0
	if err := app.DeadLetters(ctx, func(dl outbox.DeadLetter) error {
		if string(dl.Message) != "\xc1\xff\xff" {
			t.Errorf("kept %x", dl.Message)
		}
		kept++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if kept != 1 {
		t.Fatalf("%d dead letters kept", kept)
	}
	testutil.WaitFor(t, "the outbox empty", func() bool { // acks are removed within 50 ms
		var rows int
		if err := st.DB().QueryRow("SELECT COUNT(*) FROM meshmq_messages").Scan(&rows); err != nil {
			t.Fatal(err)
		}
		return rows == 0
	})
}

// The send middleware runs when a message is written into the outbox, so
// what it adds (here a trace header) travels with the message from there.
func TestSendTxRunsMiddleware(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var traces []string
	rx := newPeer(t, opts("rx")...)
	if err := rx.Handle("work", func(ctx context.Context, m *channel.Message) error {
		mu.Lock()
		traces = append(traces, m.Headers.Get("traceparent"))
		mu.Unlock()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	trace := func(next peer.SendFunc) peer.SendFunc {
		return func(ctx context.Context, m *channel.Message) error {
			if m.Headers == nil {
				m.Headers = channel.Headers{}
			}
			m.Headers["traceparent"] = "00-" + m.ID
			return next(ctx, m)
		}
	}
	st := openSQLite(t, filepath.Join(t.TempDir(), "app.db"))
	app := newPeer(t, opts("app", peer.WithStore(st), peer.WithSendMiddleware(trace),
		peer.WithDiscovery(discovery.NewStatic(rx.Advertisement())))...)
	tx, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := message(3)
	if err := app.SendTx(ctx, tx, m); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(traces) == 1
	})
	if want := "00-" + m.ID; traces[0] != want {
		t.Fatalf("traceparent %q, want %q", traces[0], want)
	}
}

// SendTx needs a store that keeps an outbox.
func TestSendTxWithoutOutbox(t *testing.T) {
	ctx := context.Background()
	p := newPeer(t, opts("p")...)
	st := openSQLite(t, filepath.Join(t.TempDir(), "app.db"))
	tx, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := p.SendTx(ctx, tx, message(1)); !errors.Is(err, peer.ErrNoOutbox) {
		t.Fatalf("SendTx on the memory store: %v, want ErrNoOutbox", err)
	}
}

// A sender on a SQL store that closes right after Send returns waits for its
// receiver's acknowledgements: nothing its receiver handled is kept for a
// resend at the next start, nothing is dead-lettered.
func TestCloseRightAfterSendKeepsNothingHandled(t *testing.T) {
	const n = 100
	got := newTally()
	rx := newPeer(t, opts("rx")...)
	if err := rx.Handle("work", func(ctx context.Context, m *channel.Message) error {
		time.Sleep(time.Millisecond) // some work
		return got.handler(ctx, m)
	}, peer.Concurrency(4)); err != nil {
		t.Fatal(err)
	}
	member := rx.Advertisement()
	tx, err := peer.New(context.Background(), opts("tx", peer.WithStore(openSQLite(t, filepath.Join(t.TempDir(), "tx.db"))),
		peer.WithDiscovery(discovery.NewStatic(member)))...)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := tx.Send(context.Background(), message(i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := tx.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := tx.Stats(); st.Kept != 0 || st.DeadLettered != 0 || st.Acked != n || st.InFlight != 0 {
		t.Fatalf("after Close: kept %d, dead-lettered %d, acked %d, in flight %d; want %d acked, nothing kept", st.Kept, st.DeadLettered, st.Acked, st.InFlight, n)
	}
	got.exactly(t, n)
}
