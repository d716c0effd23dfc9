package sqlstore

import (
	"context"
	"database/sql"
	"strings"

	"github.com/meshmq/meshmq/peer/outbox"
)

// Querier is what runs statements: *sql.DB, *sql.Conn and *sql.Tx.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// Dialect is what differs between databases. A Store makes every call of
// one Dialect from one goroutine at a time except Lead and Insert (AppendTx
// runs in the application's goroutines).
type Dialect interface {
	// Name prefixes errors: "sqlite", "postgres".
	Name() string
	// Init creates the tables and indexes if missing.
	Init(ctx context.Context, db *sql.DB) error
	// Rebind turns a query's ? placeholders into the dialect's.
	Rebind(query string) string
	// Insert adds recs in q as rows of owner (NULL: outbox rows) and returns
	// their seqs, increasing in the order of recs.
	Insert(ctx context.Context, q Querier, owner sql.NullString, recs []outbox.Record) ([]uint64, error)
	// InsertIsOneStatement reports that Insert runs a single statement, so
	// a batch of appends alone needs no transaction around it.
	InsertIsOneStatement() bool
	// DeleteRanges deletes the rows of owner, and outbox rows, whose seq is
	// in one of rs.
	DeleteRanges(ctx context.Context, q Querier, owner string, rs []outbox.Range) error
	// SetDest sets the peer of owner's rows among seqs. Their group stays:
	// a copy fails over within its group. Outbox rows stay as written: a
	// relay addresses them each time it takes them.
	SetDest(ctx context.Context, q Querier, owner string, seqs []uint64, to outbox.Destination) error
	// NewSeq takes a fresh seq from the messages' sequence, for a dead
	// letter that was never appended.
	NewSeq(ctx context.Context, q Querier) (uint64, error)
	// Lead tries to make the caller the active relay: nil, nil if another
	// relay is.
	Lead(ctx context.Context, db *sql.DB) (Lease, error)
}

// Lease is a relay's hold on the active role.
type Lease interface {
	// Querier runs the relay's claims. On PostgreSQL it is the session that
	// holds the lock, so a claim can only succeed while the lock is held.
	Querier
	// Alive reports, after a failed claim, whether the lease still holds.
	Alive(ctx context.Context) bool
	// Release gives the role up.
	Release()
}

// Statements splits a dialect's schema, with "{p}" standing for the table
// prefix, into its statements for prefix.
func Statements(schema, prefix string) []string {
	var out []string
	for _, s := range strings.Split(strings.ReplaceAll(schema, "{p}", prefix), ";") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
