package transport_test

import (
	"context"
	"fmt"

	"github.com/meshmq/meshmq/internal/transport"
	"github.com/meshmq/meshmq/internal/wire"
)

// printer prints the DATA it receives and signals when it has seen want entries.
type printer struct {
	transport.NopHandler
	want int
	done chan struct{}
}

func (p *printer) Packet(c *transport.Conn, pk wire.Packet) {
	if d, ok := pk.(*wire.Data); ok {
		for _, e := range d.Entries {
			fmt.Printf("from %s: stream %d seq %d %q\n", c.RemoteName(), e.Stream, e.Seq, e.Message)
			if p.want--; p.want == 0 {
				close(p.done)
			}
		}
	}
}

func Example() {
	ctx := context.Background()
	rx := &printer{want: 2, done: make(chan struct{})}
	billing, err := transport.Listen(transport.Config{Name: "billing", Handler: rx})
	if err != nil {
		panic(err)
	}
	defer billing.Close(ctx)
	orders, err := transport.Listen(transport.Config{Name: "orders"})
	if err != nil {
		panic(err)
	}
	defer orders.Close(ctx)

	link, err := orders.Connect("billing", billing.Endpoint())
	if err != nil {
		panic(err)
	}
	conn, err := link.WaitUp(ctx)
	if err != nil {
		panic(err)
	}
	for i, body := range []string{"charge 42", "charge 43"} {
		e := &wire.Entry{Stream: 1, Seq: uint64(i + 1), Attempt: 1, Partition: wire.NoPartition, Message: []byte(body)}
		if err := conn.Send(ctx, e); err != nil {
			panic(err)
		}
	}
	<-rx.done
	// Output:
	// from orders: stream 1 seq 1 "charge 42"
	// from orders: stream 1 seq 2 "charge 43"
}
