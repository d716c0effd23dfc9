package discovery

import (
	"context"
	"testing"

	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/security"
)

// A member's CURVE public key travels in its gossip metadata: known to the
// others (MemberKey) before its catalog is, and listed with it after.
func TestGossipAdvertisesKeys(t *testing.T) {
	var cats catalogs
	keys := map[string]security.PublicKey{}
	var gs []*Gossip
	seed := []string(nil)
	for i, name := range []string{"a", "b"} {
		var k security.PublicKey
		for j := range k {
			k[j] = byte(i*32 + j + 1)
		}
		keys[name] = k
		cats.set(name, "svc-"+name)
		g, err := NewGossip(GossipConfig{Seeds: seed, Profile: ProfileFast, Cluster: testutil.Cluster(t), Fetch: cats.fetch, Logger: testutil.Logger()})
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Start(context.Background(), Member{Name: name, Endpoint: "tcp://127.0.0.1:1", Key: k}, func(Event) {}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Leave(context.Background()) })
		gs = append(gs, g)
		seed = []string{g.Addr()}
	}
	testutil.WaitFor(t, "a and b list each other", func() bool { return len(gs[0].Members()) == 1 && len(gs[1].Members()) == 1 })
	if m := gs[0].Members()[0]; m.Key != keys["b"] {
		t.Fatalf("a lists b with key %s, want %s", m.Key, keys["b"])
	}
	if k, ok := gs[1].MemberKey("a"); !ok || k != keys["a"] {
		t.Fatalf("b's MemberKey(a) = %s, %v", k, ok)
	}
	if _, ok := gs[1].MemberKey("nobody"); ok {
		t.Fatal("a key for an unknown member")
	}
	if gs[0].Encrypted() {
		t.Fatal("gossip without keys reports encryption")
	}
}

// Metadata with a key of the wrong size is refused.
func TestMetaKeySize(t *testing.T) {
	for _, n := range []int{0, 32} {
		b, err := (&meta{Version: metaVersion, Name: "x", Protocol: 1, Key: make([]byte, n)}).encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeMeta(b); err != nil {
			t.Errorf("a %d-byte key: %v", n, err)
		}
	}
	b, _ := (&meta{Version: metaVersion, Name: "x", Protocol: 1, Key: make([]byte, 31)}).encode()
	if _, err := decodeMeta(b); err == nil {
		t.Error("a 31-byte key decoded")
	}
}
