package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
	"sigs.k8s.io/yaml"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/internal/testutil/peertest"
	"github.com/meshmq/meshmq/peer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Message types the test peers declare.
type (
	Charge struct {
		OrderID string `json:"order_id"`
		Cents   int    `json:"cents"`
	}
	Receipt struct {
		Total int `json:"total"`
	}
	OrderCreated struct {
		ID string `json:"id"`
	}
)

// received collects what a handler got.
type received struct {
	mu   sync.Mutex
	msgs []*channel.Message
}

func (r *received) handle(_ context.Context, m *channel.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m.Clone())
	return nil
}

func (r *received) all() []*channel.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*channel.Message(nil), r.msgs...)
}

// billingAndAudit is a cluster of two: billing handles "billing" (64
// partitions) with declared types and answers requests; audit subscribes
// to orders.> in group audit and declares an emitted event.
func billingAndAudit(t *testing.T) (c *testCluster, billing, audit *peer.Peer, billed, audited *received) {
	c = newCluster(t)
	billed, audited = &received{}, &received{}
	billing = c.peer("billing", func(p *peer.Peer) {
		err := p.Handle("billing", func(ctx context.Context, m *channel.Message) error {
			var ch Charge
			if err := m.Decode(&ch); err != nil {
				return channel.Permanent(err)
			}
			if m.ReplyTo != "" {
				if err := peer.Reply(ctx, mustMessage(t, Receipt{Total: ch.Cents * 2})); err != nil {
					return err
				}
			}
			return billed.handle(ctx, m)
		}, peer.Partitions(64),
			peer.Takes(peer.MessageType{Payload: Charge{}, Description: "charge an order"}),
			peer.Answers(peer.MessageType{Payload: Receipt{}}))
		if err != nil {
			t.Fatal(err)
		}
	})
	audit = c.peer("audit", func(p *peer.Peer) {
		if _, err := p.Subscribe("orders.>", audited.handle, peer.Group("audit"),
			peer.Takes(peer.MessageType{Payload: OrderCreated{}, Kind: channel.Event})); err != nil {
			t.Fatal(err)
		}
		if err := p.Emits("audit.logged", peer.MessageType{Payload: OrderCreated{}, Kind: channel.Event}); err != nil {
			t.Fatal(err)
		}
	})
	waitSees(t, audit, "billing serving billing", func(m discovery.Member) bool { return m.Handles("billing") })
	return c, billing, audit, billed, audited
}

