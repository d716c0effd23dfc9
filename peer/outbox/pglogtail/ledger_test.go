package pglogtail

import (
	"testing"

	"github.com/jackc/pglogrepl"
)

// receive adds a whole transaction with rows seqs to l.
func receive(t *testing.T, l *ledger, commit, end pglogrepl.LSN, seqs ...uint64) *txn {
	t.Helper()
	tx := l.begin(commit)
	if tx == nil {
		t.Fatalf("transaction at %s skipped", commit)
	}
	for _, s := range seqs {
		l.add(tx, s)
	}
	l.finish(tx, end)
	return tx
}

func wantConfirmed(t *testing.T, l *ledger, want pglogrepl.LSN) {
	t.Helper()
	if l.confirmed != want {
		t.Fatalf("confirmed %s, want %s", l.confirmed, want)
	}
}

func TestLedgerConfirmsSettledPrefix(t *testing.T) {
	var l ledger
	receive(t, &l, 10, 11, 1, 2)
	receive(t, &l, 20, 21, 3)
	receive(t, &l, 30, 31) // no outbox rows
	receive(t, &l, 40, 41, 4)
	l.settle(3)
	wantConfirmed(t, &l, 0) // 1 and 2 are before it
	l.settle(1)
	wantConfirmed(t, &l, 0)
	l.settle(2)
	wantConfirmed(t, &l, 31) // through the empty transaction
	l.settle(99)             // never handed on
	l.settle(4)
	wantConfirmed(t, &l, 41)
	if len(l.txns) != 0 || len(l.bySeq) != 0 {
		t.Fatalf("left: %d transactions, %d seqs", len(l.txns), len(l.bySeq))
	}
}

func TestLedgerIdle(t *testing.T) {
	var l ledger
	l.idle(5)
	wantConfirmed(t, &l, 5)
	receive(t, &l, 10, 11, 1)
	l.idle(50) // 1 is outstanding
	wantConfirmed(t, &l, 5)
	l.settle(1)
	wantConfirmed(t, &l, 11)
	tx := l.begin(60)
	l.idle(70) // a transaction is arriving
	wantConfirmed(t, &l, 11)
	l.finish(tx, 61)
	l.idle(70)
	wantConfirmed(t, &l, 70)
	l.idle(60) // never back
	wantConfirmed(t, &l, 70)
}

func TestLedgerReplay(t *testing.T) {
	var l ledger
	receive(t, &l, 10, 11, 1)
	if l.begin(10) != nil {
		t.Fatal("a transaction received whole came again")
	}
	// Cut off after two rows, then replayed from the start.
	tx := l.begin(20)
	l.add(tx, 2)
	l.add(tx, 3)
	tx.inserts = 2
	if again := l.begin(20); again != tx || again.inserts != 2 {
		t.Fatalf("replay: got %p (inserts %d), want the partial transaction %p", again, again.inserts, tx)
	}
	l.add(tx, 4)
	l.finish(tx, 21)
	l.settle(1)
	l.settle(2)
	l.settle(3)
	wantConfirmed(t, &l, 11)
	l.settle(4)
	wantConfirmed(t, &l, 21)
}

func TestLedgerPartialPassedByAnotherTail(t *testing.T) {
	var l ledger
	tx := l.begin(20)
	l.add(tx, 1)
	// The server starts past it: another tail confirmed it meanwhile.
	next := l.begin(30)
	if next == tx || l.partial != next || tx.end == 0 {
		t.Fatal("the cut-off transaction was not closed")
	}
	l.settle(1)
	wantConfirmed(t, &l, 20)

	var m ledger
	tx = m.begin(20)
	m.add(tx, 1)
	m.slotAt(25)
	if m.partial != nil {
		t.Fatal("the slot is past the cut-off transaction, which stayed open")
	}
	wantConfirmed(t, &m, 25)
	m.slotAt(22) // never back
	wantConfirmed(t, &m, 25)
}

func TestLedgerDuplicateSeq(t *testing.T) {
	var l ledger
	sw := l.sweep() // a sweep and the stream may both bring seq 1
	l.add(sw, 1)
	sw.swept = true
	receive(t, &l, 10, 11, 1)
	l.settle(1) // the sweep's copy, the first handed on
	if !l.settled(sw) {
		t.Fatal("the sweep is not settled")
	}
	wantConfirmed(t, &l, 0)
	l.settle(1)
	wantConfirmed(t, &l, 11)
}

// A sweep does not hold the confirmed position: only the streamed
// transactions do, each until settled.
func TestLedgerSweepDoesNotHold(t *testing.T) {
	var l ledger
	sw := l.sweep()
	l.add(sw, 1)
	l.add(sw, 2)
	receive(t, &l, 10, 11, 3)
	wantConfirmed(t, &l, 0) // 3 is not settled
	l.settle(3)
	wantConfirmed(t, &l, 11)
	l.idle(20)
	wantConfirmed(t, &l, 20)
	l.settle(1)
	l.settle(2)
	if l.settled(sw) {
		t.Fatal("a sweep still taking rows is settled")
	}
	sw.swept = true
	if !l.settled(sw) {
		t.Fatal("the sweep is not settled")
	}
}
