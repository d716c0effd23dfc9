package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/meshmq/meshmq/peer/outbox"
)

// AppendTx writes recs into the application's transaction tx as outbox
// rows (no owner, never claimed) and sets their Seq. A relay sees them once
// tx commits, and never if it rolls back.
func (s *Store) AppendTx(ctx context.Context, tx *sql.Tx, recs []*outbox.Record) error {
	if tx == nil {
		return fmt.Errorf("%s: append tx: nil transaction", s.name)
	}
	if len(recs) == 0 {
		return nil
	}
	if s.isClosed() {
		return s.errClosed("append tx")
	}
	in := make([]outbox.Record, len(recs))
	for i, r := range recs {
		in[i] = *r
	}
	seqs, err := s.d.Insert(ctx, tx, sql.NullString{}, in)
	if err != nil {
		return fmt.Errorf("%s: append tx: %w", s.name, err)
	}
	for i, r := range recs {
		r.Seq = seqs[i]
	}
	return nil
}
