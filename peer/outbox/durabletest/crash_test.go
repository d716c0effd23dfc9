package durabletest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/internal/testutil/pgtest"
	"github.com/meshmq/meshmq/peer"
)

// A sender killed with SIGKILL mid-stream and restarted resends what its
// store kept: with an idempotent consumer every message is handled once,
// each key in order.
func TestSenderKilled(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			const n = 2000
			rx := startReceiver(t, kind)
			spec := storeSpec(t, kind)
			env := []string{envRole + "=sender", envStore + "=" + spec, envRX + "=" + rx.p.Endpoint()}
			c := startChild(t, append(env, envRange+"=0,"+itoa(n))...)
			testutil.WaitFor(t, "a third handled", func() bool { return rx.handled.Load() >= n/3 })
			c.kill()
			last := -1
			if v, ok := c.said("sent "); ok {
				last, _ = strconv.Atoi(v)
			}
			if last >= n-1 {
				t.Fatalf("the sender sent everything before it was killed (%d): nothing to test", last)
			}
			// Restarted, it resends what is in its store and sends the rest;
			// what it may have committed unreported goes twice, same ID.
			c2 := startChild(t, append(env, envRange+"="+itoa(last+1)+","+itoa(n))...)
			// The receiver crashes too, mid-stream: what it handled and had
			// not acknowledged comes again, and its claims must refuse it.
			testutil.WaitFor(t, "two thirds handled", func() bool { return rx.handled.Load() >= 2*n/3 })
			rx.crash(t)
			testutil.WaitFor(t, "the restarted sender done", func() bool { _, ok := c2.said("done"); return ok })
			restored, _ := c2.said("restored ")
			testutil.WaitFor(t, "every message handled", func() bool { return rx.count(t) >= n })
			c2.stop(t)
			want := make(map[int]bool, n)
			for i := range n {
				want[i] = true
			}
			rx.check(t, want)
			t.Logf("killed after sent %d; restored %s; handler runs %d for %d messages; repeats refused by the claims: %d",
				last, restored, rx.runs.Load(), n, rx.refused.Load())
		})
	}
}

// writeOutbox writes messages [from, to) into the outbox of st in
// transactions of five, rolling every fourth transaction back, and returns
// the messages committed.
func writeOutbox(t *testing.T, app *peer.Peer, st sqlStore, from, to int, committed map[int]bool) {
	t.Helper()
	ctx := context.Background()
	for tn, i := 0, from; i < to; tn++ {
		tx, err := st.DB().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var batch []int
		for ; i < to && len(batch) < 5; i++ {
			if err := app.SendTx(ctx, tx, message(i)); err != nil {
				t.Fatal(err)
			}
			batch = append(batch, i)
		}
		if tn%4 == 3 {
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		for _, j := range batch {
			committed[j] = true
		}
	}
}

// startApp is the application writing to the outbox: its peer relays
// nothing itself.
func startApp(t *testing.T, st sqlStore) *peer.Peer {
	t.Helper()
	app, err := peer.New(context.Background(), peer.WithName("app"), peer.WithStore(st), peer.WithoutRelay(),
		peer.WithLogger(testutil.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close(context.Background()) })
	return app
}

// A relay killed with SIGKILL while it relays the outbox, and restarted,
// loses nothing and — with an idempotent consumer — repeats nothing a
// handler sees; rolled-back transactions publish nothing.
func TestRelayKilled(t *testing.T) {
	for _, tc := range []struct{ name, kind, relay string }{
		{"sqlite-poll", "sqlite", "poll"},
		{"postgres-poll", "postgres", "poll"},
		{"postgres-logtail", "postgres", "logtail"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 2000
			rx := startReceiver(t, tc.kind)
			spec := storeSpec(t, tc.kind)
			st := mustOpen(t, spec)
			app := startApp(t, st)
			env := []string{envRole + "=relay", envStore + "=" + spec, envRelay + "=" + tc.relay, envRX + "=" + rx.p.Endpoint()}
			c := startChild(t, env...)
			committed := make(map[int]bool)
			writeOutbox(t, app, st, 0, n/2, committed)
			testutil.WaitFor(t, "some handled", func() bool { return rx.handled.Load() >= int64(len(committed)/3) })
			c.kill()
			rx.crash(t)
			writeOutbox(t, app, st, n/2, 3*n/4, committed) // while no relay runs
			c2 := startChild(t, env...)
			writeOutbox(t, app, st, 3*n/4, n, committed)
			testutil.WaitFor(t, "every committed message handled", func() bool { return rx.count(t) >= len(committed) })
			c2.stop(t)
			rx.check(t, committed)
			t.Logf("%d committed of %d written; handler runs %d; repeats refused by the claims: %d",
				len(committed), n, rx.runs.Load(), rx.refused.Load())
		})
	}
}

// Two peers relaying one PostgreSQL outbox deliver each row once, each key
// in order: one relay is active at a time.
func TestTwoPollingRelays(t *testing.T) {
	const n = 3000
	ctx := context.Background()
	dsn := pgtest.Database(t)
	got := make(chan *channel.Message, 2*n)
	rx, err := peer.New(ctx, peer.WithName("rx"), peer.WithLogger(testutil.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rx.Close(ctx) })
	if err := rx.Handle("work", func(ctx context.Context, m *channel.Message) error {
		got <- m
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var relays []*peer.Peer
	for _, name := range []string{"relay-a", "relay-b"} {
		st := mustOpen(t, "postgres:"+dsn)
		p, err := peer.New(ctx, peer.WithName(name), peer.WithStore(st), peer.WithLogger(testutil.Logger()),
			peer.WithDiscovery(discovery.NewStatic(rx.Advertisement())))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close(ctx) })
		relays = append(relays, p)
	}
	st := mustOpen(t, "postgres:"+dsn)
	app := startApp(t, st)
	committed := make(map[int]bool)
	writeOutbox(t, app, st, 0, n, committed)
	seen := make(map[int]int)
	last := make(map[string]int)
	deadline := time.After(testutil.Deadline)
	record := func(m *channel.Message) {
		i := index(m)
		seen[i]++
		if l, ok := last[m.Key]; ok && i < l {
			t.Errorf("key %s: %d after %d", m.Key, i, l)
		}
		last[m.Key] = i
	}
	for len(seen) < len(committed) {
		select {
		case m := <-got:
			record(m)
		case <-deadline:
			t.Fatalf("%d of %d delivered", len(seen), len(committed))
		}
	}
	testutil.WaitFor(t, "the relays idle", func() bool {
		return relays[0].Stats().InFlight == 0 && relays[1].Stats().InFlight == 0
	})
	for len(got) > 0 {
		record(<-got)
	}
	for i := range committed {
		if seen[i] != 1 {
			t.Errorf("message %d delivered %d times", i, seen[i])
		}
	}
	a, b := relays[0].Stats().Relayed, relays[1].Stats().Relayed
	if int(a+b) != len(committed) {
		t.Errorf("relayed %d + %d, want %d", a, b, len(committed))
	}
	t.Logf("relayed by a: %d, by b: %d", a, b)
}
