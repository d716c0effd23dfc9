package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/dashboard"
	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/peer"
)

// refresh is the tests' refresh interval: rates settle quickly.
const refresh = 200 * time.Millisecond

// handle registers a handler for service on p that counts what it handles.
func handle(t *testing.T, p *peer.Peer, service string) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	if err := p.Handle(service, func(ctx context.Context, m *channel.Message) error {
		n.Add(1)
		return nil
	}, peer.Concurrency(4)); err != nil {
		t.Fatal(err)
	}
	return &n
}

// serve serves p's dashboard with httptest, closed when the test ends, and
// returns the server's URL.
func serve(t *testing.T, p *peer.Peer, opts ...dashboard.Option) string {
	t.Helper()
	h, err := dashboard.New(p, append([]dashboard.Option{dashboard.WithRefresh(refresh)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// get fetches url and returns the response and its body.
func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

// state fetches and decodes the dashboard's state at base.
func state(t *testing.T, base string) dashboard.State {
	t.Helper()
	res, body := get(t, base+"/api/state")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/state: %s: %s", res.Status, body)
	}
	var st dashboard.State
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("decoding the state: %v\n%s", err, body)
	}
	return st
}

// waitState polls the state until cond holds, failing after
// testutil.Deadline with the last state.
func waitState(t *testing.T, base, what string, cond func(dashboard.State) bool) dashboard.State {
	t.Helper()
	deadline := time.Now().Add(testutil.Deadline)
	for {
		st := state(t, base)
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(st, "", "  ")
			t.Fatalf("timed out waiting for %s; last state:\n%s", what, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func channelOf(st dashboard.State, name string) (dashboard.Channel, bool) {
	for _, c := range st.Channels {
		if c.Name == name {
			return c, true
		}
	}
	return dashboard.Channel{}, false
}

func memberOf(st dashboard.State, name string) (dashboard.Member, bool) {
	for _, m := range st.Members {
		if m.Name == name {
			return m, true
		}
	}
	return dashboard.Member{}, false
}

// flow keeps p sending burst messages to service every tick until stopped.
type flow struct {
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	sent     atomic.Int64
	err      atomic.Value // the first Send error
}

func startFlow(t *testing.T, p *peer.Peer, service string, tick time.Duration, burst int) *flow {
	f := &flow{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		ticker := time.NewTicker(tick)
		defer ticker.Stop()
		for i := 0; ; i++ {
			select {
			case <-f.stop:
				return
			case <-ticker.C:
			}
			for j := 0; j < burst; j++ {
				msg := &channel.Message{Kind: channel.Command, Channel: service, Body: []byte(fmt.Sprint(i, "/", j))}
				if err := p.Send(context.Background(), msg); err != nil {
					f.err.CompareAndSwap(nil, err)
					return
				}
				f.sent.Add(1)
			}
		}
	}()
	t.Cleanup(func() { f.halt(t) })
	return f
}

// halt stops the flow and returns how many messages it sent.
func (f *flow) halt(t *testing.T) int64 {
	f.stopOnce.Do(func() { close(f.stop) })
	<-f.done
	if err, _ := f.err.Load().(error); err != nil {
		t.Errorf("send: %v", err)
	}
	return f.sent.Load()
}

// settleAtEnd makes the test wait, once it ends and before the peers close
// (register it after starting them, before starting flows), until none of
// peers has a message unacknowledged: peers sending to each other would
// otherwise wait in Close for acknowledgements from one closed already.
func settleAtEnd(t *testing.T, peers ...*peer.Peer) {
	t.Cleanup(func() {
		deadline := time.Now().Add(testutil.Deadline)
		for _, p := range peers {
			for p.Stats().InFlight > 0 {
				if time.Now().After(deadline) {
					t.Errorf("%s: %d messages still unacknowledged", p.Name(), p.Stats().InFlight)
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	})
}
