package peer

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/internal/backoff"
	"github.com/meshmq/meshmq/internal/transport"
	"github.com/meshmq/meshmq/peer/outbox"
	"github.com/meshmq/meshmq/security"
)

// Option configures a peer. Options return an error for invalid values,
// which New reports.
type Option func(*config) error

type config struct {
	name          string
	listen        string
	advertise     string
	disc          discovery.Discovery
	gossip        *discovery.GossipConfig
	logger        *slog.Logger
	store         outbox.Store
	retry         RetryPolicy
	maxMessages   int
	maxBytes      int
	failFast      bool
	onDeadLetter  func(DeadLetter)
	sendMW        []SendMiddleware
	handleMW      []HandleMiddleware
	dedupWindow   int
	credit        int
	heartbeat     time.Duration
	heartbeatTO   time.Duration
	reconnect     backoff.Policy
	maxMessageLen int
	maxConns      int // 0: the transport's default
	maxHandshakes int
	relay         outbox.Relay
	noRelay       bool
	security      *security.Config
	// wrapHandler, set by tests only, wraps the handler the transport
	// calls, to reorder or observe its calls.
	wrapHandler func(transport.Handler) transport.Handler
}

func defaults() config {
	var b [4]byte
	rand.Read(b[:])
	return config{
		name:        "peer-" + hex.EncodeToString(b[:]),
		listen:      "tcp://127.0.0.1:0",
		retry:       DefaultRetry,
		maxMessages: 16384,
		maxBytes:    16 << 20,
		dedupWindow: 65536,
		credit:      4096,
	}
}

// WithName sets the peer's name, unique in the cluster. Default: "peer-"
// and 8 random hex digits.
func WithName(name string) Option {
	return func(c *config) error {
		if name == "" {
			return &OptionError{"WithName", "empty name"}
		}
		c.name = name
		return nil
	}
}

// WithListen sets the data endpoint, "tcp://host:port" (port 0: any free
// port). Default "tcp://127.0.0.1:0".
func WithListen(endpoint string) Option {
	return func(c *config) error { c.listen = endpoint; return nil }
}

// WithAdvertise sets the endpoint other peers dial, when it differs from the
// listen endpoint (NAT, containers).
func WithAdvertise(endpoint string) Option {
	return func(c *config) error { c.advertise = endpoint; return nil }
}

// WithDiscovery sets how the peer finds others. Default: an empty
// discovery.Static (the peer can receive, and send to no one).
func WithDiscovery(d discovery.Discovery) Option {
	return func(c *config) error {
		if d == nil {
			return &OptionError{"WithDiscovery", "nil discovery"}
		}
		c.disc = d
		return nil
	}
}

// WithSeeds makes the peer discover others by gossip (discovery.Gossip,
// LAN profile, gossip bound to 127.0.0.1 on any port) joining these gossip
// addresses. Use WithGossip, or WithDiscovery with a discovery.Gossip, for
// more control. A peer with none of them uses an empty static member list.
func WithSeeds(addrs ...string) Option {
	return func(c *config) error {
		c.gossip = &discovery.GossipConfig{Seeds: addrs}
		return nil
	}
}

// WithGossip makes the peer discover others by gossip with cfg (bind and
// advertise addresses, seeds, keys, profile); the peer's logger is used
// when cfg has none.
func WithGossip(cfg discovery.GossipConfig) Option {
	return func(c *config) error {
		c.gossip = &cfg
		return nil
	}
}

// WithLogger sets the logger. Default: silent.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error { c.logger = l; return nil }
}

// WithStore sets the store behind the retry buffer. Default: an
// outbox.Memory owned (and closed) by the peer.
func WithStore(s outbox.Store) Option {
	return func(c *config) error {
		if s == nil {
			return &OptionError{"WithStore", "nil store"}
		}
		c.store = s
		return nil
	}
}

// WithRelay sets the relay that sends the store's committed outbox records
// (SendTx, PublishTx): for example a log tail (pglogtail). Default: the
// store's polling publisher, when the store keeps an outbox. The peer
// closes the relay at Close. It needs WithStore with the store the relay
// reads, which removes what the peer acknowledges.
func WithRelay(r outbox.Relay) Option {
	return func(c *config) error {
		if r == nil {
			return &OptionError{"WithRelay", "nil relay"}
		}
		c.relay = r
		return nil
	}
}

// WithoutRelay turns the outbox relay off: this peer writes to the outbox
// (SendTx, PublishTx) but another peer on the same database relays it.
func WithoutRelay() Option {
	return func(c *config) error {
		c.noRelay = true
		return nil
	}
}

