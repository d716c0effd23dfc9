package cli

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/internal/testutil/keyfiles"
	"github.com/meshmq/meshmq/peer"
	"github.com/meshmq/meshmq/security"
)

// keyFiles writes the keys of a and b as examples/keygen does: their key
// pairs, their public keys in an allowed directory, and a gossip key. It
// returns a's secret key file and key pair.
func keyFiles(t *testing.T) (secret, allowed, gossip string, kp security.KeyPair) {
	t.Helper()
	k := keyfiles.Write(t, t.TempDir(), "a", "b")
	kp, err := security.LoadKeyPair(k.Secret["a"])
	if err != nil {
		t.Fatal(err)
	}
	return k.Secret["a"], k.Allowed, k.Gossip, kp
}

func parseSecurity(t *testing.T, args ...string) *SecurityFlags {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var f SecurityFlags
	f.Register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return &f
}

func TestSecurityFlags(t *testing.T) {
	secret, allowed, gossip, kp := keyFiles(t)

	// All three: one Config with the keys, the allowlist and the gossip key.
	f := parseSecurity(t, "-curve-key", secret, "-allow", " "+allowed+" ,", "-gossip-key", gossip)
	if err := f.Check(); err != nil {
		t.Fatal(err)
	}
	s, err := f.Load()
	if err != nil {
		t.Fatal(err)
	}
	if s.Config == nil || s.Config.Keys != kp || len(s.Config.Allow.Keys()) != 2 || !s.Config.Allow.Allowed(kp.Public) ||
		len(s.Config.GossipKeys) != 1 || string(s.Config.GossipKeys[0]) != string(s.GossipKey) {
		t.Fatalf("loaded %+v", s)
	}
	opts, err := s.PeerOptions(discovery.GossipConfig{})
	if err != nil || len(opts) != 2 {
		t.Fatalf("PeerOptions: %d options, %v", len(opts), err)
	}
	if _, err := s.PeerOptions(discovery.GossipConfig{Keys: [][]byte{s.GossipKey}}); err == nil {
		t.Error("two gossip keys accepted")
	}
	line := s.Describe(peer.SecurityStats{Curve: true, GossipEncrypted: true})
	if want := "secured: CURVE key " + kp.Public.String() + ", 2 allowed keys, gossip encrypted"; line != want {
		t.Errorf("Describe = %q, want %q", line, want)
	}
	line = s.Describe(peer.SecurityStats{Curve: true, Insecure: []string{"gossip in the clear"}})
	if !strings.HasSuffix(line, "2 allowed keys; not secured: gossip in the clear") {
		t.Errorf("Describe with gossip in the clear = %q", line)
	}

	// The gossip key alone goes into the gossip configuration.
	s, err = parseSecurity(t, "-gossip-key", gossip).Load()
	if err != nil || s.Config != nil || len(s.GossipKey) != 32 {
		t.Fatalf("gossip key only: %+v, %v", s, err)
	}
	if opts, err := s.PeerOptions(discovery.GossipConfig{}); err != nil || len(opts) != 1 {
		t.Fatalf("PeerOptions: %d options, %v", len(opts), err)
	}
	line = s.Describe(peer.SecurityStats{GossipEncrypted: true, Insecure: []string{"data in the clear"}})
	if line != "not secured: data in the clear (secure it with -curve-key, -allow and -gossip-key)" {
		t.Errorf("Describe = %q", line)
	}

	// None: nothing to load, and a nil Security is usable.
	s, err = parseSecurity(t).Load()
	if err != nil || s.Config != nil || s.GossipKey != nil {
		t.Fatalf("no flags: %+v, %v", s, err)
	}
	var none *Security
	if opts, err := none.PeerOptions(discovery.GossipConfig{}); err != nil || len(opts) != 1 {
		t.Fatalf("nil PeerOptions: %d, %v", len(opts), err)
	}
	if line := none.Describe(peer.SecurityStats{}); !strings.HasPrefix(line, "not secured: ") {
		t.Errorf("nil Describe = %q", line)
	}
}

