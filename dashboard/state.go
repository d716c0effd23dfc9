package dashboard

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/peer"
)

// State is what /api/state returns, as JSON, and what the page renders: one
// reading of the peer's statistics and of its view of the cluster.
//
// Counts are the peer's own, since it started. Rates are in messages per
// second, computed from the difference between this reading and an earlier
// one about RateWindow seconds before (see the package documentation); they
// are 0 when RateWindow is 0 (no earlier reading yet).
type State struct {
	Title   string    `json:"title"`
	Self    string    `json:"self"`           // this peer's name
	Time    time.Time `json:"time"`           // when the reading was taken
	Refresh float64   `json:"refreshSeconds"` // how often the page polls
	// RateWindow is the time in seconds between this reading and the one
	// rates are computed against: about Refresh while someone polls, longer
	// for the first request after a pause, 0 when there is no earlier
	// reading.
	RateWindow float64 `json:"rateWindowSeconds"`

	// Members lists this peer first (State "self"), then the members alive
	// in its view by name, then those seen gone, most recent first.
	Members  []Member  `json:"members"`
	Channels []Channel `json:"channels"` // by name; "" is replies, which have no channel
	Totals   Totals    `json:"totals"`
	Security Security  `json:"security"`
}

// MemberState says whether a member is this peer, alive, or gone.
type MemberState string

// The states of a Member.
const (
	StateSelf   MemberState = "self"   // this peer
	StateAlive  MemberState = "alive"  // in the peer's view
	StateLeft   MemberState = "left"   // gone from the view, and the peer counted a departure as leaving
	StateFailed MemberState = "failed" // gone from the view, and the peer counted a departure as failed
	StateGone   MemberState = "gone"   // gone from the view, left or failed not told apart (several departures at once)
)

// Member is one member of the cluster, as discovery advertises it, with
// this peer's traffic to it.
type Member struct {
	Name          string         `json:"name"`
	State         MemberState    `json:"state"`
	Endpoint      string         `json:"endpoint"`
	Services      []string       `json:"services"`      // point-to-point channels it handles
	Subscriptions []Subscription `json:"subscriptions"` // topic patterns it subscribes to
	Secured       bool           `json:"secured"`       // it advertises a CURVE key: its data connections are encrypted and authenticated
	Key           string         `json:"key,omitempty"` // that key, Z85
	Connected     bool           `json:"connected"`     // this peer has a data connection to it (always false for this peer itself)
	// Traffic is what this peer sent it; nil when it sent it nothing.
	Traffic *Traffic `json:"traffic,omitempty"`
	// Since is when the dashboard noticed the member gone; zero for the
	// others.
	Since *time.Time `json:"since,omitempty"`
}

// Subscription is a topic pattern a member subscribes to.
type Subscription struct {
	Pattern    string `json:"pattern"`
	Group      string `json:"group,omitempty"` // "": a group of its own
	Partitions int    `json:"partitions,omitempty"`
	BestEffort bool   `json:"bestEffort,omitempty"`
}

// Traffic counts the messages this peer gave one member
// (peer.DestinationStats).
type Traffic struct {
	Sent         uint64  `json:"sent"`
	Acked        uint64  `json:"acked"`
	Retried      uint64  `json:"retried"`
	DeadLettered uint64  `json:"deadLettered"`
	InFlight     int     `json:"inFlight"`
	BufferBytes  int     `json:"bufferBytes"`
	SendRate     float64 `json:"sendRate"` // messages/s handed to it
}

// Channel is one channel's traffic at this peer (peer.ChannelStats): as
// sender (services sent to, topics published to) and as receiver (services
// handled, topics of the events handled).
type Channel struct {
	Name          string  `json:"name"`
	Sent          uint64  `json:"sent"`
	Acked         uint64  `json:"acked"`
	Retried       uint64  `json:"retried"`
	DeadLettered  uint64  `json:"deadLettered"`
	InFlight      int     `json:"inFlight"`
	BufferBytes   int     `json:"bufferBytes"`
	Handled       uint64  `json:"handled"`
	HandlerErrors uint64  `json:"handlerErrors"`
	Duplicates    uint64  `json:"duplicates"`
	SendRate      float64 `json:"sendRate"`   // messages/s accepted for delivery
	AckRate       float64 `json:"ackRate"`    // messages/s acknowledged
	HandleRate    float64 `json:"handleRate"` // messages/s handled (handler returned nil)
	Latency       Latency `json:"latency"`
	// Receivers are the members, this peer included, that handle the
	// channel as a service or subscribe to a pattern matching it.
	Receivers []string `json:"receivers"`
}

