package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/meshmq/meshmq/internal/testutil"

	"github.com/meshmq/meshmq/internal/backoff"
	"github.com/meshmq/meshmq/internal/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a Handler that keeps what it sees.
type recorder struct {
	mu      sync.Mutex
	entries []wire.Entry
	packets []wire.Packet
	ups     []*Conn
	downs   map[*Conn]error
	block   chan struct{} // if set, Packet waits on it (a stalled reader)
}

func newRecorder() *recorder { return &recorder{downs: map[*Conn]error{}} }

func (r *recorder) Up(c *Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ups = append(r.ups, c)
}

func (r *recorder) Packet(c *Conn, p wire.Packet) {
	if r.block != nil {
		<-r.block
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if d, ok := p.(*wire.Data); ok {
		for _, e := range d.Entries {
			e.Message = bytes.Clone(e.Message)
			r.entries = append(r.entries, e)
		}
		return
	}
	r.packets = append(r.packets, p)
}

func (r *recorder) Down(c *Conn, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.downs[c] = err
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.entries)
}

func (r *recorder) snapshot() []wire.Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]wire.Entry(nil), r.entries...)
}

func (r *recorder) downErr(c *Conn) (error, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	err, ok := r.downs[c]
	return err, ok
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, what, cond)
}

// fast is a test profile: quick heartbeats and reconnects.
func fast(name string, h Handler) Config {
	return Config{
		Name:              name,
		Handler:           h,
		Logger:            testLogger(),
		HeartbeatInterval: 50 * time.Millisecond,
		HeartbeatTimeout:  500 * time.Millisecond,
		HandshakeTimeout:  2 * time.Second,
		WriteTimeout:      2 * time.Second,
		Reconnect:         backoff.Policy{Min: 5 * time.Millisecond, Max: 100 * time.Millisecond, Factor: 2, Jitter: 0.5},
	}
}

func testLogger() *slog.Logger { return testutil.Logger() }

func listen(t testing.TB, cfg Config) *Transport {
	t.Helper()
	tr, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeTransport(t, tr) })
	return tr
}

func closeTransport(t testing.TB, tr *Transport) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Close(ctx); err != nil {
		t.Errorf("close %s: %v", tr.Name(), err)
	}
}

func entry(stream, seq uint64, body []byte) *wire.Entry {
	return &wire.Entry{Stream: stream, Seq: seq, Attempt: 1, Partition: wire.NoPartition, Message: body}
}

// connect links from to to and waits for the connection.
func connect(t testing.TB, from, to *Transport) *Link {
	t.Helper()
	l, err := from.Connect(to.Name(), to.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := l.WaitUp(ctx); err != nil {
		t.Fatalf("%s -> %s: %v", from.Name(), to.Name(), err)
	}
	return l
}

// exchange proves a link works: a fresh message goes through and arrives.
func exchange(t testing.TB, l *Link, rec *recorder) {
	t.Helper()
	body := []byte(fmt.Sprintf("probe-%d", time.Now().UnixNano()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		c, err := l.WaitUp(ctx)
		if err != nil {
			t.Fatalf("link to %s never came up: %v", l.Name(), err)
		}
		if err := c.Send(ctx, entry(99, 1, body)); err == nil {
			break
		} else if !errors.Is(err, ErrNotConnected) {
			t.Fatal(err)
		}
	}
	waitFor(t, "probe delivery", func() bool {
		for _, e := range rec.snapshot() {
			if bytes.Equal(e.Message, body) {
				return true
			}
		}
		return false
	})
}
