// Package sqlite is the SQLite outbox store (modernc.org/sqlite, no cgo): a
// peer's retry buffer that survives restarts, its dead letters, the
// transactional outbox and the idempotent consumer's processed claims, in
// one database file.
//
// # Durability
//
// Append returns once its records are committed (concurrent Appends share
// one transaction: group commit). Open puts the file in WAL mode with
// synchronous=NORMAL: a crash of the process loses nothing committed, but a
// power loss or OS crash may roll back the last transactions committed
// since the WAL was last synced (at a checkpoint). SynchronousFull syncs at
// every commit and closes that window, at the cost of a sync per group
// commit. Acks are deferred (Ack does not wait for a commit; the store
// commits them within about 50 ms, and on Close): a crash before may resend
// acknowledged records, which receivers drop as duplicates.
//
// # Owners
//
// Several peers may share a file: each calls SetOwner with its name and
// sees only its own pending records and dead letters.
//
// # The outbox and its relay
//
// AppendTx writes records inside the application's transaction; a relay
// (Relay) polls for committed outbox rows, claims them under its epoch and
// returns them in seq order. SQLite runs one writing transaction at a time
// (Open makes transactions immediate: they take the write lock when they
// begin), so seqs are given in commit order and no row becomes visible
// behind one already relayed.
//
// One relay of a Store is active at a time; the others wait. Relays of
// different Stores are not coordinated: run one relaying process per
// database file. A relay that becomes active takes a new epoch and with it
// every outbox row not acknowledged, in seq order: records may be sent
// again after a restart (at-least-once), never lost.
//
// Per key, records are relayed in seq order. An application that writes
// one key's events from concurrent transactions must serialise those
// transactions itself (SQLite does, by its single writer), or their seq
// order need not be the order it meant.
//
// # The idempotent consumer
//
// Claim records in the application's transaction that a consumer processed
// a message; a second claim fails with outbox.ErrProcessed. Claims older
// than ProcessedRetention (7 days) are pruned in the background.
package sqlite
