"""A libzmq (pyzmq) CURVE peer for interop_test.go. Run it with Debian's /usr/bin/python3
(python3-zmq: libzmq 4.3 built with libsodium). Keys are Z85 on the command line.

  keys <secret>: prints a key pair from zmq.curve_keypair(), the public key libzmq derives
      from that secret, and the public key libzmq derives from <secret> (made by Go).
  server <secret> <certdir> <rounds>: a CURVE ROUTER binds tcp://127.0.0.1:*, prints its
      endpoint, and echoes <rounds> messages. A ZAP handler (pyzmq's ThreadAuthenticator)
      admits only the public keys of the *.key files in <certdir>.
  client <endpoint> <server-public> <public> <secret> echo: a CURVE DEALER connects, then
      for each of MESSAGES sends it, receives the echo and checks it is the same.
  client <endpoint> <server-public> <public> <secret> refused: a CURVE DEALER connects and
      queues MESSAGES[0]; it waits for the connection to fail (socket monitor) and checks
      that nothing was received.

Stdout has one JSON object per line ("event" names it); a failure exits 1 with a message
on stderr. Every wait has a deadline.
"""
import hashlib, json, sys, time

import zmq
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils.monitor import recv_monitor_message

DEADLINE_S = 20
BIG = bytes(i * 7 % 251 for i in range(100 * 1024))  # interop_test.go builds the same
MESSAGES = [
    [b"py-1", b"", BIG, b"py-last"],
    [b"py-2"],
]


class Failure(Exception):
    pass


def emit(**fields):
    print(json.dumps(fields), flush=True)


def describe(parts):
    return [{"len": len(p), "sha256": hashlib.sha256(p).hexdigest()} for p in parts]


def prop(frame, name):
    try:
        v = frame.get(name)
    except zmq.ZMQError:
        return None
    return v.decode() if isinstance(v, bytes) else v


def recv_parts(sock, within):
    """The next message as zmq.Frames (so that its metadata can be read), or a Failure."""
    if not sock.poll(int(within * 1000)):
        raise Failure(f"no message within {within}s")
    return sock.recv_multipart(copy=False)


def keys(secret):
    public, sec = zmq.curve_keypair()
    emit(event="keys", public=public.decode(), secret=sec.decode(),
         derived=zmq.curve_public(sec).decode(),
         go_derived=zmq.curve_public(secret.encode()).decode())


def server(ctx, secret, certdir, rounds):
    auth = ThreadAuthenticator(ctx)
    auth.start()
    try:
        auth.configure_curve(domain="*", location=certdir)
        s = ctx.socket(zmq.ROUTER)
        s.linger = 2000
        s.curve_server = True
        s.curve_secretkey = secret.encode()
        s.curve_publickey = zmq.curve_public(secret.encode())
        s.bind("tcp://127.0.0.1:*")
        emit(event="endpoint", endpoint=s.getsockopt(zmq.LAST_ENDPOINT).decode())
        deadline = time.monotonic() + DEADLINE_S
        for _ in range(rounds):
            frames = recv_parts(s, max(0.0, deadline - time.monotonic()))
            rid, parts = frames[0].bytes, [f.bytes for f in frames[1:]]
            emit(event="echo", identity=rid.decode(errors="replace"), parts=describe(parts),
                 socket_type=prop(frames[1], "Socket-Type"), user_id=prop(frames[1], "User-Id"),
                 x_meshmq=prop(frames[1], "X-Meshmq"))
            s.send_multipart([rid] + parts)
    finally:
        auth.stop()


def client(ctx, endpoint, server_public, public, secret, mode):
    s = ctx.socket(zmq.DEALER)
    s.linger = 0
    s.reconnect_ivl = 60_000  # one connection: the Go side accepts once
    s.curve_serverkey = server_public.encode()
    s.curve_publickey = public.encode()
    s.curve_secretkey = secret.encode()
    mon = s.get_monitor_socket()
    s.connect(endpoint)
    deadline = time.monotonic() + DEADLINE_S
    if mode == "echo":
        for i, msg in enumerate(MESSAGES):
            s.send_multipart(msg)
            frames = recv_parts(s, max(0.0, deadline - time.monotonic()))
            got = [f.bytes for f in frames]
            if got != msg:
                raise Failure(f"echo {i}: got {describe(got)}, sent {describe(msg)}")
            emit(event="echo", parts=describe(got), socket_type=prop(frames[0], "Socket-Type"),
                 x_meshmq=prop(frames[0], "X-Meshmq"))
        return
    # refused: the handshake must fail, and nothing may arrive.
    s.send_multipart(MESSAGES[0], flags=zmq.NOBLOCK)
    seen = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not mon.poll(int(left * 1000)):
            raise Failure(f"the connection did not fail within {DEADLINE_S}s; events {seen}")
        ev = recv_monitor_message(mon)
        name = {zmq.EVENT_HANDSHAKE_SUCCEEDED: "handshake_succeeded",
                zmq.EVENT_HANDSHAKE_FAILED_AUTH: "handshake_failed_auth",
                zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "handshake_failed_protocol",
                zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "handshake_failed_no_detail",
                zmq.EVENT_DISCONNECTED: "disconnected"}.get(ev["event"])
        if name:
            seen.append({"event": name, "value": ev["value"]})
        if name == "handshake_succeeded":
            raise Failure(f"the handshake succeeded; events {seen}")
        if name == "disconnected":
            break
    if s.poll(0):
        raise Failure(f"received {describe(s.recv_multipart())} after a refused handshake")
    emit(event="refused", monitor=seen)


def main(argv):
    ctx = zmq.Context()
    try:
        if len(argv) == 2 and argv[0] == "keys":
            keys(argv[1])
        elif len(argv) == 4 and argv[0] == "server":
            server(ctx, argv[1], argv[2], int(argv[3]))
        elif len(argv) == 6 and argv[0] == "client" and argv[5] in ("echo", "refused"):
            client(ctx, *argv[1:])
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except Failure as e:
        print(f"curve_peer: {e}", file=sys.stderr)
        ctx.destroy(linger=0)
        return 1
    emit(event="done")
    ctx.destroy(linger=2000)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
