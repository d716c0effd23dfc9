package transport

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/meshmq/meshmq/internal/backoff"
	"github.com/meshmq/meshmq/internal/wire"
)

// Config configures a Transport. Zero fields take the defaults documented on
// each; only Name is required.
type Config struct {
	// Name is this peer's stable name, sent in HELLO.
	Name string
	// Epoch identifies this process start; 0 picks one from the clock.
	Epoch uint64
	// Listen is the endpoint to accept on, "tcp://host:port"; port 0 picks
	// a free one. Default "tcp://127.0.0.1:0".
	Listen string
	// Advertise is the endpoint sent in HELLO for others to dial back;
	// default the listener's actual address.
	Advertise string

	// Handler receives connection events and packets. Default: ignore them.
	Handler Handler
	// Logger receives the transport's logs. Default: none.
	Logger *slog.Logger
	// Secure, if set, wraps every connection before the ZMTP greeting.
	Secure Securer
	// Curve, if set, secures every connection with ZMTP CURVE (libzmq
	// compatible); it excludes Secure. Default nil: the NULL mechanism.
	Curve *CurveConfig

	// MaxMessageSize bounds one encoded message (an entry's Message), on
	// send and on receipt. Default 4 MiB.
	MaxMessageSize int
	// MaxFrameSize bounds one ZMTP frame; it must hold one message and its
	// entry. Default MaxMessageSize + 64 KiB.
	MaxFrameSize int
	// MaxReceiveMemory bounds the bytes of large frames all connections are
	// reading at once (frames under 64 KiB do not count). Default 64 MiB,
	// at least MaxFrameSize.
	MaxReceiveMemory int
	// MaxHandshakes bounds connections accepted but not yet through HELLO;
	// more are closed at once. Default 256.
	MaxHandshakes int
	// MaxConnections bounds established connections; further inbound
	// HELLOs are refused with ERROR busy. Default 4096.
	MaxConnections int
	// HandshakeTimeout bounds the ZMTP handshake and HELLO. Default 5s.
	HandshakeTimeout time.Duration

	// HeartbeatInterval is how often an idle connection sends a HEARTBEAT.
	// Default 1s.
	HeartbeatInterval time.Duration
	// HeartbeatTimeout closes a connection that received nothing for this
	// long (at least 3 of the remote's intervals). Default 5s.
	HeartbeatTimeout time.Duration
	// WriteTimeout closes a connection whose remote side has read nothing
	// for this long while we had bytes to write. Default 30s.
	WriteTimeout time.Duration

	// Reconnect shapes the delays between dials of a wanted link.
	// Default backoff.Default.
	Reconnect backoff.Policy
	// SendQueueBytes bounds the DATA bytes queued on one connection.
	// Default 8 MiB.
	SendQueueBytes int
	// BatchBytes is the target size of one DATA frame. Default 64 KiB.
	BatchBytes int
	// InitialCredit is advertised in HELLO for the delivery layer.
	InitialCredit uint64
}

// Securer secures a connection before zmq4 sees it, for mechanisms other
// than CURVE (which Config.Curve provides): it runs its own handshake on c
// within deadline and returns a connection carrying plaintext ZMTP, over
// which zmq4 runs the NULL mechanism. Frame limits apply to that plaintext
// as to any other.
type Securer interface {
	Secure(c net.Conn, server bool, deadline time.Time) (net.Conn, error)
}

const (
	defaultMaxMessage   = 4 << 20
	frameOverhead       = 64 << 10
	defaultRecvMemory   = 64 << 20
	handshakeMaxFrame   = 8 << 10
	budgetFreeBelow     = 64 << 10
	defaultSendQueue    = 8 << 20
	defaultBatchBytes   = 64 << 10
	minHeartbeatTimeout = 10 * time.Millisecond
)

