package discovery

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/meshmq/meshmq/internal/testutil"
)

// catalogs is a fake of the data connection: each peer's services by name.
type catalogs struct {
	mu     sync.Mutex
	byName map[string]*Catalog
}

func (c *catalogs) set(name string, services ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byName == nil {
		c.byName = map[string]*Catalog{}
	}
	v := uint64(1)
	if old := c.byName[name]; old != nil {
		v = old.Version + 1
	}
	c.byName[name] = &Catalog{Version: v, Services: services}
}

func (c *catalogs) fetch(_ context.Context, m Member, _ uint64) (*Catalog, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cat := c.byName[m.Name]
	if cat == nil {
		return nil, fmt.Errorf("no catalog for %s", m.Name)
	}
	return &Catalog{Version: cat.Version, Services: slices.Clone(cat.Services)}, nil
}

// node is one gossip member under test, with the events it saw.
type node struct {
	name string
	g    *Gossip
	mu   sync.Mutex
	seen []Event
}

func (n *node) events() []Event {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.seen)
}

func (n *node) has(name string) bool {
	return slices.ContainsFunc(n.g.Members(), func(m Member) bool { return m.Name == name })
}

func (n *node) saw(typ EventType, name string) bool {
	return slices.ContainsFunc(n.events(), func(e Event) bool { return e.Type == typ && e.Member.Name == name })
}

func startNode(t *testing.T, cats *catalogs, name string, seeds []string, keys ...[]byte) *node {
	t.Helper()
	cats.set(name, "svc-"+name)
	g, err := NewGossip(GossipConfig{Seeds: seeds, Keys: keys, Profile: ProfileFast, Cluster: testutil.Cluster(t), Fetch: cats.fetch, Logger: testutil.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{name: name, g: g}
	err = g.Start(context.Background(), Member{Name: name, Endpoint: "tcp://127.0.0.1:" + name}, func(e Event) {
		n.mu.Lock()
		n.seen = append(n.seen, e)
		n.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Leave(context.Background()) })
	return n
}

func cluster(t *testing.T, cats *catalogs, n int) []*node {
	nodes := []*node{startNode(t, cats, "p0", nil)}
	seed := []string{nodes[0].g.Addr()}
	for i := 1; i < n; i++ {
		nodes = append(nodes, startNode(t, cats, fmt.Sprintf("p%d", i), seed))
	}
	testutil.WaitFor(t, "convergence", func() bool {
		for _, a := range nodes {
			if len(a.g.Members()) != n-1 {
				return false
			}
		}
		return true
	})
	return nodes
}

// Peers converge: every one lists every other with its catalog's services.
func TestGossipConverges(t *testing.T) {
	for _, n := range []int{3, 10} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var cats catalogs
			nodes := cluster(t, &cats, n)
			for _, a := range nodes {
				for _, m := range a.g.Members() {
					if !slices.Equal(m.Services, []string{"svc-" + m.Name}) || m.Endpoint != "tcp://127.0.0.1:"+m.Name {
						t.Fatalf("%s sees %+v", a.name, m)
					}
					if !a.saw(Joined, m.Name) {
						t.Fatalf("%s did not report %s joining", a.name, m.Name)
					}
				}
				select {
				case <-a.g.Ready():
				default:
					t.Fatalf("%s not ready", a.name)
				}
			}
		})
	}
}

// A graceful leave is reported as Left, a crash as Failed.
func TestGossipTellsLeftFromFailed(t *testing.T) {
	var cats catalogs
	nodes := cluster(t, &cats, 4)
	if err := nodes[1].g.Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	nodes[2].g.Shutdown()
	for _, a := range []*node{nodes[0], nodes[3]} {
		testutil.WaitFor(t, "leave and failure seen", func() bool { return a.saw(Left, "p1") && a.saw(Failed, "p2") })
		if a.saw(Failed, "p1") || a.saw(Left, "p2") {
			t.Fatalf("%s confused left and failed: %+v", a.name, a.events())
		}
		if a.has("p1") || a.has("p2") {
			t.Fatalf("%s still lists a gone member", a.name)
		}
	}
}

