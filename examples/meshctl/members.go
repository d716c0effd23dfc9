package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/examples/internal/cli"
)

const membersUsage = `Usage: meshctl members [flags]

Lists the members of the cluster, as meshctl sees them once gossip has
settled: each one's data endpoint, whether it is secured (its CURVE public
key), the services it handles (with partition counts), its subscriptions
(pattern, subscriber group), and the message types its handlers and senders
declare (peer.Takes, peer.Answers, Peer.Emits): "takes" what it receives,
"answers" the replies it sends, "emits" what it sends. meshctl itself is not
listed. -json prints the same as a JSON array.

Examples:

  meshctl members -join 127.0.0.1:7946
  meshctl members -join 127.0.0.1:7946 -json | jq '.[].name'
  meshctl members -join 127.0.0.1:7946 -expect 3     # wait until 3 members are in view
` + commonUsage + `
Flags:
`

func membersFlags() (*cli.Flags, func(context.Context, *env, []string) error) {
	fs := cli.NewFlagSet("members", membersUsage)
	var c common
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	c.register(fs)
	return fs, func(ctx context.Context, e *env, pos []string) error {
		if len(pos) > 0 {
			return fs.Fail("members takes no argument (got %q)", pos[0])
		}
		if err := c.check(fs, true, false); err != nil {
			return err
		}
		s, err := c.start(ctx, e, nil)
		if err != nil {
			return err
		}
		err = s.await(ctx, nil, true)
		if err == nil {
			ms := sortMembers(s.p.Members())
			if *asJSON {
				err = writeMembersJSON(e.stdout, ms)
			} else {
				err = writeMembersTable(e.stdout, ms)
			}
		}
		return s.finish(err)
	}
}

// memberJSON is a member in the output of members -json.
type memberJSON struct {
	Name          string             `json:"name"`
	Endpoint      string             `json:"endpoint"`
	Secured       bool               `json:"secured"`
	Key           string             `json:"key,omitempty"`
	Services      []string           `json:"services"`
	Partitions    map[string]int     `json:"partitions,omitempty"`
	Subscriptions []subscriptionJSON `json:"subscriptions"`
	MessageTypes  []messageTypeJSON  `json:"messageTypes"`
}

type subscriptionJSON struct {
	Pattern    string `json:"pattern"`
	Group      string `json:"group,omitempty"`
	Partitions int    `json:"partitions,omitempty"`
	BestEffort bool   `json:"bestEffort,omitempty"`
}

type messageTypeJSON struct {
	Channel     string          `json:"channel"`
	Direction   string          `json:"direction"` // receive, send, reply
	Kind        string          `json:"kind"`
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
}

func toMemberJSON(m discovery.Member) memberJSON {
	out := memberJSON{
		Name: m.Name, Endpoint: m.Endpoint, Secured: !m.Key.IsZero(),
		Services: sortedCopy(m.Services), Partitions: m.Partitions,
		Subscriptions: []subscriptionJSON{}, MessageTypes: []messageTypeJSON{},
	}
	if out.Services == nil {
		out.Services = []string{}
	}
	if out.Secured {
		out.Key = m.Key.String()
	}
	for _, s := range m.Subscriptions {
		out.Subscriptions = append(out.Subscriptions, subscriptionJSON{s.Pattern, s.Group, s.Partitions, s.BestEffort})
	}
	for _, t := range m.MessageTypes {
		mt := messageTypeJSON{Channel: t.Channel, Direction: t.Direction.String(), Kind: t.Kind.String(), Name: t.Name, Description: t.Description}
		if json.Valid(t.Schema) {
			mt.Schema = t.Schema
		}
		out.MessageTypes = append(out.MessageTypes, mt)
	}
	return out
}

func writeMembersJSON(w io.Writer, ms []discovery.Member) error {
	out := make([]memberJSON, 0, len(ms))
	for _, m := range ms {
		out = append(out, toMemberJSON(m))
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// writeMembersTable writes one row per member, and more rows below it
// while it has more services, subscriptions or message types than one.
func writeMembersTable(w io.Writer, ms []discovery.Member) error {
	if len(ms) == 0 {
		_, err := fmt.Fprintln(w, "no members (only meshctl itself)")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tENDPOINT\tKEY\tSERVICES\tSUBSCRIPTIONS\tMESSAGE TYPES")
	for _, m := range ms {
		key := "-"
		if !m.Key.IsZero() {
			key = shortKey(m.Key.String())
		}
		var services, subs, types []string
		for _, s := range sortedCopy(m.Services) {
			if n := m.Partitions[s]; n > 0 {
				s += fmt.Sprintf(" [%d partitions]", n)
			}
			services = append(services, s)
		}
		for _, s := range m.Subscriptions {
			subs = append(subs, describeSubscription(s))
		}
		for _, t := range m.MessageTypes {
			types = append(types, describeType(t))
		}
		slices.Sort(types)
		rows := max(1, len(services), len(subs), len(types))
		for i := range rows {
			name, ep, k := m.Name, m.Endpoint, key
			if i > 0 {
				name, ep, k = "", "", ""
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, ep, k, cell(services, i), cell(subs, i), cell(types, i))
		}
	}
	return tw.Flush()
}

// cell is row i of a column's list: "-" for an empty list's first row.
func cell(list []string, i int) string {
	switch {
	case i < len(list):
		return list[i]
	case i == 0:
		return "-"
	}
	return ""
}

// describeType is a message type for the table: "takes orders: Charge
// (command)".
func describeType(t discovery.MessageType) string {
	verb := map[discovery.Direction]string{discovery.Receive: "takes", discovery.Send: "emits", discovery.Reply: "answers"}[t.Direction]
	if verb == "" {
		verb = t.Direction.String()
	}
	s := fmt.Sprintf("%s %s: %s", verb, t.Channel, t.Name)
	if t.Kind.Valid() {
		s += " (" + t.Kind.String() + ")"
	}
	return s
}

// shortKey is the start of a Z85 public key, enough to tell keys apart
// at a glance; -json has it whole.
func shortKey(k string) string {
	if len(k) <= 10 {
		return k
	}
	return k[:10] + "…"
}
