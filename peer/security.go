package peer

import (
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/meshmq/meshmq/internal/transport"
	"github.com/meshmq/meshmq/security"
)

// Security. With WithSecurity, every data connection is ZMTP CURVE: the
// dialer pins the key the dialed member advertises in discovery, the
// acceptor admits only keys in the allowlist and only under the name whose
// advertised key the client authenticated with. A received message's From is
// therefore the authenticated sender. The same profile's gossip keys encrypt
// discovery.

// WithSecurity secures the peer with cfg: CURVE on every data connection,
// admitting the keys in cfg.Allow (none when it is nil), and cfg.GossipKeys
// on the gossip the peer starts (WithSeeds, WithGossip). The keys of a
// discovery.Gossip given to WithDiscovery are that Gossip's own.
func WithSecurity(cfg security.Config) Option {
	return func(c *config) error {
		if err := cfg.Check(); err != nil {
			return &OptionError{"WithSecurity", err.Error()}
		}
		cfg.GossipKeys = append([][]byte(nil), cfg.GossipKeys...)
		c.security = &cfg
		return nil
	}
}

// SecurityStats says how a peer is secured, and what it refused.
type SecurityStats struct {
	Curve           bool     // data connections use CURVE (WithSecurity)
	GossipEncrypted bool     // discovery gossip is encrypted and authenticated
	Insecure        []string // what is not secured; empty when nothing is
	Refused         uint64   // connections refused: key not in the allowlist (either side)
	Unidentified    uint64   // connections refused: the claimed name advertises another key (a name not known yet is refused too, uncounted: the dialer retries)
}

type securityState struct {
	cfg          *security.Config // nil: no CURVE
	insecure     []string
	gossipKeyed  bool
	refused      atomic.Uint64
	unidentified atomic.Uint64
	lastLog      atomic.Int64 // unix nanos of the last refusal logged
	stopWatch    func()
}

// setupSecurity checks the options and wires the gossip keys; it runs in
// New before discovery is created.
func setupSecurity(cfg *config) error {
	sc := cfg.security
	if sc == nil || len(sc.GossipKeys) == 0 {
		return nil
	}
	switch {
	case cfg.gossip != nil && len(cfg.gossip.Keys) > 0:
		return &OptionError{"WithSecurity", "gossip keys given both here and in WithGossip"}
	case cfg.gossip != nil:
		gc := *cfg.gossip
		gc.Keys = sc.GossipKeys
		cfg.gossip = &gc
		return nil
	case cfg.disc != nil:
		return &OptionError{"WithSecurity", "GossipKeys apply to the gossip the peer starts (WithSeeds, WithGossip); give them to the discovery.Gossip passed to WithDiscovery"}
	}
	return &OptionError{"WithSecurity", "GossipKeys without gossip discovery (WithSeeds, WithGossip)"}
}

// curveConfig is the transport's CURVE configuration, nil without
// WithSecurity.
func (p *Peer) curveConfig() *transport.CurveConfig {
	sc := p.cfg.security
	if sc == nil {
		return nil
	}
	return &transport.CurveConfig{
		Keys:      sc.Keys,
		ServerKey: p.serverKey,
		Authorize: p.authorize,
		Identify:  p.identify,
	}
}

// startSecurity notes what is insecure, warns once, and follows allowlist
// changes. It runs in New once discovery exists.
func (p *Peer) startSecurity() {
	s := &p.sec
	s.cfg = p.cfg.security
	g, gossips := p.disc.(interface{ Encrypted() bool })
	s.gossipKeyed = gossips && g.Encrypted()
	if s.cfg == nil {
		s.insecure = append(s.insecure, "data connections are neither encrypted nor authenticated (no WithSecurity)")
	} else if s.cfg.Allow.Open() {
		s.insecure = append(s.insecure, "the allowlist admits every key (security.AllowAny)")
	}
	if gossips && !s.gossipKeyed {
		s.insecure = append(s.insecure, "discovery gossip is neither encrypted nor authenticated (no gossip keys)")
	}
	if len(s.insecure) > 0 {
		p.log.Warn("peer is not fully secured", "insecure", s.insecure)
	}
	if s.cfg != nil {
		s.stopWatch = s.cfg.Allow.Watch(p.enforceAllowlist)
	}
}

