package wire

import (
	"fmt"
	"time"
)

// Catalog is what a peer offers: fetched over the data connection with
// CATALOG_REQUEST, because it outgrows gossip metadata. Every level is a map
// with integer keys, so later versions add fields that older peers skip.
type Catalog struct {
	Version       uint64
	Services      []Service
	Subscriptions []Subscription
	MessageTypes  []MessageType
}

// Service is a point-to-point channel the peer handles.
type Service struct {
	Name       string
	Partitions uint64 // 0: not partitioned
}

// Overflow says which copy a full retention buffer gives up.
type Overflow uint64

const (
	OverflowDropOldest Overflow = 0
	OverflowDropNewest Overflow = 1
)

// Subscription is a topic pattern the peer subscribes to.
type Subscription struct {
	Pattern    string
	Group      string // "" : a group of its own
	Overflow   Overflow
	BestEffort bool
	Partitions uint64
	MaxAge     time.Duration // retention bounds while the group is away (ms on the wire)
	MaxCount   uint64
	MaxBytes   uint64
}

// Direction says whether a message type is received, sent or a reply.
type Direction uint64

const (
	DirectionReceive Direction = 1
	DirectionSend    Direction = 2
	DirectionReply   Direction = 3
)

// MessageType documents one message a peer takes or emits.
type MessageType struct {
	Channel     string
	Kind        uint64
	Name        string
	Direction   Direction
	Description string
	Schema      []byte // JSON Schema of the payload
}

type field struct {
	key  uint64
	skip bool
	put  func(b []byte) []byte
}

// appendFields writes a map of the fields not skipped.
func appendFields(b []byte, fs ...field) []byte {
	n := 0
	for _, f := range fs {
		if !f.skip {
			n++
		}
	}
	b = appendMapLen(b, n)
	for _, f := range fs {
		if !f.skip {
			b = f.put(appendUint(b, f.key))
		}
	}
	return b
}

func strField(k uint64, s string) field {
	return field{k, s == "", func(b []byte) []byte { return appendStr(b, s) }}
}

func uintField(k uint64, v uint64) field {
	return field{k, v == 0, func(b []byte) []byte { return appendUint(b, v) }}
}

func (c *Catalog) append(b []byte) []byte {
	list := func(n int, put func(b []byte, i int) []byte) func([]byte) []byte {
		return func(b []byte) []byte {
			b = appendArrayLen(b, n)
			for i := 0; i < n; i++ {
				b = put(b, i)
			}
			return b
		}
	}
	return appendFields(b,
		uintField(1, c.Version),
		field{2, len(c.Services) == 0, list(len(c.Services), func(b []byte, i int) []byte {
			s := &c.Services[i]
			return appendFields(b, strField(1, s.Name), uintField(2, s.Partitions))
		})},
		field{3, len(c.Subscriptions) == 0, list(len(c.Subscriptions), func(b []byte, i int) []byte {
			s := &c.Subscriptions[i]
			return appendFields(b, strField(1, s.Pattern), strField(2, s.Group), uintField(3, uint64(s.Overflow)),
				field{4, !s.BestEffort, func(b []byte) []byte { return appendBool(b, true) }},
				uintField(5, s.Partitions), uintField(6, uint64(s.MaxAge/time.Millisecond)),
				uintField(7, s.MaxCount), uintField(8, s.MaxBytes))
		})},
		field{4, len(c.MessageTypes) == 0, list(len(c.MessageTypes), func(b []byte, i int) []byte {
			t := &c.MessageTypes[i]
			return appendFields(b, strField(1, t.Channel), uintField(2, t.Kind), strField(3, t.Name),
				uintField(4, uint64(t.Direction)), strField(5, t.Description),
				field{6, len(t.Schema) == 0, func(b []byte) []byte { return appendBin(b, t.Schema) }})
		})},
	)
}

// fields reads a map with integer keys, calling fn for each key; fn returns
// false for keys it does not know, which are skipped.
func (r *reader) fields(fn func(k uint64) (bool, error)) error {
	n, err := r.mapLen()
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		k, err := r.uint()
		if err != nil {
			return err
		}
		known, err := fn(k)
		if err != nil {
			return fmt.Errorf("field %d: %w", k, err)
		}
		if !known {
			if err := r.skip(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *reader) each(fn func() error) error {
	n, err := r.arrayLen()
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := fn(); err != nil {
			return err
		}
	}
	return nil
}

func (r *reader) catalog(c *Catalog) error {
	return r.fields(func(k uint64) (bool, error) {
		var err error
		switch k {
		case 1:
			c.Version, err = r.uint()
		case 2:
			err = r.each(func() error {
				var s Service
				err := r.fields(func(k uint64) (bool, error) {
					var err error
					switch k {
					case 1:
						s.Name, err = r.str()
					case 2:
						s.Partitions, err = r.uint()
					default:
						return false, nil
					}
					return true, err
				})
				c.Services = append(c.Services, s)
				return err
			})
		case 3:
			err = r.each(func() error {
				var s Subscription
				err := r.fields(func(k uint64) (bool, error) {
					var err error
					var v uint64
					switch k {
					case 1:
						s.Pattern, err = r.str()
					case 2:
						s.Group, err = r.str()
					case 3:
						v, err = r.uint()
						s.Overflow = Overflow(v)
					case 4:
						s.BestEffort, err = r.bool()
					case 5:
						s.Partitions, err = r.uint()
					case 6:
						v, err = r.uint()
						s.MaxAge = time.Duration(min(v, uint64(1<<62)/uint64(time.Millisecond))) * time.Millisecond
					case 7:
						s.MaxCount, err = r.uint()
					case 8:
						s.MaxBytes, err = r.uint()
					default:
						return false, nil
					}
					return true, err
				})
				c.Subscriptions = append(c.Subscriptions, s)
				return err
			})
		case 4:
			err = r.each(func() error {
				var t MessageType
				err := r.fields(func(k uint64) (bool, error) {
					var err error
					var v uint64
					switch k {
					case 1:
						t.Channel, err = r.str()
					case 2:
						t.Kind, err = r.uint()
					case 3:
						t.Name, err = r.str()
					case 4:
						v, err = r.uint()
						t.Direction = Direction(v)
					case 5:
						t.Description, err = r.str()
					case 6:
						t.Schema, err = r.rawBytes()
					default:
						return false, nil
					}
					return true, err
				})
				c.MessageTypes = append(c.MessageTypes, t)
				return err
			})
		default:
			return false, nil
		}
		return true, err
	})
}
