package postgres_test

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/internal/testutil/pgtest"
	"github.com/meshmq/meshmq/peer/outbox"
	"github.com/meshmq/meshmq/peer/outbox/outboxtest"
	"github.com/meshmq/meshmq/peer/outbox/postgres"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func open(t *testing.T, dsn string, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsn, append([]postgres.Option{
		postgres.PollInterval(5 * time.Millisecond), postgres.WithLogger(testutil.Logger())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	outboxtest.Run(t, outboxtest.Harness{
		Database: func(t *testing.T) string { return pgtest.Database(t) },
		Open: func(t *testing.T, dsn string) (outboxtest.Store, error) {
			return postgres.Open(t.Context(), dsn, postgres.PollInterval(5*time.Millisecond), postgres.WithLogger(testutil.Logger()))
		},
		ConcurrentWriters: true,
		RelayPerDatabase:  true,
	})
}

// TestRelayLockLost: the active relay's lock session is killed; another
// process's relay takes over under a new epoch and sends every record not
// acknowledged again, in seq order. The one that lost the role notices at
// its next claim.
func TestRelayLockLost(t *testing.T) {
	dsn := pgtest.Database(t)
	s1, s2 := open(t, dsn), open(t, dsn)
	r1 := s1.Relay()
	o := make([]*outbox.Record, 5)
	for i := range o {
		o[i] = &outbox.Record{ID: string(rune('a' + i)), Channel: "orders", Message: []byte{byte(i)}}
	}
	appendTx(t, s1, o[:3]...)
	got := next(t, r1)
	wantIDs(t, "r1", got, "abc")

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r2 := s2.Relay()
	type result struct {
		recs []*outbox.Record
		err  error
	}
	results := make(chan result, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			rs, err := r2.Next(ctx)
			results <- result{rs, err}
			if err != nil {
				return
			}
		}
	}()
	defer func() { cancel(); <-done }()

	var n int
	if err := s2.DB().QueryRowContext(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("terminating the lock's session: %d, %v; want 1", n, err)
	}
	res := <-results
	if res.err != nil {
		t.Fatalf("r2: %v", res.err)
	}
	wantIDs(t, "r2 taking over", res.recs, "abc")
	appendTx(t, s1, o[3])
	res = <-results
	wantIDs(t, "r2 then", res.recs, "d")

	// r1 learns it lost the role at its next claim, then waits as r2 leads.
	if _, err := r1.Next(t.Context()); err == nil || errors.Is(err, outbox.ErrClosed) {
		t.Fatalf("r1 after losing its lock: %v, want a claim error", err)
	}
	short, scancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer scancel()
	if rs, err := r1.Next(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("r1 while r2 leads: %v %v, want to wait", rs, err)
	}
}

// TestNew: the store on the application's database, in its transactions.
func TestNew(t *testing.T) {
	db, err := sql.Open("pgx", pgtest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := postgres.New(t.Context(), db, postgres.TablePrefix("app_outbox"), postgres.PollInterval(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if s.DB() != db {
		t.Fatal("DB() is not the application's db")
	}
	if _, err := db.ExecContext(t.Context(), "CREATE TABLE orders (id TEXT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	for _, commit := range []bool{false, true} {
		tx, err := db.BeginTx(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(t.Context(), "INSERT INTO orders VALUES ('o1')"); err != nil {
			t.Fatal(err)
		}
		if err := s.AppendTx(t.Context(), tx, []*outbox.Record{{ID: "e1", Channel: "orders.placed", Message: []byte("o1")}}); err != nil {
			t.Fatal(err)
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
	r := s.Relay()
	wantIDs(t, "relayed", next(t, r), "e1")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.PingContext(t.Context()); err != nil {
		t.Fatalf("the application's db after Close: %v", err)
	}
	// Close released the relay lock: a second store's relay leads.
	s2, err := postgres.New(t.Context(), db, postgres.TablePrefix("app_outbox"), postgres.PollInterval(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	wantIDs(t, "relayed again (not acknowledged)", next(t, s2.Relay()), "e1")
}

func TestOptionsRefused(t *testing.T) {
	for name, opt := range map[string]postgres.Option{
		"prefix with a capital": postgres.TablePrefix("Meshmq"),
		"prefix too long":       postgres.TablePrefix(strings.Repeat("m", 49)),
		"zero retention":        postgres.ProcessedRetention(0),
		"zero poll":             postgres.PollInterval(0),
		"negative batch":        postgres.BatchSize(-1),
		"nil logger":            postgres.WithLogger(nil),
	} {
		// Refused before connecting: the DSN is never used.
		if s, err := postgres.Open(t.Context(), "postgres://nowhere.invalid/x", opt); err == nil {
			s.Close()
			t.Errorf("%s: Open succeeded", name)
		} else if !strings.HasPrefix(err.Error(), "postgres: option: ") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func appendTx(t *testing.T, s *postgres.Store, rs ...*outbox.Record) {
	t.Helper()
	tx, err := s.DB().BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AppendTx(t.Context(), tx, rs); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func next(t *testing.T, r outbox.Relay) []*outbox.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testutil.Deadline)
	defer cancel()
	rs, err := r.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func wantIDs(t *testing.T, what string, rs []*outbox.Record, want string) {
	t.Helper()
	var got strings.Builder
	for i, r := range rs {
		got.WriteString(r.ID)
		if i > 0 && r.Seq <= rs[i-1].Seq {
			t.Fatalf("%s: seqs not increasing", what)
		}
	}
	if got.String() != want {
		t.Fatalf("%s: %q, want %q", what, got.String(), want)
	}
}

// TestGroupCommitIsolation: a record PostgreSQL refuses (a NUL in a text
// column) fails its own Append only, not those sharing its transaction.
func TestGroupCommitIsolation(t *testing.T) {
	s := open(t, pgtest.Database(t))
	const n = 64
	errs := make([]error, n)
	recs := make([]*outbox.Record, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		id := fmt.Sprint(i)
		if i == n/2 {
			id = "bad\x00id"
		}
		recs[i] = &outbox.Record{ID: id, Channel: "c", Message: []byte{1}}
		wg.Go(func() {
			<-start
			errs[i] = s.Append(t.Context(), recs[i:i+1])
		})
	}
	close(start)
	wg.Wait()
	var want []*outbox.Record
	for i, err := range errs {
		if (err != nil) != (i == n/2) {
			t.Fatalf("append %d (%q): %v", i, recs[i].ID, err)
		}
		if err == nil {
			want = append(want, recs[i])
		}
	}
	slices.SortFunc(want, func(a, b *outbox.Record) int { return cmp.Compare(a.Seq, b.Seq) })
	var got []*outbox.Record
	if err := s.Pending(t.Context(), func(r *outbox.Record) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("pending: %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Seq != want[i].Seq || got[i].ID != want[i].ID {
			t.Fatalf("pending[%d]: %s seq %d, want %s seq %d", i, got[i].ID, got[i].Seq, want[i].ID, want[i].Seq)
		}
	}
}
