package wire

import (
	"fmt"
	"time"
)

// Range is an inclusive range of sequence numbers.
type Range struct{ From, To uint64 }

// StreamAck acknowledges, on one of the receiving side's streams, every
// sequence number up to Through and those in Ranges (selective, all above
// Through): their handlers returned nil, or they were duplicates of messages
// that were handled.
type StreamAck struct {
	Stream  uint64
	Through uint64
	Ranges  []Range
}

// Ack carries acknowledgements for any number of streams.
type Ack struct{ Streams []StreamAck }

func (*Ack) Type() Type { return TypeAck }

func (p *Ack) Append(b []byte) []byte {
	b = append(b, 0x92, byte(TypeAck))
	b = appendArrayLen(b, len(p.Streams))
	for _, s := range p.Streams {
		if len(s.Ranges) == 0 {
			b = append(b, 0x92)
		} else {
			b = append(b, 0x93)
		}
		b = appendUint(appendUint(b, s.Stream), s.Through)
		if len(s.Ranges) > 0 {
			b = appendArrayLen(b, len(s.Ranges))
			for _, r := range s.Ranges {
				b = appendUint(appendUint(append(b, 0x92), r.From), r.To)
			}
		}
	}
	return b
}

func (d *decoder) ack() *Ack {
	d.packet = "ACK"
	p := &Ack{}
	var items []StreamAck
	d.list("streams", func(i int) error {
		if items == nil {
			items = make([]StreamAck, 0, min(d.r.remaining(), 64))
		}
		var s StreamAck
		err := d.r.tuple(2, func(n int) (int, error) {
			var err error
			if s.Stream, err = d.r.uint(); err != nil {
				return 0, err
			}
			if s.Through, err = d.r.uint(); err != nil {
				return 0, err
			}
			if n < 3 {
				return 2, nil
			}
			return 3, d.r.ranges(&s)
		})
		items = append(items, s)
		return err
	})
	p.Streams = items
	return p
}

func (r *reader) ranges(s *StreamAck) error {
	n, err := r.arrayLen()
	if err != nil {
		return err
	}
	s.Ranges = make([]Range, 0, n)
	for i := 0; i < n; i++ {
		var rg Range
		err := r.tuple(2, func(int) (int, error) {
			var err error
			if rg.From, err = r.uint(); err != nil {
				return 0, err
			}
			rg.To, err = r.uint()
			return 2, err
		})
		if err != nil {
			return err
		}
		if rg.From > rg.To || rg.From <= s.Through {
			return fmt.Errorf("%w: bad ack range %d-%d above %d", ErrMalformed, rg.From, rg.To, s.Through)
		}
		s.Ranges = append(s.Ranges, rg)
	}
	return nil
}

// Reason says why a message was not acknowledged.
type Reason uint64

// Nack reasons. Retryable reasons ask the sender to try again (after
// RetryAfter if set); the others end the message at the dead-letter callback.
const (
	ReasonHandlerError Reason = 1  // the handler returned an error: retry
	ReasonPermanent    Reason = 2  // the handler returned a permanent error: dead-letter
	ReasonNoHandler    Reason = 3  // no handler for the channel here: try another instance
	ReasonExpired      Reason = 4  // past its TTL or deadline on arrival: dead-letter
	ReasonOverloaded   Reason = 5  // the receiver cannot take it now: retry later
	ReasonUndecodable  Reason = 6  // the message could not be decoded: dead-letter
	ReasonTooLarge     Reason = 7  // larger than the receiver accepts: dead-letter
	ReasonUnauthorized Reason = 8  // the sender may not send this: dead-letter
	ReasonShuttingDown Reason = 9  // the receiver is draining: try another instance
	ReasonPanic        Reason = 10 // the handler panicked: retry
)

var reasonNames = map[Reason]string{
	ReasonHandlerError: "handler error", ReasonPermanent: "permanent error", ReasonNoHandler: "no handler",
	ReasonExpired: "expired", ReasonOverloaded: "overloaded", ReasonUndecodable: "undecodable",
	ReasonTooLarge: "too large", ReasonUnauthorized: "unauthorized", ReasonShuttingDown: "shutting down",
	ReasonPanic: "handler panic",
}

