package pglogtail

import "github.com/jackc/pglogrepl"

// A txn is a transaction the tail received, kept until its rows are all
// settled and the confirmed position passes it; or a sweep standing for
// one, whose rows the ledger counts but which does not hold the confirmed
// position (the slot's sweeps row keeps the sweep, see session.sweepFirst).
type txn struct {
	commit pglogrepl.LSN // its commit LSN; 0 for a sweep
	end    pglogrepl.LSN // where a restart resumes once it is settled; 0 until fully received
	open   int           // rows handed on and not yet settled

	// Progress through the transaction, so that a reconnect, which replays
	// it from the start, skips what was taken already.
	inserts int    // Insert messages taken
	sweptTo uint64 // a sweep: the last seq taken
	swept   bool   // a sweep: every row taken
}

// ledger tracks, in commit order, the transactions whose rows are not all
// settled, and from them the position the slot may be confirmed to: the
// end of the newest transaction that, with every earlier one, is settled.
// Confirming never passes an unsettled row, so a restart replays every row
// not settled (and the settled rows of transactions after the first
// unsettled one). Its methods need the Tail's lock.
type ledger struct {
	txns      []*txn            // oldest first
	bySeq     map[uint64][]*txn // rows handed on: their transactions, oldest first (a seq can come twice)
	confirmed pglogrepl.LSN
	last      pglogrepl.LSN // commit LSN of the newest transaction fully received
	partial   *txn          // the transaction being received, or cut off by a lost connection
}

// begin starts receiving the transaction committed at commit. It returns
// nil if the transaction came whole before (a reconnect replays from the
// confirmed position); a transaction cut off by a lost connection comes
// back as the same txn, for the caller to skip what it took already.
func (l *ledger) begin(commit pglogrepl.LSN) *txn {
	if commit <= l.last {
		return nil
	}
	if p := l.partial; p != nil {
		if commit == p.commit {
			return p
		}
		if commit > p.commit {
			// The server skipped it: another tail confirmed past it
			// while this one was disconnected.
			l.finish(p, p.commit)
		}
	}
	tx := &txn{commit: commit}
	l.txns = append(l.txns, tx)
	l.partial = tx
	return tx
}

// sweep returns a stand-in transaction for the rows a sweep finds, which
// come before everything the session streams. It is not among the
// transactions the confirmed position waits for: what the sweep hands on
// was committed before the slot, which never streams it, so the position
// has nothing to keep for it. The sweeps row keeps the sweep until
// settled(tx).
func (l *ledger) sweep() *txn {
	return &txn{}
}

// settled reports whether the sweep tx took every row and each is settled.
func (l *ledger) settled(tx *txn) bool {
	return tx.swept && tx.open == 0
}

// add records a row of tx handed on.
func (l *ledger) add(tx *txn, seq uint64) {
	if l.bySeq == nil {
		l.bySeq = make(map[uint64][]*txn)
	}
	tx.open++
	l.bySeq[seq] = append(l.bySeq[seq], tx)
}

// finish marks tx fully received, ending at end.
func (l *ledger) finish(tx *txn, end pglogrepl.LSN) {
	tx.end = end
	if tx == l.partial {
		l.partial = nil
		l.last = max(l.last, tx.commit)
	}
	l.advance()
}

// settle records a row as acknowledged or dead-lettered. A seq never
// handed on (or settled already) is ignored.
func (l *ledger) settle(seq uint64) {
	txs := l.bySeq[seq]
	if len(txs) == 0 {
		return
	}
	tx := txs[0]
	if len(txs) == 1 {
		delete(l.bySeq, seq)
	} else {
		l.bySeq[seq] = txs[1:]
	}
	tx.open--
	l.advance()
}

// idle confirms the server's WAL end from a keepalive when nothing is
// outstanding: everything before it was sent and settled, or was filtered
// out. This lets the slot advance past the peers' own buffer writes, which
// the publication does not stream.
func (l *ledger) idle(walEnd pglogrepl.LSN) {
	if len(l.txns) == 0 && l.partial == nil {
		l.confirmed = max(l.confirmed, walEnd)
	}
}

// slotAt takes the slot's own confirmed position, read when a stream
// starts. Another tail may have moved it past what this one confirmed, and
// past a transaction this one was cut off in, which then never comes back.
func (l *ledger) slotAt(confirmed pglogrepl.LSN) {
	l.confirmed = max(l.confirmed, confirmed)
	if p := l.partial; p != nil && p.commit < confirmed {
		l.finish(p, p.commit)
	}
}

func (l *ledger) advance() {
	for len(l.txns) > 0 {
		tx := l.txns[0]
		if tx.end == 0 || tx.open > 0 {
			return
		}
		l.confirmed = max(l.confirmed, tx.end)
		l.txns[0] = nil
		l.txns = l.txns[1:]
	}
}
