package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/meshmq/meshmq/examples/internal/cli"
	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/internal/testutil/keyfiles"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// deadline bounds every wait: long enough for a loaded 2-core CI machine
// under -race, short enough to fail instead of hanging.
const deadline = 60 * time.Second

// The three-terminal session in one process, over real TCP and gossip on
// 127.0.0.1: a and b serve orders, c sends a numbered stream; b is closed
// mid-stream (Ctrl-C) and the rest goes to a. Every message is handled
// exactly once across a and b, and every peer prints the membership changes.
func TestThreePeers(t *testing.T) {
	key := "000102030405060708090a0b0c0d0e0f" // gossip encrypted end to end
	threePeers(t, func(name string) []string { return []string{"-key", key} })
}

// The same session secured as examples/keygen prints it: CURVE on every
// data connection, admitting the keys of keys/allowed, and the gossip key
// from a file.
func TestThreePeersSecured(t *testing.T) {
	keys := keyfiles.Write(t, t.TempDir(), "a", "b", "c")
	out := threePeers(t, func(name string) []string { return keyFlags(keys, name) })
	rec, peers := out.rec, out.peers
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, po := range peers {
		want := fmt.Sprintf("secured: CURVE key %s, 3 allowed keys, gossip encrypted", keys.Public[po.name])
		if !po.hasLine(want) {
			t.Errorf("%s printed no line %q", po.name, want)
		}
		if po.has("not secured") || po.has("refused") {
			t.Errorf("%s printed a security complaint:\n%s", po.name, po)
		}
	}
}

type threePeersOutput struct {
	rec   *recorder
	peers []*peerOutput // a, b, c: stopped
}

