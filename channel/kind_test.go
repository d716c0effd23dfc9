package channel

import (
	"errors"
	"testing"
)

func TestKind(t *testing.T) {
	tests := []struct {
		k     Kind
		name  string
		valid bool
	}{
		{0, "Kind(0)", false},
		{Document, "document", true},
		{Command, "command", true},
		{Event, "event", true},
		{Reply, "reply", true},
		{5, "Kind(5)", false},
		{255, "Kind(255)", false},
	}
	for _, tt := range tests {
		if got := tt.k.String(); got != tt.name {
			t.Errorf("Kind(%d).String() = %q, want %q", uint8(tt.k), got, tt.name)
		}
		if got := tt.k.Valid(); got != tt.valid {
			t.Errorf("Kind(%d).Valid() = %v, want %v", uint8(tt.k), got, tt.valid)
		}
		if tt.valid {
			if k, err := ParseKind(tt.name); err != nil || k != tt.k {
				t.Errorf("ParseKind(%q) = %v, %v; want %v", tt.name, k, err, tt.k)
			}
		}
	}
}

func TestParseKind(t *testing.T) {
	tests := []struct {
		in      string
		want    Kind
		wantErr bool
	}{
		{"event", Event, false},
		{"EVENT", Event, false},
		{"Reply", Reply, false},
		{"", 0, true},
		{"events", 0, true},
		{"Kind(1)", 0, true},
		{" event", 0, true},
	}
	for _, tt := range tests {
		k, err := ParseKind(tt.in)
		if tt.wantErr {
			if !errors.Is(err, ErrUnknownKind) || k != 0 {
				t.Errorf("ParseKind(%q) = %v, %v; want 0, ErrUnknownKind", tt.in, k, err)
			}
			continue
		}
		if err != nil || k != tt.want {
			t.Errorf("ParseKind(%q) = %v, %v; want %v", tt.in, k, err, tt.want)
		}
	}
}

func TestType(t *testing.T) {
	tests := []struct {
		t     Type
		name  string
		valid bool
	}{
		{0, "Type(0)", false},
		{PointToPoint, "point-to-point", true},
		{PublishSubscribe, "publish-subscribe", true},
		{3, "Type(3)", false},
	}
	for _, tt := range tests {
		if got := tt.t.String(); got != tt.name {
			t.Errorf("Type(%d).String() = %q, want %q", uint8(tt.t), got, tt.name)
		}
		if got := tt.t.Valid(); got != tt.valid {
			t.Errorf("Type(%d).Valid() = %v, want %v", uint8(tt.t), got, tt.valid)
		}
	}
}
