package outboxtest

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/meshmq/meshmq/peer/outbox"
)

// Store is what the suite tests: a SQL store with every interface of one.
type Store interface {
	outbox.Store
	outbox.Owned
	outbox.Durable
	outbox.TxAppender
	outbox.Relayer
	outbox.Claimer
	DB() *sql.DB
	PruneProcessed(ctx context.Context, olderThan time.Time) (int64, error)
}

// Harness opens one kind of store for the suite.
type Harness struct {
	// Database returns a new, empty database for one test (a file path, a
	// DSN) and removes it when the test ends.
	Database func(t *testing.T) string
	// Open opens a store on database with a *sql.DB of its own (two stores
	// are two processes, in spirit), the default table prefix ("meshmq") and
	// a short poll interval. The suite closes it.
	Open func(t *testing.T, database string) (Store, error)
	// ConcurrentWriters reports that two transactions may write at once
	// (PostgreSQL; not SQLite, whose writers take turns), so one that wrote
	// first may commit last: the late-commit test needs it.
	ConcurrentWriters bool
	// RelayPerDatabase reports that one relay is active among all the
	// stores on a database (PostgreSQL); otherwise among one store's relays
	// (SQLite), and the takeover test uses two relays of one store.
	RelayPerDatabase bool
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"AppendOrder", testAppendOrder},
		{"ConcurrentAppenders", testConcurrentAppenders},
		{"AckAndReopen", testAckAndReopen},
		{"Readdress", testReaddress},
		{"OwnersKeptApart", testOwners},
		{"DeadLetterRedrive", testDeadLetterRedrive},
		{"DeadLettersPaged", testDeadLettersPaged},
		{"OutboxRollback", testOutboxRollback},
		{"OutboxOnceUntilAcked", testOutboxOnceUntilAcked},
		{"OutboxDeadLetter", testOutboxDeadLetter},
		{"OutboxLateCommit", testOutboxLateCommit},
		{"OutboxFullBatch", testOutboxFullBatch},
		{"RelayTakeover", testRelayTakeover},
		{"RelayContext", testRelayContext},
		{"Claim", testClaim},
		{"ClaimConcurrent", testClaimConcurrent},
		{"PruneProcessed", testPrune},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}
