package sqlstore

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/meshmq/meshmq/peer/outbox"
)

// Timeouts of the relay's own statements, which run in the relay's context
// rather than Next's: cancelling a PostgreSQL statement can cost the
// session, and with it the relay lock.
const (
	leadTimeout  = 30 * time.Second
	claimTimeout = time.Minute
	aliveTimeout = 5 * time.Second
)

// Relay returns a polling publisher on the outbox. Only one relay is active
// at a time (the dialect decides among whom: on PostgreSQL every relay on
// the database, on SQLite the relays of this store); the others wait in
// Next. Each activation has a new epoch, and takes every outbox row not
// taken under it, oldest first: a new active relay sends again what its
// predecessor took and did not see acknowledged.
func (s *Store) Relay() outbox.Relay {
	r := &relay{s: s}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	s.mu.Lock()
	if s.closed {
		r.cancel()
	} else {
		s.relays[r] = struct{}{}
	}
	s.mu.Unlock()
	return r
}

type relay struct {
	s      *Store
	ctx    context.Context // ended by Close
	cancel context.CancelFunc

	mu       sync.Mutex // one Next at a time; Close waits for it
	lease    Lease      // nil while another relay is active
	epoch    string
	lastPoll time.Time
	full     bool // the last claim filled a batch: claim again at once

	closeOnce sync.Once
}

// Next returns the next committed outbox rows, in seq order, once this
// relay is the active one: it claims up to BatchSize rows every
// PollInterval (at once after a full batch). It returns ctx's error when
// ctx ends, outbox.ErrClosed once the relay or its store is closed, and
// other errors for failed claims (the caller retries).
func (r *relay) Next(ctx context.Context) ([]*outbox.Record, error) {
	if r.ctx.Err() != nil {
		return nil, r.errClosed()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if r.ctx.Err() != nil {
			return nil, r.errClosed()
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if wait := time.Until(r.lastPoll.Add(r.s.cfg.PollInterval)); wait > 0 && !r.full {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-r.ctx.Done():
				return nil, r.errClosed()
			}
		}
		r.full = false
		r.lastPoll = time.Now()
		if r.lease == nil {
			if err := r.lead(); err != nil {
				return nil, err
			}
			if r.lease == nil {
				continue // another relay is active
			}
		}
		recs, err := r.claim()
		if err != nil {
			return nil, err
		}
		if len(recs) > 0 {
			r.full = len(recs) == r.s.cfg.BatchSize
			return recs, nil
		}
	}
}

func (r *relay) lead() error {
	ctx, cancel := context.WithTimeout(r.ctx, leadTimeout)
	defer cancel()
	lease, err := r.s.d.Lead(ctx, r.s.db)
	if err != nil {
		if r.ctx.Err() != nil {
			return r.errClosed()
		}
		return fmt.Errorf("%s: relay: taking the relay role: %w", r.s.name, err)
	}
	if lease != nil {
		r.lease, r.epoch = lease, rand.Text()
		r.s.log.Info("outbox relay: active", "store", r.s.name, "epoch", r.epoch)
	}
	return nil
}

// claim takes the oldest rows not taken under this epoch, on the lease's
// session. Rows claimed are returned even if Next's ctx ended meanwhile:
// this epoch would not return them again.
func (r *relay) claim() ([]*outbox.Record, error) {
	ctx, cancel := context.WithTimeout(r.ctx, claimTimeout)
	defer cancel()
	rows, err := r.lease.QueryContext(ctx, r.s.q.claim, r.epoch, r.epoch, r.s.cfg.BatchSize)
	var recs []*outbox.Record
	if err == nil {
		recs, err = scanRecords(rows)
	}
	if err != nil {
		if r.ctx.Err() != nil {
			return nil, r.errClosed()
		}
		actx, cancel := context.WithTimeout(r.ctx, aliveTimeout)
		defer cancel()
		if !r.lease.Alive(actx) {
			// Another relay may be active now, under a new epoch; if this
			// one is again later, it takes a new epoch too.
			r.lease.Release()
			r.lease = nil
			r.s.log.Warn("outbox relay: lost the relay role", "store", r.s.name, "epoch", r.epoch, "err", err)
		}
		return nil, fmt.Errorf("%s: relay: claiming outbox rows: %w", r.s.name, err)
	}
	slices.SortFunc(recs, func(a, b *outbox.Record) int { return cmp.Compare(a.Seq, b.Seq) })
	return recs, nil
}

// Settled has nothing to do: acknowledged rows are deleted by the store's
// Ack, which is how a polling relay stops returning them.
func (r *relay) Settled([]uint64) {}

// Close stops the relay, giving up the relay role. It is idempotent.
func (r *relay) Close() error {
	r.closeOnce.Do(func() {
		r.cancel()
		r.mu.Lock()
		if r.lease != nil {
			r.lease.Release()
			r.lease = nil
		}
		r.mu.Unlock()
		r.s.mu.Lock()
		delete(r.s.relays, r)
		r.s.mu.Unlock()
	})
	return nil
}

func (r *relay) errClosed() error {
	return fmt.Errorf("%s: relay: %w", r.s.name, outbox.ErrClosed)
}
