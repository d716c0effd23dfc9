package peer

import (
	"time"

	"github.com/meshmq/meshmq/internal/backoff"
)

// RetryPolicy says how long a sender keeps trying a message. A message is
// dead-lettered when its receiver rejects it permanently, after MaxAttempts
// transmissions that ended in a retryable rejection, or once it is older
// than MaxAge unacknowledged.
type RetryPolicy struct {
	MaxAttempts int           // 0: no limit
	MaxAge      time.Duration // 0: no limit
	MinBackoff  time.Duration // delay before the first retry
	MaxBackoff  time.Duration // cap on the delay
	Jitter      float64       // 0..1: the random fraction of each delay
}

// DefaultRetry retries for up to ten attempts or ten minutes, backing off
// from 50 ms to 5 s.
var DefaultRetry = RetryPolicy{MaxAttempts: 10, MaxAge: 10 * time.Minute, MinBackoff: 50 * time.Millisecond, MaxBackoff: 5 * time.Second, Jitter: 0.5}

func (r RetryPolicy) validate() error {
	switch {
	case r.MaxAttempts < 0:
		return &OptionError{"RetryPolicy", "MaxAttempts < 0"}
	case r.MaxAge < 0:
		return &OptionError{"RetryPolicy", "MaxAge < 0"}
	case r.MinBackoff < 0 || r.MaxBackoff < r.MinBackoff:
		return &OptionError{"RetryPolicy", "need 0 <= MinBackoff <= MaxBackoff"}
	case r.Jitter < 0 || r.Jitter > 1:
		return &OptionError{"RetryPolicy", "Jitter outside 0..1"}
	}
	return nil
}

// delay returns the backoff before transmission number attempt+1.
func (r *RetryPolicy) delay(attempt int) time.Duration {
	return backoff.Policy{Min: r.MinBackoff, Max: r.MaxBackoff, Factor: 2, Jitter: r.Jitter}.Delay(attempt)
}
