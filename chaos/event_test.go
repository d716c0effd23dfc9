package chaos

import (
	"os"
	"path/filepath"
	"testing"
)

func TestEventRoundTrip(t *testing.T) {
	for _, e := range []Event{
		{Time: 1, Kind: Sent, Proc: "sq", Inc: 2, Group: "orders", Key: "sq.3", Seq: 4, ID: "sq.3-4"},
		{Time: 2, Kind: Closed, Proc: "c1", Inc: 1, Note: "context deadline exceeded"},
	} {
		got, err := ParseEvent(e.String())
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind == Closed {
			e.Note = "context_deadline_exceeded" // spaces would split the fields
		}
		if got != e {
			t.Fatalf("got %+v, want %+v", got, e)
		}
	}
	if _, err := ParseEvent("1 sent"); err == nil {
		t.Fatal("a short line parsed")
	}
}

func TestMessageID(t *testing.T) {
	key, seq, err := ParseMessageID(MessageID("pg.7", 12))
	if err != nil || key != "pg.7" || seq != 12 {
		t.Fatalf("got %q %d %v", key, seq, err)
	}
	if _, _, err := ParseMessageID("pg.7"); err == nil {
		t.Fatal("an ID without seq parsed")
	}
}

// Tail returns whole lines only, each once, across appends.
func TestTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	tail := NewTail(path)
	if evs, err := tail.Read(); err != nil || len(evs) != 0 {
		t.Fatalf("missing file: %v %v", evs, err)
	}
	l, err := OpenLog(path, "c1", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Write(Event{Kind: Handled, Group: "orders", Key: "sq.1", Seq: 1, ID: "sq.1-1"}); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString("5 handled c1 1 orders sq.1 2") // a line being written
	evs, err := tail.Read()
	if err != nil || len(evs) != 1 || evs[0].Proc != "c1" || evs[0].Inc != 1 || evs[0].Time == 0 {
		t.Fatalf("first read: %+v %v", evs, err)
	}
	f.WriteString(" sq.1-2 -\n")
	evs, err = tail.Read()
	if err != nil || len(evs) != 1 || evs[0].Seq != 2 {
		t.Fatalf("second read: %+v %v", evs, err)
	}
}
