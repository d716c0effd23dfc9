package asyncapi

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/peer"
)

// What each channel and operation guarantees, as extension values and
// prose, following the README's Guarantees and package peer's doc.

const retryPolicyText = "the sender's (peer.WithRetry, or peer.Retry per message); not advertised"

func reasons(rs ...peer.Reason) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

// pointToPointDeadLetter is when a message to a service (or a reply) is
// dead-lettered.
func pointToPointDeadLetter() *DeadLetter {
	return &DeadLetter{
		By:          "sender",
		RetryPolicy: retryPolicyText,
		Reasons: reasons(peer.ReasonPermanent, peer.ReasonMaxAttempts, peer.ReasonMaxAge, peer.ReasonExpired,
			peer.ReasonRejected, peer.ReasonClosed),
		Description: "Kept by the sender until acknowledged, then dead-lettered (peer.WithDeadLetter, and its " +
			"store) when its retry policy gives up (max-attempts, max-age), on channel.Permanent (permanent), " +
			"past its TTL or deadline (expired), when the receiver refuses it (rejected), or when the sender " +
			"closes first (closed). Never dropped silently.",
	}
}

// groupDeadLetter is when a copy for subscriber groups is dead-lettered:
// none when they are best effort; over is their overflow policy, "" when
// it differs between them.
func groupDeadLetter(bestEffort bool, over string) *DeadLetter {
	if bestEffort {
		return &DeadLetter{
			By:          "sender",
			RetryPolicy: "none: best effort",
			Reasons:     []string{},
			Description: "None: best-effort copies are sent once, without acknowledgement, retry or retention; " +
				"one is lost when the connection breaks, the member fails or none is connected.",
		}
	}
	which := "the oldest unsent copy, or the newest with peer.DropNewest,"
	switch over {
	case DropOldest:
		which = "the oldest unsent copy"
	case DropNewest:
		which = "the newest copy"
	}
	return &DeadLetter{
		By:          "sender",
		RetryPolicy: retryPolicyText + "; its age limit is the group's retention maxAge",
		Reasons: reasons(peer.ReasonPermanent, peer.ReasonMaxAttempts, peer.ReasonMaxAge, peer.ReasonExpired,
			peer.ReasonRejected, peer.ReasonClosed, peer.ReasonOverflow, peer.ReasonUnsubscribed),
		Overflow: over,
		Description: "Each publisher keeps a copy per group until a member acknowledges it, then dead-letters it " +
			"when its retry policy gives up (max-attempts; max-age: the retention age), on channel.Permanent " +
			"(permanent), past its TTL or deadline (expired), when refused (rejected), when the publisher closes " +
			"first (closed), when the group's retention overflows (overflow: " + which + " goes), or when the " +
			"group has ended (unsubscribed).",
	}
}

func overflow(dropNewest bool) string {
	if dropNewest {
		return DropNewest
	}
	return DropOldest
}

// ordering is the order guarantee of a service or group with partitions
// partitions (0: not partitioned).
func ordering(partitions int, topic bool) *Ordering {
	o := &Ordering{Key: OrderingKey, Scope: "per-sender-and-key", Partitions: partitions}
	who := "the service's instances"
	if topic {
		who = "the group's members"
	}
	if partitions > 0 {
		o.Description = fmt.Sprintf("Messages from one sender with the same Key are handled one at a time, in "+
			"send order, across retries, failover and ownership moves: the Key selects one of %d partitions, "+
			"each owned by one of %s at a time. No order across senders or keys; no Key, no order.", partitions, who)
	} else {
		o.Description = fmt.Sprintf("Messages from one sender with the same Key are handled one at a time, in "+
			"send order, across retries and reconnections, where they reach the same receiver: not partitioned, "+
			"so not across %s. No order across senders or keys; no Key, no order.", who)
	}
	return o
}

// groupInfo is a subscriber group as the members advertise it.
type groupInfo struct {
	key        string // "g/"+name, or "m/"+member+"/"+pattern for a subscription without a group
	name       string
	pattern    string // the first member's (members of a group should agree)
	members    []string
	partitions int
	maxAge     time.Duration
	maxCount   int
	maxBytes   int
	dropNewest bool
	bestEffort bool
	patterns   []string // every pattern its members subscribed with
}

