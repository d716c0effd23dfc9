package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/peer"
	"github.com/meshmq/meshmq/security"
)

// peerPair starts a receiver handling "bench" and a sender that knows it;
// with secure, both use CURVE and admit only each other's key.
func peerPair(ctx context.Context, handled *atomic.Int64, secure bool) (tx, rx *peer.Peer, err error) {
	var rxOpts, txOpts []peer.Option
	if secure {
		var keys [2]security.KeyPair
		for i := range keys {
			if keys[i], err = security.GenerateKeyPair(); err != nil {
				return nil, nil, err
			}
		}
		allow := security.NewAllowlist(keys[0].Public, keys[1].Public)
		rxOpts = append(rxOpts, peer.WithSecurity(security.Config{Keys: keys[0], Allow: allow}))
		txOpts = append(txOpts, peer.WithSecurity(security.Config{Keys: keys[1], Allow: allow}))
	}
	rxView := discovery.NewStatic()
	rx, err = peer.New(ctx, append(rxOpts, peer.WithName("bench-rx"), peer.WithDiscovery(rxView))...)
	if err != nil {
		return nil, nil, err
	}
	err = rx.Handle("bench", func(context.Context, *channel.Message) error {
		handled.Add(1)
		return nil
	}, peer.Concurrency(2), peer.Partitions(64))
	if err == nil {
		static := discovery.NewStatic(rx.Advertisement())
		tx, err = peer.New(ctx, append(txOpts, peer.WithName("bench-tx"), peer.WithDiscovery(static))...)
		if err == nil && secure {
			// The receiver checks the sender's name against its key.
			rxView.Add(tx.Advertisement())
		}
	}
	if err != nil {
		rx.Close(ctx)
		return nil, nil, err
	}
	return tx, rx, nil
}

// peerSend sends n messages of size bytes through the peer API and times
// until all are handled (and, at least once, acknowledged). It also samples
// the heap in use, returned as peakHeap.
func peerSend(ctx context.Context, size, n int, bestEffort bool) (rate float64, peakHeap uint64, err error) {
	return peerSendWith(ctx, size, n, 0, bestEffort, false)
}

// peerSendCurve is peerSend at least once between CURVE peers.
func peerSendCurve(ctx context.Context, size, n int) (rate float64, peakHeap uint64, err error) {
	return peerSendWith(ctx, size, n, 0, false, true)
}

// peerSendKeyed is peerSend with keys distinct keys, in turn (0: none): the
// service is partitioned, so keyed messages go through their partitions'
// lanes.
func peerSendKeyed(ctx context.Context, size, n, keys int, bestEffort bool) (rate float64, peakHeap uint64, err error) {
	return peerSendWith(ctx, size, n, keys, bestEffort, false)
}

func peerSendWith(ctx context.Context, size, n, keys int, bestEffort, secure bool) (rate float64, peakHeap uint64, err error) {
	keyNames := make([]string, keys)
	for i := range keyNames {
		keyNames[i] = fmt.Sprintf("key-%d", i)
	}
	var handled atomic.Int64
	tx, rx, err := peerPair(ctx, &handled, secure)
	if err != nil {
		return 0, 0, err
	}
	defer rx.Close(context.Background())
	defer tx.Close(context.Background())

	stopSampling := sampleHeap(&peakHeap)
	defer stopSampling()

	var opts []peer.SendOption
	if bestEffort {
		opts = append(opts, peer.BestEffort())
	}
	body := make([]byte, size)
	// Connect first: best effort does not wait for a connection.
	if err := tx.Send(ctx, &channel.Message{Channel: "bench", Body: body}); err != nil {
		return 0, 0, err
	}
	for handled.Load() < 1 {
		if ctx.Err() != nil {
			return 0, 0, ctx.Err()
		}
		time.Sleep(time.Millisecond)
	}
	handled.Store(0)
	start := time.Now()
	for i := 0; i < n; i++ {
		msg := &channel.Message{Channel: "bench", Body: body}
		if keys > 0 {
			msg.Key = keyNames[i%keys]
		}
		err := tx.Send(ctx, msg, opts...)
		if err != nil {
			if bestEffort && errors.Is(err, peer.ErrNotConnected) {
				return 0, 0, fmt.Errorf("connection lost during the run: %w", err)
			}
			return 0, 0, err
		}
	}
	for handled.Load() < int64(n) {
		if ctx.Err() != nil {
			return 0, 0, fmt.Errorf("handled %d of %d: %w", handled.Load(), n, ctx.Err())
		}
		time.Sleep(200 * time.Microsecond)
	}
	elapsed := time.Since(start)
	if !bestEffort {
		for tx.Stats().InFlight > 0 {
			if ctx.Err() != nil {
				return 0, 0, ctx.Err()
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	return float64(n) / elapsed.Seconds(), peakHeap, nil
}

// sampleHeap records the peak of the heap in use until stopped.
func sampleHeap(peak *uint64) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > *peak {
				*peak = ms.HeapInuse
			}
			select {
			case <-t.C:
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); <-finished }
}

// peerRequests times n request/reply round trips of size-byte bodies between
// two peers, one outstanding at a time, after warm-up ones: the responder
// echoes the body with peer.Reply.
func peerRequests(ctx context.Context, size, warmup, n int) ([]time.Duration, error) {
	rx, err := peer.New(ctx, peer.WithName("bench-responder"))
	if err != nil {
		return nil, err
	}
	defer rx.Close(context.Background())
	err = rx.Handle("echo", func(ctx context.Context, m *channel.Message) error {
		return peer.Reply(ctx, &channel.Message{Body: m.Body})
	})
	if err != nil {
		return nil, err
	}
	tx, err := peer.New(ctx, peer.WithName("bench-requester"),
		peer.WithDiscovery(discovery.NewStatic(discovery.Member{Name: rx.Name(), Endpoint: rx.Endpoint(), Services: []string{"echo"}})))
	if err != nil {
		return nil, err
	}
	defer tx.Close(context.Background())

	body := make([]byte, size)
	rtts := make([]time.Duration, 0, n)
	for i := 0; i < warmup+n; i++ {
		t := time.Now()
		r, err := tx.Request(ctx, &channel.Message{Channel: "echo", Body: body})
		d := time.Since(t)
		if err != nil {
			return nil, fmt.Errorf("request %d: %w", i, err)
		}
		if len(r.Body) != size {
			return nil, fmt.Errorf("request %d: reply of %d bytes", i, len(r.Body))
		}
		if i >= warmup {
			rtts = append(rtts, d)
		}
	}
	return rtts, nil
}
