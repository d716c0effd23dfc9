package backoff

import (
	"testing"
	"time"
)

func TestDelayGrowsAndCaps(t *testing.T) {
	p := Policy{Min: 10 * time.Millisecond, Max: 80 * time.Millisecond, Factor: 2}
	want := []time.Duration{10, 20, 40, 80, 80, 80}
	for i, w := range want {
		if got := p.Delay(i + 1); got != w*time.Millisecond {
			t.Errorf("attempt %d: got %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
}

func TestJitterStaysInBounds(t *testing.T) {
	p := Policy{Min: 100 * time.Millisecond, Max: time.Second, Factor: 2, Jitter: 0.5}
	for attempt := 1; attempt < 10; attempt++ {
		base := Policy{Min: p.Min, Max: p.Max, Factor: p.Factor}.Delay(attempt)
		seen := map[time.Duration]bool{}
		for i := 0; i < 200; i++ {
			d := p.Delay(attempt)
			if d < base/2 || d > base {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, base/2, base)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Fatalf("attempt %d: only %d distinct delays: no jitter", attempt, len(seen))
		}
	}
}
