// Package peer is the meshmq peer a service embeds: it handles the services
// it registers (Handle), subscribes to topics (Subscribe), and sends to other
// peers one-way (Send), to every subscriber group (Publish) or as a request
// awaiting its reply (Request), with no broker in between. Peers find each other through a
// discovery.Discovery and talk over meshmq's ZMTP transport (PROTOCOL.md).
//
// # Guarantees
//
// At-least-once by default. Send returns once the message is in the sender's
// retry buffer. It stays there until the receiving peer acknowledges it —
// which the receiver does after its handler returned nil — or until the
// retry policy gives up; then it goes to the dead-letter callback with the
// reason (WithDeadLetter). A message is never dropped silently: a receiver
// that cannot take it NACKs it, and a connection that breaks has everything
// unacknowledged resent, in order, on the next one.
//
// Handler errors. A handler error or panic NACKs the message: the sender
// retries it with exponential backoff and jitter, up to the policy's
// attempts and age (WithRetry, or Retry per Send). channel.Permanent(err)
// dead-letters it at once. TTL and Deadline expire it.
//
// Duplicates. The receiver drops duplicates exactly within a sender's
// epoch (one process run) by sequence number, with memory proportional to
// the senders, not to the traffic; across epochs (a sender restarted from a
// durable store) by message ID in a bounded window (WithDedupWindow). A
// handler that ran on a peer killed before its acknowledgement left runs
// again when the message is resent: only an idempotent consumer (keeping
// the IDs it processed in the same transaction as its effects) makes that
// exactly-once. A receiver closed with Close finishes its running handlers
// and sends their acknowledgements before it goes, so it handles nothing
// twice when restarted.
//
// Order. Messages from one sender with the same Key are handled one at a
// time, in send order, across retries and reconnections: a message being
// retried holds back the later messages of its key. Messages without a Key,
// and messages of different keys or senders, are handled concurrently (up to
// Concurrency per service) in no particular order.
//
// Partitions. A service handled with Partitions(n), or a subscriber group
// subscribed with it, is partitioned: a message's Key selects one of n
// partitions (a stable hash, the same in every peer), and each partition is
// owned by one live instance (group member) at a time, the winner of a
// rendezvous hash over the cluster view, so that a join or a departure moves
// only about 1/N of the partitions. A sender keeps, per partition, one owner
// at a time: when the owner changes, the partition's newer messages wait
// until the old owner has settled everything it was given, or, if it failed,
// until its connection is closed and its unacknowledged messages have gone to
// the new owner first, in order. So per sender and key, messages are handled
// in send order across retries, failover and ownership moves, and one
// instance at a time; a message handled again after a crash (its
// acknowledgement lost) comes before every later message of its key.
// Failure means a closed connection: an instance that stalls longer than the
// heartbeat timeout is fenced out although alive, and what it handles on
// waking, before it reads the close, may be handled again elsewhere, after
// later messages of its key.
// Across senders there is no order: two senders' messages of one key reach
// the same owner but interleave as they arrive. The receiver handles each
// sender's partition one message at a time, different partitions
// concurrently (Concurrency); a sender is known by name, so the messages of
// a restarted sender wait for the one its earlier incarnation left running,
// and one that turns out already handled by then is acknowledged without
// running. A keyed message to a service no member is known to handle yet
// (a restarted sender's restored messages, before discovery has caught up)
// waits, in order, until one is: only then is it known whether the service
// is partitioned, and the partition owner is chosen. Messages without a Key
// are spread freely.
//
// Backpressure. The retry buffer is bounded in messages and bytes
// (WithBuffer); when it is full, Send waits until its ctx ends, or fails at
// once with ErrBufferFull (WithFailFast). Receivers grant credit per sender
// stream (WithCredit), so a slow handler slows its senders instead of growing
// the receiver's memory.
//
// Best effort. Send with BestEffort is at-most-once: no buffer, no
// acknowledgement, no retry. The message is lost if the connection breaks or
// the handler fails, and Send fails with ErrNotConnected when the
// destination has no connection.
//
// Publish/subscribe. Each subscriber group whose pattern matches an event's
// topic gets the event at least once, handled by one of its members (a
// subscription without Group is a group of its own). The publisher encodes
// the event once and keeps one copy per group in its retry buffer until a
// member acknowledges it; a member's failure moves its unacknowledged copies
// to another member once its connection is closed. While every member of a
// group is failed, the publisher retains the group's copies and delivers them
// when a member returns. Each group's copies are bounded on their own (Retain:
// age, count, bytes); past them one copy is dead-lettered (ReasonOverflow,
// ReasonMaxAge), so a slow or absent group never holds Publish back beyond the
// sender's whole buffer. A group whose members all left or unsubscribed has
// ended: its copies are dead-lettered with ReasonUnsubscribed. Unreliable
// subscriptions and BestEffort publishes are at most once.
//
// Request/reply. A request is a message like any other (at least once,
// failover included); the handler's Reply is sent only if the handler
// returns nil, and the request is acknowledged after it. A request whose
// responder dies runs again on another instance (counted in
// Stats.FailedOver); one repeated under the same ID at the same responder gets
// the cached reply without a second run (Stats.CachedReplies). A reply after
// Request gave up is dropped and counted (Stats.LateReplies). The reply goes
// to the requester whether or not the responder's discovery lists it: over
// the connection the requester identified itself on (its HELLO), or at the
// endpoint its HELLO gave. A reply is never dropped silently either: Reply
// returns ErrReplyUndeliverable when the requester cannot be reached (no
// connection, not listed: it is gone), and a reply that cannot be sent after
// the handler returned is dead-lettered with ReasonUndeliverable; both are
// counted in Stats.UndeliveredReplies.
//
// Close. Close stops intake, lets running handlers finish (their replies
// still go out), waits for the acknowledgement of everything sent, flushes
// acknowledgements, leaves discovery and drains the connections; every
// goroutine has ended when it returns. What running handlers send (replies,
// commands, events) still goes out: their work may finish. Messages still
// unacknowledged when its ctx ends are dead-lettered with ReasonClosed — or,
// with a durable store, kept in it for the next start (Stats.Kept).
//
// Durability. With the in-memory store (the default) the retry buffer does
// not survive the sender's process. With a SQL store (WithStore with
// outbox/sqlite or outbox/postgres) Send and Publish return once the message
// is committed; a peer restarted under the same name after a crash resends
// everything its store holds unacknowledged, in Seq order, so each key's
// order holds (Stats.Restored): restored messages go through the same
// partition lanes as new ones, ahead of them, and a group's restored copies
// are retained until the group is known again, then go to their
// partitions' owners ahead of newer copies. SendTx and PublishTx write a message into
// the application's own transaction (the transactional outbox): it is sent
// if and only if the transaction commits, by the relay (the store's polling
// publisher by default, or WithRelay, e.g. a PostgreSQL log tail), at least
// once. Exactly-once effects need an idempotent consumer
// (outbox.Idempotent), whose claim commits with the handler's own changes.
//
// Security. With WithSecurity every data connection is ZMTP CURVE
// (libzmq-compatible): encrypted, and authenticated both ways. A peer admits
// a client, and dials a member, only if its key is in the allowlist (deny by
// default); changes to the allowlist apply at once, closing the connections
// of revoked keys. Members advertise their public key through discovery; a
// dialer pins it, and an acceptor refuses a client whose claimed name
// advertises another key, so a received message's From is the authenticated
// sender. The same profile's gossip keys encrypt the gossip the peer starts.
// A peer without it, or with an open allowlist or unencrypted gossip, logs a
// warning once and lists the gaps in Stats.Security. SECURITY.md states the
// threat model.
package peer
