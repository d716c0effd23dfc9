package peer

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/meshmq/meshmq/internal/testutil"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testLogger() *slog.Logger { return testutil.Logger() }

// fastOpts is the test profile: quick heartbeats, reconnects and retries.
func fastOpts(name string) []Option {
	return []Option{
		WithName(name),
		WithLogger(testLogger()),
		WithHeartbeat(50*time.Millisecond, 500*time.Millisecond),
		WithReconnect(5*time.Millisecond, 50*time.Millisecond),
		WithRetry(RetryPolicy{MaxAttempts: 0, MaxAge: time.Minute, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Jitter: 0.5}),
	}
}

func start(t testing.TB, opts ...Option) *Peer {
	t.Helper()
	p, err := New(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closePeer(t, p) })
	return p
}

func closePeer(t testing.TB, p *Peer) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Errorf("close %s: %v", p.Name(), err)
	}
}

// member is how a test's static discovery lists p.
func member(p *Peer, services ...string) discovery.Member {
	return discovery.Member{Name: p.Name(), Endpoint: p.Endpoint(), Services: services}
}

// counter records handled messages by their body's index.
type counter struct {
	mu    sync.Mutex
	times map[uint64]int
	order map[string][]uint64 // per segment and key, in handling order
	seg   int                 // the receiver incarnation handling now
	segs  map[uint64][]int    // the incarnations that handled each index
	total int
}

// segment starts a new receiver incarnation: order is checked within each;
// across a kill, duplicates of unacknowledged messages replay their suffix.
func (c *counter) segment() {
	c.mu.Lock()
	c.seg++
	c.mu.Unlock()
}

func newCounter() *counter {
	return &counter{times: map[uint64]int{}, order: map[string][]uint64{}, segs: map[uint64][]int{}}
}

func (c *counter) handler(ctx context.Context, m *channel.Message) error {
	c.record(m)
	return nil
}

func (c *counter) record(m *channel.Message) {
	i := binary.BigEndian.Uint64(m.Body)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.times[i]++
	c.total++
	c.segs[i] = append(c.segs[i], c.seg)
	if m.Key != "" {
		k := fmt.Sprintf("%d/%s", c.seg, m.Key)
		c.order[k] = append(c.order[k], i)
	}
}

// union merges what several receivers handled.
func union(cs ...*counter) *counter {
	u := newCounter()
	for _, c := range cs {
		c.mu.Lock()
		for i, k := range c.times {
			u.times[i] += k
		}
		c.mu.Unlock()
	}
	return u
}

func (c *counter) distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.times)
}

// check asserts every index in [0, n) was handled, and returns how many
// extra times in total (duplicates).
func (c *counter) check(t testing.TB, n int) (dups int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := 0; i < n; i++ {
		switch k := c.times[uint64(i)]; {
		case k == 0:
			t.Fatalf("message %d was never handled", i)
		case k > 1:
			// A message runs again only in a later incarnation of the
			// receiver (its acknowledgement was lost with the old one),
			// never twice in one.
			for j := 1; j < len(c.segs[uint64(i)]); j++ {
				if c.segs[uint64(i)][j] == c.segs[uint64(i)][j-1] {
					t.Fatalf("message %d handled twice by one receiver incarnation", i)
				}
			}
			dups += k - 1
		}
	}
	if len(c.times) != n {
		t.Fatalf("%d distinct messages handled, want %d", len(c.times), n)
	}
	return dups
}

// checkOrder asserts per-key order within each receiver incarnation: each
// key's indexes ascend; a message handled again (its ack lost) repeats at most
// immediately after itself.
func (c *counter) checkOrder(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, seq := range c.order {
		var hi uint64
		for j, v := range seq {
			if j > 0 && v < hi {
				t.Fatalf("key %s: %d handled after %d (order %v)", key, v, hi, seq[max(0, j-5):j+1])
			}
			hi = max(hi, v)
		}
	}
}

func indexed(service string, i int, key string) *channel.Message {
	body := binary.BigEndian.AppendUint64(nil, uint64(i))
	return &channel.Message{Kind: channel.Command, Channel: service, Key: key, Body: body}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, what, cond)
}

// waitForState is waitFor that prints the peers' delivery state on timeout.
func waitForState(t testing.TB, what string, cond func() bool, peers ...*Peer) {
	t.Helper()
	testutil.WaitFor(t, what, cond, func() {
		for _, p := range peers {
			t.Log(p.debugState())
		}
	})
}
