package dashboard_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/dashboard"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/internal/testutil/peertest"
	"github.com/meshmq/meshmq/peer"
)

// While tx sends to rx, both dashboards show positive rates; once the
// traffic stopped and settled, the rates are zero and the counts exact.
func TestRatesAndCounts(t *testing.T) {
	rx := peertest.Start(t, "rx")
	handled := handle(t, rx, "work")
	tx := peertest.Start(t, "tx", peertest.StaticDiscovery(rx))
	txURL, rxURL := serve(t, tx), serve(t, rx)

	f := startFlow(t, tx, "work", 5*time.Millisecond, 5)
	st := waitState(t, txURL, "a positive send rate at the sender", func(st dashboard.State) bool {
		c, _ := channelOf(st, "work")
		m, _ := memberOf(st, "rx")
		return c.SendRate > 0 && c.AckRate > 0 && st.Totals.SendRate > 0 && m.Traffic != nil && m.Traffic.SendRate > 0
	})
	if st.RateWindow <= 0 {
		t.Errorf("rate window %v with rates", st.RateWindow)
	}
	m, _ := memberOf(st, "rx")
	if m.State != dashboard.StateAlive || !m.Connected || !slices.Equal(m.Services, []string{"work"}) || m.Endpoint != rx.Endpoint() {
		t.Errorf("rx at the sender: %+v", m)
	}
	if c, _ := channelOf(st, "work"); !slices.Equal(c.Receivers, []string{"rx"}) {
		t.Errorf("receivers of work: %v", c.Receivers)
	}
	waitState(t, rxURL, "a positive handle rate at the receiver", func(st dashboard.State) bool {
		c, _ := channelOf(st, "work")
		return c.HandleRate > 0 && st.Totals.HandleRate > 0 && c.Latency.Count > 0 && c.Latency.Recent
	})

	n := f.halt(t)
	if n == 0 {
		t.Fatal("nothing sent")
	}
	testutil.WaitFor(t, "everything acknowledged", func() bool { return tx.Stats().InFlight == 0 })

	st = waitState(t, txURL, "the sender's rates back to zero", func(st dashboard.State) bool {
		c, _ := channelOf(st, "work")
		m, _ := memberOf(st, "rx")
		return st.RateWindow > 0 && c.SendRate == 0 && c.AckRate == 0 && st.Totals.SendRate == 0 && st.Totals.AckRate == 0 &&
			m.Traffic != nil && m.Traffic.SendRate == 0
	})
	c, _ := channelOf(st, "work")
	want := uint64(n)
	if c.Sent != want || c.Acked != want || c.InFlight != 0 || c.BufferBytes != 0 || c.Retried != 0 || c.DeadLettered != 0 {
		t.Errorf("sender's work after %d sends: %+v", n, c)
	}
	if st.Totals.Sent != want || st.Totals.Acked != want || st.Totals.InFlight != 0 {
		t.Errorf("sender's totals after %d sends: %+v", n, st.Totals)
	}
	if m, _ := memberOf(st, "rx"); m.Traffic == nil || m.Traffic.Sent != want || m.Traffic.Acked != want || m.Traffic.InFlight != 0 {
		t.Errorf("traffic to rx after %d sends: %+v", n, m.Traffic)
	}

	st = waitState(t, rxURL, "the receiver's rates back to zero", func(st dashboard.State) bool {
		c, _ := channelOf(st, "work")
		return st.RateWindow > 0 && c.HandleRate == 0 && st.Totals.HandleRate == 0
	})
	c, _ = channelOf(st, "work")
	if got := handled.Load(); got != n {
		t.Errorf("rx handled %d of %d", got, n)
	}
	if c.Handled != want || c.HandlerErrors != 0 || c.Duplicates != 0 || st.Totals.Handled != want {
		t.Errorf("receiver's work after %d sends: %+v, totals %+v", n, c, st.Totals)
	}
	// With no run in the window, the latency is of every run.
	if c.Latency.Recent || c.Latency.Count != want || c.Latency.P50 <= 0 || c.Latency.P99 < c.Latency.P50 || c.Latency.Mean <= 0 {
		t.Errorf("receiver's latency: %+v", c.Latency)
	}
	if self := st.Members[0]; self.Name != "rx" || self.State != dashboard.StateSelf || !slices.Equal(self.Services, []string{"work"}) {
		t.Errorf("first member: %+v", self)
	}
}

