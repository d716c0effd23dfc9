package pglogtail

import (
	"errors"
	"fmt"
	"time"

	"github.com/meshmq/meshmq/peer/outbox"
)

// The fields of a row the tail reads. Columns are found by name (the
// Relation message lists them), so the table's column order does not
// matter and columns the tail ignores (claim) may come and go.
type field int

const (
	fSeq field = iota
	fOwner
	fID
	fChannel
	fKey
	fDestPeer
	fDestGroup
	fMessage
	fCreated
	fAttempts
	nFields
)

var fieldColumns = [nFields]string{"seq", "owner", "id", "channel", "msg_key", "dest_peer", "dest_group", "message", "created", "attempts"}

// layout is the column index of each field.
type layout [nFields]int

// sweepLayout is the sweep's select list, fieldColumns in order.
var sweepLayout = func() (l layout) {
	for f := range l {
		l[f] = f
	}
	return l
}()

func layoutOf(columns []string) (layout, error) {
	var l layout
	for f, name := range fieldColumns {
		l[f] = -1
		for i, c := range columns {
			if c == name {
				l[f] = i
				break
			}
		}
		if l[f] < 0 {
			return l, fmt.Errorf("no column %s", name)
		}
	}
	return l, nil
}

// value is one column's value in text format.
type value struct {
	text []byte
	null bool
}

// record maps a row to a Record. A row with an owner is a peer's retry
// buffer, not the outbox: record returns nil for it, without error.
func (l *layout) record(row []value) (*outbox.Record, error) {
	col := func(f field) (value, error) {
		i := l[f]
		if i >= len(row) {
			return value{}, fmt.Errorf("%s: missing in a row of %d columns", fieldColumns[f], len(row))
		}
		return row[i], nil
	}
	var errs []error
	text := func(f field) ([]byte, bool) {
		v, err := col(f)
		if err == nil && v.null {
			err = fmt.Errorf("%s: NULL", fieldColumns[f])
		}
		if err != nil {
			errs = append(errs, err)
			return nil, false
		}
		return v.text, true
	}
	str := func(f field) string {
		s, _ := text(f)
		return string(s)
	}
	integer := func(f field, bits int) int64 {
		s, ok := text(f)
		if !ok {
			return 0
		}
		n, err := decodeInt(s, bits)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", fieldColumns[f], err))
		}
		return n
	}

	owner, err := col(fOwner)
	if err != nil {
		return nil, err
	}
	if !owner.null {
		return nil, nil
	}
	seq := integer(fSeq, 64)
	if seq <= 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("seq: %d is not positive", seq))
	}
	r := &outbox.Record{
		Seq:     uint64(seq),
		ID:      str(fID),
		Channel: str(fChannel),
		Key:     str(fKey),
		Dest: outbox.Destination{
			Peer:  str(fDestPeer),
			Group: str(fDestGroup),
		},
		Created:  time.Unix(0, integer(fCreated, 64)),
		Attempts: int(integer(fAttempts, 32)),
	}
	if msg, ok := text(fMessage); ok {
		if r.Message, err = decodeBytea(msg); err != nil {
			errs = append(errs, fmt.Errorf("message: %w", err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}
