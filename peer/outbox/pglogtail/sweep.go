package pglogtail

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/meshmq/meshmq/peer/outbox"
)

// sweepPage is how many rows a sweep reads at a time: it hands them on as
// Next makes room, like the stream.
const sweepPage = 500

// sweep hands on, as rows of tx, the outbox rows in the table with
// tx.sweptTo < seq <= upTo, in seq order (commit order is not known for
// rows swept), reading them on conn.
func (s *session) sweep(ctx context.Context, conn *pgconn.PgConn, tx *txn, upTo uint64) error {
	t := s.t
	sql := fmt.Sprintf("SELECT seq, owner, id, channel, msg_key, dest_peer, dest_group, message, created, attempts "+
		"FROM %s WHERE owner IS NULL AND seq > $1 AND seq <= $2 ORDER BY seq LIMIT %d", quoteIdent(t.cfg.table()), sweepPage)
	for {
		recs, err := sweepRows(ctx, conn, sql, tx.sweptTo, upTo)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			if err := s.waitRoom(ctx); err != nil {
				return err
			}
			t.hand(tx, rec)
			tx.sweptTo = rec.Seq
		}
		if len(recs) < sweepPage {
			return nil
		}
	}
}

func sweepRows(ctx context.Context, conn *pgconn.PgConn, sql string, after, upTo uint64) ([]*outbox.Record, error) {
	params := [][]byte{strconv.AppendUint(nil, after, 10), strconv.AppendUint(nil, upTo, 10)}
	rr := conn.ExecParams(ctx, sql, params, nil, nil, nil)
	var recs []*outbox.Record
	var rowErr error
	row := make([]value, nFields)
	for rr.NextRow() {
		if rowErr != nil {
			continue
		}
		vals := rr.Values()
		if len(vals) != int(nFields) {
			rowErr = fmt.Errorf("%d columns, want %d", len(vals), nFields)
			continue
		}
		for i, v := range vals {
			row[i] = value{text: v, null: v == nil}
		}
		rec, err := sweepLayout.record(row)
		if err != nil {
			rowErr = err
			continue
		}
		if rec != nil {
			recs = append(recs, rec)
		}
	}
	if _, err := rr.Close(); err != nil {
		return nil, fmt.Errorf("pglogtail: sweeping: %w", err)
	}
	if rowErr != nil {
		return nil, fmt.Errorf("pglogtail: sweeping: %w: %w", errMalformed, rowErr)
	}
	return recs, nil
}
