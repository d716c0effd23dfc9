package transport

import "github.com/meshmq/meshmq/internal/wire"

// Handler receives what the transport learns. Calls for one Conn come in
// order: Up, then its packets, then Down; calls for different Conns, even
// of one Link, may interleave, so a handler tracks state per Conn.
type Handler interface {
	// Up is called once a connection passed HELLO, before its first packet.
	Up(c *Conn)
	// Packet is called for each ACK, NACK, CREDIT, DATA, DRAIN and catalog
	// packet, on the connection's reader goroutine. While it runs nothing
	// more is read from that connection (TCP then slows that peer alone).
	// HELLO, HEARTBEAT and ERROR are handled by the transport.
	Packet(c *Conn, p wire.Packet)
	// Down is called once the connection has closed and its reader and
	// writer have stopped; err says why (nil after a clean drain).
	Down(c *Conn, err error)
}

// NopHandler ignores everything.
type NopHandler struct{}

func (NopHandler) Up(*Conn)                  {}
func (NopHandler) Packet(*Conn, wire.Packet) {}
func (NopHandler) Down(*Conn, error)         {}