// Latency is the handler latency of a channel, estimated from the peer's
// histogram (peer.LatencyBounds) by linear interpolation within a bucket.
// A quantile in the last, unbounded bucket is reported as the last bound.
type Latency struct {
	Count uint64  `json:"count"`       // handler runs counted
	Mean  float64 `json:"meanSeconds"` // seconds
	P50   float64 `json:"p50Seconds"`
	P99   float64 `json:"p99Seconds"`
	// Recent is true when the figures are of the runs within RateWindow,
	// false when they are of every run since the peer started (no run in
	// the window).
	Recent bool `json:"recent"`
}

// Totals are the peer-wide counts (peer.Stats) and rates.
type Totals struct {
	Sent          uint64  `json:"sent"`
	Acked         uint64  `json:"acked"`
	Retried       uint64  `json:"retried"`
	DeadLettered  uint64  `json:"deadLettered"`
	Handled       uint64  `json:"handled"`
	HandlerErrors uint64  `json:"handlerErrors"`
	Duplicates    uint64  `json:"duplicates"`
	Rejected      uint64  `json:"rejected"`
	Published     uint64  `json:"published"`
	FailedOver    uint64  `json:"failedOver"`
	InFlight      int     `json:"inFlight"`
	BufferBytes   int     `json:"bufferBytes"`
	Retained      int     `json:"retained"`
	SendRate      float64 `json:"sendRate"`
	AckRate       float64 `json:"ackRate"`
	HandleRate    float64 `json:"handleRate"`
	// Membership: members alive in the view (this peer excluded), and the
	// events discovery reported since the peer started.
	Alive  int    `json:"alive"`
	Joined uint64 `json:"joined"`
	Left   uint64 `json:"left"`
	Failed uint64 `json:"failed"`
}

// Security is how this peer is secured (peer.SecurityStats).
type Security struct {
	Curve           bool     `json:"curve"`           // data connections use CURVE
	Gossip          bool     `json:"gossip"`          // discovery is by gossip (discovery.Gossip), not a static list
	GossipEncrypted bool     `json:"gossipEncrypted"` // discovery gossip is encrypted
	Insecure        []string `json:"insecure"`        // what is not secured; empty when nothing is
	Refused         uint64   `json:"refused"`         // connections refused: key not allowed
	Unidentified    uint64   `json:"unidentified"`    // connections refused: name of another key
	// SecuredMembers counts the members alive, this peer included, that
	// advertise a CURVE key, out of Members.
	SecuredMembers int `json:"securedMembers"`
	Members        int `json:"members"`
}

// sample is one reading of the monotonic counters rates are computed from.
type sample struct {
	t             time.Time
	sent, acked   uint64
	handled       uint64
	chans         map[string]chanSample
	dests         map[string]uint64 // sent
	latencyBounds []float64
}

type chanSample struct {
	sent, acked, handled uint64
	latency              []uint64 // histogram counts
	latencySum           float64
}

func takeSample(now time.Time, st *peer.Stats) sample {
	s := sample{t: now, sent: st.Sent, acked: st.Acked, handled: st.Handled,
		chans: make(map[string]chanSample, len(st.Channels)), dests: make(map[string]uint64, len(st.Destinations))}
	for name, c := range st.Channels {
		s.chans[name] = chanSample{sent: c.Sent, acked: c.Acked, handled: c.Handled,
			latency: c.HandlerLatency.Counts, latencySum: c.HandlerLatency.Sum}
	}
	for name, d := range st.Destinations {
		s.dests[name] = d.Sent
	}
	return s
}

// rateOf is the rate of a counter from then to now over dt seconds; 0 when
// dt is 0 or the counter went back (it never does within a peer's life).
func rateOf(now, then uint64, dt float64) float64 {
	if dt <= 0 || now <= then {
		return 0
	}
	return float64(now-then) / dt
}