// threePeers runs the session, each peer with the flags of flags(name) too.
func threePeers(t *testing.T, flags func(name string) []string) threePeersOutput {
	const n = 2000
	rec := newRecorder()

	a := startPeer(t, rec, append([]string{"-name", "a", "-serve", "orders"}, flags("a")...)...)
	var seed string
	rec.waitFor(t, "a's gossip address", func() bool {
		seed = a.find(regexp.MustCompile(`gossip (\S+)`))
		return seed != ""
	})
	b := startPeer(t, rec, append([]string{"-name", "b", "-join", seed, "-serve", "orders"}, flags("b")...)...)
	c := startPeer(t, rec, append([]string{"-name", "c", "-join", seed,
		"-send", "orders", "-rate", "1000", "-count", strconv.Itoa(n)}, flags("c")...)...)

	// The views poll every 200 ms: b must stay long enough to be seen by
	// c and by a, whose "left b" the test waits for below.
	rec.waitFor(t, "b handling a share of c's stream, seen by c and a", func() bool {
		return len(b.handled) >= 10 && c.has("joined b") && a.has("joined b") && b.has("joined a")
	})
	if err := b.stop(t); err != nil {
		t.Fatalf("b: %v\n%s", err, b)
	}
	rec.waitFor(t, "every message handled", func() bool {
		got := 0
		for i := 1; i <= n; i++ {
			if a.handled[i]+b.handled[i] > 0 {
				got++
			}
		}
		return got == n
	})
	rec.waitFor(t, "c seeing b leave", func() bool { return c.has("left b") })
	// c's Close waits for every acknowledgement: nothing is resent after it.
	if err := c.stop(t); err != nil {
		t.Fatalf("c: %v\n%s", err, c)
	}
	rec.waitFor(t, "a seeing b and c leave", func() bool { return a.has("left b") && a.has("left c") })
	if err := a.stop(t); err != nil {
		t.Fatalf("a: %v\n%s", err, a)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i := 1; i <= n; i++ {
		if k := a.handled[i] + b.handled[i]; k != 1 {
			t.Errorf("message %d handled %d times (a %d, b %d)", i, k, a.handled[i], b.handled[i])
		}
	}
	if len(a.handled) == 0 {
		t.Errorf("a handled nothing")
	}
	for _, want := range []struct {
		p    *peerOutput
		line string
	}{
		{a, "joined b at tcp://127.0.0.1:"}, {a, "joined c at tcp://127.0.0.1:"},
		{a, "serves nothing"},
		{b, "joined a at tcp://127.0.0.1:"}, {b, "drained in "},
		{c, "joined a at tcp://127.0.0.1:"}, {c, "joined b at tcp://127.0.0.1:"}, {c, "serves orders"},
		{c, fmt.Sprintf("sent all %d messages", n)}, {c, "status: sent "},
		{c, "drained in "}, {c, fmt.Sprintf("sent %d, acked %d, ", n, n)}, {c, "dead-lettered 0, in flight 0"},
		{a, "drained in "},
	} {
		if !want.p.has(want.line) {
			t.Errorf("%s printed no line with %q", want.p.name, want.line)
		}
	}
	t.Logf("a handled %d, b %d", len(a.handled), len(b.handled))
	if t.Failed() {
		t.Logf("a:\n%s\nb:\n%s\nc:\n%s", a, b, c)
	}
	return threePeersOutput{rec, []*peerOutput{a, b, c}}
}

// Without -curve-key a peer says, once, that it is not secured.
func TestNotSecuredLine(t *testing.T) {
	rec := newRecorder()
	a := startPeer(t, rec, "-name", "a")
	rec.waitFor(t, "a's security line", func() bool { return a.has("secured") })
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, want := range []string{
		"not secured: data connections are neither encrypted nor authenticated",
		"discovery gossip is neither encrypted nor authenticated",
		"(secure it with -curve-key, -allow and -gossip-key)",
	} {
		if !a.has(want) {
			t.Errorf("no line with %q:\n%s", want, a)
		}
	}
}

// A peer whose key is in no one's allowlist, but which has the gossip key
// (and admits everyone itself), joins the gossip and gets none of the
// stream: a refuses its connections, c refuses to dial it, so neither ever
// lists it as a member, and c's stream all goes to a. Both say they
// refused it.
func TestOutsiderRefused(t *testing.T) {
	const n = 200
	dir := t.TempDir()
	keys := keyfiles.Write(t, dir, "a", "c")
	// m's keys, elsewhere: its public key is not in keys/allowed.
	outsider := keyfiles.Write(t, filepath.Join(dir, "outsider"), "m")
	rec := newRecorder()

	a := startPeer(t, rec, append([]string{"-name", "a", "-serve", "orders"}, keyFlags(keys, "a")...)...)
	var seed string
	rec.waitFor(t, "a's gossip address", func() bool {
		seed = a.find(regexp.MustCompile(`gossip (\S+)`))
		return seed != ""
	})
	// m admits a and c, and has the gossip key; it serves what c sends.
	m := startPeer(t, rec, "-name", "m", "-join", seed, "-serve", "orders",
		"-curve-key", outsider.Secret["m"], "-allow", keys.Allowed+","+outsider.Allowed, "-gossip-key", keys.Gossip)
	rec.waitFor(t, "m joining the gossip", func() bool { return m.has("joined the cluster") })
	c := startPeer(t, rec, append([]string{"-name", "c", "-join", seed,
		"-send", "orders", "-rate", "1000", "-count", strconv.Itoa(n)}, keyFlags(keys, "c")...)...)

	rec.waitFor(t, "a and c refusing m, c seeing a, and every message handled", func() bool {
		return a.has("security: refused ") && c.has("security: refused ") && c.has("joined a") && len(a.handled) == n
	})
	if err := c.stop(t); err != nil {
		t.Fatalf("c: %v\n%s", err, c)
	}
	for _, po := range []*peerOutput{m, a} {
		if err := po.stop(t); err != nil {
			t.Fatalf("%s: %v\n%s", po.name, err, po)
		}
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(m.handled) != 0 {
		t.Errorf("m handled %d messages, want none", len(m.handled))
	}
	for i := 1; i <= n; i++ {
		if a.handled[i] != 1 {
			t.Errorf("message %d handled %d times by a", i, a.handled[i])
		}
	}
	for _, want := range []struct {
		p    *peerOutput
		line string
	}{
		{c, "joined a at tcp://127.0.0.1:"}, {c, "serves orders"}, {c, fmt.Sprintf("sent %d, acked %d, ", n, n)},
		{c, "dead-lettered 0, in flight 0"},
		{m, fmt.Sprintf("secured: CURVE key %s, 3 allowed keys, gossip encrypted", outsider.Public["m"])},
	} {
		if !want.p.has(want.line) {
			t.Errorf("%s printed no line with %q", want.p.name, want.line)
		}
	}
	for _, po := range []*peerOutput{a, c} {
		if po.has("joined m") {
			t.Errorf("%s listed m as a member", po.name)
		}
	}
	if m.has("joined a") || m.has("joined c") {
		t.Errorf("m listed a member:\n%s", m)
	}
	if t.Failed() {
		t.Logf("a:\n%s\nc:\n%s\nm:\n%s", a, c, m)
	}
}

// keyFlags are the security flags of name, with the keys of k, as
// examples/keygen prints them.
func keyFlags(k *keyfiles.Set, name string) []string {
	return []string{"-curve-key", k.Secret[name], "-allow", k.Allowed, "-gossip-key", k.Gossip}
}

func TestFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "-name is required"},
		{[]string{"-name", "a", "extra"}, `unexpected argument "extra"`},
		{[]string{"-name", "a", "-nope"}, "flag provided but not defined: -nope"},
		{[]string{"-name", "a", "-listen", "127.0.0.1:7001"}, "want tcp://host:port"},
		{[]string{"-name", "a", "-gossip", "7946"}, "-gossip \"7946\": want host:port"},
		{[]string{"-name", "a", "-join", "127.0.0.1:7946,localhost"}, `-join "localhost"`},
		{[]string{"-name", "a", "-serve", "orders,orders"}, `"orders" given twice`},
		{[]string{"-name", "a", "-send", "orders", "-rate", "0"}, "-rate 0: want a positive number"},
		{[]string{"-name", "a", "-count", "5"}, "-count needs -send"},
		{[]string{"-name", "a", "-profile", "wan"}, `-profile "wan": want fast or lan`},
		{[]string{"-name", "a", "-key", "xyz"}, "-key: not hex"},
		{[]string{"-name", "a", "-key", "0011"}, "-key: 2 bytes long; AES needs 16, 24 or 32"},
		{[]string{"-name", "a", "-curve-key", "keys/a.key_secret"}, "-curve-key needs -allow: a secured peer admits only the keys in its allowlist"},
		{[]string{"-name", "a", "-curve-key", "keys/a.key_secret", "-allow", " , "}, "-curve-key needs -allow"},
		{[]string{"-name", "a", "-allow", "keys/allowed"}, "-allow needs -curve-key"},
		{[]string{"-name", "a", "-key", strings.Repeat("ab", 16), "-gossip-key", "keys/gossip.key"},
			"-key and -gossip-key both set the gossip key"},
	} {
		err := run(context.Background(), tc.args, nil)
		var ue *cli.UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%q: got %v, want a usage error", tc.args, err)
			continue
		}
		if !strings.Contains(ue.Usage, tc.want) || !strings.Contains(ue.Usage, "Usage: go run ./examples/cluster") ||
			!strings.Contains(ue.Usage, "-serve string") {
			t.Errorf("%q: usage text lacks %q or the flags:\n%s", tc.args, tc.want, ue.Usage)
		}
	}
	err := run(context.Background(), []string{"-h"}, nil)
	if !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: got %v, want flag.ErrHelp", err)
	}
	o, err := parseArgs([]string{"-name", "a", "-join", " 127.0.0.1:1, ,[::1]:2", "-serve", "x,y", "-profile", "LAN",
		"-key", strings.Repeat("ab", 32), "-curve-key", "a.key_secret", "-allow", "allowed"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.join, []string{"127.0.0.1:1", "[::1]:2"}) || !slices.Equal(o.serve, []string{"x", "y"}) ||
		len(o.key) != 32 || o.rate != 10 || o.listen != "tcp://127.0.0.1:0" || o.gossip != "127.0.0.1:0" {
		t.Errorf("parsed %+v", o)
	}
}

