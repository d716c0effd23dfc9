package peer

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
)

// A member drops out of the sender's view while its process lives on (a
// network cut): its connection closes, the messages it had queued move to
// another instance, and the same process comes back. The seqs that moved
// must not leave holes in the stream to it: its acknowledgement point, and
// with it the credit, would stop there for good, and every message to it
// past one credit window would wait forever. (Chaos suite, issue 14: both
// senders of the long partition run stalled for good this way.)
func TestFailedOverSeqsLeaveNoHoleInTheStream(t *testing.T) {
	const credit, after = 8, 40
	gate := make(chan struct{})
	var once sync.Once
	var handledA, handledB atomic.Int64
	a := start(t, append(fastOpts("a"), WithCredit(credit))...)
	if err := a.Handle("jobs", func(ctx context.Context, m *channel.Message) error {
		once.Do(func() { <-gate }) // the first holds the rest in the queue
		handledA.Add(1)
		return nil
	}, Concurrency(1)); err != nil {
		t.Fatal(err)
	}
	b := start(t, fastOpts("b")...)
	if err := b.Handle("jobs", func(ctx context.Context, m *channel.Message) error {
		handledB.Add(1)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	disc := discovery.NewStatic(a.Advertisement())
	tx := start(t, append(fastOpts("tx"), WithDiscovery(disc))...)
	ctx := context.Background()
	send := func(n int) {
		for range n {
			if err := tx.Send(ctx, &channel.Message{Kind: channel.Command, Channel: "jobs"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(5)
	waitFor(t, "all five at a", func() bool { return a.service("jobs").queued() == 4 })

	// a drops out of view and its connection closes: the five move to b.
	disc.Add(b.Advertisement())
	disc.Remove("a", true)
	d := tx.destination("a")
	d.mu.Lock()
	c := d.conn
	d.mu.Unlock()
	if c != nil {
		c.Close()
	}
	waitFor(t, "the five handled by b", func() bool { return handledB.Load() == 5 })
	close(gate)

	// a is back, the same process; b leaves. Far more than a credit window
	// goes to a.
	disc.Add(a.Advertisement())
	disc.Remove("b", false)
	send(after)
	waitForState(t, "every later message handled by a", func() bool { return handledA.Load() >= 1+after }, tx, a)
	waitFor(t, "every message acknowledged", func() bool { return tx.Stats().InFlight == 0 })
}

// destination returns the sender's state for the named peer.
func (p *Peer) destination(name string) *dest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dests[name]
}
