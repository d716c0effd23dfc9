package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The demo a new user runs first delivers its three commands, in order.
func TestQuickstart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	var got []string
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "billing <- orders: command billing {order ") {
			got = append(got, strings.TrimSuffix(strings.Fields(line)[6], ","))
		}
	}
	if strings.Join(got, ",") != "o-1001,o-1002,o-1003" {
		t.Fatalf("orders delivered: %v\n%s", got, out.String())
	}
}
