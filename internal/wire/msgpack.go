package wire

import (
	"encoding/binary"
	"math"
)

// This file holds the small msgpack subset the envelope uses. The bytes are
// standard msgpack (any msgpack library reads them; the tests check that with
// vmihailenco/msgpack), but the reader is written for untrusted input: it
// works on one []byte without copying, checks every length against the bytes
// that remain before it allocates, and bounds nesting when it skips unknown
// fields, so no frame can make it allocate more than the frame's size or
// recurse without limit.

const maxSkipDepth = 16

func appendNil(b []byte) []byte { return append(b, 0xc0) }

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 0xc3)
	}
	return append(b, 0xc2)
}

// appendUint writes v in its shortest unsigned form.
func appendUint(b []byte, v uint64) []byte {
	switch {
	case v <= 0x7f:
		return append(b, byte(v))
	case v <= math.MaxUint8:
		return append(b, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(b, 0xcf), v)
	}
}

// appendInt writes v in its shortest form: non-negative values as unsigned.
func appendInt(b []byte, v int64) []byte {
	switch {
	case v >= 0:
		return appendUint(b, uint64(v))
	case v >= -32:
		return append(b, byte(int8(v)))
	case v >= math.MinInt8:
		return append(b, 0xd0, byte(int8(v)))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(int16(v)))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(int32(v)))
	default:
		return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(v))
	}
}

func appendStr(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n <= 31:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

func appendBinHeader(b []byte, n int) []byte {
	switch {
	case n <= math.MaxUint8:
		return append(b, 0xc4, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xc5), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, 0xc6), uint32(n))
	}
}

func appendBin(b []byte, v []byte) []byte {
	return append(appendBinHeader(b, len(v)), v...)
}

func appendArrayLen(b []byte, n int) []byte {
	switch {
	case n <= 15:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xdc), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
	}
}

func appendMapLen(b []byte, n int) []byte {
	switch {
	case n <= 15:
		return append(b, 0x80|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xde), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, 0xdf), uint32(n))
	}
}

// Encoded sizes, used to plan batches before encoding them.

func sizeUint(v uint64) int {
	switch {
	case v <= 0x7f:
		return 1
	case v <= math.MaxUint8:
		return 2
	case v <= math.MaxUint16:
		return 3
	case v <= math.MaxUint32:
		return 5
	default:
		return 9
	}
}

func sizeStrHeader(n int) int {
	switch {
	case n <= 31:
		return 1
	case n <= math.MaxUint8:
		return 2
	case n <= math.MaxUint16:
		return 3
	default:
		return 5
	}
}

func sizeBinHeader(n int) int {
	switch {
	case n <= math.MaxUint8:
		return 2
	case n <= math.MaxUint16:
		return 3
	default:
		return 5
	}
}

func sizeArrayHeader(n int) int {
	switch {
	case n <= 15:
		return 1
	case n <= math.MaxUint16:
		return 3
	default:
		return 5
	}
}

// reader decodes msgpack values from one buffer. Byte and string values it
// returns alias the buffer.
type reader struct {
	b   []byte
	off int
}

func (r *reader) remaining() int { return len(r.b) - r.off }

func (r *reader) peek() (byte, error) {
	if r.off >= len(r.b) {
		return 0, errTruncated
	}
	return r.b[r.off], nil
}

func (r *reader) next(n int) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.off {
		return nil, errTruncated
	}
	p := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return p, nil
}

