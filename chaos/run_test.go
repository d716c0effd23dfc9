package chaos

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Deadlines of the driver's waits.
const (
	startDeadline = 90 * time.Second // a process up and logging Start
	exitDeadline  = 40 * time.Second // a process gone after SIGTERM (its Close drains for up to 20 s)
	pollInterval  = 50 * time.Millisecond
)

// run is one run of a scenario: its processes, their logs and the driver's.
type run struct {
	t      *testing.T
	cfg    config
	dir    string
	bin    string
	driver *Log
	procs  []*proc
	byName map[string]*proc
	net    *network // nil: every process on the loopback of the test's namespace

	tails   []*Tail
	events  []Event
	sent    map[string]bool // group/ID
	handled map[string]bool
	done    map[string]bool  // processes that logged Done
	up      map[string]int   // process -> its latest incarnation that logged Start
	views   map[string]Event // process -> its latest View
}

// newRun prepares a run's directory (kept, and named in the log, if the
// test fails) and builds the peer program.
func newRun(t *testing.T, cfg config) *run {
	t.Helper()
	dir, err := os.MkdirTemp("", "meshmq-chaos-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs kept in %s (one event log per process, driver.log, *.stderr)", dir)
			return
		}
		os.RemoveAll(dir)
	})
	r := &run{t: t, cfg: cfg, dir: dir, bin: buildPeer(t), byName: map[string]*proc{},
		sent: map[string]bool{}, handled: map[string]bool{}, done: map[string]bool{}, up: map[string]int{}, views: map[string]Event{}}
	if r.driver, err = OpenLog(filepath.Join(dir, "driver.log"), "driver", 0); err != nil {
		t.Fatal(err)
	}
	r.tails = append(r.tails, NewTail(filepath.Join(dir, "driver.log")))
	t.Cleanup(func() {
		// No process outlives the run: kill what is left, whatever failed.
		for _, p := range r.procs {
			p.signal(syscall.SIGKILL)
			p.wait(exitDeadline)
		}
		r.driver.Close()
	})
	return r
}

// add declares a process; role flags follow the common ones.
func (r *run) add(name, role string, args ...string) *proc {
	p := &proc{name: name, role: role, args: args,
		log: filepath.Join(r.dir, name+".log"), errf: filepath.Join(r.dir, name+".stderr")}
	if r.cfg.verbose {
		p.args = append(p.args, "-v")
	}
	r.procs = append(r.procs, p)
	r.byName[name] = p
	r.tails = append(r.tails, NewTail(p.log))
	return p
}

// note logs a driver event about p's current incarnation.
func (r *run) note(kind Kind, p *proc, note string) {
	if err := r.driver.Write(Event{Kind: kind, Proc: p.name, Inc: p.inc, Note: note}); err != nil {
		r.t.Fatal(err)
	}
}

// poll reads what the logs gained since the last poll.
func (r *run) poll() {
	for _, tl := range r.tails {
		evs, err := tl.Read()
		if err != nil {
			r.t.Fatal(err)
		}
		for _, e := range evs {
			switch e.Kind {
			case Sent:
				r.sent[e.Group+"/"+e.ID] = true
			case Handled:
				r.handled[e.Group+"/"+e.ID] = true
			case Done:
				r.done[e.Proc] = true
			case Start:
				r.up[e.Proc] = max(r.up[e.Proc], e.Inc)
			case View:
				if l, ok := r.views[e.Proc]; !ok || e.Inc > l.Inc || e.Inc == l.Inc && e.Time >= l.Time {
					r.views[e.Proc] = e
				}
			}
		}
		r.events = append(r.events, evs...)
	}
}

// waitUntil polls the logs until cond holds or d passes; it reports whether
// cond held.
func (r *run) waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		r.poll()
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
}

// spawn starts p's next incarnation and waits until it logged Start.
func (r *run) spawn(p *proc) { r.spawnAll(p.name) }

// stop ends p's incarnation: SIGKILL, or SIGTERM and its graceful Close.
func (r *run) stop(p *proc, kind Kind) {
	r.t.Helper()
	switch kind {
	case Kill:
		r.note(Kill, p, "")
		p.signal(syscall.SIGKILL)
		p.wait(exitDeadline)
	case Term:
		r.note(Term, p, "")
		p.signal(syscall.SIGTERM)
		if !p.wait(exitDeadline) {
			r.t.Errorf("%s#%d did not exit within %v of SIGTERM: killed\n%s", p.name, p.inc, exitDeadline, p.stderrTail())
		}
	}
}

