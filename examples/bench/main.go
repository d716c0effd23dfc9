// Command bench measures meshmq's throughput and prints one "name value unit"
// line per figure, each the median of -runs runs. The runs go in rounds, one
// run of every figure per round, so that a meshmq figure and the raw zmq4
// baseline it is compared with are measured side by side.
//
//	go run ./examples/bench                 # every figure, 3 runs each
//	go run ./examples/bench -only transport # figures whose name contains "transport"
//
// Figures:
//
//	raw_zmq4_pushpull_64B_msgs_per_s   zmq4 PUSH -> PULL sockets, one 64 B message per Send (the baseline)
//	raw_zmq4_pushpull_1KiB_msgs_per_s  the same with 1 KiB messages
//	transport_64B_msgs_per_s           64 B messages through meshmq's transport, batched into DATA frames,
//	                                   one direction, counted per message as the receiver decodes them
//	transport_1KiB_msgs_per_s          the same with 1 KiB messages
//	send_alo_64B_msgs_per_s            64 B bodies through peer.Send at least once, until handled and acknowledged
//	send_alo_keyed_64B_msgs_per_s      the same with 1,000 distinct keys to a service of 64 partitions (lanes)
//	send_be_64B_msgs_per_s             the same, best effort (no buffer, no acknowledgement)
//	send_alo_1KiB_msgs_per_s           at least once, 1 KiB bodies
//	send_alo_curve_{64B,1KiB}_msgs_per_s
//	                                   send_alo_{64B,1KiB} between peers secured with CURVE (peer.WithSecurity)
//	send_be_1KiB_msgs_per_s            best effort, 1 KiB bodies
//	peak_heap_MiB                      the peak heap in use during a 1M-message at-least-once run, default limits
//	raw_zmq4_pubsub3_64B_deliveries_per_s
//	                                   zmq4 PUB -> 3 SUB sockets subscribed to everything, 64 B messages:
//	                                   messages received, summed over the 3, per second
//	raw_zmq4_rtt_64B_{p50,p99}_us      zmq4 DEALER -> ROUTER -> DEALER round trip of a 64 B message, one at a time
//	request_64B_{p50,p99}_us           peer.Request -> handler -> peer.Reply round trip of a 64 B body between
//	                                   two peers, one at a time (each latency: the median over -runs runs of
//	                                   that run's percentile)
//	send_memory_64B_msgs_per_s         64 B messages from 64 goroutines at once through peer.Send, in-memory store
//	send_durable_sqlite_64B_msgs_per_s the same with the SQLite store: each Send returns once committed
//	send_durable_postgres_64B_msgs_per_s
//	                                   the same with the PostgreSQL store (with -postgres DSN)
//	relay_polling_sqlite_{p50,p99}_ms  commit of a one-message outbox transaction (SendTx) until its handler
//	                                   runs, SQLite's polling publisher; one message at a time
//	relay_polling_{p50,p99}_ms         the same on PostgreSQL (with -postgres DSN)
//	relay_logtail_{p50,p99}_ms         the same through the log tail (pglogtail, logical replication)
//	gossip_{10,30}peers_join_ms        fast gossip profile: concurrent joins until every peer lists every other
//	gossip_{10,30}peers_detect_ms      a peer killed (no leave, connections dropped) until every survivor drops it
//	gossip_{10,30}peers_failover_ms    the kill until the messages pending at it are handled by another instance
//	                                   (each of these: median and _worst_ of -gossip-runs runs)
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"time"
)

// figure is one measured quantity; run returns its value for one run.
type figure struct {
	name string
	unit string
	run  func(ctx context.Context) (float64, error)
}

