package peer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/security"
)

func mustKeys(t testing.TB, n int) []security.KeyPair {
	t.Helper()
	out := make([]security.KeyPair, n)
	for i := range out {
		kp, err := security.GenerateKeyPair()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = kp
	}
	return out
}

// startAbandoned starts a peer whose messages the test expects never to be
// delivered: its Close does not wait for them.
func startAbandoned(t testing.TB, opts ...Option) *Peer {
	t.Helper()
	p, err := New(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		p.Close(ctx) // reports the messages it gave up on
	})
	return p
}

// securedGossip starts peers with one secure profile: CURVE keys, an
// allowlist and a gossip key, passed only through WithSecurity.
type securedGossip struct {
	t      *testing.T
	seed   string
	gossip []byte
	allow  *security.Allowlist
}

func (c *securedGossip) peer(name string, kp security.KeyPair, opts ...Option) *Peer {
	var seeds []string
	if c.seed != "" {
		seeds = []string{c.seed}
	}
	gc := discovery.GossipConfig{Seeds: seeds, Profile: discovery.ProfileFast, Cluster: testutil.Cluster(c.t)}
	sec := security.Config{Keys: kp, Allow: c.allow, GossipKeys: [][]byte{c.gossip}}
	p := start(c.t, append(append(fastOpts(name), WithGossip(gc), WithSecurity(sec)), opts...)...)
	if c.seed == "" {
		c.seed = p.disc.(*discovery.Gossip).Addr()
	}
	return p
}

// A cluster secured by one profile: gossip is encrypted, every data
// connection is CURVE, and messages of every style arrive, each from the
// authenticated sender.
func TestSecuredCluster(t *testing.T) {
	keys := mustKeys(t, 3)
	gk, err := security.GenerateGossipKey()
	if err != nil {
		t.Fatal(err)
	}
	c := &securedGossip{t: t, gossip: gk, allow: security.NewAllowlist(keys[0].Public, keys[1].Public, keys[2].Public)}
	a := c.peer("a", keys[0])
	b := c.peer("b", keys[1])
	d := c.peer("d", keys[2])

	var mu sync.Mutex
	from := map[string][]string{}
	record := func(ctx context.Context, m *channel.Message) error {
		mu.Lock()
		from[m.Channel] = append(from[m.Channel], m.From)
		mu.Unlock()
		return nil
	}
	if err := b.Handle("orders", record); err != nil {
		t.Fatal(err)
	}
	if err := b.Handle("echo", func(ctx context.Context, m *channel.Message) error {
		return Reply(ctx, &channel.Message{Body: append([]byte("echo:"), m.Body...)})
	}); err != nil {
		t.Fatal(err)
	}
	subscribe(t, d, "events.>", record)
	waitFor(t, "a sees b's services and d's subscription", func() bool {
		n := 0
		for _, m := range a.Members() {
			if m.Handles("echo") || len(m.Subscriptions) == 1 {
				n++
			}
		}
		return n == 2
	})
	waitGroups(t, a, "events.x", 1, 1)
	ctx := context.Background()
	if err := a.Send(ctx, &channel.Message{Kind: channel.Command, Channel: "orders", Body: []byte("o")}); err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(ctx, &channel.Message{Kind: channel.Event, Channel: "events.x", Body: []byte("e")}); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, testutil.Deadline)
	defer cancel()
	reply, err := a.Request(rctx, &channel.Message{Kind: channel.Command, Channel: "echo", Body: []byte("hi")})
	if err != nil {
		t.Fatal(err)
	}
	if string(reply.Body) != "echo:hi" || reply.From != "b" {
		t.Fatalf("reply %q from %q", reply.Body, reply.From)
	}
	waitFor(t, "the command and the event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(from["orders"]) == 1 && len(from["events.x"]) == 1
	})
	mu.Lock()
	if from["orders"][0] != "a" || from["events.x"][0] != "a" {
		t.Errorf("from: %v", from)
	}
	mu.Unlock()
	for _, p := range []*Peer{a, b, d} {
		s := p.Stats().Security
		if !s.Curve || !s.GossipEncrypted || len(s.Insecure) != 0 || s.Refused != 0 {
			t.Errorf("%s: security stats %+v", p.Name(), s)
		}
		for _, conn := range p.tr.Conns() {
			k, ok := conn.PeerKey()
			if !ok || !c.allow.Allowed(k) {
				t.Errorf("%s: connection to %s without an allowed CURVE key", p.Name(), conn.RemoteName())
			}
		}
	}
}