// The files the security flags name are read before the peer starts; their
// problems are errors of their own, not usage errors, and say what to do.
func TestKeyFileErrors(t *testing.T) {
	dir := t.TempDir()
	k := keyfiles.Write(t, dir, "a")
	open := filepath.Join(dir, "open.key_secret")
	data, err := os.ReadFile(k.Secret["a"])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(open, data, 0o644); err != nil {
		t.Fatal(err)
	}
	openGossip := filepath.Join(dir, "open-gossip.key")
	if data, err = os.ReadFile(k.Gossip); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(openGossip, data, 0o644); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	if err := os.Chmod(open, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	if err := os.Chmod(openGossip, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.key_secret")
	type errCase struct {
		args []string
		want []string
	}
	var cases []errCase
	if os.Geteuid() != 0 { // root reads any file
		unreadable := filepath.Join(dir, "unreadable.key_secret")
		if err := os.WriteFile(unreadable, nil, 0o000); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, errCase{[]string{"-curve-key", unreadable, "-allow", k.Allowed},
			[]string{"-curve-key: ", unreadable, "permission denied"}})
	}
	for _, tc := range append(cases, []errCase{
		{[]string{"-curve-key", open, "-allow", k.Allowed},
			[]string{"-curve-key: ", "has mode 0644", "chmod 600 " + open}},
		{[]string{"-curve-key", missing, "-allow", k.Allowed},
			[]string{"-curve-key: ", missing, "no such file", "examples/keygen writes key files"}},
		{[]string{"-curve-key", filepath.Join(k.Allowed, "a.key"), "-allow", k.Allowed},
			[]string{"-curve-key: ", "looks like a public key file", "NAME.key_secret"}},
		{[]string{"-curve-key", k.Secret["a"], "-allow", empty}, []string{"-allow: ", "no *.key files in " + empty}},
		{[]string{"-curve-key", k.Secret["a"], "-allow", dir}, []string{"-allow: ", "gossip.key has no public-key line", "such as keys/allowed"}},
		{[]string{"-curve-key", k.Secret["a"], "-allow", k.Allowed + "," + filepath.Join(dir, "nope")},
			[]string{"-allow: ", "nope: no such file"}},
		{[]string{"-gossip-key", openGossip}, []string{"-gossip-key: ", "chmod 600 " + openGossip}},
		{[]string{"-gossip-key", k.Secret["a"]}, []string{"-gossip-key: ", "not base64"}},
	}...) {
		err := run(context.Background(), append([]string{"-name", "a"}, tc.args...), nil)
		var ue *cli.UsageError
		if err == nil || errors.As(err, &ue) {
			t.Errorf("%q: got %v, want an error that is not a usage error", tc.args, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q lacks %q", tc.args, err, w)
			}
		}
	}
}

// handledRE matches a handler's line; its group is the message number.
var handledRE = regexp.MustCompile(`orders: handled (\d+) from c attempt \d+$`)

// recorder collects the output of the peers under test, line by line, and
// wakes whoever waits on a condition over it whenever a line arrives: the
// test waits on what the peers print, never for a fixed time.
type recorder struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every write
	peers   []*peerOutput
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{})} }

