package peer

import (
	"bytes"
	"cmp"
	"fmt"
	"reflect"
	"slices"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/internal/jsonschema"
)

// Message documentation. Handlers and senders declare the message types they
// take and emit; the peer advertises them in its catalog, so that an
// AsyncAPI document of the peer, or of the whole cluster, can be built from
// discovery (package asyncapi).

// MessageType declares one message type of a channel.
type MessageType struct {
	// Name names the message; default: the payload's Go type name.
	Name string
	// Kind is the message's kind; default: a command on a service, an event
	// on a topic, a reply for Answers.
	Kind channel.Kind
	// Description says what the message means, for readers of the API.
	Description string
	// Payload is a value of the body's Go type (a zero value will do); the
	// body's JSON Schema is derived from the type (json tags, a `doc` tag
	// for a field's description). Nil: the body is undocumented.
	Payload any
}

// doc turns mt into what the catalog carries.
func (mt MessageType) doc(ch string, dir discovery.Direction, kind channel.Kind) (discovery.MessageType, error) {
	d := discovery.MessageType{Channel: ch, Direction: dir, Kind: mt.Kind, Name: mt.Name, Description: mt.Description}
	if d.Kind == 0 {
		d.Kind = kind
	}
	if mt.Payload != nil {
		t := reflect.TypeOf(mt.Payload)
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if d.Name == "" {
			d.Name = t.Name()
		}
		s, err := jsonschema.For(mt.Payload)
		if err != nil {
			return d, err
		}
		d.Schema = s
	}
	if d.Name == "" {
		return d, fmt.Errorf("message type on %q: give a Name or a Payload", ch)
	}
	return d, nil
}

// Takes documents a message type the handler (Handle) or subscription
// (Subscribe) takes. It may be given several times.
func Takes(mt MessageType) HandleOption {
	return func(c *handleConfig) error {
		c.takes = append(c.takes, mt)
		return nil
	}
}

// Answers documents the reply a request handler sends (peer.Reply).
func Answers(mt MessageType) HandleOption {
	return func(c *handleConfig) error {
		c.answers = append(c.answers, mt)
		return nil
	}
}

// handlerDocs documents a handler of ch from its options.
func handlerDocs(ch string, hc *handleConfig, topic bool) ([]discovery.MessageType, error) {
	kind := channel.Command
	if topic {
		kind = channel.Event
	}
	var out []discovery.MessageType
	for _, mt := range hc.takes {
		d, err := mt.doc(ch, discovery.Receive, kind)
		if err != nil {
			return nil, &OptionError{"Takes", err.Error()}
		}
		out = append(out, d)
	}
	for _, mt := range hc.answers {
		if topic {
			return nil, &OptionError{"Answers", "applies to Handle, not Subscribe"}
		}
		d, err := mt.doc(ch, discovery.Reply, channel.Reply)
		if err != nil {
			return nil, &OptionError{"Answers", err.Error()}
		}
		out = append(out, d)
	}
	return out, nil
}

// Emits documents a message type this peer sends to a service (a command
// or document) or publishes to a topic (an event: Kind Event). It changes
// nothing about sending; it is advertised for the API documentation.
// Declaring the same channel, direction and name again replaces it.
func (p *Peer) Emits(ch string, mt MessageType) error {
	if ch == "" {
		return &OptionError{"Emits", "need a channel"}
	}
	d, err := mt.doc(ch, discovery.Send, channel.Command)
	if err != nil {
		return &OptionError{"Emits", err.Error()}
	}
	p.mu.Lock()
	p.emits = slices.DeleteFunc(p.emits, func(e discovery.MessageType) bool { return e.Channel == ch && e.Name == d.Name })
	p.emits = append(p.emits, d)
	p.catalogVersion.Add(1)
	p.mu.Unlock()
	return p.disc.Update(p.member())
}

// messageTypes returns what the peer advertises about its messages: every
// declared message type, its own included (the input of an AsyncAPI
// document).
func (p *Peer) messageTypes() []discovery.MessageType {
	var out []discovery.MessageType
	for _, s := range p.services {
		out = append(out, s.docs...)
	}
	for _, s := range p.subs {
		out = append(out, s.svc.docs...)
	}
	out = append(out, p.emits...)
	// The catalog's canonical order (PROTOCOL.md 10): channel, direction,
	// name, then the other fields, so that no two orders are possible.
	slices.SortStableFunc(out, func(a, b discovery.MessageType) int {
		return cmp.Or(cmpStr(a.Channel, b.Channel), cmp.Compare(a.Direction, b.Direction), cmpStr(a.Name, b.Name),
			cmp.Compare(a.Kind, b.Kind), cmpStr(a.Description, b.Description), bytes.Compare(a.Schema, b.Schema))
	})
	return out
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
