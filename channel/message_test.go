package channel

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/meshmq/meshmq/codec"
)

type payload struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

func TestConstructors(t *testing.T) {
	tests := []struct {
		name string
		new  func(string, any) (*Message, error)
		kind Kind
	}{
		{"NewDocument", NewDocument, Document},
		{"NewCommand", NewCommand, Command},
		{"NewEvent", NewEvent, Event},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now()
			m, err := tt.new("orders", payload{Name: "a", Count: 1})
			if err != nil {
				t.Fatal(err)
			}
			if m.Kind != tt.kind || m.Channel != "orders" || len(m.ID) != IDLen {
				t.Errorf("got Kind %v, Channel %q, ID %q", m.Kind, m.Channel, m.ID)
			}
			if m.Time.Before(before) || m.Time.After(time.Now()) {
				t.Errorf("Time = %v, want about now", m.Time)
			}
			if got := m.Headers.Get(HeaderContentType); got != codec.ContentTypeMsgPack {
				t.Errorf("content type = %q, want %q", got, codec.ContentTypeMsgPack)
			}
			var p payload
			if err := m.Decode(&p); err != nil || p != (payload{Name: "a", Count: 1}) {
				t.Errorf("Decode = %+v, %v", p, err)
			}
			if err := m.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestConstructorNilAndBytes(t *testing.T) {
	m, err := NewCommand("svc", nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Body != nil || m.Headers != nil {
		t.Errorf("nil value: Body %v, Headers %v; want none", m.Body, m.Headers)
	}

	// A []byte is encoded like any other value, not used raw.
	raw := []byte("raw")
	m, err = NewEvent("topic", raw)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(m.Body, raw) {
		t.Error("[]byte value was used as the body without encoding")
	}
	var got []byte
	if err := m.Decode(&got); err != nil || !bytes.Equal(got, raw) {
		t.Errorf("Decode = %q, %v; want %q", got, err, raw)
	}
}

func TestConstructorEncodeError(t *testing.T) {
	m, err := NewEvent("topic", func() {})
	if m != nil || err == nil {
		t.Fatalf("NewEvent(func) = %v, %v; want an error", m, err)
	}
}

func TestClone(t *testing.T) {
	orig := &Message{
		ID: "id", Kind: Command, Channel: "c", To: "peer", Key: "k",
		Headers:       Headers{"a": "1"},
		Body:          []byte("body"),
		CorrelationID: "corr", ReplyTo: "r",
		Deadline: time.Unix(100, 0), TTL: time.Second, Time: time.Unix(50, 0),
		From: "sender", Attempt: 2,
	}
	c := orig.Clone()
	if !reflect.DeepEqual(c, orig) {
		t.Fatalf("Clone = %+v, want %+v", c, orig)
	}
	c.Headers["a"] = "2"
	c.Body[0] = 'B'
	if orig.Headers["a"] != "1" || string(orig.Body) != "body" {
		t.Error("Clone shares Headers or Body with the original")
	}

	empty := (&Message{}).Clone()
	if empty.Headers != nil || empty.Body != nil {
		t.Errorf("Clone of empty message = %+v, want nil Headers and Body", empty)
	}
	if (*Message)(nil).Clone() != nil {
		t.Error("Clone of nil is not nil")
	}
}

func TestExpired(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		m    Message
		now  time.Time
		want bool
	}{
		{"no limits", Message{Time: t0}, t0.Add(1000 * time.Hour), false},
		{"within TTL", Message{Time: t0, TTL: time.Minute}, t0.Add(time.Minute), false},
		{"past TTL", Message{Time: t0, TTL: time.Minute}, t0.Add(time.Minute + 1), true},
		{"TTL without Time", Message{TTL: time.Minute}, t0, false},
		{"negative TTL", Message{Time: t0, TTL: -time.Minute}, t0.Add(time.Hour), false},
		{"before deadline", Message{Deadline: t0}, t0, false},
		{"past deadline", Message{Deadline: t0}, t0.Add(1), true},
		{"deadline before TTL", Message{Time: t0, TTL: time.Hour, Deadline: t0.Add(time.Minute)}, t0.Add(2 * time.Minute), true},
		{"TTL before deadline", Message{Time: t0, TTL: time.Minute, Deadline: t0.Add(time.Hour)}, t0.Add(2 * time.Minute), true},
	}
	for _, tt := range tests {
		if got := tt.m.Expired(tt.now); got != tt.want {
			t.Errorf("%s: Expired = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestHeaders(t *testing.T) {
	var nilHeaders Headers
	if nilHeaders.Get("x") != "" || nilHeaders.Clone() != nil {
		t.Error("nil Headers must read as empty and clone to nil")
	}

	var m Message
	m.SetHeader("trace-id", "t1")
	m.SetHeader("Trace-ID", "t2") // keys are case-sensitive
	if m.Headers.Get("trace-id") != "t1" || m.Headers.Get("Trace-ID") != "t2" || len(m.Headers) != 2 {
		t.Errorf("Headers = %v", m.Headers)
	}
}
