package asyncapi

// The values of the x-meshmq-... extensions: what meshmq guarantees on a
// channel or operation (README "Guarantees", package peer's doc).

// Delivery guarantees (x-meshmq-delivery).
const (
	AtLeastOnce = "at-least-once"
	AtMostOnce  = "at-most-once"
	// PerSubscriberGroup is a publish/subscribe channel whose groups differ:
	// see each group's Delivery.
	PerSubscriberGroup = "per-subscriber-group"
)

// Channel types (x-meshmq-channel-type).
const (
	PointToPoint     = "point-to-point"
	PublishSubscribe = "publish-subscribe"
	ReplyChannel     = "reply"
)

// Overflow policies of a subscriber group (Retention.Overflow).
const (
	DropOldest = "drop-oldest"
	DropNewest = "drop-newest"
)

// OrderingKey is Ordering.Key: the message envelope's Key field
// (channel.Message.Key) is the ordering key.
const OrderingKey = "Key"

// Ordering is x-meshmq-ordering: messages from one sender with the same
// Key are handled one at a time, in send order; with Partitions also
// across the instances (group members), each partition owned by one at a
// time.
type Ordering struct {
	Key         string `json:"key"`   // "Key": the message's ordering key
	Scope       string `json:"scope"` // "per-sender-and-key"
	Partitions  int    `json:"partitions,omitempty"`
	Description string `json:"description"`
}

// SubscriberGroup is a subscriber group (x-meshmq-subscriber-group on a
// receive operation, and listed on publish/subscribe channels): each
// event reaches one of its members, and every group gets each event.
type SubscriberGroup struct {
	// Name is the group's name; empty for a subscription without a
	// group, which is a group of its own.
	Name        string     `json:"name,omitempty"`
	Pattern     string     `json:"pattern"`
	Members     []string   `json:"members"`
	Delivery    string     `json:"delivery"`
	Partitions  int        `json:"partitions,omitempty"`
	Retention   *Retention `json:"retention,omitempty"`
	Description string     `json:"description"`
}

// Retention is x-meshmq-retention: the bounds on the copies each
// publisher keeps for a subscriber group (in flight, and retained while
// every member is failed), the largest any member asked for, defaults
// filled in.
type Retention struct {
	MaxAge        string `json:"maxAge"` // a Go duration, "10m0s"
	MaxAgeSeconds int64  `json:"maxAgeSeconds"`
	MaxCount      int    `json:"maxCount"`
	MaxBytes      int    `json:"maxBytes"`
	Overflow      string `json:"overflow"` // DropOldest or DropNewest
	Description   string `json:"description"`
}

// DeadLetter is x-meshmq-dead-letter: when the sender gives a message up
// and hands it to its dead-letter callback (peer.WithDeadLetter), with one
// of Reasons (peer.Reason).
type DeadLetter struct {
	By          string   `json:"by"` // "sender"
	RetryPolicy string   `json:"retryPolicy"`
	Reasons     []string `json:"reasons"`
	Overflow    string   `json:"overflow,omitempty"`
	Description string   `json:"description"`
}

// Correlation is x-meshmq-correlation on a reply: how a reply finds its
// request.
type Correlation struct {
	ReplyTo       string `json:"replyTo"`       // "ReplyTo": the envelope field naming the requester
	CorrelationID string `json:"correlationId"` // "CorrelationID"
	Description   string `json:"description"`
}
