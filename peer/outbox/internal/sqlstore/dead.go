package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/meshmq/meshmq/peer/outbox"
)

// DeadLetter moves records to this peer's dead letters in one transaction:
// each pending (or outbox) row is deleted and its dead letter keeps its seq;
// a record with Seq 0 gets a fresh seq from the messages' sequence, written
// back into dls, as is At when it was zero. It waits for the commit.
func (s *Store) DeadLetter(ctx context.Context, dls []outbox.DeadLetter) error {
	if len(dls) == 0 {
		return nil
	}
	in := append([]outbox.DeadLetter(nil), dls...) // the caller may give up and reuse dls
	owner := s.currentOwner()
	now := time.Now()
	err := s.do(ctx, "dead letter", func(ctx context.Context) error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			for i := range in {
				dl := &in[i]
				if dl.Seq == 0 {
					seq, err := s.d.NewSeq(ctx, tx)
					if err != nil {
						return err
					}
					dl.Seq = seq
				} else if _, err := tx.ExecContext(ctx, s.q.deadDelete, int64(dl.Seq), owner); err != nil {
					return err
				}
				if dl.At.IsZero() {
					dl.At = now
				}
				if _, err := tx.ExecContext(ctx, s.q.deadInsert, int64(dl.Seq), owner, dl.ID, dl.Channel, dl.Key,
					dl.Dest.Peer, dl.Dest.Group, Blob(dl.Message), Nanos(dl.Created), dl.Attempts,
					dl.Reason, dl.Error, Nanos(dl.At)); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("%s: dead letter: %w", s.name, err)
	}
	for i := range dls {
		dls[i].Seq, dls[i].At = in[i].Seq, in[i].At
	}
	return nil
}

// DeadLetters calls fn for each of this peer's dead letters, oldest (by At,
// then seq) first.
func (s *Store) DeadLetters(ctx context.Context, fn func(outbox.DeadLetter) error) error {
	if s.isClosed() {
		return s.errClosed("dead letters")
	}
	owner := s.currentOwner()
	at, seq := int64(math.MinInt64), int64(0)
	for {
		page, err := s.deadPage(ctx, owner, at, seq)
		if err != nil {
			return fmt.Errorf("%s: dead letters: %w", s.name, err)
		}
		for _, dl := range page {
			if err := fn(dl); err != nil {
				return err
			}
		}
		if len(page) < pageSize {
			return nil
		}
		last := page[len(page)-1]
		at, seq = Nanos(last.At), int64(last.Seq)
	}
}

func (s *Store) deadPage(ctx context.Context, owner string, at, seq int64) ([]outbox.DeadLetter, error) {
	rows, err := s.db.QueryContext(ctx, s.q.deadPage, owner, at, at, seq, pageSize)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []outbox.DeadLetter
	for rows.Next() {
		var dl outbox.DeadLetter
		var at int64
		if err := scanRecord(rows, &dl.Record, &dl.Reason, &dl.Error, &at); err != nil {
			return nil, err
		}
		dl.At = FromNanos(at)
		out = append(out, dl)
	}
	return out, rows.Err()
}

// Redrive moves this peer's dead letters seqs back to its pending rows,
// under new seqs (in the order of seqs) with no attempts, and returns them.
// If one of seqs is not among them it moves nothing and returns an error
// wrapping outbox.ErrNotFound.
func (s *Store) Redrive(ctx context.Context, seqs []uint64) ([]*outbox.Record, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	owner := s.currentOwner()
	var out []*outbox.Record
	err := s.do(ctx, "redrive", func(ctx context.Context) error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			recs := make([]outbox.Record, len(seqs))
			for i, seq := range seqs {
				err := scanRecord(tx.QueryRowContext(ctx, s.q.redriveTake, int64(seq), owner), &recs[i])
				if errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("%w: dead letter %d", outbox.ErrNotFound, seq)
				}
				if err != nil {
					return err
				}
				recs[i].Attempts = 0
			}
			newSeqs, err := s.d.Insert(ctx, tx, sql.NullString{String: owner, Valid: true}, recs)
			if err != nil {
				return err
			}
			out = make([]*outbox.Record, len(recs))
			for i := range recs {
				recs[i].Seq = newSeqs[i]
				out[i] = &recs[i]
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("%s: redrive: %w", s.name, err)
	}
	return out, nil
}

// inTx runs fn in a transaction, committing if it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