// reference picks the reading to compute rates against at now, after
// dropping the readings older than it: the newest reading at least a
// window old, or else the oldest, if at least a quarter window old.
func (s *sampler) reference(now time.Time) *sample {
	window := s.cfg.refresh
	cut := 0
	for cut+1 < len(s.history) && !s.history[cut+1].t.After(now.Add(-window)) {
		cut++
	}
	s.history = s.history[cut:]
	if len(s.history) == 0 {
		return nil
	}
	if ref := &s.history[0]; now.Sub(ref.t) >= window/4 {
		return ref
	}
	return nil
}

// record keeps cur for later rates, if the last kept reading is at least a
// quarter window older.
func (s *sampler) record(cur sample) {
	if n := len(s.history); n > 0 && cur.t.Sub(s.history[n-1].t) < s.cfg.refresh/4 {
		return
	}
	s.history = append(s.history, cur)
}

// build makes the State from one reading: self is this peer's
// advertisement, members the others alive, st its statistics.
func (s *sampler) build(now time.Time, self discovery.Member, members []discovery.Member, st peer.Stats) *State {
	cur := takeSample(now, &st)
	ref := s.reference(now)
	s.record(cur)
	var dt float64
	if ref != nil {
		dt = now.Sub(ref.t).Seconds()
	} else {
		ref = &sample{}
	}

	out := &State{
		Title: s.cfg.title, Self: self.Name, Time: now.UTC(), Refresh: s.cfg.refresh.Seconds(), RateWindow: dt,
		Members: []Member{}, Channels: []Channel{},
	}

	// Members: this peer, the others alive, the recently gone.
	gone := s.track.update(members, st.Members, now)
	alive := slices.Clone(members)
	slices.SortFunc(alive, func(a, b discovery.Member) int { return strings.Compare(a.Name, b.Name) })
	secured := 0
	member := func(m discovery.Member, state MemberState) Member {
		out := Member{Name: m.Name, State: state, Endpoint: m.Endpoint, Services: slices.Clone(m.Services),
			Subscriptions: []Subscription{}, Secured: !m.Key.IsZero()}
		if out.Services == nil {
			out.Services = []string{}
		}
		slices.Sort(out.Services)
		for _, sub := range m.Subscriptions {
			out.Subscriptions = append(out.Subscriptions, Subscription{Pattern: sub.Pattern, Group: sub.Group,
				Partitions: sub.Partitions, BestEffort: sub.BestEffort})
		}
		if out.Secured {
			out.Key = m.Key.String()
		}
		if d, ok := st.Destinations[m.Name]; ok && state != StateSelf {
			out.Connected = d.Connected
			out.Traffic = &Traffic{Sent: d.Sent, Acked: d.Acked, Retried: d.Retried, DeadLettered: d.DeadLettered,
				InFlight: d.InFlight, BufferBytes: d.BufferBytes, SendRate: rateOf(d.Sent, ref.dests[m.Name], dt)}
		}
		return out
	}
	for _, m := range append([]discovery.Member{self}, alive...) {
		state := StateAlive
		if m.Name == self.Name {
			state = StateSelf
		}
		mm := member(m, state)
		if mm.Secured {
			secured++
		}
		out.Members = append(out.Members, mm)
	}
	for _, g := range gone {
		mm := member(g.m, g.state)
		since := g.since.UTC()
		mm.Since = &since
		out.Members = append(out.Members, mm)
	}

	// Channels, with the members that receive them.
	receivers := append([]discovery.Member{self}, alive...)
	names := make([]string, 0, len(st.Channels))
	for name := range st.Channels {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		c := st.Channels[name]
		rc := ref.chans[name]
		ch := Channel{Name: name, Sent: c.Sent, Acked: c.Acked, Retried: c.Retried, DeadLettered: c.DeadLettered,
			InFlight: c.InFlight, BufferBytes: c.BufferBytes, Handled: c.Handled, HandlerErrors: c.HandlerErrors,
			Duplicates: c.Duplicates, SendRate: rateOf(c.Sent, rc.sent, dt), AckRate: rateOf(c.Acked, rc.acked, dt),
			HandleRate: rateOf(c.Handled, rc.handled, dt), Latency: latency(c.HandlerLatency, rc, dt > 0),
			Receivers: []string{}}
		if name != "" {
			for _, m := range receivers {
				if receives(m, name) {
					ch.Receivers = append(ch.Receivers, m.Name)
				}
			}
		}
		out.Channels = append(out.Channels, ch)
	}

	out.Totals = Totals{Sent: st.Sent, Acked: st.Acked, Retried: st.Retried, DeadLettered: st.DeadLettered,
		Handled: st.Handled, HandlerErrors: st.HandlerErrors, Duplicates: st.Duplicates, Rejected: st.Rejected,
		Published: st.Published, FailedOver: st.FailedOver, InFlight: st.InFlight, BufferBytes: st.BufferBytes,
		Retained: st.Retained, SendRate: rateOf(st.Sent, ref.sent, dt), AckRate: rateOf(st.Acked, ref.acked, dt),
		HandleRate: rateOf(st.Handled, ref.handled, dt),
		Alive:      st.Members.Alive, Joined: st.Members.Joined, Left: st.Members.Left, Failed: st.Members.Failed}

	sec := st.Security
	out.Security = Security{Curve: sec.Curve, Gossip: s.gossip, GossipEncrypted: sec.GossipEncrypted,
		Insecure: slices.Clone(sec.Insecure), Refused: sec.Refused, Unidentified: sec.Unidentified,
		SecuredMembers: secured, Members: 1 + len(alive)}
	if out.Security.Insecure == nil {
		out.Security.Insecure = []string{}
	}
	return out
}

