package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/internal/testutil/keyfiles"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Three chat peers in one process, over real TCP and gossip on 127.0.0.1,
// typing through pipes: every line reaches the others in the room exactly
// once and never comes back to its sender; /who lists the rooms; /join moves
// a peer, after which the old room's lines no longer reach it; and /quit,
// the end of the input and the end of ctx each end run with a graceful
// close.
func TestChat(t *testing.T) {
	alice := startChat(t, "alice")
	var seed string
	testutil.WaitFor(t, "alice's gossip address", func() bool {
		seed = alice.find(regexp.MustCompile(`-join (\S+)`))
		return seed != ""
	}, alice.dump)
	bob := startChat(t, "bob", seed)
	carol := startChat(t, "carol", seed)
	all := clients{alice, bob, carol}
	dump, waitFor := all.dump, all.waiter(t)

	// Who is in the room, as each one's notices tell it: once a peer shows
	// another in its room, its Publish reaches it.
	waitFor("everyone in #lobby with the others", func() bool {
		return alice.inRoomWith("lobby", "bob", "carol") && bob.inRoomWith("lobby", "alice", "carol") &&
			carol.inRoomWith("lobby", "alice", "bob")
	})
	for _, c := range all {
		c.say(t, "hello from "+c.name)
	}
	waitFor("every hello at the two others", func() bool {
		for _, from := range all {
			for _, to := range all {
				if to != from && !to.has("[lobby] "+from.name+": hello from "+from.name) {
					return false
				}
			}
		}
		return true
	})

	alice.say(t, "/who")
	waitFor("alice's /who", func() bool {
		return alice.has("* 3 in the cluster:") && alice.has("*   alice (you) in #lobby") &&
			alice.has("*   bob in #lobby") && alice.has("*   carol in #lobby")
	})

	carol.say(t, "/join no.dots")
	waitFor("a bad room refused", func() bool { return carol.has(`* /join: room "no.dots"`) })

	// carol moves to #games: alice's next line reaches bob only.
	carol.say(t, "/join games")
	waitFor("carol in #games, seen leaving by alice and bob", func() bool {
		return carol.inRoomWith("games") && alice.inRoomWith("lobby", "bob") && bob.inRoomWith("lobby", "alice")
	})
	alice.say(t, "lobby only")
	waitFor("alice's lobby line at bob", func() bool { return bob.has("[lobby] alice: lobby only") })

	// bob follows: his line in #games reaches carol only.
	bob.say(t, "/join games")
	waitFor("bob with carol in #games, alice alone in #lobby", func() bool {
		return bob.inRoomWith("games", "carol") && carol.inRoomWith("games", "bob") && alice.inRoomWith("lobby")
	})
	bob.say(t, "games only")
	waitFor("bob's games line at carol", func() bool { return carol.has("[games] bob: games only") })
	alice.say(t, "anyone?")
	waitFor("alice told nobody heard her", func() bool { return alice.has("* nobody else is in #lobby to hear that") })

	// Three ways out, each a graceful close.
	alice.say(t, "/quit")
	if err := alice.wait(t); err != nil {
		t.Fatalf("alice after /quit: %v", err)
	}
	bob.in.Close() // Ctrl-D
	if err := bob.wait(t); err != nil {
		t.Fatalf("bob after the end of his input: %v", err)
	}
	carol.cancel() // Ctrl-C
	if err := carol.wait(t); err != nil {
		t.Fatalf("carol after the end of ctx: %v", err)
	}

	// Every run has closed, so every line was acknowledged or given up: the
	// counts are final.
	want := map[string][3]int{ // at alice, bob, carol
		"[lobby] alice: hello from alice": {0, 1, 1},
		"[lobby] bob: hello from bob":     {1, 0, 1},
		"[lobby] carol: hello from carol": {1, 1, 0},
		"[lobby] alice: lobby only":       {0, 1, 0},
		"[games] bob: games only":         {0, 0, 1},
		"anyone?":                         {0, 0, 0},
	}
	for l, counts := range want {
		for i, c := range all {
			if got := c.count(l); got != counts[i] {
				t.Errorf("%s printed %q %d times, want %d", c.name, l, got, counts[i])
			}
		}
	}
	for _, c := range all {
		if !c.has("* bye") || c.has("* not delivered") {
			t.Errorf("%s did not close cleanly", c.name)
		}
	}
	if t.Failed() {
		dump()
	}
}

