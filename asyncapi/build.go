package asyncapi

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
)

// chanType is what a channel is to meshmq.
type chanType uint8

const (
	ptp    chanType = iota + 1 // a service
	pubsub                     // a topic or subscription pattern
	reply                      // the replies of a service's requests
)

type chanKey struct {
	typ     chanType
	address string
}

// chanInfo is a channel being assembled.
type chanInfo struct {
	chanKey
	id         string
	instances  []string // ptp: the members handling it
	partitions int      // ptp: the largest count its instances advertise
	groups     []*groupInfo
	msgIDs     []string
	hasReplies bool // ptp: some instance documents its replies
}

// opInfo is an operation being assembled.
type opInfo struct {
	member     string
	action     string // "receive" or "send"
	ch         *chanInfo
	sub        *discovery.Subscription // receive on pubsub
	group      *groupInfo              // receive on pubsub
	partitions int                     // receive on ptp: the member's own count
	takes      []*decl
	replies    []*decl
	id         string
}

type builder struct {
	members []discovery.Member
	chans   map[chanKey]*chanInfo
	ops     []*opInfo
	groups  map[string]*groupInfo
	decls   []*decl
}

// ForMembers assembles one document from members' advertisements
// (discovery.Member, as Peer.Advertisement and Peer.Members return them).
// Each member's handlers and subscriptions become receive operations, its
// declared emits send operations, named "<member>.<action>.<channel>".
// Empty info fields get defaults. The order of members does not matter;
// their names must be unique and non-empty.
func ForMembers(info Info, members ...discovery.Member) (*Document, error) {
	b := &builder{chans: make(map[chanKey]*chanInfo)}
	if err := b.normalize(members); err != nil {
		return nil, err
	}
	b.groups = groups(b.members)
	if err := b.collect(); err != nil {
		return nil, err
	}
	return b.document(info), nil
}

// normalize copies and sorts members, and adds to a member's services
// and subscriptions the channels it documents receiving on without
// advertising them (a hand-written member list).
func (b *builder) normalize(members []discovery.Member) error {
	seen := make(map[string]bool)
	for _, m := range members {
		if m.Name == "" {
			return fmt.Errorf("asyncapi: a member has no name")
		}
		if seen[m.Name] {
			return fmt.Errorf("asyncapi: member %q given twice", m.Name)
		}
		seen[m.Name] = true
		m.Services = slices.Clone(m.Services)
		m.Subscriptions = slices.Clone(m.Subscriptions)
		for _, mt := range m.MessageTypes {
			switch mt.Direction {
			case discovery.Receive, discovery.Reply:
				topic := mt.Direction == discovery.Receive && (mt.Kind == channel.Event || channel.IsPattern(mt.Channel))
				if m.Handles(mt.Channel) || (mt.Direction == discovery.Receive && subscribes(m, mt.Channel)) {
					continue
				}
				if topic {
					m.Subscriptions = append(m.Subscriptions, discovery.Subscription{Pattern: mt.Channel})
				} else {
					m.Services = append(m.Services, mt.Channel)
				}
			case discovery.Send:
			default:
				return fmt.Errorf("asyncapi: member %q: message %q on %q has an unknown direction %d", m.Name, mt.Name, mt.Channel, mt.Direction)
			}
		}
		slices.Sort(m.Services)
		m.Services = slices.Compact(m.Services)
		slices.SortFunc(m.Subscriptions, func(a, b discovery.Subscription) int {
			return cmp.Or(cmp.Compare(a.Pattern, b.Pattern), cmp.Compare(a.Group, b.Group))
		})
		b.members = append(b.members, m)
	}
	slices.SortFunc(b.members, func(a, b discovery.Member) int { return cmp.Compare(a.Name, b.Name) })
	return nil
}

func (b *builder) channel(typ chanType, address string) *chanInfo {
	k := chanKey{typ, address}
	ch := b.chans[k]
	if ch == nil {
		ch = &chanInfo{chanKey: k}
		b.chans[k] = ch
	}
	return ch
}

func (b *builder) op(member, action string, ch *chanInfo) *opInfo {
	o := &opInfo{member: member, action: action, ch: ch}
	b.ops = append(b.ops, o)
	return o
}

