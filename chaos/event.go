package chaos

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Kind is what an event records.
type Kind string

// The events. Peer programs write Start, Sent, Handled, Dead, Asked, Reply,
// ReqErr, View and Closed; the driver writes Spawn, Kill, Term, Cut and Heal.
const (
	Start   Kind = "start"   // the process's peer is up (Note: pid)
	Sent    Kind = "sent"    // Send or Publish returned nil; one line per group that must handle it
	Handled Kind = "handled" // a handler is about to return nil
	Served  Kind = "served"  // a responder's handler replied and is about to return nil
	Dead    Kind = "dead"    // the dead-letter callback ran (Note: reason)
	Asked   Kind = "asked"   // a Request is about to be made
	Reply   Kind = "reply"   // Request returned a reply (Note: "ok", or what was wrong with it)
	ReqErr  Kind = "reqerr"  // Request returned an error (Note: the error)
	View    Kind = "view"    // the peer's member list changed (Note: the names, comma-separated)
	Closed  Kind = "closed"  // Close returned (Note: "ok" or the error)
	Spawn   Kind = "spawn"   // the driver started an incarnation
	Kill    Kind = "kill"    // the driver sent SIGKILL
	Term    Kind = "term"    // the driver sent SIGTERM
	Cut     Kind = "cut"     // the driver cut the process's network link
	Heal    Kind = "heal"    // the driver restored it
	Done    Kind = "done"    // a sender or publisher sent its last message
)

// Event is one line of a log. Fields that do not apply are empty.
type Event struct {
	Time  int64  // wall clock, ns since the Unix epoch (all processes share the machine's clock)
	Kind  Kind   //
	Proc  string // the process (its peer name), or for driver events the process acted on
	Inc   int    // the process's incarnation, 1 for its first start
	Group string // the service or subscriber group that must handle the message
	Key   string // ordering key; unique to one sender
	Seq   int    // the message's number within its key, from 1
	ID    string // message ID ("<key>-<seq>", or a request's ID)
	Note  string // kind-specific detail, without spaces
}

// none stands for an empty field, so every line has nine fields.
const none = "-"

// String is the event's log line, without the newline.
func (e Event) String() string {
	f := func(s string) string {
		if s == "" {
			return none
		}
		return strings.Map(func(r rune) rune {
			if r == ' ' || r == '\n' || r == '\t' {
				return '_'
			}
			return r
		}, s)
	}
	return fmt.Sprintf("%d %s %s %d %s %s %d %s %s", e.Time, e.Kind, f(e.Proc), e.Inc, f(e.Group), f(e.Key), e.Seq, f(e.ID), f(e.Note))
}

// ParseEvent parses one log line (String's format).
func ParseEvent(line string) (Event, error) {
	fs := strings.Fields(line)
	if len(fs) != 9 {
		return Event{}, fmt.Errorf("chaos: event %q: %d fields, want 9", line, len(fs))
	}
	var e Event
	var err error
	if e.Time, err = strconv.ParseInt(fs[0], 10, 64); err != nil {
		return Event{}, fmt.Errorf("chaos: event %q: time: %w", line, err)
	}
	if e.Inc, err = strconv.Atoi(fs[3]); err != nil {
		return Event{}, fmt.Errorf("chaos: event %q: incarnation: %w", line, err)
	}
	if e.Seq, err = strconv.Atoi(fs[6]); err != nil {
		return Event{}, fmt.Errorf("chaos: event %q: seq: %w", line, err)
	}
	f := func(s string) string {
		if s == none {
			return ""
		}
		return s
	}
	e.Kind, e.Proc, e.Group, e.Key, e.ID, e.Note = Kind(fs[1]), f(fs[2]), f(fs[4]), f(fs[5]), f(fs[7]), f(fs[8])
	return e, nil
}

// MessageID is the ID of a key's seq-th message.
func MessageID(key string, seq int) string { return key + "-" + strconv.Itoa(seq) }

// ParseMessageID splits a MessageID into its key and seq.
func ParseMessageID(id string) (string, int, error) {
	i := strings.LastIndexByte(id, '-')
	if i < 0 {
		return "", 0, fmt.Errorf("chaos: message ID %q: no seq", id)
	}
	seq, err := strconv.Atoi(id[i+1:])
	if err != nil || seq < 1 {
		return "", 0, fmt.Errorf("chaos: message ID %q: bad seq", id)
	}
	return id[:i], seq, nil
}

// Log appends events to a file opened with O_APPEND, one write(2) per
// line, so that a line written before a SIGKILL survives it whole and lines
// of concurrent goroutines (and processes) never interleave.
type Log struct {
	f    *os.File
	proc string
	inc  int
}

// OpenLog opens (creating) the log at path for the events of proc's
// incarnation inc.
func OpenLog(path, proc string, inc int) (*Log, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	return &Log{f: f, proc: proc, inc: inc}, nil
}

// Write appends e, filling in its time (if zero), process and incarnation
// (if empty).
func (l *Log) Write(e Event) error {
	if e.Time == 0 {
		e.Time = time.Now().UnixNano()
	}
	if e.Proc == "" {
		e.Proc, e.Inc = l.proc, l.inc
	}
	if _, err := l.f.Write([]byte(e.String() + "\n")); err != nil {
		return fmt.Errorf("chaos: log: %w", err)
	}
	return nil
}

// Close closes the file.
func (l *Log) Close() error { return l.f.Close() }
