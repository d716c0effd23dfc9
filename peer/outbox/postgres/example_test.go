package postgres_test

import (
	"context"
	"log"
	"os"

	"github.com/meshmq/meshmq/peer/outbox"
	"github.com/meshmq/meshmq/peer/outbox/postgres"
)

// An order and its event commit together; the relay sends the event once
// it has.
func Example() {
	ctx := context.Background()
	s, err := postgres.Open(ctx, os.Getenv("DATABASE_URL"), postgres.TablePrefix("shop_outbox"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	s.SetOwner("orders-1")

	tx, err := s.DB().BeginTx(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer tx.Rollback()
	// Lock the aggregate first: one order's events then take seqs in
	// commit order.
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM orders WHERE id = $1 FOR UPDATE`, "o-42"); err != nil {
		log.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE orders SET state = 'paid' WHERE id = $1`, "o-42"); err != nil {
		log.Fatal(err)
	}
	ev := &outbox.Record{ID: "evt-1", Channel: "order.paid", Key: "o-42", Message: []byte(`{"order":"o-42"}`)}
	if err := s.AppendTx(ctx, tx, []*outbox.Record{ev}); err != nil {
		log.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		log.Fatal(err)
	}

	// Usually the peer runs the relay; here by hand.
	relay := s.Relay()
	defer relay.Close()
	recs, err := relay.Next(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range recs {
		log.Printf("send %s (seq %d)", r.ID, r.Seq)
	}
	s.Ack(ctx, []outbox.Range{{From: ev.Seq, To: ev.Seq}}) // once delivered
}