// Members that disappear from the view stay on the page, marked left or
// failed as the peer counted their departure, until they come back.
func TestDepartedMembers(t *testing.T) {
	a := peertest.Start(t, "a")
	handle(t, a, "svc-a")
	b := peertest.Start(t, "b")
	if _, err := b.Subscribe("orders.>", func(context.Context, *channel.Message) error { return nil }, peer.Group("audit")); err != nil {
		t.Fatal(err)
	}
	c := peertest.Start(t, "c")
	view := discovery.NewStatic(a.Advertisement(), b.Advertisement(), c.Advertisement())
	d := peertest.Start(t, "d", peer.WithDiscovery(view))
	base := serve(t, d)

	st := state(t, base)
	names := func(st dashboard.State) (out []string) {
		for _, m := range st.Members {
			out = append(out, m.Name+":"+string(m.State))
		}
		return out
	}
	if got, want := names(st), []string{"d:self", "a:alive", "b:alive", "c:alive"}; !slices.Equal(got, want) {
		t.Fatalf("members %v, want %v", got, want)
	}
	if m, _ := memberOf(st, "b"); len(m.Subscriptions) != 1 || m.Subscriptions[0] != (dashboard.Subscription{Pattern: "orders.>", Group: "audit"}) {
		t.Errorf("b's subscriptions: %+v", m.Subscriptions)
	}
	if st.Totals.Alive != 3 || st.Security.Members != 4 || st.Security.SecuredMembers != 0 || st.Security.Curve || len(st.Security.Insecure) == 0 {
		t.Errorf("totals %+v, security %+v", st.Totals, st.Security)
	}

	view.Remove("a", false)
	st = waitState(t, base, "a marked left", func(st dashboard.State) bool { m, _ := memberOf(st, "a"); return m.State == dashboard.StateLeft })
	if m, _ := memberOf(st, "a"); m.Since == nil || m.Endpoint != a.Endpoint() || !slices.Equal(m.Services, []string{"svc-a"}) {
		t.Errorf("a gone: %+v", m)
	}
	view.Remove("b", true)
	st = waitState(t, base, "b marked failed", func(st dashboard.State) bool { m, _ := memberOf(st, "b"); return m.State == dashboard.StateFailed })
	if got, want := names(st), []string{"d:self", "c:alive", "b:failed", "a:left"}; !slices.Equal(got, want) {
		t.Errorf("members %v, want %v", got, want)
	}
	if st.Totals.Left != 1 || st.Totals.Failed != 1 || st.Totals.Alive != 1 {
		t.Errorf("totals %+v", st.Totals)
	}
	view.Add(a.Advertisement())
	st = waitState(t, base, "a back", func(st dashboard.State) bool { m, _ := memberOf(st, "a"); return m.State == dashboard.StateAlive })
	if got, want := names(st), []string{"d:self", "a:alive", "c:alive", "b:failed"}; !slices.Equal(got, want) {
		t.Errorf("members %v, want %v", got, want)
	}
}

// Names from the network reach the page only as data: the JSON escapes
// markup, the page holds none of it, the title is escaped, and the script
// builds the DOM without parsing HTML.
func TestEscaping(t *testing.T) {
	const (
		evilMember  = `<img src=x onerror="alert('member')">`
		evilService = `<script>alert("channel")</script>`
		evilTitle   = `<b>ops</b> & "co"`
	)
	rx := peertest.Start(t, evilMember)
	handle(t, rx, evilService)
	tx := peertest.Start(t, "tx", peertest.StaticDiscovery(rx))
	if err := tx.Send(context.Background(), &channel.Message{Kind: channel.Command, Channel: evilService, Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the message acknowledged", func() bool { return tx.Stats().Acked == 1 })
	base := serve(t, tx, dashboard.WithTitle(evilTitle))

	_, raw := get(t, base+"/api/state")
	for _, bad := range []string{"<", ">", "&"} {
		if strings.Contains(string(raw), bad) {
			t.Errorf("the JSON holds %q unescaped: %s", bad, raw)
		}
	}
	st := state(t, base)
	if _, ok := memberOf(st, evilMember); !ok {
		t.Errorf("member %q not in the state", evilMember)
	}
	if c, ok := channelOf(st, evilService); !ok || c.Sent != 1 || !slices.Equal(c.Receivers, []string{evilMember}) {
		t.Errorf("channel %q: %+v", evilService, c)
	}
	if st.Title != evilTitle {
		t.Errorf("title %q", st.Title)
	}

	res, page := get(t, base+"/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %s", res.Status)
	}
	for _, bad := range []string{evilMember, evilService, evilTitle, "<b>ops"} {
		if strings.Contains(string(page), bad) {
			t.Errorf("the page holds %q", bad)
		}
	}
	if want := "<title>&lt;b&gt;ops&lt;/b&gt; &amp; &#34;co&#34;</title>"; !strings.Contains(string(page), want) {
		t.Errorf("the page lacks the escaped title %s", want)
	}
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "srcdoc"} {
		if strings.Contains(string(page), sink) {
			t.Errorf("the page uses %s", sink)
		}
	}
}

