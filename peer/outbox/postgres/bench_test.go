package postgres_test

import (
	"testing"

	"github.com/meshmq/meshmq/internal/testutil/pgtest"
	"github.com/meshmq/meshmq/peer/outbox/outboxtest"
	"github.com/meshmq/meshmq/peer/outbox/postgres"
)

func BenchmarkAppendParallel(b *testing.B) {
	s, err := postgres.Open(b.Context(), pgtest.Database(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	outboxtest.BenchmarkAppendParallel(b, s)
}
