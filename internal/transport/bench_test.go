package transport

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/meshmq/meshmq/internal/wire"
)

type countHandler struct {
	NopHandler
	n atomic.Int64
}

func (h *countHandler) Packet(_ *Conn, p wire.Packet) {
	if d, ok := p.(*wire.Data); ok {
		h.n.Add(int64(len(d.Entries)))
	}
}

func benchmarkSend(b *testing.B, size int, secure bool) {
	rx := &countHandler{}
	ca, cr := Config{Name: "a", Logger: testLogger()}, Config{Name: "r", Handler: rx, Logger: testLogger()}
	if secure {
		p := newCurvePeers(b, "a", "r")
		ca, cr = p.cfg("a", nil, "r"), p.cfg("r", rx, "a")
	}
	a := listen(b, ca)
	r := listen(b, cr)
	c, err := connect(b, a, r).WaitUp(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	e := wire.Entry{Stream: 1, Attempt: 1, Partition: wire.NoPartition, Message: make([]byte, size)}
	ctx := context.Background()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Seq = uint64(i + 1)
		if err := c.Send(ctx, &e); err != nil {
			b.Fatal(err)
		}
	}
	waitFor(b, "delivery", func() bool { return rx.n.Load() == int64(b.N) })
}

// One direction, loopback, per message: queue, batch, write, read, decode.
func BenchmarkSend64B(b *testing.B)  { benchmarkSend(b, 64, false) }
func BenchmarkSend1KiB(b *testing.B) { benchmarkSend(b, 1024, false) }

// The same over ZMTP CURVE: every frame sealed and opened.
func BenchmarkSendCurve64B(b *testing.B)  { benchmarkSend(b, 64, true) }
func BenchmarkSendCurve1KiB(b *testing.B) { benchmarkSend(b, 1024, true) }
