package chaos

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPartitions runs three consumers of a partitioned service and two
// SQLite senders, each process in a network namespace of its own, and cuts
// and heals their links at seeded random moments while traffic flows; then
// checks that nothing was lost, no key went out of order, every duplicate
// is explained by a cut, and the cluster is whole again: every peer sees
// every other.
func TestPartitions(t *testing.T) {
	cfg := loadConfig(t)
	t.Logf("%s", cfg)
	consumers, senders := []string{"c1", "c2", "c3"}, []string{"sa", "sb"}
	names := append(append([]string{}, consumers...), senders...)
	nw := newNetwork(t, names)
	r := newRun(t, cfg)
	r.net = nw
	cluster := fmt.Sprintf("chaos-%d-%s", os.Getpid(), t.Name())
	var seeds []string
	for _, c := range consumers {
		seeds = append(seeds, nw.ip[c]+":7946")
	}
	common := func(name string, args ...string) []string {
		return append([]string{"-listen", "tcp://" + nw.ip[name] + ":7000", "-gossip", nw.ip[name] + ":7946",
			"-seeds", strings.Join(seeds, ","), "-cluster", cluster}, args...)
	}
	for _, c := range consumers {
		r.add(c, "consumer", common(c, "-service", "orders", "-partitions", "64", "-concurrency", "8")...).netns = nw.ns[c]
	}
	perSender := cfg.messages / 2
	for _, s := range senders {
		r.add(s, "sender", common(s, "-service", "orders", "-store", "sqlite:"+filepath.Join(r.dir, s+".db"),
			"-keys", strconv.Itoa(cfg.keys), "-messages", strconv.Itoa(perSender), "-rate", ftoa(cfg.rate(perSender)))...).netns = nw.ns[s]
	}
	r.spawnAll(consumers[0])
	r.spawnAll(consumers[1:]...)
	t0 := time.Now()
	r.spawnAll(senders...)

	r.runSchedule(t0, schedule(cfg.seed, cfg.duration, 0, 0, nil, nil, nil, cfg.cuts, names))
	t.Logf("schedule done after %v", time.Since(t0).Round(time.Millisecond))
	deadline := max(2*time.Minute, cfg.duration/4)
	if ok, missing := r.waitDelivered(deadline, senders...); !ok {
		t.Errorf("not everything delivered %v after the last heal: %s", deadline, missing)
	}
	if !r.waitUntil(startDeadline, func() bool { ok, _ := r.whole(names); return ok }) {
		_, missing := r.whole(names)
		t.Errorf("the cluster is not whole %v after the traffic: %s", startDeadline, missing)
	}
	t.Logf("traffic done and the cluster whole after %v", time.Since(t0).Round(time.Millisecond))
	r.stopAll(senders...)
	r.report(Rules{}, 0, cfg.cuts)
}
