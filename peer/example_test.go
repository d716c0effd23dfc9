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