func mustMessage(t *testing.T, v any) *channel.Message {
	t.Helper()
	m := &channel.Message{}
	if err := m.Encode(nil, v); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMembers(t *testing.T) {
	c, _, _, _, _ := billingAndAudit(t)

	r := mustRun(t, "", c.args("members", "-expect", "2")...)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if !regexp.MustCompile(`^NAME +ENDPOINT +KEY +SERVICES +SUBSCRIPTIONS +MESSAGE TYPES$`).MatchString(lines[0]) {
		t.Errorf("header %q", lines[0])
	}
	for _, want := range []string{
		`audit +tcp://127\.0\.0\.1:\d+ +- +- +orders\.> \[group audit\] +emits audit\.logged: OrderCreated \(event\)`,
		`^ +takes orders\.>: OrderCreated \(event\)$`,
		`billing +tcp://127\.0\.0\.1:\d+ +- +billing \[64 partitions\] +- +answers billing: Receipt \(reply\)`,
		`^ +takes billing: Charge \(command\)$`,
	} {
		if !regexp.MustCompile(`(?m)` + want).MatchString(r.stdout) {
			t.Errorf("no line matching %s in\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "meshctl-") {
		t.Errorf("meshctl lists itself:\n%s", r.stdout)
	}

	r = mustRun(t, "", c.args("members", "-expect", "2", "-json")...)
	var ms []memberJSON
	if err := json.Unmarshal([]byte(r.stdout), &ms); err != nil {
		t.Fatalf("%v in\n%s", err, r.stdout)
	}
	if len(ms) != 2 || ms[0].Name != "audit" || ms[1].Name != "billing" {
		t.Fatalf("members %+v", ms)
	}
	a, b := ms[0], ms[1]
	if len(a.Subscriptions) != 1 || a.Subscriptions[0] != (subscriptionJSON{Pattern: "orders.>", Group: "audit"}) || len(a.Services) != 0 {
		t.Errorf("audit: %+v", a)
	}
	if len(b.Services) != 1 || b.Services[0] != "billing" || b.Partitions["billing"] != 64 || b.Secured || b.Key != "" {
		t.Errorf("billing: %+v", b)
	}
	var takes *messageTypeJSON
	for i, mt := range b.MessageTypes {
		if mt.Direction == "receive" {
			takes = &b.MessageTypes[i]
		}
	}
	if takes == nil || takes.Name != "Charge" || takes.Kind != "command" || takes.Description != "charge an order" ||
		!strings.Contains(string(takes.Schema), `"order_id"`) {
		t.Errorf("billing's types: %+v", b.MessageTypes)
	}
}

// send delivers exactly once, with the key, headers, TTL and body given,
// and says who acknowledged it.
func TestSend(t *testing.T) {
	c, _, _, billed, _ := billingAndAudit(t)
	r := mustRun(t, "", c.args("send", "billing", "-body", `{"order_id":"o-1","cents":4200}`,
		"-key", "o-1", "-header", "tenant=eu", "-header", "trace=abc", "-ttl", "1h")...)
	if !regexp.MustCompile(`^sent \w{26} to billing: acknowledged by billing in \S+\n$`).MatchString(r.stdout) {
		t.Errorf("stdout %q", r.stdout)
	}
	// Acknowledged: handled before meshctl returned, and only once.
	msgs := billed.all()
	if len(msgs) != 1 {
		t.Fatalf("handled %d times, want 1", len(msgs))
	}
	m := msgs[0]
	var ch Charge
	if err := m.Decode(&ch); err != nil || ch != (Charge{"o-1", 4200}) {
		t.Errorf("body %+v, %v", ch, err)
	}
	if m.Key != "o-1" || m.Headers.Get("tenant") != "eu" || m.Headers.Get("trace") != "abc" ||
		m.Headers.Get("content-type") != "application/msgpack" || m.TTL.String() != "1h0m0s" ||
		m.Kind != channel.Command || !strings.HasPrefix(m.From, "meshctl-") || !strings.Contains(r.stdout, "sent "+m.ID) {
		t.Errorf("received %+v", m)
	}

	// From standard input, as JSON, to a named member.
	mustRun(t, `{"order_id":"o-2","cents":1}`+"\n", c.args("send", "-file", "-", "-encoding", "json", "-to", "billing", "billing")...)
	msgs = billed.all()
	if len(msgs) != 2 {
		t.Fatalf("handled %d, want 2", len(msgs))
	}
	m = msgs[1]
	if err := m.Decode(&ch); err != nil || ch != (Charge{"o-2", 1}) || m.Headers.Get("content-type") != "application/json" ||
		string(m.Body) != `{"order_id":"o-2","cents":1}` {
		t.Errorf("second: %+v, body %s, %v", ch, m.Body, err)
	}
}

// A message refused for good fails the command with the reason.
func TestSendDeadLetter(t *testing.T) {
	c, _, _, billed, _ := billingAndAudit(t)
	r := meshctl(t, "", c.args("send", "billing", "-body", `{"order_id":"o-1","cents":1}`, "-to", "audit")...)
	if r.code != 1 || !strings.Contains(r.stderr, "member audit does not handle service billing; members: ") {
		t.Errorf("-to audit: exit %d, %q", r.code, r.stderr)
	}
	// billing's handler rejects a request whose body is not a Charge.
	r = meshctl(t, "", c.args("request", "billing", "-body", `"not a charge"`)...)
	if r.code != 1 || !strings.Contains(r.stderr, "dead-lettered (permanent) after 1 attempt at billing: ") {
		t.Errorf("dead letter: exit %d, %q", r.code, r.stderr)
	}
	if n := len(billed.all()); n != 0 {
		t.Errorf("handled %d", n)
	}
}

// Nothing handles the service: the error says so, and who is there.
func TestSendNoMember(t *testing.T) {
	c, _, _, _, _ := billingAndAudit(t)
	args := append(c.args("send", "shipping", "-body", "1"), "-timeout", "2s") // the last -timeout wins
	r := meshctl(t, "", args...)
	want := "meshctl: no member handles service shipping after 2s; members: audit (subscribes orders.> [group audit]), billing (serves billing)\n"
	if r.code != 1 || !strings.HasSuffix(r.stderr, want) {
		t.Errorf("exit %d, stderr %q; want 1, %q", r.code, r.stderr, want)
	}
}

// send with a static member list: no gossip at all.
func TestSendStatic(t *testing.T) {
	var got received
	p := peertest.StartDefaults(t, "solo")
	if err := p.Handle("orders", got.handle); err != nil {
		t.Fatal(err)
	}
	r := mustRun(t, "", "send", "orders", "-body", "42", "-peers", "solo="+p.Endpoint())
	if !strings.Contains(r.stdout, "acknowledged by solo") || len(got.all()) != 1 {
		t.Fatalf("stdout %q, handled %d", r.stdout, len(got.all()))
	}
	var n int
	if err := got.all()[0].Decode(&n); err != nil || n != 42 {
		t.Errorf("body %d, %v", n, err)
	}

	// A request: the reply comes back over meshctl's connection.
	if err := p.Handle("echo", func(ctx context.Context, m *channel.Message) error {
		return peer.Reply(ctx, &channel.Message{Body: m.Body, Headers: m.Headers})
	}); err != nil {
		t.Fatal(err)
	}
	r = mustRun(t, "", "request", "echo", "-body", `{"x":[1,2]}`, "-peers", "solo="+p.Endpoint())
	if r.stdout != `{"x":[1,2]}`+"\n" || !strings.Contains(r.stderr, "reply from solo") {
		t.Errorf("request: %q, %q", r.stdout, r.stderr)
	}
}

func TestPublish(t *testing.T) {
	c, _, _, _, audited := billingAndAudit(t)
	r := mustRun(t, "", c.args("publish", "orders.eu.created", "-body", `{"id":"o-7"}`, "-key", "o-7")...)
	if !regexp.MustCompile(`^published \w{26} to orders.eu.created: 1 copy acknowledged by audit in \S+ \(subscriptions: audit \(orders.> \[group audit\]\)\)\n$`).MatchString(r.stdout) {
		t.Errorf("stdout %q", r.stdout)
	}
	msgs := audited.all()
	if len(msgs) != 1 {
		t.Fatalf("audit got %d events, want 1", len(msgs))
	}
	var ev OrderCreated
	if err := msgs[0].Decode(&ev); err != nil || ev.ID != "o-7" || msgs[0].Kind != channel.Event || msgs[0].Key != "o-7" {
		t.Errorf("event %+v %+v, %v", msgs[0], ev, err)
	}

	// No subscriber: said after -timeout.
	args := append(c.args("publish", "payments.done"), "-timeout", "2s")
	if r := meshctl(t, "", args...); r.code != 1 || !strings.Contains(r.stderr, "no member subscribes to topic payments.done after 2s; members: audit") {
		t.Errorf("no subscriber: exit %d, %q", r.code, r.stderr)
	}
}

func TestRequest(t *testing.T) {
	c, _, _, _, _ := billingAndAudit(t)
	r := mustRun(t, "", c.args("request", "billing", "-body", `{"order_id":"o-1","cents":21}`)...)
	if r.stdout != `{"total":42}`+"\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	if !regexp.MustCompile(`^meshctl: reply from billing to \w{26}, correlation \w{26}, in \S+, application/msgpack\n$`).MatchString(r.stderr) {
		t.Errorf("stderr %q", r.stderr)
	}
}

// subscribe prints events as they arrive, and exits after -count.
func TestSubscribe(t *testing.T) {
	c, _, audit, _, _ := billingAndAudit(t)
	b := startMeshctl(t, c.args("tail", "orders.*", "-count", "3", "-name", "tailer")...)
	waitSees(t, audit, "tailer's subscription", func(m discovery.Member) bool {
		return m.Name == "tailer" && len(m.Subscriptions) == 1
	})
	for i, body := range []any{OrderCreated{ID: "o-1"}, "text", 3} {
		m, err := channel.NewEvent("orders.created", body)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			m.Key = "o-1"
		}
		if err := audit.Publish(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.wait(t); err != nil {
		t.Fatalf("subscribe: %v\n%s", err, b.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(b.stdout.String(), "\n"), "\n")
	want := []string{
		`orders.created from audit key o-1: {"id":"o-1"}`,
		`orders.created from audit: "text"`,
		`orders.created from audit: 3`,
	}
	if len(lines) != len(want) {
		t.Fatalf("printed %q", lines)
	}
	for i, l := range lines {
		if !regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d\d\d ` + regexp.QuoteMeta(want[i]) + `$`).MatchString(l) {
			t.Errorf("line %d: %q, want the time then %q", i, l, want[i])
		}
	}
	if !b.stderr.has("meshctl: subscribed to orders.* as tailer; until 3 messages (or Ctrl-C)") {
		t.Errorf("stderr %q", b.stderr)
	}
}

// subscribe -json in a group, ended by its ctx (Ctrl-C).
func TestSubscribeJSON(t *testing.T) {
	c, _, audit, _, _ := billingAndAudit(t)
	b := startMeshctl(t, c.args("subscribe", "orders.>", "-json", "-group", "ops", "-name", "tailer")...)
	waitSees(t, audit, "tailer's subscription", func(m discovery.Member) bool {
		return m.Name == "tailer" && len(m.Subscriptions) == 1 && m.Subscriptions[0].Group == "ops"
	})
	m, _ := channel.NewEvent("orders.eu.created", OrderCreated{ID: "o-9"})
	m.SetHeader("tenant", "eu")
	if err := audit.Publish(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the event printed", func() bool { return b.stdout.has("\n") })
	b.cancel()
	if err := b.wait(t); err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Channel, From, ID, Kind string
		Attempt                 int
		Headers                 map[string]string
		Body                    OrderCreated
	}
	if err := json.Unmarshal([]byte(b.stdout.String()), &ev); err != nil {
		t.Fatalf("%v: %q", err, b.stdout)
	}
	if ev.Channel != "orders.eu.created" || ev.From != "audit" || ev.ID != m.ID || ev.Kind != "event" || ev.Attempt != 1 ||
		ev.Headers["tenant"] != "eu" || ev.Body.ID != "o-9" {
		t.Errorf("printed %+v", ev)
	}
}

// serve answers a request with -reply, and prints it.
func TestServe(t *testing.T) {
	c, _, _, _, _ := billingAndAudit(t)
	b := startMeshctl(t, c.args("serve", "quotes", "-reply", `{"price":420}`, "-count", "1", "-name", "quoter")...)
	r := mustRun(t, "", c.args("request", "quotes", "-body", `{"sku":"a-1"}`)...)
	if r.stdout != `{"price":420}`+"\n" || !strings.Contains(r.stderr, "reply from quoter") {
		t.Errorf("request: %q, %q", r.stdout, r.stderr)
	}
	if err := b.wait(t); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`quotes from meshctl-\w+ \(request \w{26}\): \{"sku":"a-1"\}\n$`).MatchString(b.stdout.String()) {
		t.Errorf("serve printed %q", b.stdout)
	}
}

func TestAPI(t *testing.T) {
	c, _, _, _, _ := billingAndAudit(t)
	check := func(doc map[string]any, format string) {
		t.Helper()
		if doc["asyncapi"] != "3.0.0" {
			t.Errorf("%s: asyncapi %v", format, doc["asyncapi"])
		}
		if info, _ := doc["info"].(map[string]any); info["title"] != "orders" {
			t.Errorf("%s: info %v", format, doc["info"])
		}
		channels, _ := doc["channels"].(map[string]any)
		for _, ch := range []string{"billing", "billing.reply", "orders.gt", "audit.logged"} {
			if _, ok := channels[ch]; !ok {
				t.Errorf("%s: no channel %s among %v", format, ch, keys(channels))
			}
		}
		servers, _ := doc["servers"].(map[string]any)
		if len(servers) != 2 || servers["billing"] == nil || servers["audit"] == nil {
			t.Errorf("%s: servers %v (meshctl must not be one)", format, keys(servers))
		}
		ops, _ := doc["operations"].(map[string]any)
		if ops["billing.receive.billing"] == nil || ops["audit.receive.orders.gt"] == nil {
			t.Errorf("%s: operations %v", format, keys(ops))
		}
	}

	r := mustRun(t, "", c.args("api", "-format", "json", "-title", "orders", "-expect", "2")...)
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("JSON: %v\n%s", err, r.stdout)
	}
	check(doc, "json")

	out := filepath.Join(t.TempDir(), "api.yaml")
	r = mustRun(t, "", c.args("api", "-o", out, "-title", "orders", "-expect", "2")...)
	if r.stdout != "" || !strings.Contains(r.stderr, "meshctl: wrote "+out+": ") {
		t.Errorf("-o: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	doc = nil
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("YAML: %v\n%s", err, b)
	}
	check(doc, "yaml")
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// bench -local needs no cluster, and prints its summary.
func TestBenchLocal(t *testing.T) {
	r := mustRun(t, "", "bench", "-local", "-n", "500", "-senders", "4", "-size", "100", "-cluster", testutil.Cluster(t))
	for _, want := range []string{
		`(?m)^messages +500 sent, 500 acknowledged$`,
		`(?m)^body +100 B$`,
		`(?m)^senders +4$`,
		`(?m)^duration +\S+$`,
		`(?m)^msgs/s +\d+$`,
		`(?m)^MiB/s +\d+\.\d\d$`,
		`(?m)^send p50 +\S+$`,
		`(?m)^send p99 +\S+$`,
		`(?m)^handled p50 +\S+$`,
		`(?m)^handled p99 +\S+$`,
		`(?m)^retries +0$`,
		`(?m)^dead letters +0$`,
	} {
		if !regexp.MustCompile(want).MatchString(r.stdout) {
			t.Errorf("no line matching %s in\n%s", want, r.stdout)
		}
	}
}

// bench of a cluster's service, whose handler refuses the bodies: the
// dead letters are reported, and the command fails.
func TestBenchDeadLetters(t *testing.T) {
	c, _, _, _, _ := billingAndAudit(t)
	r := meshctl(t, "", c.args("bench", "billing", "-n", "20", "-senders", "2")...)
	if r.code != 1 || !regexp.MustCompile(`(?m)^dead letters +20$`).MatchString(r.stdout) ||
		!strings.Contains(r.stderr, "20 messages dead-lettered; the first: dead-lettered (permanent)") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestDashboard(t *testing.T) {
	c, _, _, _, _ := billingAndAudit(t)
	b := startMeshctl(t, c.args("dashboard", "-listen", "127.0.0.1:0", "-title", "orders", "-name", "dash")...)
	var url string
	testutil.WaitFor(t, "the dashboard's URL", func() bool {
		url, _ = strings.CutSuffix(b.stdout.String(), "\n")
		return strings.HasPrefix(url, "http://127.0.0.1:")
	}, func() { t.Logf("stderr: %s", b.stderr) })
	var st struct {
		Title, Self string
		Members     []struct{ Name, State string }
	}
	testutil.WaitFor(t, "billing and audit on the dashboard", func() bool {
		res, err := http.Get(url + "api/state")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		return len(st.Members) == 3
	})
	if st.Title != "orders" || st.Self != "dash" || st.Members[0].Name != "dash" || st.Members[1].Name != "audit" || st.Members[2].Name != "billing" {
		t.Errorf("state %+v", st)
	}
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Errorf("page: %s, %s", res.Status, res.Header.Get("Content-Type"))
	}
	b.cancel()
	if err := b.wait(t); err != nil {
		t.Fatal(err)
	}
	if !b.stderr.has("meshctl: dashboard of orders as dash at " + url + "; Ctrl-C to stop") {
		t.Errorf("stderr %q", b.stderr)
	}
	http.DefaultClient.CloseIdleConnections()
}
