package codec

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func repeat(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// Each input here would make the underlying library allocate gigabytes,
// overflow the stack, or silently accept garbage. All must fail cleanly.
func TestMsgPackRejectsMalformed(t *testing.T) {
	type withMap struct {
		M map[string]any `json:"m"`
	}
	type withSlice struct {
		S []sample `json:"s"`
	}
	tests := []struct {
		name string
		data []byte
		into func() any
		want string // substring of the error
	}{
		{"empty", nil, func() any { return new(any) }, "end of data"},
		{"unused code", []byte{0xc1}, func() any { return new(any) }, "0xc1"},
		{"trailing data", []byte{0x01, 0x02}, func() any { return new(int) }, "trailing"},
		{"truncated array", []byte{0x92, 0x01}, func() any { return new(any) }, "declares 2 nested values but only 1 bytes remain"},
		{"truncated str8 length", []byte{0xd9}, func() any { return new(string) }, "end of data"},
		{"truncated str32", []byte{0xdb, 0, 0, 0, 0x10, 'a'}, func() any { return new(string) }, "end of data"},
		{"truncated float64", []byte{0xcb, 0, 0}, func() any { return new(float64) }, "end of data"},
		{"array32 length bomb", []byte{0xdd, 0x7f, 0xff, 0xff, 0xff}, func() any { return new(any) }, "declares"},
		{"typed slice length bomb", []byte{0x81, 0xa1, 's', 0xdd, 0x7f, 0xff, 0xff, 0xff}, func() any { return new(withSlice) }, "declares"},
		{"map32 length bomb", []byte{0xdf, 0x7f, 0xff, 0xff, 0xff}, func() any { return new(map[string]any) }, "declares"},
		{"bin32 length bomb", []byte{0xc6, 0x7f, 0xff, 0xff, 0xff}, func() any { return new([]byte) }, "end of data"},
		{"too deep", concat(repeat(0x91, maxDepth+1), []byte{0xc0}), func() any { return new(any) }, "nesting"},
		{"unsupported extension", []byte{0xd4, 0x01, 0x00}, func() any { return new(any) }, "extension type 1"},
		{"bad timestamp length", []byte{0xd5, 0xff, 0x00, 0x00}, func() any { return new(time.Time) }, "timestamp length"},
		{"truncated extension", []byte{0xc7, 0x0c}, func() any { return new(any) }, "end of data"},
		// A timestamp where a map is expected: the library would read the
		// payload as a map header declaring 2^31 entries.
		{"timestamp as map", []byte{0xd7, 0xff, 0xdf, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0}, func() any { return new(map[string]any) }, "extension payload"},
		{"timestamp as struct map field", []byte{0x81, 0xa1, 'm', 0xd7, 0xff, 0xdf, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0}, func() any { return new(withMap) }, "extension payload"},
		{"timestamp as typed map", []byte{0xd7, 0xff, 0x81, 0xa1, 'a', 0xdd, 0x7f, 0xff, 0xff, 0xff}, func() any { return new(map[string][]int) }, "extension payload"},
		{"unhashable map key", []byte{0x81, 0x90, 0x01}, func() any { return new(map[any]any) }, "panic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := MsgPack().Unmarshal(tt.data, tt.into())
			var ce *Error
			if !errors.As(err, &ce) || ce.Op != OpUnmarshal {
				t.Fatalf("Unmarshal error = %v, want a *codec.Error", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Unmarshal error = %q, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestMsgPackAcceptsDeepAndTimestamps(t *testing.T) {
	deep := concat(repeat(0x91, maxDepth), []byte{0xc0})
	var v any
	if err := MsgPack().Unmarshal(deep, &v); err != nil {
		t.Fatalf("%d levels: %v", maxDepth, err)
	}

	// Timestamps in every position the guard tracks, in all three
	// encodings (32-, 64- and 96-bit), interleaved with maps.
	type stamped struct {
		At    time.Time            `json:"at"`
		ByKey map[string]time.Time `json:"by_key"`
		List  []any                `json:"list"`
		After map[string]int       `json:"after"`
	}
	times := []time.Time{
		time.Unix(1_700_000_000, 0),           // 32-bit
		time.Unix(1_700_000_000, 560_000_000), // 64-bit, payload starts with a fixmap code
		time.Unix(1<<35, 1),                   // 96-bit
	}
	in := stamped{
		At:    times[1],
		ByKey: map[string]time.Time{"a": times[0], "b": times[1], "c": times[2]},
		List:  []any{times[2], map[string]any{"t": times[1]}, "x"},
		After: map[string]int{"n": 1},
	}
	data, err := MsgPack().Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out stamped
	if err := MsgPack().Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if !out.At.Equal(in.At) || len(out.ByKey) != 3 || !out.ByKey["c"].Equal(times[2]) || out.After["n"] != 1 {
		t.Errorf("got %+v, want %+v", out, in)
	}
	if got, ok := out.List[0].(time.Time); !ok || !got.Equal(times[2]) {
		t.Errorf("List[0] = %v, want %v", out.List[0], times[2])
	}
}
