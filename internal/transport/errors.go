package transport

import (
	"errors"
	"fmt"

	"github.com/meshmq/meshmq/internal/wire"
)

var (
	// ErrClosed is returned by calls on a closed Transport or Conn.
	ErrClosed = errors.New("transport: closed")
	// ErrNotConnected is returned by Link.Send while the link has no connection.
	ErrNotConnected = errors.New("transport: not connected")
	// ErrQueueFull is returned by TrySend when the connection's send queue is full.
	ErrQueueFull = errors.New("transport: send queue full")
	// ErrTooLarge matches frames and messages over a configured limit.
	ErrTooLarge = errors.New("transport: too large")
	// ErrProtocol matches violations of ZMTP or PROTOCOL.md by the remote side.
	ErrProtocol = errors.New("transport: protocol violation")
	// ErrHeartbeatTimeout is why a connection closes when the remote side
	// sends nothing for the heartbeat timeout (a half-open connection).
	ErrHeartbeatTimeout = errors.New("transport: heartbeat timeout")
	// ErrWrongPeer is returned when the peer at an endpoint is not the one dialed.
	ErrWrongPeer = errors.New("transport: endpoint is another peer")
	// ErrReplaced is why a connection closes when a newer one to the same peer wins.
	ErrReplaced = errors.New("transport: replaced by a newer connection")
	// ErrRemoteDrained is why a connection closes after the remote side drained it.
	ErrRemoteDrained = errors.New("transport: remote peer drained the connection")
	// ErrUnidentified is why an accepted CURVE connection is refused when
	// the name its HELLO claims does not belong to the key it authenticated
	// with (CurveConfig.Identify).
	ErrUnidentified = errors.New("transport: claimed name does not match the authenticated key")
)

// LimitError reports a frame or message over a limit; it matches ErrTooLarge.
type LimitError struct {
	What  string // "frame", "message", "handshake frame"
	Size  uint64
	Limit uint64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("transport: %s of %d bytes exceeds the limit of %d", e.What, e.Size, e.Limit)
}

func (e *LimitError) Is(target error) bool { return target == ErrTooLarge }

// RefusedError is returned when the remote side answered with an ERROR packet.
type RefusedError struct {
	Code wire.Code
	Text string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("transport: refused by remote peer: %v: %s", e.Code, e.Text)
}

func protocolErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, args...)...)
}
