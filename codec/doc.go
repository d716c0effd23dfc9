// Package codec converts message bodies to and from bytes.
//
// A [Codec] is identified by its content type, which travels with a
// message in its "content-type" header. Two codecs are built in:
// [MsgPack] ("application/msgpack", the [Default]) and [JSON]
// ("application/json").
//
// # Guarantees
//
//   - Every Codec returned by this package is safe for concurrent use.
//   - Unmarshal never panics on malformed input, and MessagePack decoding
//     bounds the memory and stack a hostile body can claim (see [MsgPack]).
//   - Every Marshal and Unmarshal failure of a built-in codec is an
//     [*Error], whose Unwrap exposes the underlying cause.
//   - Content types compare case-insensitively and ignore parameters, so
//     "Application/JSON; charset=utf-8" selects the JSON codec.
//   - An empty content type means MessagePack: it is what a message
//     without a content-type header was encoded with.
//   - Unknown content types are reported with an [*UnknownContentTypeError],
//     which matches [ErrUnknownContentType] under errors.Is.
//
// # Registries
//
// A [Registry] maps content types to codecs and is safe for concurrent
// use; lookups take no locks. The package-level [Lookup] and [Register]
// use a default registry holding MsgPack and JSON. That registry is the
// package's only mutable global state.
package codec
