package otelmetric_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/internal/testutil/peertest"
	"github.com/meshmq/meshmq/metrics/otelmetric"
	"github.com/meshmq/meshmq/peer"
)

// histogram returns the data points of meshmq.handler.duration by their
// attribute sets' encoding.
func histogram(t *testing.T, rm metricdata.ResourceMetrics) map[attribute.Distinct]metricdata.HistogramDataPoint[float64] {
	t.Helper()
	m, ok := find(rm, otelmetric.HandlerDuration)
	if !ok {
		t.Fatal("no handler duration recorded")
	}
	if m.Unit != "s" {
		t.Errorf("unit %q, want s", m.Unit)
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("handler duration is a %T", m.Data)
	}
	out := map[attribute.Distinct]metricdata.HistogramDataPoint[float64]{}
	for _, dp := range h.DataPoints {
		out[dp.Attributes.Equivalent()] = dp
	}
	return out
}

func set(kv ...attribute.KeyValue) attribute.Distinct {
	s := attribute.NewSet(kv...)
	return s.Equivalent()
}

// The middleware on a real receiver records one duration per handler run,
// split by outcome, with the peer's own latency buckets: as many runs as
// the peer's histogram counts.
func TestHandleMiddlewareRecordsRuns(t *testing.T) {
	mp, reader := newProvider(t)
	_, rx := peertest.Exchange(t, peer.WithHandleMiddleware(otelmetric.HandleMiddleware(mp)))
	dps := histogram(t, collect(t, reader))
	ch := otelmetric.ChannelKey.String
	et := otelmetric.ErrorTypeKey.String
	for k, want := range map[attribute.Distinct]uint64{
		set(ch("orders")): peertest.Orders - 1, // the retried one succeeded at last
		set(ch("orders"), et(otelmetric.ErrorRetryable)): 1,
		set(ch("orders"), et(otelmetric.ErrorPermanent)): 1,
		set(ch("events.x")): peertest.Events,
		set(ch("quote")):    1,
	} {
		dp, ok := dps[k]
		if !ok || dp.Count != want {
			t.Errorf("%v: %d runs (%v), want %d", k, dp.Count, ok, want)
		}
		if !slices.Equal(dp.Bounds, peer.LatencyBounds) {
			t.Errorf("bounds %v, want %v", dp.Bounds, peer.LatencyBounds)
		}
		var sum uint64
		for _, c := range dp.BucketCounts {
			sum += c
		}
		if sum != dp.Count || len(dp.BucketCounts) != len(peer.LatencyBounds)+1 {
			t.Errorf("%v: buckets %v for %d runs", k, dp.BucketCounts, dp.Count)
		}
	}
	if len(dps) != 5 {
		t.Errorf("%d data points, want 5", len(dps))
	}
	// Every run the peer timed, the middleware recorded.
	var runs uint64
	for _, dp := range dps {
		runs += dp.Count
	}
	var peerRuns uint64
	for _, cs := range rx.Stats().Channels {
		peerRuns += cs.HandlerLatency.Count
	}
	if runs != peerRuns {
		t.Errorf("middleware recorded %d runs, the peer timed %d", runs, peerRuns)
	}
}

// Outcomes, a panic passed on, and extra attributes, without a peer.
func TestHandleMiddlewareOutcomes(t *testing.T) {
	mp, reader := newProvider(t)
	zone := attribute.String("zone", "eu")
	mw := otelmetric.HandleMiddleware(mp, otelmetric.WithAttributes(zone))
	errRetry := errors.New("retry")
	run := func(h channel.Handler) (panicked any, err error) {
		defer func() { panicked = recover() }()
		return nil, mw(h)(context.Background(), &channel.Message{Channel: "c"})
	}
	if _, err := run(func(context.Context, *channel.Message) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := run(func(context.Context, *channel.Message) error { return errRetry }); err != errRetry {
		t.Fatalf("error %v not passed on", err)
	}
	if _, err := run(func(context.Context, *channel.Message) error { return channel.Permanent(errRetry) }); !channel.IsPermanent(err) {
		t.Fatalf("error %v not passed on", err)
	}
	if p, _ := run(func(context.Context, *channel.Message) error { panic("boom") }); p != "boom" {
		t.Fatalf("panic %v not passed on", p)
	}
	dps := histogram(t, collect(t, reader))
	ch := otelmetric.ChannelKey.String("c")
	for _, k := range []attribute.Distinct{
		set(zone, ch),
		set(zone, ch, otelmetric.ErrorTypeKey.String(otelmetric.ErrorRetryable)),
		set(zone, ch, otelmetric.ErrorTypeKey.String(otelmetric.ErrorPermanent)),
		set(zone, ch, otelmetric.ErrorTypeKey.String(otelmetric.ErrorPanic)),
	} {
		if dps[k].Count != 1 {
			t.Errorf("%v: %d runs, want 1", k, dps[k].Count)
		}
	}
}
