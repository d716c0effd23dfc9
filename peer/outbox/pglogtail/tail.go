package pglogtail

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/meshmq/meshmq/peer/outbox"
)

// Tail is a relay of the outbox that tails the database's log: a logical
// replication stream of the outbox rows' inserts.
type Tail struct {
	cfg config
	dsn string

	mu     sync.Mutex
	ready  []*outbox.Record // handed on by the stream or a sweep, waiting for Next
	led    ledger
	closed bool

	avail chan struct{} // rows were added to ready
	room  chan struct{} // Next took rows
	done  chan struct{} // closed by Close

	// Owned by the run goroutine, and by New before it starts.
	first *initial   // New's connection, for the first session
	sweep *tailSweep // the sweep of the rows before the slot, until settled

	cancel    context.CancelFunc
	stopped   chan struct{}
	closeOnce sync.Once

	standbys atomic.Int64 // tries of a slot another connection streams, for tests
}

var _ outbox.Relay = (*Tail)(nil)

// initial is what New leaves for the first session.
type initial struct {
	repl  *pgconn.PgConn
	sweep *snapshotSweep // nil unless New created the slot
}

// maxBatch bounds the records one Next returns.
const maxBatch = 1000

// New starts tailing the outbox table of the database at dsn, whose user
// needs the REPLICATION attribute. The table must exist (the store creates
// it). New creates the publication, the sweeps table and the slot if
// missing, and returns once they exist; creating the slot, it records the
// sweep of the rows committed before it, which Next returns first. Then a
// goroutine runs the slot's recorded sweep, if any (see the package
// documentation), and streams the slot until Close, reconnecting as
// needed, or stands by while another tail streams it.
func New(ctx context.Context, dsn string, opts ...Option) (*Tail, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	t := &Tail{
		cfg:     cfg,
		dsn:     dsn,
		avail:   make(chan struct{}, 1),
		room:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	repl, err := connect(ctx, dsn, true)
	if err != nil {
		return nil, err
	}
	sw, err := t.setup(ctx, repl)
	if err != nil {
		closeConn(repl)
		return nil, err
	}
	t.first = &initial{repl: repl, sweep: sw}
	runCtx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	go t.run(runCtx)
	return t, nil
}

// Next returns the next committed outbox records (at most 1,000), waiting
// for some: first the rows committed before the slot that a recorded sweep
// leaves, in seq order, then each transaction's rows in commit order, and
// within it in insert order. It
// returns ctx's error when ctx ends, and outbox.ErrClosed after Close. A
// record not settled may come again after a restart or a takeover by
// another tail.
func (t *Tail) Next(ctx context.Context) ([]*outbox.Record, error) {
	for {
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			return nil, outbox.ErrClosed
		}
		if n := min(len(t.ready), maxBatch); n > 0 {
			recs := make([]*outbox.Record, n)
			copy(recs, t.ready)
			clear(t.ready[:n])
			t.ready = t.ready[n:]
			more := len(t.ready) > 0
			t.mu.Unlock()
			signal(t.room)
			if more {
				signal(t.avail) // for another caller
			}
			return recs, nil
		}
		t.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.done:
		case <-t.avail:
		}
	}
}

// Settled records that the peer acknowledged or dead-lettered the records
// with these seqs. The confirmed position, which the next status update
// reports, advances past a transaction once its rows and all earlier ones
// are settled.
func (t *Tail) Settled(seqs []uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	for _, s := range seqs {
		t.led.settle(s)
	}
}

// Close stops the tail: it reports the confirmed position a last time,
// ends the stream so a standby can take the slot at once, and closes the
// connections. Records not settled come again from the slot. Close is
// idempotent; Next returns outbox.ErrClosed after it.
func (t *Tail) Close() error {
	t.closeOnce.Do(func() {
		t.mu.Lock()
		t.closed = true
		t.mu.Unlock()
		close(t.done)
		t.cancel()
		<-t.stopped
		t.mu.Lock()
		clear(t.ready)
		t.ready = nil
		t.mu.Unlock()
	})
	return nil
}

// hand adds rec, a row of tx, to the records waiting for Next.
func (t *Tail) hand(tx *txn, rec *outbox.Record) {
	t.mu.Lock()
	t.led.add(tx, rec.Seq)
	t.ready = append(t.ready, rec)
	t.mu.Unlock()
	signal(t.avail)
}

// full reports whether the records waiting for Next reached the bound.
func (t *Tail) full() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.ready) >= t.cfg.bufferLimit
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
