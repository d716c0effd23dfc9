package oteltrace_test

import (
	"context"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/internal/testutil/peertest"
	"github.com/meshmq/meshmq/peer"
	"github.com/meshmq/meshmq/peer/outbox/sqlite"
)

// The transactional outbox: SendTx runs the send middleware as the message
// is written into the application's transaction, so the trace context is
// stored with it; once committed, the relay sends it, and the handler runs
// in the trace that was active when SendTx was called. A transaction rolled
// back sends nothing.
func TestOutboxCarriesTraceContext(t *testing.T) {
	ctx := context.Background()
	tr := newTracing(t)
	got := make(chan received, 2)
	rx := peertest.Start(t, "rx", peer.WithHandleMiddleware(tr.middleware().Handle))
	if err := rx.Handle("shipping", func(ctx context.Context, m *channel.Message) error {
		got <- received{span: trace.SpanContextFromContext(ctx), body: string(m.Body)}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "orders.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() }) // after the peer's Close: cleanups run last first
	db := store.DB()
	if _, err := db.Exec("CREATE TABLE orders (id TEXT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	app := peertest.Start(t, "app", peer.WithStore(store), peer.WithSendMiddleware(tr.middleware().Send),
		peertest.StaticDiscovery(rx))

	// placeOrder writes an order and its command in one transaction, in a
	// span of its own, and commits or rolls back.
	placeOrder := func(id string, commit bool) trace.SpanContext {
		ctx, span := tr.root("place " + id)
		defer span.End()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, "INSERT INTO orders (id) VALUES (?)", id); err != nil {
			t.Fatal(err)
		}
		if err := app.SendTx(ctx, tx, &channel.Message{Kind: channel.Command, Channel: "shipping", Body: []byte(id)}); err != nil {
			t.Fatal(err)
		}
		if commit {
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		return span.SpanContext()
	}
	rolledBack := placeOrder("o-1", false)
	committed := placeOrder("o-2", true)

	h := waitFor(t, got)
	if h.body != "o-2" {
		t.Fatalf("handled %q, want o-2 (o-1 was rolled back)", h.body)
	}
	if h.span.TraceID() != committed.TraceID() {
		t.Errorf("the handler ran in trace %v, want %v: the trace of SendTx", h.span.TraceID(), committed.TraceID())
	}
	testutil.WaitFor(t, "the relay counted", func() bool { return app.Stats().Relayed == 1 && app.Stats().InFlight == 0 })

	// Both SendTx calls made producer spans, ended as the messages were
	// written; only the committed one has a consumer span.
	sends := tr.wait(t, "send shipping", 2)
	process := tr.wait(t, "process shipping", 1)[0]
	var producer trace.SpanContext
	for _, s := range sends {
		switch s.Parent().SpanID() {
		case committed.SpanID():
			producer = s.SpanContext()
		case rolledBack.SpanID():
		default:
			t.Errorf("send span with parent %v", s.Parent().SpanID())
		}
	}
	childOf(t, process, producer)
	if process.SpanContext().SpanID() != h.span.SpanID() {
		t.Error("the handler did not run in the consumer span")
	}
	select {
	case h := <-got:
		t.Errorf("handled %q too", h.body)
	default:
	}
}
