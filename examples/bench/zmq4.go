package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
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