// waitFor waits until cond, called with rec.mu held, holds.
func (rec *recorder) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	timeout := time.NewTimer(deadline)
	defer timeout.Stop()
	for {
		rec.mu.Lock()
		ok, changed := cond(), rec.changed
		rec.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-timeout.C:
			rec.mu.Lock()
			for _, po := range rec.peers {
				t.Logf("%s's last lines:\n%s", po.name, strings.Join(po.lines[max(0, len(po.lines)-40):], "\n"))
			}
			rec.mu.Unlock()
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// peerOutput is one peer's output, and the run that writes it.
type peerOutput struct {
	rec     *recorder
	name    string
	partial []byte
	lines   []string
	handled map[int]int // message number: times handled
	cancel  context.CancelFunc
	done    chan error
}

func startPeer(t *testing.T, rec *recorder, args ...string) *peerOutput {
	ctx, cancel := context.WithCancel(context.Background())
	po := &peerOutput{rec: rec, name: args[1], handled: map[int]int{}, cancel: cancel, done: make(chan error, 1)}
	rec.mu.Lock()
	rec.peers = append(rec.peers, po)
	rec.mu.Unlock()
	args = append(args, "-cluster", testutil.Cluster(t))
	go func() { po.done <- run(ctx, args, po) }()
	// A test that fails early still stops its peers, so goleak sees no leak.
	t.Cleanup(func() { po.stop(t) })
	return po
}

// stop cancels the run, as Ctrl-C does, and returns its error.
func (po *peerOutput) stop(t *testing.T) error {
	po.cancel()
	select {
	case err := <-po.done:
		po.done <- err // for the cleanup's call
		return err
	case <-time.After(deadline):
		t.Fatalf("%s did not stop", po.name)
		return nil
	}
}

func (po *peerOutput) Write(b []byte) (int, error) {
	rec := po.rec
	rec.mu.Lock()
	defer rec.mu.Unlock()
	po.partial = append(po.partial, b...)
	for {
		i := bytes.IndexByte(po.partial, '\n')
		if i < 0 {
			break
		}
		line := string(po.partial[:i])
		po.partial = po.partial[i+1:]
		po.lines = append(po.lines, line)
		if m := handledRE.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			po.handled[n]++
		}
	}
	close(rec.changed)
	rec.changed = make(chan struct{})
	return len(b), nil
}

// has and find are called with rec.mu held.
func (po *peerOutput) has(s string) bool {
	return slices.ContainsFunc(po.lines, func(l string) bool { return strings.Contains(l, s) })
}

// hasLine reports a line that ends with s (after its time stamp).
func (po *peerOutput) hasLine(s string) bool {
	return slices.ContainsFunc(po.lines, func(l string) bool { return strings.HasSuffix(l, " "+s) })
}

func (po *peerOutput) find(re *regexp.Regexp) string {
	for _, l := range po.lines {
		if m := re.FindStringSubmatch(l); m != nil {
			return m[1]
		}
	}
	return ""
}

// String is for failure messages, after the runs have ended.
func (po *peerOutput) String() string { return strings.Join(po.lines, "\n") }
