package pglogtail

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/peer/outbox"
)

// Committed outbox rows come out once each, transactions in commit order
// whatever their seqs; rolled-back transactions and peers' own rows never.
func TestCommitOrder(t *testing.T) {
	d := newDB(t)
	tail := d.open()
	ctx := context.Background()

	a := d.begin()
	a1 := d.insert(a, "", "a1")
	d.insert(a, "", "a2")
	b, err := d.connect().Begin(ctx) // another connection: a is still open
	if err != nil {
		t.Fatal(err)
	}
	b1 := d.insert(b, "", "b1") // a higher seq than a1, committed first
	if err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	d.insert(a, "", "a3")
	if err := a.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if b1 < a1 {
		t.Fatalf("seqs: b1 %d < a1 %d", b1, a1)
	}

	r := d.begin()
	d.insert(r, "", "rolled-back")
	if err := r.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	d.insert(nil, "peer-1", "owned") // a peer's retry buffer
	c := d.begin()
	d.insert(c, "", "c1")
	d.insert(c, "peer-1", "c-owned")
	d.insert(c, "", "c2")
	if err := c.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	got := expect(t, tail, "b1", "a1", "a2", "a3", "c1", "c2")
	d.fence(tail, "fence")

	// Every field, for one record.
	var created int64
	var attempts int
	if err := d.conn.QueryRow(ctx, "SELECT created, attempts FROM meshmq_messages WHERE id = 'b1'").Scan(&created, &attempts); err != nil {
		t.Fatal(err)
	}
	want := &outbox.Record{
		Seq: b1, ID: "b1", Channel: "orders", Key: "key-b1",
		Dest:    outbox.Destination{Peer: "billing-1", Group: outbox.AllGroups},
		Message: messageOf("b1"), Created: time.Unix(0, created), Attempts: attempts,
	}
	if g := got[0]; g.Seq != want.Seq || g.ID != want.ID || g.Channel != want.Channel || g.Key != want.Key ||
		g.Dest != want.Dest || !slices.Equal(g.Message, want.Message) || !g.Created.Equal(want.Created) || g.Attempts != want.Attempts {
		t.Fatalf("got %+v\nwant %+v", g, want)
	}
}