// A secured chat: alice and bob, whose keys are in keys/allowed, talk over
// CURVE with encrypted gossip; eve has the gossip key but a key no one
// allows: alice and bob refuse her, never list her, and she hears nothing.
func TestSecuredChat(t *testing.T) {
	dir := t.TempDir()
	keys := keyfiles.Write(t, dir, "alice", "bob")
	eveKeys := keyfiles.Write(t, filepath.Join(dir, "eve"), "eve")
	alice := startChatArgs(t, "alice", "-curve-key", keys.Secret["alice"], "-allow", keys.Allowed, "-gossip-key", keys.Gossip)
	var seed string
	testutil.WaitFor(t, "alice's gossip address", func() bool {
		seed = alice.find(regexp.MustCompile(`-join (\S+)`))
		return seed != ""
	}, alice.dump)
	// eve admits alice, bob and herself: only the others' allowlists keep
	// her out.
	eve := startChatArgs(t, "eve", "-join", seed, "-curve-key", eveKeys.Secret["eve"],
		"-allow", keys.Allowed+","+eveKeys.Allowed, "-gossip-key", keys.Gossip)
	bob := startChatArgs(t, "bob", "-join", seed, "-curve-key", keys.Secret["bob"], "-allow", keys.Allowed, "-gossip-key", keys.Gossip)
	all := clients{alice, bob, eve}
	dump, waitFor := all.dump, all.waiter(t)

	waitFor("alice and bob together in #lobby, both refusing eve", func() bool {
		return alice.inRoomWith("lobby", "bob") && bob.inRoomWith("lobby", "alice") &&
			alice.has("* security: refused ") && bob.has("* security: refused ")
	})
	alice.say(t, "for bob only")
	waitFor("alice's line at bob", func() bool { return bob.has("[lobby] alice: for bob only") })
	alice.say(t, "/who")
	waitFor("alice's /who", func() bool { return alice.has("* 2 in the cluster:") && alice.has("*   bob in #lobby") })

	for _, c := range all {
		c.say(t, "/quit")
		if err := c.wait(t); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	for _, c := range []struct {
		c    *client
		want string
	}{
		{alice, "* secured: CURVE key " + keys.Public["alice"] + ", 2 allowed keys, gossip encrypted"},
		{bob, "* secured: CURVE key " + keys.Public["bob"] + ", 2 allowed keys, gossip encrypted"},
		{eve, "* secured: CURVE key " + eveKeys.Public["eve"] + ", 3 allowed keys, gossip encrypted"},
		{eve, "* in #lobby: nobody else yet"},
	} {
		if !c.c.has(c.want) {
			t.Errorf("%s printed no %q", c.c.name, c.want)
		}
	}
	if eve.has("[lobby]") || eve.has("joined #lobby") {
		t.Errorf("eve heard or saw someone")
	}
	for _, c := range []*client{alice, bob} {
		if c.has("* eve joined") || c.has("*   eve ") {
			t.Errorf("%s saw eve", c.name)
		}
	}
	if t.Failed() {
		dump()
	}
}

// An unsecured chat says so.
func TestNotSecuredNotice(t *testing.T) {
	c := startChat(t, "solo")
	testutil.WaitFor(t, "the security notice", func() bool { return c.has("* not secured: ") }, c.dump)
	c.say(t, "/quit")
	if err := c.wait(t); err != nil {
		t.Fatal(err)
	}
}

// Key files are read by run: their problems are its errors.
func TestKeyFileErrors(t *testing.T) {
	k := keyfiles.Write(t, t.TempDir(), "a")
	if err := os.Chmod(k.Secret["a"], 0o644); err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	cfg, err := parseArgs([]string{"-name", "a", "-curve-key", k.Secret["a"], "-allow", k.Allowed}, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), strings.NewReader(""), io.Discard, cfg)
	if err == nil || !strings.Contains(err.Error(), "-curve-key: ") || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable key file: %v", err)
	}
}

