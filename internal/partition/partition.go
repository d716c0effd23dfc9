// Package partition maps message keys to partitions and partitions to
// owners. A key's partition is a hash of the key modulo the partition count;
// a partition's owner is chosen among the live instances by rendezvous
// (highest random weight) hashing: each instance scores each partition, the
// highest score owns it. Every peer computes the same owners from the same
// view, with no coordination, and when an instance joins or leaves only the
// partitions it wins or held change hands: about 1/N of them for N owners.
package partition

import (
	"encoding/binary"
)

// hashString is a stable 64-bit FNV-1a: maphash is seeded per process, and
// partitions must agree across processes.
func hashString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

const offset = 14695981039346656037

// Of returns the partition of key among n (n > 0).
func Of(key string, n int) int {
	return int(mix(hashString(offset, key)) % uint64(n))
}

// Owner returns the index in candidates of the owner of partition p, or -1
// when there is no candidate.
func Owner(p int, candidates []string) int {
	best, bestScore := -1, uint64(0)
	for i, c := range candidates {
		if s := Score(c, p); best < 0 || s > bestScore || (s == bestScore && c < candidates[best]) {
			best, bestScore = i, s
		}
	}
	return best
}

// Score is the weight of owner for partition p.
func Score(owner string, p int) uint64 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(p))
	h := hashString(offset, owner)
	h = hashString(h^0x9e3779b97f4a7c15, string(b[:]))
	return mix(h)
}

// mix is a 64-bit finalizer (SplitMix64's): FNV alone spreads short inputs
// poorly over the high bits.
func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}
