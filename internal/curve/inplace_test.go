package curve

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"golang.org/x/crypto/nacl/secretbox"
)

// sealInPlace and openInPlace give secretbox's bytes, for every length
// around its block boundaries, and openInPlace refuses any flipped bit.
func TestInPlaceMatchesSecretbox(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var key [32]byte
	var nonce [24]byte
	for _, n := range []int{0, 1, 15, 16, 31, 32, 33, 63, 64, 65, 127, 128, 200, 255, 256, 257, 1000, 1024, 4096, 65536 + 7} {
		for i := range key {
			key[i] = byte(rng.Uint32())
		}
		for i := range nonce {
			nonce[i] = byte(rng.Uint32())
		}
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(rng.Uint32())
		}
		want := secretbox.Seal(nil, msg, &nonce, &key)
		got := append(make([]byte, overhead), msg...)
		sealInPlace(got, &nonce, &key)
		if !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: sealInPlace differs from secretbox.Seal", n)
		}
		pt, ok := openInPlace(got, &nonce, &key)
		if !ok || !bytes.Equal(pt, msg) {
			t.Fatalf("%d bytes: openInPlace did not return the message", n)
		}
		for _, bit := range []int{0, 8*overhead - 1, 8 * (len(want) - 1)} {
			bad := bytes.Clone(want)
			bad[bit/8] ^= 1 << (bit % 8)
			keep := bytes.Clone(bad)
			if _, ok := openInPlace(bad, &nonce, &key); ok {
				t.Fatalf("%d bytes: bit %d flipped, still opened", n, bit)
			}
			if !bytes.Equal(bad, keep) {
				t.Fatalf("%d bytes: a refused box was changed", n)
			}
		}
	}
	if _, ok := openInPlace(make([]byte, overhead-1), &nonce, &key); ok {
		t.Fatal("a box shorter than its tag opened")
	}
}

func BenchmarkSeal1KiB(b *testing.B)  { benchmarkSealOpen(b, 1024) }
func BenchmarkSeal64KiB(b *testing.B) { benchmarkSealOpen(b, 64<<10) }

// benchmarkSealOpen seals and opens one MESSAGE of size bytes per op.
func benchmarkSealOpen(b *testing.B, size int) {
	var key [32]byte
	a := newSession(&key, "CurveZMQMESSAGEC", "CurveZMQMESSAGEC", 1, 0)
	data := make([]byte, size)
	var buf []byte
	b.SetBytes(int64(size))
	for b.Loop() {
		var err error
		buf, err = a.AppendSeal(buf[:0], 0, data)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := a.OpenInPlace(buf); err != nil {
			b.Fatal(err)
		}
	}
}
