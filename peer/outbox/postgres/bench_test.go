package postgres_test

import (
	"github.com/meshmq/meshmq/internal/testutil/pgtest"
	"sync/atomic"
	"testing"

	"github.com/meshmq/meshmq/peer/outbox"
	"github.com/meshmq/meshmq/peer/outbox/postgres"
)

// BenchmarkAppendParallel: 32 appenders per CPU, one 64-byte record per
// Append, as a peer's senders do. Group commit is what makes it fast.
func BenchmarkAppendParallel(b *testing.B) {
	s, err := postgres.Open(b.Context(), pgtest.Database(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
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
