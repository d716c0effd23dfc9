package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/meshmq/meshmq/internal/transport"
	"github.com/meshmq/meshmq/internal/wire"
)

// counter counts received entries and says when the target is reached.
type counter struct {
	transport.NopHandler
	n      atomic.Int64
	target int64
	done   chan struct{}
}

func (c *counter) Packet(_ *transport.Conn, p wire.Packet) {
	if d, ok := p.(*wire.Data); ok {
		if c.n.Add(int64(len(d.Entries))) == c.target {
			close(c.done)
		}
	}
}

// transportOneWay sends n messages of size bytes from one transport to
// another over loopback TCP and times until the receiver has decoded all.
func transportOneWay(ctx context.Context, size, n int) (float64, error) {
	rx := &counter{target: int64(n), done: make(chan struct{})}
	recv, err := transport.Listen(transport.Config{Name: "rx", Handler: rx})
	if err != nil {
		return 0, err
	}
	defer recv.Close(context.Background())
	send, err := transport.Listen(transport.Config{Name: "tx"})
	if err != nil {
		return 0, err
	}
	defer send.Close(context.Background())
	link, err := send.Connect("rx", recv.Endpoint())
	if err != nil {
		return 0, err
	}
	conn, err := link.WaitUp(ctx)
	if err != nil {
		return 0, err
	}
	e := wire.Entry{Stream: 1, Attempt: 1, Partition: wire.NoPartition, Message: make([]byte, size)}
	start := time.Now()
	for i := 0; i < n; i++ {
		e.Seq = uint64(i + 1)
		if err := conn.Send(ctx, &e); err != nil {
			return 0, fmt.Errorf("send %d: %w", i, err)
		}
	}
	select {
	case <-rx.done:
	case <-ctx.Done():
		return 0, fmt.Errorf("received %d of %d: %w", rx.n.Load(), n, ctx.Err())
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
