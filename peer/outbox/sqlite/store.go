package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/meshmq/meshmq/peer/outbox"
	"github.com/meshmq/meshmq/peer/outbox/internal/sqlstore"
)

// Store is the SQLite store. It is safe for concurrent use.
type Store struct {
	s *sqlstore.Store
}

var (
	_ outbox.Store      = (*Store)(nil)
	_ outbox.Owned      = (*Store)(nil)
	_ outbox.Durable    = (*Store)(nil)
	_ outbox.TxAppender = (*Store)(nil)
	_ outbox.Relayer    = (*Store)(nil)
	_ outbox.Claimer    = (*Store)(nil)
)

// Open opens (creating it if missing) the database file at path, in WAL
// mode with synchronous=NORMAL (SynchronousFull for FULL), a busy timeout
// (BusyTimeout) and immediate transactions (a transaction takes the write
// lock when it begins, so it never fails to upgrade later), and creates the
// tables if missing. Close closes the database.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	c, err := configure(opts)
	if err != nil {
		return nil, err
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("sqlite: open %q: want the path of a file, without '?'", path)
	}
	sync := "NORMAL"
	if c.synchronousFull {
		sync = "FULL"
	}
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(c.busyTimeout.Milliseconds()))
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", sync)
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: journal mode is %q, not wal", path, mode)
	}
	s, err := sqlstore.New(ctx, db, newDialect(c.Prefix), c.Config, true)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Store{s}, nil
}

// New returns a store on the application's db (a "sqlite" database/sql
// database, on a file), creating the tables if missing, so the
// application's transactions and the store share the database. Its
// connections are used as configured: WAL mode, a busy timeout and
// _txlock=immediate in the DSN are recommended (see Open). Close does not
// close db. The Open-only options (SynchronousFull, BusyTimeout) are
// refused.
func New(ctx context.Context, db *sql.DB, opts ...Option) (*Store, error) {
	c, err := configure(opts)
	if err != nil {
		return nil, err
	}
	if c.openOnly != "" {
		return nil, fmt.Errorf("sqlite: option %s applies to Open: set it in the DSN of db", c.openOnly)
	}
	s, err := sqlstore.New(ctx, db, newDialect(c.Prefix), c.Config, false)
	if err != nil {
		return nil, err
	}
	return &Store{s}, nil
}

// DB returns the store's database, for the application's transactions.
func (s *Store) DB() *sql.DB { return s.s.DB() }

// SetOwner names the peer whose records the store keeps (default ""):
// several peers may share one database. The peer calls it first.
func (s *Store) SetOwner(name string) error { return s.s.SetOwner(name) }

// Durable reports true: records survive the process.
func (s *Store) Durable() bool { return s.s.Durable() }

// Append commits recs as this peer's pending records, in one transaction
// shared with concurrent Appends (group commit), and sets their Seq,
// increasing in append order. If ctx ends first it returns ctx's error, and
// the records may or may not be committed.
func (s *Store) Append(ctx context.Context, recs []*outbox.Record) error {
	return s.s.Append(ctx, recs)
}

// Ack queues the removal of the records in ranges (this peer's and outbox
// records) and returns without waiting: the next commit applies it, within
// about 50 ms.
func (s *Store) Ack(ctx context.Context, ranges []outbox.Range) error {
	return s.s.Ack(ctx, ranges)
}

// Flush returns once every Ack queued before it is committed.
func (s *Store) Flush(ctx context.Context) error { return s.s.Flush(ctx) }

// Readdress queues moving this peer's records among seqs to the peer
// to.Peer, as Ack queues removals; their group does not change.
func (s *Store) Readdress(ctx context.Context, seqs []uint64, to outbox.Destination) error {
	return s.s.Readdress(ctx, seqs, to)
}

// Pending applies the queued acks, then calls fn for each of this peer's
// records in Seq order, reading them a page at a time.
func (s *Store) Pending(ctx context.Context, fn func(*outbox.Record) error) error {
	return s.s.Pending(ctx, fn)
}

// DeadLetter moves records to this peer's dead letters in one transaction;
// one with Seq 0 is given a fresh Seq, written back into dls.
func (s *Store) DeadLetter(ctx context.Context, dls []outbox.DeadLetter) error {
	return s.s.DeadLetter(ctx, dls)
}

// DeadLetters calls fn for each of this peer's dead letters, oldest first.
func (s *Store) DeadLetters(ctx context.Context, fn func(outbox.DeadLetter) error) error {
	return s.s.DeadLetters(ctx, fn)
}

// Redrive moves dead letters back to this peer's pending records under new
// Seqs, with no attempts, and returns them; an unknown Seq moves nothing
// and returns an error wrapping outbox.ErrNotFound.
func (s *Store) Redrive(ctx context.Context, seqs []uint64) ([]*outbox.Record, error) {
	return s.s.Redrive(ctx, seqs)
}

// AppendTx writes recs into the outbox inside the application's
// transaction tx and sets their Seq; a relay returns them once tx commits.
func (s *Store) AppendTx(ctx context.Context, tx *sql.Tx, recs []*outbox.Record) error {
	return s.s.AppendTx(ctx, tx, recs)
}

// Relay returns a polling publisher on the outbox. One relay of this store
// is active at a time; one process may relay a database file.
func (s *Store) Relay() outbox.Relay { return s.s.Relay() }

// Claim records in tx that consumer processed message id, or returns an
// error wrapping outbox.ErrProcessed if it did already.
func (s *Store) Claim(ctx context.Context, tx *sql.Tx, consumer, id string) error {
	return s.s.Claim(ctx, tx, consumer, id)
}

// PruneProcessed deletes the processed claims made before olderThan, and
// returns how many. The store runs it in the background with the
// ProcessedRetention.
func (s *Store) PruneProcessed(ctx context.Context, olderThan time.Time) (int64, error) {
	return s.s.PruneProcessed(ctx, olderThan)
}

// Close stops the relays, commits the queued acks and readdresses, stops
// the store's goroutines, and closes the database if Open opened it.
func (s *Store) Close() error { return s.s.Close() }
