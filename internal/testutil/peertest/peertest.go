// Package peertest starts real peers on 127.0.0.1 for the tests of the
// packages built on package peer: metrics, tracing, the dashboard, AsyncAPI
// documents and the examples. Each peer logs through testutil.Logger and is
// closed, within CloseTimeout, when its test ends; a failed Close fails the
// test. Exchange runs the traffic that the metrics packages' tests measure.
//
// Only tests import this package; package peer's own in-package tests
// cannot, as this package imports peer.
package peertest

import (
	"context"
	"testing"
	"time"

	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/peer"
)

// CloseTimeout bounds the Close of a test's peer when the test ends.
const CloseTimeout = 20 * time.Second

// Quick returns the tests' timing profile: quick heartbeats, reconnects and
// retries, so that a lost connection or a failed handler run is retried
// within milliseconds.
func Quick() []peer.Option {
	return []peer.Option{
		peer.WithHeartbeat(50*time.Millisecond, 500*time.Millisecond),
		peer.WithReconnect(5*time.Millisecond, 50*time.Millisecond),
		peer.WithRetry(peer.RetryPolicy{MaxAge: time.Minute, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Jitter: 0.5}),
	}
}

// Start starts a peer named name with the Quick profile and then opts
// (which may override it), closed when the test ends.
func Start(t testing.TB, name string, opts ...peer.Option) *peer.Peer {
	t.Helper()
	return StartDefaults(t, name, append(Quick(), opts...)...)
}

// StartDefaults starts a peer named name with the peer's default timings
// and opts, closed when the test ends.
func StartDefaults(t testing.TB, name string, opts ...peer.Option) *peer.Peer {
	t.Helper()
	opts = append([]peer.Option{peer.WithName(name), peer.WithLogger(testutil.Logger())}, opts...)
	p, err := peer.New(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), CloseTimeout)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("close %s: %v", name, err)
		}
	})
	return p
}

// StaticDiscovery is the option of a static discovery that lists peers as
// they advertise themselves now: start a sender with it once its receivers
// have registered their handlers.
func StaticDiscovery(peers ...*peer.Peer) peer.Option {
	ms := make([]discovery.Member, len(peers))
	for i, p := range peers {
		ms[i] = p.Advertisement()
	}
	return peer.WithDiscovery(discovery.NewStatic(ms...))
}
