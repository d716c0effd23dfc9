package sqlstore

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"
)

// Defaults of Config.
const (
	DefaultPrefix       = "meshmq"
	DefaultRetention    = 7 * 24 * time.Hour
	DefaultPollInterval = 50 * time.Millisecond
	DefaultBatchSize    = 256
	// CommitBatchFactor times BatchSize is the most records one group
	// commit takes (1024 by default).
	CommitBatchFactor = 4
)

// Config is what the stores' options set.
type Config struct {
	Prefix       string        // table names: Prefix + "_messages", "_dead", "_processed"
	Retention    time.Duration // how long processed claims are kept
	PollInterval time.Duration // how often a relay polls the outbox
	BatchSize    int           // outbox rows per relay claim; CommitBatchFactor times it per commit
	Logger       *slog.Logger
}

// DefaultConfig returns the defaults: prefix "meshmq", 7 days of processed
// claims, a 50 ms poll, batches of 256, a silent logger.
func DefaultConfig() Config {
	return Config{
		Prefix:       DefaultPrefix,
		Retention:    DefaultRetention,
		PollInterval: DefaultPollInterval,
		BatchSize:    DefaultBatchSize,
		Logger:       slog.New(slog.DiscardHandler),
	}
}

// maxPrefix keeps the longest derived name ("_processed_at" is 13 bytes)
// within PostgreSQL's 63-byte identifiers.
const maxPrefix = 48

var prefixRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// SetPrefix sets the table prefix: [a-z_][a-z0-9_]*, at most 48 bytes, so
// it can be spliced into SQL unquoted.
func (c *Config) SetPrefix(p string) error {
	if !prefixRE.MatchString(p) || len(p) > maxPrefix {
		return fmt.Errorf("table prefix %q: want [a-z_][a-z0-9_]*, at most %d bytes", p, maxPrefix)
	}
	c.Prefix = p
	return nil
}

// SetRetention sets how long processed claims are kept.
func (c *Config) SetRetention(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("processed retention %v: want > 0", d)
	}
	c.Retention = d
	return nil
}

// SetPollInterval sets how often a relay polls.
func (c *Config) SetPollInterval(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("poll interval %v: want > 0", d)
	}
	c.PollInterval = d
	return nil
}

// SetBatchSize sets the relay's batch, and the group commit's to
// CommitBatchFactor times it.
func (c *Config) SetBatchSize(n int) error {
	if n <= 0 || n > 1<<16 {
		return fmt.Errorf("batch size %d: want 1..65536", n)
	}
	c.BatchSize = n
	return nil
}

// SetLogger sets the logger; nil is refused rather than silently ignored.
func (c *Config) SetLogger(l *slog.Logger) error {
	if l == nil {
		return errors.New("nil logger")
	}
	c.Logger = l
	return nil
}

// Tables are the names the prefix gives.
type Tables struct{ Messages, Dead, Processed string }

// TablesOf returns the table names of prefix.
func TablesOf(prefix string) Tables {
	return Tables{prefix + "_messages", prefix + "_dead", prefix + "_processed"}
}
