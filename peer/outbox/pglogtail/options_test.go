package pglogtail

import (
	"strings"
	"testing"
)

// Default slot names are valid slot names for any database name, distinct
// for distinct databases.
func TestDefaultSlot(t *testing.T) {
	long := strings.Repeat("x", 80)
	for db, want := range map[string]string{
		"orders":      "meshmq_outbox_orders",
		"Orders-EU.1": "meshmq_outbox_orders_eu_1",
	} {
		if got := defaultSlot("meshmq", db); got != want {
			t.Errorf("defaultSlot(%q) = %q, want %q", db, got, want)
		}
	}
	a, b := defaultSlot("meshmq", long+"a"), defaultSlot("meshmq", long+"b")
	if a == b || checkSlotName(a) != nil || checkSlotName(b) != nil {
		t.Errorf("long names: %q, %q", a, b)
	}
}
