package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/examples/internal/cli"
	"github.com/meshmq/meshmq/peer"
	"github.com/meshmq/meshmq/peer/outbox"
)

// The shipping service's subscription: every order event, in one subscriber
// group (more shipping processes would share the events), and its name as
// an idempotent consumer.
const (
	shippingPattern  = "orders.>"
	shippingGroup    = "shipping"
	shippingConsumer = "shipping"
	// shippingPartitions: every member of the group uses the same.
	shippingPartitions = 16
)

// runShipping is -role shipping: it ships each order once, whatever is
// delivered again, until ctx ends.
func runShipping(ctx context.Context, o *options, con *cli.Console) error {
	logger := cli.Logger(con, o.verbose)
	db, err := openDatabase(ctx, o.db, o.postgres, shipmentsDDL, logger)
	if err != nil {
		return err
	}
	defer db.close()
	var rows int
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM shipments`).Scan(&rows); err != nil {
		return fmt.Errorf("%s: reading the shipments: %w", db.where, err)
	}
	con.Printf("database %s (%s): %d shipments", db.where, db.kind, rows)

	// The peer needs no store of its own: shipping sends nothing. The
	// database is only for the shipments and the claims.
	p, g, err := newPeer(ctx, o, logger)
	if err != nil {
		return err
	}
	con.Printf("peer %s: data %s, gossip %s", o.name, p.Endpoint(), g.Addr())
	s := &shipper{db: db, con: con, quiet: o.quiet, holdAck: int64(o.holdAck), stop: ctx}
	// Each customer's orders (their Key) one at a time, in order; up to four
	// customers at once. Partitions keep each customer's order also when
	// the events move to another member of the group, or to this one
	// restarted after a crash: without them a key's order holds only
	// within one delivery stream, and events retained for a crashed member
	// may be overtaken by newer ones.
	if _, err := p.Subscribe(shippingPattern, s.handler(), peer.Group(shippingGroup), peer.Partitions(shippingPartitions),
		peer.Concurrency(4)); err != nil {
		return closeAfter(err, p, con)
	}
	con.Printf("subscribed to %s in group %s", shippingPattern, shippingGroup)
	if len(o.join) > 0 {
		con.Printf("joining %s", strings.Join(o.join, ", "))
	}

	var wg sync.WaitGroup
	loops, stopLoops := context.WithCancel(ctx)
	defer stopLoops()
	wg.Go(func() { s.watch(loops, p) })
	<-ctx.Done()
	stopLoops()
	wg.Wait()
	return closePeer(p, con)
}

type shipper struct {
	db      *database
	con     *cli.Console
	quiet   bool
	holdAck int64           // stop after this many shipments, before the last one's ack
	stop    context.Context // the process's: ends a hold
	shipped atomic.Int64    // by this process
	skipped atomic.Int64    // redeliveries whose claim was found
}

// shipped is what ship tells the handler around it, through the ctx:
// whether it ran (a message claimed before does not run it) and what it
// shipped.
type shipped struct {
	ran bool
	ev  OrderCreated
}

type shippedKey struct{}

// handler is the subscription's handler: outbox.Idempotent around ship,
// and what this process prints about each message.
func (s *shipper) handler() channel.Handler {
	idem := outbox.Idempotent(s.db.db, s.db.store, shippingConsumer, s.ship)
	return func(ctx context.Context, m *channel.Message) error {
		var res shipped
		if err := idem(context.WithValue(ctx, shippedKey{}, &res), m); err != nil {
			s.con.Printf("order event %s, attempt %d: %v", m.ID, m.Attempt, err)
			return err // retried by its sender; a channel.Permanent error dead-letters it
		}
		switch {
		case !res.ran:
			s.skipped.Add(1)
			if !s.quiet {
				var ev OrderCreated
				m.Decode(&ev) // it decoded the first time
				s.con.Printf("redelivered %s (event %s, attempt %d from %s): claimed already, so acknowledged without shipping it again",
					ev.OrderID, m.ID, m.Attempt, m.From)
			}
		case res.ev.OrderID != "":
			n := s.shipped.Add(1)
			if !s.quiet {
				s.con.Printf("shipped %s: %s, %s (attempt %d from %s)", res.ev.OrderID, res.ev.Customer, dollars(res.ev.TotalCents), m.Attempt, m.From)
			}
			if n == s.holdAck {
				// The crash the idempotent consumer is for: the shipment and
				// the claim are committed, the acknowledgement is not sent.
				s.con.Printf("holding after committing the shipment of %s, before acknowledging it; kill me now", res.ev.OrderID)
				<-s.stop.Done()
			}
		}
		return nil
	}
}

// ship is the idempotent consumer's TxHandler: it runs in the transaction
// that claims the message ID, so the shipment is committed with the claim
// or not at all.
func (s *shipper) ship(ctx context.Context, tx *sql.Tx, m *channel.Message) error {
	res := ctx.Value(shippedKey{}).(*shipped)
	res.ran = true
	if m.Channel != topicCreated {
		return nil // other order events are none of shipping's business
	}
	var ev OrderCreated
	if err := m.Decode(&ev); err != nil {
		return channel.Permanent(err) // retrying cannot help
	}
	r, err := tx.ExecContext(ctx, s.db.q(`INSERT INTO shipments (order_id, customer, total_cents, message_id)
		VALUES (?, ?, ?, ?) ON CONFLICT (order_id) DO NOTHING`), ev.OrderID, ev.Customer, ev.TotalCents, m.ID)
	if err != nil {
		return err
	}
	if n, err := r.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		// Cannot happen while the claims work: the order is shipped already.
		return channel.Permanent(fmt.Errorf("SECOND SHIPMENT of %s refused: it was shipped already, by another message than %s", ev.OrderID, m.ID))
	}
	res.ev = ev
	return nil
}

// watch prints what the peer's dedup window dropped — redeliveries that
// never reached the handler — and, with -quiet, a status line per second.
func (s *shipper) watch(ctx context.Context, p *peer.Peer) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	start, lastStatus := time.Now(), time.Now()
	var dropped uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st := p.Stats()
		if st.Duplicates > dropped && !s.quiet {
			s.con.Printf("dedup window: dropped %d redelivered events (%d in all)", st.Duplicates-dropped, st.Duplicates)
		}
		dropped = st.Duplicates
		if s.quiet && time.Since(lastStatus) >= time.Second {
			lastStatus = time.Now()
			n := s.shipped.Load()
			s.con.Printf("status: %d shipped (%.1f/s); redeliveries: %d skipped by their claims, %d dropped by the dedup window",
				n, float64(n)/time.Since(start).Seconds(), s.skipped.Load(), st.Duplicates)
		}
	}
}
