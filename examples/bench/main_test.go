package main

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Each figure's measurement runs to completion on a small count: the bench
// command stays runnable. (Speeds are for the command, not for tests.)
func TestFiguresRun(t *testing.T) {
	for _, f := range []struct {
		name string
		run  func(context.Context) (float64, error)
	}{
		{"raw_zmq4", func(ctx context.Context) (float64, error) { return rawPushPull(ctx, 64, 1000) }},
		{"transport_64B", func(ctx context.Context) (float64, error) { return transportOneWay(ctx, 64, 20_000) }},
		{"transport_1KiB", func(ctx context.Context) (float64, error) { return transportOneWay(ctx, 1024, 5_000) }},
	} {
		t.Run(f.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			v, err := f.run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if v <= 0 {
				t.Fatalf("rate %v", v)
			}
		})
	}
}

// The gossip measurement completes on a small cluster.
func TestGossipTimesRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, _, _, err := gossipTimes(ctx, 3); err != nil {
		t.Fatal(err)
	}
}

func TestMedian(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Fatal(m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Fatal(m)
	}
}
