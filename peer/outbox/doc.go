// Package outbox defines the store behind a peer's retry buffer and holds the
// in-memory store, the default. A message stays in the store from Send until
// its receiver acknowledges it or it is dead-lettered; dead letters stay
// until re-driven or dropped.
//
// The interface is shaped for the durable stores (SQLite, PostgreSQL) and the
// transactional outbox that follow: records are appended in batches and
// acknowledged by ranges, can be re-addressed when their destination fails
// over, are reloaded in order after a restart, and dead letters are kept and
// can be re-driven. The in-memory store keeps nothing across a restart.
package outbox
