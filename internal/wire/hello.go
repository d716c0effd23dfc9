package wire

import (
	"fmt"
	"time"
)

// Hello is the first packet each side sends after the ZMTP handshake. The
// dialer lists the versions it speaks; the acceptor answers with exactly one,
// the highest both speak, or with an ERROR and closes. Its layout is fixed for
// every version so that any two peers can negotiate.
type Hello struct {
	Versions         []uint64      // dialer: all it speaks; acceptor: the chosen one
	Name             string        // stable peer name
	Epoch            uint64        // new for every process start, never 0
	Endpoint         string        // the data endpoint others dial, if any
	MaxFrame         uint64        // largest frame the sender accepts
	MaxMessage       uint64        // largest encoded message the sender accepts
	HeartbeatTimeout time.Duration // the sender closes a connection silent this long; the other side sends at least every third of it (ms on the wire)
	CatalogVersion   uint64        // version of the sender's catalog
	InitialCredit    uint64        // messages each stream may send before its first CREDIT
}

// Hello map keys (PROTOCOL.md, HELLO).
const (
	helloVersions = 1 + iota
	helloName
	helloEpoch
	helloEndpoint
	helloMaxFrame
	helloMaxMessage
	helloHeartbeatTimeout
	helloCatalogVersion
	helloInitialCredit
)

func (*Hello) Type() Type { return TypeHello }

func (h *Hello) Append(b []byte) []byte {
	type kv struct {
		k int
		v uint64
	}
	opt := [...]kv{
		{helloMaxFrame, h.MaxFrame},
		{helloMaxMessage, h.MaxMessage},
		{helloHeartbeatTimeout, uint64(h.HeartbeatTimeout / time.Millisecond)},
		{helloCatalogVersion, h.CatalogVersion},
		{helloInitialCredit, h.InitialCredit},
	}
	n := 3
	if h.Endpoint != "" {
		n++
	}
	for _, o := range opt {
		if o.v != 0 {
			n++
		}
	}
	b = appendArrayLen(b, 3)
	b = appendUint(b, uint64(TypeHello))
	b = appendStr(b, Magic)
	b = appendMapLen(b, n)
	b = appendUint(b, helloVersions)
	b = appendArrayLen(b, len(h.Versions))
	for _, v := range h.Versions {
		b = appendUint(b, v)
	}
	b = appendStr(appendUint(b, helloName), h.Name)
	b = appendUint(appendUint(b, helloEpoch), h.Epoch)
	if h.Endpoint != "" {
		b = appendStr(appendUint(b, helloEndpoint), h.Endpoint)
	}
	for _, o := range opt {
		if o.v != 0 {
			b = appendUint(appendUint(b, uint64(o.k)), o.v)
		}
	}
	return b
}

// Negotiate returns the highest version in both lists.
func Negotiate(ours, theirs []uint64) (uint64, error) {
	var best uint64
	for _, a := range ours {
		for _, b := range theirs {
			if a == b && a > best {
				best = a
			}
		}
	}
	if best == 0 {
		return 0, fmt.Errorf("%w: we speak %v, peer speaks %v", ErrUnsupportedVersion, ours, theirs)
	}
	return best, nil
}

// maxVersions bounds the version list a HELLO may carry.
const maxVersions = 64

func (d *decoder) hello() *Hello {
	d.packet = "HELLO"
	h := &Hello{}
	if !d.need("magic") {
		return h
	}
	magic, err := d.r.rawBytes()
	if err != nil || string(magic) != Magic {
		d.fail("magic", ErrNotMeshmq)
		return h
	}
	if !d.need("fields") {
		return h
	}
	n, err := d.r.mapLen()
	if err != nil {
		d.fail("fields", err)
		return h
	}
	for i := 0; i < n && d.err == nil; i++ {
		k, err := d.r.uint()
		if err != nil {
			d.fail("key", err)
			break
		}
		var v uint64
		switch k {
		case helloVersions:
			err = d.versions(h)
		case helloName:
			h.Name, err = d.r.str()
		case helloEndpoint:
			h.Endpoint, err = d.r.str()
		case helloEpoch, helloMaxFrame, helloMaxMessage, helloHeartbeatTimeout, helloCatalogVersion, helloInitialCredit:
			v, err = d.r.uint()
			switch k {
			case helloEpoch:
				h.Epoch = v
			case helloMaxFrame:
				h.MaxFrame = v
			case helloMaxMessage:
				h.MaxMessage = v
			case helloHeartbeatTimeout:
				v = min(v, uint64(24*time.Hour/time.Millisecond))
				h.HeartbeatTimeout = time.Duration(v) * time.Millisecond
			case helloCatalogVersion:
				h.CatalogVersion = v
			case helloInitialCredit:
				h.InitialCredit = v
			}
		default:
			err = d.r.skip()
		}
		if err != nil {
			d.fail(fmt.Sprintf("field %d", k), err)
		}
	}
	if d.err == nil && (len(h.Versions) == 0 || h.Name == "" || h.Epoch == 0) {
		d.fail("fields", fmt.Errorf("%w: versions, name and epoch are required", ErrMalformed))
	}
	return h
}

func (d *decoder) versions(h *Hello) error {
	n, err := d.r.arrayLen()
	if err != nil {
		return err
	}
	if n > maxVersions {
		return fmt.Errorf("%w: %d versions", ErrMalformed, n)
	}
	h.Versions = make([]uint64, n)
	for i := range h.Versions {
		if h.Versions[i], err = d.r.uint(); err != nil {
			return err
		}
	}
	return nil
}