// After a restart, the slot resumes from the confirmed position: every row
// of the first transaction not wholly settled comes again, and every row
// after it; nothing before it does.
func TestRestartResumesUnsettled(t *testing.T) {
	d := newDB(t)
	tail := d.open()
	ctx := context.Background()
	tx := func(ids ...string) {
		x := d.begin()
		for _, id := range ids {
			d.insert(x, "", id)
		}
		if err := x.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	tx("a", "b")
	tx("c")
	tx("d", "e")
	tx("f")
	got := expect(t, tail, "a", "b", "c", "d", "e", "f")
	d.ack(tail, got[:4]...) // a, b, c, and d of d+e
	if err := tail.Close(); err != nil {
		t.Fatal(err)
	}

	// The confirmed position is the end of c's transaction: d comes again
	// with e, though settled, and f, which follows.
	tail = d.open()
	got = expect(t, tail, "d", "e", "f")
	tx("g")
	expect(t, tail, "g")
	d.fence(tail, "fence")

	// A reconnect within one tail repeats nothing, settled or not.
	d.ack(tail, got[0])
	var pid int
	if err := d.conn.QueryRow(ctx, "SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", d.slot).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	d.exec("SELECT pg_terminate_backend($1)", pid)
	tx("h")
	expect(t, tail, "h")
	d.fence(tail, "fence-2")
}

// Rows committed before the slot existed are swept when it is created, and
// come before the streamed ones.
func TestSweepBeforeSlot(t *testing.T) {
	d := newDB(t)
	d.insert(nil, "", "p1")
	d.insert(nil, "peer-1", "owned")
	d.insert(nil, "", "p2")
	tail := d.open()
	d.insert(nil, "", "s1")
	expect(t, tail, "p1", "p2", "s1")
	d.fence(tail, "fence")
}

// A tail dying before its sweep is settled loses nothing: the slot's
// sweeps row stays, and the next tail sweeps the rows left again, before
// anything it streams. The sweep does not hold the slot's position.
func TestSweepAgainAfterCrash(t *testing.T) {
	d := newDB(t)
	d.insert(nil, "", "p1")
	d.insert(nil, "", "p2")
	p3 := d.insert(nil, "", "p3")
	tail := d.open()
	if upTo, ok := d.sweepRow(d.slot); !ok || upTo != p3 {
		t.Fatalf("sweeps row: %d, %v; want %d", upTo, ok, p3)
	}
	d.insert(nil, "", "s1")
	got := expect(t, tail, "p1", "p2", "p3", "s1")
	d.ack(tail, got[0], got[3]) // p1 and s1; p2 and p3 stay
	tail.Close()

	// s1, settled, does not come again.
	tail = d.open()
	got = expect(t, tail, "p2", "p3")
	d.ack(tail, got...)
	d.waitSwept(d.slot)
	d.ack(tail, d.fence(tail, "fence"))
	tail.Close()

	// All settled: nothing comes again.
	tail = d.open()
	d.fence(tail, "fence-2")
}

// The regression: rows committed after the slot's consistent point, but
// before the tail creating it read the rows before it, came out of a next
// tail, after a crash, ahead of the rows before the slot it swept again:
// later rows of a key before earlier ones. Every tail now sweeps first.
func TestSweepFirstAfterCrash(t *testing.T) {
	d := newDB(t)
	keys := []string{"k0", "k1", "k2"}
	var pre []string
	var upTo uint64
	for i := range 12 {
		id := fmt.Sprintf("pre-%02d", i)
		pre = append(pre, id)
		upTo = d.insertKey(nil, "", id, keys[i%len(keys)])
	}
	var later []string
	commit := func(prefix string, n int) {
		for i := range n {
			id := fmt.Sprintf("%s-%02d", prefix, i)
			later = append(later, id)
			d.insertKey(nil, "", id, keys[i%len(keys)])
		}
	}
	// Between the slot's creation and its snapshot's read: streamed, not
	// swept.
	first := d.open(withConfig(func(c *config) { c.afterSlot = func() { commit("mid", 6) } }))
	commit("post", 6)
	if got, ok := d.sweepRow(d.slot); !ok || got != upTo {
		t.Fatalf("sweeps row: %d, %v; want %d", got, ok, upTo)
	}
	expect(t, first, append(slices.Clone(pre), later...)...)
	first.Close() // nothing settled: a crash before the sweep settled

	tail := d.open()
	all := append(slices.Clone(pre), later...)
	got := expect(t, tail, all...)
	last := map[string]uint64{}
	for i, r := range got {
		if (i < len(pre)) != (r.Seq <= upTo) {
			t.Fatalf("record %d: %s, seq %d, upTo %d: the rows before the slot do not come first", i, r.ID, r.Seq, upTo)
		}
		if r.Seq <= last[r.Key] {
			t.Fatalf("key %s: seq %d after %d", r.Key, r.Seq, last[r.Key])
		}
		last[r.Key] = r.Seq
	}
	d.ack(tail, got...)
	d.waitSwept(d.slot)
	d.fence(tail, "fence")
}

// A crash after the slot was created but before the rows before it were
// known leaves its sweeps row saying "every row": the next tail sweeps
// every outbox row in the table, repeating some, losing none.
func TestSweepEverythingAfterEarlyCrash(t *testing.T) {
	d := newDB(t)
	// The publication and the sweeps table, as a tail on another slot
	// leaves them.
	other := d.open(Slot("other"))
	other.Close()
	if err := DropSlot(context.Background(), d.dsn, "other"); err != nil {
		t.Fatal(err)
	}
	d.insert(nil, "", "p1")
	d.insert(nil, "", "p2")
	// What a tail creating the slot does, then dies.
	d.exec("INSERT INTO meshmq_outbox_sweeps (slot, up_to) VALUES ($1, 9223372036854775807)", d.slot)
	d.exec("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", d.slot)
	d.insert(nil, "", "s1")

	tail := d.open()
	got := expect(t, tail, "p1", "p2", "s1", "s1") // s1 swept, then streamed
	d.ack(tail, got...)
	d.waitSwept(d.slot)
	d.fence(tail, "fence")
}

// Two tails on one slot: one streams, the other stands by and takes over,
// from the confirmed position, when the first closes.
func TestStandbyTakesOver(t *testing.T) {
	d := newDB(t)
	active := d.open(fast)
	testutil.WaitFor(t, "the first tail to stream", func() bool { return d.slotActive(d.slot) })
	standby := d.open(fast)
	testutil.WaitFor(t, "the second tail to stand by", func() bool { return standby.standbys.Load() >= 2 })

	d.insert(nil, "", "r1")
	d.insert(nil, "", "r2")
	d.insert(nil, "", "r3")
	got := expect(t, active, "r1", "r2", "r3")
	d.ack(active, got[0])
	d.fence(active, "fence")
	if n := standby.waiting(); n != 0 {
		t.Fatalf("the standby has %d records", n)
	}
	tried := standby.standbys.Load()
	testutil.WaitFor(t, "the standby to keep trying", func() bool { return standby.standbys.Load() > tried })

	active.Close()
	expect(t, standby, "r2", "r3", "fence")
	d.fence(standby, "fence-2")
}

// The tail reads at most bufferLimit records ahead of Next, also within a
// transaction, and a reconnect in the middle of one takes up where it
// stopped.
func TestBoundedReadAhead(t *testing.T) {
	d := newDB(t)
	tail := d.open(fast, withConfig(func(c *config) { c.bufferLimit = 5 }))
	x := d.begin()
	var want []string
	for i := range 40 {
		id := string(rune('A'+i/26)) + string(rune('a'+i%26))
		want = append(want, id)
		d.insert(x, "", id)
	}
	if err := x.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the tail to fill its buffer", func() bool { return tail.waiting() == 5 })

	ctx, cancel := context.WithTimeout(context.Background(), testutil.Deadline)
	defer cancel()
	var got []*outbox.Record
	for len(got) < len(want) {
		recs, err := tail.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) > 5 {
			t.Fatalf("a batch of %d records, over the bound", len(recs))
		}
		got = append(got, recs...)
		if len(got) == 10 {
			// Cut the connection mid-transaction.
			d.exec("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1", d.slot)
		}
	}
	if !slices.Equal(ids(got), want) {
		t.Fatalf("got %v\nwant %v", ids(got), want)
	}
	d.fence(tail, "fence")
}

