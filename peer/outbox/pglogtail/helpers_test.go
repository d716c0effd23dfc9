package pglogtail

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/internal/testutil/pgtest"
	"github.com/meshmq/meshmq/peer/outbox"
	"github.com/meshmq/meshmq/peer/outbox/postgres"
)

// withConfig sets what options do not, for tests.
func withConfig(f func(*config)) Option {
	return func(c *config) error { f(c); return nil }
}

// fast makes standing by and reconnecting quick.
var fast = withConfig(func(c *config) {
	c.standbyRetry = 20 * time.Millisecond
	c.minBackoff = 10 * time.Millisecond
})

// db is a fresh database with the messages table, and a connection to it.
type db struct {
	tb   testing.TB
	dsn  string
	conn *pgx.Conn
	n    int
	slot string // the default slot's name on this database
}

func newDB(tb testing.TB) *db {
	tb.Helper()
	dsn := pgtest.Database(tb)
	d := &db{tb: tb, dsn: dsn}
	d.conn = d.connect()
	// The tables as the postgres store makes them: the tail reads those.
	st, err := postgres.Open(context.Background(), dsn, postgres.TablePrefix(defaultPrefix))
	if err != nil {
		tb.Fatal(err)
	}
	if err := st.Close(); err != nil {
		tb.Fatal(err)
	}
	var name string
	if err := d.conn.QueryRow(context.Background(), "SELECT current_database()").Scan(&name); err != nil {
		tb.Fatal(err)
	}
	d.slot = defaultSlot(defaultPrefix, name)
	return d
}

// connect opens another connection to the database, closed when the test
// ends.
func (d *db) connect() *pgx.Conn {
	d.tb.Helper()
	conn, err := pgx.Connect(context.Background(), d.dsn)
	if err != nil {
		d.tb.Fatal(err)
	}
	d.tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// insert writes an outbox row (owner "") or a peer's own row through q
// (the connection, or a transaction) and returns its seq. Its message
// holds bytes hex and escape formats treat specially.
func (d *db) insert(q querier, owner, id string) uint64 {
	d.tb.Helper()
	return d.insertKey(q, owner, id, "key-"+id)
}

// insertKey is insert with the row's key.
func (d *db) insertKey(q querier, owner, id, key string) uint64 {
	d.tb.Helper()
	if q == nil {
		q = d.conn
	}
	var o *string
	if owner != "" {
		o = &owner
	}
	d.n++
	var seq uint64
	err := q.QueryRow(context.Background(),
		`INSERT INTO meshmq_messages (owner, id, channel, msg_key, dest_peer, dest_group, message, created, attempts)
		 VALUES ($1, $2, 'orders', $3, 'billing-1', '*', $4, $5, $6) RETURNING seq`,
		o, id, key, messageOf(id), time.Now().UnixNano(), d.n%3).Scan(&seq)
	if err != nil {
		d.tb.Fatal(err)
	}
	return seq
}

func messageOf(id string) []byte { return append([]byte{0, '\\', 0xff, 'x'}, id...) }

func (d *db) begin() pgx.Tx {
	d.tb.Helper()
	tx, err := d.conn.Begin(context.Background())
	if err != nil {
		d.tb.Fatal(err)
	}
	return tx
}

func (d *db) exec(sql string, args ...any) {
	d.tb.Helper()
	if _, err := d.conn.Exec(context.Background(), sql, args...); err != nil {
		d.tb.Fatal(err)
	}
}

// open starts a tail on d, closed when the test ends.
func (d *db) open(opts ...Option) *Tail {
	d.tb.Helper()
	opts = append([]Option{WithLogger(testutil.Logger())}, opts...)
	tail, err := New(context.Background(), d.dsn, opts...)
	if err != nil {
		d.tb.Fatal(err)
	}
	d.tb.Cleanup(func() { tail.Close() })
	return tail
}

// next reads n records from tail.
func next(tb testing.TB, tail *Tail, n int) []*outbox.Record {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Deadline)
	defer cancel()
	var got []*outbox.Record
	for len(got) < n {
		recs, err := tail.Next(ctx)
		if err != nil {
			tb.Fatalf("Next after %v: %v", ids(got), err)
		}
		got = append(got, recs...)
	}
	return got
}

// expect reads as many records as want has IDs and checks they are those,
// in that order.
func expect(tb testing.TB, tail *Tail, want ...string) []*outbox.Record {
	tb.Helper()
	got := next(tb, tail, len(want))
	if !slices.Equal(ids(got), want) {
		tb.Fatalf("got %v, want %v", ids(got), want)
	}
	return got
}

// fence commits a row and expects it to be the next record: nothing else
// came before it.
func (d *db) fence(tail *Tail, id string) *outbox.Record {
	d.tb.Helper()
	d.insert(nil, "", id)
	return expect(d.tb, tail, id)[0]
}

func ids(recs []*outbox.Record) []string {
	s := make([]string, len(recs))
	for i, r := range recs {
		s[i] = r.ID
	}
	return s
}

func seqs(recs ...*outbox.Record) []uint64 {
	s := make([]uint64, len(recs))
	for i, r := range recs {
		s[i] = r.Seq
	}
	return s
}

// ack does what the peer does with delivered records: the store deletes
// them, then the relay is told.
func (d *db) ack(tail *Tail, recs ...*outbox.Record) {
	d.tb.Helper()
	d.exec("DELETE FROM meshmq_messages WHERE seq = ANY($1)", seqs(recs...))
	tail.Settled(seqs(recs...))
}

// slotActive reports whether a connection streams the slot.
func (d *db) slotActive(slot string) bool {
	d.tb.Helper()
	var active bool
	err := d.conn.QueryRow(context.Background(), "SELECT active FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&active)
	if err != nil && err != pgx.ErrNoRows {
		d.tb.Fatal(err)
	}
	return active
}

func (t *Tail) waiting() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.ready)
}

// sweepRow reads the slot's pending sweep: its up_to, and whether there is
// one.
func (d *db) sweepRow(slot string) (upTo uint64, ok bool) {
	d.tb.Helper()
	err := d.conn.QueryRow(context.Background(), "SELECT up_to FROM meshmq_outbox_sweeps WHERE slot = $1", slot).Scan(&upTo)
	if err == pgx.ErrNoRows {
		return 0, false
	}
	if err != nil {
		d.tb.Fatal(err)
	}
	return upTo, true
}

// waitSwept waits until the slot's sweep is settled and its row deleted.
func (d *db) waitSwept(slot string) {
	d.tb.Helper()
	testutil.WaitFor(d.tb, "the sweeps row to go", func() bool {
		_, ok := d.sweepRow(slot)
		return !ok
	})
}