// collect makes the channels and operations of every member and their
// messages.
func (b *builder) collect() error {
	for _, m := range b.members {
		var mine []*opInfo
		for _, s := range m.Services {
			ch := b.channel(ptp, s)
			ch.instances = append(ch.instances, m.Name)
			ch.partitions = max(ch.partitions, m.Partitions[s])
			o := b.op(m.Name, "receive", ch)
			o.partitions = m.Partitions[s]
			mine = append(mine, o)
		}
		for i := range m.Subscriptions {
			s := &m.Subscriptions[i]
			o := b.op(m.Name, "receive", b.channel(pubsub, s.Pattern))
			o.sub, o.group = s, b.groups[groupKey(m.Name, *s)]
			mine = append(mine, o)
		}
		sends := make(map[chanKey]*opInfo)
		for _, mt := range m.MessageTypes {
			d, err := newDecl(m.Name, mt)
			if err != nil {
				return err
			}
			b.decls = append(b.decls, d)
			switch mt.Direction {
			case discovery.Receive:
				// A service and a pattern of the same name: the kind decides.
				both := slices.ContainsFunc(mine, func(o *opInfo) bool { return o.ch.address == mt.Channel && o.ch.typ == ptp }) &&
					slices.ContainsFunc(mine, func(o *opInfo) bool { return o.ch.address == mt.Channel && o.ch.typ == pubsub })
				for _, o := range mine {
					if o.ch.address == mt.Channel && (!both || (o.ch.typ == pubsub) == (mt.Kind == channel.Event)) {
						o.takes = append(o.takes, d)
					}
				}
			case discovery.Reply:
				for _, o := range mine {
					if o.ch.typ == ptp && o.ch.address == mt.Channel {
						o.replies = append(o.replies, d)
						o.ch.hasReplies = true
					}
				}
			case discovery.Send:
				typ := ptp
				if mt.Kind == channel.Event {
					typ = pubsub
				}
				ch := b.channel(typ, mt.Channel)
				o := sends[ch.chanKey]
				if o == nil {
					o = b.op(m.Name, "send", ch)
					sends[ch.chanKey] = o
				}
				o.takes = append(o.takes, d)
			}
		}
	}
	// The groups each publish/subscribe channel reaches.
	for _, ch := range b.chans {
		if ch.typ != pubsub {
			continue
		}
		for _, key := range sortedKeys(b.groups) {
			g := b.groups[key]
			if slices.ContainsFunc(g.patterns, func(p string) bool {
				return p == ch.address || (!channel.IsPattern(ch.address) && channel.MatchTopic(p, ch.address))
			}) {
				ch.groups = append(ch.groups, g)
			}
		}
	}
	return nil
}

func groupKey(member string, s discovery.Subscription) string {
	if s.Group == "" {
		return "m/" + member + "/" + s.Pattern
	}
	return "g/" + s.Group
}

// subscribes reports whether m subscribes with pattern.
func subscribes(m discovery.Member, pattern string) bool {
	return slices.ContainsFunc(m.Subscriptions, func(s discovery.Subscription) bool { return s.Pattern == pattern })
}

