package sqlstore

import (
	"context"
	"fmt"

	"github.com/meshmq/meshmq/peer/outbox"
)

// pageSize is how many rows Pending and DeadLetters read at a time: fn runs
// between pages, holding no connection, so it may take its time (and even
// use the store).
const pageSize = 256

// Pending applies the queued acks and readdresses, then calls fn for each of
// this peer's rows, in seq order: the rows there were when it began.
func (s *Store) Pending(ctx context.Context, fn func(*outbox.Record) error) error {
	if err := s.flush(ctx, "pending"); err != nil {
		return fmt.Errorf("%s: pending: applying queued acks: %w", s.name, err)
	}
	owner := s.currentOwner()
	var last int64
	if err := s.db.QueryRowContext(ctx, s.q.pendingMax, owner).Scan(&last); err != nil {
		return fmt.Errorf("%s: pending: %w", s.name, err)
	}
	for after := int64(0); after < last; {
		rows, err := s.db.QueryContext(ctx, s.q.pendingPage, owner, after, last, pageSize)
		if err != nil {
			return fmt.Errorf("%s: pending: %w", s.name, err)
		}
		page, err := scanRecords(rows)
		if err != nil {
			return fmt.Errorf("%s: pending: %w", s.name, err)
		}
		for _, r := range page {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(page) < pageSize {
			return nil
		}
		after = int64(page[len(page)-1].Seq)
	}
	return nil
}