func (p *Peer) stopSecurity() {
	if p.sec.stopWatch != nil {
		p.sec.stopWatch()
	}
}

func (p *Peer) securityStats() SecurityStats {
	s := &p.sec
	return SecurityStats{
		Curve: s.cfg != nil, GossipEncrypted: s.gossipKeyed, Insecure: s.insecure,
		Refused: s.refused.Load(), Unidentified: s.unidentified.Load(),
	}
}

// memberKey returns the key the named member advertises.
func (p *Peer) memberKey(name string) (security.PublicKey, bool) {
	if d, ok := p.disc.(interface {
		MemberKey(string) (security.PublicKey, bool)
	}); ok {
		if k, ok := d.MemberKey(name); ok {
			return k, true
		}
	}
	for _, m := range p.view() {
		if m.Name == name && !m.Key.IsZero() {
			return m.Key, true
		}
	}
	return security.PublicKey{}, false
}

// serverKey pins the key of a member about to be dialed: the one it
// advertises, if the allowlist admits it.
func (p *Peer) serverKey(name string) (security.PublicKey, bool) {
	k, ok := p.memberKey(name)
	if !ok {
		p.log.Debug("not dialing: no CURVE key known", "member", name)
		return k, false
	}
	if !p.sec.cfg.Allow.Allowed(k) {
		p.sec.refused.Add(1)
		p.logRefusal("not dialing a member whose key is not in the allowlist", "member", name, "key", k)
		return k, false
	}
	return k, true
}

// authorize admits a client key the CURVE handshake verified.
func (p *Peer) authorize(k security.PublicKey, addr net.Addr) error {
	if p.sec.cfg.Allow.Allowed(k) {
		return nil
	}
	p.sec.refused.Add(1)
	p.logRefusal("refused a connection: key not in the allowlist", "key", k, "addr", addrString(addr))
	return fmt.Errorf("key %s is not allowed", k)
}

// identify admits the name a client claims only with the key that member
// advertises.
func (p *Peer) identify(name string, k security.PublicKey) error {
	want, ok := p.memberKey(name)
	if ok && want == k {
		return nil
	}
	if !ok {
		// Usually a member not in our view yet: it dials again. Not
		// counted, so that Unidentified stays a sign of impersonation.
		p.log.Debug("refused a connection: no key known for its name yet", "name", name, "key", k)
		return fmt.Errorf("no key known for %q", name)
	}
	p.sec.unidentified.Add(1)
	p.logRefusal("refused a connection: its name belongs to another key", "name", name, "key", k, "advertised", want)
	return fmt.Errorf("%q advertises another key", name)
}

// enforceAllowlist closes the connections of keys no longer admitted.
func (p *Peer) enforceAllowlist() {
	for _, c := range p.tr.Conns() {
		if k, ok := c.PeerKey(); ok && !p.sec.cfg.Allow.Allowed(k) {
			p.log.Info("closing the connection of a revoked key", "peer", c.RemoteName(), "key", k)
			c.Close()
		}
	}
}

// logRefusal logs at most one refusal a second: refusals are what an
// unauthorized client can cause at will.
func (p *Peer) logRefusal(msg string, args ...any) {
	now := time.Now().UnixNano()
	last := p.sec.lastLog.Load()
	if now-last < int64(time.Second) || !p.sec.lastLog.CompareAndSwap(last, now) {
		return
	}
	p.log.Warn(msg, append(args, "refused", p.sec.refused.Load(), "unidentified", p.sec.unidentified.Load())...)
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
