package wire

import "fmt"

// Version is the protocol version this package speaks.
const Version = 1

// Magic is the second element of every HELLO; a first packet without it is
// not from a meshmq peer.
const Magic = "meshmq"

// Type is the first element of every packet.
type Type uint8

// Packet types. Numbers are fixed by PROTOCOL.md; new types get new numbers
// and a receiver answers an unknown type with a protocol error.
const (
	TypeHello          Type = 0
	TypeData           Type = 1
	TypeAck            Type = 2
	TypeNack           Type = 3
	TypeCredit         Type = 4
	TypeHeartbeat      Type = 5
	TypeDrain          Type = 6
	TypeCatalogRequest Type = 7
	TypeCatalog        Type = 8
	TypeError          Type = 9
)

var typeNames = [...]string{"HELLO", "DATA", "ACK", "NACK", "CREDIT", "HEARTBEAT", "DRAIN", "CATALOG_REQUEST", "CATALOG", "ERROR"}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Packet is one decoded frame.
type Packet interface {
	Type() Type
	// Append appends the packet's encoding to b.
	Append(b []byte) []byte
}

// Encode returns the frame for p.
func Encode(p Packet) []byte { return p.Append(nil) }

// Decode decodes one frame. Byte slices and the DATA entries' messages in the
// result alias frame, which the caller must not modify afterwards.
func Decode(frame []byte) (Packet, error) {
	r := reader{b: frame}
	n, err := r.arrayLen()
	if err != nil {
		return nil, &DecodeError{Packet: "packet", Field: "header", Offset: r.off, Err: err}
	}
	if n < 1 {
		return nil, &DecodeError{Packet: "packet", Field: "type", Offset: r.off, Err: errTruncated}
	}
	t, err := r.uint()
	if err != nil {
		return nil, &DecodeError{Packet: "packet", Field: "type", Offset: r.off, Err: err}
	}
	d := decoder{r: r, fields: n - 1}
	var p Packet
	switch Type(t) {
	case TypeHello:
		p = d.hello()
	case TypeData:
		p = d.data()
	case TypeAck:
		p = d.ack()
	case TypeNack:
		p = d.nack()
	case TypeCredit:
		p = d.credit()
	case TypeHeartbeat:
		p = d.heartbeat()
	case TypeDrain:
		p = d.drain()
	case TypeCatalogRequest:
		p = d.catalogRequest()
	case TypeCatalog:
		p = d.catalog()
	case TypeError:
		p = d.errorPacket()
	default:
		return nil, &DecodeError{Packet: "packet", Field: "type", Offset: 1, Err: fmt.Errorf("%w: unknown packet type %d", ErrMalformed, t)}
	}
	if d.err == nil {
		d.rest()
	}
	if d.err != nil {
		return nil, d.err
	}
	return p, nil
}

// decoder walks the top-level array of one packet. Fields a newer sender
// appends are skipped; missing optional fields keep their zero values.
type decoder struct {
	r      reader
	fields int // top-level elements not yet read
	packet string
	err    error
}

func (d *decoder) fail(field string, err error) {
	if d.err == nil {
		d.err = &DecodeError{Packet: d.packet, Field: field, Offset: d.r.off, Err: err}
	}
}

// has reports whether another top-level field is present, and consumes it.
func (d *decoder) has() bool {
	if d.err != nil || d.fields == 0 {
		return false
	}
	d.fields--
	return true
}

// need is has for a required field.
func (d *decoder) need(field string) bool {
	if d.has() {
		return true
	}
	d.fail(field, fmt.Errorf("%w: missing field", ErrMalformed))
	return false
}

func (d *decoder) rest() {
	for d.fields > 0 {
		d.fields--
		if err := d.r.skip(); err != nil {
			d.fail("extension", err)
			return
		}
	}
	if d.r.remaining() != 0 {
		d.fail("end", fmt.Errorf("%w: %d trailing bytes", ErrMalformed, d.r.remaining()))
	}
}

func (d *decoder) uint(field string) uint64 {
	if !d.need(field) {
		return 0
	}
	v, err := d.r.uint()
	if err != nil {
		d.fail(field, err)
	}
	return v
}

func (d *decoder) str(field string) string {
	if !d.need(field) {
		return ""
	}
	v, err := d.r.str()
	if err != nil {
		d.fail(field, err)
	}
	return v
}

// list reads a required array field and calls each for every element.
func (d *decoder) list(field string, each func(i int) error) {
	if !d.need(field) {
		return
	}
	n, err := d.r.arrayLen()
	if err != nil {
		d.fail(field, err)
		return
	}
	for i := 0; i < n; i++ {
		if err := each(i); err != nil {
			d.fail(field, err)
			return
		}
	}
}

// tuple reads an array of at least min elements and hands the reader to fn,
// which reads the first used of the n elements; the rest, appended by a
// newer sender, are skipped.
func (r *reader) tuple(min int, fn func(n int) (used int, err error)) error {
	n, err := r.arrayLen()
	if err != nil {
		return err
	}
	if n < min {
		return fmt.Errorf("%w: %d elements, want at least %d", ErrMalformed, n, min)
	}
	used, err := fn(n)
	if err != nil {
		return err
	}
	return r.skipN(n-used, 0)
}
