package pglogtail

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"
)

// BenchmarkCommitToNext measures, per single-row transaction, the time
// from issuing its INSERT (autocommit: the commit, with its WAL flush, is
// part of it) to Next returning the row, one transaction at a time:
// p50-ms and p99-ms. ack-p50-ms and ack-p99-ms measure from the client
// receiving the commit's acknowledgement instead, which the row can beat.
//
//	go test -run '^$' -bench CommitToNext -benchtime 1000x ./peer/outbox/pglogtail
func BenchmarkCommitToNext(b *testing.B) {
	d := newDB(b)
	tail := d.open()
	tail.Settled(seqs(d.fence(tail, "warm-up")))
	ctx := context.Background()
	var fromInsert, fromAck []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := "m" + strconv.Itoa(i)
		start := time.Now()
		d.insert(nil, "", id)
		acked := time.Now()
		recs, err := tail.Next(ctx)
		done := time.Now()
		if err != nil || len(recs) != 1 || recs[0].ID != id {
			b.Fatalf("Next: %v, %v; want %s", ids(recs), err, id)
		}
		fromInsert = append(fromInsert, done.Sub(start))
		fromAck = append(fromAck, done.Sub(acked))
		tail.Settled(seqs(recs...))
	}
	b.StopTimer()
	report := func(name string, ds []time.Duration) {
		slices.Sort(ds)
		at := func(q float64) float64 {
			return float64(ds[min(len(ds)-1, int(q*float64(len(ds))))]) / float64(time.Millisecond)
		}
		b.ReportMetric(at(0.50), name+"p50-ms")
		b.ReportMetric(at(0.99), name+"p99-ms")
	}
	report("", fromInsert)
	report("ack-", fromAck)
}
