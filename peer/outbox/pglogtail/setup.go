package pglogtail

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
)

// setup makes sure the publication, the sweeps table and the slot exist,
// on the replication connection repl. If it creates the slot, it returns
// the sweep of the rows committed before it, for the first session to run.
func (t *Tail) setup(ctx context.Context, repl *pgconn.PgConn) (*snapshotSweep, error) {
	rows, err := query(ctx, repl, "SHOW wal_level")
	if err != nil {
		return nil, fmt.Errorf("pglogtail: reading wal_level: %w", err)
	}
	if len(rows) != 1 || len(rows[0]) != 1 || string(rows[0][0]) != "logical" {
		return nil, fmt.Errorf("pglogtail: the server's wal_level is not logical")
	}
	if t.cfg.slot == "" {
		rows, err := query(ctx, repl, "SELECT current_database()")
		if err != nil || len(rows) != 1 || len(rows[0]) != 1 {
			return nil, fmt.Errorf("pglogtail: reading the database's name: %v", err)
		}
		t.cfg.slot = defaultSlot(t.cfg.prefix, string(rows[0][0]))
	}
	if err := t.ensureSchema(ctx, repl); err != nil {
		return nil, err
	}
	st, err := t.lookupSlot(ctx, repl)
	if err != nil || st.exists {
		return nil, err
	}
	return t.createSlot(ctx, repl)
}

// ensureSchema creates the publication and the sweeps table if missing.
func (t *Tail) ensureSchema(ctx context.Context, conn *pgconn.PgConn) error {
	if err := t.ensurePublication(ctx, conn); err != nil {
		return err
	}
	return t.ensureSweeps(ctx, conn)
}

// ensureSweeps creates the sweeps table if missing: a row per slot whose
// sweep of the rows committed before it is not settled yet, naming the
// largest seq to sweep. Looking first spares a user who cannot create
// tables once the table exists.
func (t *Tail) ensureSweeps(ctx context.Context, conn *pgconn.PgConn) error {
	table := t.cfg.sweepsTable()
	rows, err := query(ctx, conn, "SELECT to_regclass("+quoteLiteral(quoteIdent(table))+") IS NOT NULL")
	if err != nil {
		return fmt.Errorf("pglogtail: looking up table %s: %w", table, err)
	}
	if len(rows) == 1 && len(rows[0]) == 1 && string(rows[0][0]) == "t" {
		return nil
	}
	_, err = query(ctx, conn, "CREATE TABLE IF NOT EXISTS "+quoteIdent(table)+
		" (slot TEXT PRIMARY KEY, up_to BIGINT NOT NULL)")
	switch pgCode(err) {
	case "", codeDuplicateTable, codeUniqueViolation: // another tail created it meanwhile
		return nil
	}
	return fmt.Errorf("pglogtail: creating table %s: %w", table, err)
}

// ensurePublication creates the publication if missing. It publishes the
// outbox rows' inserts only: rows with an owner are a peer's own retry
// buffer, and deletes and updates mean nothing to the relay.
func (t *Tail) ensurePublication(ctx context.Context, conn *pgconn.PgConn) error {
	pub, table := t.cfg.publication, t.cfg.table()
	rows, err := query(ctx, conn, fmt.Sprintf(
		"SELECT EXISTS (SELECT FROM pg_publication WHERE pubname = %s), "+
			"EXISTS (SELECT FROM pg_publication_tables WHERE pubname = %s AND tablename = %s)",
		quoteLiteral(pub), quoteLiteral(pub), quoteLiteral(table)))
	if err != nil {
		return fmt.Errorf("pglogtail: looking up publication %s: %w", pub, err)
	}
	if len(rows) != 1 || len(rows[0]) != 2 {
		return fmt.Errorf("pglogtail: looking up publication %s: unexpected result", pub)
	}
	exists, hasTable := string(rows[0][0]) == "t", string(rows[0][1]) == "t"
	switch {
	case exists && hasTable:
		return nil
	case exists:
		return fmt.Errorf("pglogtail: publication %s exists and does not publish %s", pub, table)
	}
	_, err = query(ctx, conn, fmt.Sprintf(
		"CREATE PUBLICATION %s FOR TABLE %s WHERE (owner IS NULL) WITH (publish = 'insert')",
		quoteIdent(pub), quoteIdent(table)))
	if err != nil && pgCode(err) != codeDuplicateObject {
		return fmt.Errorf("pglogtail: creating publication %s: %w", pub, err)
	}
	return nil
}

type slotState struct {
	exists    bool
	active    bool // a connection streams it
	confirmed pglogrepl.LSN
}

