package prom_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/meshmq/meshmq/internal/testutil/peertest"
	"github.com/meshmq/meshmq/metrics/prom"
	"github.com/meshmq/meshmq/peer"
)

// Two peers' traffic, scraped through a registry, equals what they did:
// every message counted once where it was sent and where it was handled.
func TestCollectorCountsTraffic(t *testing.T) {
	tx, rx := peertest.Exchange(t)
	reg := prometheus.NewPedanticRegistry() // checks Collect against Describe
	reg.MustRegister(prom.NewCollector(tx, rx))
	ts, rs := tx.Stats(), rx.Stats()

	const want = `
# HELP meshmq_channel_sent_total Messages (event copies) accepted for at-least-once delivery on the channel.
# TYPE meshmq_channel_sent_total counter
meshmq_channel_sent_total{channel="(reply)",peer="rx"} 1
meshmq_channel_sent_total{channel="events.x",peer="rx"} 0
meshmq_channel_sent_total{channel="events.x",peer="tx"} 2
meshmq_channel_sent_total{channel="orders",peer="rx"} 0
meshmq_channel_sent_total{channel="orders",peer="tx"} 11
meshmq_channel_sent_total{channel="quote",peer="rx"} 0
meshmq_channel_sent_total{channel="quote",peer="tx"} 1
# HELP meshmq_channel_acked_total Messages sent on the channel and acknowledged by their receiver.
# TYPE meshmq_channel_acked_total counter
meshmq_channel_acked_total{channel="(reply)",peer="rx"} 1
meshmq_channel_acked_total{channel="events.x",peer="rx"} 0
meshmq_channel_acked_total{channel="events.x",peer="tx"} 2
meshmq_channel_acked_total{channel="orders",peer="rx"} 0
meshmq_channel_acked_total{channel="orders",peer="tx"} 10
meshmq_channel_acked_total{channel="quote",peer="rx"} 0
meshmq_channel_acked_total{channel="quote",peer="tx"} 1
# HELP meshmq_channel_dead_lettered_total Messages sent on the channel and given up on (dead letters).
# TYPE meshmq_channel_dead_lettered_total counter
meshmq_channel_dead_lettered_total{channel="(reply)",peer="rx"} 0
meshmq_channel_dead_lettered_total{channel="events.x",peer="rx"} 0
meshmq_channel_dead_lettered_total{channel="events.x",peer="tx"} 0
meshmq_channel_dead_lettered_total{channel="orders",peer="rx"} 0
meshmq_channel_dead_lettered_total{channel="orders",peer="tx"} 1
meshmq_channel_dead_lettered_total{channel="quote",peer="rx"} 0
meshmq_channel_dead_lettered_total{channel="quote",peer="tx"} 0
# HELP meshmq_channel_handled_total Messages received on the channel whose handler returned nil.
# TYPE meshmq_channel_handled_total counter
meshmq_channel_handled_total{channel="(reply)",peer="rx"} 0
meshmq_channel_handled_total{channel="events.x",peer="rx"} 2
meshmq_channel_handled_total{channel="events.x",peer="tx"} 0
meshmq_channel_handled_total{channel="orders",peer="rx"} 9
meshmq_channel_handled_total{channel="orders",peer="tx"} 0
meshmq_channel_handled_total{channel="quote",peer="rx"} 1
meshmq_channel_handled_total{channel="quote",peer="tx"} 0
# HELP meshmq_channel_handler_errors_total Handler runs on the channel that returned an error or panicked.
# TYPE meshmq_channel_handler_errors_total counter
meshmq_channel_handler_errors_total{channel="(reply)",peer="rx"} 0
meshmq_channel_handler_errors_total{channel="events.x",peer="rx"} 0
meshmq_channel_handler_errors_total{channel="events.x",peer="tx"} 0
meshmq_channel_handler_errors_total{channel="orders",peer="rx"} 2
meshmq_channel_handler_errors_total{channel="orders",peer="tx"} 0
meshmq_channel_handler_errors_total{channel="quote",peer="rx"} 0
meshmq_channel_handler_errors_total{channel="quote",peer="tx"} 0
# HELP meshmq_channel_duplicates_total Messages received on the channel and dropped as already handled.
# TYPE meshmq_channel_duplicates_total counter
meshmq_channel_duplicates_total{channel="(reply)",peer="rx"} 0
meshmq_channel_duplicates_total{channel="events.x",peer="rx"} 0
meshmq_channel_duplicates_total{channel="events.x",peer="tx"} 0
meshmq_channel_duplicates_total{channel="orders",peer="rx"} 1
meshmq_channel_duplicates_total{channel="orders",peer="tx"} 0
meshmq_channel_duplicates_total{channel="quote",peer="rx"} 0
meshmq_channel_duplicates_total{channel="quote",peer="tx"} 0
# HELP meshmq_channel_in_flight Messages of the channel in the retry buffer.
# TYPE meshmq_channel_in_flight gauge
meshmq_channel_in_flight{channel="(reply)",peer="rx"} 0
meshmq_channel_in_flight{channel="events.x",peer="rx"} 0
meshmq_channel_in_flight{channel="events.x",peer="tx"} 0
meshmq_channel_in_flight{channel="orders",peer="rx"} 0
meshmq_channel_in_flight{channel="orders",peer="tx"} 0
meshmq_channel_in_flight{channel="quote",peer="rx"} 0
meshmq_channel_in_flight{channel="quote",peer="tx"} 0
# HELP meshmq_destination_sent_total Messages handed to the member, failed-over ones included.
# TYPE meshmq_destination_sent_total counter
meshmq_destination_sent_total{destination="rx",peer="tx"} 14
meshmq_destination_sent_total{destination="tx",peer="rx"} 1
# HELP meshmq_destination_acked_total Messages the member acknowledged.
# TYPE meshmq_destination_acked_total counter
meshmq_destination_acked_total{destination="rx",peer="tx"} 13
meshmq_destination_acked_total{destination="tx",peer="rx"} 1
# HELP meshmq_destination_dead_lettered_total Messages to the member given up on (dead letters).
# TYPE meshmq_destination_dead_lettered_total counter
meshmq_destination_dead_lettered_total{destination="rx",peer="tx"} 1
meshmq_destination_dead_lettered_total{destination="tx",peer="rx"} 0
# HELP meshmq_destination_in_flight Messages handed to the member and not yet acknowledged.
# TYPE meshmq_destination_in_flight gauge
meshmq_destination_in_flight{destination="rx",peer="tx"} 0
meshmq_destination_in_flight{destination="tx",peer="rx"} 0
# HELP meshmq_destination_connected 1 if a data connection to the member is up, else 0.
# TYPE meshmq_destination_connected gauge
meshmq_destination_connected{destination="rx",peer="tx"} 1
meshmq_destination_connected{destination="tx",peer="rx"} 1
# HELP meshmq_published_total Events accepted by Publish (each copied to every subscriber group).
# TYPE meshmq_published_total counter
meshmq_published_total{peer="rx"} 0
meshmq_published_total{peer="tx"} 2
# HELP meshmq_unheard_total Events published while no group subscribed to their topic.
# TYPE meshmq_unheard_total counter
meshmq_unheard_total{peer="rx"} 0
meshmq_unheard_total{peer="tx"} 0
# HELP meshmq_in_flight Messages in the retry buffer, retained event copies included.
# TYPE meshmq_in_flight gauge
meshmq_in_flight{peer="rx"} 0
meshmq_in_flight{peer="tx"} 0
# HELP meshmq_members Members in the peer's discovery view.
# TYPE meshmq_members gauge
meshmq_members{peer="rx"} 0
meshmq_members{peer="tx"} 1
# HELP meshmq_security_insecure 1 if some of the peer's traffic is not encrypted and authenticated, else 0.
# TYPE meshmq_security_insecure gauge
meshmq_security_insecure{peer="rx"} 1
meshmq_security_insecure{peer="tx"} 1
`
	names := []string{
		"meshmq_channel_sent_total", "meshmq_channel_acked_total", "meshmq_channel_dead_lettered_total",
		"meshmq_channel_handled_total", "meshmq_channel_handler_errors_total", "meshmq_channel_duplicates_total",
		"meshmq_channel_in_flight", "meshmq_destination_sent_total", "meshmq_destination_acked_total",
		"meshmq_destination_dead_lettered_total", "meshmq_destination_in_flight", "meshmq_destination_connected",
		"meshmq_published_total", "meshmq_unheard_total", "meshmq_in_flight", "meshmq_members", "meshmq_security_insecure",
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}

	// What depends on timing (retries, transmissions, membership events)
	// equals the peers' own snapshot.
	mfs := gather(t, reg)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   uint64
	}{
		{"meshmq_channel_retried_total", map[string]string{"peer": "tx", "channel": "orders"}, ts.Channels["orders"].Retried},
		{"meshmq_destination_retried_total", map[string]string{"peer": "tx", "destination": "rx"}, ts.Destinations["rx"].Retried},
		{"meshmq_transmissions_total", map[string]string{"peer": "tx"}, ts.Transmissions},
		{"meshmq_transmissions_total", map[string]string{"peer": "rx"}, rs.Transmissions},
		{"meshmq_member_events_total", map[string]string{"peer": "tx", "event": "joined"}, ts.Members.Joined},
		{"meshmq_member_events_total", map[string]string{"peer": "tx", "event": "left"}, ts.Members.Left},
		{"meshmq_member_events_total", map[string]string{"peer": "tx", "event": "failed"}, ts.Members.Failed},
		{"meshmq_rejected_total", map[string]string{"peer": "rx"}, rs.Rejected},
	} {
		if got := value(t, mfs, c.name, c.labels); got != float64(c.want) {
			t.Errorf("%s%v = %v, want %d", c.name, c.labels, got, c.want)
		}
	}
	if r := ts.Channels["orders"].Retried; r < 1 {
		t.Errorf("tx retried %d orders, want at least 1", r)
	}
	if b := value(t, mfs, "meshmq_channel_buffer_bytes", map[string]string{"peer": "tx", "channel": "orders"}); b != 0 {
		t.Errorf("buffer bytes after settling: %v", b)
	}
}

