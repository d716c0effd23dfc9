// Command scale measures how a cluster of many peers, spread over several
// processes, converges and what it costs at rest. It prints one
// "name value unit" line per figure, like examples/bench.
//
//	go run ./examples/scale -n 100 -profile lan   # 100 peers in 4 processes
//	go run ./examples/scale -n 50 -profile fast -idle 30s
//
// Every peer handles the service "all". The driver starts -procs worker
// processes (this program again, with -worker), each running its share of
// the peers on loopback; the first worker's first peer is every other peer's
// gossip seed. Figures (N peers, PROFILE lan or fast):
//
//	scale_N_PROFILE_converge_s       from the first worker's start until every
//	                                 peer lists every other with its catalog
//	                                 (Handles("all")); -1 when -timeout passed first
//	scale_N_PROFILE_conns_per_peer   established data connections per peer,
//	                                 at the end of the idle window
//	scale_N_PROFILE_dials_per_peer   outbound connections attempted per peer,
//	                                 from the start to the end of the idle window
//	scale_N_PROFILE_idle_cpu_cores   CPU the workers used during the idle window
//	                                 (after convergence, no traffic), in cores
//	scale_N_PROFILE_rss_MiB_per_peer the workers' resident memory per peer
//
// Contributors: the plan these figures serve is docs/contributing/scale-plan.md.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-worker" {
		if err := worker(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "scale worker:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.IntVar(&o.n, "n", 100, "peers in the cluster")
	flag.IntVar(&o.procs, "procs", 0, "worker processes (0: one per 25 peers)")
	flag.StringVar(&o.profile, "profile", "lan", "gossip profile: lan or fast")
	flag.DurationVar(&o.idle, "idle", 10*time.Second, "the idle window after convergence")
	flag.DurationVar(&o.timeout, "timeout", 4*time.Minute, "how long to wait for convergence")
	flag.Parse()
	figs, err := drive(o)
	for _, f := range figs {
		fmt.Println(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

// options of a measurement.
type options struct {
	n, procs      int
	profile       string
	idle, timeout time.Duration
}

// figure is one printed line.
type figure struct {
	name  string
	value float64
	unit  string
}

func (f figure) String() string { return fmt.Sprintf("%s %.3g %s", f.name, f.value, f.unit) }