func (r Reason) String() string {
	if s, ok := reasonNames[r]; ok {
		return s
	}
	return fmt.Sprintf("reason(%d)", uint64(r))
}

// Retryable reports whether the sender should try the message again. Unknown
// reasons from newer peers are retryable: retrying is safe, dropping is not.
func (r Reason) Retryable() bool {
	switch r {
	case ReasonPermanent, ReasonExpired, ReasonUndecodable, ReasonTooLarge, ReasonUnauthorized:
		return false
	}
	return true
}

// StreamNack rejects one message of one of the receiving side's streams.
type StreamNack struct {
	Stream     uint64
	Seq        uint64
	Reason     Reason
	RetryAfter time.Duration // ms on the wire; 0 leaves it to the sender's policy
	Text       string        // for logs and dead letters
}

// Nack carries rejections.
type Nack struct{ Items []StreamNack }

func (*Nack) Type() Type { return TypeNack }

func (p *Nack) Append(b []byte) []byte {
	b = append(b, 0x92, byte(TypeNack))
	b = appendArrayLen(b, len(p.Items))
	for _, it := range p.Items {
		b = append(b, 0x95)
		b = appendUint(appendUint(appendUint(b, it.Stream), it.Seq), uint64(it.Reason))
		b = appendUint(b, uint64(it.RetryAfter/time.Millisecond))
		b = appendStr(b, it.Text)
	}
	return b
}

func (d *decoder) nack() *Nack {
	d.packet = "NACK"
	p := &Nack{}
	d.list("items", func(int) error {
		var it StreamNack
		err := d.r.tuple(5, func(int) (int, error) {
			var err error
			if it.Stream, err = d.r.uint(); err != nil {
				return 0, err
			}
			if it.Seq, err = d.r.uint(); err != nil {
				return 0, err
			}
			var v uint64
			if v, err = d.r.uint(); err != nil {
				return 0, err
			}
			it.Reason = Reason(v)
			if v, err = d.r.uint(); err != nil {
				return 0, err
			}
			it.RetryAfter = time.Duration(min(v, uint64(time.Hour/time.Millisecond))) * time.Millisecond
			it.Text, err = d.r.str()
			return 5, err
		})
		p.Items = append(p.Items, it)
		return err
	})
	return p
}

// StreamCredit lets the receiving side send on Stream every sequence number
// up to Limit. Limits only grow; a smaller one than already granted is ignored.
type StreamCredit struct {
	Stream uint64
	Limit  uint64
}

// Credit carries flow-control grants.
type Credit struct{ Streams []StreamCredit }

func (*Credit) Type() Type { return TypeCredit }

func (p *Credit) Append(b []byte) []byte {
	b = append(b, 0x92, byte(TypeCredit))
	b = appendArrayLen(b, len(p.Streams))
	for _, s := range p.Streams {
		b = appendUint(appendUint(append(b, 0x92), s.Stream), s.Limit)
	}
	return b
}

func (d *decoder) credit() *Credit {
	d.packet = "CREDIT"
	p := &Credit{}
	d.list("streams", func(int) error {
		var s StreamCredit
		err := d.r.tuple(2, func(int) (int, error) {
			var err error
			if s.Stream, err = d.r.uint(); err != nil {
				return 0, err
			}
			s.Limit, err = d.r.uint()
			return 2, err
		})
		p.Streams = append(p.Streams, s)
		return err
	})
	return p
}

// Heartbeat is sent by each side when it has sent nothing for its heartbeat
// interval; any packet proves the connection alive.
type Heartbeat struct {
	Time time.Time // sender's clock, informational (unix ns on the wire)
}

func (*Heartbeat) Type() Type { return TypeHeartbeat }

func (p *Heartbeat) Append(b []byte) []byte {
	b = append(b, 0x92, byte(TypeHeartbeat))
	return appendInt(b, p.Time.UnixNano())
}

