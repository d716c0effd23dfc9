package wire

import (
	"bytes"
	"errors"
	"testing"

	"github.com/meshmq/meshmq/channel"
)

// seed adds every reference packet and some hostile shapes.
func seed(f *testing.F) {
	for _, v := range vectors() {
		f.Add(Encode(v.p))
	}
	f.Add([]byte{})
	f.Add([]byte{0x91})
	f.Add([]byte{0x92, 0x01, 0xdd, 0xff, 0xff, 0xff, 0xff})             // 4G entries claimed
	f.Add([]byte{0x92, 0x01, 0x91, 0x97, 0xcf, 0xff, 0xff, 0xff, 0xff}) // truncated uint64
	f.Add(bytes.Repeat([]byte{0x91}, 1000))                             // deep nesting
	f.Add([]byte{0x92, 0x05, 0xc1})
}

// FuzzDecode: any frame decodes to a packet or an ErrMalformed-style error,
// never a panic; a packet that decodes re-encodes to something that decodes
// to the same encoding.
func FuzzDecode(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotMeshmq) {
				t.Fatalf("error %v matches neither ErrMalformed nor ErrNotMeshmq", err)
			}
			return
		}
		enc := Encode(p)
		p2, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-encoded packet does not decode: %v", err)
		}
		if !bytes.Equal(Encode(p2), enc) {
			t.Fatal("encoding is not stable")
		}
		if d, ok := p.(*Data); ok {
			for _, e := range d.Entries {
				var m channel.Message
				_ = DecodeMessage(e.Message, &m)
			}
		}
	})
}

// FuzzDecodeMessage: any bytes decode to a message or an error; a decoded
// message re-encodes stably.
func FuzzDecodeMessage(f *testing.F) {
	f.Add(AppendMessage(nil, vectorMessage()))
	f.Add(AppendMessage(nil, &channel.Message{}))
	f.Add([]byte{0x81, 6, 0xdf, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x81, 7, 0xc6, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m channel.Message
		if err := DecodeMessage(b, &m); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		enc := AppendMessage(nil, &m)
		var m2 channel.Message
		if err := DecodeMessage(enc, &m2); err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		if !bytes.Equal(AppendMessage(nil, &m2), enc) {
			t.Fatal("encoding is not stable")
		}
	})
}
