package peer_test

import (
	"context"
	"fmt"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/peer"
	"github.com/meshmq/meshmq/security"
)

// Two peers that admit only each other: every connection is CURVE, and the
// receiver knows who sent a message because the sender proved it holds the
// key its name advertises. (In production the keys come from files:
// security.Load.)
func ExampleWithSecurity() {
	ctx := context.Background()
	billingKeys, _ := security.GenerateKeyPair()
	ordersKeys, _ := security.GenerateKeyPair()
	allow := security.NewAllowlist(billingKeys.Public, ordersKeys.Public)

	done := make(chan struct{})
	billingView := discovery.NewStatic()
	billing, err := peer.New(ctx, peer.WithName("billing"), peer.WithDiscovery(billingView),
		peer.WithSecurity(security.Config{Keys: billingKeys, Allow: allow}))
	if err != nil {
		panic(err)
	}
	defer billing.Close(ctx)
	billing.Handle("billing", func(ctx context.Context, m *channel.Message) error {
		fmt.Printf("charge from %s (authenticated)\n", m.From)
		close(done)
		return nil
	})

	orders, err := peer.New(ctx, peer.WithName("orders"),
		peer.WithDiscovery(discovery.NewStatic(billing.Advertisement())), // its endpoint, services and key
		peer.WithSecurity(security.Config{Keys: ordersKeys, Allow: allow}))
	if err != nil {
		panic(err)
	}
	defer orders.Close(ctx)
	billingView.Add(orders.Advertisement()) // billing checks the name orders claims against this key

	if err := orders.Send(ctx, &channel.Message{Kind: channel.Command, Channel: "billing", Body: []byte("o-1")}); err != nil {
		panic(err)
	}
	<-done
	s := orders.Stats().Security
	fmt.Println("CURVE:", s.Curve, "insecure:", len(s.Insecure))
	// Output:
	// charge from orders (authenticated)
	// CURVE: true insecure: 0
}
