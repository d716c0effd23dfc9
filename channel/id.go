package channel

import (
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"
)

// An ID is 128 bits: 64 chosen at random once per process, then a 64-bit
// counter that starts at a random value. The counter makes IDs unique
// within a process without calling crypto/rand per message; the random
// half makes them unique across processes with overwhelming probability.
//
// These variables are the package's only global state, written once in
// init except for the counter. The counter is seeded below 2^63 so that
// it cannot wrap within any realistic lifetime (2^63 IDs at a billion per
// second take 292 years).
var (
	idProcess uint64
	idPrefix  [IDLen]byte // idProcess rendered; its first prefixLen bytes are used
	idCounter atomic.Uint64
)

func init() {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails: crypto/rand crashes the program instead
	idProcess = binary.BigEndian.Uint64(b[:8])
	idCounter.Store(binary.BigEndian.Uint64(b[8:]) >> 1)
	encodeID(&idPrefix, idProcess, 0)
}

// crockford is Crockford's base32 alphabet in lower case. It omits i, l,
// o and u, so IDs cannot be misread and are unlikely to spell words. Its
// characters ascend in byte order, so IDs sort as the numbers they encode.
const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// IDLen is the length of every ID returned by [NewID].
const IDLen = 26

// prefixLen digits (3+12*5 = 63 bits) depend only on the top 63 bits of
// the process half, so NewID copies them instead of computing them.
const prefixLen = 13

// NewID returns a new message ID: 26 characters of lower-case Crockford
// base32. IDs are unique within a process and, with overwhelming
// probability, across processes; those issued by one process sort, as
// strings, in the order they were issued. NewID is safe for concurrent
// use and allocates only the returned string.
func NewID() string {
	n := idCounter.Add(1)
	var b [IDLen]byte
	copy(b[:prefixLen], idPrefix[:prefixLen])
	// Digit 13 straddles the halves: the process half's lowest bit and
	// the counter's top four.
	b[prefixLen] = crockford[(idProcess&1)<<4|n>>60]
	for i := IDLen - 1; i > prefixLen; i-- {
		b[i] = crockford[n&31]
		n >>= 5
	}
	return string(b[:])
}

// encodeID renders the 128-bit value hi<<64|lo into b, most significant
// digit first. 26 digits of 5 bits hold 130 bits, so the first is < 8.
func encodeID(b *[IDLen]byte, hi, lo uint64) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
}
