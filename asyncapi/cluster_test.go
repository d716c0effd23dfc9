package asyncapi

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/peer"
)

type Charge struct {
	Order string `json:"order" doc:"the order charged"`
	Cents int    `json:"cents"`
}

type Receipt struct {
	Number string `json:"number"`
}

type OrderCreated struct {
	Order string `json:"order"`
	Lines []Line `json:"lines"`
}

type Line struct {
	SKU string `json:"sku"`
	Qty uint   `json:"qty"`
}

type Reading struct {
	Sensor string  `json:"sensor"`
	Value  float64 `json:"value"`
}

// shop is the test cluster: billing answers charges on a partitioned
// service, audit subscribes to order events in a group with its own
// retention and to readings best effort, orders emits charges and events.
func shop(t *testing.T) (billing, audit, orders *testPeer) {
	billing = startPeer(t, "billing")
	audit = startPeer(t, "audit")
	orders = startPeer(t, "orders")
	if err := billing.Handle("billing", nop, peer.Partitions(8),
		peer.Takes(peer.MessageType{Payload: Charge{}, Description: "Charge an order. Charges of one order keep their order."}),
		peer.Answers(peer.MessageType{Payload: Receipt{}, Description: "The receipt of a charge."})); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Subscribe("orders.*", nop, peer.Group("audit"), peer.Retain(time.Minute, 100, 1<<20), peer.DropNewest(),
		peer.Takes(peer.MessageType{Payload: OrderCreated{}, Kind: channel.Event, Description: "An order was created."})); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Subscribe("metrics.>", nop, peer.Unreliable(),
		peer.Takes(peer.MessageType{Payload: Reading{}})); err != nil {
		t.Fatal(err)
	}
	if err := orders.Emits("billing", peer.MessageType{Payload: Charge{}}); err != nil {
		t.Fatal(err)
	}
	if err := orders.Emits("orders.created", peer.MessageType{Payload: OrderCreated{}, Kind: channel.Event}); err != nil {
		t.Fatal(err)
	}
	introduce(t, billing, audit, orders)
	return billing, audit, orders
}

