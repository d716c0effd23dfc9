package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/meshmq/meshmq/peer/outbox"
)

// The committer is one goroutine that owns writes to the peer's rows: it
// takes every Append waiting (group commit), the deferred acks and
// readdresses, and commits them in one transaction; then it runs the calls
// that need their own transaction (dead letters, redrives), in order.

const (
	// ackLinger is how long deferred acks and readdresses wait before they
	// are committed: it turns a stream of acks into one transaction every
	// 50 ms, so that group commits of appends go alone, in one statement
	// where the dialect can. A crash loses at most that much of removals:
	// records resent, which receivers drop.
	ackLinger = 50 * time.Millisecond
	// commitTimeout bounds one transaction of the committer, so a wedged
	// database fails callers instead of hanging them and Close.
	commitTimeout = time.Minute
	minRetry      = 100 * time.Millisecond
	maxRetry      = 5 * time.Second
)

type appendReq struct {
	ctx   context.Context
	owner string
	recs  []outbox.Record // copies: a caller whose ctx ends may reuse its own
	seqs  []uint64        // set by the committer before done
	done  chan error      // buffered: the committer never waits on a caller
}

// op is a deferred ack (dest nil) or readdress.
type op struct {
	owner  string
	ranges []outbox.Range
	seqs   []uint64
	dest   *outbox.Destination
}

// call is work run by the committer after the batch it was queued with;
// fn nil is a flush.
type call struct {
	ctx  context.Context
	fn   func(ctx context.Context) error
	done chan error
}

type batch struct {
	appends []*appendReq
	ops     []op
	calls   []*call
}

func (b *batch) empty() bool { return len(b.appends)+len(b.ops)+len(b.calls) == 0 }

// Append commits recs as this peer's pending rows, giving them increasing
// seqs, and returns once they are committed. Concurrent appends share a
// transaction. If ctx ends first Append returns its error, and the records
// may or may not be committed: a record committed then is resent after a
// restart, and receivers drop the duplicate.
func (s *Store) Append(ctx context.Context, recs []*outbox.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &appendReq{ctx: ctx, recs: make([]outbox.Record, len(recs)), done: make(chan error, 1)}
	for i, r := range recs {
		req.recs[i] = *r
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return s.errClosed("append")
	}
	req.owner = s.owner
	s.appends = append(s.appends, req)
	s.mu.Unlock()
	s.signal()

	var err error
	select {
	case err = <-req.done:
	case <-ctx.Done():
		select {
		case err = <-req.done: // committed meanwhile: report it
		default:
			return ctx.Err()
		}
	}
	if err != nil {
		return err
	}
	for i, r := range recs {
		r.Seq = req.seqs[i]
	}
	return nil
}

// Ack queues the removal of the rows in ranges (this peer's and outbox
// rows) and returns at once: the committer applies it in its next
// transaction, within about 50 ms, and Close and Pending apply it first.
func (s *Store) Ack(_ context.Context, ranges []outbox.Range) error {
	for _, r := range ranges {
		if r.From > r.To {
			return fmt.Errorf("%s: ack: range %d..%d is reversed", s.name, r.From, r.To)
		}
	}
	if len(ranges) == 0 {
		return nil
	}
	return s.queue(op{ranges: slices.Clone(ranges)}, "ack")
}

// Flush returns once every Ack (and Readdress) queued before it is
// committed (outbox.Flusher).
func (s *Store) Flush(ctx context.Context) error { return s.flush(ctx, "flush") }

// Readdress queues moving this peer's rows among seqs to another peer
// (to.Peer), as Ack queues removals. A row's group does not change (a
// published copy fails over within its subscriber group), and outbox rows
// are left as written: a relay addresses them each time it takes them.
func (s *Store) Readdress(_ context.Context, seqs []uint64, to outbox.Destination) error {
	if len(seqs) == 0 {
		return nil
	}
	return s.queue(op{seqs: slices.Clone(seqs), dest: &to}, "readdress")
}

func (s *Store) queue(o op, what string) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return s.errClosed(what)
	}
	o.owner = s.owner
	if len(s.ops) == 0 {
		s.opsSince = time.Now()
	}
	s.ops = append(s.ops, o)
	s.mu.Unlock()
	s.signal()
	return nil
}

// do runs fn in the committer after what is queued now, and waits for it.
// If ctx ends first, fn's transaction (which runs in ctx) is rolled back
// unless it was committing.
func (s *Store) do(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := &call{ctx: ctx, fn: fn, done: make(chan error, 1)}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return s.errClosed(what)
	}
	s.calls = append(s.calls, c)
	s.mu.Unlock()
	s.signal()
	select {
	case err := <-c.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flush waits until what is queued now is committed.
func (s *Store) flush(ctx context.Context, what string) error {
	return s.do(ctx, what, nil)
}

func (s *Store) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Store) commitLoop() {
	defer close(s.committed)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var retry time.Duration // after a failed commit of ops
	var retryAt time.Time
	for {
		stopping := false
		select {
		case <-s.wake:
		case <-timer.C:
		case <-s.stop.Done():
			stopping = true
		}
		for {
			s.mu.Lock()
			if !stopping && len(s.appends) == 0 && len(s.calls) == 0 && len(s.ops) > 0 {
				wait := max(ackLinger-time.Since(s.opsSince), time.Until(retryAt))
				if wait > 0 {
					s.mu.Unlock()
					timer.Reset(wait)
					break
				}
			}
			b := s.takeLocked(stopping)
			s.mu.Unlock()
			if b.empty() {
				break
			}
			if failed := s.run(b); failed != nil {
				if stopping {
					s.mu.Lock()
					s.flushErr = fmt.Errorf("%s: close: %d deferred acks or readdresses not committed: %w", s.name, len(b.ops), failed)
					s.mu.Unlock()
					continue
				}
				retry = min(max(2*retry, minRetry), maxRetry)
				retryAt = time.Now().Add(retry)
				s.mu.Lock()
				s.ops = append(b.ops, s.ops...)
				s.mu.Unlock()
			} else if len(b.ops) > 0 {
				retry, retryAt = 0, time.Time{}
			}
		}
		if stopping {
			return
		}
	}
}

