// Package seqset tracks which sequence numbers of a stream are settled:
// everything up to a contiguous point, plus a sparse set above it. Memory is
// proportional to the gaps, which flow control bounds, never to traffic.
package seqset

import (
	"slices"

	"github.com/meshmq/meshmq/internal/wire"
)

// Set is the settled sequence numbers of one stream. The zero value has
// nothing settled. It is not safe for concurrent use.
type Set struct {
	through uint64   // every seq in 1..through is settled
	above   []uint64 // settled seqs > through+1, sorted, no duplicates
}

// Through returns the highest seq up to which all are settled.
func (s *Set) Through() uint64 { return s.through }

// Contains reports whether seq is settled.
func (s *Set) Contains(seq uint64) bool {
	if seq <= s.through {
		return true
	}
	_, found := slices.BinarySearch(s.above, seq)
	return found
}

// Add settles seq and reports whether it was new.
func (s *Set) Add(seq uint64) bool {
	if seq == 0 || seq <= s.through {
		return false
	}
	if seq == s.through+1 {
		s.through = seq
		// Absorb what the gap was holding back.
		i := 0
		for i < len(s.above) && s.above[i] == s.through+1 {
			s.through++
			i++
		}
		if i > 0 {
			s.above = append(s.above[:0], s.above[i:]...)
		}
		return true
	}
	i, found := slices.BinarySearch(s.above, seq)
	if found {
		return false
	}
	s.above = slices.Insert(s.above, i, seq)
	return true
}

// SetThrough settles everything up to n, for a stream first seen at n+1.
func (s *Set) SetThrough(n uint64) {
	if n <= s.through {
		return
	}
	s.through = n
	i := 0
	for i < len(s.above) && s.above[i] <= n+1 {
		if s.above[i] == s.through+1 {
			s.through++
		}
		i++
	}
	s.above = append(s.above[:0], s.above[i:]...)
}

// Pending returns how many settled seqs sit above the contiguous point.
func (s *Set) Pending() int { return len(s.above) }

// Ranges returns the settled seqs above Through as inclusive ranges, for a
// selective ACK; at most max ranges (the lowest), max <= 0 for all.
func (s *Set) Ranges(max int) []wire.Range {
	var out []wire.Range
	for _, v := range s.above {
		if n := len(out); n > 0 && out[n-1].To+1 == v {
			out[n-1].To = v
			continue
		}
		if max > 0 && len(out) == max {
			break
		}
		out = append(out, wire.Range{From: v, To: v})
	}
	return out
}