func (c Config) withDefaults() (Config, error) {
	if c.Name == "" {
		return c, errors.New("transport: Config.Name is required")
	}
	if c.Epoch == 0 {
		c.Epoch = uint64(time.Now().UnixNano())
	}
	if c.Listen == "" {
		c.Listen = "tcp://127.0.0.1:0"
	}
	if c.Handler == nil {
		c.Handler = NopHandler{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	setInt := func(p *int, def int) {
		if *p <= 0 {
			*p = def
		}
	}
	setDur := func(p *time.Duration, def time.Duration) {
		if *p <= 0 {
			*p = def
		}
	}
	setInt(&c.MaxMessageSize, defaultMaxMessage)
	setInt(&c.MaxFrameSize, c.MaxMessageSize+frameOverhead)
	setInt(&c.MaxReceiveMemory, max(defaultRecvMemory, c.MaxFrameSize))
	setInt(&c.MaxHandshakes, 256)
	setInt(&c.MaxConnections, 4096)
	setInt(&c.SendQueueBytes, defaultSendQueue)
	setInt(&c.BatchBytes, defaultBatchBytes)
	setDur(&c.HandshakeTimeout, 5*time.Second)
	setDur(&c.HeartbeatInterval, time.Second)
	setDur(&c.HeartbeatTimeout, DefaultHeartbeatTimeout)
	setDur(&c.WriteTimeout, 30*time.Second)
	if c.Reconnect == (backoff.Policy{}) {
		c.Reconnect = backoff.Default
	}
	switch {
	case c.MaxFrameSize < c.MaxMessageSize+wireEntryOverhead:
		return c, fmt.Errorf("transport: MaxFrameSize %d cannot hold a message of MaxMessageSize %d", c.MaxFrameSize, c.MaxMessageSize)
	case c.MaxReceiveMemory < c.MaxFrameSize:
		return c, fmt.Errorf("transport: MaxReceiveMemory %d is below MaxFrameSize %d", c.MaxReceiveMemory, c.MaxFrameSize)
	case c.HeartbeatTimeout < minHeartbeatTimeout || c.HeartbeatTimeout <= c.HeartbeatInterval:
		return c, fmt.Errorf("transport: HeartbeatTimeout %v must exceed HeartbeatInterval %v", c.HeartbeatTimeout, c.HeartbeatInterval)
	}
	if c.Curve != nil {
		if c.Secure != nil {
			return c, errors.New("transport: Config.Curve and Config.Secure exclude each other")
		}
		if err := c.Curve.Keys.Check(); err != nil {
			return c, fmt.Errorf("transport: Config.Curve.Keys: %w", err)
		}
	}
	if _, err := parseEndpoint(c.Listen); err != nil {
		return c, err
	}
	return c, nil
}

// wireEntryOverhead bounds what a DATA packet adds around one message: the
// packet header and an entry with a 255-byte group name.
const wireEntryOverhead = 512

// parseEndpoint returns the host:port of a "tcp://host:port" endpoint.
func parseEndpoint(ep string) (string, error) {
	addr, ok := strings.CutPrefix(ep, "tcp://")
	if !ok {
		return "", fmt.Errorf("transport: endpoint %q: only tcp:// is supported", ep)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", fmt.Errorf("transport: endpoint %q: %w", ep, err)
	}
	return addr, nil
}

func (c *Config) hello(versions []uint64, endpoint string) *wire.Hello {
	return &wire.Hello{
		Versions:         versions,
		Name:             c.Name,
		Epoch:            c.Epoch,
		Endpoint:         endpoint,
		MaxFrame:         uint64(c.MaxFrameSize),
		MaxMessage:       uint64(c.MaxMessageSize),
		HeartbeatTimeout: c.HeartbeatTimeout,
		InitialCredit:    c.InitialCredit,
	}
}

// DefaultHeartbeatTimeout is Config.HeartbeatTimeout when unset.
const DefaultHeartbeatTimeout = 5 * time.Second
