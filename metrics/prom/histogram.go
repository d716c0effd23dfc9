package prom

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshmq/meshmq/peer"
)

// cumulativeBuckets turns a peer.Histogram's per-bucket counts into the
// cumulative buckets Prometheus takes: each bound's count of observations at
// most that bound. The last count (past the last bound) is the +Inf bucket,
// which Prometheus derives from the total count.
func cumulativeBuckets(h peer.Histogram) (map[float64]uint64, error) {
	if len(h.Counts) != len(h.Bounds)+1 {
		return nil, fmt.Errorf("histogram has %d counts for %d bounds, want %d", len(h.Counts), len(h.Bounds), len(h.Bounds)+1)
	}
	out := make(map[float64]uint64, len(h.Bounds))
	var cum uint64
	for i, b := range h.Bounds {
		cum += h.Counts[i]
		out[b] = cum
	}
	if cum += h.Counts[len(h.Bounds)]; cum != h.Count {
		return nil, fmt.Errorf("histogram counts add up to %d, its count is %d", cum, h.Count)
	}
	return out, nil
}

// histogram is the const histogram metric of h, or an invalid metric
// carrying the reason h does not make one.
func histogram(d *prometheus.Desc, h peer.Histogram, labels ...string) prometheus.Metric {
	buckets, err := cumulativeBuckets(h)
	if err == nil {
		var m prometheus.Metric
		if m, err = prometheus.NewConstHistogram(d, h.Count, h.Sum, buckets, labels...); err == nil {
			return m
		}
	}
	return prometheus.NewInvalidMetric(d, err)
}
