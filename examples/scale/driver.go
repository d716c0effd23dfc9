package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one worker process and what it last reported.
type proc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	count int

	mu              sync.Mutex
	converged, open int
	dials           uint64
	seed            chan string // its "seed" line, for the first worker
	exited          chan struct{}
	stderr          strings.Builder
}

// drive runs a measurement and returns its figures; with an error, the
// figures measured so far.
func drive(o options) ([]figure, error) {
	if o.n < 2 {
		return nil, errors.New("-n: want at least 2 peers")
	}
	if _, err := parseProfile(o.profile); err != nil {
		return nil, err
	}
	if o.procs <= 0 {
		o.procs = (o.n + 24) / 25
	}
	o.procs = min(o.procs, o.n)
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	name := func(what string) string { return fmt.Sprintf("scale_%d_%s_%s", o.n, o.profile, what) }
	cluster := fmt.Sprintf("scale-%d-%d", os.Getpid(), time.Now().UnixNano())

	var procs []*proc
	defer func() { stopAll(procs) }()
	first := 0
	var t0 time.Time
	for i := range o.procs {
		count := o.n / o.procs
		if i < o.n%o.procs {
			count++
		}
		args := []string{"-worker", "-count", strconv.Itoa(count), "-first", strconv.Itoa(first),
			"-total", strconv.Itoa(o.n), "-profile", o.profile, "-cluster", cluster}
		var seed string
		if i > 0 {
			select {
			case seed = <-procs[0].seed:
			case <-procs[0].exited:
				return nil, fmt.Errorf("the first worker exited: %s", procs[0].stderr.String())
			case <-time.After(time.Minute):
				return nil, errors.New("the first worker's seed did not start within a minute")
			}
			args = append(args, "-seed", seed)
		}
		p, err := startWorker(exe, args, count)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			t0 = time.Now()
		}
		procs = append(procs, p)
		first += count
	}

	var figs []figure
	converge := -1.0
	deadline := time.Now().Add(o.timeout)
	for time.Now().Before(deadline) {
		if total(procs, func(p *proc) int { return p.converged }) == o.n {
			converge = time.Since(t0).Seconds()
			break
		}
		for _, p := range procs {
			select {
			case <-p.exited:
				return figs, fmt.Errorf("a worker exited: %s", p.stderr.String())
			default:
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	figs = append(figs, figure{name("converge_s"), converge, "s"})

	cpu0, err := cpuTicks(procs)
	if err != nil {
		return figs, err
	}
	time.Sleep(o.idle)
	cpu1, err := cpuTicks(procs)
	if err != nil {
		return figs, err
	}
	time.Sleep(2 * statusInterval) // a report from within the window's end
	rss, err := rssBytes(procs)
	if err != nil {
		return figs, err
	}
	n := float64(o.n)
	figs = append(figs,
		figure{name("conns_per_peer"), float64(total(procs, func(p *proc) int { return p.open })) / n, "connections"},
		figure{name("dials_per_peer"), float64(total(procs, func(p *proc) int { return int(p.dials) })) / n, "dials"},
		figure{name("idle_cpu_cores"), float64(cpu1-cpu0) / clockTicks / o.idle.Seconds(), "cores"},
		figure{name("rss_MiB_per_peer"), float64(rss) / n / (1 << 20), "MiB"})
	if converge < 0 {
		return figs, fmt.Errorf("not converged within %v: %d of %d peers see every other", o.timeout,
			total(procs, func(p *proc) int { return p.converged }), o.n)
	}
	return figs, nil
}

// startWorker starts a worker process and reads its reports.
func startWorker(exe string, args []string, count int) (*proc, error) {
	p := &proc{count: count, seed: make(chan string, 1), exited: make(chan struct{})}
	p.cmd = exec.Command(exe, args...)
	// The worker dies with the driver, whatever ends it.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p.cmd.Stderr = &lockedWriter{p: p}
	stdin, err := p.cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p.stdin = stdin
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		defer close(p.exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.report(sc.Text())
		}
		p.cmd.Wait()
	}()
	return p, nil
}

// report takes one line of the worker's.
func (p *proc) report(line string) {
	f := strings.Fields(line)
	switch {
	case len(f) == 2 && f[0] == "seed":
		p.seed <- f[1]
	case len(f) == 4 && f[0] == "status":
		c, _ := strconv.Atoi(f[1])
		o, _ := strconv.Atoi(f[2])
		d, _ := strconv.ParseUint(f[3], 10, 64)
		p.mu.Lock()
		p.converged, p.open, p.dials = c, o, d
		p.mu.Unlock()
	}
}

type lockedWriter struct{ p *proc }

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	if w.p.stderr.Len() < 64<<10 {
		w.p.stderr.Write(b)
	}
	return len(b), nil
}

func total(procs []*proc, f func(*proc) int) int {
	n := 0
	for _, p := range procs {
		p.mu.Lock()
		n += f(p)
		p.mu.Unlock()
	}
	return n
}

// stopAll closes the workers' stdin, which makes them close their peers and
// exit, and kills what is left after 30 s.
func stopAll(procs []*proc) {
	for _, p := range procs {
		p.stdin.Close()
	}
	deadline := time.After(30 * time.Second)
	for _, p := range procs {
		select {
		case <-p.exited:
		case <-deadline:
			p.cmd.Process.Kill()
			<-p.exited
		}
	}
}
