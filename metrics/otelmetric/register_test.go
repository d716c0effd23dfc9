package otelmetric_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/internal/testutil/peertest"
	"github.com/meshmq/meshmq/metrics/otelmetric"
	"github.com/meshmq/meshmq/peer"
)

// newProvider returns a MeterProvider read by hand.
func newProvider(t *testing.T) (*sdkmetric.MeterProvider, *sdkmetric.ManualReader) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() {
		if err := mp.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return mp, reader
}

func register(t *testing.T, mp *sdkmetric.MeterProvider, p *peer.Peer, opts ...otelmetric.Option) func() error {
	t.Helper()
	stop, err := otelmetric.Register(mp, p, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return stop
}

func collect(t *testing.T, r *sdkmetric.ManualReader) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	return rm
}

// find returns the metric name of the package's scope.
func find(rm metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelmetric.ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// point is the value observed for name with exactly the attributes kv; ok
// is false when there is none.
func point(rm metricdata.ResourceMetrics, name string, kv ...attribute.KeyValue) (v int64, ok bool) {
	m, found := find(rm, name)
	if !found {
		return 0, false
	}
	want := attribute.NewSet(kv...)
	var dps []metricdata.DataPoint[int64]
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		dps = d.DataPoints
	case metricdata.Gauge[int64]:
		dps = d.DataPoints
	}
	for _, dp := range dps {
		if dp.Attributes.Equals(&want) {
			return dp.Value, true
		}
	}
	return 0, false
}

func peerChan(p, ch string) []attribute.KeyValue {
	return []attribute.KeyValue{otelmetric.PeerKey.String(p), otelmetric.ChannelKey.String(ch)}
}

func peerDest(p, d string) []attribute.KeyValue {
	return []attribute.KeyValue{otelmetric.PeerKey.String(p), otelmetric.DestinationKey.String(d)}
}

func peerOnly(p string) []attribute.KeyValue {
	return []attribute.KeyValue{otelmetric.PeerKey.String(p)}
}

// The observed values equal what two peers did, each message counted where
// it was sent and where it was handled.
func TestRegisterObservesTraffic(t *testing.T) {
	tx, rx := peertest.Exchange(t)
	mp, reader := newProvider(t)
	register(t, mp, tx)
	register(t, mp, rx)
	rm := collect(t, reader)
	ts, rs := tx.Stats(), rx.Stats()

	for _, c := range []struct {
		name string
		kv   []attribute.KeyValue
		want int64
	}{
		{"meshmq.channel.sent", peerChan("tx", "orders"), peertest.Orders + 1},
		{"meshmq.channel.acked", peerChan("tx", "orders"), peertest.Orders},
		{"meshmq.channel.dead_lettered", peerChan("tx", "orders"), 1},
		{"meshmq.channel.retried", peerChan("tx", "orders"), int64(ts.Channels["orders"].Retried)},
		{"meshmq.channel.in_flight", peerChan("tx", "orders"), 0},
		{"meshmq.channel.buffer.size", peerChan("tx", "orders"), 0},
		{"meshmq.channel.sent", peerChan("tx", "events.x"), peertest.Events},
		{"meshmq.channel.acked", peerChan("tx", "events.x"), peertest.Events},
		{"meshmq.channel.sent", peerChan("tx", "quote"), 1},
		{"meshmq.channel.handled", peerChan("rx", "orders"), peertest.Orders - 1},
		{"meshmq.channel.handler_errors", peerChan("rx", "orders"), 2},
		{"meshmq.channel.duplicates", peerChan("rx", "orders"), 1},
		{"meshmq.channel.handled", peerChan("rx", "events.x"), peertest.Events},
		{"meshmq.channel.handled", peerChan("rx", "quote"), 1},
		{"meshmq.channel.sent", peerChan("rx", otelmetric.ReplyChannel), 1},
		{"meshmq.channel.acked", peerChan("rx", otelmetric.ReplyChannel), 1},
		{"meshmq.channel.handled", peerChan("tx", "orders"), 0},
		{"meshmq.destination.sent", peerDest("tx", "rx"), peertest.Orders + 1 + peertest.Events + 1},
		{"meshmq.destination.acked", peerDest("tx", "rx"), peertest.Orders + peertest.Events + 1},
		{"meshmq.destination.dead_lettered", peerDest("tx", "rx"), 1},
		{"meshmq.destination.retried", peerDest("tx", "rx"), int64(ts.Destinations["rx"].Retried)},
		{"meshmq.destination.in_flight", peerDest("tx", "rx"), 0},
		{"meshmq.destination.connected", peerDest("tx", "rx"), 1},
		{"meshmq.destination.sent", peerDest("rx", "tx"), 1},
		{"meshmq.published", peerOnly("tx"), peertest.Events},
		{"meshmq.published", peerOnly("rx"), 0},
		{"meshmq.unheard", peerOnly("tx"), 0},
		{"meshmq.transmissions", peerOnly("tx"), int64(ts.Transmissions)},
		{"meshmq.transmissions", peerOnly("rx"), int64(rs.Transmissions)},
		{"meshmq.rejected", peerOnly("rx"), int64(rs.Rejected)},
		{"meshmq.in_flight", peerOnly("tx"), 0},
		{"meshmq.members", peerOnly("tx"), 1},
		{"meshmq.members", peerOnly("rx"), 0},
		{"meshmq.security.insecure", peerOnly("tx"), 1},
		{"meshmq.security.refused", peerOnly("tx"), 0},
		{"meshmq.connection.over_limit", peerOnly("rx"), 0},
		{"meshmq.protocol_errors", peerOnly("rx"), 0},
		{"meshmq.member.events", []attribute.KeyValue{otelmetric.PeerKey.String("tx"), otelmetric.MemberEventKey.String("joined")}, int64(ts.Members.Joined)},
		{"meshmq.member.events", []attribute.KeyValue{otelmetric.PeerKey.String("tx"), otelmetric.MemberEventKey.String("failed")}, int64(ts.Members.Failed)},
	} {
		if got, ok := point(rm, c.name, c.kv...); !ok || got != c.want {
			t.Errorf("%s %v = %d (observed: %v), want %d", c.name, c.kv, got, ok, c.want)
		}
	}
	if ts.Channels["orders"].Retried < 1 {
		t.Errorf("tx retried %d orders, want at least 1", ts.Channels["orders"].Retried)
	}
	// Channels and destinations: exactly the peers'.
	if m, _ := find(rm, "meshmq.channel.sent"); len(m.Data.(metricdata.Sum[int64]).DataPoints) != 7 {
		t.Errorf("channel data points: %+v", m.Data)
	}
}