// The handler latency is a Prometheus histogram whose cumulative buckets
// add up the peer's per-bucket counts.
func TestCollectorHandlerHistogram(t *testing.T) {
	tx, rx := peertest.Exchange(t)
	c := prom.NewCollector(tx, rx)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	lat := rx.Stats().Channels["orders"].HandlerLatency
	// 10 first runs and the retry of the one that failed; the duplicate is
	// not run.
	if lat.Count != peertest.Orders+1 {
		t.Fatalf("rx ran the orders handler %d times, want %d", lat.Count, peertest.Orders+1)
	}

	var want strings.Builder
	want.WriteString("# HELP meshmq_handler_duration_seconds Run time of the channel's handler, in seconds, errors and panics included.\n")
	want.WriteString("# TYPE meshmq_handler_duration_seconds histogram\n")
	for _, ch := range []string{"events.x", "orders", "quote"} { // the channels rx handled, sorted
		h := rx.Stats().Channels[ch].HandlerLatency
		var cum uint64
		for i, b := range h.Bounds {
			cum += h.Counts[i]
			fmt.Fprintf(&want, "meshmq_handler_duration_seconds_bucket{channel=%q,peer=\"rx\",le=\"%g\"} %d\n", ch, b, cum)
		}
		fmt.Fprintf(&want, "meshmq_handler_duration_seconds_bucket{channel=%q,peer=\"rx\",le=\"+Inf\"} %d\n", ch, h.Count)
		fmt.Fprintf(&want, "meshmq_handler_duration_seconds_sum{channel=%q,peer=\"rx\"} %v\n", ch, h.Sum)
		fmt.Fprintf(&want, "meshmq_handler_duration_seconds_count{channel=%q,peer=\"rx\"} %d\n", ch, h.Count)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want.String()), "meshmq_handler_duration_seconds"); err != nil {
		t.Error(err)
	}
	// tx handled nothing: no histogram of its own. Per handled channel, one.
	if n := testutil.CollectAndCount(c, "meshmq_handler_duration_seconds"); n != 3 {
		t.Errorf("%d handler histograms, want 3 (rx's events.x, orders, quote)", n)
	}

	// The buckets themselves: cumulative, ending at the count.
	for _, m := range find(gather(t, reg), "meshmq_handler_duration_seconds", map[string]string{"peer": "rx", "channel": "orders"}) {
		h := m.GetHistogram()
		prev := uint64(0)
		for i, b := range h.GetBucket() {
			if b.GetUpperBound() != peer.LatencyBounds[i] || b.GetCumulativeCount() < prev {
				t.Errorf("bucket %d: le %v count %d after %d", i, b.GetUpperBound(), b.GetCumulativeCount(), prev)
			}
			prev = b.GetCumulativeCount()
		}
		if h.GetSampleCount() != peertest.Orders+1 || prev > h.GetSampleCount() || h.GetSampleSum() <= 0 {
			t.Errorf("histogram: count %d, last bucket %d, sum %v", h.GetSampleCount(), prev, h.GetSampleSum())
		}
	}
}

