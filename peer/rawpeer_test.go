package peer

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"

	"github.com/meshmq/meshmq/internal/wire"
)

// rawPeer is a peer written by hand at the wire level, as another
// implementation of PROTOCOL.md would be: it dials, exchanges HELLO, and then
// sends and reads packets itself.
type rawPeer struct {
	t    testing.TB
	raw  net.Conn
	zc   *zmq4.Conn
	name string
}

// dialRaw connects to the peer at endpoint as name, with HELLO's endpoint
// (key 4, optional) set to advertise, and returns once the acceptor's HELLO
// came back.
func dialRaw(t testing.TB, endpoint, name, advertise string) *rawPeer {
	t.Helper()
	raw, err := net.Dial("tcp", strings.TrimPrefix(endpoint, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	raw.SetDeadline(time.Now().Add(30 * time.Second))
	zc, err := zmq4.Open(raw, null.Security(), zmq4.Dealer, nil, false, nil)
	if err != nil {
		raw.Close()
		t.Fatalf("ZMTP handshake: %v", err)
	}
	rp := &rawPeer{t: t, raw: raw, zc: zc, name: name}
	t.Cleanup(rp.close)
	rp.send(&wire.Hello{Versions: []uint64{1}, Name: name, Epoch: uint64(time.Now().UnixNano()), Endpoint: advertise,
		MaxFrame: 1 << 20, MaxMessage: 1 << 20, HeartbeatTimeout: 30 * time.Second})
	if h, ok := rp.recv().(*wire.Hello); !ok {
		t.Fatalf("answer to HELLO: %#v", h)
	}
	return rp
}

func (rp *rawPeer) close() { rp.raw.Close() }

func (rp *rawPeer) send(pk wire.Packet) {
	rp.t.Helper()
	if err := rp.zc.SendMsg(zmq4.NewMsg(wire.Encode(pk))); err != nil {
		rp.t.Fatalf("send %T: %v", pk, err)
	}
}

// recvFrame returns the next packet's bytes, skipping HEARTBEAT, ACK and
// CREDIT.
func (rp *rawPeer) recvFrame() []byte {
	rp.t.Helper()
	for {
		msg, err := rp.zc.RecvMsg()
		if err != nil {
			rp.t.Fatalf("receive: %v", err)
		}
		if len(msg.Frames) != 1 {
			continue // a ZMTP command
		}
		pk, err := wire.Decode(msg.Frames[0])
		if err != nil {
			rp.t.Fatalf("decode % x: %v", msg.Frames[0], err)
		}
		switch pk.(type) {
		case *wire.Heartbeat, *wire.Ack, *wire.Credit:
			continue
		}
		return msg.Frames[0]
	}
}

func (rp *rawPeer) recv() wire.Packet {
	rp.t.Helper()
	b := rp.recvFrame()
	pk, _ := wire.Decode(b)
	return pk
}
