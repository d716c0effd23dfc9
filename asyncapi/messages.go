package asyncapi

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
)

// Messages. Every message type a member advertises becomes a message in
// components.messages, named by its Name. Declarations of one name that
// agree (same Name, Kind and schema; one without a schema agrees with the
// only schema given for its name and kind) are one message, described by
// the receiver's description first. Declarations that disagree are
// variants, each named "<Name>-<hash>", the hash taken from the variant's
// name, kind and schema, so that a variant keeps its name whatever else
// the cluster declares.

// headersID is the id of the headers schema in components.schemas.
const headersID = "meshmq.headers"

const encodingNote = "MessagePack by default (application/msgpack); JSON when the content-type header is " +
	"application/json. Receivers read both, and the payload schema describes both: field names come from the " +
	"Go type's json tags, which the MessagePack codec uses too."

// decl is one advertised message type.
type decl struct {
	mt     discovery.MessageType
	member string
	schema any    // decoded; nil when undocumented
	canon  string // schema as canonical JSON; "" when undocumented
	v      *variant
}

func newDecl(member string, mt discovery.MessageType) (*decl, error) {
	d := &decl{mt: mt, member: member}
	if mt.Name == "" {
		return nil, fmt.Errorf("asyncapi: member %q: a message type on %q has no name", member, mt.Channel)
	}
	if len(mt.Schema) > 0 {
		s, err := decodeSchema(mt.Schema)
		if err != nil {
			return nil, fmt.Errorf("asyncapi: member %q: schema of message %q on %q: %w", member, mt.Name, mt.Channel, err)
		}
		d.schema, d.canon = s, canonical(s)
	}
	return d, nil
}

// variant is one message of components.messages.
type variant struct {
	name         string
	kind         channel.Kind
	canon        string
	schema       any
	decls        []*decl
	undocumented bool // a stand-in for a channel without declared messages
	id           string
}

// variants groups decls into messages and names them, taking ids from ids.
func variants(decls []*decl, ids namer) []*variant {
	byBase := make(map[string][]*decl)
	for _, d := range decls {
		base := sanitize(d.mt.Name)
		byBase[base] = append(byBase[base], d)
	}
	var all []*variant
	for _, base := range sortedKeys(byBase) {
		type nk struct {
			name string
			kind channel.Kind
		}
		byNK := make(map[nk][]*decl)
		var order []nk
		for _, d := range byBase[base] {
			k := nk{d.mt.Name, d.mt.Kind}
			if byNK[k] == nil {
				order = append(order, k)
			}
			byNK[k] = append(byNK[k], d)
		}
		var vs []*variant
		for _, k := range order {
			// The schemas declared for the name and kind, and on each channel.
			var schemas []string
			onChannel := make(map[string][]string)
			for _, d := range byNK[k] {
				if d.canon == "" {
					continue
				}
				if !slices.Contains(schemas, d.canon) {
					schemas = append(schemas, d.canon)
				}
				if !slices.Contains(onChannel[d.mt.Channel], d.canon) {
					onChannel[d.mt.Channel] = append(onChannel[d.mt.Channel], d.canon)
				}
			}
			byCanon := make(map[string]*variant)
			for _, d := range byNK[k] {
				// An undocumented declaration agrees with the only schema
				// on its channel, or else with the only schema.
				c := d.canon
				if c == "" && len(onChannel[d.mt.Channel]) == 1 {
					c = onChannel[d.mt.Channel][0]
				} else if c == "" && len(schemas) == 1 {
					c = schemas[0]
				}
				v := byCanon[c]
				if v == nil {
					v = &variant{name: k.name, kind: k.kind, canon: c}
					byCanon[c] = v
					vs = append(vs, v)
				}
				if d.schema != nil && v.schema == nil {
					v.schema = d.schema
				}
				v.decls = append(v.decls, d)
				d.v = v
			}
		}
		slices.SortFunc(vs, func(a, b *variant) int {
			return cmp.Or(cmp.Compare(a.name, b.name), cmp.Compare(a.kind, b.kind), cmp.Compare(a.canon, b.canon))
		})
		for _, v := range vs {
			if len(vs) == 1 {
				v.id = ids.take(base)
			} else {
				v.id = ids.take(base + "-" + shortHash(v.name, v.kind.String(), v.canon))
			}
		}
		all = append(all, vs...)
	}
	return all
}

// standIn is the message of a channel whose members declared none.
func standIn(topic bool, ids namer) *variant {
	if topic {
		return &variant{name: "UndocumentedEvent", kind: channel.Event, undocumented: true, id: ids.take("UndocumentedEvent")}
	}
	return &variant{name: "UndocumentedMessage", undocumented: true, id: ids.take("UndocumentedMessage")}
}

// message describes v.
func (v *variant) message() *Message {
	m := &Message{
		Name:         v.name,
		Title:        v.name,
		ContentType:  ContentTypeMsgPack,
		ContentTypes: []string{ContentTypeMsgPack, ContentTypeJSON},
		Headers:      ref("components", "schemas", headersID),
		Undocumented: v.undocumented,
	}
	if v.kind.Valid() {
		m.Kind = v.kind.String()
		m.Tags = []Tag{{Name: m.Kind}}
	}
	desc := v.description()
	switch {
	case v.undocumented && v.kind == channel.Event:
		m.Summary = "An event on a topic whose subscribers and publishers declared no message types."
		desc = "Undocumented: no member declared the events of this channel (peer.Takes on Subscribe, Peer.Emits)."
	case v.undocumented:
		m.Summary = "A command or document to a service whose handlers and senders declared no message types."
		desc = "Undocumented: no member declared the messages of this channel (peer.Takes on Handle, Peer.Emits)."
	case desc != "":
		m.Summary = firstSentence(desc)
	case m.Kind != "":
		m.Summary = fmt.Sprintf("%s %s.", article(m.Kind), m.Kind)
	default:
		m.Summary = "A message."
	}
	m.Description = strings.TrimSpace(desc + "\n\n" + encodingNote)
	if v.schema == nil {
		m.Payload = map[string]any{"description": "Undocumented: declared without a payload type."}
	} else {
		m.Payload = ref("components", "schemas", v.id)
	}
	return m
}

// description is the description of the receiver's declaration, or
// else of a reply's, or else of a sender's.
func (v *variant) description() string {
	rank := func(d discovery.Direction) int {
		switch d {
		case discovery.Receive:
			return 0
		case discovery.Reply:
			return 1
		}
		return 2
	}
	ds := slices.Clone(v.decls)
	slices.SortFunc(ds, func(a, b *decl) int {
		return cmp.Or(cmp.Compare(rank(a.mt.Direction), rank(b.mt.Direction)), cmp.Compare(a.mt.Description, b.mt.Description))
	})
	for _, d := range ds {
		if s := strings.TrimSpace(d.mt.Description); s != "" {
			return s
		}
	}
	return ""
}

func firstSentence(s string) string {
	if i := strings.IndexAny(s, "\n"); i >= 0 {
		s = s[:i]
	}
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	return strings.TrimSpace(s)
}

func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "An"
	}
	return "A"
}
