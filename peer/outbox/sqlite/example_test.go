package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/meshmq/meshmq/peer/outbox"
	"github.com/meshmq/meshmq/peer/outbox/sqlite"
)

// A peer's retry buffer across a restart, and the transactional outbox.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "meshmq-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "billing.db")

	s, err := sqlite.Open(ctx, path)
	if err != nil {
		fmt.Println(err)
		return
	}
	s.SetOwner("billing-1")
	recs := []*outbox.Record{
		{ID: "m1", Channel: "invoices", Message: []byte("one")},
		{ID: "m2", Channel: "invoices", Message: []byte("two")},
	}
	s.Append(ctx, recs) // committed when it returns
	s.Ack(ctx, []outbox.Range{{From: recs[0].Seq, To: recs[0].Seq}})
	s.Close() // commits the deferred ack

	s, _ = sqlite.Open(ctx, path)
	defer s.Close()
	s.SetOwner("billing-1")
	s.Pending(ctx, func(r *outbox.Record) error {
		fmt.Println("pending after restart:", r.ID)
		return nil
	})

	// The outbox: the event commits or rolls back with the business change.
	tx, _ := s.DB().BeginTx(ctx, nil)
	s.AppendTx(ctx, tx, []*outbox.Record{{ID: "e1", Channel: "invoice.paid", Message: []byte("{}")}})
	tx.Commit()
	relay := s.Relay()
	defer relay.Close()
	got, _ := relay.Next(ctx)
	for _, r := range got {
		fmt.Println("relayed:", r.ID)
	}
	// Output:
	// pending after restart: m2
	// relayed: e1
}

// The idempotent consumer: a message's effects and its claim commit
// together, so a redelivered message is skipped.
func Example_idempotentConsumer() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "meshmq-example")
	defer os.RemoveAll(dir)
	s, err := sqlite.Open(ctx, filepath.Join(dir, "app.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	handle := func(id string) {
		tx, _ := s.DB().BeginTx(ctx, nil)
		defer tx.Rollback()
		if err := s.Claim(ctx, tx, "ledger", id); errors.Is(err, outbox.ErrProcessed) {
			fmt.Println(id, "already processed")
			return
		}
		// ... apply the message's effects in tx ...
		tx.Commit()
		fmt.Println(id, "processed")
	}
	handle("m1")
	handle("m1") // redelivered
	// Output:
	// m1 processed
	// m1 already processed
}
