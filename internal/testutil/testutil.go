// Package testutil holds what the project's tests share: a logger that is
// silent unless MESHMQ_TEST_LOG is set, and waiting on a condition with a
// deadline instead of sleeping.
package testutil

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"
)

// Logger logs at debug level to stderr when MESHMQ_TEST_LOG is set, and
// nowhere otherwise.
func Logger() *slog.Logger {
	if os.Getenv("MESHMQ_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Deadline bounds every wait: long enough for a loaded CI machine, short
// enough to fail instead of hanging.
const Deadline = 60 * time.Second

// WaitFor polls cond until it holds, failing the test after Deadline. It
// calls onTimeout, if given, to describe the state before failing.
func WaitFor(t testing.TB, what string, cond func() bool, onTimeout ...func()) {
	t.Helper()
	deadline := time.Now().Add(Deadline)
	for !cond() {
		if time.Now().After(deadline) {
			for _, f := range onTimeout {
				f()
			}
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Cluster names a gossip cluster for one test: tests of several packages
// run at once on 127.0.0.1, and a node bound to a port that another test's
// node just released would otherwise be gossiped at by that test's cluster.
func Cluster(t testing.TB) string {
	name := fmt.Sprintf("test-%d-%s", os.Getpid(), t.Name())
	if len(name) > 255 {
		name = name[:255]
	}
	return name
}
