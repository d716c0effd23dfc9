package durabletest

import (
	"context"
	"database/sql"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/internal/testutil/pgtest"
	"github.com/meshmq/meshmq/peer"
	"github.com/meshmq/meshmq/peer/outbox"
)

// sqlStore is what the tests need of a SQL store.
type sqlStore interface {
	outbox.Store
	outbox.Claimer
	outbox.TxAppender
	DB() *sql.DB
}

// storeSpec returns a fresh database of the kind ("sqlite", "postgres") as
// a child's store spec.
func storeSpec(t *testing.T, kind string) string {
	if kind == "sqlite" {
		return "sqlite:" + filepath.Join(t.TempDir(), "meshmq.db")
	}
	return "postgres:" + pgtest.Database(t)
}

func mustOpen(t *testing.T, spec string) sqlStore {
	t.Helper()
	st, err := openStore(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st.(sqlStore)
}

// receiver is the peer "rx" handling "work" as an idempotent consumer: each
// message it handles is a row in its table handled, in handling order.
type receiver struct {
	p       *peer.Peer
	h       channel.Handler
	st      sqlStore
	pg      bool
	handled atomic.Int64 // committed: rows in handled
	runs    atomic.Int64 // handler runs, duplicates skipped by the claim excluded
	refused atomic.Int64 // deliveries the claim refused: handled before
}

func startReceiver(t *testing.T, kind string) *receiver {
	t.Helper()
	spec := storeSpec(t, kind)
	r := &receiver{st: mustOpen(t, spec), pg: kind == "postgres"}
	ddl := "CREATE TABLE handled (n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, k TEXT NOT NULL, idx INTEGER NOT NULL)"
	if r.pg {
		ddl = "CREATE TABLE handled (n BIGSERIAL PRIMARY KEY, id TEXT NOT NULL, k TEXT NOT NULL, idx BIGINT NOT NULL)"
	}
	if _, err := r.st.DB().Exec(ddl); err != nil {
		t.Fatal(err)
	}
	insert := "INSERT INTO handled (id, k, idx) VALUES (?, ?, ?)"
	if r.pg {
		insert = "INSERT INTO handled (id, k, idx) VALUES ($1, $2, $3)"
	}
	h := outbox.Idempotent(r.st.DB(), r.st, "work", func(ctx context.Context, tx *sql.Tx, m *channel.Message) error {
		r.runs.Add(1)
		_, err := tx.ExecContext(ctx, insert, m.ID, m.Key, index(m))
		return err
	})
	counted := func(ctx context.Context, m *channel.Message) error {
		before := r.runs.Load()
		if err := h(ctx, m); err != nil {
			return err
		}
		// Approximate under concurrency; exact counts come from the table.
		if r.runs.Load() != before {
			r.handled.Add(1)
		} else {
			r.refused.Add(1)
		}
		return nil
	}
	r.h = counted
	r.start(t, "tcp://127.0.0.1:0")
	return r
}

func (r *receiver) start(t *testing.T, listen string) {
	t.Helper()
	p, err := peer.New(context.Background(), peer.WithName("rx"), peer.WithListen(listen), peer.WithLogger(testutil.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	if err := p.Handle("work", r.h, peer.Concurrency(4)); err != nil {
		t.Fatal(err)
	}
	r.p = p
}

// crash kills the receiver as a crash would — its dedup window and the
// acknowledgements it did not write are lost — and starts it again on its
// endpoint and database: only the idempotent consumer's claims stop repeats.
func (r *receiver) crash(t *testing.T) {
	t.Helper()
	ep := r.p.Endpoint()
	r.p.Abort()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.p.Close(ctx)
	r.start(t, ep)
}

// count returns how many rows handled holds.
func (r *receiver) count(t *testing.T) int {
	var n int
	if err := r.st.DB().QueryRow("SELECT COUNT(*) FROM handled").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// check asserts that handled holds each expected message exactly once, and
// each key's messages in increasing order.
func (r *receiver) check(t *testing.T, want map[int]bool) {
	t.Helper()
	rows, err := r.st.DB().Query("SELECT id, k, idx FROM handled ORDER BY n")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := make(map[int]int)
	last := make(map[string]int)
	for rows.Next() {
		var id, k string
		var idx int
		if err := rows.Scan(&id, &k, &idx); err != nil {
			t.Fatal(err)
		}
		seen[idx]++
		if !want[idx] {
			t.Errorf("handled %s, which was never committed", id)
		}
		if l, ok := last[k]; ok && idx < l {
			t.Errorf("key %s: %d handled after %d", k, idx, l)
		}
		last[k] = idx
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if seen[i] != 1 {
			t.Errorf("message %d handled %d times", i, seen[i])
		}
	}
	if t.Failed() {
		t.Fatalf("handled %d distinct of %d", len(seen), len(want))
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
