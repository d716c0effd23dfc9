package transport

import "github.com/meshmq/meshmq/internal/wire"

// Handler receives what the transport learns. Calls for one Conn come in
// order: Up, then its packets, then Down; calls for different Conns, even
// of one Link, may interleave, so a handler tracks state per Conn: the Up of
// a connection already replaced may come after the Up of its replacement
// (Conn.Current tells them apart).
type Handler interface {
	// Up is called once a connection passed HELLO, before its first packet.
	Up(c *Conn)
	// Packet is called for each ACK, NACK, CREDIT, DATA, DRAIN and catalog
	// packet, on the connection's reader goroutine. While it runs nothing
	// more is read from that connection (TCP then slows that peer alone).
	// HELLO, HEARTBEAT and ERROR are handled by the transport. For DRAIN,
	// the connection has stopped taking DATA when Packet is called, and our
	// own DRAIN goes only after Packet returns: Packet queues (SendPacket)
	// the ACKs and NACKs owed on c first, waiting as long as it must.
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
