package peer

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
)

type docCharge struct {
	Order string `json:"order" doc:"the order charged"`
	Cents int    `json:"cents"`
}

type docReceipt struct {
	Number string `json:"number"`
}

// Declared message types reach the other members through gossip and the
// catalog, with their schemas, directions and kinds.
func TestMessageTypesAdvertised(t *testing.T) {
	cl := newCluster(t)
	rx := cl.peer("rx")
	tx := cl.peer("tx")
	nop := func(context.Context, *channel.Message) error { return nil }
	if err := rx.Handle("billing", nop,
		Takes(MessageType{Payload: docCharge{}, Description: "charge an order"}),
		Answers(MessageType{Payload: &docReceipt{}})); err != nil {
		t.Fatal(err)
	}
	subscribe(t, rx, "orders.*", nop, Takes(MessageType{Name: "OrderEvent", Description: "any order event"}))
	if err := tx.Emits("billing", MessageType{Payload: docCharge{}}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Emits("orders.created", MessageType{Name: "OrderCreated", Kind: channel.Event}); err != nil {
		t.Fatal(err)
	}
	var seen []discovery.MessageType
	waitFor(t, "rx's message types at tx", func() bool {
		for _, m := range tx.Members() {
			if m.Name == "rx" && len(m.MessageTypes) == 3 {
				seen = m.MessageTypes
				return true
			}
		}
		return false
	})
	want := []struct {
		ch   string
		dir  discovery.Direction
		kind channel.Kind
		name string
	}{
		{"billing", discovery.Receive, channel.Command, "docCharge"},
		{"billing", discovery.Reply, channel.Reply, "docReceipt"},
		{"orders.*", discovery.Receive, channel.Event, "OrderEvent"},
	}
	for i, w := range want {
		got := seen[i]
		if got.Channel != w.ch || got.Direction != w.dir || got.Kind != w.kind || got.Name != w.name {
			t.Errorf("type %d: %+v, want %+v", i, got, w)
		}
	}
	var schema map[string]any
	if err := json.Unmarshal(seen[0].Schema, &schema); err != nil || seen[0].Description != "charge an order" {
		t.Fatalf("billing's schema: %s, %v", seen[0].Schema, err)
	}
	if props, _ := schema["properties"].(map[string]any); props["order"] == nil || props["cents"] == nil {
		t.Errorf("billing's schema: %s", seen[0].Schema)
	}
	if seen[2].Schema != nil {
		t.Errorf("a type without a payload has a schema: %s", seen[2].Schema)
	}
	waitFor(t, "tx's declarations at rx", func() bool {
		for _, m := range rx.Members() {
			if m.Name == "tx" && len(m.MessageTypes) == 2 {
				return slices.ContainsFunc(m.MessageTypes, func(d discovery.MessageType) bool {
					return d.Channel == "orders.created" && d.Direction == discovery.Send && d.Kind == channel.Event
				})
			}
		}
		return false
	})
}

func TestMessageTypeErrors(t *testing.T) {
	p := start(t, fastOpts("p")...)
	nop := func(context.Context, *channel.Message) error { return nil }
	var oe *OptionError
	if err := p.Handle("a", nop, Takes(MessageType{})); !errors.As(err, &oe) {
		t.Errorf("a type with neither name nor payload: %v", err)
	}
	if _, err := p.Subscribe("t", nop, Answers(MessageType{Name: "R"})); !errors.As(err, &oe) {
		t.Errorf("Answers on a subscription: %v", err)
	}
	if err := p.Emits("", MessageType{Name: "X"}); !errors.As(err, &oe) {
		t.Errorf("Emits without a channel: %v", err)
	}
}
