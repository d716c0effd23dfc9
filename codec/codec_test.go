package codec

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

type sample struct {
	Name   string            `json:"name"`
	Count  int               `json:"count,omitempty"`
	Tags   []string          `json:"tags"`
	Attrs  map[string]string `json:"attrs"`
	Nested *sample           `json:"nested,omitempty"`
}

func codecs() []Codec { return []Codec{MsgPack(), JSON()} }

func TestContentTypes(t *testing.T) {
	tests := []struct {
		c    Codec
		want string
	}{
		{MsgPack(), ContentTypeMsgPack},
		{JSON(), ContentTypeJSON},
		{Default(), ContentTypeMsgPack},
	}
	for _, tt := range tests {
		if got := tt.c.ContentType(); got != tt.want {
			t.Errorf("ContentType() = %q, want %q", got, tt.want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	values := []struct {
		name string
		in   any
		out  func() any // fresh pointer to decode into
	}{
		{"string", "héllo", func() any { return new(string) }},
		{"int", 42, func() any { return new(int) }},
		{"negative", int64(math.MinInt64), func() any { return new(int64) }},
		{"float", 3.5, func() any { return new(float64) }},
		{"bool", true, func() any { return new(bool) }},
		{"slice", []string{"a", "b"}, func() any { return new([]string) }},
		{"map", map[string]int{"a": 1}, func() any { return new(map[string]int) }},
		{"struct", sample{
			Name:   "x",
			Count:  3,
			Tags:   []string{"t"},
			Attrs:  map[string]string{"k": "v"},
			Nested: &sample{Name: "inner", Tags: []string{}},
		}, func() any { return new(sample) }},
		{"time", time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC), func() any { return new(time.Time) }},
	}
	for _, c := range codecs() {
		for _, tt := range values {
			t.Run(c.ContentType()+"/"+tt.name, func(t *testing.T) {
				data, err := c.Marshal(tt.in)
				if err != nil {
					t.Fatalf("Marshal: %v", err)
				}
				out := tt.out()
				if err := c.Unmarshal(data, out); err != nil {
					t.Fatalf("Unmarshal: %v", err)
				}
				got := reflect.ValueOf(out).Elem().Interface()
				if tm, ok := got.(time.Time); ok {
					if !tm.Equal(tt.in.(time.Time)) {
						t.Fatalf("got %v, want %v", tm, tt.in)
					}
					return
				}
				if !reflect.DeepEqual(got, tt.in) {
					t.Fatalf("got %#v, want %#v", got, tt.in)
				}
			})
		}
	}
}

// A type tagged only for JSON must get the same field names from both
// codecs, so that either can decode into it.
func TestMsgPackUsesJSONTags(t *testing.T) {
	type jsonOnly struct {
		UserID  string `json:"user_id"`
		Skipped string `json:"-"`
		Empty   string `json:"empty,omitempty"`
	}
	type both struct {
		UserID string `msgpack:"uid" json:"user_id"`
	}

	data, err := MsgPack().Marshal(jsonOnly{UserID: "u1", Skipped: "s"})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := MsgPack().Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"user_id": "u1"}; !reflect.DeepEqual(m, want) {
		t.Errorf("encoded fields = %v, want %v", m, want)
	}

	data, err = MsgPack().Marshal(both{UserID: "u2"})
	if err != nil {
		t.Fatal(err)
	}
	m = nil
	if err := MsgPack().Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["uid"]; !ok {
		t.Errorf("msgpack tag must win over json tag, got fields %v", m)
	}
}

// Marshal returns a buffer from a pool; its result must not alias it.
func TestMsgPackMarshalDoesNotAlias(t *testing.T) {
	a, err := MsgPack().Marshal("first")
	if err != nil {
		t.Fatal(err)
	}
	want := string(a)
	for range 10 {
		if _, err := MsgPack().Marshal(strings.Repeat("z", 40)); err != nil {
			t.Fatal(err)
		}
	}
	if string(a) != want {
		t.Fatalf("earlier result changed to %q", a)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		c    Codec
		op   string
		run  func(Codec) error
	}{
		{"msgpack marshal unsupported", MsgPack(), OpMarshal, func(c Codec) error {
			_, err := c.Marshal(make(chan int))
			return err
		}},
		{"json marshal unsupported", JSON(), OpMarshal, func(c Codec) error {
			_, err := c.Marshal(make(chan int))
			return err
		}},
		{"msgpack unmarshal non-pointer", MsgPack(), OpUnmarshal, func(c Codec) error {
			return c.Unmarshal([]byte{0x01}, 1)
		}},
		{"json unmarshal non-pointer", JSON(), OpUnmarshal, func(c Codec) error {
			return c.Unmarshal([]byte("1"), 1)
		}},
		{"msgpack unmarshal nil target", MsgPack(), OpUnmarshal, func(c Codec) error {
			return c.Unmarshal([]byte{0x01}, nil)
		}},
		{"msgpack unmarshal empty", MsgPack(), OpUnmarshal, func(c Codec) error {
			return c.Unmarshal(nil, new(any))
		}},
		{"json unmarshal empty", JSON(), OpUnmarshal, func(c Codec) error {
			return c.Unmarshal(nil, new(any))
		}},
		{"msgpack type mismatch", MsgPack(), OpUnmarshal, func(c Codec) error {
			return c.Unmarshal([]byte{0xa1, 'x'}, new(int))
		}},
		{"json syntax", JSON(), OpUnmarshal, func(c Codec) error {
			return c.Unmarshal([]byte("{"), new(any))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run(tt.c)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T) is not a *codec.Error", err, err)
			}
			if ce.Op != tt.op || ce.ContentType != tt.c.ContentType() {
				t.Errorf("Op, ContentType = %q, %q; want %q, %q", ce.Op, ce.ContentType, tt.op, tt.c.ContentType())
			}
			if ce.Err == nil || errors.Unwrap(err) != ce.Err {
				t.Errorf("Unwrap() = %v, want the cause", errors.Unwrap(err))
			}
			if !strings.HasPrefix(err.Error(), "codec: "+tt.op+" "+tt.c.ContentType()+": ") {
				t.Errorf("Error() = %q", err)
			}
		})
	}
}

