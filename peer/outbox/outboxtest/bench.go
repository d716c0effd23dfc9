package outboxtest

import (
	"sync/atomic"
	"testing"

	"github.com/meshmq/meshmq/peer/outbox"
)

// BenchmarkAppendParallel appends one 64-byte record per Append from 32
// goroutines per CPU, as a peer's senders do, and reports msgs/s: group
// commit is what makes a durable store fast.
func BenchmarkAppendParallel(b *testing.B, s outbox.Store) {
	msg := make([]byte, 64)
	var n atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := &outbox.Record{ID: "id", Channel: "bench", Message: msg}
			if err := s.Append(b.Context(), []*outbox.Record{r}); err != nil {
				b.Error(err)
				return
			}
			n.Add(1)
		}
	})
	b.ReportMetric(float64(n.Load())/b.Elapsed().Seconds(), "msgs/s")
}