// lookupSlot finds the slot, checking that it is a pgoutput slot of this
// database.
func (t *Tail) lookupSlot(ctx context.Context, conn *pgconn.PgConn) (slotState, error) {
	slot := t.cfg.slot
	rows, err := query(ctx, conn, "SELECT slot_type, plugin, database = current_database(), confirmed_flush_lsn, active "+
		"FROM pg_replication_slots WHERE slot_name = "+quoteLiteral(slot))
	if err != nil {
		return slotState{}, fmt.Errorf("pglogtail: looking up slot %s: %w", slot, err)
	}
	if len(rows) == 0 {
		return slotState{}, nil
	}
	if len(rows) != 1 || len(rows[0]) != 5 {
		return slotState{}, fmt.Errorf("pglogtail: looking up slot %s: unexpected result", slot)
	}
	r := rows[0]
	if string(r[0]) != "logical" || string(r[1]) != "pgoutput" {
		return slotState{}, fmt.Errorf("pglogtail: slot %s is a %s slot of plugin %q, not a pgoutput logical slot", slot, r[0], r[1])
	}
	if string(r[2]) != "t" {
		return slotState{}, fmt.Errorf("pglogtail: slot %s belongs to another database", slot)
	}
	st := slotState{exists: true, active: string(r[4]) == "t"}
	if r[3] != nil {
		if st.confirmed, err = pglogrepl.ParseLSN(string(r[3])); err != nil {
			return slotState{}, fmt.Errorf("pglogtail: slot %s: confirmed position: %w", slot, err)
		}
	}
	return st, nil
}

// maxSeq bounds the sweep of a slot whose rows before it are not known
// yet: every outbox row in the table.
const maxSeq = math.MaxInt64

// createSlot creates the slot. The rows committed before it are not in
// its stream: its sweeps row records that they are to be swept, and which
// (seq <= up_to), until the sweep is settled; any tail starting a session
// on the slot sweeps them first (session.sweepFirst).
//
// The row is written before the slot, saying "every row": a crash before
// the rows before the slot are known sweeps too many, never too few. Then
// the snapshot the slot is created with, which holds exactly the rows
// committed before it, gives the largest seq, and the sweep to run first
// reads that snapshot, so that rows committed after the slot are not
// swept too. It returns nil if there is nothing to sweep, or the snapshot
// could not be read: the session then sweeps what the row says.
func (t *Tail) createSlot(ctx context.Context, repl *pgconn.PgConn) (*snapshotSweep, error) {
	slot := t.cfg.slot
	if _, err := query(ctx, repl, fmt.Sprintf(
		"INSERT INTO %s (slot, up_to) VALUES (%s, %d) ON CONFLICT (slot) DO UPDATE SET up_to = excluded.up_to",
		quoteIdent(t.cfg.sweepsTable()), quoteLiteral(slot), int64(maxSeq))); err != nil {
		return nil, fmt.Errorf("pglogtail: recording the sweep of slot %s: %w", slot, err)
	}
	res, err := pglogrepl.CreateReplicationSlot(ctx, repl, slot, "pgoutput", pglogrepl.CreateReplicationSlotOptions{
		Mode:           pglogrepl.LogicalReplication,
		SnapshotAction: "EXPORT_SNAPSHOT",
	})
	if pgCode(err) == codeDuplicateObject {
		// Another tail created it, and recorded its sweep; this one's
		// row, if it outlived the other's, only sweeps more.
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pglogtail: creating slot %s: %w", slot, err)
	}
	t.cfg.log.Info("pglogtail: created slot", "slot", slot, "at", res.ConsistentPoint)
	if t.cfg.afterSlot != nil {
		t.cfg.afterSlot()
	}
	sw, err := t.openSweep(ctx, repl, res)
	if err != nil {
		t.cfg.log.Warn("pglogtail: reading the rows before the new slot: sweeping every outbox row instead", "slot", slot, "error", err)
		return nil, nil
	}
	return sw, nil
}

// snapshotSweep reads the outbox rows committed before a new slot,
// through the snapshot the slot was created with.
type snapshotSweep struct {
	conn *pgconn.PgConn // in a transaction on the slot's snapshot
	upTo uint64         // the largest outbox seq in the snapshot
}