// WithRetry sets the default retry policy; Send's Retry option overrides it
// per message. Default DefaultRetry.
func WithRetry(p RetryPolicy) Option {
	return func(c *config) error {
		if err := p.validate(); err != nil {
			return err
		}
		c.retry = p
		return nil
	}
}

// WithBuffer bounds the retry buffer: messages sent and not yet
// acknowledged, in count and in bytes (each message counts its encoding plus
// the bookkeeping that keeps it). Default 16,384 and 16 MiB.
func WithBuffer(maxMessages, maxBytes int) Option {
	return func(c *config) error {
		if maxMessages < 1 || maxBytes < 1 {
			return &OptionError{"WithBuffer", "bounds must be positive"}
		}
		c.maxMessages, c.maxBytes = maxMessages, maxBytes
		return nil
	}
}

// WithFailFast makes Send fail at once with ErrBufferFull when the retry
// buffer is full, instead of waiting for room until its ctx ends.
func WithFailFast() Option {
	return func(c *config) error { c.failFast = true; return nil }
}

// WithDeadLetter sets the callback for messages the peer gives up on. It is
// called from the peer's goroutines and must not block for long. Default:
// log them at warn level.
func WithDeadLetter(fn func(DeadLetter)) Option {
	return func(c *config) error { c.onDeadLetter = fn; return nil }
}

// WithSendMiddleware adds send-side interceptors; the first is outermost.
func WithSendMiddleware(mw ...SendMiddleware) Option {
	return func(c *config) error { c.sendMW = append(c.sendMW, mw...); return nil }
}

// WithHandleMiddleware adds handle-side interceptors; the first is outermost.
func WithHandleMiddleware(mw ...HandleMiddleware) Option {
	return func(c *config) error { c.handleMW = append(c.handleMW, mw...); return nil }
}

// WithDedupWindow sets how many handled message IDs the receiver remembers
// to drop resends across sender restarts (sequence numbers catch the rest).
// Default 65,536; 0 disables the window.
func WithDedupWindow(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return &OptionError{"WithDedupWindow", "negative"}
		}
		c.dedupWindow = n
		return nil
	}
}

// WithCredit sets how many unsettled messages each sender may have in flight
// to this peer per stream: receiver-driven flow control. Default 4096.
func WithCredit(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return &OptionError{"WithCredit", "must be positive"}
		}
		c.credit = n
		return nil
	}
}

// WithHeartbeat sets how often an idle connection sends a heartbeat and
// after how long a silent one is closed. Default 1s and 5s (a LAN).
func WithHeartbeat(interval, timeout time.Duration) Option {
	return func(c *config) error {
		if interval <= 0 || timeout <= interval {
			return &OptionError{"WithHeartbeat", "need 0 < interval < timeout"}
		}
		c.heartbeat, c.heartbeatTO = interval, timeout
		return nil
	}
}

// WithConnectionLimits bounds the data connections this peer keeps
// established (further inbound ones are refused with ERROR busy, and their
// peers retry) and the inbound connections in handshake at once (further
// ones are closed at accept). Defaults 4096 and 256. A refusal is counted in
// Stats.Connections and logged at WARN at most once a minute per limit.
func WithConnectionLimits(maxConnections, maxHandshakes int) Option {
	return func(c *config) error {
		if maxConnections < 1 || maxHandshakes < 1 {
			return &OptionError{"WithConnectionLimits", "need both limits at least 1"}
		}
		c.maxConns, c.maxHandshakes = maxConnections, maxHandshakes
		return nil
	}
}

// WithReconnect sets the backoff between dials of a peer that cannot be
// reached. Default 50ms growing to 5s.
func WithReconnect(min, max time.Duration) Option {
	return func(c *config) error {
		if min <= 0 || max < min {
			return &OptionError{"WithReconnect", "need 0 < min <= max"}
		}
		c.reconnect = backoff.Policy{Min: min, Max: max, Factor: 2, Jitter: 0.5}
		return nil
	}
}

// WithMaxMessageSize bounds one encoded message, sent or received.
// Default 4 MiB.
func WithMaxMessageSize(n int) Option {
	return func(c *config) error {
		if n < 1024 {
			return &OptionError{"WithMaxMessageSize", "below 1 KiB"}
		}
		c.maxMessageLen = n
		return nil
	}
}

// HandleOption configures one handler.
type HandleOption func(*handleConfig) error

type handleConfig struct {
	concurrency int
	partitions  int
	// Subscribe only.
	group   string
	sub     discovery.Subscription // advertised bounds and policies
	subOnly string                 // the first subscription-only option given
	// Documentation (Takes, Answers).
	takes, answers []MessageType
}

