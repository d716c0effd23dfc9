package peer

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/peer/outbox"
	"github.com/meshmq/meshmq/peer/outbox/sqlite"
)

// A sender on a durable store restarts before discovery knows the service
// its kept messages are for, as after a crash under gossip: the restored
// messages must still reach each partition's owner, in order, ahead of the
// same keys' messages sent after the restart. (Chaos suite, issue 14: they
// were parked and routed to any instance, and overtaken by new sends.)
func TestRestoredKeyedMessagesKeepPartitionOrder(t *testing.T) {
	const keys, before, after = 40, 10, 10
	ctx := context.Background()
	openStore := sqliteFile(t)

	// First run: nobody handles "orders" yet; everything is kept.
	tx, err := New(ctx, append(fastOpts("tx"), WithStore(openStore()), WithDiscovery(discovery.NewStatic()))...)
	if err != nil {
		t.Fatal(err)
	}
	for seq := 0; seq < before; seq++ {
		for k := 0; k < keys; k++ {
			if err := tx.Send(ctx, keyed("orders", k, seq)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Close gives up on acknowledgements at once: the store keeps it all.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tx.Close(cancelled)

	log := &keyedLog{seqs: make(map[uint32][]uint32)}
	h := func(ctx context.Context, m *channel.Message) error {
		log.record(m)
		return nil
	}
	var members []discovery.Member
	for _, name := range []string{"c0", "c1", "c2"} {
		c := start(t, fastOpts(name)...)
		if err := c.Handle("orders", h, Partitions(16), Concurrency(4)); err != nil {
			t.Fatal(err)
		}
		members = append(members, c.Advertisement())
	}

	// Second run: it restores before it knows any instance, then learns
	// them one by one while it goes on sending the same keys.
	disc := discovery.NewStatic()
	tx = start(t, append(fastOpts("tx"), WithStore(openStore()), WithDiscovery(disc))...)
	if n := tx.Stats().Restored; n != keys*before {
		t.Fatalf("restored %d, want %d", n, keys*before)
	}
	for seq := before; seq < before+after; seq++ {
		if i := seq - before; i < len(members) {
			disc.Add(members[i])
		}
		for k := 0; k < keys; k++ {
			if err := tx.Send(ctx, keyed("orders", k, seq)); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor(t, "every message acknowledged", func() bool { return tx.Stats().InFlight == 0 })
	if dups := log.check(t, keys, before+after); dups != 0 {
		t.Fatalf("%d duplicates without a kill", dups)
	}
}

// A sender killed while the receiver runs one of its messages restarts and
// sends that message again (from its store) and the next of its key: the
// receiver runs them only after the first run ends, the repeat not at all.
// (They were queued apart, per sender epoch, and ran at once.)
func TestKeyWaitsForTheSendersEarlierIncarnation(t *testing.T) {
	ctx := context.Background()
	gate := make(chan struct{})
	var mu sync.Mutex
	var log []string
	var gated atomic.Bool
	gated.Store(true)
	h := func(ctx context.Context, m *channel.Message) error {
		mu.Lock()
		first := len(log) == 0
		if gated.Load() {
			log = append(log, "gated:"+m.ID)
		}
		mu.Unlock()
		if first {
			<-gate
		}
		mu.Lock()
		log = append(log, m.ID)
		mu.Unlock()
		return nil
	}
	rx := start(t, fastOpts("rx")...)
	if err := rx.Handle("orders", h, Partitions(4), Concurrency(4)); err != nil {
		t.Fatal(err)
	}
	msg := func(id string) *channel.Message {
		return &channel.Message{ID: id, Kind: channel.Command, Channel: "orders", Key: "k"}
	}
	disc := func() Option { return WithDiscovery(discovery.NewStatic(rx.Advertisement())) }
	tx, err := New(ctx, append(fastOpts("tx"), disc())...)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Send(ctx, msg("k-0")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "k-0 running", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(log) == 1
	})
	tx.kill()

	tx = start(t, append(fastOpts("tx"), disc())...)
	for _, id := range []string{"k-0", "k-1"} {
		if err := tx.Send(ctx, msg(id)); err != nil {
			t.Fatal(err)
		}
	}
	svc := rx.service("orders")
	waitFor(t, "the restarted sender's messages queued or run", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(log) > 1 || svc.queued() == 2
	})
	gated.Store(false)
	close(gate)
	waitFor(t, "every message acknowledged", func() bool { return tx.Stats().InFlight == 0 })
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"gated:k-0", "k-0", "k-1"}; !slices.Equal(log, want) {
		t.Fatalf("handled %v, want %v", log, want)
	}
}

// sqliteFile returns a function that opens one SQLite store file, closed
// when the test ends, each time it is called.
func sqliteFile(t *testing.T) func() *sqlite.Store {
	path := filepath.Join(t.TempDir(), "tx.db")
	return func() *sqlite.Store {
		s, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

// queued counts the messages waiting to run.
func (s *service) queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.ready)
	for _, kq := range s.keys {
		n += len(kq.items)
	}
	return n
}

// The same for a partitioned subscriber group: copies a publisher kept
// across a restart wait until the group is known again, then go to their
// partitions' owners, ahead of the copies published after the restart.
func TestRestoredCopiesKeepPartitionOrder(t *testing.T) {
	const keys, before, after = 40, 5, 5
	ctx := context.Background()
	openStore := sqliteFile(t)
	log := &keyedLog{seqs: make(map[uint32][]uint32)}
	var refuse atomic.Bool
	refuse.Store(true)
	h := func(ctx context.Context, m *channel.Message) error {
		if refuse.Load() {
			return errors.New("not yet")
		}
		log.record(m)
		return nil
	}
	var members []discovery.Member
	for _, name := range []string{"c0", "c1", "c2"} {
		c := start(t, fastOpts(name)...)
		if _, err := c.Subscribe("orders.>", h, Group("g"), Partitions(16), Concurrency(4)); err != nil {
			t.Fatal(err)
		}
		members = append(members, c.Advertisement())
	}
	event := func(k, seq int) *channel.Message {
		m := keyed("orders.created", k, seq)
		m.Kind = channel.Event
		return m
	}

	// First run: every copy is refused, then kept at Close.
	tx, err := New(ctx, append(fastOpts("tx"), WithStore(openStore()), WithDiscovery(discovery.NewStatic(members...)))...)
	if err != nil {
		t.Fatal(err)
	}
	waitGroups(t, tx, "orders.created", 1, 3)
	for seq := 0; seq < before; seq++ {
		for k := 0; k < keys; k++ {
			if err := tx.Publish(ctx, event(k, seq)); err != nil {
				t.Fatal(err)
			}
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tx.Close(cancelled)
	refuse.Store(false)

	disc := discovery.NewStatic()
	tx = start(t, append(fastOpts("tx"), WithStore(openStore()), WithDiscovery(disc))...)
	if n := tx.Stats().Restored; n != keys*before {
		t.Fatalf("restored %d, want %d", n, keys*before)
	}
	for seq := before; seq < before+after; seq++ {
		if i := seq - before; i < len(members) {
			disc.Add(members[i])
			waitGroups(t, tx, "orders.created", 1, i+1)
		}
		for k := 0; k < keys; k++ {
			if err := tx.Publish(ctx, event(k, seq)); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor(t, "every copy acknowledged", func() bool { return tx.Stats().InFlight == 0 })
	log.check(t, keys, before+after)
}

// A partition moves to another instance, which handles later messages of
// its keys; then the sender crashes before its store removed what the first
// instance acknowledged. The restart must not send those again, to an
// instance that never saw them, after the later ones: the lane commits the
// acknowledgements before it hands over. (Chaos suite, issue 14: a key
// replayed 3, 4 after 9.)
func TestHandoffCommitsAcknowledgementsFirst(t *testing.T) {
	const keys, per = 8, 10
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tx.db")
	log := &keyedLog{seqs: make(map[uint32][]uint32)}
	h := func(ctx context.Context, m *channel.Message) error {
		log.record(m)
		return nil
	}
	a := start(t, fastOpts("a")...)
	b := start(t, fastOpts("b")...)
	for _, c := range []*Peer{a, b} {
		if err := c.Handle("orders", h, Partitions(4)); err != nil {
			t.Fatal(err)
		}
	}
	disc := discovery.NewStatic(a.Advertisement())
	store := newCrashStore(t, path)
	tx, err := New(ctx, append(fastOpts("tx"), WithStore(store), WithDiscovery(disc))...)
	if err != nil {
		t.Fatal(err)
	}
	send := func(tx *Peer, from, to int) {
		for seq := from; seq < to; seq++ {
			for k := 0; k < keys; k++ {
				if err := tx.Send(ctx, keyed("orders", k, seq)); err != nil {
					t.Fatal(err)
				}
			}
		}
		waitFor(t, "every message acknowledged", func() bool { return tx.Stats().InFlight == 0 })
	}
	send(tx, 0, per/2) // all to a

	// Every partition moves to b, which handles the second half.
	disc.Add(b.Advertisement())
	disc.Remove("a", false)
	send(tx, per/2, per)
	tx.kill() // the acknowledgements the store had not committed are lost

	// The restart resends what its store still holds, which b drops as
	// seen, then goes on with the keys.
	tx = start(t, append(fastOpts("tx"), WithStore(newCrashStore(t, path)), WithDiscovery(discovery.NewStatic(b.Advertisement())))...)
	send(tx, per, per+2)
	if dups := log.check(t, keys, per+2); dups != 0 {
		t.Fatalf("%d duplicates", dups)
	}
}

// crashStore is a SQLite store that commits removals only when the peer
// flushes: closing it loses the acknowledgements queued since, as a crash
// does.
type crashStore struct {
	*sqlite.Store
	mu     sync.Mutex
	queued []outbox.Range
}

func newCrashStore(t *testing.T, path string) *crashStore {
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &crashStore{Store: s}
}

func (s *crashStore) Ack(_ context.Context, ranges []outbox.Range) error {
	s.mu.Lock()
	s.queued = append(s.queued, ranges...)
	s.mu.Unlock()
	return nil
}

func (s *crashStore) Flush(ctx context.Context) error {
	s.mu.Lock()
	q := s.queued
	s.queued = nil
	s.mu.Unlock()
	if err := s.Store.Ack(ctx, q); err != nil {
		return err
	}
	return s.Store.Flush(ctx)
}

func (s *crashStore) Close() error {
	s.mu.Lock()
	s.queued = nil
	s.mu.Unlock()
	return nil // the file stays open, as a killed process leaves it
}
