package pglogtail

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

const (
	connectTimeout = 30 * time.Second
	// closeTimeout bounds the goodbye on Close: the last status update,
	// ending the stream so the slot is free for a standby at once, and
	// closing the connection.
	closeTimeout = 5 * time.Second
)

// connect opens a connection to the tail's database: a replication
// connection (replication=database, which also runs plain SQL through the
// simple protocol) or an ordinary one for sweeps.
func connect(ctx context.Context, dsn string, replication bool) (*pgconn.PgConn, error) {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pglogtail: parsing the DSN: %w", err)
	}
	if replication {
		cfg.RuntimeParams["replication"] = "database"
	}
	// Values are decoded from text; pin bytea's text form.
	cfg.RuntimeParams["bytea_output"] = "hex"
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "meshmq-pglogtail"
	}
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pglogtail: connecting: %w", err)
	}
	return conn, nil
}

// closeConn closes conn, and waits, at most closeTimeout, until pgconn's
// cleanup is done: nothing of the tail outlives Close.
func closeConn(conn *pgconn.PgConn) {
	if conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	conn.Close(ctx)
	select {
	case <-conn.CleanupDone():
	case <-ctx.Done():
	}
}

// query runs sql with the simple protocol, the only one a replication
// connection accepts, and returns the rows' text values (nil for NULL).
func query(ctx context.Context, conn *pgconn.PgConn, sql string) ([][][]byte, error) {
	results, err := conn.Exec(ctx, sql).ReadAll()
	if err != nil {
		return nil, err
	}
	var rows [][][]byte
	for _, r := range results {
		rows = append(rows, r.Rows...)
	}
	return rows, nil
}

// Names are checked identifiers (options.go); quoting is for form's sake.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func quoteLiteral(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

// SQLSTATEs the tail handles.
const (
	codeDuplicateObject = "42710" // the slot or publication was created meanwhile
	codeUndefinedObject = "42704" // no such slot
	codeObjectInUse     = "55006" // the slot is streamed by another connection
	codeDuplicateTable  = "42P07" // the sweeps table was created meanwhile
	codeUniqueViolation = "23505" // the same, caught in the catalog
)

func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}
