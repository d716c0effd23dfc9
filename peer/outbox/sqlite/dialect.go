package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"github.com/meshmq/meshmq/peer/outbox"
	"github.com/meshmq/meshmq/peer/outbox/internal/sqlstore"
)

// dialect is SQLite's part of the store. SQLite has one writer at a time,
// so the seqs of inserted rows, from AUTOINCREMENT, increase in insertion
// order — and, since a writing transaction holds the database until it
// ends, in commit order too.
type dialect struct {
	prefix     string
	t          sqlstore.Tables
	insertHead string
	inserts    sync.Map // n -> the INSERT of n rows
	delete     string
	dest       string
	// role is the relay role: one relay of this store is active at a time.
	role chan struct{}
}

func newDialect(prefix string) *dialect {
	t := sqlstore.TablesOf(prefix)
	return &dialect{
		prefix: prefix,
		t:      t,
		insertHead: `INSERT INTO ` + t.Messages + ` (owner, id, channel, msg_key, dest_peer, dest_group, message, created, attempts)
			VALUES `,
		delete: `DELETE FROM ` + t.Messages + ` WHERE seq BETWEEN ? AND ? AND (owner = ? OR owner IS NULL)`,
		dest:   `UPDATE ` + t.Messages + ` SET dest_peer = ? WHERE seq = ? AND owner = ?`,
		role:   make(chan struct{}, 1),
	}
}

func (d *dialect) Name() string               { return "sqlite" }
func (d *dialect) InsertIsOneStatement() bool { return false }
func (d *dialect) Rebind(query string) string { return query }

func (d *dialect) Init(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, s := range sqlstore.Statements(ddl, d.prefix) {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// maxInsertRows bounds the rows of one INSERT: 9 parameters a row, well
// under SQLite's limit of 32,766 parameters a statement.
const maxInsertRows = 512

// Insert writes recs with multi-row INSERTs: one statement per 512 rows
// instead of one per row, the committer's main cost. The rows of one
// statement take consecutive seqs in VALUES order (AUTOINCREMENT, one
// writer), so the last insert id gives them all.
func (d *dialect) Insert(ctx context.Context, q sqlstore.Querier, owner sql.NullString, recs []outbox.Record) ([]uint64, error) {
	seqs := make([]uint64, 0, len(recs))
	args := make([]any, 0, 9*min(len(recs), maxInsertRows))
	for len(recs) > 0 {
		chunk := recs[:min(len(recs), maxInsertRows)]
		recs = recs[len(chunk):]
		args = args[:0]
		for i := range chunk {
			r := &chunk[i]
			args = append(args, owner, r.ID, r.Channel, r.Key, r.Dest.Peer, r.Dest.Group,
				sqlstore.Blob(r.Message), sqlstore.Nanos(r.Created), r.Attempts)
		}
		res, err := q.ExecContext(ctx, d.insertRows(len(chunk)), args...)
		if err != nil {
			return nil, err
		}
		last, err := res.LastInsertId()
		if err != nil {
			return nil, err
		}
		first := uint64(last) - uint64(len(chunk)) + 1
		if n := len(seqs); n > 0 && first <= seqs[n-1] {
			return nil, fmt.Errorf("seq %d after %d: not increasing", first, seqs[n-1])
		}
		for i := range chunk {
			seqs = append(seqs, first+uint64(i))
		}
	}
	return seqs, nil
}

// insertRows returns the INSERT of n rows, built once per n.
func (d *dialect) insertRows(n int) string {
	if q, ok := d.inserts.Load(n); ok {
		return q.(string)
	}
	const row = "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
	q := d.insertHead + row + strings.Repeat(", "+row, n-1)
	d.inserts.Store(n, q)
	return q
}

func (d *dialect) DeleteRanges(ctx context.Context, q sqlstore.Querier, owner string, rs []outbox.Range) error {
	st, err := q.PrepareContext(ctx, d.delete)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, r := range rs {
		if _, err := st.ExecContext(ctx, int64(r.From), int64(r.To), owner); err != nil {
			return err
		}
	}
	return nil
}

func (d *dialect) SetDest(ctx context.Context, q sqlstore.Querier, owner string, seqs []uint64, to outbox.Destination) error {
	st, err := q.PrepareContext(ctx, d.dest)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, s := range seqs {
		if _, err := st.ExecContext(ctx, to.Peer, int64(s), owner); err != nil {
			return err
		}
	}
	return nil
}

// NewSeq takes a seq from the messages' AUTOINCREMENT by inserting a row
// and deleting it, in the caller's transaction: no one else sees the row,
// and AUTOINCREMENT never hands its seq out again.
func (d *dialect) NewSeq(ctx context.Context, q sqlstore.Querier) (uint64, error) {
	res, err := q.ExecContext(ctx, `INSERT INTO `+d.t.Messages+` (owner, id, channel, message, created) VALUES ('', '', '', x'', 0)`)
	if err != nil {
		return 0, err
	}
	seq, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	if _, err := q.ExecContext(ctx, `DELETE FROM `+d.t.Messages+` WHERE seq = ?`, seq); err != nil {
		return 0, err
	}
	return uint64(seq), nil
}

// Lead hands the relay role to one relay of this store at a time. Relays
// of other stores on the same file (other processes) are not excluded:
// one process relays a database file.
func (d *dialect) Lead(_ context.Context, db *sql.DB) (sqlstore.Lease, error) {
	select {
	case d.role <- struct{}{}:
		return &lease{DB: db, role: d.role}, nil
	default:
		return nil, nil
	}
}

type lease struct {
	*sql.DB
	role chan struct{}
}

func (l *lease) Alive(context.Context) bool { return true } // nothing to lose in a process
func (l *lease) Release()                   { <-l.role }
