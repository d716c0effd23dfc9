"""A meshmq protocol v1 peer on libzmq (pyzmq) and msgpack, written from PROTOCOL.md for
interop_test.go. Run it with Debian's /usr/bin/python3 (python3-zmq, python3-msgpack).

  dial <endpoint> <remote-name> [expect]: a DEALER connects, exchanges HELLO, sends its DATA,
      receives `expect` (default 5) entries, sends DRAIN and waits for the remote DRAIN.
  listen <endpoint>: a ROUTER binds (port * picks one), prints its endpoint, exchanges HELLO,
      sends its DATA and receives entries until the remote DRAIN.

Options before the mode turn on ZMTP CURVE (keys in Z85; libzmq derives our public key):
  dial --curve-secret=<our secret> --curve-server=<the acceptor's public key>: a CURVE client.
  listen --curve-secret=<our secret> --curve-allow=<a client's public key>: a CURVE server whose
      ZAP handler (pyzmq's ThreadAuthenticator) admits that one client key.
Without them the connection uses the NULL mechanism.

Stdout has one JSON object per line: "endpoint", "hello" (the remote HELLO, and the User-Id
libzmq attached to its frame: the client's Z85 key when our ZAP handler admitted it, else
null), an "entry" per DATA entry received, then "done". A protocol mismatch exits 1 with a
message on stderr.
"""
import hashlib, json, sys, time

import msgpack, zmq
from zmq.auth.thread import ThreadAuthenticator

NAME, VERSION, MAGIC = "py", 1, "meshmq"
MAX_FRAME, MAX_MESSAGE = (4 << 20) + (64 << 10), 4 << 20
TIMEOUT_MS = 2000  # we close a connection silent this long; sent as HELLO key 7 (see hello)
HANDSHAKE_S = 5
HELLO, DATA, ACK, NACK, CREDIT, HEARTBEAT, DRAIN, CATALOG_REQUEST, CATALOG, ERROR = range(10)
EPOCH = time.time_ns()

# What we send, in three DATA packets: entries [stream, seq, attempt, partition, group, flags,
# message] (PROTOCOL.md 5). interop_test.go builds the same bytes on its side.
BIG = bytes(i * 7 % 251 for i in range(100_000))  # over 64 KiB
MESSAGE = msgpack.packb({  # PROTOCOL.md 6: int keys ascending, zero fields omitted
    1: "py-msg-1", 2: 3, 3: "orders.created", 5: "order-42",
    6: {"content-type": "application/json", "x-trace": "t-1"},  # sorted by key
    7: b'{"total":42}', 9: "py", 11: 30_000_000_000, 12: 1_700_000_000_123_456_789,
}, use_bin_type=True)
BATCHES = [
    [[7, 1, 1, None, "", 0, b"py-1"], [7, 2, 1, 3, "workers", 0, b""],
     [7, 0, 1, None, "", 1, b"best effort"]],
    [[7, 3, 1, None, "", 0, BIG]],
    [[7, 4, 1, None, "", 0, MESSAGE], [7, 5, 2, 0, "", 0, b"resent"]],
]


class Mismatch(Exception):
    """The remote side broke PROTOCOL.md: we send it ERROR 3 and exit 1."""


class Refused(Mismatch):
    """An ERROR was exchanged already: we send no other, and exit 1."""


def emit(**fields):
    print(json.dumps(fields, default=bytes.hex), flush=True)  # int map keys become strings


def user_id(frame):
    """The User-Id libzmq attached to a received frame (set by a ZAP handler), or None."""
    try:
        return frame.get("User-Id")
    except zmq.ZMQError:
        return None


def unpack(frame):
    try:
        return msgpack.unpackb(frame, raw=False, strict_map_key=False)  # trailing bytes raise
    except Exception as e:
        raise Mismatch(f"undecodable packet ({e!r}): {frame[:48].hex()}")


def as_message(b):
    """An encoded message (PROTOCOL.md 6) decoded, or None: it is an int-keyed map."""
    try:
        m = unpack(b)
    except Mismatch:
        return None
    return m if isinstance(m, dict) and all(isinstance(k, int) for k in m) else None