func (c *handleConfig) subscribeOnly(name string) {
	if c.subOnly == "" {
		c.subOnly = name
	}
}

// Concurrency sets how many messages of the service are handled at once.
// Messages with the same Key from one sender are always handled one at a
// time, in send order. Default 1.
func Concurrency(n int) HandleOption {
	return func(c *handleConfig) error {
		if n < 1 {
			return &OptionError{"Concurrency", "must be positive"}
		}
		c.concurrency = n
		return nil
	}
}

// MaxPartitions bounds Partitions.
const MaxPartitions = 1 << 16

// Partitions partitions a service (Handle) or a subscriber group
// (Subscribe): a message's Key selects one of n partitions, and each
// partition is owned by one live instance (member) at a time, chosen by
// rendezvous hashing over the cluster view, so that competing consumers
// share the load while each key's messages stay in order across failures and
// ownership moves (see the package doc). All instances must use the same n.
// Messages without a Key are spread freely.
func Partitions(n int) HandleOption {
	return func(c *handleConfig) error {
		if n < 1 || n > MaxPartitions {
			return &OptionError{"Partitions", fmt.Sprintf("want 1 to %d", MaxPartitions)}
		}
		c.partitions = n
		return nil
	}
}

// Group makes a subscription part of the subscriber group name: each event
// reaches one member of the group (spread over its members, failing over
// when one dies), and every group gets each event. Without Group a
// subscription is a group of its own. Subscribe only.
func Group(name string) HandleOption {
	return func(c *handleConfig) error {
		if err := validGroup(name); err != nil {
			return err
		}
		c.group = name
		c.subscribeOnly("Group")
		return nil
	}
}

// Default bounds on the copies a publisher keeps for one subscriber group.
const (
	DefaultRetainAge   = 10 * time.Minute
	DefaultRetainCount = 8192
	DefaultRetainBytes = 8 << 20
)

// Retain bounds what each publisher keeps for the subscription's group:
// copies in flight to its members, and copies retained while every member
// is failed. Past maxAge a retained copy is dead-lettered (ReasonMaxAge);
// past maxCount copies or maxBytes encoded bytes one copy is dead-lettered
// (ReasonOverflow): the oldest not yet sent, or the newest with DropNewest.
// Zero keeps a default (10 minutes, 8,192 copies, 8 MiB). Members of a group
// should agree; publishers take the largest of each bound. Subscribe only.
func Retain(maxAge time.Duration, maxCount, maxBytes int) HandleOption {
	return func(c *handleConfig) error {
		if maxAge < 0 || maxCount < 0 || maxBytes < 0 {
			return &OptionError{"Retain", "negative bound"}
		}
		c.sub.MaxAge, c.sub.MaxCount, c.sub.MaxBytes = maxAge, maxCount, maxBytes
		c.subscribeOnly("Retain")
		return nil
	}
}

// DropNewest makes a full group give up the newest copy instead of the
// oldest unsent one. Subscribe only.
func DropNewest() HandleOption {
	return func(c *handleConfig) error {
		c.sub.DropNewest = true
		c.subscribeOnly("DropNewest")
		return nil
	}
}

// Unreliable makes publishers send the subscription's copies best-effort:
// at most once, no acknowledgement, no retry, no retention; a copy is lost
// when the connection breaks, the member fails, or none is connected. For
// high-rate telemetry where the next event supersedes a lost one.
// Subscribe only.
func Unreliable() HandleOption {
	return func(c *handleConfig) error {
		c.sub.BestEffort = true
		c.subscribeOnly("Unreliable")
		return nil
	}
}

// SendOption configures one Send.
type SendOption func(*sendConfig) error

type sendConfig struct {
	retry      *RetryPolicy
	bestEffort bool
	publish    bool    // set by Publish
	freshID    bool    // Send or Publish made the message's ID
	tx         *sql.Tx // SendTx, PublishTx: into the outbox in this transaction
}

// Retry overrides the peer's retry policy for this message.
func Retry(p RetryPolicy) SendOption {
	return func(c *sendConfig) error {
		if err := p.validate(); err != nil {
			return err
		}
		c.retry = &p
		return nil
	}
}

// BestEffort sends the message at most once: no retry buffer, no
// acknowledgement, no retry. It is lost if the connection breaks or the
// receiver fails; Send fails with ErrNotConnected when there is no
// connection. For high-rate data where the next message supersedes a lost one.
func BestEffort() SendOption {
	return func(c *sendConfig) error { c.bestEffort = true; return nil }
}