// groups collects the subscriber groups of members, combining their
// members' bounds as publishers do: the largest of each, defaults for
// zeros, best effort or drop-newest if any member asks for it.
func groups(members []discovery.Member) map[string]*groupInfo {
	out := make(map[string]*groupInfo)
	for _, m := range members {
		for _, s := range m.Subscriptions {
			key := "g/" + s.Group
			if s.Group == "" {
				key = "m/" + m.Name + "/" + s.Pattern
			}
			g := out[key]
			if g == nil {
				g = &groupInfo{key: key, name: s.Group, pattern: s.Pattern}
				out[key] = g
			}
			if !slices.Contains(g.members, m.Name) {
				g.members = append(g.members, m.Name)
			}
			if !slices.Contains(g.patterns, s.Pattern) {
				g.patterns = append(g.patterns, s.Pattern)
			}
			g.partitions = max(g.partitions, s.Partitions)
			g.maxAge = max(g.maxAge, s.MaxAge)
			g.maxCount = max(g.maxCount, s.MaxCount)
			g.maxBytes = max(g.maxBytes, s.MaxBytes)
			g.dropNewest = g.dropNewest || s.DropNewest
			g.bestEffort = g.bestEffort || s.BestEffort
		}
	}
	for _, g := range out {
		if g.maxAge == 0 {
			g.maxAge = peer.DefaultRetainAge
		}
		if g.maxCount == 0 {
			g.maxCount = peer.DefaultRetainCount
		}
		if g.maxBytes == 0 {
			g.maxBytes = peer.DefaultRetainBytes
		}
		slices.Sort(g.members)
		slices.Sort(g.patterns)
	}
	return out
}

func (g *groupInfo) delivery() string {
	if g.bestEffort {
		return AtMostOnce
	}
	return AtLeastOnce
}

func (g *groupInfo) retention() *Retention {
	if g.bestEffort {
		return nil
	}
	which := "the oldest unsent copy"
	if g.dropNewest {
		which = "the newest copy"
	}
	return &Retention{
		MaxAge:        g.maxAge.String(),
		MaxAgeSeconds: int64(g.maxAge / time.Second),
		MaxCount:      g.maxCount,
		MaxBytes:      g.maxBytes,
		Overflow:      overflow(g.dropNewest),
		Description: fmt.Sprintf("Per publisher, copies in flight to the group and retained while all its "+
			"members are failed: past %s a retained copy is dead-lettered (max-age); past %d copies or %d bytes, "+
			"%s is dead-lettered (overflow). The largest bounds its members ask for (peer.Retain, peer.DropNewest), "+
			"defaults for the rest.",
			g.maxAge, g.maxCount, g.maxBytes, which),
	}
}

func (g *groupInfo) describe() SubscriberGroup {
	sg := SubscriberGroup{
		Name:       g.name,
		Pattern:    g.pattern,
		Members:    slices.Clone(g.members),
		Delivery:   g.delivery(),
		Partitions: g.partitions,
		Retention:  g.retention(),
	}
	var b strings.Builder
	if g.name == "" {
		fmt.Fprintf(&b, "A subscription of %s without a group: a group of its own. ", g.members[0])
	} else {
		fmt.Fprintf(&b, "Group %s (members: %s): each event reaches one member, failing over when one dies; "+
			"every group gets each event. ", g.name, strings.Join(g.members, ", "))
	}
	if g.bestEffort {
		b.WriteString("Best effort (peer.Unreliable): at most once, no acknowledgement, retry or retention.")
	} else {
		b.WriteString("At least once: the publisher keeps a copy until a member's handler returns nil, and " +
			"retains it while every member is failed.")
	}
	if g.partitions > 0 {
		fmt.Fprintf(&b, " Partitioned in %d: each key's events go to one member at a time, in order.", g.partitions)
	}
	sg.Description = b.String()
	return sg
}
