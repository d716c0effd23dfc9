package asyncapi

import (
	"fmt"
	"slices"
	"strings"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
)

// The channel, operation and server objects, with their prose and
// extensions.

const curveScheme = "curve"

func (b *builder) describeChannel(ch *chanInfo, serverIDs map[string]string) *Channel {
	c := &Channel{Messages: make(map[string]Reference, len(ch.msgIDs))}
	for _, id := range ch.msgIDs {
		c.Messages[id] = ref("components", "messages", id)
	}
	addr := ch.address
	var d strings.Builder
	switch ch.typ {
	case ptp:
		c.Address, c.Title, c.Type = &addr, addr, PointToPoint
		c.Summary = fmt.Sprintf("Service %s: point-to-point, each message handled by one instance.", addr)
		c.Delivery = AtLeastOnce
		c.Ordering = ordering(ch.partitions, false)
		c.Instances = slices.Clone(ch.instances)
		c.DeadLetter = pointToPointDeadLetter()
		c.Servers = serverRefs(ch.instances, serverIDs)
		fmt.Fprintf(&d, "Messages sent to service %s (peer.Send, or peer.Request to await a reply) go to one of its instances", addr)
		if len(ch.instances) > 0 {
			fmt.Fprintf(&d, ": %s.", strings.Join(ch.instances, ", "))
		} else {
			d.WriteString("; no member described here handles it.")
		}
		d.WriteString(" At least once: the sender keeps each message in its retry buffer until a handler returns nil, " +
			"retries it with backoff, fails it over to another instance when one dies, and dead-letters it when its " +
			"retry policy gives up; sent with peer.BestEffort a message is at most once. Receivers drop duplicates.")
		if ch.partitions > 0 {
			fmt.Fprintf(&d, " Partitioned in %d: the Key selects the partition, each owned by one instance at a time.", ch.partitions)
		}
		if ch.hasReplies {
			fmt.Fprintf(&d, " Requests are answered on the channel %s.", b.chans[chanKey{reply, addr}].id)
		}
	case pubsub:
		c.Address, c.Title, c.Type = &addr, addr, PublishSubscribe
		c.Pattern = channel.IsPattern(addr)
		if c.Pattern {
			c.Summary = fmt.Sprintf("Topic pattern %s: publish/subscribe, every subscriber group gets each event.", addr)
		} else {
			c.Summary = fmt.Sprintf("Topic %s: publish/subscribe, every subscriber group gets each event.", addr)
		}
		c.Delivery = ch.delivery()
		c.Ordering = ch.ordering()
		c.DeadLetter = ch.deadLetter()
		var receivers []string
		for _, g := range ch.groups {
			c.SubscriberGroups = append(c.SubscriberGroups, g.describe())
			receivers = append(receivers, g.members...)
		}
		slices.Sort(receivers)
		c.Servers = serverRefs(slices.Compact(receivers), serverIDs)
		if c.Pattern {
			fmt.Fprintf(&d, "Events published (peer.Publish) to topics matching %s (* one token, > one or more at the end)", addr)
		} else {
			fmt.Fprintf(&d, "Events published (peer.Publish) to %s", addr)
		}
		d.WriteString(" reach every subscriber group once, one member of the group handling each; at least once " +
			"per group, at most once for a best-effort group (peer.Unreliable) or a publish with peer.BestEffort.")
		if len(ch.groups) == 0 {
			d.WriteString(" No member described here subscribes to it.")
		} else {
			d.WriteString(" Groups: see x-meshmq-subscriber-groups.")
		}
	case reply:
		c.Title, c.Type = "Replies of "+addr, ReplyChannel
		c.Summary = fmt.Sprintf("Replies to requests on service %s, sent to the requesting peer.", addr)
		c.Delivery = AtLeastOnce
		c.DeadLetter = pointToPointDeadLetter()
		d.WriteString("Its address is unknown until run time (null): a handler's reply (peer.Reply, Kind reply) goes " +
			"straight to the peer that sent the request, named by the request's ReplyTo, and carries the request's " +
			"CorrelationID. It is sent only if the handler returned nil, at least once; a reply that arrives after " +
			"the requester gave up is dropped (Stats.LateReplies).")
	}
	c.Description = d.String()
	return c
}

