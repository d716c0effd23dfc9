// Package curve implements the cryptographic core of ZMTP CURVE security
// (RFC 25 ZMTP-CURVE, RFC 26 CurveZMQ) as libzmq 4.3 speaks it. Keys are
// package security's (Z85 text, zcert-style key files). It performs no
// network I/O and starts no goroutines.
//
// # What it provides
//
//   - Client and Server: the handshake as state machines over command data.
//     Client: Hello -> Welcome(WELCOME) -> INITIATE -> Ready(READY).
//     Server: Hello(HELLO) -> WELCOME -> Initiate(INITIATE) -> READY or ERROR.
//   - Session: Seal / Open of MESSAGE data once the handshake completes.
//   - Helpers for command bodies (AppendCommand, ParseCommand), ERROR data
//     (ErrorData, ParseError) and ZMTP metadata (AppendMetadata,
//     ParseMetadata).
//
// # Guarantees
//
//   - Wire format identical to libzmq 4.3: HELLO 200 bytes, WELCOME 168
//     bytes, cookie 96 bytes, vouch Box[C'+S](C->S'), nonce prefixes
//     CurveZMQHELLO---, WELCOME-, COOKIE--, CurveZMQINITIATE, VOUCH---,
//     CurveZMQREADY---, CurveZMQMESSAGEC (client to server) and
//     CurveZMQMESSAGES (server to client); each side's short-nonce counter
//     runs from 1 across handshake and messages.
//   - Nonces are never reused: short nonces come from strictly increasing
//     counters (Seal fails rather than wrap), long nonces from crypto/rand.
//   - Received short nonces must strictly increase (INITIATE after HELLO,
//     every MESSAGE after the previous one); the counter advances only after
//     the box authenticates, so replayed, reordered or forged MESSAGEs are
//     rejected without disturbing the session.
//   - The server uses a fresh cookie key for each WELCOME, accepts the cookie
//     once and only within CookieLifetime (60 s). Between WELCOME and
//     INITIATE it keeps only that key, the expiry and the HELLO nonce.
//   - The vouch must name both the client's transient key C' and this
//     server's long-term key S (libzmq checks only C').
//   - The server calls its AuthorizeFunc with the verified client key after
//     the vouch verifies and before producing READY; a nil AuthorizeFunc
//     denies everyone. A refusal yields ERROR data with reason "400".
//   - Transient secret keys, the cookie key and intermediate box keys are
//     zeroed once no longer needed; Session.Close zeroes the session key
//     (best effort: the Go runtime may have made copies).
//   - Every decoder checks sizes before use (HELLO and WELCOME exact sizes,
//     INITIATE and READY metadata at most MaxMetadataSize, at most
//     MaxProperties properties) and no input makes it panic; the fuzz
//     targets exercise this.
//   - Any handshake error is terminal for that Client or Server.
//
// # Left to the caller
//
//   - ZMTP framing: the greeting (mechanism "CURVE", as-server 0 on both
//     sides; the role comes from configuration), frame headers, and the
//     command name: every Client/Server/Session method takes and returns
//     command DATA, i.e. what follows the name length byte and name.
//     AppendCommand / ParseCommand convert. MESSAGE data is sent as the
//     command "\x07MESSAGE"; ERROR data as "\x05ERROR". The handshake
//     commands and ERROR go in ZMTP command frames (flag 0x04), but each
//     MESSAGE goes in a ZMTP data frame (flags 0x00, 0x02 when long, no
//     MORE: it travels encrypted in FlagMore), as libzmq 4.3 sends it:
//     libzmq silently drops a MESSAGE in a command frame (interop_test.go).
//   - Size limits on frames before buffering them (MaxHandshakeCommand for
//     handshake commands, the application's limit for MESSAGEs), and a
//     deadline on the whole handshake.
//   - Closing the connection after any error, after sending the ERROR data a
//     refused Initiate returns.
//   - Ordering: Seal's output must be written in the order Seal produced it
//     (take the nonce and write the frame under one lock).
//   - The translation to zmq4: zmq4's Security interface cannot carry CURVE
//     (it writes the plaintext frame length before encrypting and does not
//     see MORE), so the transport must run this mechanism beneath zmq4 at the
//     net.Conn level, mapping ZMTP NULL frames to CURVE MESSAGEs with
//     FlagMore and FlagCommand (PING/PONG) set from the frame flags.
//   - Logging, metrics, the allowlist and the remote address (capture it in
//     the AuthorizeFunc closure).
package curve
