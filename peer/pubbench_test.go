package peer

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
)

// BenchmarkPublish3Subs64B: one event to three subscribers at least once;
// ns/op is per event (three deliveries).
func BenchmarkPublish3Subs64B(b *testing.B) {
	var handled atomic.Int64
	var members []discovery.Member
	for i := 0; i < 3; i++ {
		rx := start(b, WithName(fmt.Sprintf("sub%d", i)))
		if _, err := rx.Subscribe("bench.>", func(context.Context, *channel.Message) error {
			handled.Add(1)
			return nil
		}, Concurrency(2), Retain(0, 1<<14, 0)); err != nil {
			b.Fatal(err)
		}
		members = append(members, discovery.Member{Name: rx.Name(), Endpoint: rx.Endpoint(),
			Subscriptions: []discovery.Subscription{{Pattern: "bench.>", MaxCount: 1 << 14}}})
	}
	tx := start(b, WithName("pub"), WithDiscovery(discovery.NewStatic(members...)))
	body := make([]byte, 64)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := tx.Publish(ctx, &channel.Message{Channel: "bench.tick", Body: body}); err != nil {
			b.Fatal(err)
		}
	}
	waitFor(b, "all handled", func() bool { return handled.Load() == int64(3*b.N) && tx.Stats().InFlight == 0 })
	b.ReportMetric(float64(3*b.N)/b.Elapsed().Seconds(), "deliveries/s")
}
