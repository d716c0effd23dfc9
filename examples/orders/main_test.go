package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/examples/internal/cli"
	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/internal/testutil/pgtest"
	"github.com/meshmq/meshmq/peer/outbox/sqlite"
)

// The demo re-executes its program for the orders and shipping processes;
// in the tests that program is the test binary, which runs main's code
// when the demo's environment variable says it is one of them.
func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		os.Exit(mainExit(os.Args[1:]))
	}
	goleak.VerifyTestMain(m)
}

// testConfig is the demo, smaller and faster: the processes are this test
// binary, built with -race or not.
func testConfig(t *testing.T) demoConfig {
	return demoConfig{exe: os.Args[0], rate: 100, count: 400, dir: t.TempDir()}
}

// runTestDemo runs the demo and checks that its story was told and its
// check passed.
func runTestDemo(t *testing.T, cfg demoConfig) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*testutil.Deadline)
	defer cancel()
	var out syncBuffer
	start := time.Now()
	err := runDemo(ctx, cfg, &out)
	s := out.String()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, s)
	}
	holdTx := orderID(validOrderFrom(cfg.count / 4))
	for _, want := range []string{
		"orders is inside the transaction of " + holdTx,
		"kill -9 orders#1", "restarted orders#2", "next is " + holdTx + ": the killed transaction left neither order nor event",
		"kill -9 shipping#1", "orders' gossip declared shipping failed", "restarted shipping#2",
		"without shipping it twice",
		"shipping caught up", "stopped both gracefully",
		"every committed order shipped exactly once; no rolled-back order shipped; no shipment without its order",
		"8 customers, 0 of them shipped out of order",
		"PASS in ",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the demo's output lacks %q", want)
		}
	}
	// At least the held shipment came again, and was skipped by its claim.
	if m := regexp.MustCompile(`redeliveries +(\d+) skipped by their claims`).FindStringSubmatch(s); m == nil || m[1] == "0" {
		t.Errorf("no redelivery skipped by its claim")
	}
	want := validOrdersUpTo(cfg.count)
	for _, line := range []string{"orders committed", "shipments"} {
		re := regexp.MustCompile(`(?m)^  ` + line + ` +(\d+)`)
		if m := re.FindStringSubmatch(s); m == nil || m[1] != strconv.Itoa(want) {
			t.Errorf("%s: want %d", line, want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", s)
	}
	t.Logf("the demo took %v", time.Since(start).Round(time.Millisecond))
	return s
}

// The demo, as `go run ./examples/orders` runs it, on SQLite: both
// processes killed with SIGKILL and restarted, and its check passes.
func TestDemo(t *testing.T) {
	runTestDemo(t, testConfig(t))
}

// The orders database on PostgreSQL (the shipping one in SQLite): the
// orders process is killed inside a transaction and restarted, its
// numbering resumes, and every committed order is shipped exactly once.
func TestOrdersOnPostgres(t *testing.T) {
	cfg := testConfig(t)
	cfg.ordersDSN = pgtest.Database(t)
	runTestDemo(t, cfg)
}

// The demo's -postgres: both databases on one server, each in its schema.
func TestDemoPostgresSchemas(t *testing.T) {
	cfg := testConfig(t)
	cfg.dir = ""
	cfg.postgres = pgtest.Database(t)
	s := runTestDemo(t, cfg)
	if strings.Contains(s, "are kept") {
		t.Errorf("the schemas were kept after a run that passed")
	}
}

// The check catches what it is there for: a missing shipment, a second
// one is impossible (the table's key), so an orphan, a rolled-back order
// shipped, a skipped number, a wrong amount, and a customer out of order.
func TestVerifyFindsProblems(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ordersDB, shippingDB := openTestDB(t, filepath.Join(dir, "orders.db"), ordersDDL), openTestDB(t, filepath.Join(dir, "shipping.db"), shipmentsDDL)
	const upTo = 40
	var valid, invalid []order
	for n := 1; n <= upTo; n++ {
		if o := orderFor(n); o.check() == nil {
			valid = append(valid, o)
		} else {
			invalid = append(invalid, o)
		}
	}
	if len(invalid) == 0 || len(valid) < 10 {
		t.Fatalf("orders 1 to %d: %d valid, %d failing the check; the test needs both", upTo, len(valid), len(invalid))
	}
	insert := func(db *sql.DB, query string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, query, args...); err != nil {
			t.Fatal(err)
		}
	}
	ship := func(o order) {
		insert(shippingDB, `INSERT INTO shipments (order_id, customer, total_cents, message_id) VALUES (?, ?, ?, ?)`,
			o.id, o.customer, o.cents, o.id+"/created")
		insert(shippingDB, `INSERT INTO meshmq_processed (consumer, id, at) VALUES (?, ?, 0)`, shippingConsumer, o.id+"/created")
	}

	// First, everything right.
	for _, o := range valid {
		insert(ordersDB, `INSERT INTO orders (id, customer, total_cents) VALUES (?, ?, ?)`, o.id, o.customer, o.cents)
		ship(o)
	}
	v, err := verify(ctx, ordersDB, shippingDB, "sqlite", upTo)
	if err != nil {
		t.Fatal(err)
	}
	if !v.ok() || v.committed != len(valid) || v.shipments != len(valid) || v.rolledBack != len(invalid) || v.claims != len(valid) {
		t.Fatalf("a correct run: %+v", v)
	}

	// Then a problem of each kind.
	insert(shippingDB, `DELETE FROM shipments WHERE order_id = ?`, valid[0].id)             // unshipped (and a claim too many)
	insert(ordersDB, `DELETE FROM orders WHERE id = ?`, valid[1].id)                        // skipped, and its shipment orphaned
	ship(invalid[0])                                                                        // a rolled-back order shipped
	insert(ordersDB, `UPDATE orders SET total_cents = 1 WHERE id = ?`, valid[2].id)         // not what was ordered
	insert(shippingDB, `DELETE FROM shipments WHERE order_id = ?`, valid[3].id)             // shipped last,
	insert(shippingDB, `DELETE FROM meshmq_processed WHERE id = ?`, valid[3].id+"/created") // after the customer's later orders
	ship(valid[3])
	v, err = verify(ctx, ordersDB, shippingDB, "sqlite", upTo)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(v.problems, "\n")
	for _, want := range []string{
		"order " + valid[0].id + ": shipped 0 times",
		"order " + valid[1].id + ": missing, its number skipped",
		"shipment of " + valid[1].id + ": no such order",
		"shipment of " + invalid[0].id + ": the order was rolled back",
		"order " + valid[2].id + ": " + valid[2].customer + " $0.01",
		"customer " + valid[3].customer + ": ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the check missed %q; it found:\n%s", want, got)
		}
	}
	if v.ok() || v.unordered == 0 {
		t.Errorf("ok %v, %d customers out of order", v.ok(), v.unordered)
	}
}