// A catalog change reaches the others as Updated.
func TestGossipCatalogUpdate(t *testing.T) {
	var cats catalogs
	nodes := cluster(t, &cats, 3)
	cats.set("p1", "svc-p1", "billing")
	if err := nodes[1].g.Update(Member{Name: "p1", Endpoint: "tcp://127.0.0.1:p1"}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*node{nodes[0], nodes[2]} {
		testutil.WaitFor(t, "the new service", func() bool {
			return slices.ContainsFunc(a.g.Members(), func(m Member) bool { return m.Name == "p1" && m.Handles("billing") })
		})
	}
}

// A peer restarted under the same name on a new port is routed to again at
// once: its new start is a new gossip node that replaces the old one.
func TestGossipRestartUnderSameName(t *testing.T) {
	var cats catalogs
	nodes := cluster(t, &cats, 3)
	nodes[2].g.Shutdown()
	start := time.Now()
	g, err := NewGossip(GossipConfig{Seeds: []string{nodes[0].g.Addr()}, Profile: ProfileFast, Cluster: testutil.Cluster(t), Fetch: cats.fetch, Logger: testutil.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background(), Member{Name: "p2", Endpoint: "tcp://127.0.0.1:new"}, nil); err != nil {
		t.Fatal(err)
	}
	defer g.Leave(context.Background())
	for _, a := range nodes[:2] {
		testutil.WaitFor(t, "the restarted peer at its new endpoint", func() bool {
			return slices.ContainsFunc(a.g.Members(), func(m Member) bool { return m.Name == "p2" && m.Endpoint == "tcp://127.0.0.1:new" })
		})
	}
	t.Logf("restarted peer routed to again after %v", time.Since(start))
	// The old start's failure, detected later, must not remove the new one.
	for _, a := range nodes[:2] {
		if !a.has("p2") {
			t.Fatalf("%s lost the restarted peer", a.name)
		}
	}
}

// A node without the cluster's key cannot join; key rotation keeps the
// cluster together.
func TestGossipEncryption(t *testing.T) {
	var cats catalogs
	k1, k2 := make([]byte, 32), make([]byte, 32)
	for i := range k1 {
		k1[i], k2[i] = byte(i), byte(255-i)
	}
	a := startNode(t, &cats, "a", nil, k1)
	b := startNode(t, &cats, "b", []string{a.g.Addr()}, k1)
	testutil.WaitFor(t, "a and b", func() bool { return a.has("b") && b.has("a") })

	// Rotate: add the new key everywhere, use it everywhere, remove the old.
	for _, step := range []func(*Gossip) error{
		func(g *Gossip) error { return g.AddKey(k2) },
		func(g *Gossip) error { return g.UseKey(k2) },
		func(g *Gossip) error { return g.RemoveKey(k1) },
	} {
		for _, n := range []*node{a, b} {
			if err := step(n.g); err != nil {
				t.Fatal(err)
			}
		}
	}
	c := startNode(t, &cats, "c", []string{a.g.Addr()}, k2)
	testutil.WaitFor(t, "a new node with the new key", func() bool { return a.has("c") && b.has("c") && c.has("a") && a.has("b") })

	// Outsiders: without a key, and with the removed one. Join is
	// synchronous: it fails, and nobody lists them.
	for _, keys := range [][][]byte{nil, {k1}} {
		out := startNode(t, &cats, fmt.Sprintf("outsider-%d", len(keys)), nil, keys...)
		if n, err := out.g.ml.Join([]string{a.g.Addr()}); err == nil || n != 0 {
			t.Fatalf("outsider with keys %d joined %d nodes (err %v)", len(keys), n, err)
		}
		if a.has(out.name) || len(out.g.Members()) != 0 {
			t.Fatal("an outsider is listed")
		}
	}
}

// A node whose seed is not up yet keeps trying, and joins once it is: peers
// may start in any order (and re-joining seeds is what heals partitions).
func TestGossipJoinsASeedThatStartsLater(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	seedAddr := l.Addr().String()
	l.Close()
	var cats catalogs
	early := startNode(t, &cats, "early", []string{seedAddr})
	select {
	case <-early.g.Ready():
		t.Fatal("ready before any seed answered")
	default:
	}
	cats.set("seed", "svc-seed")
	g, err := NewGossip(GossipConfig{Bind: seedAddr, Profile: ProfileFast, Cluster: testutil.Cluster(t), Fetch: cats.fetch, Logger: testutil.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background(), Member{Name: "seed", Endpoint: "tcp://127.0.0.1:seed"}, nil); err != nil {
		t.Fatalf("starting the seed on its reserved port: %v", err)
	}
	defer g.Leave(context.Background())
	<-early.g.Ready()
	testutil.WaitFor(t, "the late seed in view", func() bool { return early.has("seed") })
}

// logRecorder keeps the messages of a slog logger.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }
func (l *logRecorder) has(msg string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Contains(l.msgs, msg)
}

// A node of another cluster (Cluster, memberlist's label) cannot join, even
// given a member's address: its join fails, and neither side lists the other.
func TestGossipClustersIgnoreEachOther(t *testing.T) {
	var cats catalogs
	a := startNode(t, &cats, "a", nil)
	cats.set("b", "svc-b")
	logs := &logRecorder{}
	g, err := NewGossip(GossipConfig{Seeds: []string{a.g.Addr()}, Profile: ProfileFast, Cluster: "another-" + testutil.Cluster(t),
		Fetch: cats.fetch, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background(), Member{Name: "b", Endpoint: "tcp://127.0.0.1:2"}, func(Event) {}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Leave(context.Background()) })
	testutil.WaitFor(t, "b's join to fail", func() bool { return logs.has("joining seeds") })
	if len(a.g.Members()) != 0 || len(g.Members()) != 0 {
		t.Fatalf("a lists %v, b lists %v", a.g.Members(), g.Members())
	}
	select {
	case <-g.Ready():
		t.Fatal("b is ready: it joined another cluster")
	default:
	}
}
