package channel

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

func TestPermanent(t *testing.T) {
	base := fmt.Errorf("parse order: %w", fs.ErrInvalid)
	p := Permanent(base)

	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", base, false},
		{"sentinel", ErrPermanent, true},
		{"marked", p, true},
		{"marked then wrapped", fmt.Errorf("handler: %w", p), true},
		{"sentinel wrapped", fmt.Errorf("handler: %w", ErrPermanent), true},
	}
	for _, tt := range tests {
		if got := IsPermanent(tt.err); got != tt.want {
			t.Errorf("%s: IsPermanent = %v, want %v", tt.name, got, tt.want)
		}
	}

	if p.Error() != base.Error() {
		t.Errorf("Permanent changed the message to %q", p)
	}
	if !errors.Is(p, fs.ErrInvalid) || errors.Unwrap(p) != base {
		t.Error("Permanent hides the errors it wraps")
	}
	if Permanent(nil) != nil {
		t.Error("Permanent(nil) != nil")
	}
	if Permanent(p) != p {
		t.Error("Permanent re-wrapped a permanent error")
	}
}
