package chaos

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshmq/meshmq/internal/testutil/pgtest"
)

// TestChaos runs a cluster of peer processes on loopback — three consumers
// of a partitioned service, a SQLite and a PostgreSQL sender, a publisher
// and two subscriber groups of two, a requester and two responders — and
// kills (SIGKILL) and stops (SIGTERM) them at seeded random moments while
// traffic flows, restarting each; then checks the logs (Check): nothing
// lost, each key in order, every duplicate explained by a kill, every
// request answered, no dead letter.
func TestChaos(t *testing.T) {
	cfg := loadConfig(t)
	t.Logf("%s", cfg)
	pgDSN := pgtest.Database(t)
	r := newRun(t, cfg)
	cluster := fmt.Sprintf("chaos-%d-%s", os.Getpid(), t.Name())

	consumers := []string{"c1", "c2", "c3"}
	senders := []string{"sq", "pg"}
	subscribers := map[string]string{"s1a": "g1", "s1b": "g1", "s2a": "g2", "s2b": "g2"}
	all := append(append(append([]string{}, consumers...), "s1a", "s1b", "s2a", "s2b", "r1", "r2"), append(senders, "pub", "rq")...)
	gossip := map[string]string{}
	for _, n := range all {
		gossip[n] = freeAddr(t, "127.0.0.1")
	}
	seeds := strings.Join([]string{gossip["c1"], gossip["c2"], gossip["c3"]}, ",")
	common := func(name string, args ...string) []string {
		return append([]string{"-gossip", gossip[name], "-seeds", seeds, "-cluster", cluster}, args...)
	}
	itoa := strconv.Itoa
	for _, c := range consumers {
		r.add(c, "consumer", common(c, "-service", "orders", "-partitions", "64", "-concurrency", "8")...)
	}
	for s, g := range subscribers {
		r.add(s, "subscriber", common(s, "-groups", g, "-partitions", "16", "-concurrency", "4")...)
	}
	for _, s := range []string{"r1", "r2"} {
		r.add(s, "responder", common(s, "-service", "rpc", "-concurrency", "4")...)
	}
	sizes := []string{"-keys", itoa(cfg.keys), "-messages", itoa(cfg.messages), "-rate", ftoa(cfg.rate(cfg.messages))}
	r.add("sq", "sender", common("sq", append(sizes, "-service", "orders", "-store", "sqlite:"+filepath.Join(r.dir, "sq.db"))...)...)
	r.add("pg", "sender", common("pg", append(sizes, "-service", "orders", "-store", "postgres:"+pgDSN, "-prefix", "chaos_pg")...)...)
	r.add("pub", "publisher", common("pub", "-groups", "g1,g2", "-store", "sqlite:"+filepath.Join(r.dir, "pub.db"),
		"-keys", itoa(max(cfg.keys/2, 1)), "-messages", itoa(cfg.events), "-rate", ftoa(cfg.rate(cfg.events)))...)
	r.add("rq", "requester", common("rq", "-service", "rpc", "-messages", itoa(cfg.requests), "-rate", ftoa(cfg.rate(cfg.requests)))...)

	// Receivers first, so that senders find them.
	r.spawnAll(consumers[0])
	r.spawnAll(consumers[1:]...)
	r.spawnAll("s1a", "s1b", "s2a", "s2b", "r1", "r2")
	t0 := time.Now()
	r.spawnAll("sq", "pg", "pub", "rq")

	killable := append(append([]string{}, all...), consumers...) // consumers twice as likely: they own the order
	killable = append(killable, senders...)
	acts := schedule(cfg.seed, cfg.duration, cfg.kills, cfg.terms, killable, senders, consumers, 0, nil)
	r.runSchedule(t0, acts)
	t.Logf("schedule done after %v", time.Since(t0).Round(time.Millisecond))

	deadline := max(2*time.Minute, cfg.duration/4)
	if ok, missing := r.waitDelivered(deadline, "sq", "pg", "pub", "rq"); !ok {
		t.Errorf("not everything delivered %v after the schedule: %s", deadline, missing)
	}
	t.Logf("traffic done after %v", time.Since(t0).Round(time.Millisecond))
	r.stopAll("rq", "pub", "sq", "pg")
	r.report(Rules{}, cfg.kills, 0)
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', 3, 64) }

// spawnAll starts the next incarnation of each named process at once and
// waits until every one logged Start.
func (r *run) spawnAll(names ...string) {
	r.t.Helper()
	for _, n := range names {
		p := r.byName[n]
		if err := p.start(r.bin); err != nil {
			r.t.Fatal(err)
		}
		r.note(Spawn, p, fmt.Sprintf("pid=%d", p.cmd.Process.Pid))
	}
	for _, n := range names {
		p := r.byName[n]
		if !r.waitUntil(startDeadline, func() bool { return r.up[p.name] == p.inc || !p.running() }) {
			r.t.Fatalf("%s#%d did not start within %v\n%s", p.name, p.inc, startDeadline, p.stderrTail())
		}
		if r.up[p.name] != p.inc {
			r.t.Fatalf("%s#%d exited while starting\n%s", p.name, p.inc, p.stderrTail())
		}
	}
}

// report checks the run's logs and fails the test with the details of
// every broken rule.
func (r *run) report(rules Rules, kills, cuts int) *Report {
	r.t.Helper()
	r.poll()
	rep := Check(r.events, rules)
	r.t.Logf("%s", rep.Summary())
	for _, e := range r.events {
		if e.Kind == Closed && e.Note != "ok" {
			r.t.Logf("%s#%d: Close: %s", e.Proc, e.Inc, e.Note)
		}
	}
	if rep.Failed() {
		r.t.Errorf("the run broke the rules (%s=%d replays its schedule):\n%s", envSeed, r.cfg.seed, rep.Details())
	}
	if rep.Kills < kills || rep.Cuts < cuts {
		r.t.Errorf("%d kills and %d cuts, want %d and %d", rep.Kills, rep.Cuts, kills, cuts)
	}
	return rep
}
