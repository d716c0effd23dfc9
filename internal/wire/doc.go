// Package wire encodes and decodes the packets of the meshmq protocol,
// version 1, as PROTOCOL.md at the repository root specifies them byte by
// byte.
//
// Every packet is one ZMTP frame holding one msgpack array whose first element
// is the packet type. The encoders write the shortest msgpack forms, so one
// value always has one encoding (the reference vectors in testdata rely on
// it); the decoders accept any valid msgpack form.
//
// Decoding is hardened for untrusted input: Decode never panics, never
// allocates more than a small multiple of the frame's size, bounds nesting,
// and reports every failure as an error matching ErrMalformed. Decoded byte
// slices alias the frame (no copy per message); decoded strings are copied.
//
// Forward compatibility: receivers skip top-level array elements, entry
// elements and map keys they do not know, so a later minor revision may append
// fields; anything that changes the meaning of existing fields takes a new
// version, negotiated in HELLO.
package wire
