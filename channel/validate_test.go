package channel

import (
	"errors"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name      string
		m         Message
		wantField string // "" for valid
	}{
		{"event", Message{Kind: Event, Channel: "topic"}, ""},
		{"command to a peer", Message{Kind: Command, Channel: "svc", To: "peer-1"}, ""},
		{"reply", Message{Kind: Reply, CorrelationID: "id", To: "peer-1"}, ""},
		{"reply with channel", Message{Kind: Reply, Channel: "svc", CorrelationID: "id", To: "peer-1"}, ""},
		{"kind unset", Message{Channel: "c"}, "Kind"},
		{"kind unknown", Message{Kind: 9, Channel: "c"}, "Kind"},
		{"document without channel", Message{Kind: Document}, "Channel"},
		{"command without channel", Message{Kind: Command, To: "peer"}, "Channel"},
		{"reply without correlation", Message{Kind: Reply, To: "peer"}, "CorrelationID"},
		{"reply without destination", Message{Kind: Reply, CorrelationID: "id"}, "To"},
		{"negative TTL", Message{Kind: Event, Channel: "c", TTL: -time.Second}, "TTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.m.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != tt.wantField || ve.Reason == "" {
				t.Fatalf("Validate = %v, want a *ValidationError for %s", err, tt.wantField)
			}
			if !errors.Is(err, ErrInvalidMessage) {
				t.Errorf("%v does not match ErrInvalidMessage", err)
			}
		})
	}
}

func TestValidationErrorMessage(t *testing.T) {
	err := (&Message{Kind: Event}).Validate()
	if got, want := err.Error(), "channel: invalid message: Channel: required"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
