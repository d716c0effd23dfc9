package chaos

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// The environment that sizes and replays the suite (see doc.go).
const (
	envForm     = "MESHMQ_CHAOS"          // "long" for the long form
	envSeed     = "MESHMQ_CHAOS_SEED"     // replays a run's schedule
	envMessages = "MESHMQ_CHAOS_MESSAGES" // per durable sender
	envKills    = "MESHMQ_CHAOS_KILLS"    // SIGKILLs (and a quarter as many SIGTERMs)
	envCuts     = "MESHMQ_CHAOS_CUTS"     // link cuts of the partition suite
	envKeys     = "MESHMQ_CHAOS_KEYS"     // keys per sender
	envDuration = "MESHMQ_CHAOS_DURATION" // how long the traffic flows (a Go duration)
	envVerbose  = "MESHMQ_CHAOS_VERBOSE"  // peers log to their stderr files
)

// config sizes one run.
type config struct {
	seed     uint64
	messages int           // per durable sender (SQLite, PostgreSQL)
	events   int           // published events (each handled by both groups)
	requests int           // requests
	kills    int           // SIGKILLs
	terms    int           // graceful stops
	cuts     int           // link cuts (partition suite)
	keys     int           // keys per sender
	duration time.Duration // the traffic's span, over which the schedule spreads
	verbose  bool
}

// loadConfig is the short form (the normal suite's) unless MESHMQ_CHAOS=long,
// with each figure overridable from the environment.
func loadConfig(t *testing.T) config {
	t.Helper()
	c := config{messages: 8000, kills: 12, cuts: 4, keys: 16, duration: 30 * time.Second}
	if os.Getenv(envForm) == "long" {
		c = config{messages: 500_000, kills: 100, cuts: 40, keys: 64, duration: 90 * time.Minute}
	}
	c.seed = rand.Uint64()
	envInt := func(name string, dst *int) {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				t.Fatalf("%s=%q: want a number", name, v)
			}
			*dst = n
		}
	}
	if v := os.Getenv(envSeed); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: want a number", envSeed, v)
		}
		c.seed = s
	}
	envInt(envMessages, &c.messages)
	envInt(envKills, &c.kills)
	envInt(envCuts, &c.cuts)
	envInt(envKeys, &c.keys)
	if v := os.Getenv(envDuration); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("%s=%q: want a duration", envDuration, v)
		}
		c.duration = d
	}
	if c.keys < 1 {
		t.Fatalf("%s: want at least one key", envKeys)
	}
	c.events = c.messages * 3 / 8
	c.requests = c.messages / 8
	c.terms = max(1, c.kills/4)
	c.verbose = os.Getenv(envVerbose) != ""
	return c
}

// rate is the messages per second that spread n messages over the traffic's span.
func (c config) rate(n int) float64 { return float64(n) / c.duration.Seconds() }

func (c config) String() string {
	return fmt.Sprintf("seed %d (%s=%d replays the schedule): %d messages per durable sender over %d keys, %d events, %d requests, "+
		"%d kills, %d graceful stops, %d cuts, over %v", c.seed, envSeed, c.seed, c.messages, c.keys, c.events, c.requests,
		c.kills, c.terms, c.cuts, c.duration)
}