func (d *decoder) heartbeat() *Heartbeat {
	d.packet = "HEARTBEAT"
	p := &Heartbeat{}
	if d.need("time") {
		ns, err := d.r.int()
		if err != nil {
			d.fail("time", err)
		}
		p.Time = time.Unix(0, ns)
	}
	return p
}

// Drain is the last packet a peer sends on a connection it is closing
// gracefully: no DATA follows it; the receiver should not redial at once.
type Drain struct {
	Reason string
}

func (*Drain) Type() Type { return TypeDrain }

func (p *Drain) Append(b []byte) []byte {
	return appendStr(append(b, 0x92, byte(TypeDrain)), p.Reason)
}

func (d *decoder) drain() *Drain {
	d.packet = "DRAIN"
	return &Drain{Reason: d.str("reason")}
}

// CatalogRequest asks the remote peer for its catalog. Have is the version
// the asker already holds (0 for none).
type CatalogRequest struct {
	ID   uint64
	Have uint64
}

func (*CatalogRequest) Type() Type { return TypeCatalogRequest }

func (p *CatalogRequest) Append(b []byte) []byte {
	b = append(b, 0x93, byte(TypeCatalogRequest))
	return appendUint(appendUint(b, p.ID), p.Have)
}

func (d *decoder) catalogRequest() *CatalogRequest {
	d.packet = "CATALOG_REQUEST"
	return &CatalogRequest{ID: d.uint("id"), Have: d.uint("have")}
}

// CatalogReply answers a CatalogRequest. Catalog is nil when the asker
// already has Version.
type CatalogReply struct {
	ID      uint64
	Version uint64
	Catalog *Catalog
}

func (*CatalogReply) Type() Type { return TypeCatalog }

func (p *CatalogReply) Append(b []byte) []byte {
	b = append(b, 0x94, byte(TypeCatalog))
	b = appendUint(appendUint(b, p.ID), p.Version)
	if p.Catalog == nil {
		return appendNil(b)
	}
	return p.Catalog.append(b)
}

func (d *decoder) catalog() *CatalogReply {
	d.packet = "CATALOG"
	p := &CatalogReply{ID: d.uint("id"), Version: d.uint("version")}
	if d.need("catalog") && !d.r.isNil() {
		p.Catalog = &Catalog{}
		if err := d.r.catalog(p.Catalog); err != nil {
			d.fail("catalog", err)
		}
	}
	return p
}

// Code classifies an ERROR packet.
type Code uint64

// Error codes. The sender closes the connection after an ERROR.
const (
	CodeUnsupportedVersion Code = 1 // no common version; Text lists ours
	CodeDuplicate          Code = 2 // another connection between the two peers wins
	CodeProtocol           Code = 3 // the receiver broke the protocol
	CodeTooLarge           Code = 4 // a frame or message exceeded a limit
	CodeUnauthorized       Code = 5 // the security layer refused the peer
	CodeShuttingDown       Code = 6 // the sender is closing
	CodeNameConflict       Code = 7 // the dialer used the acceptor's own name
	CodeBusy               Code = 8 // the acceptor has as many connections as it takes
)

var codeNames = map[Code]string{
	CodeUnsupportedVersion: "unsupported version", CodeDuplicate: "duplicate connection", CodeProtocol: "protocol error",
	CodeTooLarge: "too large", CodeUnauthorized: "unauthorized", CodeShuttingDown: "shutting down", CodeNameConflict: "name conflict",
	CodeBusy: "busy",
}

func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("code(%d)", uint64(c))
}

// Error tells the remote side why the connection is about to close.
type Error struct {
	Code Code
	Text string
}

func (*Error) Type() Type { return TypeError }

func (p *Error) Append(b []byte) []byte {
	b = appendUint(append(b, 0x93, byte(TypeError)), uint64(p.Code))
	return appendStr(b, p.Text)
}

func (p *Error) Error() string { return fmt.Sprintf("meshmq peer error: %v: %s", p.Code, p.Text) }

func (d *decoder) errorPacket() *Error {
	d.packet = "ERROR"
	return &Error{Code: Code(d.uint("code")), Text: d.str("text")}
}
