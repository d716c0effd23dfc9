package seqset

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/meshmq/meshmq/internal/wire"
)

func TestInOrderAndGaps(t *testing.T) {
	var s Set
	for _, seq := range []uint64{1, 2, 5, 4, 7} {
		if !s.Add(seq) {
			t.Fatalf("Add(%d) was not new", seq)
		}
	}
	if s.Through() != 2 || s.Add(4) || s.Add(1) || s.Add(0) {
		t.Fatalf("through %d", s.Through())
	}
	if got := s.Ranges(0); !reflect.DeepEqual(got, []wire.Range{{From: 4, To: 5}, {From: 7, To: 7}}) {
		t.Fatalf("ranges %v", got)
	}
	s.Add(3)
	if s.Through() != 5 || s.Pending() != 1 || !s.Contains(7) || s.Contains(6) {
		t.Fatalf("through %d pending %d", s.Through(), s.Pending())
	}
	s.Add(6)
	if s.Through() != 7 || s.Pending() != 0 {
		t.Fatalf("through %d pending %d", s.Through(), s.Pending())
	}
}

// Any order of settling 1..n ends with everything contiguous, and Contains
// agrees with a plain map throughout.
func TestRandomOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 2000
	perm := rng.Perm(n)
	var s Set
	seen := map[uint64]bool{}
	for _, p := range perm {
		seq := uint64(p + 1)
		if s.Add(seq) == seen[seq] {
			t.Fatalf("Add(%d) newness wrong", seq)
		}
		seen[seq] = true
		probe := uint64(rng.IntN(n) + 1)
		if s.Contains(probe) != seen[probe] {
			t.Fatalf("Contains(%d) wrong", probe)
		}
	}
	if s.Through() != n || s.Pending() != 0 {
		t.Fatalf("through %d pending %d", s.Through(), s.Pending())
	}
}

func TestRangesLimit(t *testing.T) {
	var s Set
	for _, seq := range []uint64{3, 5, 7, 9} {
		s.Add(seq)
	}
	if got := s.Ranges(2); len(got) != 2 || got[1].From != 5 {
		t.Fatalf("got %v", got)
	}
}