def hello(versions, endpoint=""):
    # Key 7: PROTOCOL.md calls it our heartbeat interval, but the Go peer sends (and reads) its
    # heartbeat timeout there, as do the reference vectors; we follow the Go peer.
    fields = {1: versions, 2: NAME, 3: EPOCH, 4: endpoint, 5: MAX_FRAME, 6: MAX_MESSAGE,
              7: TIMEOUT_MS}
    return [HELLO, MAGIC, {k: v for k, v in fields.items() if v}]


class Peer:
    """One connection: a DEALER, or a ROUTER talking to the one routing id it has seen."""
    current = None  # where to send ERROR when the remote side breaks the protocol

    def __init__(self, sock, routing_id=None):
        Peer.current, self.sock, self.rid = self, sock, routing_id
        self.every = TIMEOUT_MS / 3000  # seconds between HEARTBEATs while idle
        self.remote_timeout = 1.0
        self.last_sent = self.last_recv = time.monotonic()
        self.entries = self.heartbeats = 0
        self.drain, self.sent_drain = None, False
        self.user_id = None  # of the last frame received

    def send(self, packet):
        frame = msgpack.packb(packet, use_bin_type=True)
        self.sock.send_multipart([frame] if self.rid is None else [self.rid, frame])  # 1 frame
        self.last_sent = time.monotonic()
        self.sent_drain |= packet[0] == DRAIN

    def recv_frame(self, timeout):
        """The next packet's frame, or None after timeout seconds."""
        if not self.sock.poll(max(0, int(timeout * 1000))):
            return None
        parts = self.sock.recv_multipart(copy=False)  # zmq.Frames: they carry the User-Id
        if self.rid is not None:
            if parts[0].bytes != self.rid:
                raise Mismatch("a second connection reached the ROUTER")
            parts = parts[1:]
        if len(parts) != 1:
            raise Mismatch(f"{len(parts)} frames in one ZMTP message, want 1")
        self.last_recv = time.monotonic()
        self.user_id = user_id(parts[0])
        return parts[0].bytes

    def check_hello(self, p):
        """Checks a HELLO (PROTOCOL.md 4.2), prints it and returns its fields."""
        if isinstance(p, list) and len(p) >= 3 and p[0] == ERROR:
            raise Refused(f"refused with ERROR {p[1]}: {p[2]}")
        if not isinstance(p, list) or len(p) < 3 or p[:2] != [HELLO, MAGIC] or not isinstance(p[2], dict):
            raise Mismatch(f"first packet {p!r:.80}: want [0, 'meshmq', {{...}}]")
        f = p[2]
        versions, name, epoch = f.get(1), f.get(2), f.get(3)
        if not (isinstance(versions, list) and versions and all(isinstance(v, int) for v in versions)
                and isinstance(name, str) and name and name != NAME and isinstance(epoch, int) and epoch > 0):
            raise Mismatch(f"HELLO versions {versions!r}, name {name!r}, epoch {epoch!r}")
        if f.get(7):  # send at least every third of it: right whether it is an interval or a timeout
            self.remote_timeout = f[7] / 1000
            self.every = min(self.every, self.remote_timeout / 3)
        emit(event="hello", versions=versions, name=name, epoch=epoch, endpoint=f.get(4, ""),
             max_frame=f.get(5, 0), max_message=f.get(6, 0), heartbeat_ms=f.get(7, 0),
             user_id=self.user_id)
        return f

    def handle(self, frame):
        p = unpack(frame)
        if not isinstance(p, list) or not p or not isinstance(p[0], int) or not 0 <= p[0] <= ERROR:
            raise Mismatch(f"packet {p!r:.80}: not [known type, ...]")
        if len(p) < {DATA: 2, HEARTBEAT: 2, DRAIN: 2, ERROR: 3}.get(p[0], 1) or \
                p[0] == DATA and not isinstance(p[1], list):
            raise Mismatch(f"packet {p!r:.80}: missing fields")
        if p[0] == DATA:
            for e in p[1]:
                self.entry(e)
        elif p[0] == HEARTBEAT:
            self.heartbeats += 1
        elif p[0] == DRAIN:
            self.drain = p[1]
        elif p[0] == ERROR:
            raise Refused(f"the remote side sent ERROR {p[1]}: {p[2]}")
        elif p[0] == HELLO:
            raise Mismatch("second HELLO")
        # ACK, NACK, CREDIT and the catalog packets: this peer does not use them.

    def entry(self, e):
        if not isinstance(e, list) or len(e) < 7:
            raise Mismatch(f"entry {e!r:.80}: want an array of 7")
        stream, seq, attempt, partition, group, flags, message = e[:7]
        if not all(isinstance(v, int) for v in (stream, seq, attempt, flags)) or \
                not isinstance(partition, (int, type(None))) or not isinstance(group, str):
            raise Mismatch(f"entry {e!r:.80}: bad field types")
        if isinstance(message, str):  # a byte string may come as str or bin
            message = message.encode()
        self.entries += 1
        emit(event="entry", stream=stream, seq=seq, attempt=attempt, partition=partition,
             group=group, flags=flags, len=len(message),
             sha256=hashlib.sha256(message).hexdigest(), decoded=as_message(message))

    def pump(self, done, what, within):
        """Handles packets until done(), sending a HEARTBEAT whenever we were idle too long."""
        deadline = time.monotonic() + within
        while not done():
            now = time.monotonic()
            if now > deadline:
                raise Mismatch(f"timed out after {within}s waiting for {what}")
            if now - self.last_recv > TIMEOUT_MS / 1000:
                raise Mismatch(f"the remote side was silent for {TIMEOUT_MS} ms")
            if not self.sent_drain and now - self.last_sent >= self.every:
                self.send([HEARTBEAT, time.time_ns()])
            wake = deadline if self.sent_drain else min(self.last_sent + self.every, deadline)
            frame = self.recv_frame(wake - now)
            if frame is not None:
                self.handle(frame)

    def exchange(self):
        """Sends our DATA, idle for 2.5 of the remote's heartbeat timeouts before the last
        packet: only our HEARTBEATs keep the connection up meanwhile."""
        self.send([DATA, BATCHES[0]])
        self.send([DATA, BATCHES[1]])
        until = time.monotonic() + min(2.5 * self.remote_timeout, 10)
        self.pump(lambda: time.monotonic() >= until, "the end of the idle period", 15)
        self.send([DATA, BATCHES[2]])


