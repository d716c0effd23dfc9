package pglogtail

import (
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"regexp"
	"strings"
	"time"
)

// An Option configures New. Options check their argument and return an
// error New reports.
type Option func(*config) error

type config struct {
	prefix         string
	slot           string
	publication    string
	statusInterval time.Duration
	log            *slog.Logger

	// Not options: tests shorten or shrink them.
	bufferLimit  int           // rows waiting for Next before the tail stops reading
	standbyRetry time.Duration // how often a standby tail tries the active slot
	minBackoff   time.Duration
	maxBackoff   time.Duration
	afterSlot    func() // called once a slot is created, before its snapshot is read
}

const (
	defaultPrefix = "meshmq"
	// bufferLimit bounds the records read ahead of Next: 10,000 rows of a
	// few KB is tens of MB at worst.
	defaultBufferLimit = 10_000
)

// Names are interpolated into SQL and replication commands (the
// replication protocol has no parameters), so they are held to plain
// lower-case identifiers. A slot name is what PostgreSQL allows for slots.
var (
	identRe = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	slotRe  = regexp.MustCompile(`^[a-z0-9_]+$`)
)

const maxIdentLen = 63 // NAMEDATALEN - 1

func newConfig(opts []Option) (config, error) {
	c := config{
		prefix:         defaultPrefix,
		statusInterval: time.Second,
		log:            slog.New(slog.DiscardHandler),
		bufferLimit:    defaultBufferLimit,
		standbyRetry:   time.Second,
		minBackoff:     100 * time.Millisecond,
		maxBackoff:     10 * time.Second,
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&c); err != nil {
			return c, err
		}
	}
	if c.publication == "" {
		c.publication = c.prefix + "_outbox"
	}
	if c.slot != "" {
		if err := checkSlotName(c.slot); err != nil {
			return c, err
		}
	} // else New names it after the database: slots are the server's, not a database's
	if err := checkIdent("publication", c.publication); err != nil {
		return c, err
	}
	return c, nil
}

// table is the messages table the stores create.
func (c *config) table() string { return c.prefix + "_messages" }

// sweepsTable records the slots' pending sweeps (setup.go).
func (c *config) sweepsTable() string { return c.prefix + "_outbox_sweeps" }

// TablePrefix names the store's tables: the tail reads <prefix>_messages,
// and records the sweeps of new slots in <prefix>_outbox_sweeps, which it
// creates. The default is "meshmq"; the publication name defaults to
// "<prefix>_outbox" and the slot name to "<prefix>_outbox_<database>".
func TablePrefix(prefix string) Option {
	return func(c *config) error {
		for _, table := range []string{prefix + "_messages", prefix + "_outbox_sweeps"} {
			if err := checkIdent("table prefix", table); err != nil {
				return err
			}
		}
		c.prefix = prefix
		return nil
	}
}

// Slot names the logical replication slot (default
// "<prefix>_outbox_<database>": slot names are unique across the server's
// databases). Tails sharing a slot share one position: one streams, the
// others stand by.
func Slot(name string) Option {
	return func(c *config) error {
		if err := checkSlotName(name); err != nil {
			return err
		}
		c.slot = name
		return nil
	}
}

// Publication names the publication streamed (default "<prefix>_outbox"),
// created if missing.
func Publication(name string) Option {
	return func(c *config) error {
		if err := checkIdent("publication", name); err != nil {
			return err
		}
		c.publication = name
		return nil
	}
}

// StatusInterval is how often the tail reports its confirmed position to
// the server (default 1 s). It must stay well under the server's
// wal_sender_timeout (1 min by default), which the reports also keep alive.
func StatusInterval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("pglogtail: status interval %v is not positive", d)
		}
		c.statusInterval = d
		return nil
	}
}

// WithLogger logs the tail's connection changes and errors to l (default:
// nowhere). Standing by for a slot another tail streams is logged at Debug.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("pglogtail: nil logger")
		}
		c.log = l
		return nil
	}
}

func checkIdent(what, s string) error {
	if len(s) > maxIdentLen || !identRe.MatchString(s) {
		return fmt.Errorf("pglogtail: %s %q is not a lower-case identifier of at most %d characters", what, s, maxIdentLen)
	}
	return nil
}

func checkSlotName(s string) error {
	if len(s) > maxIdentLen || !slotRe.MatchString(s) {
		return fmt.Errorf("pglogtail: slot name %q: only a-z, 0-9 and _, at most %d characters", s, maxIdentLen)
	}
	return nil
}

// defaultSlot is the slot name for prefix on database db: the database's
// name made a slot name, shortened with a hash when too long.
func defaultSlot(prefix, db string) string {
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return '_'
	}, db)
	name := prefix + "_outbox_" + clean
	if len(name) > maxIdentLen {
		h := fnv.New32a()
		h.Write([]byte(db))
		suffix := fmt.Sprintf("_%08x", h.Sum32())
		name = name[:maxIdentLen-len(suffix)] + suffix
	}
	return name
}