func TestNextEnds(t *testing.T) {
	d := newDB(t)
	tail := d.open()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tail.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next with a canceled context: %v", err)
	}
	done := make(chan error)
	go func() {
		_, err := tail.Next(context.Background())
		done <- err
	}()
	if err := tail.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, outbox.ErrClosed) {
		t.Fatalf("Next waiting at Close: %v", err)
	}
	if _, err := tail.Next(context.Background()); !errors.Is(err, outbox.ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
	if err := tail.Close(); err != nil {
		t.Fatal(err)
	}
	tail.Settled([]uint64{1}) // ignored
}

func TestDropSlot(t *testing.T) {
	d := newDB(t)
	tail := d.open(Slot("s1"), TablePrefix("meshmq"))
	testutil.WaitFor(t, "the tail to stream", func() bool { return d.slotActive("s1") })
	d.exec("INSERT INTO meshmq_outbox_sweeps (slot, up_to) VALUES ('s1', 5)")
	if err := DropSlot(context.Background(), d.dsn, "s1"); err == nil {
		t.Fatal("dropped an active slot")
	}
	if _, ok := d.sweepRow("s1"); !ok {
		t.Fatal("the sweeps row of a slot not dropped went")
	}
	d.exec("DELETE FROM meshmq_outbox_sweeps WHERE slot = 's1'")
	tail.Close()
	d.exec("INSERT INTO meshmq_outbox_sweeps (slot, up_to) VALUES ('s1', 5)")
	for range 2 {
		if err := DropSlot(context.Background(), d.dsn, "s1"); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := d.sweepRow("s1"); ok {
		t.Fatal("the slot's sweeps row outlived it")
	}
	var n int
	if err := d.conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 's1'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d slots left (%v)", n, err)
	}
}

