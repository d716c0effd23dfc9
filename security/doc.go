// Package security holds what a peer needs to trust other peers: CURVE key
// pairs (Curve25519, written as Z85 text of ZeroMQ RFC 32 and in zcert-style
// key files, so keys made by libzmq tools work here and the other way
// round), the allowlist of peer keys admitted, gossip keys, and Config, the
// profile peer.WithSecurity takes.
//
// # What a secured peer guarantees
//
//   - Every data connection is ZMTP CURVE (RFC 25/26, libzmq-compatible):
//     encrypted and authenticated both ways with per-connection keys
//     (forward secrecy); replayed, reordered or forged frames close the
//     connection.
//   - Deny by default: a peer admits a client, and dials a server, only if
//     its long-term key is in Config.Allow. A nil Allow admits no one;
//     AllowAny must be chosen explicitly and is reported as insecure.
//   - A peer's name is bound to its key: members advertise their public key
//     through discovery; a dialer pins it, and an acceptor refuses a client
//     whose claimed name advertises another key. A received message's From
//     is the authenticated sender.
//   - Allowlist changes apply at once, to running peers: revoked keys lose
//     their connections.
//   - Refusals are counted (peer Stats().Security) and logged (at most one
//     line a second).
//   - With GossipKeys, discovery gossip is encrypted and authenticated
//     (AES-GCM): without the key a node can neither join nor read it.
//
// SECURITY.md, at the repository root, states the threat model: what each
// layer protects, and what a holder of the gossip key or of an allowed key
// can still do.
//
// Secret keys: files must not be readable by group or others; SecretKey's
// String redacts it; Zero erases a key pair the program no longer needs
// (best effort: Go may have copied it).
package security
