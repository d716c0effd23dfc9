package discovery

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

func TestStaticViewAndEvents(t *testing.T) {
	a := Member{Name: "a", Endpoint: "tcp://127.0.0.1:1", Services: []string{"billing"}}
	b := Member{Name: "b", Endpoint: "tcp://127.0.0.1:2"}
	s := NewStatic(a, b)
	var events []Event
	if err := s.Start(context.Background(), b, func(e Event) { events = append(events, e) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background(), b, nil); err == nil {
		t.Fatal("second Start accepted")
	}
	if got := s.Members(); !reflect.DeepEqual(got, []Member{a}) {
		t.Fatalf("members %v: the local member must not be listed", got)
	}
	if !a.Handles("billing") || a.Handles("orders") {
		t.Fatal("Handles")
	}
	c := Member{Name: "c", Endpoint: "tcp://127.0.0.1:3"}
	s.Add(c)
	a2 := a
	a2.Services = nil
	s.Add(a2)
	s.Remove("c", true)
	s.Remove("a", false)
	s.Remove("nobody", false)
	want := []EventType{Joined, Updated, Failed, Left}
	if len(events) != len(want) {
		t.Fatalf("events %v", events)
	}
	for i, e := range events {
		if e.Type != want[i] {
			t.Fatalf("event %d: %v, want %v", i, e.Type, want[i])
		}
	}
	if len(s.Members()) != 0 {
		t.Fatalf("members after removals: %v", s.Members())
	}
	if err := s.Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Add(c) // after Leave: no event
	if len(events) != 4 {
		t.Fatal("event after Leave")
	}
	if Joined.String() != "joined" || EventType(9).String() != "unknown" || errors.Is(ErrNotStarted, nil) {
		t.Fatal("names")
	}
}
