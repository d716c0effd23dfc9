package pglogtail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/meshmq/meshmq/peer/outbox"
)

var (
	// errSlotActive: another connection streams the slot; the tail stands by.
	errSlotActive = errors.New("pglogtail: the slot is streamed by another connection")
	// errMalformed marks what the server sent and the tail cannot decode.
	errMalformed = errors.New("malformed")
	errProtocol  = errors.New("pglogtail: unexpected message order")
)

// run streams the slot until ctx ends, one session per connection:
// standing by while another connection streams the slot, reconnecting
// with backoff after any other error. A session resumes from the slot's
// confirmed position, and the ledger skips what this tail received before.
func (t *Tail) run(ctx context.Context) {
	defer close(t.stopped)
	log := t.cfg.log.With("slot", t.cfg.slot)
	backoff := t.cfg.minBackoff
	for {
		began := time.Now()
		s := &session{t: t, log: log, rel: make(map[uint32]*relation)}
		err := s.run(ctx)
		s.close()
		if ctx.Err() != nil {
			return
		}
		var wait time.Duration
		if errors.Is(err, errSlotActive) {
			t.standbys.Add(1)
			log.Debug("pglogtail: standing by: another connection streams the slot")
			wait, backoff = t.cfg.standbyRetry, t.cfg.minBackoff
		} else {
			// A session that got somewhere resets the backoff; one that
			// keeps failing at the same row does not.
			if s.commits > 0 || time.Since(began) > t.cfg.maxBackoff {
				backoff = t.cfg.minBackoff
			}
			level := slog.LevelWarn
			if errors.Is(err, errMalformed) {
				level = slog.LevelError
			}
			log.Log(ctx, level, "pglogtail: stream stopped; reconnecting", "error", err, "in", backoff)
			wait, backoff = backoff, min(2*backoff, t.cfg.maxBackoff)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

// A session is one replication connection's life.
type session struct {
	t   *Tail
	log *slog.Logger

	repl       *pgconn.PgConn
	sql        *pgconn.PgConn // for sweeping and deleting the sweeps row, opened when needed
	streaming  bool
	nextStatus time.Time

	rel map[uint32]*relation // by relation OID, from Relation messages

	// The transaction being received.
	inTx    bool
	tx      *txn // nil while skipping a transaction received before
	seen    int  // its Insert messages seen on this connection
	commits int  // transactions received whole
}

// relation is what the tail knows of a table from its Relation message.
type relation struct {
	ours   bool // the outbox table
	layout layout
	err    error // ours, and a column is missing
}

func (s *session) run(ctx context.Context) error {
	t := s.t
	var snap *snapshotSweep
	defer func() {
		if snap != nil {
			closeConn(snap.conn)
		}
	}()
	if f := t.first; f != nil {
		t.first = nil
		s.repl, snap = f.repl, f.sweep
	} else {
		repl, err := connect(ctx, t.dsn, true)
		if err != nil {
			return err
		}
		s.repl = repl
		if err := t.ensureSchema(ctx, repl); err != nil {
			return err
		}
	}
	st, err := t.lookupSlot(ctx, s.repl)
	if err != nil {
		return err
	}
	if !st.exists {
		// Dropped under a running tail: make it again, sweeping the
		// outbox rows in the table, so that none committed meanwhile is
		// missed.
		s.log.Warn("pglogtail: the slot is gone; creating it again")
		if snap != nil {
			closeConn(snap.conn) // a snapshot of the slot dropped
		}
		if snap, err = t.createSlot(ctx, s.repl); err != nil {
			return err
		}
		if st, err = t.lookupSlot(ctx, s.repl); err != nil {
			return err
		}
	}
	if st.active {
		return errSlotActive // a standby does not sweep: the active tail does
	}
	err = s.sweepFirst(ctx, snap)
	snap = nil // closed
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.led.slotAt(st.confirmed)
	t.mu.Unlock()

	err = pglogrepl.StartReplication(ctx, s.repl, t.cfg.slot, 0, pglogrepl.StartReplicationOptions{
		Mode: pglogrepl.LogicalReplication,
		PluginArgs: []string{
			"proto_version '1'",
			"publication_names " + quoteLiteral(t.cfg.publication),
		},
	})
	if pgCode(err) == codeObjectInUse {
		return errSlotActive
	}
	if err != nil {
		return fmt.Errorf("pglogtail: starting replication: %w", err)
	}
	s.streaming = true
	s.log.Debug("pglogtail: streaming", "from", st.confirmed)
	return s.stream(ctx)
}

// A tailSweep is the sweep of the slot's sweeps row this tail runs.
type tailSweep struct {
	upTo uint64 // the row's up_to
	tx   *txn   // the ledger's stand-in
}

// sweepFirst hands on, before anything the session streams, the rows the
// slot's sweeps row says are to be swept: the outbox rows committed before
// the slot, those still in the table, in seq order. So every tail starting
// on the slot sweeps them first until the tail that swept them saw all
// settled and deleted the row: after a crash, they are swept again, and
// come before the rows committed after the slot, which the stream brings.
//
// snap is the sweep of a slot this tail just created, through its
// snapshot, which it closes. Otherwise the row is read, and the rows
// swept in the table. Within one tail, a sweep is not repeated: a session
// after a lost connection takes up where the last one stopped, and runs
// none if the last one took every row.
func (s *session) sweepFirst(ctx context.Context, snap *snapshotSweep) error {
	t := s.t
	var conn *pgconn.PgConn
	if snap != nil {
		t.sweep = &tailSweep{upTo: snap.upTo, tx: t.led.sweep()} // replaces any other: the slot is new
		conn = snap.conn
		defer closeConn(snap.conn)
	} else {
		upTo, ok, err := t.pendingSweep(ctx, s.repl)
		if err != nil {
			return err
		}
		if !ok {
			// None, or another tail finished this one's: the rows this
			// one handed on settle as they come.
			t.sweep = nil
			return nil
		}
		if t.sweep == nil || t.sweep.upTo != upTo {
			t.sweep = &tailSweep{upTo: upTo, tx: t.led.sweep()}
		}
		if !t.sweep.tx.swept {
			if conn, err = s.sqlConn(ctx); err != nil {
				return err
			}
		}
	}
	sw := t.sweep
	if !sw.tx.swept {
		s.log.Info("pglogtail: sweeping the outbox rows from before the slot", "upTo", sw.upTo, "from", sw.tx.sweptTo)
		if err := s.sweep(ctx, conn, sw.tx, sw.upTo); err != nil {
			return err
		}
		sw.tx.swept = true
	}
	return s.finishSweep(ctx, s.repl)
}

// finishSweep deletes the sweeps row, on conn, once the tail's sweep is
// settled.
func (s *session) finishSweep(ctx context.Context, conn *pgconn.PgConn) error {
	t := s.t
	sw := t.sweep
	if sw == nil {
		return nil
	}
	t.mu.Lock()
	done := t.led.settled(sw.tx)
	t.mu.Unlock()
	if !done {
		return nil
	}
	if err := t.sweepDone(ctx, conn, sw.upTo); err != nil {
		return err
	}
	t.sweep = nil
	s.log.Info("pglogtail: the sweep of the rows from before the slot is settled", "upTo", sw.upTo)
	return nil
}

// sqlConn returns the session's connection for plain SQL, opening it.
func (s *session) sqlConn(ctx context.Context) (*pgconn.PgConn, error) {
	if s.sql == nil || s.sql.IsClosed() {
		closeConn(s.sql)
		s.sql = nil
		conn, err := connect(ctx, s.t.dsn, false)
		if err != nil {
			return nil, err
		}
		s.sql = conn
	}
	return s.sql, nil
}

// finishSweepStreaming is finishSweep while the replication connection
// streams, on the plain one: a failure is retried the next time.
func (s *session) finishSweepStreaming(ctx context.Context) {
	if s.t.sweep == nil {
		return
	}
	conn, err := s.sqlConn(ctx)
	if err == nil {
		err = s.finishSweep(ctx, conn)
	}
	if err != nil && ctx.Err() == nil {
		s.log.Warn("pglogtail: deleting the settled sweep; retrying", "error", err)
		closeConn(s.sql)
		s.sql = nil
	}
}

// stream receives the slot's stream, reporting the confirmed position
// every status interval, and stops reading while Next is behind by
// bufferLimit records.
func (s *session) stream(ctx context.Context) error {
	s.nextStatus = time.Now().Add(s.t.cfg.statusInterval)
	for {
		if err := s.waitRoom(ctx); err != nil {
			return err
		}
		if !time.Now().Before(s.nextStatus) {
			if err := s.sendStatus(); err != nil {
				return err
			}
			s.finishSweepStreaming(ctx)
		}
		msg, err := s.receiveUntil(ctx, s.nextStatus)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !time.Now().Before(s.nextStatus) && !s.repl.IsClosed() {
				continue // time for a status update; the connection is fine
			}
			return fmt.Errorf("pglogtail: receiving: %w", err)
		}
		if err := s.receive(ctx, msg); err != nil {
			return err
		}
	}
}

// receiveUntil receives a message, giving up at until. A read cut off by
// the deadline leaves the connection usable: the partial message is
// buffered, and the next read completes it.
func (s *session) receiveUntil(ctx context.Context, until time.Time) (pgproto3.BackendMessage, error) {
	ctx, cancel := context.WithDeadline(ctx, until)
	defer cancel()
	return s.repl.ReceiveMessage(ctx)
}

func (s *session) receive(ctx context.Context, msg pgproto3.BackendMessage) error {
	switch m := msg.(type) {
	case *pgproto3.CopyData:
		if len(m.Data) == 0 {
			return fmt.Errorf("pglogtail: %w: empty CopyData", errMalformed)
		}
		switch m.Data[0] {
		case pglogrepl.PrimaryKeepaliveMessageByteID:
			k, err := pglogrepl.ParsePrimaryKeepaliveMessage(m.Data[1:])
			if err != nil {
				return fmt.Errorf("pglogtail: %w: keepalive: %w", errMalformed, err)
			}
			if !s.inTx {
				s.t.mu.Lock()
				s.t.led.idle(k.ServerWALEnd)
				s.t.mu.Unlock()
			}
			if k.ReplyRequested {
				return s.sendStatus()
			}
		case pglogrepl.XLogDataByteID:
			x, err := pglogrepl.ParseXLogData(m.Data[1:])
			if err != nil {
				return fmt.Errorf("pglogtail: %w: %w", errMalformed, err)
			}
			return s.xlog(x)
		}
		return nil
	case *pgproto3.ErrorResponse:
		return fmt.Errorf("pglogtail: streaming: %w", pgconn.ErrorResponseToPgError(m))
	case *pgproto3.CopyDone:
		return errors.New("pglogtail: the server ended the stream")
	}
	return nil // notices and the like
}

// xlog acts on one pgoutput message.
func (s *session) xlog(x pglogrepl.XLogData) error {
	t := s.t
	msg, err := parseMessage(x.WALData)
	if err != nil {
		return fmt.Errorf("pglogtail: %w: at %s: %w", errMalformed, x.WALStart, err)
	}
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		s.rel[m.RelationID] = s.relation(m)
	case *pglogrepl.BeginMessage:
		if s.inTx {
			return fmt.Errorf("%w: begin at %s inside a transaction", errProtocol, x.WALStart)
		}
		t.mu.Lock()
		s.tx = t.led.begin(m.FinalLSN)
		t.mu.Unlock()
		s.inTx, s.seen = true, 0
	case *pglogrepl.InsertMessage:
		if !s.inTx {
			return fmt.Errorf("%w: insert at %s outside a transaction", errProtocol, x.WALStart)
		}
		if s.tx == nil {
			return nil
		}
		if s.seen++; s.seen <= s.tx.inserts {
			return nil // taken before the connection was lost
		}
		rec, err := s.row(m)
		if err != nil {
			return fmt.Errorf("pglogtail: %w: a row of the transaction committed at %s: %w", errMalformed, s.tx.commit, err)
		}
		s.tx.inserts++
		if rec != nil {
			t.hand(s.tx, rec)
		}
	case *pglogrepl.CommitMessage:
		if !s.inTx {
			return fmt.Errorf("%w: commit at %s outside a transaction", errProtocol, x.WALStart)
		}
		if s.tx != nil {
			if m.CommitLSN != s.tx.commit {
				return fmt.Errorf("%w: commit at %s of the transaction begun for %s", errProtocol, m.CommitLSN, s.tx.commit)
			}
			t.mu.Lock()
			t.led.finish(s.tx, m.TransactionEndLSN)
			t.mu.Unlock()
			s.commits++
		}
		s.inTx, s.tx = false, nil
	}
	return nil
}

func (s *session) relation(m *pglogrepl.RelationMessage) *relation {
	if m.RelationName != s.t.cfg.table() {
		return &relation{}
	}
	names := make([]string, len(m.Columns))
	for i, c := range m.Columns {
		names[i] = c.Name
	}
	l, err := layoutOf(names)
	if err != nil {
		err = fmt.Errorf("table %s.%s: %w", m.Namespace, m.RelationName, err)
	}
	return &relation{ours: true, layout: l, err: err}
}

// row decodes an inserted row: nil for a row that is not the outbox's.
func (s *session) row(m *pglogrepl.InsertMessage) (*outbox.Record, error) {
	rel := s.rel[m.RelationID]
	switch {
	case rel == nil:
		return nil, fmt.Errorf("insert into relation %d before its Relation message", m.RelationID)
	case !rel.ours:
		return nil, nil
	case rel.err != nil:
		return nil, rel.err
	case m.Tuple == nil:
		return nil, errors.New("insert without a tuple")
	}
	vals := make([]value, len(m.Tuple.Columns))
	for i, c := range m.Tuple.Columns {
		switch c.DataType {
		case pglogrepl.TupleDataTypeNull:
			vals[i].null = true
		case pglogrepl.TupleDataTypeText:
			vals[i].text = c.Data
		default:
			return nil, fmt.Errorf("column %d: value of kind %q, not text", i, c.DataType)
		}
	}
	return rel.layout.record(vals)
}

// waitRoom waits while Next is behind by bufferLimit records, still
// reporting the confirmed position, which keeps the connection alive:
// the server, blocked on sending, reads the reports.
func (s *session) waitRoom(ctx context.Context) error {
	for s.t.full() {
		var tick <-chan time.Time
		var timer *time.Timer
		if s.streaming {
			timer = time.NewTimer(time.Until(s.nextStatus))
			tick = timer.C
		}
		var err error
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-s.t.room:
		case <-tick:
			err = s.sendStatus()
		}
		if timer != nil {
			timer.Stop()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// sendStatus reports the confirmed position as written, flushed and
// applied: the slot resumes there.
func (s *session) sendStatus() error {
	s.t.mu.Lock()
	pos := s.t.led.confirmed
	s.t.mu.Unlock()
	s.nextStatus = time.Now().Add(s.t.cfg.statusInterval)
	if err := pglogrepl.SendStandbyStatusUpdate(context.Background(), s.repl, pglogrepl.StandbyStatusUpdate{WALWritePosition: pos}); err != nil {
		return fmt.Errorf("pglogtail: sending a status update: %w", err)
	}
	return nil
}

// close ends the session. A streaming connection reports its position a
// last time and ends the stream, which frees the slot at once for a
// standby tail, before it closes.
func (s *session) close() {
	closeConn(s.sql)
	if s.repl == nil {
		return
	}
	if s.streaming && !s.repl.IsClosed() {
		s.repl.Conn().SetDeadline(time.Now().Add(closeTimeout))
		err := s.sendStatus()
		if err == nil {
			_, err = pglogrepl.SendStandbyCopyDone(context.Background(), s.repl)
		}
		if err != nil {
			s.log.Debug("pglogtail: ending the stream", "error", err)
		}
	}
	closeConn(s.repl)
}
