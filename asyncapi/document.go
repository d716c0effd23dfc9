package asyncapi

// The document model: the subset of AsyncAPI 3.0.0 that describes meshmq
// peers. Fields named x-meshmq-... are specification extensions, placed
// only where the specification allows them (channel, operation, operation
// reply, message, server objects); their types are in extensions.go.

// Version is the AsyncAPI version of every Document.
const Version = "3.0.0"

// Content types of message bodies: MessagePack by default; JSON when the
// message's content-type header says so.
const (
	ContentTypeMsgPack = "application/msgpack"
	ContentTypeJSON    = "application/json"
)

// Document is an AsyncAPI 3.0.0 document. Marshal it with JSON or YAML,
// which sort every object's keys.
type Document struct {
	AsyncAPI           string                `json:"asyncapi"`
	Info               Info                  `json:"info"`
	DefaultContentType string                `json:"defaultContentType,omitempty"`
	Servers            map[string]*Server    `json:"servers,omitempty"`
	Channels           map[string]*Channel   `json:"channels,omitempty"`
	Operations         map[string]*Operation `json:"operations,omitempty"`
	Components         *Components           `json:"components,omitempty"`
}

// Info is the document's info object: what the API is. Title and Version
// are required by AsyncAPI; the build functions fill in defaults when they
// are empty.
type Info struct {
	Title       string `json:"title"`
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
}

// Reference is a $ref to another part of the document, such as
// "#/channels/billing".
type Reference struct {
	Ref string `json:"$ref"`
}

// Server is a member's data endpoint.
type Server struct {
	Host        string      `json:"host"`     // "127.0.0.1:7000"
	Protocol    string      `json:"protocol"` // "meshmq"
	Title       string      `json:"title,omitempty"`
	Summary     string      `json:"summary,omitempty"`
	Description string      `json:"description,omitempty"`
	Security    []Reference `json:"security,omitempty"`

	Peer     string `json:"x-meshmq-peer"`                       // the member's name
	Endpoint string `json:"x-meshmq-endpoint"`                   // as advertised, "tcp://host:port"
	CurveKey string `json:"x-meshmq-curve-public-key,omitempty"` // Z85, when secured
}

// Channel is a service (point-to-point), a topic or subscription pattern
// (publish/subscribe), or the replies of a service's requests.
type Channel struct {
	// Address is the service name, topic or pattern; nil (null: unknown
	// until run time) for replies, which go to the requesting peer.
	Address     *string              `json:"address"`
	Title       string               `json:"title,omitempty"`
	Summary     string               `json:"summary,omitempty"`
	Description string               `json:"description,omitempty"`
	Servers     []Reference          `json:"servers,omitempty"`
	Messages    map[string]Reference `json:"messages,omitempty"`

	// Type is "point-to-point", "publish-subscribe" or "reply".
	Type string `json:"x-meshmq-channel-type"`
	// Pattern reports that Address is a subscription pattern with
	// wildcards ("*" one token, ">" one or more at the end).
	Pattern  bool      `json:"x-meshmq-pattern,omitempty"`
	Delivery string    `json:"x-meshmq-delivery"`
	Ordering *Ordering `json:"x-meshmq-ordering,omitempty"`
	// Instances are the members handling a service: competing consumers,
	// each message handled by one of them.
	Instances []string `json:"x-meshmq-instances,omitempty"`
	// SubscriberGroups are the groups that receive the channel's events:
	// for a pattern, those subscribed with it; for a topic, those whose
	// pattern matches it.
	SubscriberGroups []SubscriberGroup `json:"x-meshmq-subscriber-groups,omitempty"`
	DeadLetter       *DeadLetter       `json:"x-meshmq-dead-letter,omitempty"`
}

// Operation is one member sending to a channel or receiving from it.
type Operation struct {
	Action      string    `json:"action"` // "send" or "receive"
	Channel     Reference `json:"channel"`
	Title       string    `json:"title,omitempty"`
	Summary     string    `json:"summary,omitempty"`
	Description string    `json:"description,omitempty"`
	// Messages are references into the channel's messages; none: every
	// message of the channel (the member documented none).
	Messages []Reference `json:"messages,omitempty"`
	Reply    *Reply      `json:"reply,omitempty"`

	Member          string           `json:"x-meshmq-member"`
	Delivery        string           `json:"x-meshmq-delivery"`
	Ordering        *Ordering        `json:"x-meshmq-ordering,omitempty"`
	SubscriberGroup *SubscriberGroup `json:"x-meshmq-subscriber-group,omitempty"`
	Retention       *Retention       `json:"x-meshmq-retention,omitempty"`
	DeadLetter      *DeadLetter      `json:"x-meshmq-dead-letter,omitempty"`
}

// Reply is an operation's reply: request/reply on a service.
type Reply struct {
	Channel     *Reference   `json:"channel,omitempty"`
	Messages    []Reference  `json:"messages,omitempty"`
	Correlation *Correlation `json:"x-meshmq-correlation,omitempty"`
}

// Message is a message type, kept in components.messages.
type Message struct {
	Name        string `json:"name"`
	Title       string `json:"title,omitempty"`
	Summary     string `json:"summary,omitempty"`
	Description string `json:"description,omitempty"`
	ContentType string `json:"contentType"`
	// Headers and Payload are schemas: references into
	// components.schemas, or inline ({} for any payload).
	Headers any   `json:"headers,omitempty"`
	Payload any   `json:"payload,omitempty"`
	Tags    []Tag `json:"tags,omitempty"`

	// Kind is the message's kind: "document", "command", "event" or
	// "reply"; empty when undocumented on a service (command or document).
	Kind         string   `json:"x-meshmq-kind,omitempty"`
	ContentTypes []string `json:"x-meshmq-content-types"`
	// Undocumented marks the stand-in message of a channel whose
	// members declared no message types.
	Undocumented bool `json:"x-meshmq-undocumented,omitempty"`
}

// Tag is a tag of a message: its kind.
type Tag struct {
	Name string `json:"name"`
}

// Components holds what the document's parts refer to.
type Components struct {
	// Schemas are payload schemas (named as their message), the
	// definitions they used (named message.definition) and the headers
	// schema; JSON Schema draft-07 as decoded JSON.
	Schemas         map[string]any             `json:"schemas,omitempty"`
	Messages        map[string]*Message        `json:"messages,omitempty"`
	SecuritySchemes map[string]*SecurityScheme `json:"securitySchemes,omitempty"`
}

// SecurityScheme describes how a server is secured: CURVE, as AsyncAPI's
// asymmetricEncryption.
type SecurityScheme struct {
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
}
