package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/meshmq/meshmq/peer/outbox/outboxtest"
	"github.com/meshmq/meshmq/peer/outbox/sqlite"
)

func BenchmarkAppendParallel(b *testing.B) {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	outboxtest.BenchmarkAppendParallel(b, s)
}
