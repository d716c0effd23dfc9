package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/peer/outbox"
	"github.com/meshmq/meshmq/peer/outbox/outboxtest"
	"github.com/meshmq/meshmq/peer/outbox/sqlite"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestConformance(t *testing.T) {
	outboxtest.Run(t, outboxtest.Harness{
		Database: func(t *testing.T) string { return filepath.Join(t.TempDir(), "outbox.db") },
		Open: func(t *testing.T, path string) (outboxtest.Store, error) {
			return sqlite.Open(t.Context(), path, sqlite.PollInterval(5*time.Millisecond), sqlite.WithLogger(testutil.Logger()))
		},
	})
}

func TestOpenSettings(t *testing.T) {
	for _, tc := range []struct {
		opts []sqlite.Option
		sync int // PRAGMA synchronous: 1 NORMAL, 2 FULL
	}{{nil, 1}, {[]sqlite.Option{sqlite.SynchronousFull()}, 2}} {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "x.db"), tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		// One connection, so the pragmas read are its own.
		conn, err := s.DB().Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var mode string
		var sync, busy int
		for q, dest := range map[string]any{"PRAGMA journal_mode": &mode, "PRAGMA synchronous": &sync, "PRAGMA busy_timeout": &busy} {
			if err := conn.QueryRowContext(t.Context(), q).Scan(dest); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		conn.Close()
		if mode != "wal" || sync != tc.sync || busy != 5000 {
			t.Errorf("journal_mode %s, synchronous %d, busy_timeout %d; want wal, %d, 5000", mode, sync, busy, tc.sync)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOptionsRefused(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		path string
		opt  sqlite.Option
	}{
		{"prefix with a capital", "a.db", sqlite.TablePrefix("Meshmq")},
		{"prefix with a dash", "a.db", sqlite.TablePrefix("mesh-mq")},
		{"empty prefix", "a.db", sqlite.TablePrefix("")},
		{"zero retention", "a.db", sqlite.ProcessedRetention(0)},
		{"negative poll", "a.db", sqlite.PollInterval(-time.Second)},
		{"zero batch", "a.db", sqlite.BatchSize(0)},
		{"nil logger", "a.db", sqlite.WithLogger(nil)},
		{"zero busy timeout", "a.db", sqlite.BusyTimeout(0)},
		{"memory database", ":memory:", nil},
		{"query in the path", "a.db?mode=ro", nil},
	} {
		path := tc.path
		if path != ":memory:" {
			path = filepath.Join(dir, path)
		}
		if s, err := sqlite.Open(t.Context(), path, tc.opt); err == nil {
			s.Close()
			t.Errorf("%s: Open succeeded", tc.name)
		} else if !strings.HasPrefix(err.Error(), "sqlite: ") {
			t.Errorf("%s: error %q lacks the package prefix", tc.name, err)
		}
	}
}

// TestNew: the store shares the application's database, prefixed tables
// and all, and leaves it open.
func TestNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	db, err := sql.Open("sqlite", path+"?_journal_mode=WAL&_busy_timeout=5000&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := sqlite.New(t.Context(), db, sqlite.SynchronousFull()); err == nil {
		t.Fatal("New with SynchronousFull succeeded")
	}
	s, err := sqlite.New(t.Context(), db, sqlite.TablePrefix("app_outbox"))
	if err != nil {
		t.Fatal(err)
	}
	if s.DB() != db {
		t.Fatal("DB() is not the application's db")
	}
	if _, err := db.ExecContext(t.Context(), "CREATE TABLE orders (id TEXT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	// One transaction: the order and its event.
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(t.Context(), "INSERT INTO orders VALUES ('o1')"); err != nil {
		t.Fatal(err)
	}
	ev := &outbox.Record{ID: "e1", Channel: "orders.placed", Message: []byte("o1")}
	if err := s.AppendTx(t.Context(), tx, []*outbox.Record{ev}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM app_outbox_messages WHERE owner IS NULL").Scan(&n); err != nil || n != 1 {
		t.Fatalf("outbox rows: %d, %v; want 1", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.PingContext(t.Context()); err != nil {
		t.Fatalf("the application's db after Close: %v", err)
	}
}

// TestPruner: the background pruner deletes claims past the retention.
func TestPruner(t *testing.T) {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "p.db"), sqlite.ProcessedRetention(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tx, err := s.DB().BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Claim(t.Context(), tx, "c", "m"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the claim pruned", func() bool {
		var n int
		if err := s.DB().QueryRowContext(t.Context(), "SELECT count(*) FROM meshmq_processed").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 0
	})
}

// TestAppendContext: an Append whose ctx has ended is not queued.
func TestAppendContext(t *testing.T) {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r := &outbox.Record{ID: "x"}
	if err := s.Append(ctx, []*outbox.Record{r}); !errors.Is(err, context.Canceled) || r.Seq != 0 {
		t.Fatalf("append with an ended ctx: %v, seq %d; want context.Canceled, 0", err, r.Seq)
	}
}