func main() {
	runs := flag.Int("runs", 3, "runs per figure; the median is printed")
	only := flag.String("only", "", "comma-separated substrings: measure only figures whose name contains one")
	scale := flag.Float64("scale", 1, "multiply every run's message count (smaller is quicker, noisier)")
	timeout := flag.Duration("timeout", 60*time.Second, "give up on one run after this long")
	gossipRuns := flag.Int("gossip-runs", 5, "runs of each gossip cluster measurement (median and worst are printed)")
	pgDSN := flag.String("postgres", os.Getenv("MESHMQ_BENCH_POSTGRES"), "PostgreSQL DSN for the PostgreSQL figures (wal_level=logical for the log tail); none: skip them")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the measurements to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if *runs < 1 || *scale <= 0 {
		fmt.Fprintln(os.Stderr, "bench: -runs must be >= 1 and -scale > 0")
		os.Exit(2)
	}
	n := func(base int) int { return max(1, int(float64(base)*(*scale))) }

	figures := []figure{
		{"raw_zmq4_pushpull_64B_msgs_per_s", "msgs/s", func(ctx context.Context) (float64, error) { return rawPushPull(ctx, 64, n(100_000)) }},
		{"raw_zmq4_pushpull_1KiB_msgs_per_s", "msgs/s", func(ctx context.Context) (float64, error) { return rawPushPull(ctx, 1024, n(100_000)) }},
		{"transport_64B_msgs_per_s", "msgs/s", func(ctx context.Context) (float64, error) { return transportOneWay(ctx, 64, n(2_000_000)) }},
		{"transport_1KiB_msgs_per_s", "msgs/s", func(ctx context.Context) (float64, error) { return transportOneWay(ctx, 1024, n(500_000)) }},
		{"send_alo_64B_msgs_per_s", "msgs/s", func(ctx context.Context) (float64, error) { return rate(peerSend(ctx, 64, n(500_000), false)) }},
		{"send_alo_keyed_64B_msgs_per_s", "msgs/s", func(ctx context.Context) (float64, error) {
			return rate(peerSendKeyed(ctx, 64, n(500_000), 1000, false))
		}},
		{"send_be_64B_msgs_per_s", "msgs/s", func(ctx context.Context) (float64, error) { return rate(peerSend(ctx, 64, n(500_000), true)) }},
		{"send_alo_1KiB_msgs_per_s", "msgs/s", func(ctx context.Context) (float64, error) { return rate(peerSend(ctx, 1024, n(200_000), false)) }},
		{"send_alo_curve_64B_msgs_per_s", "msgs/s", func(ctx context.Context) (float64, error) { return rate(peerSendCurve(ctx, 64, n(500_000))) }},
		{"send_alo_curve_1KiB_msgs_per_s", "msgs/s", func(ctx context.Context) (float64, error) { return rate(peerSendCurve(ctx, 1024, n(200_000))) }},
		{"send_be_1KiB_msgs_per_s", "msgs/s", func(ctx context.Context) (float64, error) { return rate(peerSend(ctx, 1024, n(200_000), true)) }},
		{"peak_heap_MiB", "MiB", func(ctx context.Context) (float64, error) {
			_, peak, err := peerSend(ctx, 64, n(1_000_000), false)
			return float64(peak) / (1 << 20), err
		}},
		{"raw_zmq4_pubsub3_64B_deliveries_per_s", "deliveries/s", func(ctx context.Context) (float64, error) { return rawPubSub3(ctx, 64, n(30_000)) }},
		{"publish_alo_3subs_64B_deliveries_per_s", "deliveries/s", func(ctx context.Context) (float64, error) { return publishFanout(ctx, 64, n(200_000), 3) }},
		{"send_memory_64B_msgs_per_s", "msgs/s", func(ctx context.Context) (float64, error) { return durableSend(ctx, "memory", "", n(200_000)) }},
		{"send_durable_sqlite_64B_msgs_per_s", "msgs/s", func(ctx context.Context) (float64, error) { return durableSend(ctx, "sqlite", "", n(100_000)) }},
	}
	if *pgDSN != "" {
		figures = append(figures, figure{"send_durable_postgres_64B_msgs_per_s", "msgs/s", func(ctx context.Context) (float64, error) {
			return durableSend(ctx, "postgres", *pgDSN, n(50_000))
		}})
	}
	latencies := []latencyFigure{
		{"raw_zmq4_rtt_64B", func(ctx context.Context) ([]time.Duration, error) { return rawRTT(ctx, 64, n(1_000), n(20_000)) }, false},
		{"request_64B", func(ctx context.Context) ([]time.Duration, error) { return peerRequests(ctx, 64, n(1_000), n(10_000)) }, false},
		{"relay_polling_sqlite", func(ctx context.Context) ([]time.Duration, error) {
			return relayLatency(ctx, "sqlite", "", false, n(200))
		}, true},
	}
	if *pgDSN != "" {
		latencies = append(latencies,
			latencyFigure{"relay_polling", func(ctx context.Context) ([]time.Duration, error) {
				return relayLatency(ctx, "postgres", *pgDSN, false, n(200))
			}, true},
			latencyFigure{"relay_logtail", func(ctx context.Context) ([]time.Duration, error) {
				return relayLatency(ctx, "postgres", *pgDSN, true, n(200))
			}, true})
	}
	failed := false
	defer func() {
		for _, n := range []int{10, 30} {
			prefix := fmt.Sprintf("gossip_%dpeers", n)
			if !selected(prefix+"_join_ms", *only) {
				continue
			}
			if err := gossipFigures(prefix, n, *gossipRuns, *timeout); err != nil {
				fmt.Fprintf(os.Stderr, "bench: %s: %v\n", prefix, err)
				failed = true
			}
		}
		if failed {
			os.Exit(1)
		}
	}()
	var ms []measurement
	for _, f := range figures {
		ms = append(ms, f.measurement())
	}
	for _, f := range latencies {
		ms = append(ms, f.measurement())
	}
	failed = !measureInRounds(ms, *runs, *timeout, *only)
}