// perform carries out one action of the schedule: stop or cut its targets,
// wait its down time (the chaos, not a synchronisation), bring them back.
func (r *run) perform(a action) {
	r.t.Helper()
	targets := make([]*proc, len(a.targets))
	for i, name := range a.targets {
		targets[i] = r.byName[name]
		if i > 0 && a.apart > 0 {
			time.Sleep(a.apart)
		}
		if a.kind == Cut {
			r.net.cut(r.t, targets[i])
			r.note(Cut, targets[i], "")
		} else {
			r.stop(targets[i], a.kind)
		}
	}
	time.Sleep(a.down)
	for _, p := range targets {
		if a.kind == Cut {
			r.net.heal(r.t, p)
			r.note(Heal, p, "")
		} else {
			r.spawn(p)
		}
	}
}

// runSchedule performs the actions at their times after t0 (or as soon as
// the one before is done).
func (r *run) runSchedule(t0 time.Time, acts []action) {
	r.t.Helper()
	for _, a := range acts {
		if d := time.Until(t0.Add(a.at)); d > 0 {
			time.Sleep(d)
		}
		r.t.Logf("+%v: %s", time.Since(t0).Round(time.Millisecond), a)
		r.perform(a)
	}
}

// waitDelivered waits until every sending process logged Done and every
// message logged as sent was handled; it reports what is missing if not.
func (r *run) waitDelivered(d time.Duration, senders ...string) (bool, string) {
	missing := func() string {
		var m []string
		for _, s := range senders {
			if !r.done[s] {
				m = append(m, s+" not done")
			}
		}
		n := 0
		for k := range r.sent {
			if !r.handled[k] {
				n++
			}
		}
		if n > 0 {
			m = append(m, fmt.Sprintf("%d of %d sent not handled", n, len(r.sent)))
		}
		return strings.Join(m, ", ")
	}
	ok := r.waitUntil(d, func() bool { return missing() == "" })
	return ok, missing()
}

// whole reports whether every named process's latest view lists every
// other one, and who misses whom.
func (r *run) whole(names []string) (bool, string) {
	var evs []Event
	for _, e := range r.views {
		evs = append(evs, e)
	}
	return Whole(Views(evs), names)
}

// stopAll stops every process gracefully, the given ones first (senders,
// so that they can drain to live receivers).
func (r *run) stopAll(first ...string) {
	r.t.Helper()
	order := []*proc{}
	for _, n := range first {
		order = append(order, r.byName[n])
	}
	for _, p := range r.procs {
		if !strings.Contains(" "+strings.Join(first, " ")+" ", " "+p.name+" ") {
			order = append(order, p)
		}
	}
	for _, p := range order {
		if p.running() {
			r.stop(p, Term)
		}
	}
	r.poll()
}

// freeAddr returns a host:port free for TCP and UDP at the moment (gossip
// binds both), to keep across a process's restarts. The port lies below the
// kernel's ephemeral range: a port-0 listener or an outgoing connection of
// any process could take an ephemeral one while its owner is down, and the
// restart would fail to bind it.
func freeAddr(t *testing.T, host string) string {
	t.Helper()
	low := ephemeralLow()
	for range 200 {
		port := 10000 + rand.IntN(low-10000)
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		if !gossipPorts.claim(port) {
			continue
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		u, err := net.ListenPacket("udp", addr)
		if err != nil {
			continue
		}
		u.Close()
		return addr
	}
	t.Fatal("no free port for gossip")
	return ""
}

// gossipPorts are the ports freeAddr handed out in this test process, so
// that two peers of one run never get the same one.
var gossipPorts = &portSet{m: map[int]bool{}}

type portSet struct {
	mu sync.Mutex
	m  map[int]bool
}

func (s *portSet) claim(port int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[port] {
		return false
	}
	s.m[port] = true
	return true
}

// ephemeralLow is the lowest port the kernel hands out for port 0 and
// outgoing connections (32768 when it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	low, err := strconv.Atoi(f[0])
	if err != nil || low <= 11000 {
		return 32768
	}
	return low
}