// Counters are cumulative monotonic sums, in-flight figures up-down sums,
// booleans gauges; every instrument has a unit and a description.
func TestRegisterInstrumentKinds(t *testing.T) {
	tx, _ := peertest.Exchange(t)
	mp, reader := newProvider(t)
	register(t, mp, tx)
	rm := collect(t, reader)
	var n int
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			n++
			if m.Unit == "" || m.Description == "" {
				t.Errorf("%s: unit %q, description %q", m.Name, m.Unit, m.Description)
			}
		}
	}
	if n != 45 {
		t.Errorf("%d metrics, want 45", n)
	}
	for name, want := range map[string]string{
		"meshmq.channel.sent":          "counter",
		"meshmq.member.events":         "counter",
		"meshmq.transmissions":         "counter",
		"meshmq.channel.in_flight":     "updowncounter",
		"meshmq.destination.in_flight": "updowncounter",
		"meshmq.buffer.size":           "updowncounter",
		"meshmq.members":               "updowncounter",
		"meshmq.destination.connected": "gauge",
		"meshmq.security.insecure":     "gauge",
	} {
		m, ok := find(rm, name)
		if !ok {
			t.Errorf("%s: not observed", name)
			continue
		}
		var got string
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			if d.Temporality != metricdata.CumulativeTemporality {
				t.Errorf("%s: temporality %v", name, d.Temporality)
			}
			got = "updowncounter"
			if d.IsMonotonic {
				got = "counter"
			}
		case metricdata.Gauge[int64]:
			got = "gauge"
		}
		if got != want {
			t.Errorf("%s is a %s, want a %s", name, got, want)
		}
	}
	if m, _ := find(rm, "meshmq.buffer.size"); m.Unit != "By" {
		t.Errorf("buffer size unit %q", m.Unit)
	}
}

// Each collection reads the peer again; stop ends the observations.
func TestRegisterStop(t *testing.T) {
	tx, _ := peertest.Exchange(t)
	mp, reader := newProvider(t)
	stop := register(t, mp, tx, otelmetric.WithAttributes(attribute.String("zone", "eu")))
	kv := []attribute.KeyValue{attribute.String("zone", "eu"), otelmetric.PeerKey.String("tx")}
	if v, ok := point(collect(t, reader), "meshmq.published", kv...); !ok || v != peertest.Events {
		t.Fatalf("published %d (%v), want %d", v, ok, peertest.Events)
	}
	if err := tx.Publish(context.Background(), &channel.Message{Channel: "events.x", Body: []byte("more")}); err != nil {
		t.Fatal(err)
	}
	if v, _ := point(collect(t, reader), "meshmq.published", kv...); v != peertest.Events+1 {
		t.Errorf("after one more event: published %d, want %d", v, peertest.Events+1)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if v, ok := point(collect(t, reader), "meshmq.published", kv...); ok {
		t.Errorf("observed after stop: %d", v)
	}
}

func TestRegisterNilPeer(t *testing.T) {
	mp, _ := newProvider(t)
	if _, err := otelmetric.Register(mp, nil); err == nil {
		t.Error("registered a nil peer")
	}
}
