package main

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// A zmq4 PUB socket's writer goroutine outlives the socket: socket.Close
// never closes the writer (zmq4 v0.17.0, one goroutine per PUB socket). The
// raw pub/sub baseline can only leak it; meshmq's own code stays checked.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/go-zeromq/zmq4.(*pubMWriter).run"))
}

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
		{"raw_zmq4_pubsub3", func(ctx context.Context) (float64, error) { return rawPubSub3(ctx, 64, 1000) }},
		{"send_alo_keyed", func(ctx context.Context) (float64, error) { return rate(peerSendKeyed(ctx, 64, 5000, 100, false)) }},
		{"send_alo_curve_1KiB", func(ctx context.Context) (float64, error) { return rate(peerSendCurve(ctx, 1024, 2000)) }},
		{"publish_alo_3subs", func(ctx context.Context) (float64, error) { return publishFanout(ctx, 64, 2000, 3) }},
		{"raw_zmq4_rtt", func(ctx context.Context) (float64, error) { return p50(rawRTT(ctx, 64, 10, 200)) }},
		{"request", func(ctx context.Context) (float64, error) { return p50(peerRequests(ctx, 64, 10, 200)) }},
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

func p50(d []time.Duration, err error) (float64, error) {
	if err != nil {
		return 0, err
	}
	return float64(percentile(d, 50)), nil
}

func TestPercentile(t *testing.T) {
	d := make([]time.Duration, 100)
	for i := range d {
		d[i] = time.Duration(100 - i)
	}
	if p := percentile(d, 50); p != 50 {
		t.Fatal(p)
	}
	if p := percentile(d, 99); p != 99 {
		t.Fatal(p)
	}
	if p := percentile([]time.Duration{7}, 99); p != 7 {
		t.Fatal(p)
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