func (t *Tail) openSweep(ctx context.Context, repl *pgconn.PgConn, slot pglogrepl.CreateReplicationSlotResult) (_ *snapshotSweep, err error) {
	conn, err := connect(ctx, t.dsn, false)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			closeConn(conn)
		}
	}()
	// The snapshot lives until repl runs its next command: import it first.
	if _, err := query(ctx, conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		return nil, fmt.Errorf("pglogtail: sweeping: %w", err)
	}
	if _, err := query(ctx, conn, "SET TRANSACTION SNAPSHOT "+quoteLiteral(slot.SnapshotName)); err != nil {
		return nil, fmt.Errorf("pglogtail: sweeping: importing the slot's snapshot: %w", err)
	}
	rows, err := query(ctx, conn, fmt.Sprintf("SELECT coalesce(max(seq), 0) FROM %s WHERE owner IS NULL", quoteIdent(t.cfg.table())))
	if err != nil {
		return nil, fmt.Errorf("pglogtail: sweeping: %w", err)
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		return nil, fmt.Errorf("pglogtail: sweeping: unexpected result")
	}
	upTo, err := decodeInt(rows[0][0], 64)
	if err != nil {
		return nil, fmt.Errorf("pglogtail: sweeping: %w", err)
	}
	sweeps, lit := quoteIdent(t.cfg.sweepsTable()), quoteLiteral(t.cfg.slot)
	if upTo <= 0 {
		// Nothing before the slot.
		if _, err := query(ctx, repl, fmt.Sprintf("DELETE FROM %s WHERE slot = %s", sweeps, lit)); err != nil {
			return nil, fmt.Errorf("pglogtail: recording the sweep: %w", err)
		}
		closeConn(conn)
		return nil, nil
	}
	if _, err := query(ctx, repl, fmt.Sprintf("UPDATE %s SET up_to = %d WHERE slot = %s", sweeps, upTo, lit)); err != nil {
		return nil, fmt.Errorf("pglogtail: recording the sweep: %w", err)
	}
	return &snapshotSweep{conn: conn, upTo: uint64(upTo)}, nil
}

// pendingSweep reads the slot's sweeps row: the largest seq to sweep, and
// whether a sweep is pending at all.
func (t *Tail) pendingSweep(ctx context.Context, conn *pgconn.PgConn) (upTo uint64, ok bool, err error) {
	rows, err := query(ctx, conn, fmt.Sprintf("SELECT up_to FROM %s WHERE slot = %s",
		quoteIdent(t.cfg.sweepsTable()), quoteLiteral(t.cfg.slot)))
	if err != nil {
		return 0, false, fmt.Errorf("pglogtail: reading the pending sweep: %w", err)
	}
	if len(rows) == 0 {
		return 0, false, nil
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		return 0, false, fmt.Errorf("pglogtail: reading the pending sweep: unexpected result")
	}
	n, err := decodeInt(rows[0][0], 64)
	if err != nil {
		return 0, false, fmt.Errorf("pglogtail: reading the pending sweep: %w", err)
	}
	if n <= 0 {
		return 0, true, nil // sweeps nothing; the row goes once settled
	}
	return uint64(n), true, nil
}

// sweepDone deletes the slot's sweeps row for the sweep up to upTo, all
// of whose rows are settled. A row saying otherwise is another sweep's.
func (t *Tail) sweepDone(ctx context.Context, conn *pgconn.PgConn, upTo uint64) error {
	if _, err := query(ctx, conn, fmt.Sprintf("DELETE FROM %s WHERE slot = %s AND up_to = %d",
		quoteIdent(t.cfg.sweepsTable()), quoteLiteral(t.cfg.slot), upTo)); err != nil {
		return fmt.Errorf("pglogtail: deleting the settled sweep: %w", err)
	}
	return nil
}

// DropSlot drops the replication slot named slot, if it exists, for an
// operator or a test retiring a tail: a slot nobody streams keeps all WAL
// written since its confirmed position. It fails while a tail streams the
// slot. It deletes the slot's pending sweep, if any, with the slot (in the
// sweeps tables of dsn's database, whatever their prefix). The publication
// is left alone; it costs nothing.
func DropSlot(ctx context.Context, dsn, slot string) error {
	if err := checkSlotName(slot); err != nil {
		return err
	}
	conn, err := connect(ctx, dsn, false)
	if err != nil {
		return err
	}
	defer closeConn(conn)
	tables, err := query(ctx, conn, `SELECT format('%I.%I', n.nspname, c.relname)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND c.relname LIKE '%\_outbox\_sweeps' AND pg_table_is_visible(c.oid)
		AND (SELECT count(*) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname IN ('slot', 'up_to') AND NOT a.attisdropped) = 2`)
	if err != nil {
		return fmt.Errorf("pglogtail: dropping slot %s: finding the sweeps tables: %w", slot, err)
	}
	// One implicit transaction, the rows first: they go only with the
	// slot, and a tail creating the slot again, once it is gone, records
	// its own sweep after them (the rows' locks hold it until the commit).
	var sql strings.Builder
	for _, r := range tables {
		if len(r) == 1 && r[0] != nil {
			fmt.Fprintf(&sql, "DELETE FROM %s WHERE slot = %s; ", r[0], quoteLiteral(slot))
		}
	}
	sql.WriteString("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = " + quoteLiteral(slot))
	if _, err := query(ctx, conn, sql.String()); err != nil {
		return fmt.Errorf("pglogtail: dropping slot %s: %w", slot, err)
	}
	return nil
}
