package pglogtail

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/meshmq/meshmq/peer/outbox"
)

// Encoders of pgoutput messages (protocol version 1), for seeds and tests.

func be16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
func be32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
func be64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }
func cstr(b []byte, s string) []byte { return append(append(b, s...), 0) }

func msgBegin(final uint64) []byte { return be32(be64(be64([]byte{'B'}, final), 0), 7) }
func msgCommit(commit, end uint64) []byte {
	return be64(be64(be64([]byte{'C', 0}, commit), end), 0)
}

func msgRelation(oid uint32, name string, cols ...string) []byte {
	b := cstr(cstr(be32([]byte{'R'}, oid), "public"), name)
	b = be16(append(b, 'd'), uint16(len(cols)))
	for _, c := range cols {
		b = be32(be32(cstr(append(b, 0), c), 25), 0xffffffff)
	}
	return b
}

// msgInsert encodes a row; a nil value is NULL.
func msgInsert(oid uint32, vals ...*string) []byte {
	b := be16(append(be32([]byte{'I'}, oid), 'N'), uint16(len(vals)))
	for _, v := range vals {
		if v == nil {
			b = append(b, 'n')
			continue
		}
		b = append(be32(append(b, 't'), uint32(len(*v))), *v...)
	}
	return b
}

func ptr(s string) *string { return &s }

// tableColumns is the table's columns in the store's order, claim among
// them.
var tableColumns = []string{"seq", "owner", "claim", "id", "channel", "msg_key", "dest_peer", "dest_group", "message", "created", "attempts"}

func outboxRow(seq, message string) []*string {
	return []*string{ptr(seq), nil, nil, ptr("id-1"), ptr("orders"), ptr("k"), ptr("p"), ptr("*"), ptr(message), ptr("1700000000123456789"), ptr("2")}
}

// testSession holds the table's Relation message, under OID 1.
func testSession(t testing.TB) *session {
	s := &session{t: &Tail{cfg: config{prefix: defaultPrefix}}, rel: map[uint32]*relation{}}
	msg, err := parseMessage(msgRelation(1, "meshmq_messages", tableColumns...))
	if err != nil {
		t.Fatal(err)
	}
	r := msg.(*pglogrepl.RelationMessage)
	s.rel[r.RelationID] = s.relation(r)
	return s
}

func TestDecodeInsert(t *testing.T) {
	s := testSession(t)
	decode := func(vals ...*string) (*outbox.Record, error) {
		msg, err := parseMessage(msgInsert(1, vals...))
		if err != nil {
			return nil, err
		}
		return s.row(msg.(*pglogrepl.InsertMessage))
	}
	got, err := decode(outboxRow("42", `\x00ff5c78`)...)
	if err != nil {
		t.Fatal(err)
	}
	want := outbox.Record{Seq: 42, ID: "id-1", Channel: "orders", Key: "k", Dest: outbox.Destination{Peer: "p", Group: "*"},
		Message: []byte{0, 0xff, '\\', 'x'}, Created: time.Unix(0, 1700000000123456789), Attempts: 2}
	if got.Seq != want.Seq || got.ID != want.ID || got.Channel != want.Channel || got.Key != want.Key || got.Dest != want.Dest ||
		!bytes.Equal(got.Message, want.Message) || !got.Created.Equal(want.Created) || got.Attempts != want.Attempts {
		t.Fatalf("got %+v, want %+v", got, want)
	}

	owned := outboxRow("43", `\x`)
	owned[1] = ptr("peer-1")
	if got, err := decode(owned...); got != nil || err != nil {
		t.Fatalf("a peer's own row: %v, %v", got, err)
	}
	for name, row := range map[string][]*string{
		"bad hex":      outboxRow("44", `\x0`),
		"bad seq":      outboxRow("x", `\x`),
		"zero seq":     outboxRow("0", `\x`),
		"short row":    outboxRow("45", `\x`)[:5],
		"null id":      slices.Replace(outboxRow("46", `\x`), 3, 4, nil),
		"big attempts": slices.Replace(outboxRow("47", `\x`), 10, 11, ptr("2147483648")),
	} {
		if got, err := decode(row...); err == nil {
			t.Errorf("%s: decoded %+v", name, got)
		}
	}

	// Another table, and a relation the tail has not seen.
	msg, _ := parseMessage(msgRelation(2, "other", "a"))
	s.rel[2] = s.relation(msg.(*pglogrepl.RelationMessage))
	m, _ := parseMessage(msgInsert(2, ptr("x")))
	if got, err := s.row(m.(*pglogrepl.InsertMessage)); got != nil || err != nil {
		t.Fatalf("a row of another table: %v, %v", got, err)
	}
	m, _ = parseMessage(msgInsert(3, ptr("x")))
	if _, err := s.row(m.(*pglogrepl.InsertMessage)); err == nil {
		t.Fatal("a row of an unknown relation was decoded")
	}
	// The table without a column the tail needs.
	msg, _ = parseMessage(msgRelation(1, "meshmq_messages", slices.Delete(slices.Clone(tableColumns), 8, 9)...))
	s.rel[1] = s.relation(msg.(*pglogrepl.RelationMessage))
	if _, err := decode(outboxRow("48", `\x`)...); err == nil || !strings.Contains(err.Error(), "message") {
		t.Fatalf("a table without the message column: %v", err)
	}
}