// The page and the API carry their content types, no-store caching and a
// restrictive Content-Security-Policy admitting exactly the inline script
// and style; other paths and methods are refused.
func TestHeaders(t *testing.T) {
	p := peertest.Start(t, "solo")
	base := serve(t, p)

	res, page := get(t, base+"/")
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("page Content-Type %q", ct)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("page Cache-Control %q", cc)
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "*", "http:", "https:"} {
		if strings.Contains(csp, bad) {
			t.Errorf("CSP %q admits %q", csp, bad)
		}
	}
	// The hashes in the CSP are those of the page's one script and style.
	for _, tag := range []string{"script", "style"} {
		body := between(t, string(page), "<"+tag+">", "</"+tag+">")
		if !strings.Contains(csp, tag+"-src "+sha256CSP(body)) {
			t.Errorf("CSP %q does not admit the page's %s", csp, tag)
		}
		if strings.Count(string(page), "<"+tag) != 1 {
			t.Errorf("the page has %d %s elements, want 1", strings.Count(string(page), "<"+tag), tag)
		}
	}
	// No placeholder left, and no absolute URL but SVG's namespace name.
	if rest := strings.ReplaceAll(string(page), "http://www.w3.org/2000/svg", ""); strings.Contains(rest, "{{") ||
		strings.Contains(rest, "http://") || strings.Contains(rest, "https://") || strings.Contains(rest, "//cdn") {
		t.Error("the page holds a placeholder or an absolute URL")
	}
	if res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("page without nosniff")
	}

	res, body := get(t, base+"/api/state")
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("API Content-Type %q", ct)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("API Cache-Control %q", cc)
	}
	if res.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("API headers %v", res.Header)
	}
	if !json.Valid(body) {
		t.Errorf("API body is not JSON: %s", body)
	}

	for path, code := range map[string]int{"/nope": http.StatusNotFound, "/api/state/x": http.StatusNotFound, "/api": http.StatusNotFound} {
		if res, _ := get(t, base+path); res.StatusCode != code {
			t.Errorf("GET %s: %s, want %d", path, res.Status, code)
		}
	}
	res, err := http.Post(base+"/api/state", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %s, Allow %q", res.Status, res.Header.Get("Allow"))
	}
	res, err = http.Head(base + "/api/state")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("HEAD: %s", res.Status)
	}
}

// Mounted under a prefix, the page and its API answer there; with
// http.StripPrefix on the bare prefix, too.
func TestPrefix(t *testing.T) {
	p := peertest.Start(t, "solo")
	h, err := dashboard.New(p)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ops/dashboard/", http.StripPrefix("/ops/dashboard", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, path := range []string{"/ops/dashboard/", "/ops/dashboard"} {
		res, body := get(t, srv.URL+path) // the mux redirects the bare prefix
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "<!DOCTYPE html>") {
			t.Errorf("GET %s: %s", path, res.Status)
		}
	}
	if st := state(t, srv.URL+"/ops/dashboard"); st.Self != "solo" || st.Title != dashboard.DefaultTitle || st.Refresh != 1 {
		t.Errorf("state under the prefix: %+v", st)
	}
}

// Concurrent requests (run with -race) all get a consistent answer.
func TestConcurrentRequests(t *testing.T) {
	rx := peertest.Start(t, "rx")
	handle(t, rx, "work")
	tx := peertest.Start(t, "tx", peertest.StaticDiscovery(rx))
	base := serve(t, tx)
	f := startFlow(t, tx, "work", 2*time.Millisecond, 2)
	defer f.halt(t)

	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 25; j++ {
				path := "/api/state"
				if j%5 == 0 {
					path = "/"
				}
				res, err := http.Get(base + path)
				if err != nil {
					t.Error(err)
					return
				}
				var st dashboard.State
				if path == "/api/state" {
					err = json.NewDecoder(res.Body).Decode(&st)
				}
				res.Body.Close()
				if err != nil || res.StatusCode != http.StatusOK {
					t.Errorf("GET %s: %v %v", path, res.Status, err)
					return
				}
				if path == "/api/state" && (st.Self != "tx" || st.RateWindow < 0) {
					t.Errorf("state %+v", st)
				}
			}
		}()
	}
	wg.Wait()
}

func TestOptions(t *testing.T) {
	p := peertest.Start(t, "solo")
	for _, opt := range []dashboard.Option{
		dashboard.WithRefresh(0), dashboard.WithRefresh(time.Millisecond), dashboard.WithRefresh(time.Hour), dashboard.WithTitle(" "),
	} {
		if _, err := dashboard.New(p, opt); err == nil {
			t.Error("a bad option accepted")
		}
	}
	if _, err := dashboard.New(nil); err == nil {
		t.Error("nil peer accepted")
	}
	h, err := dashboard.New(p, dashboard.WithRefresh(2*time.Second), dashboard.WithTitle("prod"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	if st := state(t, srv.URL); st.Refresh != 2 || st.Title != "prod" || st.RateWindow != 0 {
		t.Errorf("state %+v", st)
	}
}

// After its peer is closed, the dashboard still answers, with the last
// counts, and its page.
func TestClosedPeer(t *testing.T) {
	p, err := peer.New(context.Background(), peer.WithName("gone"), peer.WithLogger(testutil.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, p)
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := state(t, base); st.Self != "gone" || st.Members[0].State != dashboard.StateSelf {
		t.Errorf("state after close: %+v", st)
	}
	if res, _ := get(t, base+"/"); res.StatusCode != http.StatusOK {
		t.Errorf("page after close: %s", res.Status)
	}
}
