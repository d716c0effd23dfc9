package sqlite

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/meshmq/meshmq/peer/outbox/internal/sqlstore"
)

// DefaultBusyTimeout is how long a connection Open makes waits for another
// writer (the committer, a relay, an application transaction) to finish.
const DefaultBusyTimeout = 5 * time.Second

type config struct {
	sqlstore.Config
	synchronousFull bool
	busyTimeout     time.Duration
	openOnly        string // the first Open-only option given, for New to refuse
}

// Option configures a store; a bad value fails Open or New.
type Option func(*config) error

// TablePrefix names the tables: prefix + "_messages", "_dead", "_processed"
// (default "meshmq"). It must match [a-z_][a-z0-9_]*.
func TablePrefix(prefix string) Option {
	return func(c *config) error { return c.SetPrefix(prefix) }
}

// ProcessedRetention is how long Claim's records of processed messages are
// kept (default 7 days): a duplicate arriving later is processed again.
func ProcessedRetention(d time.Duration) Option {
	return func(c *config) error { return c.SetRetention(d) }
}

// PollInterval is how often a relay polls the outbox (default 50 ms), and
// how often a waiting relay tries to become the active one.
func PollInterval(d time.Duration) Option {
	return func(c *config) error { return c.SetPollInterval(d) }
}

// BatchSize is how many outbox rows a relay claims at once (default 256);
// one group commit takes up to 4 times as many appended records (1024).
func BatchSize(n int) Option {
	return func(c *config) error { return c.SetBatchSize(n) }
}

// WithLogger logs the store's background work: relay takeovers, failed
// deferred acks, pruning (default: silent).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error { return c.SetLogger(l) }
}

// SynchronousFull makes Open's connections sync the WAL at every commit
// (PRAGMA synchronous=FULL), so a power loss cannot roll back a commit. The
// default, NORMAL, syncs at checkpoints only: a crash of the process loses
// nothing committed, a power loss may lose the last commits. Open only.
func SynchronousFull() Option {
	return func(c *config) error {
		c.synchronousFull = true
		c.markOpenOnly("SynchronousFull")
		return nil
	}
}

// BusyTimeout is how long Open's connections wait for the write lock
// before failing (default 5 s). Open only.
func BusyTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("busy timeout %v: want > 0", d)
		}
		c.busyTimeout = d
		c.markOpenOnly("BusyTimeout")
		return nil
	}
}

func (c *config) markOpenOnly(name string) {
	if c.openOnly == "" {
		c.openOnly = name
	}
}

func configure(opts []Option) (config, error) {
	c := config{Config: sqlstore.DefaultConfig(), busyTimeout: DefaultBusyTimeout}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&c); err != nil {
			return c, fmt.Errorf("sqlite: option: %w", err)
		}
	}
	return c, nil
}
