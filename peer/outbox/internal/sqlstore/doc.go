// Package sqlstore is the implementation the SQL outbox stores share
// (peer/outbox/sqlite, peer/outbox/postgres): group commit, deferred acks,
// dead letters, the transactional outbox, the polling relay and the
// idempotent consumer's processed table. What differs between databases —
// the schema, how a batch of rows gets its seqs, how one relay is chosen —
// is a Dialect, which each store package implements.
//
// Queries here are written with ? placeholders; a Dialect rebinds them.
package sqlstore
