// Command quickstart runs two meshmq peers in one process. "orders" sends a
// stream of charge commands to the "billing" service, at least once, while
// the billing peer is closed and restarted on the same address mid-stream.
// One charge fails once and is retried; one is refused for good and goes to
// the dead-letter callback. At the end it prints what was sent, handled,
// retried and dead-lettered.
//
// Billing also publishes a "billing.charged" event for every charge it
// makes, which an "audit" subscription in the orders peer receives (a peer
// does not deliver its own events to itself, so publisher and subscriber are
// different peers), and orders asks the "billing.balance" service for the
// total with one Request, which billing answers with peer.Reply.
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

// Balance is billing's answer to a billing.balance request.
type Balance struct {
	Charges int   `json:"charges"`
	Cents   int64 `json:"cents"`
}

const charges = 2000

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// billing is the handler: it remembers which orders it charged, and
// announces each charge with a billing.charged event.
type billing struct {
	mu      sync.Mutex
	charged map[string]int
	cents   int64
	flaky   atomic.Bool // the first attempt at o-0500 fails
}

// handle charges one order. p is the billing peer the handler runs in, for
// publishing.
func (b *billing) handle(p *peer.Peer) channel.Handler {
	return func(ctx context.Context, m *channel.Message) error {
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
		// The event goes out first: a handler still running when its peer
		// closes may not publish (ErrClosed), and the error makes orders
		// resend the charge, to be charged (once) after the restart.
		ev, err := channel.NewEvent("billing.charged", c)
		if err != nil {
			return channel.Permanent(err)
		}
		ev.Key = c.OrderID
		if err := p.Publish(ctx, ev); err != nil {
			return err
		}
		b.mu.Lock()
		b.charged[c.OrderID]++
		b.cents += c.Cents
		b.mu.Unlock()
		return nil
	}
}

// balance answers a billing.balance request with what billing charged.
func (b *billing) balance(ctx context.Context, m *channel.Message) error {
	b.mu.Lock()
	bal := Balance{Charges: len(b.charged), Cents: b.cents}
	b.mu.Unlock()
	reply := &channel.Message{}
	if err := reply.Encode(nil, bal); err != nil {
		return channel.Permanent(err)
	}
	return peer.Reply(ctx, reply) // sent to the requester once we return nil
}

func (b *billing) handled() (distinct, twice int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return tally(b.charged)
}

// tally counts the orders in counts and those counted more than once.
func tally(counts map[string]int) (distinct, twice int) {
	for _, n := range counts {
		if n > 1 {
			twice++
		}
	}
	return len(counts), twice
}

// audit is the orders peer's subscriber to billing's events.
type audit struct {
	mu   sync.Mutex
	seen map[string]int // order ID: billing.charged events received
}

func (a *audit) handle(ctx context.Context, m *channel.Message) error {
	var c Charge
	if err := m.Decode(&c); err != nil {
		return channel.Permanent(err)
	}
	a.mu.Lock()
	a.seen[c.OrderID]++
	a.mu.Unlock()
	return nil
}

func (a *audit) received() (distinct, twice int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return tally(a.seen)
}

// startBilling starts the billing peer. Its static member list holds orders
// with its subscriptions: that is how a publisher knows whom to send events
// to (gossip would tell it by itself).
func startBilling(ctx context.Context, b *billing, listen string, orders discovery.Member) (*peer.Peer, error) {
	p, err := peer.New(ctx, peer.WithName("billing"), peer.WithListen(listen),
		peer.WithDiscovery(discovery.NewStatic(orders)),
		peer.WithHeartbeat(100*time.Millisecond, time.Second), peer.WithReconnect(10*time.Millisecond, 200*time.Millisecond))
	if err != nil {
		return nil, err
	}
	err = p.Handle("billing", b.handle(p), peer.Concurrency(4))
	if err == nil {
		err = p.Handle("billing.balance", b.balance)
	}
	if err != nil {
		p.Close(ctx)
		return nil, err
	}
	return p, nil
}

// run is the demo; it writes its story to out.
func run(ctx context.Context, out io.Writer) error {
	b := &billing{charged: map[string]int{}}
	a := &audit{seen: map[string]int{}}

	// orders starts first, with an empty member list, so that billing's list
	// can hold orders' endpoint and subscription; billing is added to orders'
	// list once it listens.
	var deadMu sync.Mutex
	var dead []peer.DeadLetter
	view := discovery.NewStatic()
	orders, err := peer.New(ctx, peer.WithName("orders"),
		peer.WithDiscovery(view),
		peer.WithRetry(peer.RetryPolicy{MaxAttempts: 5, MaxAge: time.Minute, MinBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, Jitter: 0.5}),
		peer.WithReconnect(10*time.Millisecond, 200*time.Millisecond),
		peer.WithDeadLetter(func(d peer.DeadLetter) {
			deadMu.Lock()
			dead = append(dead, d)
			deadMu.Unlock()
		}))
	if err != nil {
		return err
	}
	defer orders.Close(ctx)
	auditSub, err := orders.Subscribe("billing.charged", a.handle, peer.Group("audit"), peer.Concurrency(4))
	if err != nil {
		return err
	}
	ordersMember := discovery.Member{Name: "orders", Endpoint: orders.Endpoint(),
		Subscriptions: []discovery.Subscription{{Pattern: auditSub.Pattern(), Group: auditSub.Group()}}}

	bill, err := startBilling(ctx, b, "tcp://127.0.0.1:0", ordersMember)
	if err != nil {
		return err
	}
	endpoint := bill.Endpoint()
	fmt.Fprintf(out, "billing listens on %s\n", endpoint)
	view.Add(discovery.Member{Name: "billing", Endpoint: endpoint, Services: []string{"billing", "billing.balance"}})

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
			// Let billing get going first, so the restart is mid-stream.
			for distinct, _ := b.handled(); distinct < charges/4; distinct, _ = b.handled() {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Millisecond):
				}
			}
			distinct, _ := b.handled()
			fmt.Fprintf(out, "restarting billing after %d charges handled...\n", distinct)
			if err := bill.Close(ctx); err != nil {
				return err
			}
			if bill, err = startBilling(ctx, b, endpoint, ordersMember); err != nil {
				return err
			}
			fmt.Fprintln(out, "billing is back on the same address")
		}
	}
	defer bill.Close(ctx)

	// Wait until every charge is acknowledged or dead-lettered, and then
	// every billing.charged event.
	for orders.Stats().InFlight > 0 || bill.Stats().InFlight > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d charges, %d events still unacknowledged: %w",
				orders.Stats().InFlight, bill.Stats().InFlight, ctx.Err())
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

	// Publish/subscribe: what the audit subscription received.
	events, eventsTwice := a.received()
	fmt.Fprintf(out, "audit received %d billing.charged events (%d twice)\n", events, eventsTwice)

	// Request/reply: one question to the billing.balance service.
	req, err := channel.NewCommand("billing.balance", nil)
	if err != nil {
		return err
	}
	rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
	defer rcancel()
	reply, err := orders.Request(rctx, req)
	if err != nil {
		return fmt.Errorf("billing.balance request: %w", err)
	}
	var bal Balance
	if err := reply.Decode(&bal); err != nil {
		return err
	}
	fmt.Fprintf(out, "billing.balance replied: %d charges, %d cents\n", bal.Charges, bal.Cents)
	return nil
}
