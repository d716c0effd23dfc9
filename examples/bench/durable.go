package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/peer"
	"github.com/meshmq/meshmq/peer/outbox"
	"github.com/meshmq/meshmq/peer/outbox/pglogtail"
	"github.com/meshmq/meshmq/peer/outbox/postgres"
	"github.com/meshmq/meshmq/peer/outbox/sqlite"
)

// durableSenders is how many goroutines send at once in the durable
// figures: a store's group commit takes their messages in one transaction.
const durableSenders = 64

// benchStore is a store for one run, and how to remove it afterwards.
type benchStore interface {
	outbox.Store
	outbox.TxAppender
	DB() *sql.DB
}

// openBenchStore opens a fresh store: "memory", "sqlite" (a file in a
// temporary directory), or "postgres" (tables under a fresh prefix in the
// -postgres database, dropped afterwards).
func openBenchStore(ctx context.Context, kind, dsn string) (st benchStore, prefix string, cleanup func(), err error) {
	switch kind {
	case "sqlite":
		dir, err := os.MkdirTemp("", "meshmq-bench")
		if err != nil {
			return nil, "", nil, err
		}
		s, err := sqlite.Open(ctx, filepath.Join(dir, "bench.db"))
		if err != nil {
			os.RemoveAll(dir)
			return nil, "", nil, err
		}
		return s, "meshmq", func() { s.Close(); os.RemoveAll(dir) }, nil
	case "postgres":
		prefix := fmt.Sprintf("bench_%d", rand.Uint32())
		s, err := postgres.Open(ctx, dsn, postgres.TablePrefix(prefix))
		if err != nil {
			return nil, "", nil, err
		}
		return s, prefix, func() {
			s.Close()
			db, err := sql.Open("pgx", dsn)
			if err != nil {
				return
			}
			defer db.Close()
			for _, t := range []string{"messages", "dead", "processed"} {
				db.Exec("DROP TABLE IF EXISTS " + prefix + "_" + t)
			}
		}, nil
	}
	return nil, "", nil, fmt.Errorf("unknown store %q", kind)
}

// durableSend sends n 64 B messages from durableSenders goroutines through
// a peer on the store kind ("memory" for the default) and times until all
// are handled. Each Send returns once its message is committed.
func durableSend(ctx context.Context, kind, dsn string, n int) (float64, error) {
	var handled atomic.Int64
	rx, err := peer.New(ctx, peer.WithName("bench-rx"))
	if err != nil {
		return 0, err
	}
	defer rx.Close(context.Background())
	if err := rx.Handle("bench", func(context.Context, *channel.Message) error {
		handled.Add(1)
		return nil
	}, peer.Concurrency(2)); err != nil {
		return 0, err
	}
	opts := []peer.Option{peer.WithName("bench-tx"), peer.WithDiscovery(discovery.NewStatic(rx.Advertisement()))}
	if kind != "memory" {
		st, _, cleanup, err := openBenchStore(ctx, kind, dsn)
		if err != nil {
			return 0, err
		}
		defer cleanup()
		opts = append(opts, peer.WithStore(st))
	}
	tx, err := peer.New(ctx, opts...)
	if err != nil {
		return 0, err
	}
	defer tx.Close(context.Background())
	body := make([]byte, 64)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, durableSenders)
	var next atomic.Int64
	for range durableSenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if err := tx.Send(ctx, &channel.Message{Channel: "bench", Body: body}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	for handled.Load() < int64(n) {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		time.Sleep(time.Millisecond)
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// relayLatency writes n messages, one transaction each, one at a time, into
// the outbox of a store of kind, and returns for each the time from its
// commit to its handler: relayed by the store's polling publisher, or by
// the PostgreSQL log tail (logtail true).
func relayLatency(ctx context.Context, kind, dsn string, logtail bool, n int) ([]time.Duration, error) {
	arrived := make(chan time.Time, 1)
	rx, err := peer.New(ctx, peer.WithName("bench-rx"))
	if err != nil {
		return nil, err
	}
	defer rx.Close(context.Background())
	if err := rx.Handle("bench", func(context.Context, *channel.Message) error {
		arrived <- time.Now()
		return nil
	}); err != nil {
		return nil, err
	}
	st, prefix, cleanup, err := openBenchStore(ctx, kind, dsn)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	opts := []peer.Option{peer.WithName("bench-tx"), peer.WithStore(st),
		peer.WithDiscovery(discovery.NewStatic(rx.Advertisement()))}
	if logtail {
		slot := prefix + "_outbox_bench"
		tail, err := pglogtail.New(ctx, dsn, pglogtail.TablePrefix(prefix), pglogtail.Slot(slot))
		if err != nil {
			return nil, err
		}
		defer pglogtail.DropSlot(context.Background(), dsn, slot)
		opts = append(opts, peer.WithRelay(tail))
	}
	tx, err := peer.New(ctx, opts...)
	if err != nil {
		return nil, err
	}
	defer tx.Close(context.Background())
	body := make([]byte, 64)
	out := make([]time.Duration, 0, n)
	for i := 0; i <= n; i++ { // the first warms up
		dbtx, err := st.DB().BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		if err := tx.SendTx(ctx, dbtx, &channel.Message{Channel: "bench", Body: body}); err != nil {
			dbtx.Rollback()
			return nil, err
		}
		committed := time.Now()
		if err := dbtx.Commit(); err != nil {
			return nil, err
		}
		select {
		case at := <-arrived:
			if i > 0 {
				out = append(out, at.Sub(committed))
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return out, nil
}