class AllowOne:
    """A ZAP credentials provider admitting one CURVE client key (Z85)."""

    def __init__(self, key):
        self.key = key.encode()

    def callback(self, domain, key):
        return key == self.key


def socket(ctx, kind, curve):
    s = ctx.socket(kind)
    s.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME)
    s.setsockopt(zmq.LINGER, 2000)
    if curve:
        secret = curve["curve-secret"].encode()
        s.curve_secretkey = secret
        s.curve_publickey = zmq.curve_public(secret)
        if "curve-server" in curve:  # a client of that server key
            s.curve_serverkey = curve["curve-server"].encode()
        else:  # a server; the ZAP handler (see main) admits the --curve-allow key only
            s.curve_server = True
    return s


def dial(ctx, endpoint, remote, expect, curve):
    s = socket(ctx, zmq.DEALER, curve)
    # A reconnect would be a new connection, owing a new HELLO: none within our lifetime. Not -1
    # (never): then libzmq drops unread messages when the connection ends, such as the remote
    # DRAIN that arrives just before the remote side's FIN.
    s.setsockopt(zmq.RECONNECT_IVL, 60_000)
    s.connect(endpoint)
    peer = Peer(s)
    peer.send(hello([VERSION]))
    frame = peer.recv_frame(HANDSHAKE_S)
    if frame is None:
        raise Mismatch(f"no HELLO from {endpoint} within {HANDSHAKE_S}s")
    f = peer.check_hello(unpack(frame))
    if f[1] != [VERSION]:
        raise Mismatch(f"the acceptor chose versions {f[1]}, we offered [{VERSION}]")
    if f[2] != remote:
        raise Mismatch(f"dialed {remote!r}, the acceptor is {f[2]!r}")
    peer.exchange()
    peer.pump(lambda: peer.entries >= expect, f"{expect} entries", 20)
    peer.send([DRAIN, "done"])
    peer.pump(lambda: peer.drain is not None, "the remote DRAIN", 10)
    return peer


