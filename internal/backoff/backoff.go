// Package backoff computes retry delays: exponential growth from a minimum to
// a maximum, with full jitter in the upper half so that peers that failed
// together do not retry together.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Policy describes the delays. The zero value is not useful; see Default.
type Policy struct {
	Min    time.Duration // first delay
	Max    time.Duration // cap
	Factor float64       // growth per attempt, >= 1
	Jitter float64       // 0..1: the fraction of each delay that is random
}

// Default suits reconnects on a LAN.
var Default = Policy{Min: 50 * time.Millisecond, Max: 5 * time.Second, Factor: 2, Jitter: 0.5}

// Delay returns the delay before retry number attempt (1 for the first retry).
func (p Policy) Delay(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	f := p.Factor
	if f < 1 {
		f = 1
	}
	d := float64(p.Min)
	for i := 1; i < attempt && d < float64(p.Max); i++ {
		d *= f
	}
	if max := float64(p.Max); p.Max > 0 && d > max {
		d = max
	}
	j := p.Jitter
	if j < 0 {
		j = 0
	} else if j > 1 {
		j = 1
	}
	// Keep (1-j) of the delay fixed and draw the rest uniformly.
	d = d*(1-j) + d*j*rand.Float64()
	return time.Duration(d)
}
