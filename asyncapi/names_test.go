package asyncapi

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
)

func receive(ch, name string, kind channel.Kind, schema string) discovery.MessageType {
	return discovery.MessageType{Channel: ch, Direction: discovery.Receive, Kind: kind, Name: name, Schema: []byte(schema)}
}

func send(ch, name string, kind channel.Kind, schema string) discovery.MessageType {
	return discovery.MessageType{Channel: ch, Direction: discovery.Send, Kind: kind, Name: name, Schema: []byte(schema)}
}

const (
	schemaA = `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"a":{"type":"string"}}}`
	schemaB = `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"b":{"type":"integer"}}}`
)

// Names that meet: members handling one service, names equal once made
// ids, a service and a topic of one name, one message name with different
// schemas, one pattern in two groups. Every id is unique, every document
// valid, and the ids of what did not change stay the same.
func TestNameClashes(t *testing.T) {
	members := []discovery.Member{
		{Name: "billing-1", Endpoint: "tcp://127.0.0.1:7001", Services: []string{"billing"}, Partitions: map[string]int{"billing": 4},
			MessageTypes: []discovery.MessageType{receive("billing", "Charge", channel.Command, schemaA)}},
		{Name: "billing-2", Endpoint: "tcp://127.0.0.1:7002", Services: []string{"billing"}, Partitions: map[string]int{"billing": 16},
			MessageTypes: []discovery.MessageType{receive("billing", "Charge", channel.Command, "")}},
		{Name: "refunds", Endpoint: "tcp://127.0.0.1:7003", Services: []string{"refunds", "orders"},
			MessageTypes: []discovery.MessageType{receive("refunds", "Charge", channel.Command, schemaB)}},
		{Name: "a b", Endpoint: "tcp://127.0.0.1:7004", Subscriptions: []discovery.Subscription{
			{Pattern: "orders", Group: "x"}, {Pattern: "orders", Group: "y"},
		}},
		{Name: "a_b", Endpoint: "tcp://127.0.0.1:7005",
			MessageTypes: []discovery.MessageType{send("orders", "Charge", channel.Event, "")}},
	}
	doc, err := ForMembers(Info{}, members...)
	if err != nil {
		t.Fatal(err)
	}
	valid(t, doc)

	// Two handlers of one service: two operations, one channel with both
	// instances and the largest partition count.
	for _, id := range []string{"billing-1.receive.billing", "billing-2.receive.billing"} {
		if doc.Operations[id] == nil || doc.Operations[id].Channel.Ref != "#/channels/billing" {
			t.Errorf("no operation %s on billing: %v", id, keys(doc.Operations))
		}
	}
	bc := doc.Channels["billing"]
	if !slices.Equal(bc.Instances, []string{"billing-1", "billing-2"}) || bc.Ordering.Partitions != 16 ||
		doc.Operations["billing-1.receive.billing"].Ordering.Partitions != 4 {
		t.Errorf("billing: %+v, ordering %+v", bc, bc.Ordering)
	}
	// billing-2's Charge has no schema: it is billing-1's Charge.
	if got := refs(doc.Operations["billing-2.receive.billing"].Messages); len(got) != 1 ||
		got[0] != refs(doc.Operations["billing-1.receive.billing"].Messages)[0] {
		t.Errorf("billing-2 takes %v", got)
	}

	// "a b" and "a_b" are one id made two.
	if got := keys(doc.Servers); !slices.Equal(got, []string{"a_b", "a_b-2", "billing-1", "billing-2", "refunds"}) {
		t.Errorf("servers %v", got)
	}
	if doc.Servers["a_b"].Peer != "a b" || doc.Servers["a_b-2"].Peer != "a_b" {
		t.Errorf("server ids not in the members' order: %+v %+v", doc.Servers["a_b"], doc.Servers["a_b-2"])
	}

	// The service "orders" and the topic "orders": two channels.
	if c := doc.Channels["orders"]; c == nil || c.Type != PointToPoint {
		t.Errorf("orders: %+v", c)
	}
	if c := doc.Channels["orders-2"]; c == nil || c.Type != PublishSubscribe || *c.Address != "orders" || len(c.SubscriberGroups) != 2 {
		t.Errorf("orders-2: %+v", c)
	}
	// One pattern in two groups: the group names the operations.
	for _, id := range []string{"a_b.receive.orders-2.x", "a_b.receive.orders-2.y", "a_b-2.send.orders-2"} {
		if doc.Operations[id] == nil {
			t.Errorf("no operation %s: %v", id, keys(doc.Operations))
		}
	}
	if doc.Operations["a_b.receive.orders-2.y"].SubscriberGroup.Name != "y" {
		t.Errorf("group y's operation: %+v", doc.Operations["a_b.receive.orders-2.y"])
	}

	// Charge: a command of schema A, one of schema B, an event: three
	// variants, named by their content.
	var charges []string
	for _, id := range keys(doc.Components.Messages) {
		if strings.HasPrefix(id, "Charge-") {
			charges = append(charges, id)
		}
	}
	if len(charges) != 3 || doc.Components.Messages["Charge"] != nil {
		t.Fatalf("Charge variants %v in %v", charges, keys(doc.Components.Messages))
	}
	for _, id := range charges {
		m := doc.Components.Messages[id]
		if m.Name != "Charge" || !strings.HasPrefix(m.Title, "Charge") {
			t.Errorf("%s: %+v", id, m)
		}
	}
	refundsTakes := refs(doc.Operations["refunds.receive.refunds"].Messages)
	billingTakes := refs(doc.Operations["billing-1.receive.billing"].Messages)
	if len(refundsTakes) != 1 || len(billingTakes) != 1 ||
		strings.TrimPrefix(refundsTakes[0], "#/channels/refunds/messages/") == strings.TrimPrefix(billingTakes[0], "#/channels/billing/messages/") {
		t.Errorf("refunds takes %v, billing %v", refundsTakes, billingTakes)
	}

	// Without the refunds member and the event, billing's Charge is
	// "Charge" again; with them back, the same variant names: ids follow
	// content, not the order or number of members.
	alone, err := ForMembers(Info{}, members[0], members[1])
	if err != nil {
		t.Fatal(err)
	}
	if got := keys(alone.Components.Messages); !slices.Equal(got, []string{"Charge"}) {
		t.Errorf("alone: %v", got)
	}
	reversed := slices.Clone(members)
	slices.Reverse(reversed)
	again, err := ForMembers(Info{}, reversed...)
	if err != nil {
		t.Fatal(err)
	}
	j1, _ := doc.JSON()
	j2, _ := again.JSON()
	if !bytes.Equal(j1, j2) {
		t.Errorf("the members' order changed the document")
	}
}

// What ForMembers refuses.
func TestForMembersErrors(t *testing.T) {
	for name, members := range map[string][]discovery.Member{
		"no name":       {{Services: []string{"x"}}},
		"twice":         {{Name: "a"}, {Name: "a"}},
		"bad schema":    {{Name: "a", MessageTypes: []discovery.MessageType{receive("x", "X", channel.Command, `{"type":`)}}},
		"schema array":  {{Name: "a", MessageTypes: []discovery.MessageType{receive("x", "X", channel.Command, `[1]`)}}},
		"no type name":  {{Name: "a", MessageTypes: []discovery.MessageType{receive("x", "", channel.Command, "")}}},
		"bad direction": {{Name: "a", MessageTypes: []discovery.MessageType{{Channel: "x", Name: "X", Direction: 9}}}},
	} {
		if _, err := ForMembers(Info{}, members...); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"billing": "billing", "orders.*": "orders.star", "orders.>": "orders.gt", "a b/c~d": "a_b_c_d", "": "_", "é": "__",
	} {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
	n := make(namer)
	if a, b, c := n.take("x"), n.take("x"), n.take("x"); a != "x" || b != "x-2" || c != "x-3" {
		t.Errorf("take: %s %s %s", a, b, c)
	}
}
