package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"
)

// rawPushPull sends n messages of size bytes from a zmq4 PUSH socket to a
// PULL socket over loopback TCP, one message per Send: the baseline.
func rawPushPull(ctx context.Context, size, n int) (float64, error) {
	ep, err := freeEndpoint()
	if err != nil {
		return 0, err
	}
	quiet := zmq4.WithLogger(log.New(io.Discard, "", 0))
	pull := zmq4.NewPull(ctx, quiet)
	defer pull.Close()
	if err := pull.Listen(ep); err != nil {
		return 0, err
	}
	push := zmq4.NewPush(ctx, quiet, zmq4.WithDialerRetry(10*time.Millisecond), zmq4.WithDialerMaxRetries(100))
	defer push.Close()
	if err := push.Dial(ep); err != nil {
		return 0, err
	}
	// One message to make sure the pipe is up before timing.
	if err := push.Send(zmq4.NewMsg(make([]byte, size))); err != nil {
		return 0, err
	}
	if _, err := pull.Recv(); err != nil {
		return 0, err
	}

	var got atomic.Int64
	done := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			if _, err := pull.Recv(); err != nil {
				done <- fmt.Errorf("recv after %d of %d: %w", i, n, err)
				return
			}
			got.Add(1)
		}
		done <- nil
	}()
	body := make([]byte, size)
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := push.Send(zmq4.NewMsg(body)); err != nil {
			return 0, err
		}
	}
	select {
	case err := <-done:
		if err != nil {
			return 0, err
		}
	case <-ctx.Done():
		return 0, fmt.Errorf("received %d of %d: %w", got.Load(), n, ctx.Err())
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

func freeEndpoint() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return "tcp://" + l.Addr().String(), nil
}

// rawPubSub3 publishes n messages of size bytes from a zmq4 PUB socket to
// three SUB sockets subscribed to everything, over loopback TCP, and returns
// the deliveries (messages received, summed over the subscribers) per second,
// from the first timed send until every subscriber has all n. PUB has no
// high-water mark here, so nothing should be dropped; should deliveries stop
// short anyway (nothing new for a second), the rate is what arrived divided
// by the time until the last arrival.
func rawPubSub3(ctx context.Context, size, n int) (float64, error) {
	const subs = 3
	ep, err := freeEndpoint()
	if err != nil {
		return 0, err
	}
	quiet := zmq4.WithLogger(log.New(io.Discard, "", 0))
	pub := zmq4.NewPub(ctx, quiet)
	defer pub.Close() // leaks one goroutine (pubMWriter.run), see main_test.go
	if err := pub.Listen(ep); err != nil {
		return 0, err
	}
	var wg sync.WaitGroup // the subscribers' receiving goroutines
	socks := make([]zmq4.Socket, 0, subs)
	defer func() {
		// Closing a SUB ends its Recv; then the goroutines are done.
		for _, s := range socks {
			s.Close()
		}
		wg.Wait()
	}()
	for range subs {
		s := zmq4.NewSub(ctx, quiet, zmq4.WithDialerRetry(10*time.Millisecond), zmq4.WithDialerMaxRetries(100))
		socks = append(socks, s)
		if err := s.Dial(ep); err != nil {
			return 0, err
		}
		if err := s.SetOption(zmq4.OptionSubscribe, ""); err != nil {
			return 0, err
		}
	}

	// Messages start with a mark: warm-up messages are discarded, timed ones
	// counted. One PUB writes each subscriber's messages in order, so once a
	// subscriber has seen a warm-up message it gets every timed one.
	const warm, timed = 'w', 't'
	var (
		seen      [subs]atomic.Bool
		got       [subs]atomic.Int64
		delivered atomic.Int64
		last      atomic.Int64 // time.Since(start) of the latest delivery, ns
		start     time.Time
		started   = make(chan struct{})
		errs      = make(chan error, subs)
	)
	for i, s := range socks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for got[i].Load() < int64(n) {
				m, err := s.Recv()
				if err != nil {
					errs <- fmt.Errorf("subscriber %d: recv after %d of %d: %w", i, got[i].Load(), n, err)
					return
				}
				if len(m.Frames) == 0 || len(m.Frames[0]) == 0 {
					continue
				}
				switch m.Frames[0][0] {
				case warm:
					seen[i].Store(true)
				case timed:
					<-started
					got[i].Add(1)
					delivered.Add(1)
					last.Store(int64(time.Since(start)))
				}
			}
			errs <- nil
		}()
	}

	body := make([]byte, size)
	body[0] = warm
	for ready := false; !ready; {
		if err := pub.Send(zmq4.NewMsg(body)); err != nil {
			return 0, err
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("subscriptions not established: %w", ctx.Err())
		case err := <-errs:
			return 0, err
		case <-time.After(time.Millisecond):
		}
		ready = seen[0].Load() && seen[1].Load() && seen[2].Load()
	}

	body = make([]byte, size)
	body[0] = timed
	start = time.Now()
	close(started)
	for i := 0; i < n; i++ {
		if err := pub.Send(zmq4.NewMsg(body)); err != nil {
			return 0, err
		}
	}
	stall := time.NewTicker(time.Second)
	defer stall.Stop()
	for finished, prev := 0, int64(-1); finished < subs; {
		select {
		case err := <-errs:
			if err != nil {
				return 0, err
			}
			finished++
		case <-stall.C:
			d := delivered.Load()
			if d == prev {
				if d == 0 {
					return 0, fmt.Errorf("no deliveries of %d", subs*n)
				}
				return float64(d) / time.Duration(last.Load()).Seconds(), nil
			}
			prev = d
		case <-ctx.Done():
			return 0, fmt.Errorf("delivered %d of %d: %w", delivered.Load(), subs*n, ctx.Err())
		}
	}
	return float64(subs*n) / time.Since(start).Seconds(), nil
}