func TestErrorWithoutCause(t *testing.T) {
	e := &Error{Op: OpMarshal, ContentType: ContentTypeJSON}
	if got, want := e.Error(), "codec: marshal application/json"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// Run with -race: the codecs share pooled state across goroutines.
func TestConcurrentUse(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				for _, c := range codecs() {
					in := sample{Name: strings.Repeat("n", g+i%7), Count: g*1000 + i, Tags: []string{"a"}}
					data, err := c.Marshal(in)
					if err != nil {
						t.Error(err)
						return
					}
					var out sample
					if err := c.Unmarshal(data, &out); err != nil {
						t.Error(err)
						return
					}
					if out.Name != in.Name || out.Count != in.Count {
						t.Errorf("%s: got %+v, want %+v", c.ContentType(), out, in)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

type small struct {
	ID     string `json:"id"`
	Amount int64  `json:"amount"`
	Note   string `json:"note"`
	OK     bool   `json:"ok"`
}

func BenchmarkMsgPackMarshal(b *testing.B) {
	v := small{ID: "order-1234", Amount: 4200, Note: "expedite", OK: true}
	c := MsgPack()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Marshal(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMsgPackUnmarshal(b *testing.B) {
	c := MsgPack()
	data, err := c.Marshal(small{ID: "order-1234", Amount: 4200, Note: "expedite", OK: true})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var v small
		if err := c.Unmarshal(data, &v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONMarshal(b *testing.B) {
	v := small{ID: "order-1234", Amount: 4200, Note: "expedite", OK: true}
	c := JSON()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Marshal(v); err != nil {
			b.Fatal(err)
		}
	}
}
