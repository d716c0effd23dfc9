package peer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/internal/partition"
)

// keyedLog records, per key, the sequence numbers handled, in the order
// they were handled across all consumers.
type keyedLog struct {
	mu      sync.Mutex
	seqs    map[uint32][]uint32
	handled int
}

func (l *keyedLog) record(m *channel.Message) {
	key, seq := binary.BigEndian.Uint32(m.Body), binary.BigEndian.Uint32(m.Body[4:])
	l.mu.Lock()
	l.seqs[key] = append(l.seqs[key], seq)
	l.handled++
	l.mu.Unlock()
}

// check asserts every key's messages 0..per-1 were handled, never with a
// gap: each handled seq is at most one past the one handled before it, so a
// message handled again after a failure comes before every later message of
// its key. It returns the number of handlings beyond the first.
func (l *keyedLog) check(t *testing.T, keys, per int) (dups int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := 0; k < keys; k++ {
		seqs := l.seqs[uint32(k)]
		seen := make([]bool, per)
		for i, s := range seqs {
			if i == 0 && s != 0 || i > 0 && s > seqs[i-1]+1 {
				t.Fatalf("key %d: %d handled after %d (%v)", k, s, seqs[max(i-1, 0)], seqs[max(0, i-6):i+1])
			}
			if int(s) >= per {
				t.Fatalf("key %d: unknown seq %d", k, s)
			}
			if seen[s] {
				dups++
			}
			seen[s] = true
		}
		for s, ok := range seen {
			if !ok {
				t.Fatalf("key %d: seq %d never handled", k, s)
			}
		}
	}
	return dups
}

func keyed(service string, key, seq int) *channel.Message {
	b := binary.BigEndian.AppendUint32(nil, uint32(key))
	b = binary.BigEndian.AppendUint32(b, uint32(seq))
	return &channel.Message{Kind: channel.Command, Channel: service, Key: fmt.Sprint("k", key), Body: b}
}

// consumer is one instance of a partitioned service that the test kills
// and restarts.
type consumer struct {
	name string
	p    *Peer
	dead *atomic.Bool // set before a kill: the process is gone, it handles nothing more
}

// Three consumers of a partitioned service, 10,000 keys, 100,000 messages
// with per-key sequence numbers; consumers are killed and restarted at
// seeded random moments. No message is lost, no key is ever handled out of
// order (a message handled again after a kill comes before every later
// message of its key), and duplicates, counted, come only from handlers that
// ran before their acknowledgement left.
func TestPartitionedOrderAcrossKills(t *testing.T) { partitionedKills(t, false) }

// The same for a partitioned subscriber group of three members.
func TestPartitionedGroupOrderAcrossKills(t *testing.T) { partitionedKills(t, true) }

