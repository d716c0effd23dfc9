// Command quickstart runs two meshmq peers in one process. "orders" sends a
// stream of charge commands to the "billing" service, at least once, while
// the billing peer is closed and restarted on the same address mid-stream.
// One charge fails once and is retried; one is refused for good and goes to
// the dead-letter callback. At the end it prints what was sent, handled,
// retried and dead-lettered.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/peer"
)

// Charge is the payload of the commands billing handles.
type Charge struct {
	OrderID string `json:"order_id"`
	Cents   int64  `json:"cents"`
}

const charges = 2000

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// billing is the handler: it remembers which orders it charged.
type billing struct {
	mu      sync.Mutex
	charged map[string]int
	flaky   atomic.Bool // the first attempt at o-0500 fails
}

func (b *billing) handle(ctx context.Context, m *channel.Message) error {
	var c Charge
	if err := m.Decode(&c); err != nil {
		return channel.Permanent(err)
	}
	switch {
	case c.Cents < 0:
		return channel.Permanent(fmt.Errorf("order %s: negative amount", c.OrderID))
	case c.OrderID == "o-0500" && b.flaky.CompareAndSwap(false, true):
		return errors.New("payment gateway timed out") // retried by the sender
	}
	b.mu.Lock()
	b.charged[c.OrderID]++
	b.mu.Unlock()
	return nil
}

func (b *billing) handled() (distinct, twice int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, n := range b.charged {
		if n > 1 {
			twice++
		}
	}
	return len(b.charged), twice
}

func startBilling(ctx context.Context, b *billing, listen string) (*peer.Peer, error) {
	p, err := peer.New(ctx, peer.WithName("billing"), peer.WithListen(listen),
		peer.WithHeartbeat(100*time.Millisecond, time.Second), peer.WithReconnect(10*time.Millisecond, 200*time.Millisecond))
	if err != nil {
		return nil, err
	}
	if err := p.Handle("billing", b.handle, peer.Concurrency(4)); err != nil {
		p.Close(ctx)
		return nil, err
	}
	return p, nil
}

// run is the demo; it writes its story to out.
func run(ctx context.Context, out io.Writer) error {
	b := &billing{charged: map[string]int{}}
	bill, err := startBilling(ctx, b, "tcp://127.0.0.1:0")
	if err != nil {
		return err
	}
	endpoint := bill.Endpoint()
	fmt.Fprintf(out, "billing listens on %s\n", endpoint)

	var deadMu sync.Mutex
	var dead []peer.DeadLetter
	orders, err := peer.New(ctx, peer.WithName("orders"),
		peer.WithDiscovery(discovery.NewStatic(discovery.Member{Name: "billing", Endpoint: endpoint, Services: []string{"billing"}})),
		peer.WithRetry(peer.RetryPolicy{MaxAttempts: 5, MaxAge: time.Minute, MinBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, Jitter: 0.5}),
		peer.WithReconnect(10*time.Millisecond, 200*time.Millisecond),
		peer.WithDeadLetter(func(d peer.DeadLetter) {
			deadMu.Lock()
			dead = append(dead, d)
			deadMu.Unlock()
		}))
	if err != nil {
		bill.Close(ctx)
		return err
	}
	defer orders.Close(ctx)

	fmt.Fprintf(out, "orders sends %d charges to the billing service...\n", charges)
	for i := 0; i < charges; i++ {
		c := Charge{OrderID: fmt.Sprintf("o-%04d", i), Cents: int64(100 + i)}
		if i == 1234 {
			c.Cents = -1 // refused for good: dead-lettered
		}
		msg, err := channel.NewCommand("billing", c)
		if err != nil {
			return err
		}
		msg.Key = c.OrderID
		if err := orders.Send(ctx, msg); err != nil {
			return err
		}
		if i == charges/2 {
			// Restart billing mid-stream: Close finishes its running
			// handlers and acknowledges them; orders keeps the rest in its
			// retry buffer and resends when billing is back.
			distinct, _ := b.handled()
			fmt.Fprintf(out, "restarting billing after %d charges handled...\n", distinct)
			if err := bill.Close(ctx); err != nil {
				return err
			}
			if bill, err = startBilling(ctx, b, endpoint); err != nil {
				return err
			}
			fmt.Fprintln(out, "billing is back on the same address")
		}
	}
	defer bill.Close(ctx)

	// Wait until every charge is acknowledged or dead-lettered.
	for orders.Stats().InFlight > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d charges still unacknowledged: %w", orders.Stats().InFlight, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	st := orders.Stats()
	distinct, twice := b.handled()
	fmt.Fprintf(out, "sent %d, handled %d (%d twice), retried %d, dead-lettered %d\n", st.Sent, distinct, twice, st.Retried, st.DeadLettered)
	deadMu.Lock()
	defer deadMu.Unlock()
	for _, d := range dead {
		fmt.Fprintf(out, "dead letter: %s, %s after %d attempt(s): %v\n", d.Message.Key, d.Reason, d.Attempts, d.Err)
	}
	return nil
}