def listen(ctx, endpoint, curve):
    s = socket(ctx, zmq.ROUTER, curve)
    s.setsockopt(zmq.ROUTER_MANDATORY, 1)  # fail loudly when the dialer is gone
    s.bind(endpoint)
    endpoint = s.getsockopt(zmq.LAST_ENDPOINT).decode()
    emit(event="endpoint", endpoint=endpoint)
    if not s.poll(HANDSHAKE_S * 1000):
        raise Mismatch(f"no dialer within {HANDSHAKE_S}s")
    parts = s.recv_multipart(copy=False)
    if len(parts) != 2:
        raise Mismatch(f"{len(parts) - 1} frames in the dialer's first message, want 1")
    peer = Peer(s, parts[0].bytes)
    peer.user_id = user_id(parts[1])
    f = peer.check_hello(unpack(parts[1].bytes))
    if VERSION not in f[1]:
        peer.send([ERROR, 1, f"we speak [{VERSION}]"])
        raise Refused(f"the dialer speaks versions {f[1]}, we speak [{VERSION}]")
    peer.send(hello([VERSION], endpoint))
    peer.exchange()
    peer.pump(lambda: peer.drain is not None, "the remote DRAIN", 30)
    try:  # libzmq has no half-close: the dialer's FIN after its DRAIN may have ended the connection
        peer.send([DRAIN, "done"])
    except zmq.ZMQError:
        pass
    return peer


CURVE_OPTIONS = {"dial": {"curve-secret", "curve-server"}, "listen": {"curve-secret", "curve-allow"}}


def options(argv):
    """Splits the leading --name=value options off argv: (options, the rest), or None."""
    opts = {}
    while argv and argv[0].startswith("--"):
        name, eq, value = argv[0][2:].partition("=")
        if not eq or not value or name in opts:
            return None
        opts[name], argv = value, argv[1:]
    if opts and (not argv or set(opts) != CURVE_OPTIONS.get(argv[0])):
        return None  # CURVE needs all of its mode's options, and no others
    return opts, argv


def main(argv):
    parsed = options(argv)
    if parsed is None:
        print(__doc__, file=sys.stderr)
        return 2
    curve, argv = parsed
    ctx = zmq.Context()
    auth = None
    try:
        if len(argv) in (3, 4) and argv[0] == "dial":
            peer = dial(ctx, argv[1], argv[2], int(argv[3]) if len(argv) == 4 else 5, curve)
        elif len(argv) == 2 and argv[0] == "listen":
            if curve:  # before the socket exists: libzmq asks ZAP from the first handshake on
                auth = ThreadAuthenticator(ctx)
                auth.start()
                auth.configure_curve_callback("*", AllowOne(curve["curve-allow"]))
            peer = listen(ctx, argv[1], curve)
        else:
            print(__doc__, file=sys.stderr)
            ctx.destroy(linger=0)
            return 2
    except Mismatch as e:
        print(f"libzmq_peer: protocol mismatch: {e}", file=sys.stderr)
        if Peer.current and not isinstance(e, Refused) and not Peer.current.sent_drain:
            try:  # PROTOCOL.md 4.1: ERROR 3, then close
                Peer.current.send([ERROR, 3, str(e)])
            except zmq.ZMQError:
                pass
        status, linger = 1, 500
    else:
        emit(event="done", heartbeats=peer.heartbeats, drain=peer.drain)
        status, linger = 0, 2000
    finally:
        if auth is not None:  # its thread would keep the process alive
            auth.stop()
    ctx.destroy(linger=linger)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