func openTestDB(t *testing.T, path string, ddl map[string]string) *sql.DB {
	t.Helper()
	d, err := openDatabase(context.Background(), path, "", ddl, testutil.Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.close() })
	return d.db
}

// Orders are a function of their number; IDs parse back; the event
// round-trips through the default codec.
func TestOrders(t *testing.T) {
	seen := map[string]int{}
	failing := 0
	for n := 1; n <= 10000; n++ {
		o := orderFor(n)
		if o != orderFor(n) {
			t.Fatalf("order %d differs between two calls", n)
		}
		if back, ok := parseOrderID(o.id); !ok || back != n {
			t.Fatalf("%s parses as %d, %v", o.id, back, ok)
		}
		if o.check() != nil {
			failing++
		}
		seen[o.customer]++
	}
	if failing < 500 || failing > 1500 {
		t.Errorf("%d of 10000 orders fail the check, want about one in ten", failing)
	}
	if len(seen) != len(customers) {
		t.Errorf("customers: %v", seen)
	}
	for _, bad := range []string{"", "ord-1", "ord-0000000x", "ord-00000000", "x-00000001", "ord-000000001"} {
		if _, ok := parseOrderID(bad); ok {
			t.Errorf("%q parses", bad)
		}
	}
	ev := OrderCreated{OrderID: orderID(7), Customer: "bob", TotalCents: 1234, Created: time.Now().Round(0)}
	m := &channel.Message{}
	if err := m.Encode(nil, ev); err != nil {
		t.Fatal(err)
	}
	var back OrderCreated
	if err := m.Decode(&back); err != nil {
		t.Fatal(err)
	}
	if back.OrderID != ev.OrderID || back.Customer != ev.Customer || back.TotalCents != ev.TotalCents || !back.Created.Equal(ev.Created) {
		t.Errorf("decoded %+v, want %+v", back, ev)
	}
}

func TestFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-role", "billing"}, `-role "billing": want orders, shipping, or none for the demo`},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"-nope"}, "flag provided but not defined: -nope"},
		{[]string{"-name", "a"}, "-name applies to -role orders and -role shipping"},
		{[]string{"-db", "x.db"}, "-db applies to -role orders and -role shipping"},
		{[]string{"-hold-tx", "5"}, "-hold-tx applies to -role orders"},
		{[]string{"-role", "orders", "-hold-ack", "5"}, "-hold-ack applies to -role shipping"},
		{[]string{"-role", "orders", "-dir", "/tmp"}, "-dir applies to the demo"},
		{[]string{"-role", "shipping", "-rate", "5"}, "-rate applies to -role orders and the demo"},
		{[]string{"-role", "orders", "-db", "a.db", "-postgres", "postgres://x"}, "-db and -postgres: give one"},
		{[]string{"-role", "orders", "-listen", "127.0.0.1:7001"}, "want tcp://host:port"},
		{[]string{"-role", "orders", "-gossip", "7946"}, `-gossip "7946": want host:port`},
		{[]string{"-role", "orders", "-join", "127.0.0.1:7946,localhost"}, `-join "localhost"`},
		{[]string{"-role", "orders", "-profile", "wan"}, `-profile "wan": want fast or lan`},
		{[]string{"-role", "orders", "-rate", "0"}, "-rate 0: want a positive number"},
		{[]string{"-role", "orders", "-count", "-2"}, "-count -2: want 0 (no limit) or more"},
		{[]string{"-count", "50"}, "the demo needs at least 100 orders"},
	} {
		err := run(context.Background(), tc.args, nil)
		var ue *cli.UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%q: got %v, want a usage error", tc.args, err)
			continue
		}
		if !strings.Contains(ue.Usage, tc.want) || !strings.Contains(ue.Usage, "Usage: go run ./examples/orders") ||
			!strings.Contains(ue.Usage, "-role shipping -db /tmp/shipping.db") {
			t.Errorf("%q: usage text lacks %q or the examples:\n%s", tc.args, tc.want, ue.Usage)
		}
	}
	if err := run(context.Background(), []string{"-h"}, nil); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: got %v, want flag.ErrHelp", err)
	}
	for _, tc := range []struct {
		args        []string
		name, db    string
		rate        float64
		count       int
		postgresSet bool
	}{
		{[]string{"-role", "orders"}, "orders", "orders.db", defaultOrdersRate, 0, false},
		{[]string{"-role", "shipping", "-postgres", "postgres://x"}, "shipping", "", defaultOrdersRate, 0, true},
		{[]string{"-role", "orders", "-name", "o2", "-db", "/tmp/o.db", "-rate", "3", "-count", "9"}, "o2", "/tmp/o.db", 3, 9, false},
		{nil, "", "", defaultDemoRate, defaultDemoCount, false},
	} {
		o, err := parseArgs(tc.args)
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if o.name != tc.name || o.db != tc.db || o.rate != tc.rate || o.count != tc.count || (o.postgres != "") != tc.postgresSet {
			t.Errorf("%q: parsed %+v", tc.args, o)
		}
	}
}

func TestDSNs(t *testing.T) {
	for _, tc := range []struct{ in, redacted, schema string }{
		{"postgres://u:secret@h:5432/db?sslmode=disable", "postgres://u:xxxxx@h:5432/db?sslmode=disable",
			"postgres://u:secret@h:5432/db?search_path=s&sslmode=disable"},
		{"postgres://u@h/db?password=secret", "postgres://u@h/db?password=xxxxx", "postgres://u@h/db?password=secret&search_path=s"},
		{"host=h user=u password=secret dbname=db", "host=h user=u password=xxxxx dbname=db",
			"host=h user=u password=secret dbname=db search_path=s"},
		{"host=h password='se cret' dbname=db", "host=h password=xxxxx dbname=db", "host=h password='se cret' dbname=db search_path=s"},
	} {
		if got := redactDSN(tc.in); got != tc.redacted {
			t.Errorf("redactDSN(%q) = %q, want %q", tc.in, got, tc.redacted)
		}
		if got := withSearchPath(tc.in, "s"); got != tc.schema {
			t.Errorf("withSearchPath(%q) = %q, want %q", tc.in, got, tc.schema)
		}
	}
	if got := rebind("postgres", "VALUES (?, ?, ?)"); got != "VALUES ($1, $2, $3)" {
		t.Errorf("rebind: %q", got)
	}
	if got := rebind("sqlite", "VALUES (?, ?)"); got != "VALUES (?, ?)" {
		t.Errorf("rebind: %q", got)
	}
}

// The store's tables are there for the check's claim count: the
// verification reads meshmq_processed, the sqlite store's default name.
func TestProcessedTableName(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.DB().Exec(`SELECT count(*) FROM meshmq_processed`); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer safe for the demo's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