func (r *reader) byte1() (byte, error) {
	if r.off >= len(r.b) {
		return 0, errTruncated
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

func (r *reader) be(n int) (uint64, error) {
	p, err := r.next(n)
	if err != nil {
		return 0, err
	}
	switch n {
	case 1:
		return uint64(p[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(p)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(p)), nil
	default:
		return binary.BigEndian.Uint64(p), nil
	}
}

// isNil consumes a nil if one is next.
func (r *reader) isNil() bool {
	if r.off < len(r.b) && r.b[r.off] == 0xc0 {
		r.off++
		return true
	}
	return false
}

// uint reads a non-negative integer in any msgpack integer form.
func (r *reader) uint() (uint64, error) {
	c, err := r.byte1()
	if err != nil {
		return 0, err
	}
	switch {
	case c <= 0x7f:
		return uint64(c), nil
	case c == 0xcc:
		return r.be(1)
	case c == 0xcd:
		return r.be(2)
	case c == 0xce:
		return r.be(4)
	case c == 0xcf:
		return r.be(8)
	case c >= 0xd0 && c <= 0xd3:
		r.off--
		v, err := r.int()
		if err != nil {
			return 0, err
		}
		if v < 0 {
			return 0, errType("unsigned integer", c)
		}
		return uint64(v), nil
	}
	return 0, errType("unsigned integer", c)
}

// int reads a signed integer in any msgpack integer form.
func (r *reader) int() (int64, error) {
	c, err := r.byte1()
	if err != nil {
		return 0, err
	}
	switch {
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	case c == 0xcc, c == 0xcd, c == 0xce:
		v, err := r.be(1 << (c - 0xcc))
		return int64(v), err
	case c == 0xcf:
		v, err := r.be(8)
		if err == nil && v > math.MaxInt64 {
			return 0, errRange
		}
		return int64(v), err
	case c == 0xd0:
		v, err := r.be(1)
		return int64(int8(v)), err
	case c == 0xd1:
		v, err := r.be(2)
		return int64(int16(v)), err
	case c == 0xd2:
		v, err := r.be(4)
		return int64(int32(v)), err
	case c == 0xd3:
		v, err := r.be(8)
		return int64(v), err
	}
	return 0, errType("integer", c)
}

func (r *reader) bool() (bool, error) {
	c, err := r.byte1()
	if err != nil {
		return false, err
	}
	switch c {
	case 0xc2:
		return false, nil
	case 0xc3:
		return true, nil
	}
	return false, errType("bool", c)
}

// rawBytes reads a str or bin value and returns its bytes, aliasing the buffer.
func (r *reader) rawBytes() ([]byte, error) {
	c, err := r.byte1()
	if err != nil {
		return nil, err
	}
	var n uint64
	switch {
	case c >= 0xa0 && c <= 0xbf:
		n = uint64(c & 0x1f)
	case c == 0xd9, c == 0xc4:
		n, err = r.be(1)
	case c == 0xda, c == 0xc5:
		n, err = r.be(2)
	case c == 0xdb, c == 0xc6:
		n, err = r.be(4)
	default:
		return nil, errType("string or binary", c)
	}
	if err != nil {
		return nil, err
	}
	if n > uint64(r.remaining()) {
		return nil, errTruncated
	}
	return r.next(int(n))
}

func (r *reader) str() (string, error) {
	p, err := r.rawBytes()
	return string(p), err
}

// arrayLen reads an array header. The length is checked against the bytes
// left (every element takes at least one), so callers may size slices by it.
func (r *reader) arrayLen() (int, error) {
	c, err := r.byte1()
	if err != nil {
		return 0, err
	}
	var n uint64
	switch {
	case c >= 0x90 && c <= 0x9f:
		n = uint64(c & 0x0f)
	case c == 0xdc:
		n, err = r.be(2)
	case c == 0xdd:
		n, err = r.be(4)
	default:
		return 0, errType("array", c)
	}
	if err != nil {
		return 0, err
	}
	if n > uint64(r.remaining()) {
		return 0, errTruncated
	}
	return int(n), nil
}

// mapLen reads a map header, checked like arrayLen (two bytes per pair at least).
func (r *reader) mapLen() (int, error) {
	c, err := r.byte1()
	if err != nil {
		return 0, err
	}
	var n uint64
	switch {
	case c >= 0x80 && c <= 0x8f:
		n = uint64(c & 0x0f)
	case c == 0xde:
		n, err = r.be(2)
	case c == 0xdf:
		n, err = r.be(4)
	default:
		return 0, errType("map", c)
	}
	if err != nil {
		return 0, err
	}
	if n > uint64(r.remaining())/2 {
		return 0, errTruncated
	}
	return int(n), nil
}

// skip steps over one value of any type; unknown fields are skipped so that
// newer peers can add them.
func (r *reader) skip() error { return r.skipDepth(0) }

func (r *reader) skipDepth(depth int) error {
	if depth > maxSkipDepth {
		return errDepth
	}
	c, err := r.byte1()
	if err != nil {
		return err
	}
	var n uint64
	switch {
	case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
		return nil
	case c >= 0xa0 && c <= 0xbf:
		_, err = r.next(int(c & 0x1f))
		return err
	case c >= 0x90 && c <= 0x9f:
		return r.skipN(int(c&0x0f), depth)
	case c >= 0x80 && c <= 0x8f:
		return r.skipN(2*int(c&0x0f), depth)
	}
	switch c {
	case 0xcc, 0xd0:
		_, err = r.next(1)
	case 0xcd, 0xd1:
		_, err = r.next(2)
	case 0xce, 0xd2, 0xca:
		_, err = r.next(4)
	case 0xcf, 0xd3, 0xcb:
		_, err = r.next(8)
	case 0xd9, 0xc4:
		if n, err = r.be(1); err == nil {
			err = r.skipBytes(n)
		}
	case 0xda, 0xc5:
		if n, err = r.be(2); err == nil {
			err = r.skipBytes(n)
		}
	case 0xdb, 0xc6:
		if n, err = r.be(4); err == nil {
			err = r.skipBytes(n)
		}
	case 0xdc:
		if n, err = r.be(2); err == nil {
			err = r.skipN(int(n), depth)
		}
	case 0xdd:
		if n, err = r.be(4); err == nil {
			err = r.skipN(int(n), depth)
		}
	case 0xde:
		if n, err = r.be(2); err == nil {
			err = r.skipN(2*int(n), depth)
		}
	case 0xdf:
		if n, err = r.be(4); err == nil {
			err = r.skipN(2*int(n), depth)
		}
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1..16: type byte + data
		_, err = r.next(1 + 1<<(c-0xd4))
	case 0xc7:
		if n, err = r.be(1); err == nil {
			err = r.skipBytes(n + 1)
		}
	case 0xc8:
		if n, err = r.be(2); err == nil {
			err = r.skipBytes(n + 1)
		}
	case 0xc9:
		if n, err = r.be(4); err == nil {
			err = r.skipBytes(n + 1)
		}
	default: // 0xc1 is never used
		return errType("value", c)
	}
	return err
}

func (r *reader) skipBytes(n uint64) error {
	if n > uint64(r.remaining()) {
		return errTruncated
	}
	r.off += int(n)
	return nil
}

func (r *reader) skipN(n, depth int) error {
	if n < 0 || n > r.remaining() {
		return errTruncated
	}
	for i := 0; i < n; i++ {
		if err := r.skipDepth(depth + 1); err != nil {
			return err
		}
	}
	return nil
}
