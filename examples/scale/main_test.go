package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The test binary is also the workers' program: drive re-executes it with
// -worker.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "-worker" {
		if err := worker(os.Args[2:]); err != nil {
			os.Stderr.WriteString("scale worker: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// A small cluster over two processes converges and every figure is
// measured: the command stays runnable. (Figures are for the command.)
func TestSmallClusterConverges(t *testing.T) {
	figs, err := drive(options{n: 6, procs: 2, profile: "fast", idle: 500 * time.Millisecond, timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"converge_s", "conns_per_peer", "dials_per_peer", "idle_cpu_cores", "rss_MiB_per_peer"}
	if len(figs) != len(want) {
		t.Fatalf("figures %v, want %v", figs, want)
	}
	for i, f := range figs {
		if f.name != "scale_6_fast_"+want[i] || f.value < 0 {
			t.Errorf("figure %v, want scale_6_fast_%s >= 0", f, want[i])
		}
		if !strings.HasPrefix(f.String(), f.name+" ") {
			t.Errorf("printed as %q", f)
		}
	}
}

func TestBadOptions(t *testing.T) {
	for _, o := range []options{{n: 1, profile: "lan"}, {n: 4, profile: "wan"}} {
		if _, err := drive(o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}