// The collector's metrics pass the Prometheus linter, and every family is
// reported once per peer (or per peer and label value).
func TestCollectorLintAndCount(t *testing.T) {
	tx, rx := peertest.Exchange(t)
	c := prom.NewCollector(tx, rx)
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	for name, want := range map[string]int{
		"meshmq_channel_sent_total":       7, // tx: orders, events.x, quote; rx: the same and (reply)
		"meshmq_destination_sent_total":   2, // tx→rx, rx→tx (the reply)
		"meshmq_member_events_total":      6, // 3 events × 2 peers
		"meshmq_members":                  2,
		"meshmq_transmissions_total":      2,
		"meshmq_security_insecure":        2,
		"meshmq_security_refused_total":   2,
		"meshmq_connections":              2,
		"meshmq_protocol_errors_total":    2,
		"meshmq_destination_connected":    2,
		"meshmq_channel_buffer_bytes":     7,
		"meshmq_handler_duration_seconds": 3,
	} {
		if n := testutil.CollectAndCount(c, name); n != want {
			t.Errorf("%s: %d series, want %d", name, n, want)
		}
	}
	// One peer alone: only its own series.
	if n := testutil.CollectAndCount(prom.NewCollector(tx), "meshmq_channel_sent_total"); n != 3 {
		t.Errorf("tx alone: %d channel series, want 3", n)
	}
	for name, want := range map[string]float64{
		"meshmq_published_total":      peertest.Events,
		"meshmq_members":              1,
		"meshmq_security_insecure":    1,
		"meshmq_relayed_total":        0,
		"meshmq_failed_over_total":    0,
		"meshmq_late_replies_total":   0,
		"meshmq_cached_replies_total": 0,
	} {
		if v := testutil.ToFloat64(only{prom.NewCollector(tx), name}); v != want {
			t.Errorf("tx's %s = %v, want %v", name, v, want)
		}
	}
}