func partitionedKills(t *testing.T, group bool) {
	const keys, per = 10_000, 10
	// MESHMQ_SEED=n replays a failed run's moments.
	seed := time.Now().UnixNano()
	if s, err := strconv.ParseInt(os.Getenv("MESHMQ_SEED"), 10, 64); err == nil {
		seed = s
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("seed %d", seed)
	defer func() {
		if t.Failed() {
			t.Logf("failed with seed %d", seed)
		}
	}()
	cl := newCluster(t)
	tx := cl.peer("tx")
	log := &keyedLog{seqs: make(map[uint32][]uint32)}
	start := func(name string) consumer {
		c := consumer{name: name, dead: new(atomic.Bool)}
		c.p = cl.unmanaged(name)
		dead := c.dead
		h := func(ctx context.Context, m *channel.Message) error {
			if dead.Load() {
				return errors.New("killed")
			}
			log.record(m)
			return nil
		}
		var err error
		if group {
			// Bounds above the sender's retry buffer: a kill holds a third
			// of the copies back, which must wait, not overflow.
			_, err = c.p.Subscribe("orders.>", h, Group("g"), Partitions(64), Concurrency(4),
				Retain(DefaultRetainAge, 1<<20, 1<<30))
		} else {
			err = c.p.Handle("orders", h, Partitions(64), Concurrency(4))
		}
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	consumers := []consumer{start("c0"), start("c1"), start("c2")}
	t.Cleanup(func() {
		for _, c := range consumers {
			closePeer(t, c.p)
		}
	})
	waitFor(t, "three consumers in view", func() bool {
		n := 0
		for _, m := range tx.Members() {
			if m.Handles("orders") && m.Partitions["orders"] == 64 ||
				len(m.Subscriptions) == 1 && m.Subscriptions[0].Partitions == 64 {
				n++
			}
		}
		return n == 3
	})
	if group {
		waitGroups(t, tx, "orders.created", 1, 3)
	}
	total := keys * per
	// Three kills at random moments, each restarted at a later one.
	type event struct {
		at      int
		restart bool
		who     int
	}
	var events []event
	for i := 0; i < 3; i++ {
		at := total/10 + rng.IntN(total*7/10)
		events = append(events, event{at: at, who: i}, event{at: at + rng.IntN(total/10), restart: true, who: i})
	}
	kills, restarts := 0, 0
	for i := 0; i < total; i++ {
		for _, e := range events {
			if e.at != i {
				continue
			}
			c := &consumers[e.who]
			if e.restart {
				// After the failure is detected: its partitions moved to
				// the others, and move back now.
				waitFor(t, c.name+" dropped from the view", func() bool {
					for _, m := range tx.Members() {
						if m.Name == c.name {
							return false
						}
					}
					return true
				})
				*c = start(c.name)
				restarts++
			} else {
				c.dead.Store(true)
				c.p.kill()
				kills++
			}
		}
		// 100 keys at a time, each getting its messages within 1,000
		// sends: a key's messages are in flight together.
		key, seq := (i/(100*per))*100+i%100, (i/100)%per
		var err error
		if group {
			msg := keyed("orders.created", key, seq)
			msg.Kind = channel.Event
			err = tx.Publish(context.Background(), msg)
		} else {
			err = tx.Send(context.Background(), keyed("orders", key, seq))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	waitForState(t, "every message handled", func() bool {
		log.mu.Lock()
		defer log.mu.Unlock()
		return log.handled >= total && tx.Stats().InFlight == 0
	}, tx)
	dups := log.check(t, keys, per)
	t.Logf("%d kills, %d restarts; handled again after a kill: %d; failed over: %d", kills, restarts, dups, tx.Stats().FailedOver)
}

// With a static member list too, keyed messages to a partitioned service
// reach their partition's owner, each key in order; two owners share the
// partitions; a receiver handles one partition at a time.
func TestPartitionedStaticDiscovery(t *testing.T) {
	log := &keyedLog{seqs: make(map[uint32][]uint32)}
	var per [2]atomic.Int64
	var running [16]atomic.Int32
	var overlap atomic.Bool
	var rxs []*Peer
	for i := range per {
		rx := start(t, fastOpts(fmt.Sprint("rx", i))...)
		n := &per[i]
		if err := rx.Handle("orders", func(ctx context.Context, m *channel.Message) error {
			r := &running[partition.Of(m.Key, 16)]
			if r.Add(1) > 1 {
				overlap.Store(true)
			}
			defer r.Add(-1)
			log.record(m)
			n.Add(1)
			return nil
		}, Partitions(16), Concurrency(4)); err != nil {
			t.Fatal(err)
		}
		rxs = append(rxs, rx)
	}
	tx := start(t, append(fastOpts("tx"), WithDiscovery(discovery.NewStatic(rxs[0].Advertisement(), rxs[1].Advertisement())))...)
	const keys, seqs = 50, 40
	for s := 0; s < seqs; s++ {
		for k := 0; k < keys; k++ {
			if err := tx.Send(context.Background(), keyed("orders", k, s)); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitForState(t, "all handled", func() bool { return tx.Stats().InFlight == 0 && per[0].Load()+per[1].Load() == keys*seqs }, tx)
	if dups := log.check(t, keys, seqs); dups != 0 {
		t.Fatalf("%d handled twice", dups)
	}
	if per[0].Load() == 0 || per[1].Load() == 0 {
		t.Fatalf("partitions not shared: %d and %d", per[0].Load(), per[1].Load())
	}
	if overlap.Load() {
		t.Fatal("two messages of one partition handled at once")
	}
}

// A key's messages are acknowledged in the order they were handled: when a
// message of a key runs, the one handled before it is already recorded as
// settled, so no later acknowledgement can leave without it. (Before, the
// next message could run, and be acknowledged, before the previous one was
// recorded; a kill in between made the sender hand the earlier message to
// another instance after the later ones had been handled.)
func TestKeyAcknowledgedInHandlingOrder(t *testing.T) {
	const keys, per = 8, 500
	var rx *Peer
	var mu sync.Mutex
	last := make(map[string]string) // key → ID of the message handled last
	var bad atomic.Value
	var handled atomic.Int64
	rx = start(t, fastOpts("rx")...)
	if err := rx.Handle("orders", func(ctx context.Context, m *channel.Message) error {
		mu.Lock()
		prev := last[m.Key]
		last[m.Key] = m.ID
		mu.Unlock()
		if prev != "" && !rx.dedup.Seen("", prev) {
			bad.CompareAndSwap(nil, fmt.Sprintf("%s ran before %s was settled", m.ID, prev))
		}
		handled.Add(1)
		return nil
	}, Concurrency(4)); err != nil {
		t.Fatal(err)
	}
	tx := start(t, append(fastOpts("tx"), WithDiscovery(discovery.NewStatic(member(rx, "orders"))))...)
	for s := 0; s < per; s++ {
		for k := 0; k < keys; k++ {
			m := keyed("orders", k, s)
			m.ID = fmt.Sprintf("k%d-%d", k, s)
			if err := tx.Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitForState(t, "all handled", func() bool { return handled.Load() == keys*per && tx.Stats().InFlight == 0 }, tx)
	if v := bad.Load(); v != nil {
		t.Fatal(v)
	}
}