func TestNewErrors(t *testing.T) {
	for _, o := range []Option{TablePrefix("Bad-Prefix"), Slot("no-dashes"), Publication(""), StatusInterval(0), WithLogger(nil)} {
		if _, err := New(context.Background(), "postgres://unused", o); err == nil {
			t.Errorf("an invalid option was accepted")
		}
	}
	d := newDB(t)
	if _, err := New(context.Background(), d.dsn, TablePrefix("missing")); err == nil {
		t.Fatal("New without the table")
	}
}

// With nothing outstanding, the slot follows the WAL past transactions the
// publication filters out (peers' own rows); an unsettled row holds it.
func TestIdleAdvancesSlot(t *testing.T) {
	d := newDB(t)
	tail := d.open(StatusInterval(20 * time.Millisecond))
	testutil.WaitFor(t, "the tail to stream", func() bool { return d.slotActive(d.slot) })
	ctx := context.Background()
	lsn := func(sql string) (l uint64) {
		t.Helper()
		var s string
		if err := d.conn.QueryRow(ctx, sql).Scan(&s); err != nil {
			t.Fatal(err)
		}
		p, err := pglogrepl.ParseLSN(s)
		if err != nil {
			t.Fatal(err)
		}
		return uint64(p)
	}
	confirmedSQL := "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = '" + d.slot + "'"
	const walSQL = "SELECT pg_current_wal_lsn()::text"

	d.insert(nil, "peer-1", "owned-1")
	wal := lsn(walSQL)
	testutil.WaitFor(t, "the slot to pass a filtered transaction", func() bool { return lsn(confirmedSQL) >= wal })

	// r1 commits in a transaction of its own; where its commit record is
	// is read back from the WAL. Other databases of the server write WAL
	// too, so the slot may rightly move past where r1 began — never past
	// its commit.
	d.exec("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
	before := lsn(walSQL)
	tx := d.begin()
	d.insert(tx, "", "r1")
	var xid string
	if err := tx.QueryRow(ctx, "SELECT xid(pg_current_xact_id())::text").Scan(&xid); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := expect(t, tail, "r1")[0]
	commitLSN := lsn(fmt.Sprintf(`SELECT start_lsn::text FROM pg_get_wal_records_info('%s'::pg_lsn, pg_current_wal_lsn())
		WHERE resource_manager = 'Transaction' AND record_type = 'COMMIT' AND xid::text = '%s'`,
		pglogrepl.LSN(before), xid))
	d.insert(nil, "peer-1", "owned-2")
	wal = lsn(walSQL)
	// The server sent past the filtered transaction, and the tail replied
	// a few times since: the position held.
	const statSQL = "SELECT sent_lsn::text FROM pg_stat_replication WHERE application_name = 'meshmq-pglogtail'"
	testutil.WaitFor(t, "the server to send past owned-2", func() bool { return lsn(statSQL) >= wal })
	var t0 time.Time
	if err := d.conn.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&t0); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "status updates", func() bool {
		var later bool
		err := d.conn.QueryRow(ctx, "SELECT reply_time > $1::timestamptz + interval '100 ms' FROM pg_stat_replication WHERE application_name = 'meshmq-pglogtail'", t0).Scan(&later)
		return err == nil && later
	})
	if got := lsn(confirmedSQL); got > commitLSN {
		t.Fatalf("confirmed %d past the commit of unsettled r1 at %d", got, commitLSN)
	}
	d.ack(tail, r)
	testutil.WaitFor(t, "the slot to pass r1 and the filtered transaction", func() bool { return lsn(confirmedSQL) >= wal })
}

// expectAfter commits an outbox row and reads it.
func expectAfter(t *testing.T, d *db, tail *Tail, id string) *outbox.Record {
	t.Helper()
	d.insert(nil, "", id)
	return expect(t, tail, id)[0]
}
