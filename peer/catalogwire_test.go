package peer

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/internal/wire"
)

// catalogPeer is a peer with enough services, subscriptions and message
// types that map order would show.
func catalogPeer(t *testing.T) *Peer {
	t.Helper()
	p := start(t, fastOpts("cataloged")...)
	nop := func(context.Context, *channel.Message) error { return nil }
	for i := 7; i >= 0; i-- {
		svc := fmt.Sprintf("svc-%d", i)
		if err := p.Handle(svc, nop, Takes(MessageType{Name: "T" + svc}), Answers(MessageType{Name: "R" + svc})); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Subscribe(fmt.Sprintf("topic.%d.>", i), nop, Group(fmt.Sprintf("g%d", 7-i))); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// catalogOf sends CATALOG_REQUEST(id, have) and returns the CATALOG's bytes.
func catalogOf(t *testing.T, rp *rawPeer, id, have uint64) []byte {
	t.Helper()
	rp.send(&wire.CatalogRequest{ID: id, Have: have})
	b := rp.recvFrame()
	if pk, _ := wire.Decode(b); pk.Type() != wire.TypeCatalog {
		t.Fatalf("answer to CATALOG_REQUEST: %#v", pk)
	}
	return b
}

// Issue 14, observation 5: CATALOG_REQUEST with have equal to the current
// version is answered not modified ([8, id, version, nil], PROTOCOL.md 10);
// have 0 or an older version gets the whole catalog.
func TestCatalogRequestHonoursHave(t *testing.T) {
	p := catalogPeer(t)
	rp := dialRaw(t, p.Endpoint(), "asker", "")
	full, _ := wire.Decode(catalogOf(t, rp, 1, 0))
	cur := full.(*wire.CatalogReply)
	if cur.Catalog == nil || cur.Version == 0 || len(cur.Catalog.Services) != 8 {
		t.Fatalf("have 0: %+v", cur)
	}
	got := catalogOf(t, rp, 2, cur.Version)
	want := wire.Encode(&wire.CatalogReply{ID: 2, Version: cur.Version})
	if !bytes.Equal(got, want) {
		t.Fatalf("have = current version %d: got % x, want not modified % x", cur.Version, got, want)
	}
	older, _ := wire.Decode(catalogOf(t, rp, 3, cur.Version-1))
	if r := older.(*wire.CatalogReply); r.Catalog == nil || r.Version != cur.Version || len(r.Catalog.Services) != 8 {
		t.Fatalf("have = an older version: %+v", r)
	}
}

// Issue 14, observation 5: one catalog version has one encoding: services,
// subscriptions and message types in the canonical order of PROTOCOL.md 10,
// byte-identical across requests.
func TestCatalogEncodingIsCanonical(t *testing.T) {
	p := catalogPeer(t)
	rp := dialRaw(t, p.Endpoint(), "asker", "")
	first := catalogOf(t, rp, 1, 0)
	for i := 0; i < 20; i++ {
		if again := catalogOf(t, rp, 1, 0); !bytes.Equal(again, first) {
			t.Fatalf("two encodings of one catalog version:\n% x\n% x", first, again)
		}
	}
	pk, _ := wire.Decode(first)
	cat := pk.(*wire.CatalogReply).Catalog
	if !slices.IsSortedFunc(cat.Services, func(a, b wire.Service) int { return cmpStr(a.Name, b.Name) }) {
		t.Fatalf("services not in order: %+v", cat.Services)
	}
	if !slices.IsSortedFunc(cat.Subscriptions, func(a, b wire.Subscription) int { return cmpStr(a.Pattern, b.Pattern) }) {
		t.Fatalf("subscriptions not in order: %+v", cat.Subscriptions)
	}
	if !slices.IsSortedFunc(cat.MessageTypes, func(a, b wire.MessageType) int {
		if a.Channel != b.Channel {
			return cmpStr(a.Channel, b.Channel)
		}
		return int(a.Direction) - int(b.Direction)
	}) {
		t.Fatalf("message types not in order: %+v", cat.MessageTypes)
	}
}

// The Go fetcher sends the version it holds and keeps it on not modified
// (nil, nil); an older or no version gets the whole catalog.
func TestFetchCatalogSendsHave(t *testing.T) {
	p := catalogPeer(t)
	asker := start(t, fastOpts("asker")...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	full, err := asker.fetchCatalog(ctx, member(p), 0)
	if err != nil || full == nil || len(full.Services) != 8 || len(full.Subscriptions) != 8 || full.Version == 0 {
		t.Fatalf("have 0: %+v, %v", full, err)
	}
	if same, err := asker.fetchCatalog(ctx, member(p), full.Version); err != nil || same != nil {
		t.Fatalf("have = current: %+v, %v; want not modified (nil, nil)", same, err)
	}
	older, err := asker.fetchCatalog(ctx, member(p), full.Version-1)
	if err != nil || older == nil || !slices.Equal(older.Services, full.Services) {
		t.Fatalf("have = older: %+v, %v", older, err)
	}
}
