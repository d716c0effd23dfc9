package discovery

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/security"
)

// Member is what a peer advertises about itself.
type Member struct {
	Name          string         // stable peer name, unique in the cluster
	Endpoint      string         // data endpoint, "tcp://host:port"
	Services      []string       // point-to-point channels it handles
	Partitions    map[string]int // partition counts of its partitioned services
	Subscriptions []Subscription // topic patterns it subscribes to
	// Key is the member's CURVE public key when its data connections are
	// secured (peer.WithSecurity), zero otherwise. Peers pin it: a dial
	// must reach the holder of this key, and a connection claiming this
	// member's name must authenticate with it.
	Key security.PublicKey
	// MessageTypes documents the messages the member takes and emits, as
	// its handlers and senders declared them (AsyncAPI documents are built
	// from them).
	MessageTypes []MessageType
}

// Direction says whether a member receives, sends or replies with a message
// type.
type Direction uint8

const (
	Receive Direction = 1 // taken by a handler or subscription on the channel
	Send    Direction = 2 // sent to the service or published to the topic
	Reply   Direction = 3 // the reply of the channel's request handler
)

func (d Direction) String() string {
	switch d {
	case Receive:
		return "receive"
	case Send:
		return "send"
	case Reply:
		return "reply"
	}
	return "unknown"
}

// MessageType documents one message a member takes or emits.
type MessageType struct {
	Channel     string       // service name, topic, or subscription pattern
	Direction   Direction    // receive, send or reply
	Kind        channel.Kind // document, command, event or reply
	Name        string       // the message's name, e.g. its Go type's
	Description string
	Schema      []byte // JSON Schema (draft-07) of the payload, as JSON; empty: undocumented
}

// Handles reports whether m handles service.
func (m Member) Handles(service string) bool { return slices.Contains(m.Services, service) }

// Subscription is a topic pattern a member subscribes to, and how publishers
// treat the copies they keep for its group.
type Subscription struct {
	Pattern    string // "orders.*": * is one token, > the rest
	Group      string // subscriber group; "" is a group of its own
	BestEffort bool   // copies are sent without acknowledgement or retention
	Partitions int    // keyed events are partitioned among the group's members; 0: not
	DropNewest bool   // overflow gives up the newest copy, not the oldest
	// Bounds on the copies a publisher keeps for the group (in flight, and
	// retained while every member is failed); 0 means the default.
	MaxAge   time.Duration
	MaxCount int
	MaxBytes int
}

// EventType says what happened to a member.
type EventType uint8

const (
	Joined  EventType = iota + 1 // a member appeared
	Updated                      // a member changed its advertisement
	Left                         // a member left gracefully
	Failed                       // a member was detected dead
)

func (t EventType) String() string {
	switch t {
	case Joined:
		return "joined"
	case Updated:
		return "updated"
	case Left:
		return "left"
	case Failed:
		return "failed"
	}
	return "unknown"
}

// Event is one membership change.
type Event struct {
	Type   EventType
	Member Member
}

// Discovery is a peer's view of the cluster.
type Discovery interface {
	// Start joins the cluster advertising local. Events are delivered to
	// notify, in order, from one goroutine at a time; notify must not block
	// for long.
	Start(ctx context.Context, local Member, notify func(Event)) error
	// Members returns the other members currently alive.
	Members() []Member
	// Update changes the local advertisement.
	Update(local Member) error
	// Leave leaves the cluster gracefully and stops. It is idempotent.
	Leave(ctx context.Context) error
}

// ErrNotStarted is returned by calls that need Start first.
var ErrNotStarted = errors.New("discovery: not started")
