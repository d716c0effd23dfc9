package main

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/examples/internal/cli"
	"github.com/meshmq/meshmq/peer"
)

// OrderCreated is the event of a new order, published on topicCreated in
// the transaction that inserts the order. Its body is encoded with the
// default codec (MessagePack); the json tags serve a JSON codec.
type OrderCreated struct {
	OrderID    string    `json:"order_id" msgpack:"order_id"`
	Customer   string    `json:"customer" msgpack:"customer"`
	TotalCents int64     `json:"total_cents" msgpack:"total_cents"`
	Created    time.Time `json:"created" msgpack:"created"`
}

const topicCreated = "orders.created"

// An order is a function of its number, so that the check at the end knows
// what each order must hold, and which numbers fail validation, without
// asking the process that created them.
type order struct {
	n        int
	id       string
	customer string
	cents    int64
}

var customers = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}

const (
	creditLimitCents = 90_000     // orders above it fail the credit check: about one in ten
	maxOrderNumber   = 99_999_999 // ord-%08d
	orderPrefix      = "ord-"
)

func orderFor(n int) order {
	h := splitmix64(uint64(n))
	return order{n: n, id: orderID(n), customer: customers[h%uint64(len(customers))],
		cents: 500 + int64(h>>32%100_000)} // $5.00 to $1,004.99
}

// check is the order service's validation, which runs after the order and
// its event are written: a failure rolls both back.
func (o order) check() error {
	if o.cents > creditLimitCents {
		return fmt.Errorf("%s is over %s's credit limit of %s", dollars(o.cents), o.customer, dollars(creditLimitCents))
	}
	return nil
}

func orderID(n int) string { return fmt.Sprintf("%s%08d", orderPrefix, n) }

