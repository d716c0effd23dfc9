package peer

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
)

func benchmarkSend(b *testing.B, size int, opts ...SendOption) {
	var handled atomic.Int64
	rx := start(b, WithName("rx"), WithLogger(testLogger()), WithCredit(benchCredit))
	rx.Handle("bench", func(context.Context, *channel.Message) error { handled.Add(1); return nil }, Concurrency(2))
	tx := start(b, WithName("tx"), WithLogger(testLogger()), WithDiscovery(discovery.NewStatic(member(rx, "bench"))))
	ctx := context.Background()
	body := make([]byte, size)
	if err := tx.Send(ctx, &channel.Message{Channel: "bench", Body: body}); err != nil {
		b.Fatal(err)
	}
	waitFor(b, "connection", func() bool { return handled.Load() == 1 })
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := tx.Send(ctx, &channel.Message{Channel: "bench", Body: body}, opts...); err != nil {
			b.Fatal(err)
		}
	}
	waitFor(b, "handled", func() bool { return handled.Load() == int64(b.N)+1 })
}

// At least once, until every message is handled.
func BenchmarkSendALO64B(b *testing.B) { benchmarkSend(b, 64) }
func BenchmarkSendBE64B(b *testing.B)  { benchmarkSend(b, 64, BestEffort()) }

var benchCredit = 4096

// One request at a time: ns/op is the round trip.
func BenchmarkRequest64B(b *testing.B) {
	rx := start(b, WithName("rx"), WithLogger(testLogger()))
	rx.Handle("echo", func(ctx context.Context, m *channel.Message) error {
		return Reply(ctx, &channel.Message{Body: m.Body})
	})
	tx := start(b, WithName("tx"), WithLogger(testLogger()), WithDiscovery(discovery.NewStatic(member(rx, "echo"))))
	ctx := context.Background()
	body := make([]byte, 64)
	for i := 0; i < 100; i++ { // connect and warm up
		if _, err := tx.Request(ctx, &channel.Message{Channel: "echo", Body: body}); err != nil {
			b.Fatal(err)
		}
	}
	rtts := make([]time.Duration, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := tx.Request(ctx, &channel.Message{Channel: "echo", Body: body}); err != nil {
			b.Fatal(err)
		}
		rtts[i] = time.Since(t0)
	}
	b.StopTimer()
	slices.Sort(rtts)
	b.ReportMetric(float64(rtts[len(rtts)/2].Microseconds()), "p50_us")
	b.ReportMetric(float64(rtts[len(rtts)*99/100].Microseconds()), "p99_us")
}

// Keyed, 1,000 keys, to a service of 64 partitions: through the lanes.
func BenchmarkSendALOKeyed64B(b *testing.B) {
	var handled atomic.Int64
	rx := start(b, WithName("rx"), WithLogger(testLogger()), WithCredit(benchCredit))
	rx.Handle("bench", func(context.Context, *channel.Message) error { handled.Add(1); return nil }, Concurrency(2), Partitions(64))
	tx := start(b, WithName("tx"), WithLogger(testLogger()), WithDiscovery(discovery.NewStatic(rx.Advertisement())))
	ctx := context.Background()
	body := make([]byte, 64)
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprint("key-", i)
	}
	b.SetBytes(64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := tx.Send(ctx, &channel.Message{Channel: "bench", Key: keys[i%len(keys)], Body: body}); err != nil {
			b.Fatal(err)
		}
	}
	waitFor(b, "handled", func() bool { return handled.Load() == int64(b.N) })
}
