package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The demo a new user runs first: every charge is handled exactly once
// across the restart, but the refused one, which is dead-lettered; every
// charge's billing.charged event reaches the audit subscription in orders
// exactly once; the billing.balance request gets billing's totals back.
func TestQuickstart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	s := out.String()
	summary := fmt.Sprintf("sent %d, handled %d (0 twice), retried ", charges, charges-1)
	if !strings.Contains(s, summary) || !strings.Contains(s, "dead-lettered 1\n") ||
		!strings.Contains(s, "dead letter: o-1234, permanent after 1 attempt(s): order o-1234: negative amount") {
		t.Fatalf("unexpected output:\n%s", s)
	}
	// Charges 100+i cents for i in [0, charges), but the refused o-1234.
	cents := int64(0)
	for i := range charges {
		if i != 1234 {
			cents += int64(100 + i)
		}
	}
	for _, want := range []string{
		fmt.Sprintf("audit received %d billing.charged events (0 twice)\n", charges-1),
		fmt.Sprintf("billing.balance replied: %d charges, %d cents\n", charges-1, cents),
	} {
		if !strings.Contains(s, want) {
			t.Fatalf("output lacks %q:\n%s", want, s)
		}
	}
}
