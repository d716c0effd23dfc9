package codec

import (
	"bytes"
	"errors"
	"fmt"
)

// The checks in this file exist because the underlying decoder trusts the
// lengths it reads: a five-byte array header claiming 2^32 elements makes
// it allocate tens of gigabytes, which is fatal to the process, not a
// recoverable panic.

// maxDepth bounds container nesting, as encoding/json does, so that
// decoding cannot exhaust the goroutine stack.
const maxDepth = 10000

// timestampExt is the MessagePack extension type for timestamps, the only
// extension type Unmarshal accepts.
const timestampExt = 0xff // -1 as a byte

// MessagePack format codes (see the MessagePack specification).
const (
	mpNil      = 0xc0
	mpUnused   = 0xc1
	mpFalse    = 0xc2
	mpTrue     = 0xc3
	mpBin8     = 0xc4
	mpBin16    = 0xc5
	mpBin32    = 0xc6
	mpExt8     = 0xc7
	mpExt16    = 0xc8
	mpExt32    = 0xc9
	mpFloat32  = 0xca
	mpFloat64  = 0xcb
	mpUint8    = 0xcc
	mpUint16   = 0xcd
	mpUint32   = 0xce
	mpUint64   = 0xcf
	mpInt8     = 0xd0
	mpInt16    = 0xd1
	mpInt32    = 0xd2
	mpInt64    = 0xd3
	mpFixExt1  = 0xd4
	mpFixExt16 = 0xd8
	mpStr8     = 0xd9
	mpStr16    = 0xda
	mpStr32    = 0xdb
	mpArray16  = 0xdc
	mpArray32  = 0xdd
	mpMap16    = 0xde
	mpMap32    = 0xdf
)

// span is a byte range [start, end) of the input.
type span struct{ start, end int64 }

// header describes the encoding of one value.
type header struct {
	size     int    // bytes of the header itself, including the format code
	payload  uint64 // raw bytes after the header (strings, binary, numbers, extensions)
	children uint64 // values nested after the header (array elements, map keys and values)
	ext      bool   // the payload is an extension's
}

// checkMsgPack reports an error unless data holds exactly one MessagePack
// value in which every declared length fits within data, nesting is at
// most maxDepth deep, and every extension is a timestamp. It appends the
// extension payloads to exts, for [guardedReader].
//
// A container's declared count is checked against the bytes remaining,
// since each child takes at least one byte; so the decoder can never be
// asked to allocate for more elements than data could hold.
func checkMsgPack(data []byte, exts []span) ([]span, error) {
	var buf [32]uint64
	stack := buf[:0]     // unread children of the enclosing containers
	pending := uint64(1) // unread children of the current container
	off := 0
	for {
		if pending == 0 {
			if len(stack) == 0 {
				if off != len(data) {
					return exts, malformed(off, "trailing data after value")
				}
				return exts, nil
			}
			pending, stack = stack[len(stack)-1], stack[:len(stack)-1]
			continue
		}
		pending--

		start := off
		h, err := parseHeader(data[off:])
		if err != nil {
			return exts, malformed(start, err.Error())
		}
		off += h.size
		rest := uint64(len(data) - off)
		if h.payload > rest {
			return exts, malformed(start, errTruncated.Error())
		}
		if h.ext {
			exts = append(exts, span{int64(off), int64(off) + int64(h.payload)})
		}
		off += int(h.payload)
		if h.children == 0 {
			continue
		}
		if h.children > rest {
			return exts, malformed(start, fmt.Sprintf("declares %d nested values but only %d bytes remain", h.children, rest))
		}
		if len(stack) == maxDepth {
			return exts, malformed(start, fmt.Sprintf("nesting exceeds %d levels", maxDepth))
		}
		stack = append(stack, pending)
		pending = h.children
	}
}

var errTruncated = errors.New("unexpected end of data")

