package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/dashboard"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/internal/testutil"
	"github.com/meshmq/meshmq/internal/testutil/peertest"
	"github.com/meshmq/meshmq/peer"
)

// chromium is where Debian's chromium package installs the browser.
const chromium = "/usr/bin/chromium"

// The page in headless Chromium, against a live cluster: the members and
// channels appear, the counters and rates shown change while messages flow,
// names from the network are shown as text and never run, and the console
// stays free of errors (a violation of the page's CSP would be one).
func TestBrowser(t *testing.T) {
	const (
		evilMember  = `<img src=x onerror="window.__xss=1">`
		evilService = `<script>window.__xss=2</script>`
	)
	// hub, whose dashboard is shown, handles billing, which w1 sends it,
	// and sends ledger to w1; w2 subscribes to orders; evil has a name and a
	// service made of markup.
	w1View := discovery.NewStatic()
	w1 := peertest.Start(t, "w1", peer.WithDiscovery(w1View))
	handle(t, w1, "ledger")
	w2 := peertest.Start(t, "w2")
	if _, err := w2.Subscribe("orders.>", func(context.Context, *channel.Message) error { return nil }, peer.Group("audit")); err != nil {
		t.Fatal(err)
	}
	evil := peertest.Start(t, evilMember)
	handle(t, evil, evilService)
	hub := peertest.Start(t, "hub", peertest.StaticDiscovery(w1, w2, evil))
	handle(t, hub, "billing")
	w1View.Add(hub.Advertisement())
	if err := hub.Send(context.Background(), &channel.Message{Kind: channel.Command, Channel: evilService, Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}

	h, err := dashboard.New(hub, dashboard.WithRefresh(250*time.Millisecond), dashboard.WithTitle("meshmq test"))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ops/dashboard/", http.StripPrefix("/ops/dashboard", h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	settleAtEnd(t, w1, hub) // they send to each other
	startFlow(t, w1, "billing", 5*time.Millisecond, 2)
	startFlow(t, hub, "ledger", 5*time.Millisecond, 1)

	ctx, console := newBrowser(t)
	nav, cancel := context.WithTimeout(ctx, testutil.Deadline)
	defer cancel()
	if err := chromedp.Do(nav, chromedp.Navigate(srv.URL+"/ops/dashboard/")); err != nil {
		t.Fatal(err)
	}

	// The members, as the page shows their names.
	names := waitJS[[]string](t, ctx, "the members on the page", `(() => {
		const names = [...document.querySelectorAll('#members tbody tr [data-k=name]')].map(td => td.firstChild.nodeValue);
		return names.length === 4 ? names : null;
	})()`)
	if want := []string{"hub", evilMember, "w1", "w2"}; !slices.Equal(names, want) {
		t.Errorf("members shown %q, want %q", names, want)
	}
	// The channels, with their counters and rates.
	type row struct{ Name, Handled, HandleRate, Sent, SendRate, Receivers string }
	rowsJS := `[...document.querySelectorAll('#channels tbody tr')].map(tr => {
		const k = key => tr.querySelector('[data-k=' + key + ']').textContent;
		return {Name: k('name'), Handled: k('handled'), HandleRate: k('handleRate'), Sent: k('sent'), SendRate: k('sendRate'), Receivers: k('receivers')};
	})`
	rows := func(cond string) map[string]row {
		t.Helper()
		list := waitJS[[]row](t, ctx, cond, `(() => { const rows = `+rowsJS+`; return (`+cond+`) ? rows : null; })()`)
		out := map[string]row{}
		for _, r := range list {
			out[r.Name] = r
		}
		return out
	}
	first := rows(`['billing', 'ledger', ` + jsString(evilService) + `].every(n => rows.some(r => r.Name === n))`)
	if r := first["billing"]; r.Receivers != "hub" {
		t.Errorf("billing row %+v", r)
	}
	if r := first["ledger"]; r.Receivers != "w1" {
		t.Errorf("ledger row %+v", r)
	}

	// While messages flow, what the page shows changes: the handled count
	// of billing moves on and its rate is positive; so does ledger's sent
	// count and send rate.
	billing, ledger := first["billing"], first["ledger"]
	later := rows(fmt.Sprintf(`rows.some(r => r.Name === 'billing' && r.Handled !== %s && r.HandleRate !== '0') &&
		rows.some(r => r.Name === 'ledger' && r.Sent !== %s && r.SendRate !== '0')`, jsString(billing.Handled), jsString(ledger.Sent)))
	for _, c := range []struct{ name, before, after, rate string }{
		{"billing handled", billing.Handled, later["billing"].Handled, later["billing"].HandleRate},
		{"ledger sent", ledger.Sent, later["ledger"].Sent, later["ledger"].SendRate},
	} {
		if number(t, c.after) <= number(t, c.before) || number(t, c.rate) <= 0 {
			t.Errorf("%s: %s then %s, at %s/s", c.name, c.before, c.after, c.rate)
		}
	}
	tiles := waitJS[map[string]string](t, ctx, "positive totals", `(() => {
		const v = id => document.getElementById(id).textContent;
		const t = {send: v('t-send-rate'), handle: v('t-handle-rate'), members: v('t-members')};
		return t.send !== '0' && t.handle !== '0' ? t : null;
	})()`)
	if tiles["members"] != "4" {
		t.Errorf("tiles %v", tiles)
	}

	// The markup in names is shown as text, and nothing of it ran.
	xss, err := chromedp.Run(nav, chromedp.Evaluate[map[string]any](`({
		ran: window.__xss === undefined ? 0 : window.__xss,
		imgs: document.querySelectorAll('img').length,
		scripts: document.querySelectorAll('script').length,
		member: document.querySelector('#members tbody').textContent.includes(`+jsString(evilMember)+`),
		channel: document.querySelector('#channels tbody').textContent.includes(`+jsString(evilService)+`),
	})`))
	if err != nil {
		t.Fatal(err)
	}
	if xss["ran"] != float64(0) || xss["imgs"] != float64(0) || xss["scripts"] != float64(1) || xss["member"] != true || xss["channel"] != true {
		t.Errorf("markup from names: %v", xss)
	}

	shot, err := chromedp.Run(nav, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := png.DecodeConfig(bytes.NewReader(shot)); err != nil || cfg.Width < 800 || cfg.Height < 600 {
		t.Errorf("screenshot: %v, %+v", err, cfg)
	}
	path := filepath.Join(t.TempDir(), "dashboard.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(shot))

	if errs := console.errors(); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}

// newBrowser starts headless Chromium and opens a tab, closed when the test
// ends; it returns the tab's context and what the tab's console receives
// from then on.
func newBrowser(t *testing.T) (context.Context, *consoleLog) {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the browser test needs Chromium at %s (%v): install Debian's chromium package "+
			"(apt-get install chromium), as ./scripts/test.sh does", chromium, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		// Chromium reaches out to Google's services on its own; the closed
		// network refuses it, which would show as errors.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), // fresh, removed after the browser is closed
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		// Close the browser gracefully, then wait for its process and
		// chromedp's goroutines to end.
		cctx, ccancel := context.WithTimeout(ctx, 20*time.Second)
		defer ccancel()
		if err := chromedp.Cancel(cctx); err != nil && !strings.Contains(err.Error(), "context canceled") {
			t.Errorf("closing the browser: %v", err)
		}
		cancel()
		cancelAlloc()
	})
	// The first action starts the browser and binds it to its context: ctx
	// itself, not one with a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	console := &consoleLog{}
	if err := chromedp.Listen(ctx, console.event); err != nil {
		t.Fatal(err)
	}
	return ctx, console
}

// consoleLog keeps the errors a tab's console shows: console.error and
// failed console.assert calls, uncaught exceptions and unhandled
// rejections, and the browser's error entries (failed requests, CSP
// violations).
type consoleLog struct {
	mu   sync.Mutex
	errs []string
}

// event runs on chromedp's reading loop: it must be quick.
func (c *consoleLog) event(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		var args []string
		for _, a := range ev.Args {
			if a.Description != "" {
				args = append(args, a.Description)
			} else {
				args = append(args, string(a.Value))
			}
		}
		msg = "console." + string(ev.Type) + ": " + strings.Join(args, " ")
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg = "exception: " + d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
	case *log.EventEntryAdded:
		if ev.Entry.Level != log.EntryLevelError {
			return
		}
		msg = fmt.Sprintf("log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
	default:
		return
	}
	c.mu.Lock()
	c.errs = append(c.errs, msg)
	c.mu.Unlock()
}

func (c *consoleLog) errors() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.errs)
}

// waitJS waits until the JavaScript expression cond is truthy in the page,
// checking it every 50 ms in the page itself, and returns its value; it
// fails the test after testutil.Deadline. An exception in cond counts as
// false. (chromedp.Poll would build a function from a string, which the
// page's CSP forbids.)
func waitJS[T any](t *testing.T, ctx context.Context, what, cond string) T {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, testutil.Deadline)
	defer cancel()
	expr := `new Promise(resolve => {
		const check = () => {
			let v = null;
			try { v = (` + cond + `); } catch (e) { v = null; }
			if (v) resolve(v); else setTimeout(check, 50);
		};
		check();
	})`
	v, err := chromedp.Run(wctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
	return v
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// number parses a count or rate as the page shows it ("1,234", "5.5").
func number(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64)
	if err != nil {
		t.Errorf("not a number: %q", s)
	}
	return f
}
