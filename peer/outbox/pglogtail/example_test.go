package pglogtail_test

import (
	"context"
	"errors"
	"log"
	"os"

	"github.com/meshmq/meshmq/peer/outbox"
	"github.com/meshmq/meshmq/peer/outbox/pglogtail"
)

// A relay loop: send what Next returns, in order; once the store has
// been told (Ack or DeadLetter), report the records settled, which lets the
// slot move on.
func Example() {
	ctx := context.Background()
	tail, err := pglogtail.New(ctx, os.Getenv("DATABASE_URL"), pglogtail.TablePrefix("meshmq"))
	if err != nil {
		log.Fatal(err)
	}
	defer tail.Close()

	// deliver stands for the peer: it sends the record, retrying, until it
	// is acknowledged or dead-lettered, and tells the store.
	deliver := func(*outbox.Record) {}
	for {
		recs, err := tail.Next(ctx)
		if errors.Is(err, outbox.ErrClosed) || ctx.Err() != nil {
			return
		}
		if err != nil {
			log.Fatal(err)
		}
		settled := make([]uint64, 0, len(recs))
		for _, r := range recs {
			deliver(r)
			settled = append(settled, r.Seq)
		}
		tail.Settled(settled)
	}
}
