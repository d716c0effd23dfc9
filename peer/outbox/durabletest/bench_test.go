package durabletest

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/internal/testutil/pgtest"
	"github.com/meshmq/meshmq/peer"
)

// BenchmarkDurableSend64B: 64 B messages from 64 goroutines through Send
// with each store, until handled; msgs/s is the figure.
func BenchmarkDurableSend64B(b *testing.B) {
	for _, kind := range []string{"memory", "sqlite", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			ctx := context.Background()
			var handled atomic.Int64
			rx, err := peer.New(ctx, peer.WithName("rx"))
			if err != nil {
				b.Fatal(err)
			}
			defer rx.Close(ctx)
			if err := rx.Handle("work", func(context.Context, *channel.Message) error {
				handled.Add(1)
				return nil
			}, peer.Concurrency(2)); err != nil {
				b.Fatal(err)
			}
			opts := []peer.Option{peer.WithName("tx"), peer.WithDiscovery(discovery.NewStatic(rx.Advertisement()))}
			switch kind {
			case "sqlite":
				st, err := openStore(ctx, "sqlite:"+filepath.Join(b.TempDir(), "tx.db"))
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				opts = append(opts, peer.WithStore(st))
			case "postgres":
				st, err := openStore(ctx, "postgres:"+pgtest.Database(b))
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				opts = append(opts, peer.WithStore(st))
			}
			tx, err := peer.New(ctx, opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer tx.Close(ctx)
			body := make([]byte, 64)
			b.SetParallelism(durableParallelism) // goroutines per core
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := tx.Send(ctx, &channel.Message{Channel: "work", Body: body}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			testutil.WaitFor(b, "all handled", func() bool { return handled.Load() >= int64(b.N) })
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// durableParallelism: 32 sender goroutines per core, 64 on the 2-core
// reference machine.
var durableParallelism = 32