func TestParseArgs(t *testing.T) {
	var errOut bytes.Buffer
	cfg, err := parseArgs([]string{"-name", "dora", "-join", "127.0.0.1:7946, 127.0.0.1:7947"}, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	want := config{name: "dora", room: "lobby", listen: "tcp://127.0.0.1:0", gossip: "127.0.0.1:0",
		join: []string{"127.0.0.1:7946", "127.0.0.1:7947"}}
	if cfg.name != want.name || cfg.room != want.room || cfg.listen != want.listen || cfg.gossip != want.gossip ||
		!slices.Equal(cfg.join, want.join) {
		t.Fatalf("got %+v, want %+v", cfg, want)
	}
	if cfg, err := parseArgs(nil, &errOut); err != nil || checkName(cfg.name) != nil {
		t.Fatalf("default name %q: %v", cfg.name, err)
	}
	for _, args := range [][]string{
		{"-room", "a.b"}, {"-room", "*"}, {"-name", "two words"}, {"-listen", "127.0.0.1:1"},
		{"-gossip", "nowhere"}, {"-join", "127.0.0.1"}, {"stray"},
		{"-curve-key", "a.key_secret"}, {"-allow", "keys/allowed"},
	} {
		errOut.Reset()
		if _, err := parseArgs(args, &errOut); err == nil || !strings.Contains(errOut.String(), "Usage:") {
			t.Errorf("%q: err %v, output %q", args, err, errOut.String())
		}
	}
	errOut.Reset()
	if _, err := parseArgs([]string{"-curve-key", "a.key_secret"}, &errOut); err == nil ||
		!strings.Contains(errOut.String(), "-curve-key needs -allow") {
		t.Errorf("-curve-key without -allow: %v, %q", err, errOut.String())
	}
	if _, err := parseArgs([]string{"-h"}, &errOut); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

func TestNames(t *testing.T) {
	for _, name := range []string{"bob", "bob-abcdef", "x"} {
		if got := displayName(peerName(name)); got != name {
			t.Errorf("displayName(peerName(%q)) = %q", name, got)
		}
	}
	if got := printable("hi\x1b[2J\tthere"); got != "hi?[2J?there" {
		t.Errorf("printable: %q", got)
	}
}

// clients are chat runs watched together.
type clients []*client

// dump logs what each one printed.
func (cs clients) dump() {
	for _, c := range cs {
		c.dump()
	}
}

// waiter returns a function that waits until cond holds, dumping what
// each one printed if it times out.
func (cs clients) waiter(t *testing.T) func(what string, cond func() bool) {
	return func(what string, cond func() bool) {
		t.Helper()
		testutil.WaitFor(t, what, cond, cs.dump)
	}
}

// client is one chat run: its input pipe and the lines it printed.
type client struct {
	t      *testing.T
	name   string
	in     *io.PipeWriter
	cancel context.CancelFunc
	done   chan error

	mu      sync.Mutex
	partial []byte
	lines   []string
}

func startChat(t *testing.T, name string, join ...string) *client {
	cfg := config{name: name, room: "lobby", listen: "tcp://127.0.0.1:0", gossip: "127.0.0.1:0", join: join}
	return startChatConfig(t, cfg)
}

// startChatArgs starts a chat with a command line (and the test's cluster).
func startChatArgs(t *testing.T, name string, args ...string) *client {
	t.Helper()
	var errOut bytes.Buffer
	cfg, err := parseArgs(append([]string{"-name", name}, args...), &errOut)
	if err != nil {
		t.Fatalf("%q: %v\n%s", args, err, errOut.String())
	}
	return startChatConfig(t, cfg)
}

func startChatConfig(t *testing.T, cfg config) *client {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	c := &client{t: t, name: cfg.name, in: pw, cancel: cancel, done: make(chan error, 1)}
	cfg.cluster = testutil.Cluster(t)
	go func() { c.done <- run(ctx, pr, c, cfg) }()
	// A test that fails early still ends its runs and their input readers,
	// so that goleak sees no leak.
	t.Cleanup(func() {
		cancel()
		pw.Close()
		c.wait(t)
	})
	return c
}

// say types a line.
func (c *client) say(t *testing.T, l string) {
	t.Helper()
	if _, err := io.WriteString(c.in, l+"\n"); err != nil {
		t.Fatalf("%s: typing %q: %v", c.name, l, err)
	}
}

// wait returns run's error once it has returned.
func (c *client) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-c.done:
		c.done <- err // for the next call
		return err
	case <-time.After(testutil.Deadline):
		c.dump()
		t.Fatalf("%s's run did not return", c.name)
		return nil
	}
}

func (c *client) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partial = append(c.partial, b...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			return len(b), nil
		}
		c.lines = append(c.lines, string(c.partial[:i]))
		c.partial = c.partial[i+1:]
	}
}

func (c *client) has(s string) bool { return c.count(s) > 0 }

// count is the number of lines holding s.
func (c *client) count(s string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, l := range c.lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

func (c *client) find(re *regexp.Regexp) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.lines {
		if m := re.FindStringSubmatch(l); m != nil {
			return m[1]
		}
	}
	return ""
}

var (
	enteredRE = regexp.MustCompile(`^\* in #(\S+)(?:: nobody else yet| with (.*))$`)
	joinedRE  = regexp.MustCompile(`^\* (\S+) joined #(\S+)$`)
	leftRE    = regexp.MustCompile(`^\* (\S+) left #(\S+)$`)
)

// inRoomWith reports whether c's notices say it is in room with exactly
// the others named.
func (c *client) inRoomWith(room string, others ...string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur, here := "", map[string]bool{}
	for _, l := range c.lines {
		if m := enteredRE.FindStringSubmatch(l); m != nil {
			cur, here = m[1], map[string]bool{}
			if m[2] != "" {
				for _, n := range strings.Split(m[2], ", ") {
					here[n] = true
				}
			}
		} else if m := joinedRE.FindStringSubmatch(l); m != nil && m[2] == cur {
			here[m[1]] = true
		} else if m := leftRE.FindStringSubmatch(l); m != nil && m[2] == cur {
			delete(here, m[1])
		}
	}
	if cur != room || len(here) != len(others) {
		return false
	}
	for _, n := range others {
		if !here[n] {
			return false
		}
	}
	return true
}

func (c *client) dump() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t.Logf("%s printed:\n%s", c.name, strings.Join(c.lines, "\n"))
}
