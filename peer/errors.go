package peer

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by calls on a peer that is closing or closed.
	ErrClosed = errors.New("peer: closed")
	// ErrBufferFull is returned by Send when the retry buffer is full and the
	// peer was built WithFailFast.
	ErrBufferFull = errors.New("peer: retry buffer full")
	// ErrNoRoute is returned by Send when no member handles the service, or
	// the named peer is unknown.
	ErrNoRoute = errors.New("peer: no route")
	// ErrNotConnected is returned by a best-effort Send when the destination
	// has no connection: the message was not sent.
	ErrNotConnected = errors.New("peer: destination not connected")
	// ErrDuplicateHandler is returned by Handle for a service already handled.
	ErrDuplicateHandler = errors.New("peer: service already has a handler")
	// ErrReplyUndeliverable is returned by Reply when the requester cannot
	// be reached: it has no connection to this peer and discovery does not
	// list it (it is gone). The error also matches the cause (ErrNoRoute,
	// ErrClosed). A reply that becomes undeliverable after Reply accepted it
	// is dead-lettered with ReasonUndeliverable; both are counted in
	// Stats.UndeliveredReplies.
	ErrReplyUndeliverable = errors.New("peer: reply undeliverable")
	// ErrNoOutbox is returned by SendTx and PublishTx when the peer's store
	// keeps no outbox (the default in-memory store): use a SQL store.
	ErrNoOutbox = errors.New("peer: the store keeps no outbox")
)

// OptionError reports an invalid option value.
type OptionError struct {
	Option string
	Reason string
}

func (e *OptionError) Error() string { return fmt.Sprintf("peer: option %s: %s", e.Option, e.Reason) }
