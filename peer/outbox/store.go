package outbox

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Destination is who a pending record is for.
type Destination struct {
	Peer string // peer name: msg.To, or the instance last routed to (a hint)
	// Group is the subscriber group of a published copy, as the publisher
	// identifies it ("g/" + name, or "m/" + member + "/" + pattern); "" for
	// point-to-point; AllGroups for an outbox record of Publish, which the
	// relay copies to every matching group.
	Group string
}

// AllGroups is Destination.Group of a published outbox record.
const AllGroups = "*"

// Record is one message in the retry buffer or the outbox.
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
	// Ack removes the records in the ranges: they were delivered. A durable
	// store may defer the removal (a crash before it resends duplicates,
	// which receivers drop), so Ack does not wait for a commit.
	Ack(ctx context.Context, ranges []Range) error
	// Readdress moves pending records to another destination.
	Readdress(ctx context.Context, seqs []uint64, to Destination) error
	// Pending calls fn for each pending record of this peer in Seq order:
	// what it appended and did not see acknowledged or dead-lettered. Outbox
	// records are not among them; a Relay returns those.
	Pending(ctx context.Context, fn func(*Record) error) error
	// DeadLetter moves pending records to the dead letters; a record with
	// Seq 0 (never appended) is given one, written back into dls.
	DeadLetter(ctx context.Context, dls []DeadLetter) error
	// DeadLetters calls fn for each kept dead letter, oldest first.
	DeadLetters(ctx context.Context, fn func(DeadLetter) error) error
	// Redrive moves dead letters back to pending under new Seqs and returns
	// them, for the peer to send again.
	Redrive(ctx context.Context, seqs []uint64) ([]*Record, error)
	// Close releases the store, committing deferred work first.
	Close() error
}

// Owned is implemented by stores several peers may share (one database):
// the peer names itself before any other call, and the store keeps each
// peer's records apart.
type Owned interface {
	SetOwner(name string) error
}

// Flusher is implemented by stores that defer Ack's removals: Flush returns
// once every Ack queued before it is committed. A sender that hands a
// partition to another instance flushes first, so that a crash can never
// restore (and send to the new instance) a message the old one handled
// while later messages of its key are not restored.
type Flusher interface {
	Flush(ctx context.Context) error
}

// Durable is implemented by stores whose records survive the process: a
// peer closing with records unacknowledged keeps them for its next start
// instead of dead-lettering them.
type Durable interface {
	Durable() bool
}

// TxAppender is implemented by SQL stores: it writes records inside the
// application's own transaction (the transactional outbox), so a business
// change and the messages it emits commit or roll back together. A relay
// hands committed records to a peer to send.
type TxAppender interface {
	AppendTx(ctx context.Context, tx *sql.Tx, recs []*Record) error
}

// Relay is a source of committed outbox records: a polling publisher or a
// log tail. A peer runs one: it sends what Next returns, in order, and calls
// the store's Ack (or DeadLetter) for each record, then Settled.
type Relay interface {
	// Next blocks until outbox records are committed and returns them in
	// the order to send them (per key, the order they were committed in).
	// It returns ctx's error when ctx ends. Records returned may come again
	// after a restart or a takeover by another relay until they are acked.
	Next(ctx context.Context) ([]*Record, error)
	// Settled reports records that Next returned as acknowledged or
	// dead-lettered (the store has been told). A log tail confirms its
	// position with it.
	Settled(seqs []uint64)
	// Close stops the relay.
	Close() error
}

// Relayer is implemented by stores that relay their own outbox by polling.
type Relayer interface {
	// Relay returns a polling publisher on the store's outbox.
	Relay() Relay
}

// Claimer is implemented by SQL stores: the idempotent consumer's record
// of processed messages.
type Claimer interface {
	// Claim records in tx that consumer processed the message id. It
	// returns an error wrapping ErrProcessed if it did already (in a
	// committed transaction); the caller then rolls tx back and skips the
	// message.
	Claim(ctx context.Context, tx *sql.Tx, consumer, id string) error
}

var (
	// ErrNotFound is returned by Redrive for a Seq that is not a dead letter.
	ErrNotFound = errors.New("outbox: no such record")
	// ErrProcessed is returned by Claim for a message already processed.
	ErrProcessed = errors.New("outbox: message already processed")
	// ErrClosed is returned by a closed store or relay.
	ErrClosed = errors.New("outbox: closed")
)
