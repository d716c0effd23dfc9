package prom

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/meshmq/meshmq/peer"
)

func TestCumulativeBuckets(t *testing.T) {
	h := peer.Histogram{Bounds: []float64{0.1, 1, 10}, Counts: []uint64{2, 0, 3, 1}, Count: 6, Sum: 12.5}
	got, err := cumulativeBuckets(h)
	if err != nil {
		t.Fatal(err)
	}
	want := map[float64]uint64{0.1: 2, 1: 2, 10: 5} // +Inf: the count, 6
	if len(got) != len(want) {
		t.Fatalf("buckets %v, want %v", got, want)
	}
	for b, n := range want {
		if got[b] != n {
			t.Errorf("bucket le=%v: %d, want %d", b, got[b], n)
		}
	}

	d := prometheus.NewDesc("h_seconds", "test", []string{"channel"}, nil)
	var m dto.Metric
	if err := histogram(d, h, "c").Write(&m); err != nil {
		t.Fatal(err)
	}
	if hm := m.GetHistogram(); hm.GetSampleCount() != 6 || hm.GetSampleSum() != 12.5 || len(hm.GetBucket()) != 3 ||
		hm.GetBucket()[2].GetCumulativeCount() != 5 {
		t.Errorf("histogram metric: %v", hm)
	}
}

// A histogram whose counts do not match its bounds or its count is
// reported as an invalid metric, which fails the scrape, not the process.
func TestInconsistentHistogram(t *testing.T) {
	d := prometheus.NewDesc("h_seconds", "test", nil, nil)
	for _, h := range []peer.Histogram{
		{Bounds: []float64{1}, Counts: []uint64{1}, Count: 1},             // no +Inf count
		{Bounds: []float64{1}, Counts: []uint64{1, 1}, Count: 3},          // counts add up to 2
		{Bounds: []float64{1, 2}, Counts: []uint64{1, 1, 0, 0}, Count: 2}, // too many counts
	} {
		if _, err := cumulativeBuckets(h); err == nil {
			t.Errorf("%+v: no error", h)
		}
		var m dto.Metric
		if err := histogram(d, h).Write(&m); err == nil {
			t.Errorf("%+v: a valid metric", h)
		}
	}
}
