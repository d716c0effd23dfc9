package peer

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
)

// Send-side middleware runs around Send in registration order and can
// change the message; handle-side middleware wraps the handler likewise.
func TestMiddlewareOrderAndHeaders(t *testing.T) {
	var mu sync.Mutex
	var trace []string
	log := func(s string) { mu.Lock(); trace = append(trace, s); mu.Unlock() }
	sendMW := func(name string) SendMiddleware {
		return func(next SendFunc) SendFunc {
			return func(ctx context.Context, m *channel.Message) error {
				log("send " + name)
				m.SetHeader("x-via", m.Headers.Get("x-via")+name)
				return next(ctx, m)
			}
		}
	}
	handleMW := func(name string) HandleMiddleware {
		return func(next channel.Handler) channel.Handler {
			return func(ctx context.Context, m *channel.Message) error {
				log("handle " + name + " " + m.Headers.Get("x-via"))
				return next(ctx, m)
			}
		}
	}
	done := make(chan struct{})
	h := func(ctx context.Context, m *channel.Message) error { log("handler"); close(done); return nil }
	rx := start(t, append(fastOpts("rx"), WithHandleMiddleware(handleMW("1"), handleMW("2")))...)
	if err := rx.Handle("work", h); err != nil {
		t.Fatal(err)
	}
	tx := start(t, append(fastOpts("tx"), WithDiscovery(discovery.NewStatic(member(rx, "work"))),
		WithSendMiddleware(sendMW("a"), sendMW("b")))...)
	if err := tx.Send(context.Background(), indexed("work", 0, "")); err != nil {
		t.Fatal(err)
	}
	<-done
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(trace, ", "); got != "send a, send b, handle 1 ab, handle 2 ab, handler" {
		t.Fatalf("trace: %s", got)
	}
}

// A send middleware that returns an error stops the message.
func TestSendMiddlewareCanRefuse(t *testing.T) {
	refuse := errors.New("quota exceeded")
	mw := func(next SendFunc) SendFunc {
		return func(ctx context.Context, m *channel.Message) error { return refuse }
	}
	rx := start(t, fastOpts("rx")...)
	tx := start(t, append(fastOpts("tx"), WithDiscovery(discovery.NewStatic(member(rx, "work"))), WithSendMiddleware(mw))...)
	if err := tx.Send(context.Background(), indexed("work", 0, "")); !errors.Is(err, refuse) {
		t.Fatalf("got %v", err)
	}
	if st := tx.Stats(); st.Sent != 0 || st.InFlight != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// Best-effort messages are not buffered or acknowledged; on a healthy
// connection they arrive.
func TestBestEffort(t *testing.T) {
	cnt := newCounter()
	rx, tx := pair(t, cnt.handler, nil)
	ctx := context.Background()
	// The first Send dials; best effort does not wait for the connection.
	if err := tx.Send(ctx, indexed("work", 0, ""), BestEffort()); !errors.Is(err, ErrNotConnected) && err != nil {
		t.Fatalf("best effort before connecting: %v", err)
	}
	waitFor(t, "the connection", func() bool { d := tx.destIfAny(rx.Name()); return d != nil && d.connected() })
	for i := 1; i <= 1000; i++ {
		if err := tx.Send(ctx, indexed("work", i, ""), BestEffort()); err != nil {
			t.Fatal(err)
		}
		if st := tx.Stats(); st.InFlight != 0 {
			t.Fatalf("best-effort message buffered: %+v", st)
		}
	}
	waitFor(t, "best-effort delivery", func() bool {
		cnt.mu.Lock()
		defer cnt.mu.Unlock()
		for i := 1; i <= 1000; i++ {
			if cnt.times[uint64(i)] != 1 {
				return false
			}
		}
		return true
	})
	if st := tx.Stats(); st.Acked != 0 || st.Sent != 0 {
		t.Fatalf("best-effort messages acknowledged: %+v", st)
	}
}

// Send validates, routes and reports typed errors.
func TestSendErrors(t *testing.T) {
	rx := start(t, fastOpts("rx")...)
	tx := start(t, append(fastOpts("tx"), WithDiscovery(discovery.NewStatic(member(rx, "work"))))...)
	ctx := context.Background()
	if err := tx.Send(ctx, &channel.Message{Body: []byte("x")}); !errors.Is(err, channel.ErrInvalidMessage) {
		t.Fatalf("no channel: %v", err)
	}
	m := indexed("work", 0, "")
	m.To = "nobody"
	if err := tx.Send(ctx, m); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("unknown peer: %v", err)
	}
	if err := tx.Send(ctx, nil); err == nil {
		t.Fatal("nil message accepted")
	}
	if err := tx.Send(ctx, indexed("billing", 0, ""), BestEffort()); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("best effort to a service with no instance: %v", err)
	}
	closePeer(t, tx)
	if err := tx.Send(ctx, indexed("work", 0, "")); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	if err := tx.Handle("x", func(context.Context, *channel.Message) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Handle after close: %v", err)
	}
}

func TestOptionErrors(t *testing.T) {
	for _, o := range []Option{WithName(""), WithBuffer(0, 1), WithCredit(0), WithRetry(RetryPolicy{MaxAttempts: -1}),
		WithHeartbeat(time.Second, time.Second), WithReconnect(0, 1), WithMaxMessageSize(10), WithDiscovery(nil), WithStore(nil),
		WithConnectionLimits(0, 1), WithConnectionLimits(1, 0)} {
		_, err := New(context.Background(), o)
		var oe *OptionError
		if !errors.As(err, &oe) {
			t.Errorf("got %v, want an OptionError", err)
		}
	}
}
