package wire

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/meshmq/meshmq/channel"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.txt from the encoders")

// vectorMessage is the message the reference vectors carry.
func vectorMessage() *channel.Message {
	return &channel.Message{
		ID:            "01hq3v5k8m",
		Kind:          channel.Event,
		Channel:       "orders.created",
		Key:           "order-42",
		Headers:       channel.Headers{"content-type": "application/msgpack", "traceparent": "00-01"},
		Body:          []byte{0x81, 0xa2, 'i', 'd', 0x2a},
		CorrelationID: "c1",
		ReplyTo:       "billing-1",
		Deadline:      time.Unix(1_700_000_001, 0),
		TTL:           30 * time.Second,
		Time:          time.Unix(1_700_000_000, 500),
	}
}

// vectors are the reference packets of PROTOCOL.md, in file order.
func vectors() []struct {
	name string
	p    Packet
} {
	msg := AppendMessage(nil, vectorMessage())
	return []struct {
		name string
		p    Packet
	}{
		{"hello-dialer", &Hello{Versions: []uint64{1}, Name: "orders-1", Epoch: 1_700_000_000_000_000_000,
			Endpoint: "tcp://10.0.0.5:7000", MaxFrame: 4<<20 + 64<<10, MaxMessage: 4 << 20, HeartbeatTimeout: 5 * time.Second, InitialCredit: 1024}},
		{"hello-acceptor", &Hello{Versions: []uint64{1}, Name: "billing-1", Epoch: 42, CatalogVersion: 7}},
		{"data-one", &Data{Entries: []Entry{{Stream: 1, Seq: 1, Attempt: 1, Partition: NoPartition, Message: msg}}}},
		{"data-batch", &Data{Entries: []Entry{
			{Stream: 2, Seq: 300, Attempt: 2, Partition: 17, Group: "audit", Message: msg},
			{Stream: 2, Seq: 301, Attempt: 1, Partition: 17, Group: "audit", Flags: FlagBestEffort, Message: []byte{0x80}},
		}}},
		{"ack", &Ack{Streams: []StreamAck{{Stream: 1, Through: 1}, {Stream: 2, Through: 299, Ranges: []Range{{From: 301, To: 301}}}}}},
		{"nack", &Nack{Items: []StreamNack{{Stream: 2, Seq: 300, Reason: ReasonHandlerError, RetryAfter: 250 * time.Millisecond, Text: "db unavailable"}}}},
		{"credit", &Credit{Streams: []StreamCredit{{Stream: 1, Limit: 1025}, {Stream: 2, Limit: 70000}}}},
		{"heartbeat", &Heartbeat{Time: time.Unix(1_700_000_000, 0)}},
		{"drain", &Drain{Reason: "closing"}},
		{"catalog-request", &CatalogRequest{ID: 9, Have: 6}},
		{"catalog", &CatalogReply{ID: 9, Version: 7, Catalog: &Catalog{
			Version:       7,
			Services:      []Service{{Name: "billing"}, {Name: "invoices", Partitions: 64}},
			Subscriptions: []Subscription{{Pattern: "orders.>", Group: "audit", Overflow: OverflowDropNewest, BestEffort: true, Partitions: 16, MaxAge: time.Hour, MaxCount: 10000, MaxBytes: 1 << 20}},
			MessageTypes:  []MessageType{{Channel: "billing", Kind: 2, Name: "Charge", Direction: DirectionReceive, Description: "charge a card", Schema: []byte(`{"type":"object"}`)}},
		}}},
		{"catalog-not-modified", &CatalogReply{ID: 10, Version: 7}},
		{"error", &Error{Code: CodeDuplicate, Text: "a connection dialed by a wins"}},
	}
}

func readVectors(t *testing.T) map[string][]byte {
	f, err := os.Open("testdata/vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, hx, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("bad vector line %q", line)
		}
		b, err := hex.DecodeString(strings.ReplaceAll(hx, " ", ""))
		if err != nil {
			t.Fatalf("vector %s: %v", name, err)
		}
		out[name] = b
	}
	return out
}

