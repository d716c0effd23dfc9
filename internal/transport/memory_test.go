package transport

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshmq/meshmq/internal/wire"
)

// blockedIn counts the goroutines whose stack shows fn.
func blockedIn(fn string) int {
	buf := make([]byte, 16<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if strings.Contains(string(g), fn) {
			n++
		}
	}
	return n
}

// Many authenticated clients each send one whole frame as large as allowed
// to a listener whose handler is stalled: one frame is handled, the others
// wait for receive memory, and the heap stays under the budget plus 16 MiB.
// All frame headers arrive before any body, so that every connection queues
// for the budget before the first frame is through.
func TestReceiveBudgetHoldsForWholeFrames(t *testing.T) {
	forEachHostileSec(t, testReceiveBudgetHoldsForWholeFrames)
}

func testReceiveBudgetHoldsForWholeFrames(t *testing.T, s hostileSec) {
	const (
		frame   = 256 << 10
		budget  = frame
		clients = 200
	)
	rv := newRecorder()
	rv.block = make(chan struct{})
	defer close(rv.block)
	cfg := s.victim(rv)
	cfg.MaxMessageSize = frame - frameOverhead
	cfg.MaxFrameSize = frame
	cfg.MaxReceiveMemory = budget
	cfg.HeartbeatTimeout = time.Minute
	cfg.HandshakeTimeout = time.Minute
	victim := listen(t, cfg)

	frames := make([][]byte, clients)
	conns := make([]*handConn, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := s.dialHello(t, victim.Endpoint(), fmt.Sprintf("sender-%d", i))
			data := (&wire.Data{Entries: []wire.Entry{*entry(1, 1, make([]byte, cfg.MaxMessageSize))}}).Append(nil)
			if s.curve != nil {
				frames[i] = heldMessage(t, h, data).raw
			} else {
				frames[i] = zmtpFrame(data)
			}
			conns[i] = h
		}()
	}
	wg.Wait()
	const acquire = "semaphore.(*Weighted).Acquire"
	for i, h := range conns {
		h.raw.Write(frames[i][:9]) // a long frame header
	}
	waitFor(t, "every connection waiting for receive memory but one", func() bool { return blockedIn(acquire) == clients-1 })
	for i, h := range conns {
		h.raw.Write(frames[i][9:])
		frames[i] = nil
	}
	waitFor(t, "one frame handled, the others waiting", func() bool {
		return blockedIn("(*recorder).Packet") == 1 && blockedIn(acquire) == clients-1
	})
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if limit := uint64(budget + 16<<20); ms.HeapInuse > limit {
		t.Fatalf("heap in use %d MiB with %d frames of %d KiB waiting for a %d KiB budget; limit %d MiB",
			ms.HeapInuse>>20, clients-1, frame>>10, budget>>10, limit>>20)
	}
	t.Logf("heap in use %d MiB", ms.HeapInuse>>20)
}

// Authenticated clients each send one frame of almost 1 MiB, which is
// handled; then the connections idle. Idle connections keep no frame
// buffers: the heap stays under the receive budget plus 16 MiB.
func TestIdleConnectionsKeepNoFrameBuffers(t *testing.T) {
	forEachHostileSec(t, testIdleConnectionsKeepNoFrameBuffers)
}

func testIdleConnectionsKeepNoFrameBuffers(t *testing.T, s hostileSec) {
	const (
		clients = 40
		message = 1000 << 10
	)
	rv := &countingHandler{}
	cfg := s.victim(rv)
	cfg.MaxMessageSize = 1 << 20
	cfg.MaxReceiveMemory = 2 << 20
	cfg.HeartbeatTimeout = time.Minute
	cfg.HandshakeTimeout = time.Minute
	victim := listen(t, cfg)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := s.dialHello(t, victim.Endpoint(), fmt.Sprintf("sender-%d", i))
			data := (&wire.Data{Entries: []wire.Entry{*entry(1, 1, make([]byte, message))}}).Append(nil)
			if s.curve != nil {
				data = heldMessage(t, h, data).raw
			} else {
				data = zmtpFrame(data)
			}
			h.raw.Write(data)
		}()
	}
	wg.Wait()
	waitFor(t, "every frame handled", func() bool { return rv.n.Load() == clients })
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if limit := uint64(cfg.MaxReceiveMemory + 16<<20); ms.HeapInuse > limit {
		t.Fatalf("heap in use %d MiB with %d idle connections; limit %d MiB", ms.HeapInuse>>20, clients, limit>>20)
	}
	t.Logf("heap in use %d MiB", ms.HeapInuse>>20)
}

// countingHandler counts DATA entries and keeps nothing.
type countingHandler struct {
	NopHandler
	n atomic.Int64
}

func (h *countingHandler) Packet(_ *Conn, p wire.Packet) {
	if d, ok := p.(*wire.Data); ok {
		h.n.Add(int64(len(d.Entries)))
	}
}
