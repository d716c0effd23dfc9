package pglogtail

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
)

// setup makes sure the publication and the slot exist, on the replication
// connection repl. If it creates the slot, it returns the sweep of the
// rows committed before it, for the first session to run.
func (t *Tail) setup(ctx context.Context, repl *pgconn.PgConn) (*initialSweep, error) {
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
	if err := t.ensurePublication(ctx, repl); err != nil {
		return nil, err
	}
	st, err := t.lookupSlot(ctx, repl)
	if err != nil || st.exists {
		return nil, err
	}
	return t.createSlot(ctx, repl)
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
	confirmed pglogrepl.LSN
}

// lookupSlot finds the slot, checking that it is a pgoutput slot of this
// database.
func (t *Tail) lookupSlot(ctx context.Context, conn *pgconn.PgConn) (slotState, error) {
	slot := t.cfg.slot
	rows, err := query(ctx, conn, "SELECT slot_type, plugin, database = current_database(), confirmed_flush_lsn "+
		"FROM pg_replication_slots WHERE slot_name = "+quoteLiteral(slot))
	if err != nil {
		return slotState{}, fmt.Errorf("pglogtail: looking up slot %s: %w", slot, err)
	}
	if len(rows) == 0 {
		return slotState{}, nil
	}
	if len(rows) != 1 || len(rows[0]) != 4 {
		return slotState{}, fmt.Errorf("pglogtail: looking up slot %s: unexpected result", slot)
	}
	r := rows[0]
	if string(r[0]) != "logical" || string(r[1]) != "pgoutput" {
		return slotState{}, fmt.Errorf("pglogtail: slot %s is a %s slot of plugin %q, not a pgoutput logical slot", slot, r[0], r[1])
	}
	if string(r[2]) != "t" {
		return slotState{}, fmt.Errorf("pglogtail: slot %s belongs to another database", slot)
	}
	st := slotState{exists: true}
	if r[3] != nil {
		if st.confirmed, err = pglogrepl.ParseLSN(string(r[3])); err != nil {
			return slotState{}, fmt.Errorf("pglogtail: slot %s: confirmed position: %w", slot, err)
		}
	}
	return st, nil
}

// createSlot creates the slot. The rows committed before it are not in
// its stream: they are read through the snapshot the slot is created
// with, which holds exactly those, so none is missed or read twice.
//
// Reading them takes a while, and the tail may die before the peer
// settles them. So that they are not lost then, createSlot writes a marker
// into the WAL (a logical decoding message naming the largest seq swept):
// the slot streams it, and a tail that did not make the sweep itself —
// the next one after a crash — sweeps again when it meets the marker, and
// the confirmed position cannot pass the marker until that sweep's rows
// are settled. The one window left is a crash between creating the slot
// and writing the marker, two round trips; see the package documentation.
func (t *Tail) createSlot(ctx context.Context, repl *pgconn.PgConn) (*initialSweep, error) {
	slot := t.cfg.slot
	res, err := pglogrepl.CreateReplicationSlot(ctx, repl, slot, "pgoutput", pglogrepl.CreateReplicationSlotOptions{
		Mode:           pglogrepl.LogicalReplication,
		SnapshotAction: "EXPORT_SNAPSHOT",
	})
	if pgCode(err) == codeDuplicateObject {
		return nil, nil // another tail created it, and sweeps
	}
	if err != nil {
		return nil, fmt.Errorf("pglogtail: creating slot %s: %w", slot, err)
	}
	sw, err := t.openSweep(ctx, repl, res)
	if err != nil {
		// Without its sweep the slot would miss the rows before it.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		if derr := DropSlot(dctx, t.dsn, slot); derr != nil {
			t.cfg.log.Error("pglogtail: dropping the slot after a failed sweep: drop it by hand", "slot", slot, "error", derr)
		}
		return nil, err
	}
	t.cfg.log.Info("pglogtail: created slot", "slot", slot, "at", res.ConsistentPoint)
	return sw, nil
}

// initialSweep reads the outbox rows committed before a new slot.
type initialSweep struct {
	conn *pgconn.PgConn // in a transaction on the slot's snapshot
	upTo uint64         // the largest outbox seq in the snapshot
	tx   *txn           // the ledger's stand-in transaction
	at   pglogrepl.LSN  // the slot's consistent point
}

func (t *Tail) openSweep(ctx context.Context, repl *pgconn.PgConn, slot pglogrepl.CreateReplicationSlotResult) (_ *initialSweep, err error) {
	at, err := pglogrepl.ParseLSN(slot.ConsistentPoint)
	if err != nil {
		return nil, fmt.Errorf("pglogtail: slot %s: consistent point: %w", t.cfg.slot, err)
	}
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
	if upTo <= 0 {
		closeConn(conn) // nothing before the slot
		return nil, nil
	}
	token, err := newToken()
	if err != nil {
		return nil, err
	}
	if _, err := query(ctx, repl, fmt.Sprintf("SELECT pg_logical_emit_message(true, %s, %s)",
		quoteLiteral(markerPrefix(t.cfg.slot)), quoteLiteral(token+" "+strconv.FormatInt(upTo, 10)))); err != nil {
		return nil, fmt.Errorf("pglogtail: writing the sweep marker: %w", err)
	}
	t.ownToken = token
	t.mu.Lock()
	tx := t.led.sweep(at)
	t.mu.Unlock()
	return &initialSweep{conn: conn, upTo: uint64(upTo), tx: tx, at: at}, nil
}

// markerPrefix is the prefix of the slot's sweep markers: several slots
// may tail one database, and each sweeps for its own.
func markerPrefix(slot string) string { return "meshmq.pglogtail.sweep:" + slot }

func newToken() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("pglogtail: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// parseMarker reads a marker's content: "<token> <largest seq>".
func parseMarker(content []byte) (token string, upTo uint64, err error) {
	tok, num, ok := bytes.Cut(content, []byte{' '})
	if !ok || len(tok) == 0 {
		return "", 0, fmt.Errorf("sweep marker %q: no token", truncate(content))
	}
	n, err := decodeInt(num, 64)
	if err != nil || n <= 0 {
		return "", 0, fmt.Errorf("sweep marker %q: bad seq", truncate(content))
	}
	return string(tok), uint64(n), nil
}

// DropSlot drops the replication slot named slot, if it exists, for an
// operator or a test retiring a tail: a slot nobody streams keeps all WAL
// written since its confirmed position. It fails while a tail streams the
// slot. The publication is left alone; it costs nothing.
func DropSlot(ctx context.Context, dsn, slot string) error {
	if err := checkSlotName(slot); err != nil {
		return err
	}
	conn, err := connect(ctx, dsn, false)
	if err != nil {
		return err
	}
	defer closeConn(conn)
	if _, err := query(ctx, conn, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = "+quoteLiteral(slot)); err != nil {
		return fmt.Errorf("pglogtail: dropping slot %s: %w", slot, err)
	}
	return nil
}
