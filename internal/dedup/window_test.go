package dedup

import (
	"fmt"
	"testing"
)

func TestWindowEvictsOldest(t *testing.T) {
	w := NewWindow(3)
	for i := 0; i < 5; i++ {
		w.Add(fmt.Sprint(i))
	}
	for i, want := range []bool{false, false, true, true, true} {
		if got := w.Seen(fmt.Sprint(i)); got != want {
			t.Errorf("Seen(%d) = %v, want %v", i, got, want)
		}
	}
	w.Add("4") // already there: no eviction
	if !w.Seen("2") || w.Len() != 3 {
		t.Fatal("re-adding evicted an ID")
	}
}

func TestDisabledWindow(t *testing.T) {
	w := NewWindow(0)
	w.Add("a")
	if w.Seen("a") {
		t.Fatal("disabled window remembered")
	}
}
