package channel_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/meshmq/meshmq/channel"
)

type OrderPlaced struct {
	OrderID string `json:"order_id"`
	Total   int    `json:"total"`
}

func ExampleNewEvent() {
	m, err := channel.NewEvent("orders.placed", OrderPlaced{OrderID: "o-17", Total: 4200})
	if err != nil {
		panic(err)
	}
	fmt.Println(m.Kind, m.Channel, m.Headers.Get(channel.HeaderContentType))

	// On the receiving side:
	var ev OrderPlaced
	if err := m.Decode(&ev); err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", ev)
	// Output:
	// event orders.placed application/msgpack
	// {OrderID:o-17 Total:4200}
}

func ExamplePermanent() {
	handle := func(ctx context.Context, m *channel.Message) error {
		var ev OrderPlaced
		if err := m.Decode(&ev); err != nil {
			// The same bytes will never decode: do not retry.
			return channel.Permanent(err)
		}
		if ev.Total < 0 {
			return channel.Permanent(fmt.Errorf("order %s: negative total", ev.OrderID))
		}
		return nil
	}
	var h channel.Handler = handle

	m := &channel.Message{ID: "m-1", Kind: channel.Event, Channel: "orders.placed", Body: []byte{0xc1}}
	err := h(context.Background(), m)
	fmt.Println("permanent:", channel.IsPermanent(err))
	fmt.Println(err)

	m, _ = channel.NewEvent("orders.placed", OrderPlaced{OrderID: "o-18", Total: -1})
	err = h(context.Background(), m)
	fmt.Println("permanent:", errors.Is(err, channel.ErrPermanent))
	fmt.Println(err)
	// Output:
	// permanent: true
	// channel: decode message "m-1": codec: unmarshal application/msgpack: msgpack: malformed input at offset 0: invalid format code 0xc1
	// permanent: true
	// order o-18: negative total
}

func ExampleMessage_Validate() {
	reply := &channel.Message{Kind: channel.Reply, CorrelationID: "m-1"}
	err := reply.Validate()

	var ve *channel.ValidationError
	if errors.As(err, &ve) {
		fmt.Println(ve.Field, "-", ve.Reason)
	}
	fmt.Println(errors.Is(err, channel.ErrInvalidMessage))
	// Output:
	// To - required for a reply
	// true
}
