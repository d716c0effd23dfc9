package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/meshmq/meshmq/peer/outbox"
	"github.com/meshmq/meshmq/peer/outbox/internal/sqlstore"
)

// Store is the PostgreSQL store. It is safe for concurrent use.
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

// Open connects to the database dsn names (a URL or key=value string, as
// pgx takes it) through pgx's database/sql driver and creates the tables if
// missing. Close closes the connections.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	c, err := configure(opts)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	s, err := sqlstore.New(ctx, db, newDialect(c.Prefix), c.Config, true)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Store{s}, nil
}

// New returns a store on the application's db (a PostgreSQL database/sql
// database, e.g. from pgx's stdlib driver), creating the tables if missing,
// so the application's transactions and the store share the database.
// Close does not close db. The store uses up to three of db's connections
// at once (the committer's, a read, and an active relay's, which it keeps).
func New(ctx context.Context, db *sql.DB, opts ...Option) (*Store, error) {
	c, err := configure(opts)
	if err != nil {
		return nil, err
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

// Relay returns a polling publisher on the outbox. One relay is active on
// the database at a time, among all processes: it holds an advisory lock on
// a connection of its own. The others wait in Next; when the active one
// closes or its connection breaks, one of them takes over and sends again
// every outbox record not acknowledged, in seq order.
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
