package wire

import "fmt"

// Flags qualify one DATA entry.
type Flags uint64

const (
	// FlagBestEffort marks an entry the receiver must not acknowledge: the
	// sender keeps no copy (at-most-once).
	FlagBestEffort Flags = 1 << iota
	// FlagSkip tells the receiver to settle the entry's seq without
	// handling it (Message is empty): the sender dead-lettered it, or an
	// earlier incarnation of the receiver settled it, and later messages of
	// its key must not wait for it.
	FlagSkip
	// FlagFresh says the message's ID was made by its sender for this
	// message and this is its first transmission to anyone: it cannot be a
	// duplicate, and the receiver need not look its ID up (it still records
	// it, against later resends across the sender's epochs).
	FlagFresh
)

// NoPartition is Entry.Partition for a message sent without a partition.
const NoPartition = -1

// Entry is one message inside a DATA packet. Stream, Seq, Attempt, Partition
// and Group are per destination and sit outside Message, the message's own
// encoding (AppendMessage), so one encoding is shared by every destination.
type Entry struct {
	Stream    uint64 // sender-chosen stream id
	Seq       uint64 // 1, 2, 3... per stream within the sender's epoch
	Attempt   uint64 // 1 for the first transmission
	Partition int64  // NoPartition, or 0..partitions-1
	Group     string // subscriber group, "" for none
	Flags     Flags
	Message   []byte // an encoded message (AppendMessage)
}

// entryFields is the number of elements an entry has in version 1.
const entryFields = 7

// Size returns the bytes e takes inside a DATA packet.
func (e *Entry) Size() int {
	n := 1 + sizeUint(e.Stream) + sizeUint(e.Seq) + sizeUint(e.Attempt) + sizeUint(uint64(e.Flags))
	if e.Partition >= 0 {
		n += sizeUint(uint64(e.Partition))
	} else {
		n++ // nil
	}
	n += sizeStrHeader(len(e.Group)) + len(e.Group)
	return n + sizeBinHeader(len(e.Message)) + len(e.Message)
}

// DataOverhead is the size of a DATA packet's header for n entries; a packet
// of entries es takes DataOverhead(len(es)) + the sum of their Size.
func DataOverhead(n int) int { return 2 + sizeArrayHeader(n) }

// AppendEntry appends e's encoding.
func AppendEntry(b []byte, e *Entry) []byte {
	b = append(b, 0x90|entryFields)
	b = appendUint(b, e.Stream)
	b = appendUint(b, e.Seq)
	b = appendUint(b, e.Attempt)
	if e.Partition >= 0 {
		b = appendUint(b, uint64(e.Partition))
	} else {
		b = appendNil(b)
	}
	b = appendStr(b, e.Group)
	b = appendUint(b, uint64(e.Flags))
	return appendBin(b, e.Message)
}

// AppendDataHeader starts a DATA packet of n entries; append them with
// AppendEntry.
func AppendDataHeader(b []byte, n int) []byte {
	b = append(b, 0x92, byte(TypeData))
	return appendArrayLen(b, n)
}

// Data is a batch of entries in one frame.
type Data struct {
	Entries []Entry
}

func (*Data) Type() Type { return TypeData }

func (p *Data) Append(b []byte) []byte {
	b = AppendDataHeader(b, len(p.Entries))
	for i := range p.Entries {
		b = AppendEntry(b, &p.Entries[i])
	}
	return b
}

func (d *decoder) data() *Data {
	d.packet = "DATA"
	p := &Data{}
	if !d.need("entries") {
		return p
	}
	n, err := d.r.arrayLen()
	if err != nil {
		d.fail("entries", err)
		return p
	}
	p.Entries = make([]Entry, n)
	lastGroup := ""
	for i := range p.Entries {
		if i > 0 {
			lastGroup = p.Entries[i-1].Group
		}
		if err := d.r.entry(&p.Entries[i], lastGroup); err != nil {
			d.fail(fmt.Sprintf("entries[%d]", i), err)
			return p
		}
	}
	return p
}

// entry decodes one entry; lastGroup is the previous entry's group.
func (r *reader) entry(e *Entry, lastGroup string) error {
	return r.tuple(entryFields, func(int) (int, error) {
		var err error
		if e.Stream, err = r.uint(); err != nil {
			return 0, err
		}
		if e.Seq, err = r.uint(); err != nil {
			return 0, err
		}
		if e.Attempt, err = r.uint(); err != nil {
			return 0, err
		}
		e.Partition = NoPartition
		if !r.isNil() {
			p, err := r.uint()
			if err != nil {
				return 0, err
			}
			if p > 1<<31 {
				return 0, errRange
			}
			e.Partition = int64(p)
		}
		g, err := r.rawBytes()
		if err != nil {
			return 0, err
		}
		// The entries of a batch mostly share their group: reuse the
		// string instead of allocating one per entry.
		if string(g) == lastGroup {
			e.Group = lastGroup
		} else {
			e.Group = string(g)
			lastGroup = e.Group
		}
		f, err := r.uint()
		if err != nil {
			return 0, err
		}
		e.Flags = Flags(f)
		if e.Message, err = r.rawBytes(); err != nil {
			return 0, err
		}
		return entryFields, nil
	})
}
