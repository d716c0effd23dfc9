package postgres

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/meshmq/meshmq/peer/outbox/internal/sqlstore"
)

type config struct {
	sqlstore.Config
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

func configure(opts []Option) (config, error) {
	c := config{Config: sqlstore.DefaultConfig()}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&c); err != nil {
			return c, fmt.Errorf("postgres: option: %w", err)
		}
	}
	return c, nil
}