// delivery is a publish/subscribe channel's guarantee over its groups.
func (ch *chanInfo) delivery() string {
	best, reliable := 0, 0
	for _, g := range ch.groups {
		if g.bestEffort {
			best++
		} else {
			reliable++
		}
	}
	switch {
	case best > 0 && reliable > 0:
		return PerSubscriberGroup
	case best > 0:
		return AtMostOnce
	}
	return AtLeastOnce
}

// ordering is a publish/subscribe channel's order: partitioned when all
// its groups are, in the same count.
func (ch *chanInfo) ordering() *Ordering {
	parts := 0
	for i, g := range ch.groups {
		if i > 0 && g.partitions != parts {
			o := ordering(0, true)
			o.Description += " Its groups differ in partitions: see x-meshmq-subscriber-groups."
			return o
		}
		parts = g.partitions
	}
	return ordering(parts, true)
}

func (ch *chanInfo) deadLetter() *DeadLetter {
	allBest := len(ch.groups) > 0
	over := ""
	for i, g := range ch.groups {
		if !g.bestEffort {
			allBest = false
			switch o := overflow(g.dropNewest); {
			case i == 0 || over == "":
				over = o
			case over != o:
				over = "-"
			}
		}
	}
	if over == "-" || len(ch.groups) == 0 {
		over = ""
	}
	return groupDeadLetter(allBest, over)
}