// takeLocked takes the appends that fit one commit, all calls, and all ops
// once they have lingered (or a call or Close waits for them). Appends
// alone commit in one statement where the dialect can; acks riding along
// would make every group commit a transaction of several round trips.
func (s *Store) takeLocked(stopping bool) batch {
	var b batch
	limit := s.cfg.BatchSize * CommitBatchFactor
	n, i := 0, 0
	for ; i < len(s.appends); i++ {
		r := s.appends[i]
		if err := r.ctx.Err(); err != nil { // its caller is gone: skip it
			r.done <- err
			continue
		}
		if len(b.appends) > 0 && n+len(r.recs) > limit {
			break
		}
		b.appends = append(b.appends, r)
		n += len(r.recs)
	}
	if s.appends = s.appends[i:]; len(s.appends) == 0 {
		s.appends = nil
	}
	if len(b.appends) == 0 || stopping || len(s.calls) > 0 || time.Since(s.opsSince) >= ackLinger {
		b.ops, s.ops = s.ops, nil
	}
	b.calls, s.calls = s.calls, nil
	return b
}

// run commits b's appends and ops, then runs its calls. It returns the
// error that left ops uncommitted, if any.
func (s *Store) run(b batch) error {
	var opsErr error
	if len(b.appends) > 0 || len(b.ops) > 0 {
		err := s.commit(b.appends, b.ops)
		if err != nil && len(b.appends)+min(len(b.ops), 1) > 1 {
			// One bad record must not fail its neighbours: each part alone.
			s.log.Warn("outbox store: group commit failed; committing its parts one by one", "store", s.name, "err", err)
			for _, r := range b.appends {
				r.done <- s.commit([]*appendReq{r}, nil)
			}
			if len(b.ops) > 0 {
				opsErr = s.commit(nil, b.ops)
			}
		} else {
			for _, r := range b.appends {
				r.done <- err
			}
			if len(b.ops) > 0 {
				opsErr = err
			}
		}
		if opsErr != nil {
			s.log.Error("outbox store: deferred acks or readdresses failed; retrying", "store", s.name, "err", opsErr)
		}
	}
	for _, c := range b.calls {
		switch {
		case c.ctx.Err() != nil:
			c.done <- c.ctx.Err()
		case c.fn == nil:
			c.done <- opsErr
		default:
			c.done <- c.fn(c.ctx)
		}
	}
	return opsErr
}

// commit writes appends (setting their seqs) and ops in one transaction.
func (s *Store) commit(appends []*appendReq, ops []op) (err error) {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	if len(ops) == 0 && s.d.InsertIsOneStatement() && oneOwner(appends) {
		// One statement commits on its own: two round trips fewer.
		return s.insert(ctx, s.db, appends)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", s.name, err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if err := s.insert(ctx, tx, appends); err != nil {
		return err
	}
	for i := 0; i < len(ops); {
		o := ops[i]
		if o.dest != nil {
			if err := s.d.SetDest(ctx, tx, o.owner, o.seqs, *o.dest); err != nil {
				return fmt.Errorf("%s: readdress: %w", s.name, err)
			}
			i++
			continue
		}
		ranges, j := o.ranges, i+1
		for ; j < len(ops) && ops[j].dest == nil && ops[j].owner == o.owner; j++ {
			ranges = append(slices.Clip(ranges), ops[j].ranges...)
		}
		if err := s.d.DeleteRanges(ctx, tx, o.owner, ranges); err != nil {
			return fmt.Errorf("%s: ack: %w", s.name, err)
		}
		i = j
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", s.name, err)
	}
	return nil
}

// insert writes appends in q, one Insert per run of one owner (one round
// trip for a batch), and sets their seqs.
func (s *Store) insert(ctx context.Context, q Querier, appends []*appendReq) error {
	for i := 0; i < len(appends); {
		owner, j := appends[i].owner, i
		var recs []outbox.Record
		for ; j < len(appends) && appends[j].owner == owner; j++ {
			recs = append(recs, appends[j].recs...)
		}
		seqs, err := s.d.Insert(ctx, q, sql.NullString{String: owner, Valid: true}, recs)
		if err != nil {
			return fmt.Errorf("%s: append: %w", s.name, err)
		}
		for _, r := range appends[i:j] {
			r.seqs, seqs = seqs[:len(r.recs):len(r.recs)], seqs[len(r.recs):]
		}
		i = j
	}
	return nil
}

func oneOwner(appends []*appendReq) bool {
	for _, r := range appends {
		if r.owner != appends[0].owner {
			return false
		}
	}
	return true
}
