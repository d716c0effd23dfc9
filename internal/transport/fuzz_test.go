package transport

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/meshmq/meshmq/internal/wire"
)

// zmtpFrame frames body as one ZMTP message frame.
func zmtpFrame(body []byte) []byte {
	if len(body) <= 255 {
		return append([]byte{0, byte(len(body))}, body...)
	}
	return append(longHeader(0, uint64(len(body))), body...)
}

// validPrefix is what a well-behaved dialer named "fuzz" sends up to and
// including HELLO.
func validPrefix() []byte {
	b := append(nullGreeting(), readyCommand()...)
	hello := &wire.Hello{Versions: []uint64{1}, Name: "fuzz", Epoch: 7}
	return append(b, zmtpFrame(hello.Append(nil))...)
}

// FuzzInbound feeds arbitrary bytes to the accepting side of a connection:
// greeting, ZMTP handshake, HELLO and packets. Whatever arrives, the
// transport must neither panic nor hang, and must close cleanly.
func FuzzInbound(f *testing.F) {
	f.Add([]byte{})
	f.Add(nullGreeting())
	f.Add(append(nullGreeting(), longHeader(flagCommand, 1<<50)...))
	f.Add(validPrefix())
	data := (&wire.Data{Entries: []wire.Entry{{Stream: 1, Seq: 1, Attempt: 1, Partition: wire.NoPartition, Message: []byte{0x80}}}}).Append(nil)
	f.Add(append(validPrefix(), zmtpFrame(data)...))
	ack := (&wire.Ack{Streams: []wire.StreamAck{{Stream: 1, Through: 3}}}).Append(nil)
	f.Add(append(append(validPrefix(), zmtpFrame(ack)...), zmtpFrame((&wire.Drain{}).Append(nil))...))
	f.Add(append(validPrefix(), 0x01, 0x01, 0x90))                  // multi-frame
	f.Add(append(validPrefix(), 0x04, 0x05, 4, 'P', 'I', 'N', 'G')) // ZMTP PING after HELLO
	f.Fuzz(func(t *testing.T, in []byte) {
		cfg := fast("acceptor", newRecorder())
		cfg.HandshakeTimeout = 200 * time.Millisecond
		cfg.HeartbeatTimeout = 200 * time.Millisecond
		cfg.MaxFrameSize = 1 << 20
		cfg.MaxMessageSize = 1<<20 - frameOverhead
		cfg.MaxReceiveMemory = 2 << 20
		tr, err := Listen(cfg)
		if err != nil {
			t.Fatal(err)
		}
		server, client := net.Pipe()
		go io.Copy(io.Discard, client) // take what the acceptor writes
		go func() {
			client.Write(in)
			client.Close()
		}()
		tr.accept(server) // returns once the handshake ended either way
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tr.Close(ctx); err != nil {
			t.Fatalf("close: %v", err)
		}
	})
}

// FuzzCheckCommand: the ZMTP command validator accepts or rejects any bytes
// without panicking, and what it accepts zmq4's parser can take.
func FuzzCheckCommand(f *testing.F) {
	f.Add(readyCommand()[2:])
	f.Add([]byte{5, 'R', 'E', 'A', 'D', 'Y', 3, 'a', 'b', 'c', 0, 0, 0, 1, 'x'})
	f.Add([]byte{5, 'E', 'R', 'R', 'O', 'R', 2, 'n', 'o'})
	f.Fuzz(func(t *testing.T, b []byte) {
		if checkCommand(b) != nil {
			return
		}
		// What passed must parse without panicking.
		if name := string(b[1 : 1+int(b[0])]); name == "READY" {
			body := b[1+int(b[0]):]
			for len(body) > 0 {
				k := int(body[0])
				v := int(uint32(body[1+k])<<24 | uint32(body[2+k])<<16 | uint32(body[3+k])<<8 | uint32(body[4+k]))
				body = body[1+k+4+v:]
			}
		}
	})
}