// A cluster of real peers: the document validates, as JSON and as YAML,
// and says what each member takes, answers and emits, and with which
// guarantees.
func TestForCluster(t *testing.T) {
	billing, audit, orders := shop(t)
	doc, err := ForCluster(orders.Peer, Info{Title: "shop", Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	j := valid(t, doc)

	// The same document from another member's view, and again: same bytes.
	for _, p := range []*testPeer{billing, audit, orders} {
		again, err := ForCluster(p.Peer, Info{Title: "shop", Version: "1.0.0"})
		if err != nil {
			t.Fatal(err)
		}
		if aj, _ := again.JSON(); !bytes.Equal(aj, j) {
			t.Errorf("ForCluster at %s differs from ForCluster at orders:\n%s\n---\n%s", p.Name(), aj, j)
		}
	}

	if doc.AsyncAPI != "3.0.0" || doc.Info.Title != "shop" || doc.DefaultContentType != "application/msgpack" {
		t.Errorf("head: %s %+v %s", doc.AsyncAPI, doc.Info, doc.DefaultContentType)
	}
	if got, want := keys(doc.Servers), []string{"audit", "billing", "orders"}; !slices.Equal(got, want) {
		t.Errorf("servers %v, want %v", got, want)
	}
	if s := doc.Servers["billing"]; s.Protocol != "meshmq" || "tcp://"+s.Host != billing.Endpoint() || s.Peer != "billing" {
		t.Errorf("billing's server: %+v (endpoint %s)", s, billing.Endpoint())
	}
	wantChannels := []string{"billing", "billing.reply", "metrics.gt", "orders.created", "orders.star"}
	if got := keys(doc.Channels); !slices.Equal(got, wantChannels) {
		t.Fatalf("channels %v, want %v", got, wantChannels)
	}
	wantOps := []string{"audit.receive.metrics.gt", "audit.receive.orders.star", "billing.receive.billing",
		"orders.send.billing", "orders.send.orders.created"}
	if got := keys(doc.Operations); !slices.Equal(got, wantOps) {
		t.Fatalf("operations %v, want %v", got, wantOps)
	}

	// The service: point-to-point, partitioned, at least once.
	bc := doc.Channels["billing"]
	if *bc.Address != "billing" || bc.Type != PointToPoint || bc.Delivery != AtLeastOnce ||
		bc.Ordering.Key != "Key" || bc.Ordering.Partitions != 8 || !slices.Equal(bc.Instances, []string{"billing"}) {
		t.Errorf("billing channel: %+v %+v", bc, bc.Ordering)
	}
	if got := keys(bc.Messages); !slices.Equal(got, []string{"Charge"}) {
		t.Errorf("billing's messages %v", got)
	}
	if got := refs(bc.Servers); !slices.Equal(got, []string{"#/servers/billing"}) {
		t.Errorf("billing's servers %v", got)
	}
	if !slices.Contains(bc.DeadLetter.Reasons, "max-attempts") || slices.Contains(bc.DeadLetter.Reasons, "overflow") {
		t.Errorf("billing's dead letters: %+v", bc.DeadLetter)
	}

	// The handler: receive, with the reply.
	hb := doc.Operations["billing.receive.billing"]
	if hb.Action != "receive" || hb.Channel.Ref != "#/channels/billing" || hb.Member != "billing" ||
		hb.Delivery != AtLeastOnce || hb.Ordering.Partitions != 8 {
		t.Errorf("billing's handler: %+v", hb)
	}
	if got := refs(hb.Messages); !slices.Equal(got, []string{"#/channels/billing/messages/Charge"}) {
		t.Errorf("billing's handler takes %v", got)
	}
	if hb.Reply == nil || hb.Reply.Channel.Ref != "#/channels/billing.reply" ||
		!slices.Equal(refs(hb.Reply.Messages), []string{"#/channels/billing.reply/messages/Receipt"}) ||
		hb.Reply.Correlation.CorrelationID != "CorrelationID" {
		t.Errorf("billing's reply: %+v", hb.Reply)
	}
	rc := doc.Channels["billing.reply"]
	if rc.Address != nil || rc.Type != ReplyChannel || !slices.Equal(keys(rc.Messages), []string{"Receipt"}) {
		t.Errorf("reply channel: %+v", rc)
	}

	// The group subscription: its bounds and overflow.
	sub := doc.Operations["audit.receive.orders.star"]
	if sub.Delivery != AtLeastOnce || sub.SubscriberGroup == nil || sub.SubscriberGroup.Name != "audit" ||
		!slices.Equal(sub.SubscriberGroup.Members, []string{"audit"}) {
		t.Errorf("audit's subscription: %+v %+v", sub, sub.SubscriberGroup)
	}
	if r := sub.Retention; r == nil || r.MaxAge != "1m0s" || r.MaxAgeSeconds != 60 || r.MaxCount != 100 ||
		r.MaxBytes != 1<<20 || r.Overflow != DropNewest {
		t.Errorf("audit's retention: %+v", r)
	}
	if dl := sub.DeadLetter; !slices.Contains(dl.Reasons, "overflow") || dl.Overflow != DropNewest {
		t.Errorf("audit's dead letters: %+v", dl)
	}
	if got := refs(sub.Messages); !slices.Equal(got, []string{"#/channels/orders.star/messages/OrderCreated"}) {
		t.Errorf("audit takes %v", got)
	}
	oc := doc.Channels["orders.star"]
	if *oc.Address != "orders.*" || oc.Type != PublishSubscribe || !oc.Pattern || len(oc.SubscriberGroups) != 1 ||
		oc.SubscriberGroups[0].Retention.MaxCount != 100 {
		t.Errorf("orders.* channel: %+v", oc)
	}

	// The best-effort subscription: at most once, nothing retained.
	be := doc.Operations["audit.receive.metrics.gt"]
	if be.Delivery != AtMostOnce || be.Retention != nil || len(be.DeadLetter.Reasons) != 0 ||
		be.SubscriberGroup == nil || be.SubscriberGroup.Name != "" {
		t.Errorf("best-effort subscription: %+v", be)
	}
	if mc := doc.Channels["metrics.gt"]; *mc.Address != "metrics.>" || mc.Delivery != AtMostOnce {
		t.Errorf("metrics.> channel: %+v", mc)
	}

	// The emitter: a send to the service, a publish reaching the group.
	sb := doc.Operations["orders.send.billing"]
	if sb.Action != "send" || sb.Channel.Ref != "#/channels/billing" || sb.Ordering.Partitions != 8 ||
		!slices.Equal(refs(sb.Messages), []string{"#/channels/billing/messages/Charge"}) {
		t.Errorf("orders' send: %+v", sb)
	}
	pub := doc.Operations["orders.send.orders.created"]
	created := doc.Channels["orders.created"]
	if pub.Delivery != AtLeastOnce || created.Pattern || len(created.SubscriberGroups) != 1 ||
		created.SubscriberGroups[0].Name != "audit" || pub.DeadLetter.Overflow != DropNewest {
		t.Errorf("orders' publish: %+v on %+v", pub, created)
	}
	if got := refs(created.Servers); !slices.Equal(got, []string{"#/servers/audit"}) {
		t.Errorf("orders.created's servers %v", got)
	}

	// Messages: the charge taken and emitted is one message, with the
	// receiver's description; kinds; the payload schemas.
	if got, want := keys(doc.Components.Messages), []string{"Charge", "OrderCreated", "Reading", "Receipt"}; !slices.Equal(got, want) {
		t.Errorf("messages %v, want %v", got, want)
	}
	ch := doc.Components.Messages["Charge"]
	if ch.Kind != "command" || ch.ContentType != "application/msgpack" || ch.Summary != "Charge an order." ||
		!slices.Equal(ch.ContentTypes, []string{"application/msgpack", "application/json"}) {
		t.Errorf("Charge: %+v", ch)
	}
	for name, kind := range map[string]string{"OrderCreated": "event", "Reading": "event", "Receipt": "reply"} {
		if m := doc.Components.Messages[name]; m.Kind != kind || m.Tags[0].Name != kind {
			t.Errorf("%s: kind %q, tags %v; want %s", name, m.Kind, m.Tags, kind)
		}
	}

	// As written: the extension names, the payload schema in components.
	w := tree(t, j)
	if at(t, w, "channels/billing/x-meshmq-ordering/partitions") != json.Number("8") ||
		at(t, w, "channels/billing/x-meshmq-delivery") != "at-least-once" ||
		at(t, w, "channels/metrics.gt/x-meshmq-delivery") != "at-most-once" ||
		at(t, w, "operations/audit.receive.orders.star/x-meshmq-subscriber-group/name") != "audit" ||
		at(t, w, "operations/audit.receive.orders.star/x-meshmq-retention/overflow") != "drop-newest" ||
		at(t, w, "operations/audit.receive.orders.star/x-meshmq-dead-letter/overflow") != "drop-newest" ||
		at(t, w, "components/messages/Charge/x-meshmq-kind") != "command" ||
		at(t, w, "components/messages/Charge/payload/$ref") != "#/components/schemas/Charge" {
		t.Errorf("the written document lacks an extension or reference:\n%s", j)
	}
	if at(t, w, "components/schemas/Charge/properties/order/description") != "the order charged" ||
		at(t, w, "components/schemas/OrderCreated/properties/lines/type") == nil {
		t.Errorf("payload schemas:\n%s", j)
	}
	if _, ok := at(t, w, "components/schemas/Charge").(map[string]any)["$schema"]; ok {
		t.Errorf("a payload schema kept $schema")
	}

	// One peer alone: its own channels and operations.
	own, err := ForPeer(billing.Peer, Info{})
	if err != nil {
		t.Fatal(err)
	}
	valid(t, own)
	if own.Info.Title != "billing" || !slices.Equal(keys(own.Channels), []string{"billing", "billing.reply"}) ||
		!slices.Equal(keys(own.Operations), []string{"billing.receive.billing"}) || len(own.Servers) != 1 {
		t.Errorf("billing's own document: %v %v %v", own.Info, keys(own.Channels), keys(own.Operations))
	}
}

// A member that declared nothing still yields a valid document: its
// services and subscriptions are channels with stand-in messages, its
// operations list none.
func TestUndocumentedMember(t *testing.T) {
	inv := startPeer(t, "inventory")
	if err := inv.Handle("inventory", nop); err != nil {
		t.Fatal(err)
	}
	if _, err := inv.Subscribe("stock.>", nop, peer.Group("stock")); err != nil {
		t.Fatal(err)
	}
	if len(inv.Advertisement().MessageTypes) != 0 {
		t.Fatalf("declared types: %v", inv.Advertisement().MessageTypes)
	}
	for _, build := range []func() (*Document, error){
		func() (*Document, error) { return ForPeer(inv.Peer, Info{}) },
		func() (*Document, error) { return ForCluster(inv.Peer, Info{}) },
		func() (*Document, error) {
			return ForMembers(Info{}, discovery.Member{Name: "bare"}, discovery.Member{Name: "bare-service", Services: []string{"x"}})
		},
	} {
		doc, err := build()
		if err != nil {
			t.Fatal(err)
		}
		valid(t, doc)
	}
	doc, _ := ForPeer(inv.Peer, Info{})
	if got := keys(doc.Channels["inventory"].Messages); !slices.Equal(got, []string{"UndocumentedMessage"}) {
		t.Errorf("inventory's messages %v", got)
	}
	if got := keys(doc.Channels["stock.gt"].Messages); !slices.Equal(got, []string{"UndocumentedEvent"}) {
		t.Errorf("stock.>'s messages %v", got)
	}
	for id, op := range doc.Operations {
		if len(op.Messages) != 0 {
			t.Errorf("%s lists messages %v", id, refs(op.Messages))
		}
	}
	m := doc.Components.Messages["UndocumentedEvent"]
	if !m.Undocumented || m.Kind != "event" || doc.Components.Messages["UndocumentedMessage"].Kind != "" {
		t.Errorf("stand-ins: %+v", doc.Components.Messages)
	}
	// No members at all: still a document.
	empty, err := ForMembers(Info{Title: "nobody", Version: "0"})
	if err != nil {
		t.Fatal(err)
	}
	valid(t, empty)
}
