package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/meshmq/meshmq/internal/testutil/keyfiles"
	"github.com/meshmq/meshmq/peer"
	"github.com/meshmq/meshmq/security"
)

// A secured cluster, as examples/keygen and examples/cluster make it:
// meshctl joins with a key pair of its own in the allowlist, lists the
// member's key, and sends over CURVE.
func TestSecured(t *testing.T) {
	keys := keyfiles.Write(t, t.TempDir(), "a", "ctl")
	cfg, err := security.Load(keys.Secret["a"], []string{keys.Allowed}, keys.Gossip)
	if err != nil {
		t.Fatal(err)
	}
	c := newCluster(t)
	var got received
	c.peer("a", func(p *peer.Peer) {
		if err := p.Handle("orders", got.handle); err != nil {
			t.Fatal(err)
		}
	}, peer.WithSecurity(cfg))
	secured := func(args ...string) []string {
		return c.args(append(args, "-curve-key", keys.Secret["ctl"], "-allow", keys.Allowed, "-gossip-key", keys.Gossip)...)
	}

	r := mustRun(t, "", secured("members", "-v")...)
	short := regexp.QuoteMeta(shortKey(keys.Public["a"]))
	if !regexp.MustCompile(`(?m)^a +tcp://127\.0\.0\.1:\d+ +` + short + ` +orders +- +-$`).MatchString(r.stdout) {
		t.Errorf("members:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "meshctl: secured: CURVE key "+keys.Public["ctl"]+", 2 allowed keys, gossip encrypted\n") {
		t.Errorf("-v: no security line in\n%s", r.stderr)
	}
	r = mustRun(t, "", secured("members", "-json")...)
	var ms []memberJSON
	if err := json.Unmarshal([]byte(r.stdout), &ms); err != nil || len(ms) != 1 || !ms[0].Secured || ms[0].Key != keys.Public["a"] {
		t.Errorf("members -json: %+v, %v", ms, err)
	}

	r = mustRun(t, "", secured("send", "orders", "-body", `"over CURVE"`)...)
	if !strings.Contains(r.stdout, "acknowledged by a") || len(got.all()) != 1 {
		t.Fatalf("send: %q, handled %d", r.stdout, len(got.all()))
	}
	if m := got.all()[0]; !strings.HasPrefix(m.From, "meshctl-") {
		t.Errorf("from %q", m.From)
	}

	// Without the gossip key meshctl cannot join: it says so.
	r = meshctl(t, "", append(c.args("members"), "-timeout", "2s")...) // the last -timeout wins
	if r.code != 1 || !strings.Contains(r.stderr, "could not join the cluster at "+c.seed+" within 2s: no member answered") {
		t.Errorf("no gossip key: exit %d, %q", r.code, r.stderr)
	}
}

// bench -local, secured: the receiver has a key pair of its own, admitted
// by meshctl, and admits meshctl's.
func TestBenchLocalSecured(t *testing.T) {
	keys := keyfiles.Write(t, t.TempDir(), "ctl")
	r := mustRun(t, "", "bench", "-local", "-n", "100", "-cluster", newCluster(t).name,
		"-curve-key", keys.Secret["ctl"], "-allow", keys.Allowed, "-gossip-key", keys.Gossip)
	if !regexp.MustCompile(`(?m)^messages +100 sent, 100 acknowledged$`).MatchString(r.stdout) {
		t.Errorf("stdout:\n%s", r.stdout)
	}
}