// A peer whose key is not in the allowlist is refused (and counted); once
// its key is allowed at run time its messages arrive; revoked again, its
// connection is closed and new messages wait at the sender.
func TestAllowlistAtRunTime(t *testing.T) {
	keys := mustKeys(t, 2)
	rxAllow := security.NewAllowlist()
	rx := start(t, append(fastOpts("rx"), WithSecurity(security.Config{Keys: keys[0], Allow: rxAllow}))...)
	got := newCounter()
	if err := rx.Handle("orders", got.handler); err != nil {
		t.Fatal(err)
	}
	tx := start(t, append(fastOpts("tx"),
		WithSecurity(security.Config{Keys: keys[1], Allow: security.NewAllowlist(keys[0].Public)}),
		WithDiscovery(discovery.NewStatic(rx.Advertisement())))...)
	// rx needs tx's advertised key too: its name is bound to it.
	rx.disc.(*discovery.Static).Add(tx.Advertisement())
	ctx := context.Background()
	if err := tx.Send(ctx, indexed("orders", 0, "")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "tx refused", func() bool { return rx.Stats().Security.Refused > 0 })
	if got.distinct() != 0 {
		t.Fatal("handled from a key not in the allowlist")
	}

	rxAllow.Allow(keys[1].Public)
	waitForState(t, "the message after the key is allowed", func() bool { return got.distinct() == 1 && tx.Stats().InFlight == 0 }, tx, rx)

	refused := rx.Stats().Security.Refused
	rxAllow.Revoke(keys[1].Public)
	waitFor(t, "the revoked connection closed and a redial refused", func() bool {
		for _, c := range rx.tr.Conns() {
			if c.RemoteName() == "tx" {
				return false
			}
		}
		return rx.Stats().Security.Refused > refused
	})
	if err := tx.Send(ctx, indexed("orders", 1, "")); err != nil {
		t.Fatal(err)
	}
	refused = rx.Stats().Security.Refused
	waitFor(t, "another refusal", func() bool { return rx.Stats().Security.Refused > refused })
	if got.distinct() != 1 || tx.Stats().InFlight != 1 {
		t.Fatalf("after revocation: %d handled, %d in flight", got.distinct(), tx.Stats().InFlight)
	}
	rxAllow.Allow(keys[1].Public)
	waitForState(t, "the waiting message once allowed again", func() bool { return got.distinct() == 2 && tx.Stats().InFlight == 0 }, tx, rx)
	got.check(t, 2)
}

