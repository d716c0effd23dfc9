package asyncapi

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/internal/testutil/peertest"
	"github.com/meshmq/meshmq/peer"
)

func nop(context.Context, *channel.Message) error { return nil }

// testPeer is a started peer with its own static discovery, closed when
// the test ends.
type testPeer struct {
	*peer.Peer
	disc *discovery.Static
}

func startPeer(t *testing.T, name string) *testPeer {
	t.Helper()
	disc := discovery.NewStatic()
	return &testPeer{peertest.StartDefaults(t, name, peer.WithDiscovery(disc)), disc}
}

// introduce tells every peer about the others' current advertisements
// (static discovery does not propagate them) and waits until each sees
// them all, message types included.
func introduce(t *testing.T, peers ...*testPeer) {
	t.Helper()
	for _, p := range peers {
		for _, o := range peers {
			if o != p {
				p.disc.Add(o.Advertisement())
			}
		}
	}
	for _, p := range peers {
		testutil.WaitFor(t, p.Name()+" seeing the others' advertisements", func() bool {
			seen := p.Members()
			for _, o := range peers {
				if o == p {
					continue
				}
				want := o.Advertisement()
				i := slices.IndexFunc(seen, func(m discovery.Member) bool { return m.Name == want.Name })
				if i < 0 || len(seen[i].MessageTypes) != len(want.MessageTypes) {
					return false
				}
			}
			return true
		})
	}
}

// tree decodes a document's JSON into maps, to check names as written.
func tree(t *testing.T, j []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// at returns the value at a slash-separated path of object keys.
func at(t *testing.T, v any, path string) any {
	t.Helper()
	for _, k := range strings.Split(path, "/") {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: %q is not in an object", path, k)
		}
		if v, ok = m[k]; !ok {
			t.Fatalf("%s: no %q", path, k)
		}
	}
	return v
}

func keys[V any](m map[string]V) []string { return sortedKeys(m) }

func refs(rs []Reference) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Ref
	}
	return out
}
