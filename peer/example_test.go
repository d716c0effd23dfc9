package peer_test

import (
	"context"
	"fmt"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/peer"
)

type Charge struct {
	Order string
	Cents int
}

// A billing peer handles charges; an orders peer sends them, at least once.
func Example() {
	ctx := context.Background()
	done := make(chan struct{})
	billing, err := peer.New(ctx, peer.WithName("billing"))
	if err != nil {
		panic(err)
	}
	defer billing.Close(ctx)
	billing.Handle("billing", func(ctx context.Context, m *channel.Message) error {
		var c Charge
		if err := m.Decode(&c); err != nil {
			return channel.Permanent(err) // retrying cannot fix a bad body
		}
		fmt.Printf("%s charges %d cents for %s\n", m.From, c.Cents, c.Order)
		close(done)
		return nil // acknowledges the message
	})

	orders, err := peer.New(ctx, peer.WithName("orders"),
		peer.WithDiscovery(discovery.NewStatic(discovery.Member{
			Name: "billing", Endpoint: billing.Endpoint(), Services: []string{"billing"},
		})))
	if err != nil {
		panic(err)
	}
	defer orders.Close(ctx)

	msg, _ := channel.NewCommand("billing", Charge{Order: "o-1", Cents: 4200})
	msg.Key = "o-1" // messages of one order are handled in send order
	if err := orders.Send(ctx, msg); err != nil {
		panic(err)
	}
	<-done
	// Output: orders charges 4200 cents for o-1
}

// Every subscriber group gets each event once; here one group, "audit".
func ExamplePeer_Publish() {
	ctx := context.Background()
	got := make(chan string, 1)
	audit, err := peer.New(ctx, peer.WithName("audit"))
	if err != nil {
		panic(err)
	}
	defer audit.Close(ctx)
	if _, err := audit.Subscribe("orders.>", func(ctx context.Context, m *channel.Message) error {
		got <- fmt.Sprintf("%s: %s from %s", m.Channel, m.Body, m.From)
		return nil
	}, peer.Group("audit")); err != nil {
		panic(err)
	}

	// A static member list carries the subscriber's advertisement.
	orders, err := peer.New(ctx, peer.WithName("orders"),
		peer.WithDiscovery(discovery.NewStatic(audit.Advertisement())))
	if err != nil {
		panic(err)
	}
	defer orders.Close(ctx)
	if err := orders.Publish(ctx, &channel.Message{Channel: "orders.eu.created", Body: []byte("o-1")}); err != nil {
		panic(err)
	}
	fmt.Println(<-got)
	// Output: orders.eu.created: o-1 from orders
}

// A handler answers a request with Reply.
func ExamplePeer_Request() {
	ctx := context.Background()
	pricing, err := peer.New(ctx, peer.WithName("pricing"))
	if err != nil {
		panic(err)
	}
	defer pricing.Close(ctx)
	pricing.Handle("quote", func(ctx context.Context, m *channel.Message) error {
		return peer.Reply(ctx, &channel.Message{Body: []byte("42 EUR for " + string(m.Body))})
	})

	shop, err := peer.New(ctx, peer.WithName("shop"), peer.WithDiscovery(discovery.NewStatic(pricing.Advertisement())))
	if err != nil {
		panic(err)
	}
	defer shop.Close(ctx)
	reply, err := shop.Request(ctx, &channel.Message{Channel: "quote", Body: []byte("sku-7")})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s from %s\n", reply.Body, reply.From)
	// Output: 42 EUR for sku-7 from pricing
}