// Describe sends a fixed set of descriptors, whatever the peers did: the
// same for no peer and for two.
func TestCollectorDescribeIsFixed(t *testing.T) {
	count := func(c prometheus.Collector) int {
		ch := make(chan *prometheus.Desc, 100)
		c.Describe(ch)
		close(ch)
		return len(ch)
	}
	tx, rx := peertest.Exchange(t)
	if a, b := count(prom.NewCollector()), count(prom.NewCollector(tx, rx)); a != b || a == 0 {
		t.Errorf("descriptors: %d without peers, %d with two", a, b)
	}
	// A registry takes the collector without peers, which collects nothing.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(prom.NewCollector())
	if mfs := gather(t, reg); len(mfs) != 0 {
		t.Errorf("no peers, %d families", len(mfs))
	}
}

// Opts: a namespace and constant labels; a clashing label fails
// registration.
func TestCollectorOpts(t *testing.T) {
	tx := peertest.Start(t, "solo")
	c := prom.NewCollectorOpts(prom.Opts{Namespace: "app_mesh", ConstLabels: prometheus.Labels{"zone": "eu"}}, tx)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	const want = `
# HELP app_mesh_members Members in the peer's discovery view.
# TYPE app_mesh_members gauge
app_mesh_members{peer="solo",zone="eu"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "app_mesh_members"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c, "meshmq_members"); n != 0 {
		t.Errorf("default-namespace series with a namespace: %d", n)
	}
	// A constant label named like a variable one.
	clash := prom.NewCollectorOpts(prom.Opts{ConstLabels: prometheus.Labels{"peer": "x"}}, tx)
	if err := prometheus.NewRegistry().Register(clash); err == nil {
		t.Error("a constant peer label registered")
	}
}

// Two peers of one name report the same series: the registry refuses to
// gather them.
func TestCollectorDuplicateNames(t *testing.T) {
	a := peertest.Start(t, "same")
	b := peertest.Start(t, "same")
	reg := prometheus.NewRegistry()
	reg.MustRegister(prom.NewCollector(a, b))
	if _, err := reg.Gather(); err == nil {
		t.Error("gathered two peers of one name")
	}
}

func gather(t *testing.T, g prometheus.Gatherer) []*dto.MetricFamily {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// find returns the metrics of family name whose labels include labels.
func find(mfs []*dto.MetricFamily, name string, labels map[string]string) []*dto.Metric {
	var out []*dto.Metric
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue metrics
				}
			}
			out = append(out, m)
		}
	}
	return out
}

// value is the value of the one counter or gauge of family name with
// labels; NaN if there is not exactly one.
func value(t *testing.T, mfs []*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	ms := find(mfs, name, labels)
	if len(ms) != 1 {
		t.Errorf("%s%v: %d series", name, labels, len(ms))
		return math.NaN()
	}
	if c := ms[0].GetCounter(); c != nil {
		return c.GetValue()
	}
	return ms[0].GetGauge().GetValue()
}

// only is the collector of c's metrics of the family name.
type only struct {
	c    prometheus.Collector
	name string
}

func (o only) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(o, ch) }

func (o only) Collect(ch chan<- prometheus.Metric) {
	all := make(chan prometheus.Metric, 4096) // more than one peer's metrics
	o.c.Collect(all)
	close(all)
	for m := range all {
		if strings.Contains(m.Desc().String(), `fqName: "`+o.name+`"`) {
			ch <- m
		}
	}
}