// parseOrderID is orderID's inverse.
func parseOrderID(id string) (int, bool) {
	digits, ok := strings.CutPrefix(id, orderPrefix)
	if !ok || len(digits) != 8 {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil && n > 0
}

func dollars(cents int64) string { return fmt.Sprintf("$%d.%02d", cents/100, cents%100) }

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// runOrders is -role orders: it creates orders at o.rate per second, each
// order and its OrderCreated event in one transaction, and relays its outbox
// until ctx ends.
func runOrders(ctx context.Context, o *options, con *cli.Console) error {
	logger := cli.Logger(con, o.verbose)
	db, err := openDatabase(ctx, o.db, o.postgres, ordersDDL, logger)
	if err != nil {
		return err
	}
	defer db.close()
	last, rows, err := lastOrder(ctx, db)
	if err != nil {
		return err
	}
	// Numbering resumes after the last committed order: a transaction that a
	// crash cut short left nothing, and its number is used again.
	if rows == 0 {
		con.Printf("database %s (%s): no orders yet; next is %s", db.where, db.kind, orderID(last+1))
	} else {
		con.Printf("database %s (%s): %d orders, the last %s; next is %s", db.where, db.kind, rows, orderID(last), orderID(last+1))
	}

	// The peer keeps its retry buffer in the same database, and its relay
	// (the store's, by default) sends what the transactions commit into the
	// outbox. An event committed before the peer knows of a subscriber —
	// right after it starts, before gossip has told it who subscribes —
	// waits in the outbox for one, in order (Stats.HeldEvents).
	p, g, err := newPeer(ctx, o, logger,
		peer.WithStore(db.store),
		// No limit on attempts: an event is retried until shipping takes
		// it, within its subscriber group's retention age (10 minutes by
		// default); a permanent error (an event shipping cannot decode)
		// dead-letters it at once. No MaxAge either: an event no subscriber
		// wants yet waits for one as long as it takes.
		peer.WithRetry(peer.RetryPolicy{MaxBackoff: 2 * time.Second, MinBackoff: 50 * time.Millisecond, Jitter: 0.5}),
		peer.WithDeadLetter(func(d peer.DeadLetter) {
			con.Printf("%v", d) // "dead letter <id> to <peer> after <n> attempts: <reason>: <error>"
		}))
	if err != nil {
		return err
	}
	con.Printf("peer %s: data %s, gossip %s", o.name, p.Endpoint(), g.Addr())
	if len(o.join) > 0 {
		con.Printf("joining %s", strings.Join(o.join, ", "))
	}

	var wg sync.WaitGroup
	loops, stopLoops := context.WithCancel(ctx)
	defer stopLoops()
	var st orderStats
	if o.quiet {
		wg.Go(func() { printOrderStatus(loops, p, con, &st) })
	}
	wg.Go(func() { watchPeer(loops, p, con) })
	wg.Go(func() { createOrders(loops, p, db, con, o, last+1, &st) })
	<-ctx.Done()
	stopLoops()
	wg.Wait()
	return closePeer(p, con)
}

// lastOrder returns the number of the highest order in the table, and how
// many orders it holds.
func lastOrder(ctx context.Context, db *database) (last, rows int, err error) {
	var maxID sql.NullString
	if err := db.db.QueryRowContext(ctx, `SELECT max(id), count(*) FROM orders`).Scan(&maxID, &rows); err != nil {
		return 0, 0, fmt.Errorf("%s: reading the orders: %w", db.where, err)
	}
	if !maxID.Valid {
		return 0, 0, nil
	}
	last, ok := parseOrderID(maxID.String)
	if !ok {
		return 0, 0, fmt.Errorf("%s: the last order's id is %q, not %s followed by 8 digits: is this another application's table?",
			db.where, maxID.String, orderPrefix)
	}
	return last, rows, nil
}

func orEmpty(id string) string {
	if id == "" || id == orderID(0) {
		return "none"
	}
	return id
}

type orderStats struct{ created, rolledBack atomic.Int64 }

// createOrders creates orders next, next+1, ... at o.rate per second until
// ctx ends or o.count is reached. It creates whatever is due on each tick
// rather than one per tick, so that high rates hold.
func createOrders(ctx context.Context, p *peer.Peer, db *database, con *cli.Console, o *options, next int, st *orderStats) {
	tick := max(time.Duration(float64(time.Second)/o.rate), 5*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	start, first := time.Now(), next
	for {
		due := first + int(time.Since(start).Seconds()*o.rate)
		if o.count > 0 {
			due = min(due, o.count)
		}
		for ; next <= due; next++ {
			for {
				err := createOrder(ctx, p, db, con, o, next, st)
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					return
				}
				// The database is busy or gone: the same order again, later.
				con.Printf("%s: %v; trying again in a second", orderID(next), err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
			}
		}
		if o.count > 0 && next > o.count {
			con.Printf("created every order up to %s; relaying until stopped (Ctrl-C)", orderID(o.count))
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// createOrder is the transactional outbox: the order's row and its event go
// into the database in one transaction, and the relay sends the event once
// the transaction commits, never if it rolls back.
func createOrder(ctx context.Context, p *peer.Peer, db *database, con *cli.Console, o *options, n int, st *orderStats) error {
	ord := orderFor(n)
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // after Commit, a no-op
	if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO orders (id, customer, total_cents) VALUES (?, ?, ?)`),
		ord.id, ord.customer, ord.cents); err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	msg := &channel.Message{
		// The event's ID derives from the order: the consumer's claim is
		// per order, whatever resends it.
		ID:      ord.id + "/created",
		Kind:    channel.Event,
		Channel: topicCreated,
		Key:     ord.customer, // each customer's orders are shipped in order
		Time:    time.Now(),
	}
	if err := msg.Encode(nil, OrderCreated{OrderID: ord.id, Customer: ord.customer, TotalCents: ord.cents, Created: msg.Time}); err != nil {
		return err
	}
	if err := p.PublishTx(ctx, tx, msg); err != nil {
		return err
	}
	if n == o.holdTx {
		con.Printf("holding %s inside its transaction: the order INSERTed, its event in the outbox, nothing committed; kill me now", ord.id)
		<-ctx.Done()
		return ctx.Err()
	}
	if err := ord.check(); err != nil {
		// The simulated validation failure: the order and its event go.
		if err := tx.Rollback(); err != nil {
			return err
		}
		st.rolledBack.Add(1)
		if !o.quiet {
			con.Printf("rolled back %s: %s, %v: no order, no event", ord.id, ord.customer, err)
		}
		return nil
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	st.created.Add(1)
	if !o.quiet {
		con.Printf("created %s: %s, %s", ord.id, ord.customer, dollars(ord.cents))
	}
	return nil
}

func printOrderStatus(ctx context.Context, p *peer.Peer, con *cli.Console, st *orderStats) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	start := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s := p.Stats()
		created := st.created.Load()
		con.Printf("status: %d created (%.1f/s), %d rolled back; events relayed %d, waiting for a subscriber %d, in flight %d, dead-lettered %d",
			created, float64(created)/time.Since(start).Seconds(), st.rolledBack.Load(), s.Relayed, s.HeldEvents, s.InFlight, s.DeadLettered)
	}
}

// watchPeer says what the peer shows of its outbox and of the subscribers
// to topicCreated, when it changes: the relay's first events (Stats.Relayed
// moving), events waiting for a first subscriber (Stats.HeldEvents going
// above 0, and back to 0), and a member subscribed to the topic appearing in
// the peer's view of the cluster, or leaving it. It only looks: the relay
// and the peer need none of it.
func watchPeer(ctx context.Context, p *peer.Peer, con *cli.Console) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	var (
		relayed         bool
		held, mostHeld  int
		unheardAtFirst  uint64
		subscriber, was string // the member subscribed to the topic, as described
	)
	for {
		s := p.Stats()
		if !relayed && s.Relayed > 0 {
			relayed = true
			con.Printf("relay: the outbox relay handed over its first %s", plural(int(s.Relayed), "event"))
		}
		switch {
		case held == 0 && s.HeldEvents > 0:
			mostHeld, unheardAtFirst = s.HeldEvents, s.Unheard
			verb := "wait"
			if s.HeldEvents == 1 {
				verb = "waits"
			}
			con.Printf("outbox: %s %s for a subscriber to %s", plural(s.HeldEvents, "event"), verb, topicCreated)
		case held > 0 && s.HeldEvents == 0:
			if n := s.Unheard - unheardAtFirst; n > 0 {
				con.Printf("outbox: no event waits for a subscriber now (as many as %d did); %d given up unheard", mostHeld, n)
			} else {
				con.Printf("outbox: no event waits for a subscriber now (as many as %d did)", mostHeld)
			}
		}
		held, mostHeld = s.HeldEvents, max(mostHeld, s.HeldEvents)
		switch subscriber = subscriberTo(p.Members(), topicCreated); {
		case subscriber != "" && subscriber != was:
			con.Printf("cluster: a subscriber to %s is in the view: %s", topicCreated, subscriber)
		case subscriber == "" && was != "":
			con.Printf("cluster: no subscriber to %s in the view any more (it was %s)", topicCreated, was)
		}
		was = subscriber
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// plural is "1 event", "2 events".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// subscriberTo describes a member subscribed to topic, "" if none is.
func subscriberTo(members []discovery.Member, topic string) string {
	for _, m := range members {
		for _, s := range m.Subscriptions {
			if channel.MatchTopic(s.Pattern, topic) {
				if s.Group != "" {
					return fmt.Sprintf("%s, %s in group %s", m.Name, s.Pattern, s.Group)
				}
				return fmt.Sprintf("%s, %s", m.Name, s.Pattern)
			}
		}
	}
	return ""
}