func (b *builder) describeOp(o *opInfo) *Operation {
	op := &Operation{Action: o.action, Channel: ref("channels", o.ch.id), Member: o.member}
	var ids []string
	for _, d := range o.takes {
		if !slices.Contains(ids, d.v.id) {
			ids = append(ids, d.v.id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		op.Messages = append(op.Messages, ref("channels", o.ch.id, "messages", id))
	}
	addr := o.ch.address
	var d strings.Builder
	switch {
	case o.action == "receive" && o.ch.typ == ptp:
		op.Title = fmt.Sprintf("%s handles %s", o.member, addr)
		op.Summary = fmt.Sprintf("%s's handler of service %s (peer.Handle).", o.member, addr)
		op.Delivery = AtLeastOnce
		op.Ordering = ordering(o.partitions, false)
		op.DeadLetter = pointToPointDeadLetter()
		d.WriteString("The handler acknowledges a message by returning nil; an error or panic has the sender retry " +
			"it with backoff, channel.Permanent dead-letters it at once. Duplicates are dropped: exactly within a " +
			"sender's epoch, by message ID across epochs in a bounded window; a handler that ran on a peer killed " +
			"before its acknowledgement left runs again, so exactly-once effects need an idempotent consumer " +
			"(outbox.Idempotent).")
		if len(o.replies) > 0 {
			op.Reply = b.reply(o)
			d.WriteString(" It answers requests (peer.Reply): the reply is sent only if the handler returns nil.")
		}
		if len(o.takes) == 0 {
			d.WriteString(" It declared no message types: it takes whatever is sent to the service.")
		}
	case o.action == "receive":
		g := o.group
		op.Summary = fmt.Sprintf("%s's subscription to %s (peer.Subscribe).", o.member, addr)
		if g.name != "" {
			op.Title = fmt.Sprintf("%s subscribes to %s in group %s", o.member, addr, g.name)
		} else {
			op.Title = fmt.Sprintf("%s subscribes to %s", o.member, addr)
		}
		op.Delivery = g.delivery()
		op.Ordering = ordering(g.partitions, true)
		sg := g.describe()
		sg.Retention = nil // x-meshmq-retention says it
		op.SubscriberGroup = &sg
		op.Retention = g.retention()
		op.DeadLetter = groupDeadLetter(g.bestEffort, overflow(g.dropNewest))
		d.WriteString("The handler acknowledges an event by returning nil; an error or panic has the publisher " +
			"retry it, channel.Permanent dead-letters it at once; duplicates are dropped as on services.")
		if g.bestEffort {
			d.WriteString(" Best effort (peer.Unreliable): nothing is retried, a failed event is lost.")
		}
		if len(o.takes) == 0 {
			d.WriteString(" It declared no message types: it takes every event matching its pattern.")
		}
	case o.ch.typ == ptp:
		op.Title = fmt.Sprintf("%s sends to %s", o.member, addr)
		op.Summary = fmt.Sprintf("%s sends to service %s (peer.Send or peer.Request).", o.member, addr)
		op.Delivery = AtLeastOnce
		op.Ordering = ordering(o.ch.partitions, false)
		op.DeadLetter = pointToPointDeadLetter()
		d.WriteString("At least once: each message stays in the sender's retry buffer until an instance " +
			"acknowledges it; with peer.BestEffort at most once. The sender's buffer is bounded: when full, Send " +
			"waits, or fails with ErrBufferFull (peer.WithFailFast).")
		if o.ch.hasReplies {
			d.WriteString(" A request (peer.Request) gets the reply documented on the receive operations of the service.")
		}
	default:
		op.Title = fmt.Sprintf("%s publishes to %s", o.member, addr)
		op.Summary = fmt.Sprintf("%s publishes to topic %s (peer.Publish).", o.member, addr)
		op.Delivery = o.ch.delivery()
		op.Ordering = o.ch.ordering()
		op.DeadLetter = o.ch.deadLetter()
		d.WriteString("Every subscriber group whose pattern matches the topic gets each event, encoded once, one " +
			"copy per group kept until a member acknowledges it (best-effort groups: at most once).")
		if len(o.ch.groups) > 0 {
			names := make([]string, len(o.ch.groups))
			for i, g := range o.ch.groups {
				names[i] = g.label()
			}
			fmt.Fprintf(&d, " Groups reached: %s.", strings.Join(names, "; "))
		} else {
			d.WriteString(" No member described here subscribes to it.")
		}
	}
	op.Description = d.String()
	return op
}

// reply is the reply of o, a handler that answers requests.
func (b *builder) reply(o *opInfo) *Reply {
	rc := b.chans[chanKey{reply, o.ch.address}]
	r := &Reply{Channel: &Reference{}, Correlation: &Correlation{
		ReplyTo:       "ReplyTo",
		CorrelationID: "CorrelationID",
		Description: "peer.Request sets the request's ReplyTo to the requester's name and a new CorrelationID; " +
			"the reply goes straight to that peer with the same CorrelationID, at least once, and only if the " +
			"handler returned nil.",
	}}
	*r.Channel = ref("channels", rc.id)
	var ids []string
	for _, d := range o.replies {
		if !slices.Contains(ids, d.v.id) {
			ids = append(ids, d.v.id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		r.Messages = append(r.Messages, ref("channels", rc.id, "messages", id))
	}
	return r
}

func (g *groupInfo) label() string {
	name := "group " + g.name
	if g.name == "" {
		name = "a subscription of " + g.members[0]
	}
	return fmt.Sprintf("%s (%s, %s)", name, strings.Join(g.patterns, ", "), g.delivery())
}

func serverRefs(members []string, serverIDs map[string]string) []Reference {
	var out []Reference
	for _, m := range members {
		if id, ok := serverIDs[m]; ok {
			out = append(out, ref("servers", id))
		}
	}
	return out
}

func server(m discovery.Member) *Server {
	host, ok := strings.CutPrefix(m.Endpoint, "tcp://")
	if !ok {
		host = m.Endpoint
	}
	s := &Server{
		Host:     host,
		Protocol: "meshmq",
		Title:    m.Name,
		Summary:  fmt.Sprintf("The data endpoint of meshmq peer %s.", m.Name),
		Description: "The meshmq wire protocol (PROTOCOL.md) over ZMTP 3 on TCP, at " + m.Endpoint + ". A peer " +
			"dials the peers it sends to; there is no broker.",
		Peer:     m.Name,
		Endpoint: m.Endpoint,
	}
	if !m.Key.IsZero() {
		s.Security = []Reference{ref("components", "securitySchemes", curveScheme)}
		s.CurveKey = m.Key.String()
		s.Description += " Secured with CURVE: its public key is x-meshmq-curve-public-key."
	} else {
		s.Description += " Not secured: plain TCP, no authentication."
	}
	return s
}

func curveSecurity() *SecurityScheme {
	return &SecurityScheme{
		Type: "asymmetricEncryption",
		Description: "ZMTP CURVE (libzmq-compatible; peer.WithSecurity): every connection is encrypted and " +
			"authenticated both ways. The server's public key is its x-meshmq-curve-public-key (Z85); a client " +
			"is admitted only if its key is in the peer's allowlist, and its name is bound to its key.",
	}
}
