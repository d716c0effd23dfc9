package discovery_test

import (
	"context"
	"fmt"

	"github.com/meshmq/meshmq/discovery"
)

// A fixed member list: what a peer routes from when the topology is known.
func ExampleNewStatic() {
	d := discovery.NewStatic(
		discovery.Member{Name: "billing-1", Endpoint: "tcp://10.0.0.5:7000", Services: []string{"billing"}},
		discovery.Member{Name: "orders-1", Endpoint: "tcp://10.0.0.6:7000", Services: []string{"orders"}},
	)
	d.Start(context.Background(), discovery.Member{Name: "orders-1"}, func(e discovery.Event) {
		fmt.Println(e.Type, e.Member.Name)
	})
	for _, m := range d.Members() {
		fmt.Println(m.Name, m.Endpoint, m.Handles("billing"))
	}
	d.Add(discovery.Member{Name: "billing-2", Endpoint: "tcp://10.0.0.7:7000", Services: []string{"billing"}})
	d.Remove("billing-1", true)
	// Output:
	// billing-1 tcp://10.0.0.5:7000 true
	// joined billing-2
	// failed billing-1
}

// Two gossip nodes on loopback: the second joins the first and sees it.
func ExampleNewGossip() {
	ctx := context.Background()
	catalogs := map[string][]string{"billing": {"billing"}, "orders": {"orders"}}
	fetch := func(_ context.Context, m discovery.Member, _ uint64) (*discovery.Catalog, error) {
		return &discovery.Catalog{Version: 1, Services: catalogs[m.Name]}, nil // a peer asks m itself
	}
	a, _ := discovery.NewGossip(discovery.GossipConfig{Profile: discovery.ProfileFast, Fetch: fetch})
	a.Start(ctx, discovery.Member{Name: "billing", Endpoint: "tcp://127.0.0.1:7001"}, nil)
	defer a.Leave(ctx)

	joined := make(chan discovery.Event, 1)
	b, _ := discovery.NewGossip(discovery.GossipConfig{Seeds: []string{a.Addr()}, Profile: discovery.ProfileFast, Fetch: fetch})
	b.Start(ctx, discovery.Member{Name: "orders", Endpoint: "tcp://127.0.0.1:7002"}, func(e discovery.Event) {
		if e.Type == discovery.Joined {
			joined <- e
		}
	})
	defer b.Leave(ctx)

	e := <-joined
	fmt.Println(e.Type, e.Member.Name, e.Member.Endpoint, e.Member.Services)
	// Output: joined billing tcp://127.0.0.1:7001 [billing]
}
