// Package pglogtail relays the transactional outbox of the PostgreSQL store
// by tailing the database's log: logical replication of the outbox table
// with the built-in pgoutput plugin, so a committed outbox row reaches the
// peer within milliseconds, without polling the table. A Tail is an
// outbox.Relay.
//
// # Setup
//
// The server needs PostgreSQL 15 or later (for the publication's row
// filter) with wal_level=logical, and the tail's user the REPLICATION
// attribute. New creates, if missing, a publication of the outbox rows'
// inserts (rows of <prefix>_messages whose owner is NULL: a peer's own
// retry buffer is not streamed, nor are deletes and updates), a permanent
// logical replication slot, and a small table, <prefix>_outbox_sweeps,
// recording the sweeps of new slots (below).
//
// # Guarantees
//
// At least once: every outbox row committed comes out of Next, and keeps
// coming after restarts until the peer settles it. Rows may come twice
// (the peer's receivers drop duplicates); none is lost.
//
// Commit order: each transaction's rows come in insert order, the
// transactions in commit order, whatever their seqs. A rolled-back
// transaction yields nothing.
//
// Resume from the confirmed position: the tail confirms to the server the
// end of the newest transaction that, with every earlier one, the peer has
// settled (Settled), and reports it every StatusInterval, when the server
// asks and on Close. A new tail on the slot resumes there: the rows not
// settled come again, and so do the settled rows of any transaction after
// the first one not wholly settled. Within one Tail, a reconnect does not
// repeat rows.
//
// Rows committed before the slot existed are not in its stream: they are
// swept, in seq order, before anything streamed. Before creating the slot,
// the tail records a sweep of every outbox row in the sweeps table; once
// the slot's snapshot tells which rows came before it (seq <= the largest
// in the snapshot), it narrows the record to those, and sweeps them
// through the snapshot. The record stays until every row swept is
// settled. Any tail starting a session on the slot — after a crash, a
// takeover, a lost connection — first sweeps the rows the record names
// that are still in the table, then streams: rows committed before the
// slot always come before the rows committed after it, and a crash at any
// point of this repeats rows, never loses them. The sweep does not hold
// the confirmed position back: that waits only for streamed transactions.
//
// One active tail per slot: PostgreSQL streams a slot to one connection at
// a time. Another tail on the same slot stands by, trying every second,
// and takes over, from the confirmed position, when the active one closes
// or dies (the server notices a dead one within wal_sender_timeout).
//
// # Memory
//
// The tail reads ahead of Next by at most 10,000 records, then stops
// reading the stream until Next catches up, also in the middle of a large
// transaction (PostgreSQL sends a transaction only once it committed, so
// its rows can go out before its end arrives); meanwhile the tail keeps
// sending status updates, which keep the connection alive, and TCP holds
// the server back. Rows Next returned are remembered by seq until settled.
// A sweep reads 500 rows at a time; the first, through the new slot's
// snapshot, holds the snapshot's transaction open until it is done.
//
// # Errors
//
// The tail reconnects after any error, with backoff. A row it cannot
// decode (the table's columns changed type, say) is never skipped: the
// tail logs it at Error and stops before it, retrying, so the outbox
// stalls, visibly, rather than losing a message; once fixed, the tail
// resumes. To skip such a row instead, advance the slot past the logged
// position (pg_replication_slot_advance) with the tail stopped.
//
// # Operating the slot
//
// A slot keeps all WAL written since its confirmed position, so an
// abandoned slot — a tail that never comes back — fills the server's disk.
// Drop the slots of retired tails with DropSlot, or set the server's
// max_slot_wal_keep_size: past it, the server invalidates the slot, and
// the tail cannot stream it any more (it logs the server's error and
// retries). Then drop the slot with DropSlot (which also deletes its
// sweeps record): the tail creates it anew and sweeps the outbox rows in
// the table. A slot dropped under a running tail is created again the same
// way. A crash of the server may set the slot back
// to its last checkpoint: more duplicates, no losses.
package pglogtail
