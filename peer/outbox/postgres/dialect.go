package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/meshmq/meshmq/peer/outbox"
	"github.com/meshmq/meshmq/peer/outbox/internal/sqlstore"
)

// dialect is PostgreSQL's part of the store: a batch is one statement
// (arrays in, unnest), and one relay per database holds an advisory lock.
type dialect struct {
	prefix  string
	t       sqlstore.Tables
	seqName string // the messages' sequence, found by Init
	insert  string
	delete  string
	dest    string
	// Advisory lock keys, derived from the schema and the prefix (set by
	// Init): one for creating the tables, one for the relay role.
	initKey, relayKey int64
}

func newDialect(prefix string) *dialect {
	t := sqlstore.TablesOf(prefix)
	return &dialect{
		prefix: prefix,
		t:      t,
		// The batch's seqs are drawn first and sorted, and the i-th record
		// gets the i-th smallest: seq order is the records' order whatever
		// order the rows are inserted or returned in.
		insert: `WITH s AS (
				SELECT array_agg(v ORDER BY v) AS seqs
				FROM (SELECT nextval($1::regclass) AS v FROM generate_series(1, $2::int)) AS g
			)
			INSERT INTO ` + t.Messages + ` (seq, owner, id, channel, msg_key, dest_peer, dest_group, message, created, attempts)
			SELECT s.seqs[u.ord], $3::text, u.id, u.channel, u.msg_key, u.dest_peer, u.dest_group, u.message, u.created, u.attempts
			FROM s, unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bytea[], $10::bigint[], $11::int[])
				WITH ORDINALITY AS u(id, channel, msg_key, dest_peer, dest_group, message, created, attempts, ord)
			RETURNING seq`,
		delete: `DELETE FROM ` + t.Messages + ` AS m USING unnest($1::bigint[], $2::bigint[]) AS r(lo, hi)
			WHERE m.seq BETWEEN r.lo AND r.hi AND (m.owner = $3 OR m.owner IS NULL)`,
		dest: `UPDATE ` + t.Messages + ` SET dest_peer = $1
			WHERE seq = ANY($2::bigint[]) AND owner = $3`,
	}
}

// lockKey derives an advisory lock key. Advisory locks are per database, so
// stores on other databases never contend; the schema keeps the tables of
// one prefix in two schemas of a database apart.
func lockKey(purpose, schema, prefix string) int64 {
	h := fnv.New64a()
	h.Write([]byte("meshmq/outbox/" + purpose + "/" + schema + "." + prefix))
	return int64(h.Sum64())
}

func (d *dialect) Name() string               { return "postgres" }
func (d *dialect) InsertIsOneStatement() bool { return true }
func (d *dialect) Rebind(query string) string { return sqlstore.RebindDollar(query) }

// Init creates the tables under a transaction-scoped advisory lock:
// concurrent CREATE ... IF NOT EXISTS may otherwise collide.
func (d *dialect) Init(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var schema sql.NullString // NULL when no schema of the search path exists
	if err := tx.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return err
	}
	d.initKey, d.relayKey = lockKey("init", schema.String, d.prefix), lockKey("relay", schema.String, d.prefix)
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, d.initKey); err != nil {
		return err
	}
	for _, s := range sqlstore.Statements(ddl, d.prefix) {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	var seq sql.NullString
	if err := tx.QueryRowContext(ctx, `SELECT pg_get_serial_sequence($1, 'seq')`, d.t.Messages).Scan(&seq); err != nil {
		return err
	}
	if !seq.Valid {
		return fmt.Errorf("%s.seq has no sequence", d.t.Messages)
	}
	d.seqName = seq.String
	return tx.Commit()
}

func (d *dialect) Insert(ctx context.Context, q sqlstore.Querier, owner sql.NullString, recs []outbox.Record) ([]uint64, error) {
	n := len(recs)
	ids, channels, keys := make([]string, n), make([]string, n), make([]string, n)
	peers, groups := make([]string, n), make([]string, n)
	messages, created, attempts := make([][]byte, n), make([]int64, n), make([]int32, n)
	for i := range recs {
		r := &recs[i]
		ids[i], channels[i], keys[i], peers[i], groups[i] = r.ID, r.Channel, r.Key, r.Dest.Peer, r.Dest.Group
		messages[i], created[i], attempts[i] = sqlstore.Blob(r.Message), sqlstore.Nanos(r.Created), int32(r.Attempts)
	}
	rows, err := q.QueryContext(ctx, d.insert, d.seqName, n, owner, ids, channels, keys, peers, groups, messages, created, attempts)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	seqs := make([]uint64, 0, n)
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		seqs = append(seqs, uint64(s))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(seqs) != n {
		return nil, fmt.Errorf("inserted %d rows of %d", len(seqs), n)
	}
	slices.Sort(seqs)
	return seqs, nil
}

func (d *dialect) DeleteRanges(ctx context.Context, q sqlstore.Querier, owner string, rs []outbox.Range) error {
	lo, hi := make([]int64, len(rs)), make([]int64, len(rs))
	for i, r := range rs {
		lo[i], hi[i] = int64(r.From), int64(r.To)
	}
	_, err := q.ExecContext(ctx, d.delete, lo, hi, owner)
	return err
}

func (d *dialect) SetDest(ctx context.Context, q sqlstore.Querier, owner string, seqs []uint64, to outbox.Destination) error {
	ss := make([]int64, len(seqs))
	for i, s := range seqs {
		ss[i] = int64(s)
	}
	_, err := q.ExecContext(ctx, d.dest, to.Peer, ss, owner)
	return err
}

func (d *dialect) NewSeq(ctx context.Context, q sqlstore.Querier) (uint64, error) {
	var s int64
	err := q.QueryRowContext(ctx, `SELECT nextval($1::regclass)`, d.seqName).Scan(&s)
	return uint64(s), err
}

// Lead takes the relay role if no session on the database holds it: a
// session-level advisory lock on a connection of its own, where the relay
// then runs its claims. If that session ends (the process dies, the
// connection breaks) the lock goes with it, and so does the role.
func (d *dialect) Lead(ctx context.Context, db *sql.DB) (sqlstore.Lease, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, d.relayKey).Scan(&ok); err != nil {
		conn.Close()
		return nil, err
	}
	if !ok {
		conn.Close()
		return nil, nil
	}
	return &lease{Conn: conn, key: d.relayKey}, nil
}

type lease struct {
	*sql.Conn
	key int64
}

// Alive pings the lock's session: alive, it holds the lock still.
func (l *lease) Alive(ctx context.Context) bool { return l.PingContext(ctx) == nil }

// releaseTimeout bounds the unlock; failing it, the session is dropped,
// which releases the lock too.
const releaseTimeout = 5 * time.Second

func (l *lease) Release() {
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	var unlocked bool
	if err := l.QueryRowContext(ctx, `SELECT pg_advisory_unlock($1)`, l.key).Scan(&unlocked); err != nil || !unlocked {
		// Never back to the pool with the lock: close the session.
		l.Raw(func(any) error { return driver.ErrBadConn })
	}
	l.Close()
}
