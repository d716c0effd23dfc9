// Package transport moves meshmq packets between peers over ZMTP 3 on TCP,
// using zmq4 for the ZMTP greeting, handshake and framing, on connections it
// owns. It is the layer under the delivery protocol (acknowledgements,
// retries, dedup), which it knows nothing about.
//
// What it guarantees:
//
//   - One connection per remote peer (a Link), used in both directions,
//     whichever side dialed; two peers that dial each other at once end with
//     one (PROTOCOL.md, section 4.3). A wanted link redials with exponential
//     backoff and jitter; a peer restarted under the same name replaces its
//     old connection.
//   - On one connection, packets arrive in the order they were queued, each
//     at most once. A packet queued on a connection that breaks may be lost
//     with it; Handler.Down says so, and the layer above resends what was not
//     acknowledged. Nothing is dropped silently: a send fails with an error
//     when it cannot be queued.
//   - A lone message is written at once; a burst is packed into DATA frames of
//     up to BatchBytes and written with one syscall per frame or so.
//   - Sends to one peer never wait on another: each connection has its own
//     bounded queue and writer. A full queue blocks Send until its ctx ends,
//     or fails TrySend with ErrQueueFull.
//   - Half-open connections are detected by HEARTBEAT packets (zmq4 does not
//     answer ZMTP PING) within HeartbeatTimeout; a remote side that reads
//     nothing for WriteTimeout is cut off.
//   - Input from the network cannot crash or wedge the process: frame headers
//     are checked on the byte stream before zmq4 reads them (reserved flags,
//     multi-frame messages, MaxFrameSize, 8 KiB until HELLO), ZMTP commands
//     are validated before zmq4 parses them, handshakes run concurrently under
//     HandshakeTimeout and at most MaxHandshakes at once, and frames over 64 KiB
//     are read only within MaxReceiveMemory shared by all connections, so
//     stalled senders of large frames cannot exhaust memory. What a limit
//     refuses (MaxHandshakes, MaxConnections) is counted in Stats and logged
//     at WARN at most once a minute per limit: never a silent stall.
//   - With Config.Curve, every connection is ZMTP CURVE (libzmq compatible):
//     encrypted and authenticated, the client's key allowed by Authorize
//     before READY, the server's key pinned by the dialer (Conn.PeerKey).
//     The CURVE layer sits under the guard and presents zmq4 the NULL
//     stream it would see without it. Not yet bound: the peer name a client
//     claims to its key, and the layer is not yet offered by the peer.
//   - Close drains: queued packets are written, then DRAIN, and the
//     connection closes when the remote side has answered; every goroutine
//     ends before Close returns (as soon as Handler calls return).
package transport
