// Package postgres is the PostgreSQL outbox store (pgx through
// database/sql): a peer's retry buffer that survives restarts, its dead
// letters, the transactional outbox and the idempotent consumer's processed
// claims, in tables of the application's database.
//
// # Durability
//
// Append returns once its records are committed (concurrent Appends share
// one transaction, and one INSERT: group commit). What a commit survives is
// the server's: with synchronous_commit on (the default) nothing committed
// is lost to a crash or power loss of the server; with it off, the last
// commits may be. Acks are deferred (Ack does not wait for a commit; the
// store commits them within about 50 ms, and on Close): a crash before may
// resend acknowledged records, which receivers drop as duplicates.
//
// # Owners
//
// Several peers may share a database: each calls SetOwner with its name
// and sees only its own pending records and dead letters.
//
// # The outbox and its relay
//
// AppendTx writes records inside the application's transaction; a relay
// (Relay) polls for committed outbox rows, claims them under its epoch and
// returns them in seq order. It keeps no high-water mark: a row whose
// transaction took its seq early and committed late is relayed when it
// becomes visible.
//
// One relay is active per database (per table prefix), across all
// processes: it holds a session-level advisory lock on a connection of its
// own and claims rows on that connection. The others wait in Next, trying
// every PollInterval. When the active relay closes, or its process dies or
// its connection breaks, the lock goes, another relay takes it under a new
// epoch and claims every outbox row not acknowledged — including those its
// predecessor was sending — in seq order: records may be sent twice
// (at-least-once; receivers drop duplicates), never lost, and each key's
// order holds across the takeover.
//
// Per key, records are relayed in seq order among the visible rows. Seqs
// are given when rows are written, not when they commit: an application
// that writes one key's events from concurrent transactions must serialise
// those transactions (for instance by locking the aggregate's row with
// SELECT ... FOR UPDATE first), which also makes their seq order their
// commit order.
//
// # The idempotent consumer
//
// Claim records in the application's transaction that a consumer processed
// a message; a second claim fails with outbox.ErrProcessed, leaving the
// transaction usable. Claims older than ProcessedRetention (7 days) are
// pruned in the background.
package postgres
