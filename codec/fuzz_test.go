package codec

import (
	"testing"
	"time"
)

// FuzzMsgPackUnmarshal checks that no input makes Unmarshal panic or
// exhaust memory, and that whatever decodes into any re-encodes.
func FuzzMsgPackUnmarshal(f *testing.F) {
	seeds := []any{
		nil, true, 1, -1, 1 << 40, 3.25, "s", []byte{1, 2},
		[]any{1, "a", nil}, map[string]any{"k": []any{1.5}},
		time.Unix(1_700_000_000, 560_000_000),
		sample{Name: "n", Count: 2, Tags: []string{"t"}, Attrs: map[string]string{"a": "b"}, Nested: &sample{Name: "m"}},
	}
	for _, s := range seeds {
		data, err := MsgPack().Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{0xdd, 0x7f, 0xff, 0xff, 0xff})
	f.Add([]byte{0xd7, 0xff, 0xdf, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0})
	f.Add([]byte{0x81, 0x90, 0x01})

	f.Fuzz(func(t *testing.T, data []byte) {
		var s sample
		_ = MsgPack().Unmarshal(data, &s)
		var m map[string]any
		_ = MsgPack().Unmarshal(data, &m)

		var v any
		if err := MsgPack().Unmarshal(data, &v); err != nil {
			return
		}
		again, err := MsgPack().Marshal(v)
		if err != nil {
			t.Fatalf("decoded %#v but cannot re-encode it: %v", v, err)
		}
		var w any
		if err := MsgPack().Unmarshal(again, &w); err != nil {
			t.Fatalf("cannot decode own encoding %x of %x: %v", again, data, err)
		}
	})
}
