package cli

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/peer"
	"github.com/meshmq/meshmq/security"
)

// SecurityFlags are the flags that secure an example's peer, with the key
// files examples/keygen writes:
//
//	-curve-key FILE   this peer's secret key file: CURVE on every data connection
//	-allow PATHS      the public keys admitted (files, directories of *.key files)
//	-gossip-key FILE  the cluster's gossip key file: encrypted gossip
//
// Register adds them to a flag set; after parsing, Check rejects the
// combinations that cannot work (a usage error) and Load reads the files.
type SecurityFlags struct {
	curveKey  string
	allow     string
	gossipKey string
}

// Register adds -curve-key, -allow and -gossip-key to fs.
func (f *SecurityFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.curveKey, "curve-key", "",
		"this peer's secret key `FILE` (NAME.key_secret from examples/keygen): CURVE encrypts and authenticates every data connection; needs -allow")
	fs.StringVar(&f.allow, "allow", "",
		"`PATHS`: comma-separated public key files and directories of *.key files (keys/allowed from examples/keygen); with -curve-key, the only peers admitted and dialed")
	fs.StringVar(&f.gossipKey, "gossip-key", "",
		"gossip key `FILE` (keys/gossip.key from examples/keygen): encrypts and authenticates gossip; every peer needs the same one")
}

// GossipKeyFile is the -gossip-key file, "" without one.
func (f *SecurityFlags) GossipKeyFile() string { return f.gossipKey }

// CurveKeyFile is the -curve-key file, "" without one.
func (f *SecurityFlags) CurveKeyFile() string { return f.curveKey }

// Check reports a combination of the flags that cannot work. Its errors
// are mistakes on the command line: the commands print them with their
// usage.
func (f *SecurityFlags) Check() error {
	allow := SplitList(f.allow)
	switch {
	case f.curveKey != "" && len(allow) == 0:
		// Deny by default: a nil allowlist is legal for the peer, and
		// would leave this one talking to no one, silently.
		return errors.New("-curve-key needs -allow: a secured peer admits only the keys in its allowlist, " +
			"so without one it admits no one; give -allow the public keys of the peers to admit, " +
			"such as the directory keys/allowed that examples/keygen writes")
	case f.curveKey == "" && len(allow) > 0:
		return errors.New("-allow needs -curve-key: the allowlist is checked in the CURVE handshake, " +
			"which needs this peer's own secret key file (examples/keygen writes one per peer)")
	case f.curveKey == "" && f.allow != "":
		return errors.New("-allow: no path given")
	}
	return nil
}

// Security is what SecurityFlags loaded: how a peer is secured.
type Security struct {
	// Config secures the data connections, and gossip when GossipKey is
	// set; nil without -curve-key.
	Config *security.Config
	// GossipKey is the key of -gossip-key; nil without it.
	GossipKey []byte
}

// Load checks the flags and reads the files they name. Unlike Check's, its
// errors are about the files (missing, unreadable, readable by others,
// not a key), not the command line; each names its flag and file.
func (f *SecurityFlags) Load() (*Security, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	s := &Security{}
	if f.gossipKey != "" {
		k, err := security.LoadGossipKey(f.gossipKey)
		if err != nil {
			return nil, fileError("-gossip-key", err)
		}
		s.GossipKey = k
	}
	if f.curveKey == "" {
		return s, nil
	}
	kp, err := security.LoadKeyPair(f.curveKey)
	if err != nil {
		if errors.Is(err, security.ErrKey) && strings.HasSuffix(f.curveKey, ".key") {
			// The likely mistake: chmod 600 would not help.
			return nil, fmt.Errorf("-curve-key: %s looks like a public key file; give this peer's secret key file, NAME.key_secret (%w)",
				f.curveKey, err)
		}
		return nil, fileError("-curve-key", err)
	}
	allow, err := security.LoadAllowlist(SplitList(f.allow)...)
	if err != nil {
		kp.Zero()
		if errors.Is(err, security.ErrKey) {
			return nil, fmt.Errorf("-allow: %w (-allow takes public key files and directories of them, such as keys/allowed, not the directory of secret keys)", err)
		}
		return nil, fileError("-allow", err)
	}
	cfg := security.Config{Keys: kp, Allow: allow}
	if s.GossipKey != nil {
		cfg.GossipKeys = [][]byte{s.GossipKey}
	}
	if err := cfg.Check(); err != nil {
		kp.Zero()
		return nil, fmt.Errorf("-curve-key: %w", err)
	}
	s.Config = &cfg
	return s, nil
}

func fileError(flagName string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w (examples/keygen writes key files)", flagName, err)
	}
	return fmt.Errorf("%s: %w", flagName, err)
}

// PeerOptions returns the options for a peer that finds the others by
// gossip with gc: peer.WithGossip and, with -curve-key, peer.WithSecurity.
// With -curve-key the one security.Config carries the CURVE key pair, the
// allowlist and the gossip key; without it, the gossip key (if any) goes
// into gc. gc must have no Keys of its own when -gossip-key is given.
func (s *Security) PeerOptions(gc discovery.GossipConfig) ([]peer.Option, error) {
	if s == nil {
		return []peer.Option{peer.WithGossip(gc)}, nil
	}
	if s.GossipKey != nil && len(gc.Keys) > 0 {
		return nil, errors.New("two gossip keys: -gossip-key and another")
	}
	if s.Config == nil {
		if s.GossipKey != nil {
			gc.Keys = [][]byte{s.GossipKey}
		}
		return []peer.Option{peer.WithGossip(gc)}, nil
	}
	return []peer.Option{peer.WithGossip(gc), peer.WithSecurity(*s.Config)}, nil
}

// Describe is the one line a command prints about how its peer is secured,
// from the peer's st (peer.Stats().Security):
//
//	secured: CURVE key <public key>, 3 allowed keys, gossip encrypted
//	not secured: <what is not> (secure it with -curve-key, -allow and -gossip-key)
//
// A peer with CURVE but gossip in the clear says both.
func (s *Security) Describe(st peer.SecurityStats) string {
	insecure := strings.Join(st.Insecure, "; ")
	if s == nil || s.Config == nil || !st.Curve {
		if insecure == "" {
			insecure = "data connections are neither encrypted nor authenticated"
		}
		return "not secured: " + insecure + " (secure it with -curve-key, -allow and -gossip-key)"
	}
	line := fmt.Sprintf("secured: CURVE key %s, %s", s.Config.Keys.Public, plural(len(s.Config.Allow.Keys()), "allowed key"))
	if st.GossipEncrypted {
		line += ", gossip encrypted"
	}
	if insecure != "" {
		line += "; not secured: " + insecure
	}
	return line
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// RefusalEvery is how often Refusals reports a growing count after the
// first refusal, which it reports at once: a peer refused will usually
// try again, and again.
const RefusalEvery = 10 * time.Second

// Refusals turns a peer's count of refused connections (keys not in the
// allowlist, peer.SecurityStats.Refused) into lines for its user. The zero
// value is ready; it is not safe for concurrent use.
type Refusals struct {
	reported uint64
	at       time.Time
}

// Check returns the line to print about st at now, if any: the first
// refusal at once, then the new total at most every RefusalEvery.
func (r *Refusals) Check(st peer.SecurityStats, now time.Time) (string, bool) {
	n := st.Refused
	if n <= r.reported || (r.reported > 0 && now.Sub(r.at) < RefusalEvery) {
		return "", false
	}
	r.reported, r.at = n, now
	return fmt.Sprintf("security: refused %s so far: keys not in the allowlist (-allow)",
		plural(int(n), "connection")), true
}
