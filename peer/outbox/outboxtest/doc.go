// Package outboxtest is the conformance suite of the SQL outbox stores
// (peer/outbox/sqlite, peer/outbox/postgres): each store package runs Run
// with a Harness that opens its stores on a real database.
//
// Every test states exact outcomes: which records, in which order, how
// many times. Tests wait on conditions, never sleep.
package outboxtest