// receives reports whether m handles the channel name as a service or
// subscribes to a pattern matching it.
func receives(m discovery.Member, name string) bool {
	if slices.Contains(m.Services, name) {
		return true
	}
	for _, sub := range m.Subscriptions {
		if channel.MatchTopic(sub.Pattern, name) {
			return true
		}
	}
	return false
}

// latency estimates h's figures over the runs since ref when there were
// any and recent is set, over every run otherwise.
func latency(h peer.Histogram, ref chanSample, recent bool) Latency {
	if recent && len(ref.latency) == len(h.Counts) {
		d := make([]uint64, len(h.Counts))
		var n uint64
		for i, c := range h.Counts {
			if c > ref.latency[i] {
				d[i] = c - ref.latency[i]
			}
			n += d[i]
		}
		if n > 0 {
			return Latency{Count: n, Mean: max(h.Sum-ref.latencySum, 0) / float64(n),
				P50: quantile(h.Bounds, d, 0.5), P99: quantile(h.Bounds, d, 0.99), Recent: true}
		}
	} else if recent && ref.latency == nil && h.Count > 0 {
		// The channel is new since ref: every run is recent.
		return Latency{Count: h.Count, Mean: h.Sum / float64(h.Count),
			P50: quantile(h.Bounds, h.Counts, 0.5), P99: quantile(h.Bounds, h.Counts, 0.99), Recent: true}
	}
	if h.Count == 0 {
		return Latency{}
	}
	return Latency{Count: h.Count, Mean: h.Sum / float64(h.Count),
		P50: quantile(h.Bounds, h.Counts, 0.5), P99: quantile(h.Bounds, h.Counts, 0.99)}
}

// quantile estimates the q-quantile (0 < q <= 1) of a histogram whose
// counts[i] counts observations at most bounds[i] (and above bounds[i-1]),
// the last count those above the last bound: it finds the bucket holding
// the rank and interpolates linearly between its bounds (from 0 for the
// first bucket). A quantile in the last bucket is reported as the last
// bound. 0 with no observations.
func quantile(bounds []float64, counts []uint64, q float64) float64 {
	var total uint64
	for _, c := range counts {
		total += c
	}
	if total == 0 || len(bounds) == 0 {
		return 0
	}
	rank := q * float64(total)
	var cum float64
	for i, c := range counts {
		if c == 0 {
			continue
		}
		if cum+float64(c) >= rank {
			if i >= len(bounds) {
				return bounds[len(bounds)-1]
			}
			lo := 0.0
			if i > 0 {
				lo = bounds[i-1]
			}
			return lo + (bounds[i]-lo)*(rank-cum)/float64(c)
		}
		cum += float64(c)
	}
	return bounds[len(bounds)-1]
}

// encodeState encodes st as JSON. encoding/json escapes <, > and & in
// strings, so that the answer is inert even if sniffed as HTML.
func encodeState(st *State) ([]byte, error) {
	b, err := json.Marshal(st)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	return b, err
}
