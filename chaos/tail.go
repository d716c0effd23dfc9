package chaos

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// Tail reads a growing log file incrementally: each Read returns the events
// of the whole lines appended since the last one. A line cut short by a
// kill mid-write cannot happen (one write(2) per line), but a line still
// being written is left for the next Read.
type Tail struct {
	path    string
	off     int64
	partial []byte
}

// NewTail reads the log at path from its start.
func NewTail(path string) *Tail { return &Tail{path: path} }

// Read returns the events appended since the last Read. A missing file has
// no events yet.
func (t *Tail) Read() ([]Event, error) {
	f, err := os.Open(t.path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(t.off, io.SeekStart); err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("chaos: %s: %w", t.path, err)
	}
	t.off += int64(len(data))
	data = append(t.partial, data...)
	end := bytes.LastIndexByte(data, '\n') + 1
	t.partial = append([]byte(nil), data[end:]...)
	var evs []Event
	for line := range bytes.SplitSeq(data[:end], []byte{'\n'}) {
		if len(line) == 0 {
			continue
		}
		e, err := ParseEvent(string(line))
		if err != nil {
			return evs, fmt.Errorf("%s: %w", t.path, err)
		}
		evs = append(evs, e)
	}
	return evs, nil
}

// ReadLog returns every event of the log at path.
func ReadLog(path string) ([]Event, error) { return NewTail(path).Read() }
