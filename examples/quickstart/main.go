// Command quickstart runs two meshmq peers in one process and sends typed
// commands from one to the other over meshmq's ZMTP transport.
//
//	go run ./examples/quickstart
//
// This release ships the foundation: the message model (channel), codecs
// (codec), the wire protocol (PROTOCOL.md) and the hardened transport. The
// peer API with acknowledgements, retries and dedup (peer.New, Send, Handle)
// is the next release; until then this demo drives the transport directly,
// which applications will not need to do.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/internal/transport"
	"github.com/meshmq/meshmq/internal/wire"
)

// Charge is the payload of the commands billing receives.
type Charge struct {
	OrderID string `json:"order_id"`
	Cents   int64  `json:"cents"`
}

// billing prints the commands it receives and counts them.
type billing struct {
	transport.NopHandler
	got chan string
}

func (b *billing) Packet(c *transport.Conn, p wire.Packet) {
	d, ok := p.(*wire.Data)
	if !ok {
		return
	}
	for _, e := range d.Entries {
		var m channel.Message
		if err := wire.DecodeMessage(e.Message, &m); err != nil {
			log.Printf("billing: undecodable message from %s: %v", c.RemoteName(), err)
			continue
		}
		m.From, m.Attempt = c.RemoteName(), int(e.Attempt) // from the connection, never from the message
		var ch Charge
		if err := m.Decode(&ch); err != nil {
			log.Printf("billing: %v", err)
			continue
		}
		b.got <- fmt.Sprintf("billing <- %s: %s %s {order %s, %d cents} (%s, seq %d)",
			m.From, m.Kind, m.Channel, ch.OrderID, ch.Cents, m.Headers.Get(channel.HeaderContentType), e.Seq)
	}
}

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run is the demo; it writes its story to out.
func run(ctx context.Context, out io.Writer) error {
	rx := &billing{got: make(chan string, 16)}
	bill, err := transport.Listen(transport.Config{Name: "billing", Handler: rx})
	if err != nil {
		return err
	}
	defer bill.Close(ctx)
	orders, err := transport.Listen(transport.Config{Name: "orders"})
	if err != nil {
		return err
	}
	defer orders.Close(ctx)
	fmt.Fprintf(out, "billing listens on %s, orders on %s\n", bill.Endpoint(), orders.Endpoint())

	link, err := orders.Connect("billing", bill.Endpoint())
	if err != nil {
		return err
	}
	conn, err := link.WaitUp(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "orders -> billing connected (protocol v%d, billing epoch %d)\n", conn.Remote().Versions[0], conn.RemoteEpoch())

	charges := []Charge{{"o-1001", 4200}, {"o-1002", 1999}, {"o-1003", 250}}
	for i, c := range charges {
		msg, err := channel.NewCommand("billing", c)
		if err != nil {
			return err
		}
		msg.Key = c.OrderID
		// Encoded once; the entry adds what is per destination.
		e := &wire.Entry{Stream: 1, Seq: uint64(i + 1), Attempt: 1, Partition: wire.NoPartition, Message: wire.AppendMessage(nil, msg)}
		if err := conn.Send(ctx, e); err != nil {
			return err
		}
	}
	for range charges {
		select {
		case line := <-rx.got:
			fmt.Fprintln(out, line)
		case <-ctx.Done():
			return errors.New("timed out waiting for billing")
		}
	}
	fmt.Fprintln(out, "done: 3 commands delivered; closing both peers gracefully (DRAIN)")
	return nil
}
