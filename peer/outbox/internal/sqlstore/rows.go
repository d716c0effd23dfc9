package sqlstore

import (
	"database/sql"
	"time"

	"github.com/meshmq/meshmq/peer/outbox"
)

// Nanos is how a time is stored: unix nanoseconds, 0 for the zero time.
func Nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// FromNanos reverses Nanos.
func FromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Blob returns b, or an empty slice for nil: database/sql sends nil as
// NULL, and message is NOT NULL.
func Blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

type scanner interface{ Scan(dest ...any) error }

// scanRecord reads seq and cols.
func scanRecord(sc scanner, r *outbox.Record, extra ...any) error {
	var seq, created int64
	var attempts int64
	dest := append([]any{&seq, &r.ID, &r.Channel, &r.Key, &r.Dest.Peer, &r.Dest.Group, &r.Message, &created, &attempts}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return err
	}
	r.Seq, r.Created, r.Attempts = uint64(seq), FromNanos(created), int(attempts)
	return nil
}

func scanRecords(rows *sql.Rows) ([]*outbox.Record, error) {
	defer rows.Close()
	var out []*outbox.Record
	for rows.Next() {
		r := new(outbox.Record)
		if err := scanRecord(rows, r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