// A peer with an allowed key that claims another member's name is refused:
// From can only be the authenticated sender.
func TestClaimedNameBoundToKey(t *testing.T) {
	keys := mustKeys(t, 3) // rx, a, mallory
	allow := security.NewAllowlist(keys[0].Public, keys[1].Public, keys[2].Public)
	rx := start(t, append(fastOpts("rx"), WithSecurity(security.Config{Keys: keys[0], Allow: allow}))...)
	var mu sync.Mutex
	var froms []string
	if err := rx.Handle("orders", func(ctx context.Context, m *channel.Message) error {
		mu.Lock()
		froms = append(froms, fmt.Sprintf("%s:%s", m.From, m.Body))
		mu.Unlock()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	static := discovery.NewStatic(rx.Advertisement())
	a := start(t, append(fastOpts("a"), WithSecurity(security.Config{Keys: keys[1], Allow: allow}), WithDiscovery(static))...)
	// mallory names itself "a", with its own (allowed) key.
	mallory := startAbandoned(t, append(fastOpts("a"), WithSecurity(security.Config{Keys: keys[2], Allow: allow}),
		WithDiscovery(discovery.NewStatic(rx.Advertisement())))...)
	rx.disc.(*discovery.Static).Add(a.Advertisement())

	ctx := context.Background()
	if err := mallory.Send(ctx, &channel.Message{Kind: channel.Command, Channel: "orders", Body: []byte("forged")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "mallory refused", func() bool { return rx.Stats().Security.Unidentified > 0 })
	if err := a.Send(ctx, &channel.Message{Kind: channel.Command, Channel: "orders", Body: []byte("real")}); err != nil {
		t.Fatal(err)
	}
	waitForState(t, "a's message", func() bool { return a.Stats().InFlight == 0 }, a, rx)
	mu.Lock()
	defer mu.Unlock()
	if len(froms) != 1 || froms[0] != "a:real" {
		t.Fatalf("handled %v, want only a's own message", froms)
	}
	if mallory.Stats().InFlight != 1 {
		t.Fatalf("mallory's message: %d in flight, want it still waiting", mallory.Stats().InFlight)
	}
}

// A member advertising a key the dialer's allowlist lacks is not dialed.
func TestDialerPinsAllowedKeys(t *testing.T) {
	keys := mustKeys(t, 2)
	rx := start(t, append(fastOpts("rx"), WithSecurity(security.Config{Keys: keys[0], Allow: security.AllowAny()}))...)
	if err := rx.Handle("orders", newCounter().handler); err != nil {
		t.Fatal(err)
	}
	tx := startAbandoned(t, append(fastOpts("tx"), WithSecurity(security.Config{Keys: keys[1], Allow: security.NewAllowlist()}),
		WithDiscovery(discovery.NewStatic(rx.Advertisement())))...)
	rx.disc.(*discovery.Static).Add(tx.Advertisement())
	if err := tx.Send(context.Background(), indexed("orders", 0, "")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "tx refuses to dial rx", func() bool { return tx.Stats().Security.Refused > 0 })
	if tx.Stats().InFlight != 1 || rx.Stats().Handled != 0 {
		t.Fatalf("in flight %d, handled %d", tx.Stats().InFlight, rx.Stats().Handled)
	}
	if s := rx.Stats().Security; len(s.Insecure) != 1 {
		t.Errorf("an open allowlist is reported insecure once: %v", s.Insecure)
	}
}

// Without security a peer says so once, in its log and in Stats.
func TestInsecureWarnedOnce(t *testing.T) {
	var warns atomic.Int64
	log := slog.New(countWarnings{&warns})
	p := start(t, append(fastOpts("plain"), WithLogger(log), WithGossip(discovery.GossipConfig{Profile: discovery.ProfileFast, Cluster: testutil.Cluster(t)}))...)
	s := p.Stats().Security
	if s.Curve || s.GossipEncrypted || len(s.Insecure) != 2 {
		t.Fatalf("stats %+v", s)
	}
	if warns.Load() != 1 {
		t.Fatalf("%d warnings, want 1", warns.Load())
	}
}

type countWarnings struct{ n *atomic.Int64 }

func (h countWarnings) Enabled(context.Context, slog.Level) bool { return true }
func (h countWarnings) Handle(_ context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn {
		h.n.Add(1)
	}
	return nil
}
func (h countWarnings) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countWarnings) WithGroup(string) slog.Handler      { return h }

func TestSecurityOptionErrors(t *testing.T) {
	keys := mustKeys(t, 1)
	gk, _ := security.GenerateGossipKey()
	for name, opts := range map[string][]Option{
		"no keys":             {WithSecurity(security.Config{})},
		"mismatched pair":     {WithSecurity(security.Config{Keys: security.KeyPair{Public: keys[0].Public}})},
		"short gossip key":    {WithSecurity(security.Config{Keys: keys[0], GossipKeys: [][]byte{{1, 2, 3}}})},
		"gossip keys, static": {WithSecurity(security.Config{Keys: keys[0], GossipKeys: [][]byte{gk}})},
		"gossip keys twice": {WithGossip(discovery.GossipConfig{Keys: [][]byte{gk}}),
			WithSecurity(security.Config{Keys: keys[0], GossipKeys: [][]byte{gk}})},
		"gossip keys, own discovery": {WithDiscovery(discovery.NewStatic()),
			WithSecurity(security.Config{Keys: keys[0], GossipKeys: [][]byte{gk}})},
	} {
		p, err := New(context.Background(), opts...)
		var oe *OptionError
		if !errors.As(err, &oe) {
			if p != nil {
				closePeer(t, p)
			}
			t.Errorf("%s: %v, want an OptionError", name, err)
		}
	}
}
