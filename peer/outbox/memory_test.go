package outbox

import (
	"context"
	"errors"
	"testing"
)

// Memory numbers records, keeps dead letters and re-drives them under new
// numbers.
func TestMemoryDeadLettersAndRedrive(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(0)
	recs := []*Record{{ID: "a"}, {ID: "b"}, {ID: "c"}}
	if err := m.Append(ctx, recs); err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d has Seq %d", i, r.Seq)
		}
	}
	m.Ack(ctx, []Range{{From: 1, To: 1}})
	m.DeadLetter(ctx, []DeadLetter{{Record: *recs[1], Reason: "max-attempts"}})
	var dead []DeadLetter
	m.DeadLetters(ctx, func(d DeadLetter) error { dead = append(dead, d); return nil })
	if len(dead) != 1 || dead[0].ID != "b" || dead[0].Reason != "max-attempts" {
		t.Fatalf("dead letters %+v", dead)
	}
	back, err := m.Redrive(ctx, []uint64{2})
	if err != nil || len(back) != 1 || back[0].Seq != 4 || back[0].ID != "b" {
		t.Fatalf("redrive: %v %+v", err, back)
	}
	if _, err := m.Redrive(ctx, []uint64{2}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second redrive: %v", err)
	}
	n := 0
	m.Pending(ctx, func(*Record) error { n++; return nil })
	if n != 0 {
		t.Fatal("a memory store reloads nothing")
	}
}

func TestMemoryKeepsBoundedDeadLetters(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(3)
	for i := 0; i < 5; i++ {
		r := &Record{ID: string(rune('a' + i))}
		m.Append(ctx, []*Record{r})
		m.DeadLetter(ctx, []DeadLetter{{Record: *r}})
	}
	var ids string
	m.DeadLetters(ctx, func(d DeadLetter) error { ids += d.ID; return nil })
	if ids != "cde" {
		t.Fatalf("kept %q", ids)
	}
}
