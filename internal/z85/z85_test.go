package z85

import (
	"bytes"
	"errors"
	"testing"
)

func TestVector(t *testing.T) {
	raw := []byte{0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B}
	s, err := Encode(raw)
	if err != nil || s != "HelloWorld" {
		t.Fatalf("Encode = %q, %v; want HelloWorld", s, err)
	}
	b, err := Decode("HelloWorld")
	if err != nil || !bytes.Equal(b, raw) {
		t.Fatalf("Decode = %x, %v; want %x", b, err, raw)
	}
}

func TestKeyRoundTrip(t *testing.T) {
	var key [32]byte
	for i := range key {
		key[i] = byte(i*7 + 3)
	}
	s, err := Encode(key[:])
	if err != nil || len(s) != 40 {
		t.Fatalf("Encode: %q, %v", s, err)
	}
	b, err := Decode(s)
	if err != nil || !bytes.Equal(b, key[:]) {
		t.Fatalf("round trip: %x, %v", b, err)
	}
	// Extremes.
	for _, in := range [][]byte{{0, 0, 0, 0}, {0xff, 0xff, 0xff, 0xff}, {}} {
		s, err := Encode(in)
		if err != nil {
			t.Fatal(err)
		}
		out, err := Decode(s)
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("%x -> %q -> %x, %v", in, s, out, err)
		}
	}
}

func TestErrors(t *testing.T) {
	if _, err := Encode([]byte{1, 2, 3}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Encode 3 bytes: %v", err)
	}
	for _, s := range []string{"Hell", "HelloWorl", "Hello Worl", "Hell\"", "Hell\x00", "Hell\xff", "%%%%%", "#####"} {
		if _, err := Decode(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("Decode(%q): err = %v, want ErrInvalid", s, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{"HelloWorld", "", "00000", "%nSc0", "%nSc1", "#####", "Hell", "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := Decode(s)
		if err != nil {
			return
		}
		back, err := Encode(b)
		if err != nil || back != s {
			t.Fatalf("Decode(%q) = %x, re-encoded %q, %v", s, b, back, err)
		}
	})
}

func FuzzEncode(f *testing.F) {
	f.Add([]byte{0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Encode(b)
		if err != nil {
			if len(b)%4 == 0 {
				t.Fatal(err)
			}
			return
		}
		back, err := Decode(s)
		if err != nil || !bytes.Equal(back, b) {
			t.Fatalf("%x -> %q -> %x, %v", b, s, back, err)
		}
	})
}