func TestParseMessageRejectsTruncated(t *testing.T) {
	for _, m := range [][]byte{
		msgBegin(1), msgCommit(1, 2), msgRelation(1, "meshmq_messages", tableColumns...),
		msgInsert(1, outboxRow("1", `\x00`)...),
	} {
		if _, err := parseMessage(m); err != nil {
			t.Fatalf("%c: %v", m[0], err)
		}
		for n := range len(m) {
			if _, err := parseMessage(m[:n]); err == nil {
				t.Fatalf("%c cut to %d of %d bytes: no error", m[0], n, len(m))
			}
		}
	}
}

func TestDecodeBytea(t *testing.T) {
	for in, want := range map[string]string{
		`\x`:             "",
		`\x00FFab`:       "\x00\xff\xab",
		`plain`:          "plain",
		`a\\b`:           `a\b`,
		`\000\377\101x`:  "\x00\xffAx",
		`\x5c78`:         `\x`,
		"":               "",
		"\\\\x00":        `\x00`,
		"\x00\xff-bytes": "\x00\xff-bytes",
	} {
		got, err := decodeBytea([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("decodeBytea(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{`\x0`, `\xzz`, `\`, `\4`, `\400`, `\08`, `a\b`} {
		if got, err := decodeBytea([]byte(in)); err == nil {
			t.Errorf("decodeBytea(%q) = %q, no error", in, got)
		}
	}
}

// escapeBytea encodes b in bytea's escape output format.
func escapeBytea(b []byte) []byte {
	var out []byte
	for _, c := range b {
		switch {
		case c == '\\':
			out = append(out, `\\`...)
		case c < 0x20 || c > 0x7e:
			out = fmt.Appendf(out, `\%03o`, c)
		default:
			out = append(out, c)
		}
	}
	return out
}

func FuzzDecodeBytea(f *testing.F) {
	for _, s := range []string{`\x`, `\x00ff`, `\x0`, `\xgg`, `abc`, `\\`, `\000\377`, `\400`, `\`, "\x00\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		decodeBytea(data) // any input: an error, never a panic
		if got, err := decodeBytea(append([]byte(`\x`), hex.EncodeToString(data)...)); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("hex round trip of %q: %q, %v", data, got, err)
		}
		if got, err := decodeBytea(escapeBytea(data)); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("escape round trip of %q: %q, %v", data, got, err)
		}
	})
}

// FuzzRecord decodes rows of arbitrary text values: a record or an error,
// never a panic, and a record holds what the values say.
func FuzzRecord(f *testing.F) {
	f.Add("1", `\x00`, "0", "0", false)
	f.Add("9223372036854775807", `\xff`, "-1", "2147483647", false)
	f.Add("-1", `\x0`, "1e3", "2147483648", true)
	f.Add("", "", "", "", false)
	f.Fuzz(func(t *testing.T, seq, message, created, attempts string, owned bool) {
		row := make([]value, nFields)
		for i := range row {
			row[i] = value{text: []byte("v")}
		}
		row[fOwner] = value{null: !owned, text: []byte("peer")}
		row[fSeq].text, row[fMessage].text = []byte(seq), []byte(message)
		row[fCreated].text, row[fAttempts].text = []byte(created), []byte(attempts)
		rec, err := sweepLayout.record(row)
		if err != nil || rec == nil {
			if owned && (rec != nil || err != nil) {
				t.Fatalf("owned row: %v, %v", rec, err)
			}
			return
		}
		if owned {
			t.Fatal("an owned row was decoded")
		}
		if n, _ := strconv.ParseInt(seq, 10, 64); n <= 0 || uint64(n) != rec.Seq {
			t.Fatalf("seq %q decoded as %d", seq, rec.Seq)
		}
		if n, _ := strconv.ParseInt(created, 10, 64); !rec.Created.Equal(time.Unix(0, n)) {
			t.Fatalf("created %q decoded as %v", created, rec.Created)
		}
		if n, _ := strconv.ParseInt(attempts, 10, 32); int64(rec.Attempts) != n {
			t.Fatalf("attempts %q decoded as %d", attempts, rec.Attempts)
		}
		if m, _ := decodeBytea([]byte(message)); !bytes.Equal(rec.Message, m) {
			t.Fatalf("message %q decoded as %q", message, rec.Message)
		}
	})
}

// FuzzParseMessage feeds arbitrary pgoutput messages to the decoding the
// stream does: an error, never a panic. pglogrepl is called without the
// recover backstop, so checkMessage must let only whole messages through.
func FuzzParseMessage(f *testing.F) {
	for _, m := range [][]byte{
		msgBegin(0x16B3748), msgCommit(0x16B3748, 0x16B3778),
		msgRelation(16385, "meshmq_messages", tableColumns...),
		msgInsert(1, outboxRow("1", `\x00ff`)...), msgInsert(1, outboxRow("2", `\x`)[:3]...),
		{'Y'}, {'O'}, {'U'}, {'M'}, {},
	} {
		f.Add(m)
	}
	s := testSession(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if checkMessage(data) == nil && len(data) > 0 {
			switch pglogrepl.MessageType(data[0]) {
			case pglogrepl.MessageTypeRelation, pglogrepl.MessageTypeBegin, pglogrepl.MessageTypeInsert,
				pglogrepl.MessageTypeCommit:
				pglogrepl.Parse(data)
			}
		}
		msg, err := parseMessage(data)
		if err != nil {
			return
		}
		switch m := msg.(type) {
		case *pglogrepl.RelationMessage:
			s.relation(m)
		case *pglogrepl.InsertMessage:
			m.RelationID = 1
			s.row(m)
		}
	})
}