// measurement yields one value per name for one run.
type measurement struct {
	names, units []string
	run          func(ctx context.Context) ([]float64, error)
}

func (f figure) measurement() measurement {
	return measurement{names: []string{f.name}, units: []string{f.unit}, run: func(ctx context.Context) ([]float64, error) {
		v, err := f.run(ctx)
		return []float64{v}, err
	}}
}

// measureInRounds runs every selected measurement once per round, for runs
// rounds, and prints each figure's median. Rounds interleave the figures
// that are compared (raw zmq4 and meshmq): on a shared, noisy machine both
// see the same slow and fast moments, instead of one getting the first
// minute and the other the second.
func measureInRounds(ms []measurement, runs int, timeout time.Duration, only string) bool {
	var active []measurement
	for _, m := range ms {
		if slices.ContainsFunc(m.names, func(n string) bool { return selected(n, only) }) {
			active = append(active, m)
		}
	}
	vals := make([][][]float64, len(active)) // measurement, name, round
	dead := make([]bool, len(active))
	ok := true
	for r := 0; r < runs; r++ {
		for i, m := range active {
			if dead[i] {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			v, err := m.run(ctx)
			cancel()
			if err != nil {
				fmt.Fprintf(os.Stderr, "bench: %s run %d: %v\n", m.names[0], r+1, err)
				dead[i], ok = true, false
				continue
			}
			if vals[i] == nil {
				vals[i] = make([][]float64, len(m.names))
			}
			for j := range m.names {
				vals[i][j] = append(vals[i][j], v[j])
			}
		}
	}
	for i, m := range active {
		if dead[i] {
			continue
		}
		for j, name := range m.names {
			if selected(name, only) {
				prec := 0
				if m.units[j] == "ms" {
					prec = 1 // commit-to-handler latencies of a millisecond or two
				}
				fmt.Printf("%s %.*f %s\n", name, prec, median(vals[i][j]), m.units[j])
			}
		}
	}
	return ok
}

// latencyFigure times round trips; each run's samples give the percentiles
// printed as name_p50_us and name_p99_us, each the median over the runs.
type latencyFigure struct {
	name string
	run  func(ctx context.Context) ([]time.Duration, error)
	ms   bool // in milliseconds (name_p50_ms), not microseconds
}

var latencyPercentiles = []float64{50, 99}

func (f latencyFigure) measurement() measurement {
	m := measurement{run: func(ctx context.Context) ([]float64, error) {
		rtts, err := f.run(ctx)
		if err != nil {
			return nil, err
		}
		if len(rtts) == 0 {
			return nil, fmt.Errorf("no samples")
		}
		out := make([]float64, len(latencyPercentiles))
		for i, p := range latencyPercentiles {
			out[i] = float64(percentile(rtts, p)) / float64(f.unit())
		}
		return out, nil
	}}
	for _, p := range latencyPercentiles {
		u := "us"
		if f.ms {
			u = "ms"
		}
		m.names = append(m.names, fmt.Sprintf("%s_p%.0f_%s", f.name, p, u))
		m.units = append(m.units, u)
	}
	return m
}

func (f latencyFigure) unit() time.Duration {
	if f.ms {
		return time.Millisecond
	}
	return time.Microsecond
}

// percentile returns the nearest-rank p-th percentile of d (sorting d).
func percentile(d []time.Duration, p float64) time.Duration {
	slices.Sort(d)
	i := int(math.Ceil(p/100*float64(len(d)))) - 1
	return d[min(max(i, 0), len(d)-1)]
}

// gossipFigures prints the median and the worst of runs measurements of join
// convergence, failure detection and failover in a cluster of n peers.
func gossipFigures(prefix string, n, runs int, timeout time.Duration) error {
	var join, detect, failover []float64
	for i := 0; i < runs; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		j, d, f, err := gossipTimes(ctx, n)
		cancel()
		if err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		join, detect, failover = append(join, ms(j)), append(detect, ms(d)), append(failover, ms(f))
	}
	for _, fig := range []struct {
		name string
		v    []float64
	}{{"join", join}, {"detect", detect}, {"failover", failover}} {
		fmt.Printf("%s_%s_ms %.0f ms\n", prefix, fig.name, median(fig.v))
		fmt.Printf("%s_%s_worst_ms %.0f ms\n", prefix, fig.name, slices.Max(fig.v))
	}
	return nil
}

func rate(r float64, _ uint64, err error) (float64, error) { return r, err }

func selected(name, only string) bool {
	if only == "" {
		return true
	}
	for _, s := range strings.Split(only, ",") {
		if s = strings.TrimSpace(s); s != "" && strings.Contains(name, s) {
			return true
		}
	}
	return false
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
