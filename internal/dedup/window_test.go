package dedup

import (
	"fmt"
	"testing"
)

// The window remembers at least the last n/2 IDs and forgets older ones
// generation by generation.
func TestWindowKeepsRecentIDs(t *testing.T) {
	const n = 100
	w := NewWindow(n)
	for i := 0; i < 1000; i++ {
		w.Add("", fmt.Sprint(i))
		for j := max(0, i-n/2+1); j <= i; j++ {
			if !w.Seen("", fmt.Sprint(j)) {
				t.Fatalf("after adding %d, %d (within the last n/2) is forgotten", i, j)
			}
		}
		if w.Len() > n {
			t.Fatalf("window holds %d > %d", w.Len(), n)
		}
	}
	if w.Seen("", "0") || w.Seen("", "800") {
		t.Fatal("old IDs still remembered")
	}
	before := w.Len()
	w.Add("", "999") // already there
	if w.Len() != before {
		t.Fatal("re-adding changed the window")
	}
}

func TestDisabledWindow(t *testing.T) {
	w := NewWindow(0)
	w.Add("", "a")
	if w.Seen("", "a") {
		t.Fatal("disabled window remembered")
	}
}