// document assembles the document: ids, then every part.
func (b *builder) document(info Info) *Document {
	msgIDs := make(namer)
	vs := variants(b.decls, msgIDs)
	// Messages of operations and channels; reply channels.
	for _, o := range b.ops {
		for _, d := range o.takes {
			o.ch.addMsg(d.v.id)
		}
		if len(o.replies) > 0 {
			rc := b.channel(reply, o.ch.address)
			for _, d := range o.replies {
				rc.addMsg(d.v.id)
			}
		}
	}
	// Stand-ins for channels nobody documented.
	var ptpStandIn, eventStandIn *variant
	for _, ch := range b.sortedChans() {
		if len(ch.msgIDs) > 0 {
			continue
		}
		if ch.typ == pubsub {
			if eventStandIn == nil {
				eventStandIn = standIn(true, msgIDs)
				vs = append(vs, eventStandIn)
			}
			ch.addMsg(eventStandIn.id)
		} else {
			if ptpStandIn == nil {
				ptpStandIn = standIn(false, msgIDs)
				vs = append(vs, ptpStandIn)
			}
			ch.addMsg(ptpStandIn.id)
		}
	}

	doc := &Document{
		AsyncAPI:           Version,
		Info:               b.info(info),
		DefaultContentType: ContentTypeMsgPack,
		Channels:           make(map[string]*Channel),
		Operations:         make(map[string]*Operation),
		Components: &Components{
			Schemas:  map[string]any{headersID: headersSchema()},
			Messages: make(map[string]*Message),
		},
	}
	// Components: messages, and their payloads with their definitions.
	schemas := &schemaSet{ids: namer{headersID: true}, schemas: doc.Components.Schemas}
	payloadIDs := make(map[*variant]string)
	for _, v := range vs {
		if v.schema != nil {
			payloadIDs[v] = schemas.ids.take(v.id)
		}
	}
	for _, v := range vs {
		m := v.message()
		if id, ok := payloadIDs[v]; ok {
			schemas.add(id, v.schema)
			m.Payload = ref("components", "schemas", id)
		}
		doc.Components.Messages[v.id] = m
	}
	// Members' ids, which name their servers and operations.
	memberIDs := make(map[string]string)
	mids := make(namer)
	for _, m := range b.members {
		memberIDs[m.Name] = mids.take(sanitize(m.Name))
	}
	// Servers: one per member with an endpoint.
	serverIDs := make(map[string]string)
	for _, m := range b.members {
		if m.Endpoint == "" {
			continue
		}
		id := memberIDs[m.Name]
		serverIDs[m.Name] = id
		if doc.Servers == nil {
			doc.Servers = make(map[string]*Server)
		}
		doc.Servers[id] = server(m)
		if !m.Key.IsZero() {
			doc.Components.SecuritySchemes = map[string]*SecurityScheme{curveScheme: curveSecurity()}
		}
	}
	// Channels.
	cids := make(namer)
	for _, ch := range b.sortedChans() {
		base := sanitize(ch.address)
		if ch.typ == reply {
			base += ".reply"
		}
		ch.id = cids.take(base)
	}
	for _, ch := range b.sortedChans() {
		doc.Channels[ch.id] = b.describeChannel(ch, serverIDs)
	}
	// Operations.
	slices.SortStableFunc(b.ops, func(x, y *opInfo) int {
		return cmp.Or(cmp.Compare(x.member, y.member), cmp.Compare(x.action, y.action),
			cmp.Compare(x.ch.address, y.ch.address), cmp.Compare(x.ch.typ, y.ch.typ), cmp.Compare(x.groupName(), y.groupName()))
	})
	same := make(map[string]int)
	base := func(o *opInfo) string { return memberIDs[o.member] + "." + o.action + "." + o.ch.id }
	for _, o := range b.ops {
		same[base(o)]++
	}
	oids := make(namer)
	for _, o := range b.ops {
		id := base(o)
		if same[id] > 1 && o.groupName() != "" {
			id += "." + sanitize(o.groupName())
		}
		o.id = oids.take(id)
		doc.Operations[o.id] = b.describeOp(o)
	}
	return doc
}

func (ch *chanInfo) addMsg(id string) {
	if !slices.Contains(ch.msgIDs, id) {
		ch.msgIDs = append(ch.msgIDs, id)
		slices.Sort(ch.msgIDs)
	}
}

func (o *opInfo) groupName() string {
	if o.sub != nil {
		return o.sub.Group
	}
	return ""
}

func (b *builder) sortedChans() []*chanInfo {
	chans := slices.Collect(maps.Values(b.chans))
	slices.SortFunc(chans, func(x, y *chanInfo) int {
		return cmp.Or(cmp.Compare(x.address, y.address), cmp.Compare(x.typ, y.typ))
	})
	return chans
}

func (b *builder) info(in Info) Info {
	if in.Title == "" {
		in.Title = "meshmq"
	}
	if in.Version == "" {
		in.Version = "unversioned"
	}
	if in.Description == "" {
		names := make([]string, len(b.members))
		for i, m := range b.members {
			names[i] = m.Name
		}
		in.Description = "The messages of the meshmq peers " + strings.Join(names, ", ") + ", from their " +
			"discovery advertisements: what their handlers and subscriptions take (peer.Takes, peer.Answers) " +
			"and what they send and publish (Peer.Emits). Bodies are MessagePack, or JSON with the header " +
			"content-type: application/json. The x-meshmq-... extensions state each channel's and operation's " +
			"delivery, ordering, subscriber groups, retention and dead-lettering."
	}
	return in
}