func TestSecurityFlagsCheck(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-curve-key", "a.key_secret"}, "-curve-key needs -allow"},
		{[]string{"-curve-key", "a.key_secret", "-allow", ","}, "-curve-key needs -allow"},
		{[]string{"-allow", "allowed"}, "-allow needs -curve-key"},
		{[]string{"-allow", " "}, "-allow: no path given"},
	} {
		f := parseSecurity(t, c.args...)
		err := f.Check()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: Check = %v, want %q", c.args, err, c.want)
		}
		if _, lerr := f.Load(); lerr == nil || lerr.Error() != err.Error() {
			t.Errorf("%q: Load = %v, want Check's error", c.args, lerr)
		}
	}
	for _, args := range [][]string{nil, {"-gossip-key", "g"}, {"-curve-key", "k", "-allow", "a"}} {
		if err := parseSecurity(t, args...).Check(); err != nil {
			t.Errorf("%q: %v", args, err)
		}
	}
}

func TestSecurityFlagsFileErrors(t *testing.T) {
	secret, allowed, gossip, _ := keyFiles(t)
	if err := os.Chmod(gossip, 0o640); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"-curve-key", missing, "-allow", allowed}, []string{"-curve-key: ", "no such file", "examples/keygen writes key files"}},
		{[]string{"-curve-key", filepath.Join(allowed, "a.key"), "-allow", allowed}, []string{"looks like a public key file"}},
		{[]string{"-curve-key", secret, "-allow", filepath.Dir(secret)}, []string{"-allow: ", "such as keys/allowed"}},
		{[]string{"-curve-key", secret, "-allow", missing}, []string{"-allow: ", "no such file"}},
		{[]string{"-gossip-key", gossip}, []string{"-gossip-key: ", "chmod 600"}},
		{[]string{"-gossip-key", missing}, []string{"-gossip-key: ", "no such file"}},
	} {
		_, err := parseSecurity(t, c.args...).Load()
		if err == nil {
			t.Errorf("%q: loaded", c.args)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: %q lacks %q", c.args, err, w)
			}
		}
	}
	_, err := parseSecurity(t, "-curve-key", missing, "-allow", allowed).Load()
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing key file: %v does not wrap os.ErrNotExist", err)
	}
}

func TestRefusals(t *testing.T) {
	var r Refusals
	t0 := time.Unix(1000, 0)
	if _, ok := r.Check(peer.SecurityStats{}, t0); ok {
		t.Fatal("reported no refusals")
	}
	line, ok := r.Check(peer.SecurityStats{Refused: 1}, t0)
	if !ok || line != "security: refused 1 connection so far: keys not in the allowlist (-allow)" {
		t.Fatalf("first refusal: %q, %v", line, ok)
	}
	if _, ok := r.Check(peer.SecurityStats{Refused: 1}, t0.Add(time.Hour)); ok {
		t.Fatal("reported an unchanged count")
	}
	if _, ok := r.Check(peer.SecurityStats{Refused: 5}, t0.Add(RefusalEvery/2)); ok {
		t.Fatal("reported again too soon")
	}
	line, ok = r.Check(peer.SecurityStats{Refused: 7}, t0.Add(RefusalEvery))
	if !ok || !strings.Contains(line, "refused 7 connections so far") {
		t.Fatalf("later refusals: %q, %v", line, ok)
	}
}

func TestSecurityFlagsFiles(t *testing.T) {
	f := parseSecurity(t, "-curve-key", "a.key_secret", "-allow", "allowed", "-gossip-key", "g.key")
	if f.CurveKeyFile() != "a.key_secret" || f.GossipKeyFile() != "g.key" {
		t.Errorf("CurveKeyFile %q, GossipKeyFile %q", f.CurveKeyFile(), f.GossipKeyFile())
	}
	if f := parseSecurity(t); f.CurveKeyFile() != "" || f.GossipKeyFile() != "" {
		t.Errorf("no flags: %q, %q", f.CurveKeyFile(), f.GossipKeyFile())
	}
}
