// Command bench measures meshmq's throughput and prints one "name value unit"
// line per figure, each the median of -runs runs.
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
//	send_be_64B_msgs_per_s             the same, best effort (no buffer, no acknowledgement)
//	send_alo_1KiB_msgs_per_s           at least once, 1 KiB bodies
//	send_be_1KiB_msgs_per_s            best effort, 1 KiB bodies
//	peak_heap_MiB                      the peak heap in use during a 1M-message at-least-once run, default limits
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
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
	flag.Parse()
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
		{"send_be_64B_msgs_per_s", "msgs/s", func(ctx context.Context) (float64, error) { return rate(peerSend(ctx, 64, n(500_000), true)) }},
		{"send_alo_1KiB_msgs_per_s", "msgs/s", func(ctx context.Context) (float64, error) { return rate(peerSend(ctx, 1024, n(200_000), false)) }},
		{"send_be_1KiB_msgs_per_s", "msgs/s", func(ctx context.Context) (float64, error) { return rate(peerSend(ctx, 1024, n(200_000), true)) }},
		{"peak_heap_MiB", "MiB", func(ctx context.Context) (float64, error) {
			_, peak, err := peerSend(ctx, 64, n(1_000_000), false)
			return float64(peak) / (1 << 20), err
		}},
	}
	failed := false
	for _, f := range figures {
		if !selected(f.name, *only) {
			continue
		}
		var vals []float64
		for i := 0; i < *runs; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), *timeout)
			v, err := f.run(ctx)
			cancel()
			if err != nil {
				fmt.Fprintf(os.Stderr, "bench: %s run %d: %v\n", f.name, i+1, err)
				failed = true
				break
			}
			vals = append(vals, v)
		}
		if len(vals) == *runs {
			fmt.Printf("%s %.0f %s\n", f.name, median(vals), f.unit)
		}
	}
	if failed {
		os.Exit(1)
	}
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
