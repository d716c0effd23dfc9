package asyncapi_test

import (
	"context"
	"fmt"
	"slices"

	"sigs.k8s.io/yaml"

	"github.com/meshmq/meshmq/asyncapi"
	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/peer"
)

type Charge struct {
	Order string `json:"order" doc:"the order charged"`
	Cents int    `json:"cents"`
}

type Receipt struct {
	Number string `json:"number"`
}

// A billing peer documents what its handler takes and answers; its
// document has the service, the replies, one receive operation with its
// reply, and the payload schemas.
func ExampleForPeer() {
	ctx := context.Background()
	billing, err := peer.New(ctx, peer.WithName("billing"))
	if err != nil {
		panic(err)
	}
	defer billing.Close(ctx)
	err = billing.Handle("billing", func(ctx context.Context, m *channel.Message) error {
		return peer.Reply(ctx, &channel.Message{})
	}, peer.Partitions(8),
		peer.Takes(peer.MessageType{Payload: Charge{}, Description: "Charge an order."}),
		peer.Answers(peer.MessageType{Payload: Receipt{}}))
	if err != nil {
		panic(err)
	}

	doc, err := asyncapi.ForPeer(billing, asyncapi.Info{Version: "1.0.0"})
	if err != nil {
		panic(err)
	}
	ids := make([]string, 0, len(doc.Channels))
	for id := range doc.Channels {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		c := doc.Channels[id]
		fmt.Printf("channel %s: %s, %s\n", id, c.Type, c.Delivery)
	}
	op := doc.Operations["billing.receive.billing"]
	fmt.Printf("operation billing.receive.billing: %s %s, reply on %s, ordered by %s in %d partitions\n",
		op.Action, op.Channel.Ref, op.Reply.Channel.Ref, op.Ordering.Key, op.Ordering.Partitions)
	schema, err := yaml.Marshal(doc.Components.Schemas["Charge"])
	if err != nil {
		panic(err)
	}
	fmt.Printf("components.schemas.Charge:\n%s", schema)
	// Output:
	// channel billing: point-to-point, at-least-once
	// channel billing.reply: reply, at-least-once
	// operation billing.receive.billing: receive #/channels/billing, reply on #/channels/billing.reply, ordered by Key in 8 partitions
	// components.schemas.Charge:
	// properties:
	//   cents:
	//     type: integer
	//   order:
	//     description: the order charged
	//     type: string
	// required:
	// - order
	// - cents
	// type: object
}
