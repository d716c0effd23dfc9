package sqlstore

import (
	"strings"
	"testing"
	"time"
)

func TestSetPrefix(t *testing.T) {
	var c Config
	for _, ok := range []string{"meshmq", "_x", "a1_b2", strings.Repeat("a", maxPrefix)} {
		if err := c.SetPrefix(ok); err != nil || c.Prefix != ok {
			t.Errorf("SetPrefix(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1a", "A", "a-b", "a b", "a;drop", "é", strings.Repeat("a", maxPrefix+1)} {
		if err := c.SetPrefix(bad); err == nil {
			t.Errorf("SetPrefix(%q) accepted", bad)
		}
	}
}

func TestRebindDollar(t *testing.T) {
	got := RebindDollar("SELECT a FROM t WHERE x = ? AND (y = ? OR z = ?) LIMIT ?")
	if want := "SELECT a FROM t WHERE x = $1 AND (y = $2 OR z = $3) LIMIT $4"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestPruneEvery(t *testing.T) {
	for retention, want := range map[time.Duration]time.Duration{
		7 * 24 * time.Hour: time.Hour,
		time.Hour:          6 * time.Minute,
		time.Millisecond:   10 * time.Millisecond,
	} {
		if got := pruneEvery(retention); got != want {
			t.Errorf("pruneEvery(%v) = %v, want %v", retention, got, want)
		}
	}
}

func TestNanos(t *testing.T) {
	if Nanos(time.Time{}) != 0 || !FromNanos(0).IsZero() {
		t.Fatal("the zero time does not round-trip")
	}
	now := time.Now()
	if !FromNanos(Nanos(now)).Equal(now) {
		t.Fatal("a time does not round-trip")
	}
}
