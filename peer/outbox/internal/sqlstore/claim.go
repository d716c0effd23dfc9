package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/meshmq/meshmq/peer/outbox"
)

// Claim records in tx that consumer processed message id. If it did
// already (a committed claim, or one committing concurrently that then
// commits) it returns an error wrapping outbox.ErrProcessed; the insert
// does nothing then, so tx stays usable (PostgreSQL does not abort it).
func (s *Store) Claim(ctx context.Context, tx *sql.Tx, consumer, id string) error {
	if tx == nil {
		return fmt.Errorf("%s: claim: nil transaction", s.name)
	}
	if s.isClosed() {
		return s.errClosed("claim")
	}
	res, err := tx.ExecContext(ctx, s.q.processed, consumer, id, time.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("%s: claim %q for %q: %w", s.name, id, consumer, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: claim %q for %q: %w", s.name, id, consumer, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: claim %q for %q: %w", s.name, id, consumer, outbox.ErrProcessed)
	}
	return nil
}

// PruneProcessed deletes the claims made before olderThan and returns how
// many it deleted. A background pruner runs it every min(retention/10, 1h)
// with olderThan = now - retention.
func (s *Store) PruneProcessed(ctx context.Context, olderThan time.Time) (int64, error) {
	if s.isClosed() {
		return 0, s.errClosed("prune processed")
	}
	res, err := s.db.ExecContext(ctx, s.q.prune, olderThan.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("%s: prune processed: %w", s.name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: prune processed: %w", s.name, err)
	}
	return n, nil
}

// pruneEvery is how often the pruner runs for a retention.
func pruneEvery(retention time.Duration) time.Duration {
	return max(min(retention/10, time.Hour), 10*time.Millisecond)
}

func (s *Store) pruneLoop() {
	defer close(s.pruned)
	t := time.NewTicker(pruneEvery(s.cfg.Retention))
	defer t.Stop()
	for {
		select {
		case <-s.stop.Done():
			return
		case <-t.C:
			// s.stop ends a prune in flight when Close begins.
			n, err := s.PruneProcessed(s.stop, time.Now().Add(-s.cfg.Retention))
			if err != nil {
				if s.stop.Err() == nil {
					s.log.Warn("outbox store: pruning processed claims failed", "store", s.name, "err", err)
				}
				continue
			}
			if n > 0 {
				s.log.Debug("outbox store: pruned processed claims", "store", s.name, "claims", n)
			}
		}
	}
}
