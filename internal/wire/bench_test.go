package wire

import (
	"testing"

	"github.com/meshmq/meshmq/channel"
)

func BenchmarkAppendMessage(b *testing.B) {
	m := vectorMessage()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendMessage(buf[:0], m)
	}
}

func BenchmarkDecodeMessage(b *testing.B) {
	enc := AppendMessage(nil, vectorMessage())
	b.ReportAllocs()
	var m channel.Message
	for i := 0; i < b.N; i++ {
		if err := DecodeMessage(enc, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// A DATA frame of 64-byte messages, as the transport writes them: the cost
// per entry is the figure of interest.
func dataFrame(n int) []byte {
	msg := make([]byte, 64)
	b := AppendDataHeader(nil, n)
	for i := 0; i < n; i++ {
		b = AppendEntry(b, &Entry{Stream: 1, Seq: uint64(i + 1), Attempt: 1, Partition: NoPartition, Message: msg})
	}
	return b
}

func BenchmarkEncodeData64B(b *testing.B) {
	msg := make([]byte, 64)
	buf := make([]byte, 0, 128<<10)
	b.ReportAllocs()
	b.SetBytes(64)
	for i := 0; i < b.N; i++ {
		if i%800 == 0 {
			buf = AppendDataHeader(buf[:0], 800)
		}
		buf = AppendEntry(buf, &Entry{Stream: 1, Seq: uint64(i + 1), Attempt: 1, Partition: NoPartition, Message: msg})
	}
}

func BenchmarkDecodeData64B(b *testing.B) {
	const n = 800
	frame := dataFrame(n)
	b.ReportAllocs()
	b.SetBytes(64 * n)
	for i := 0; i < b.N; i++ {
		if _, err := Decode(frame); err != nil {
			b.Fatal(err)
		}
	}
}
