// Package outbox defines the store behind a peer's retry buffer, holds the
// in-memory store (the default), and the idempotent consumer.
//
// A message stays in the store from Send until its receiver acknowledges it
// or it is dead-lettered; dead letters stay until re-driven. Records are
// appended in batches, acknowledged by ranges, reloaded in order after a
// restart (Pending), and kept per peer (Owned) when peers share a database.
// The in-memory store keeps nothing across a restart; the SQL stores
// (subpackages sqlite and postgres) keep everything committed, and also
// hold the transactional outbox (TxAppender: records written in the
// application's own transaction, sent by a Relay once it commits) and the
// idempotent consumer's claims (Claimer).
//
// Guarantees, with a SQL store:
//   - A record Append returned for survives a crash of the process; what
//     survives a power loss is the database's (see each store).
//   - A record written with AppendTx is relayed if and only if its
//     transaction commits, at least once; per key in Seq order.
//   - Idempotent runs a handler's transaction at most once per message ID
//     and consumer, across redeliveries and restarts of either side, for
//     the claims' retention.
package outbox
