package pglogtail

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/jackc/pglogrepl"
)

// parseMessage decodes the pgoutput messages the tail acts on — Relation,
// Begin, Insert and Commit — and returns nil for the others (Type, Origin;
// Update, Delete and Truncate are not published, and logical decoding
// messages not asked for).
//
// pglogrepl's decoders index their input without bounds checks, so a
// truncated or inconsistent message would panic inside them. checkMessage
// walks the message's layout first, and pglogrepl only ever sees messages
// that are whole; the recover is a backstop should a later pglogrepl
// read further than checkMessage knows.
func parseMessage(data []byte) (msg pglogrepl.Message, err error) {
	if err := checkMessage(data); err != nil {
		return nil, err
	}
	switch pglogrepl.MessageType(data[0]) {
	case pglogrepl.MessageTypeRelation, pglogrepl.MessageTypeBegin, pglogrepl.MessageTypeInsert,
		pglogrepl.MessageTypeCommit:
	default:
		return nil, nil
	}
	defer func() {
		if p := recover(); p != nil {
			msg, err = nil, fmt.Errorf("pgoutput %c message: decoder failed: %v", data[0], p)
		}
	}()
	return pglogrepl.Parse(data)
}

// checkMessage checks that a message of a kind parseMessage decodes holds
// every field its layout announces (PostgreSQL's "Logical Replication
// Message Formats", protocol version 1).
func checkMessage(data []byte) error {
	if len(data) == 0 {
		return errors.New("empty pgoutput message")
	}
	r := reader{b: data[1:]}
	switch t := pglogrepl.MessageType(data[0]); t {
	case pglogrepl.MessageTypeBegin:
		r.take(8 + 8 + 4) // final LSN, commit time, xid
	case pglogrepl.MessageTypeCommit:
		r.take(1 + 8 + 8 + 8) // flags, commit LSN, end LSN, commit time
	case pglogrepl.MessageTypeRelation:
		r.take(4) // relation OID
		r.str()   // namespace
		r.str()   // name
		r.take(1) // replica identity
		for n := r.uint16(); n > 0 && r.err == nil; n-- {
			r.take(1) // flags
			r.str()   // name
			r.take(8) // type OID, type modifier
		}
	case pglogrepl.MessageTypeInsert:
		r.take(4) // relation OID
		if k := r.take(1); r.err == nil && k[0] != 'N' {
			return fmt.Errorf("pgoutput insert: tuple kind %q, want 'N'", k[0])
		}
		r.tuple()
	default:
		return nil
	}
	if r.err != nil {
		return fmt.Errorf("pgoutput %c message of %d bytes: %w", data[0], len(data), r.err)
	}
	return nil
}

// reader walks a message, recording the first overrun instead of panicking.
type reader struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated")

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = errShort
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) uint16() int {
	if p := r.take(2); p != nil {
		return int(binary.BigEndian.Uint16(p))
	}
	return 0
}

func (r *reader) uint32() uint32 {
	if p := r.take(4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

func (r *reader) str() {
	if r.err != nil {
		return
	}
	i := bytes.IndexByte(r.b, 0)
	if i < 0 {
		r.err = errors.New("unterminated string")
		return
	}
	r.b = r.b[i+1:]
}

// tuple checks TupleData: a count, then per column a kind byte and, for
// text and binary values, a length and that many bytes.
func (r *reader) tuple() {
	for n := r.uint16(); n > 0 && r.err == nil; n-- {
		k := r.take(1)
		if r.err != nil {
			return
		}
		switch k[0] {
		case pglogrepl.TupleDataTypeNull, pglogrepl.TupleDataTypeToast:
		case pglogrepl.TupleDataTypeText, pglogrepl.TupleDataTypeBinary:
			n := r.uint32()
			if uint64(n) > uint64(len(r.b)) {
				r.err = errShort
				return
			}
			r.take(int(n))
		default:
			r.err = fmt.Errorf("tuple column kind %q", k[0])
		}
	}
}
