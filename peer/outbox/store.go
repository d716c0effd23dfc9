package outbox

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Destination is who a pending record is for.
type Destination struct {
	Peer  string // peer name
	Group string // subscriber group; "" for point-to-point
}

// Record is one message in the retry buffer.
type Record struct {
	Seq      uint64 // assigned by Append, increasing: the order Pending reloads in
	ID       string // the message's ID
	Channel  string
	Key      string
	Dest     Destination
	Message  []byte // the encoded message (PROTOCOL.md section 6)
	Created  time.Time
	Attempts int
}

// DeadLetter is a record a retry policy gave up on, and why.
type DeadLetter struct {
	Record
	Reason string
	Error  string
	At     time.Time
}

// Range is an inclusive range of record Seqs.
type Range struct{ From, To uint64 }

// Store keeps a peer's pending records and dead letters. Implementations
// are safe for concurrent use.
type Store interface {
	// Append adds records in order, assigning their Seq; a durable store has
	// committed them when it returns.
	Append(ctx context.Context, recs []*Record) error
	// Ack removes the records in the ranges: they were delivered.
	Ack(ctx context.Context, ranges []Range) error
	// Readdress moves pending records to another destination.
	Readdress(ctx context.Context, seqs []uint64, to Destination) error
	// Pending calls fn for each pending record in Seq order.
	Pending(ctx context.Context, fn func(*Record) error) error
	// DeadLetter moves pending records to the dead letters; a record with
	// Seq 0 (never appended) is given one, written back into dls.
	DeadLetter(ctx context.Context, dls []DeadLetter) error
	// DeadLetters calls fn for each kept dead letter, oldest first.
	DeadLetters(ctx context.Context, fn func(DeadLetter) error) error
	// Redrive moves dead letters back to pending under new Seqs and returns
	// them, for the peer to send again.
	Redrive(ctx context.Context, seqs []uint64) ([]*Record, error)
	// Close releases the store.
	Close() error
}

// TxAppender is implemented by SQL stores: it writes records inside the
// application's own transaction (the transactional outbox), so a business
// change and the messages it emits commit or roll back together. The peer
// relays committed records.
type TxAppender interface {
	AppendTx(ctx context.Context, tx *sql.Tx, recs []*Record) error
}

// ErrNotFound is returned by Redrive for a Seq that is not a dead letter.
var ErrNotFound = errors.New("outbox: no such record")