func writeVectors(t *testing.T) {
	var buf bytes.Buffer
	buf.WriteString("# meshmq protocol v1 reference vectors (PROTOCOL.md). One packet per line:\n")
	buf.WriteString("# name, then the frame body in hex. message-* lines are encoded messages (the bytes of an entry's message).\n")
	fmt.Fprintf(&buf, "message %x\n", AppendMessage(nil, vectorMessage()))
	fmt.Fprintf(&buf, "message-empty %x\n", AppendMessage(nil, &channel.Message{}))
	for _, v := range vectors() {
		fmt.Fprintf(&buf, "%s %x\n", v.name, Encode(v.p))
	}
	if err := os.WriteFile("testdata/vectors.txt", buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The encoders produce the reference bytes, and the decoders turn the
// reference bytes back into the same packets.
func TestVectors(t *testing.T) {
	if *update {
		writeVectors(t)
	}
	want := readVectors(t)
	for _, v := range vectors() {
		t.Run(v.name, func(t *testing.T) {
			ref, ok := want[v.name]
			if !ok {
				t.Fatal("missing from testdata/vectors.txt")
			}
			if got := Encode(v.p); !bytes.Equal(got, ref) {
				t.Fatalf("encode:\n got %x\nwant %x", got, ref)
			}
			p, err := Decode(ref)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p, v.p) {
				t.Fatalf("decode:\n got %#v\nwant %#v", p, v.p)
			}
			checkStandardMsgpack(t, ref)
		})
	}
	t.Run("message", func(t *testing.T) {
		m := vectorMessage()
		if got := AppendMessage(nil, m); !bytes.Equal(got, want["message"]) {
			t.Fatalf("encode:\n got %x\nwant %x", got, want["message"])
		}
		var back channel.Message
		if err := DecodeMessage(want["message"], &back); err != nil {
			t.Fatal(err)
		}
		if !back.Time.Equal(m.Time) || !back.Deadline.Equal(m.Deadline) {
			t.Fatalf("times: got %v %v", back.Time, back.Deadline)
		}
		back.Time, back.Deadline = m.Time, m.Deadline
		if !reflect.DeepEqual(&back, m) {
			t.Fatalf("decode:\n got %#v\nwant %#v", &back, m)
		}
		checkStandardMsgpack(t, want["message"])
	})
	t.Run("message-empty", func(t *testing.T) {
		if got := AppendMessage(nil, &channel.Message{}); !bytes.Equal(got, want["message-empty"]) {
			t.Fatalf("got %x", got)
		}
	})
}

// checkStandardMsgpack decodes b with an independent msgpack library.
func checkStandardMsgpack(t *testing.T, b []byte) {
	t.Helper()
	d := msgpack.NewDecoder(bytes.NewReader(b))
	d.SetMapDecoder(func(d *msgpack.Decoder) (any, error) { return d.DecodeUntypedMap() })
	if _, err := d.DecodeInterface(); err != nil {
		t.Fatalf("not standard msgpack: %v", err)
	}
	if n := d.Buffered().(*bytes.Reader).Len(); n != 0 {
		t.Fatalf("%d bytes after the value", n)
	}
}

// A newer peer may append fields: entries, packets and maps with extra
// elements decode, the extras skipped.
func TestForwardCompatibleExtensions(t *testing.T) {
	// DATA with an 8-element entry and a 3-element packet.
	b := []byte{0x93, 0x01, 0x91, 0x98, 1, 2, 1, 0xc0, 0xa0, 0, 0xc4, 1, 0x80, 0x92, 1, 2, 0xa1, 'x'}
	p, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	d := p.(*Data)
	if len(d.Entries) != 1 || d.Entries[0].Seq != 2 || !bytes.Equal(d.Entries[0].Message, []byte{0x80}) {
		t.Fatalf("got %#v", d)
	}
	// A message map with an unknown key 99.
	var m channel.Message
	if err := DecodeMessage([]byte{0x82, 3, 0xa1, 'c', 99, 0x92, 1, 2}, &m); err != nil || m.Channel != "c" {
		t.Fatalf("got %v, %#v", err, m)
	}
}

func TestNegotiate(t *testing.T) {
	if v, err := Negotiate([]uint64{1, 2}, []uint64{3, 2, 1}); err != nil || v != 2 {
		t.Fatalf("got %d, %v", v, err)
	}
	if _, err := Negotiate([]uint64{1}, []uint64{2}); err == nil {
		t.Fatal("no common version accepted")
	}
}
