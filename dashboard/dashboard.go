package dashboard

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meshmq/meshmq/peer"
)

// DefaultRefresh is how often the page polls /api/state, and the window
// over which rates are computed, unless WithRefresh says otherwise.
const DefaultRefresh = time.Second

// DefaultTitle is the page's title unless WithTitle says otherwise.
const DefaultTitle = "meshmq"

// Bounds of WithRefresh.
const (
	MinRefresh = 100 * time.Millisecond
	MaxRefresh = time.Minute
)

// Option configures New.
type Option func(*config) error

type config struct {
	refresh time.Duration
	title   string
}

// WithRefresh sets how often the page polls the state (default
// DefaultRefresh), between MinRefresh and MaxRefresh. Rates are averaged
// over about the same interval.
func WithRefresh(d time.Duration) Option {
	return func(c *config) error {
		if d < MinRefresh || d > MaxRefresh {
			return fmt.Errorf("dashboard: WithRefresh(%v): want %v to %v", d, MinRefresh, MaxRefresh)
		}
		c.refresh = d
		return nil
	}
}

// WithTitle sets the page's title (default DefaultTitle), shown with the
// peer's name. It is escaped like every other string on the page.
func WithTitle(title string) Option {
	return func(c *config) error {
		if strings.TrimSpace(title) == "" {
			return errors.New("dashboard: WithTitle: empty title")
		}
		c.title = title
		return nil
	}
}

// Embedded page: one HTML document with its style and script inlined, so
// that it needs no other request and works under any prefix.
var (
	//go:embed static/index.html
	indexHTML string
	//go:embed static/app.css
	appCSS string
	//go:embed static/app.js
	appJS string
)

// handler serves the dashboard of one peer.
type handler struct {
	p    *peer.Peer
	cfg  config
	page []byte
	csp  string // the page's Content-Security-Policy
	s    *sampler
}

// New returns the dashboard of p as an http.Handler serving the page at "/"
// and its data at "/api/state". It starts no goroutine: each request reads
// p's statistics and membership, and rates come from the difference with
// an earlier request's reading (see the package documentation). It is safe
// for concurrent requests, and keeps working (showing the last counts) after
// p is closed.
func New(p *peer.Peer, opts ...Option) (http.Handler, error) {
	if p == nil {
		return nil, errors.New("dashboard: nil peer")
	}
	cfg := config{refresh: DefaultRefresh, title: DefaultTitle}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	page, csp := buildPage(cfg.title)
	return &handler{p: p, cfg: cfg, page: page, csp: csp, s: newSampler(p, cfg, time.Now())}, nil
}

// buildPage inlines the style and script into the page, with the title
// escaped, and returns it with a Content-Security-Policy that admits only
// that style and that script (by hash), and requests to the same origin.
func buildPage(title string) ([]byte, string) {
	page := strings.NewReplacer(
		"{{TITLE}}", html.EscapeString(title),
		"{{STYLE}}", appCSS,
		"{{SCRIPT}}", appJS,
	).Replace(indexHTML)
	hash := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	csp := strings.Join([]string{
		"default-src 'none'",
		"script-src " + hash(appJS),
		"style-src " + hash(appCSS),
		"connect-src 'self'",
		"img-src data:",
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
	return []byte(page), csp
}

// ServeHTTP serves the page ("/", or "" when mounted with
// http.StripPrefix on a path without its trailing slash) and the state
// ("/api/state"), to GET and HEAD.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	switch r.URL.Path {
	case "", "/", "/api/state":
	default:
		hd.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == "/api/state" {
		body := h.s.json()
		hd.Set("Content-Type", "application/json")
		hd.Set("Cache-Control", "no-store")
		hd.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		hd.Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
		return
	}
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Security-Policy", h.csp)
	hd.Set("Content-Length", strconv.Itoa(len(h.page)))
	w.Write(h.page)
}

// sampler is the state shared by requests: the earlier readings rates are
// computed from, the members seen alive (to notice departures), and the
// last answer, reused by requests that come within a few milliseconds.
type sampler struct {
	p   *peer.Peer
	cfg config

	gossip bool // p's discovery gossips

	mu       sync.Mutex
	history  []sample // readings, oldest first, at least window/4 apart
	track    tracker
	last     []byte // the last answer, encoded
	lastTime time.Time
}

func newSampler(p *peer.Peer, cfg config, now time.Time) *sampler {
	// A discovery that gossips says whether its gossip is encrypted (as
	// discovery.Gossip does); the peer tells gossip apart the same way.
	_, gossips := p.Discovery().(interface{ Encrypted() bool })
	s := &sampler{p: p, cfg: cfg, gossip: gossips}
	members := p.Members()
	st := p.Stats()
	s.track.init(members, st.Members, now)
	return s
}

// reuse is how long an answer is served again to other requests: it keeps
// many pages polling at once from reading the peer's statistics for each.
func (s *sampler) reuse() time.Duration { return min(s.cfg.refresh/10, 50*time.Millisecond) }

// json returns the state now, encoded.
func (s *sampler) json() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now() // under the lock: readings are taken in time order
	if s.last != nil && now.Sub(s.lastTime) < s.reuse() {
		return s.last
	}
	members := s.p.Members() // before Stats: the departure counts then include every departure seen here
	st := s.p.Stats()
	self := s.p.Advertisement()
	// The State holds only strings, numbers, times and slices of them:
	// encoding cannot fail, and if it did the answer would say why.
	b, _ := encodeState(s.build(now, self, members, st))
	s.last, s.lastTime = b, now
	return b
}
