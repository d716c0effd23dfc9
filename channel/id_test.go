package channel

import (
	"math"
	"strings"
	"sync"
	"testing"
)

func TestEncodeID(t *testing.T) {
	tests := []struct {
		hi, lo uint64
		want   string
	}{
		{0, 0, "00000000000000000000000000"},
		{0, 1, "00000000000000000000000001"},
		{0, 31, "0000000000000000000000000z"},
		{0, 32, "00000000000000000000000010"},
		{0, math.MaxUint64, "0000000000000fzzzzzzzzzzzz"},
		{1, 0, "0000000000000g000000000000"},
		{math.MaxUint64, math.MaxUint64, "7zzzzzzzzzzzzzzzzzzzzzzzzz"},
	}
	for _, tt := range tests {
		var b [IDLen]byte
		if encodeID(&b, tt.hi, tt.lo); string(b[:]) != tt.want {
			t.Errorf("encodeID(%#x, %#x) = %q, want %q", tt.hi, tt.lo, b, tt.want)
		}
	}
}

// NewID's shortcut must agree with the general encoding.
func TestNewIDMatchesEncoding(t *testing.T) {
	for range 100 {
		id := NewID()
		n := idCounter.Load() // no other goroutine issues IDs here
		var want [IDLen]byte
		encodeID(&want, idProcess, n)
		if id != string(want[:]) {
			t.Fatalf("NewID() = %q, want %q", id, want)
		}
	}
}

func TestNewIDFormat(t *testing.T) {
	id := NewID()
	if len(id) != IDLen {
		t.Fatalf("len(%q) = %d, want %d", id, len(id), IDLen)
	}
	for _, r := range id {
		if !strings.ContainsRune(crockford, r) {
			t.Fatalf("%q contains %q, outside the alphabet", id, r)
		}
	}
	if id[0] > '7' {
		t.Errorf("%q: first digit must encode 3 bits", id)
	}
}

func TestNewIDOrdered(t *testing.T) {
	prev := NewID()
	for range 1000 {
		id := NewID()
		if id <= prev {
			t.Fatalf("%q issued after %q", id, prev)
		}
		prev = id
	}
}

// Run with -race: IDs are issued from many goroutines at once.
func TestNewIDUniqueConcurrent(t *testing.T) {
	const goroutines, perGoroutine = 16, 5000
	results := make([][]string, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			ids := make([]string, perGoroutine)
			for i := range ids {
				ids[i] = NewID()
			}
			results[g] = ids
		})
	}
	wg.Wait()

	seen := make(map[string]struct{}, goroutines*perGoroutine)
	for _, ids := range results {
		for _, id := range ids {
			if _, dup := seen[id]; dup {
				t.Fatalf("duplicate ID %q", id)
			}
			seen[id] = struct{}{}
		}
	}
}

var sink string

func BenchmarkNewID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sink = NewID()
	}
}

func BenchmarkNewIDParallel(b *testing.B) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var id string
		for pb.Next() {
			id = NewID()
		}
		sink = id
	})
}
