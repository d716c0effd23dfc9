package wire_test

import (
	"fmt"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/internal/wire"
)

// A message is encoded once; each destination's entry carries the same bytes.
func Example() {
	msg := &channel.Message{ID: "m1", Kind: channel.Event, Channel: "orders.created", Body: []byte("hi")}
	encoded := wire.AppendMessage(nil, msg)

	frame := wire.Encode(&wire.Data{Entries: []wire.Entry{
		{Stream: 1, Seq: 1, Attempt: 1, Partition: wire.NoPartition, Group: "billing", Message: encoded},
		{Stream: 4, Seq: 9, Attempt: 1, Partition: wire.NoPartition, Group: "audit", Message: encoded},
	}})

	p, err := wire.Decode(frame)
	if err != nil {
		panic(err)
	}
	for _, e := range p.(*wire.Data).Entries {
		var m channel.Message
		if err := wire.DecodeMessage(e.Message, &m); err != nil {
			panic(err)
		}
		fmt.Printf("%s: %s %q to group %s\n", p.Type(), m.Channel, m.Body, e.Group)
	}
	// Output:
	// DATA: orders.created "hi" to group billing
	// DATA: orders.created "hi" to group audit
}
