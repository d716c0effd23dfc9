// Package asyncapi produces AsyncAPI 3.0.0 documents of meshmq peers: what
// they receive and send, the schemas of those messages, and what meshmq
// guarantees about each channel and operation.
//
// The input is what peers advertise through discovery (discovery.Member):
// their services, partition counts, subscriptions with their groups and
// bounds, endpoints, CURVE keys, and the message types their handlers
// declared (peer.Takes, peer.Answers) and their senders declared
// (Peer.Emits). ForPeer documents one peer from its own advertisement,
// ForCluster every member its discovery sees and itself, ForMembers any
// list of advertisements. JSON and YAML render a Document with sorted keys,
// so a document is the same bytes each time it is built from the same
// advertisements.
//
// # What the document says
//
//   - Servers: one per member with an endpoint, protocol "meshmq", its host
//     and port; a secured member refers to the "curve" security scheme
//     (asymmetricEncryption) and gives its public key.
//   - Channels: a service is a point-to-point channel, a topic or
//     subscription pattern a publish/subscribe channel, addressed by the
//     service name, topic or pattern. The replies of a service whose handler
//     documents them (peer.Answers) are a channel of their own,
//     "<service>.reply", with a null address: a reply goes to the requesting
//     peer.
//   - Operations: each member's handler of a service and each of its
//     subscriptions is a receive operation, each channel it declared
//     emitting on a send operation, named "<member>.<receive|send>.<channel>"
//     so that several members handling one service do not clash. A handler
//     that answers requests has a reply.
//   - Messages: in components.messages, named by the declared name, with
//     kind (x-meshmq-kind and a tag), contentType application/msgpack (JSON
//     with the content-type header application/json is read too, and the
//     schema describes both), the headers schema, and the payload schema in
//     components.schemas. A payload's draft-07 definitions move beside it as
//     "<message>.<definition>", its references rewritten, so recursive
//     types resolve inside the document; its root "$schema" goes, as the
//     default schemaFormat (the AsyncAPI Schema object) is a superset of
//     draft-07.
//   - Guarantees, as specification extensions on channels and operations:
//     x-meshmq-delivery (at-least-once; at-most-once for best-effort
//     subscriptions), x-meshmq-ordering (per sender and Key, with the
//     partition count when partitioned), x-meshmq-subscriber-group(s),
//     x-meshmq-retention (each group's bounds, defaults filled in, and
//     whether overflow drops the oldest or the newest copy) and
//     x-meshmq-dead-letter (the reasons the sender gives a message up), and
//     x-meshmq-instances, x-meshmq-member, x-meshmq-channel-type,
//     x-meshmq-pattern, x-meshmq-correlation.
//
// Ids of servers, channels, operations and components are made of
// letters, digits, '.', '-' and '_', derived from names ("orders.*" becomes
// "orders.star", "orders.>" "orders.gt"); ids that would clash get "-2",
// "-3", ...; declarations of one message name that disagree (kind or
// schema) become variants "<name>-<hash of the variant>".
//
// # Limits
//
//   - A document shows what members advertise and nothing else: a sender
//     that did not declare what it sends (Peer.Emits) has no send
//     operation, and an undeclared message has no schema. A channel
//     without any declared message gets a stand-in (UndocumentedMessage,
//     UndocumentedEvent) with any payload; an operation without declared
//     messages lists none, meaning all of its channel's.
//   - Retry policies are not advertised: a document says when the sender
//     dead-letters, not after how many attempts or how long.
//   - Whether a sender uses Send or Request, and per-message options
//     (peer.BestEffort, a Key, TTL), are not advertised either; operations
//     state the defaults and what the options change.
//   - ForCluster shows the cluster as one peer's discovery sees it at that
//     moment; members that disagree (partition counts, group bounds) are
//     combined as senders combine them (the largest).
//   - The message envelope (ID, Kind, Key, CorrelationID, ReplyTo, TTL, ...)
//     is meshmq's wire format (PROTOCOL.md), not AsyncAPI headers; the
//     documents name its fields in the extensions.
package asyncapi
