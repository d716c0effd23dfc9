package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/meshmq/meshmq/peer/outbox"
)

// Store is a durable outbox.Store on a SQL database.
type Store struct {
	name   string
	db     *sql.DB
	ownsDB bool
	d      Dialect
	cfg    Config
	log    *slog.Logger
	q      queries

	mu       sync.Mutex
	owner    string
	closed   bool
	appends  []*appendReq // waiting for the committer, in arrival order
	ops      []op         // deferred acks and readdresses, in arrival order
	opsSince time.Time    // when the oldest of ops was queued
	calls    []*call      // work needing its own transaction
	relays   map[*relay]struct{}

	wake      chan struct{}   // tells the committer there is work
	stop      context.Context // ended by Close
	stopNow   context.CancelFunc
	committed chan struct{} // closed when the committer has ended
	pruned    chan struct{} // closed when the pruner has ended

	flushErr  error // what the committer's last flush left undone, for Close
	closeOnce sync.Once
	closeErr  error
}

// New returns a store on db, creating its tables if missing. If ownsDB,
// Close closes db.
func New(ctx context.Context, db *sql.DB, d Dialect, cfg Config, ownsDB bool) (*Store, error) {
	if db == nil {
		return nil, fmt.Errorf("%s: nil *sql.DB", d.Name())
	}
	if err := d.Init(ctx, db); err != nil {
		return nil, fmt.Errorf("%s: creating tables: %w", d.Name(), err)
	}
	s := &Store{
		name: d.Name(), db: db, ownsDB: ownsDB, d: d, cfg: cfg, log: cfg.Logger,
		q:         newQueries(d, TablesOf(cfg.Prefix)),
		relays:    make(map[*relay]struct{}),
		wake:      make(chan struct{}, 1),
		committed: make(chan struct{}),
		pruned:    make(chan struct{}),
	}
	s.stop, s.stopNow = context.WithCancel(context.Background())
	go s.commitLoop()
	go s.pruneLoop()
	return s, nil
}

// DB returns the database the store uses.
func (s *Store) DB() *sql.DB { return s.db }

// Durable reports that records survive the process.
func (s *Store) Durable() bool { return true }

// SetOwner names the peer whose records the store keeps; the peer calls it
// before anything else. Records appended before are kept under the old name.
func (s *Store) SetOwner(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.errClosed("set owner")
	}
	s.owner = name
	return nil
}

func (s *Store) currentOwner() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.owner
}

func (s *Store) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Store) errClosed(what string) error {
	return fmt.Errorf("%s: %s: %w", s.name, what, outbox.ErrClosed)
}

// Close stops the relays, commits what is queued (appends, acks,
// readdresses), stops the committer and the pruner, and closes the database
// if the store opened it. It is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		relays := make([]*relay, 0, len(s.relays))
		for r := range s.relays {
			relays = append(relays, r)
		}
		s.mu.Unlock()
		var errs []error
		for _, r := range relays {
			errs = append(errs, r.Close())
		}
		s.stopNow()
		<-s.committed
		<-s.pruned
		s.mu.Lock()
		errs = append(errs, s.flushErr)
		s.mu.Unlock()
		if s.ownsDB {
			errs = append(errs, s.db.Close())
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}
