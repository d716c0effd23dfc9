// Package channel defines meshmq's message model: the [Message] that
// travels between peers, its [Kind], the [Handler] that receives it, and
// the errors a handler uses to steer redelivery. It performs no I/O.
//
// # Guarantees
//
//   - [NewID] returns identifiers that are unique within a process and,
//     with overwhelming probability, across processes. It is safe for
//     concurrent use and allocates only the returned string. Its counter
//     is the package's only mutable global state.
//   - A Message is a plain value: it is not safe for concurrent mutation,
//     and [Message.Clone] gives a copy that shares no memory with the
//     original.
//   - Bodies are encoded by a [codec.Codec] named in the "content-type"
//     header ([HeaderContentType]); a message without that header has a
//     MessagePack body, or none.
//   - Errors are typed: [*ValidationError] matches [ErrInvalidMessage],
//     decoding a body in an unknown content type yields an error that
//     matches [codec.ErrUnknownContentType], and [Permanent] marks a
//     handler error as not worth retrying.
package channel