// parseHeader decodes the header at the start of b.
func parseHeader(b []byte) (header, error) {
	if len(b) == 0 {
		return header{}, errTruncated
	}
	c := b[0]
	switch {
	case c <= 0x7f || c >= 0xe0: // positive and negative fixint
		return header{size: 1}, nil
	case c <= 0x8f: // fixmap
		return header{size: 1, children: 2 * uint64(c&0x0f)}, nil
	case c <= 0x9f: // fixarray
		return header{size: 1, children: uint64(c & 0x0f)}, nil
	case c <= 0xbf: // fixstr
		return header{size: 1, payload: uint64(c & 0x1f)}, nil
	}
	switch c {
	case mpNil, mpFalse, mpTrue:
		return header{size: 1}, nil
	case mpUint8, mpInt8:
		return header{size: 1, payload: 1}, nil
	case mpUint16, mpInt16:
		return header{size: 1, payload: 2}, nil
	case mpUint32, mpInt32, mpFloat32:
		return header{size: 1, payload: 4}, nil
	case mpUint64, mpInt64, mpFloat64:
		return header{size: 1, payload: 8}, nil
	case mpBin8, mpStr8:
		n, err := lengthField(b, 1)
		return header{size: 2, payload: n}, err
	case mpBin16, mpStr16:
		n, err := lengthField(b, 2)
		return header{size: 3, payload: n}, err
	case mpBin32, mpStr32:
		n, err := lengthField(b, 4)
		return header{size: 5, payload: n}, err
	case mpArray16:
		n, err := lengthField(b, 2)
		return header{size: 3, children: n}, err
	case mpArray32:
		n, err := lengthField(b, 4)
		return header{size: 5, children: n}, err
	case mpMap16:
		n, err := lengthField(b, 2)
		return header{size: 3, children: 2 * n}, err
	case mpMap32:
		n, err := lengthField(b, 4)
		return header{size: 5, children: 2 * n}, err
	case mpExt8, mpExt16, mpExt32:
		w := 1 << (c - mpExt8) // width of the length field
		n, err := lengthField(b, w)
		if err != nil {
			return header{}, err
		}
		return extHeader(b, 1+w, n)
	case mpUnused:
		return header{}, errors.New("invalid format code 0xc1")
	default: // fixext 1, 2, 4, 8, 16
		return extHeader(b, 1, 1<<(c-mpFixExt1))
	}
}

// lengthField decodes the big-endian length of width w after the format
// code at b[0].
func lengthField(b []byte, w int) (uint64, error) {
	if len(b) < 1+w {
		return 0, errTruncated
	}
	var n uint64
	for _, x := range b[1 : 1+w] {
		n = n<<8 | uint64(x)
	}
	return n, nil
}

// extHeader completes the header of an extension whose type byte is b[at].
func extHeader(b []byte, at int, n uint64) (header, error) {
	if len(b) <= at {
		return header{}, errTruncated
	}
	if b[at] != timestampExt {
		return header{}, fmt.Errorf("unsupported extension type %d", int8(b[at]))
	}
	if n != 4 && n != 8 && n != 12 {
		return header{}, fmt.Errorf("invalid timestamp length %d", n)
	}
	return header{size: at + 1, payload: n, ext: true}, nil
}

func malformed(off int, reason string) error {
	return fmt.Errorf("msgpack: malformed input at offset %d: %s", off, reason)
}

// guardedReader feeds the decoder and rejects any attempt to read a value
// header from inside an extension payload.
//
// The decoder reads headers one byte at a time and payloads in bulk. When
// it expects a map but finds an extension, it skips the extension header
// and reads the payload as a map header; eight crafted timestamp bytes
// can then declare a map of 2^31 entries. checkMsgPack cannot see this,
// as it depends on the destination type, so it is caught here instead.
type guardedReader struct {
	bytes.Reader
	exts []span // extension payloads, in order
	next int    // index of the first extension not wholly before the cursor
}

var errHeaderInExt = errors.New("msgpack: value header read inside extension payload (extension where a map was expected?)")

func (r *guardedReader) reset(data []byte, exts []span) {
	r.Reader.Reset(data)
	r.exts = exts
	r.next = 0
}

func (r *guardedReader) ReadByte() (byte, error) {
	off := r.Size() - int64(r.Len())
	for r.next < len(r.exts) && r.exts[r.next].end <= off {
		r.next++
	}
	if r.next < len(r.exts) && r.exts[r.next].start <= off {
		return 0, errHeaderInExt
	}
	return r.Reader.ReadByte()
}