// rawRTT times n round trips of a size-byte message between a zmq4 DEALER
// and a ROUTER that echoes it, over loopback TCP, one at a time, after
// warm-up ones.
func rawRTT(ctx context.Context, size, warmup, n int) ([]time.Duration, error) {
	ep, err := freeEndpoint()
	if err != nil {
		return nil, err
	}
	quiet := zmq4.WithLogger(log.New(io.Discard, "", 0))
	router := zmq4.NewRouter(ctx, quiet)
	defer router.Close()
	if err := router.Listen(ep); err != nil {
		return nil, err
	}
	dealer := zmq4.NewDealer(ctx, quiet, zmq4.WithDialerRetry(10*time.Millisecond), zmq4.WithDialerMaxRetries(100))
	defer dealer.Close()
	if err := dealer.Dial(ep); err != nil {
		return nil, err
	}
	echoed := make(chan error, 1)
	go func() {
		// Echo every message: identity frame first, then the body.
		for i := 0; i < warmup+n; i++ {
			m, err := router.Recv()
			if err == nil {
				err = router.Send(m)
			}
			if err != nil {
				echoed <- fmt.Errorf("router after %d: %w", i, err)
				return
			}
		}
		echoed <- nil
	}()
	body := make([]byte, size)
	rtts := make([]time.Duration, 0, n)
	for i := 0; i < warmup+n; i++ {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		t := time.Now()
		if err := dealer.Send(zmq4.NewMsg(body)); err != nil {
			return nil, err
		}
		m, err := dealer.Recv()
		if err != nil {
			return nil, fmt.Errorf("dealer after %d: %w", i, err)
		}
		d := time.Since(t)
		if len(m.Frames) != 1 || len(m.Frames[0]) != size {
			return nil, fmt.Errorf("echo of %d frames", len(m.Frames))
		}
		if i >= warmup {
			rtts = append(rtts, d)
		}
	}
	return rtts, <-echoed
}
