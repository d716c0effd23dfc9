// Package pgtest gives tests a fresh PostgreSQL database on the server that
// the test command (scripts/test.sh) starts and names in MESHMQ_TEST_POSTGRES.
// A test that needs PostgreSQL fails without it: it never skips.
package pgtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env names the variable holding the server's DSN.
const Env = "MESHMQ_TEST_POSTGRES"

// Server returns the DSN of the test server, failing t without one.
func Server(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(Env)
	if dsn == "" {
		t.Fatalf("%s is not set: this test needs PostgreSQL 15 with wal_level=logical; "+
			"run ./scripts/test.sh, or export %s=$(./scripts/postgres.sh start /tmp/meshmq-pg)", Env, Env)
	}
	return dsn
}

// Database creates an empty database for t, dropped when t ends, and
// returns its DSN.
func Database(t testing.TB) string {
	t.Helper()
	server := Server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatalf("pgtest: connecting to %s: %v", server, err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("meshmq_test_%d_%d", time.Now().Unix(), rand.Uint32())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, server)
		if err != nil {
			t.Errorf("pgtest: dropping %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		// Replication slots pin a database: drop the test's first.
		conn.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active", name)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: dropping %s: %v", name, err)
		}
	})
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("pgtest: %s: %v", Env, err)
	}
	u.Path = "/" + name
	return u.String()
}
