package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/meshmq/meshmq/peer/outbox"
	"github.com/meshmq/meshmq/peer/outbox/postgres"
	"github.com/meshmq/meshmq/peer/outbox/sqlite"
)

// sqlStore is what both SQL stores offer: the peer's store, the outbox
// written in the application's transactions (TxAppender), its polling relay
// (Relayer), the idempotent consumer's claims (Claimer), and the database.
type sqlStore interface {
	outbox.Store
	outbox.TxAppender
	outbox.Relayer
	outbox.Claimer
	DB() *sql.DB
}

// database is a role's database: the application's tables and the store's
// share it, so that one transaction covers both.
type database struct {
	store sqlStore
	db    *sql.DB
	kind  string // "sqlite" or "postgres"
	where string // the file, or the DSN without its password: for messages
}

// openDatabase opens the SQLite file path, or the PostgreSQL database dsn,
// with the store's tables, and creates the application's table ddl[kind].
func openDatabase(ctx context.Context, path, dsn string, ddl map[string]string, logger *slog.Logger) (*database, error) {
	d := &database{}
	var err error
	if dsn != "" {
		d.kind, d.where = "postgres", redactDSN(dsn)
		d.store, err = postgres.Open(ctx, dsn, postgres.WithLogger(logger))
	} else {
		d.kind, d.where = "sqlite", path
		d.store, err = sqlite.Open(ctx, path, sqlite.WithLogger(logger))
	}
	if err != nil {
		return nil, fmt.Errorf("opening the database %s: %w", d.where, err)
	}
	d.db = d.store.DB()
	if _, err := d.db.ExecContext(ctx, ddl[d.kind]); err != nil {
		d.store.Close()
		return nil, fmt.Errorf("%s: creating the table: %w", d.where, err)
	}
	return d, nil
}

func (d *database) close() error { return d.store.Close() }

// q adapts a query written with ? placeholders to the database.
func (d *database) q(query string) string { return rebind(d.kind, query) }

func rebind(kind, query string) string {
	if kind != "postgres" {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// The application's tables. A shipment's place in shipping order is the
// table's rowid in SQLite, seq in PostgreSQL: the verification checks each
// customer's shipments against it.
var (
	ordersDDL = map[string]string{
		"sqlite": `CREATE TABLE IF NOT EXISTS orders (
			id TEXT PRIMARY KEY,
			customer TEXT NOT NULL,
			total_cents INTEGER NOT NULL,
			created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
		)`,
		"postgres": `CREATE TABLE IF NOT EXISTS orders (
			id TEXT PRIMARY KEY,
			customer TEXT NOT NULL,
			total_cents BIGINT NOT NULL,
			created TIMESTAMPTZ NOT NULL DEFAULT now()
		)`,
	}
	shipmentsDDL = map[string]string{
		"sqlite": `CREATE TABLE IF NOT EXISTS shipments (
			order_id TEXT PRIMARY KEY,
			customer TEXT NOT NULL,
			total_cents INTEGER NOT NULL,
			message_id TEXT NOT NULL,
			shipped TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
		)`,
		"postgres": `CREATE TABLE IF NOT EXISTS shipments (
			order_id TEXT PRIMARY KEY,
			customer TEXT NOT NULL,
			total_cents BIGINT NOT NULL,
			message_id TEXT NOT NULL,
			shipped TIMESTAMPTZ NOT NULL DEFAULT now(),
			seq BIGSERIAL
		)`,
	}
	shippingOrder = map[string]string{"sqlite": "rowid", "postgres": "seq"}
)

// openReader opens a database to read it, beside the processes that write
// it (the demo's check): no store, no tables created.
func openReader(path, dsn string) (db *sql.DB, kind string, err error) {
	if dsn != "" {
		db, err = sql.Open("pgx", dsn) // registered by the postgres store's package
		return db, "postgres", err
	}
	db, err = sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)") // registered by the sqlite store's package
	return db, "sqlite", err
}

var passwordRE = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// redactDSN hides the password of a DSN, URL or key=value.
func redactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		if q := u.Query(); q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	}
	return passwordRE.ReplaceAllString(dsn, "${1}xxxxx")
}

// withSearchPath returns dsn with the PostgreSQL search_path set to schema,
// so that unqualified tables (ours and the store's) live there.
func withSearchPath(dsn, schema string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}
