package outboxtest

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/peer/outbox"
)

// open opens a store on db for owner, closed when t ends.
func open(t *testing.T, h Harness, db, owner string) Store {
	t.Helper()
	s, err := h.Open(t, db)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	if err := s.SetOwner(owner); err != nil {
		t.Fatalf("set owner: %v", err)
	}
	return s
}

// rec returns a record whose every field derives from id.
func rec(id string) *outbox.Record {
	return &outbox.Record{
		ID:       id,
		Channel:  "orders." + id,
		Key:      "key-" + id,
		Dest:     outbox.Destination{Peer: "peer-" + id, Group: "g/" + id},
		Message:  []byte("message " + id + " " + string(make([]byte, 40))),
		Created:  time.Unix(1_700_000_000, int64(len(id))*1_000_003),
		Attempts: len(id) % 3,
	}
}

func recs(prefix string, n int) []*outbox.Record {
	out := make([]*outbox.Record, n)
	for i := range out {
		out[i] = rec(fmt.Sprintf("%s%d", prefix, i))
	}
	return out
}

func ids(rs []*outbox.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func seqs(rs []*outbox.Record) []uint64 {
	out := make([]uint64, len(rs))
	for i, r := range rs {
		out[i] = r.Seq
	}
	return out
}

func pick(rs []*outbox.Record, idx ...int) []*outbox.Record {
	out := make([]*outbox.Record, len(idx))
	for i, j := range idx {
		out[i] = rs[j]
	}
	return out
}

func appendAll(t *testing.T, s Store, rs ...*outbox.Record) {
	t.Helper()
	if err := s.Append(t.Context(), rs); err != nil {
		t.Fatalf("append: %v", err)
	}
}

func pending(t *testing.T, s Store) []*outbox.Record {
	t.Helper()
	var out []*outbox.Record
	if err := s.Pending(t.Context(), func(r *outbox.Record) error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatalf("pending: %v", err)
	}
	return out
}

func deadLetters(t *testing.T, s Store) []outbox.DeadLetter {
	t.Helper()
	var out []outbox.DeadLetter
	if err := s.DeadLetters(t.Context(), func(dl outbox.DeadLetter) error {
		out = append(out, dl)
		return nil
	}); err != nil {
		t.Fatalf("dead letters: %v", err)
	}
	return out
}

// sameRecord fails t unless got is want, field by field.
func sameRecord(t *testing.T, what string, got, want *outbox.Record) {
	t.Helper()
	if got.Seq != want.Seq || got.ID != want.ID || got.Channel != want.Channel || got.Key != want.Key ||
		got.Dest != want.Dest || !bytes.Equal(got.Message, want.Message) || !got.Created.Equal(want.Created) ||
		got.Attempts != want.Attempts {
		t.Fatalf("%s: got %+v, want %+v", what, *got, *want)
	}
}

// sameRecords fails t unless got is want, in order.
func sameRecords(t *testing.T, what string, got, want []*outbox.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d records %v (seqs %v), want %d %v (seqs %v)", what, len(got), ids(got), seqs(got), len(want), ids(want), seqs(want))
	}
	for i := range got {
		sameRecord(t, fmt.Sprintf("%s[%d]", what, i), got[i], want[i])
	}
}

func increasing(t *testing.T, what string, ss []uint64) {
	t.Helper()
	for i := range ss {
		if ss[i] == 0 || i > 0 && ss[i] <= ss[i-1] {
			t.Fatalf("%s: seqs %v not increasing from 1", what, ss)
		}
	}
}

// appendTx writes rs into the outbox in one committed transaction.
func appendTx(t *testing.T, s Store, rs ...*outbox.Record) {
	t.Helper()
	tx := begin(t, s.DB())
	if err := s.AppendTx(t.Context(), tx, rs); err != nil {
		tx.Rollback()
		t.Fatalf("append tx: %v", err)
	}
	commit(t, tx)
}

func begin(t *testing.T, db *sql.DB) *sql.Tx {
	t.Helper()
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	return tx
}

func commit(t *testing.T, tx *sql.Tx) {
	t.Helper()
	if err := tx.Commit(); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

// next calls r.Next with the suite's deadline.
func next(t *testing.T, r outbox.Relay) []*outbox.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testutil.Deadline)
	defer cancel()
	rs, err := r.Next(ctx)
	if err != nil {
		t.Fatalf("relay next: %v", err)
	}
	return rs
}

// ack acknowledges rs and waits until the store has applied it (Pending
// applies queued acks first).
func ack(t *testing.T, s Store, rs ...*outbox.Record) {
	t.Helper()
	ss := seqs(rs)
	slices.Sort(ss)
	var ranges []outbox.Range
	for _, q := range ss {
		ranges = append(ranges, outbox.Range{From: q, To: q})
	}
	if err := s.Ack(t.Context(), ranges); err != nil {
		t.Fatalf("ack: %v", err)
	}
	pending(t, s)
}

// rowsIn counts the messages rows with seq in from..to, in the default tables.
func rowsIn(t *testing.T, db *sql.DB, from, to uint64) int {
	t.Helper()
	var n int
	q := fmt.Sprintf("SELECT count(*) FROM meshmq_messages WHERE seq BETWEEN %d AND %d", from, to)
	if err := db.QueryRowContext(t.Context(), q).Scan(&n); err != nil {
		t.Fatalf("count: %v", err)
	}
	return n
}
