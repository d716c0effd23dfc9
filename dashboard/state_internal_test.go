package dashboard

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/peer"
)

func TestQuantile(t *testing.T) {
	bounds := []float64{1, 2, 4}
	for _, c := range []struct {
		counts []uint64
		q      float64
		want   float64
	}{
		{[]uint64{0, 0, 0, 0}, 0.5, 0},
		{[]uint64{10, 0, 0, 0}, 0.5, 0.5},   // half way through [0, 1]
		{[]uint64{10, 0, 0, 0}, 0.99, 0.99}, // 9.9 of 10 in [0, 1]
		{[]uint64{0, 4, 0, 0}, 0.5, 1.5},    // half way through (1, 2]
		{[]uint64{5, 5, 0, 0}, 0.5, 1},      // the 5th of 10 ends the first bucket
		{[]uint64{5, 5, 0, 0}, 0.7, 1.4},    // rank 7: 2 into the second bucket of 5
		{[]uint64{0, 0, 10, 0}, 0.5, 3},     // half way through (2, 4]
		{[]uint64{1, 0, 0, 9}, 0.5, 4},      // past the last bound: the last bound
		{[]uint64{99, 0, 0, 1}, 0.99, 1},    // the 99th of 100 ends the first bucket
	} {
		if got := quantile(bounds, c.counts, c.q); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("quantile(%v, %v) = %v, want %v", c.counts, c.q, got, c.want)
		}
	}
}

func TestLatencyWindow(t *testing.T) {
	h := peer.Histogram{Bounds: []float64{1, 2}, Counts: []uint64{10, 4, 0}, Count: 14, Sum: 12}
	// Runs since the reference: 4 in (1, 2], totalling 6 s.
	l := latency(h, chanSample{latency: []uint64{10, 0, 0}, latencySum: 6}, true)
	if want := (Latency{Count: 4, Mean: 1.5, P50: 1.5, P99: 1.99, Recent: true}); math.Abs(l.P99-want.P99) > 1e-9 || l.Count != want.Count ||
		l.Mean != want.Mean || l.P50 != want.P50 || !l.Recent {
		t.Errorf("recent latency %+v, want %+v", l, want)
	}
	// No run since: every run.
	l = latency(h, chanSample{latency: []uint64{10, 4, 0}, latencySum: 12}, true)
	if l.Recent || l.Count != 14 || math.Abs(l.Mean-12.0/14) > 1e-9 {
		t.Errorf("lifetime latency %+v", l)
	}
	// A channel new since the reference: every run is recent.
	if l = latency(h, chanSample{}, true); !l.Recent || l.Count != 14 {
		t.Errorf("new channel's latency %+v", l)
	}
	if l = latency(peer.Histogram{Bounds: []float64{1}, Counts: []uint64{0, 0}}, chanSample{}, false); l != (Latency{}) {
		t.Errorf("no runs: %+v", l)
	}
}

// Rates are computed against the newest reading at least a window old.
func TestReference(t *testing.T) {
	s := &sampler{cfg: config{refresh: time.Second}}
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	if s.reference(at(0)) != nil {
		t.Fatal("a reference with no reading")
	}
	s.record(sample{t: at(0)})
	if s.reference(at(100*time.Millisecond)) != nil {
		t.Error("a reference under a quarter window old")
	}
	s.record(sample{t: at(100 * time.Millisecond)}) // too close to the first: not kept
	if len(s.history) != 1 {
		t.Errorf("history %d readings", len(s.history))
	}
	if ref := s.reference(at(300 * time.Millisecond)); ref == nil || !ref.t.Equal(at(0)) {
		t.Errorf("reference %v, want the oldest reading", ref)
	}
	for _, d := range []time.Duration{500, 1000, 1500, 2000} {
		s.record(sample{t: at(d * time.Millisecond)})
	}
	// At 2.6 s: readings at 0, .5, 1, 1.5, 2; the newest at least 1 s old is 1.5.
	if ref := s.reference(at(2600 * time.Millisecond)); ref == nil || !ref.t.Equal(at(1500*time.Millisecond)) {
		t.Errorf("reference %v, want 1.5 s", ref)
	}
	if len(s.history) != 2 {
		t.Errorf("history kept %d readings, want 2", len(s.history))
	}
	// After a long pause, the last reading, whatever its age.
	if ref := s.reference(at(time.Hour)); ref == nil || !ref.t.Equal(at(2000*time.Millisecond)) {
		t.Errorf("reference after a pause %v", ref)
	}
	if rateOf(10, 4, 2) != 3 || rateOf(4, 10, 2) != 0 || rateOf(10, 4, 0) != 0 {
		t.Error("rateOf")
	}
}

func TestTracker(t *testing.T) {
	m := func(names ...string) (out []discovery.Member) {
		for _, n := range names {
			out = append(out, discovery.Member{Name: n})
		}
		return out
	}
	now := time.Unix(1000, 0)
	var tr tracker
	tr.init(m("a", "b", "c", "d", "e"), peer.MemberStats{}, now)
	states := func(gone []goneMember) (out []string) {
		for _, g := range gone {
			out = append(out, g.m.Name+":"+string(g.state))
		}
		return out
	}
	step := func(members []discovery.Member, left, failed uint64, want ...string) {
		t.Helper()
		now = now.Add(time.Second)
		if got := states(tr.update(members, peer.MemberStats{Left: left, Failed: failed}, now)); !slices.Equal(got, want) {
			t.Errorf("gone %v, want %v", got, want)
		}
	}
	step(m("a", "b", "c", "d", "e"), 0, 0)
	step(m("b", "c", "d", "e"), 1, 0, "a:left")
	step(m("c", "d", "e"), 1, 1, "b:failed", "a:left")
	step(m("e"), 2, 2, "c:gone", "d:gone", "b:failed", "a:left") // one of each: not told apart
	step(m("a", "e"), 2, 2, "c:gone", "d:gone", "b:failed")      // a is back
	step(m("e"), 2, 3, "a:failed", "c:gone", "d:gone", "b:failed")
	// Entries expire: c and d went 2 s before a, b 1 s before them.
	now = now.Add(goneRetention - 2*time.Second)
	step(m("e"), 2, 3, "a:failed")
	now = now.Add(goneRetention)
	step(m("e"), 2, 3)
	// At most maxGone are kept.
	var many []string
	for i := 0; i < 2*maxGone; i++ {
		many = append(many, string(rune('A'+i)))
	}
	tr.init(m(many...), peer.MemberStats{}, now)
	if got := tr.update(nil, peer.MemberStats{Failed: uint64(len(many))}, now); len(got) != maxGone || got[0].state != StateFailed {
		t.Errorf("%d gone kept", len(got))
	}
}
