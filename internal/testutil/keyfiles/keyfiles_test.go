package keyfiles

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/meshmq/meshmq/security"
)

// The files load as examples/cluster loads them: each name's key pair, an
// allowlist of every name, and the gossip key.
func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	s := Write(t, dir, "a", "b")
	if s.Dir != dir || s.Allowed != filepath.Join(dir, "allowed") || s.Gossip != filepath.Join(dir, "gossip.key") {
		t.Fatalf("paths: %+v", s)
	}
	list, err := security.LoadAllowlist(s.Allowed)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Keys()) != 2 {
		t.Fatalf("allowlist of %d keys, want 2", len(list.Keys()))
	}
	for _, name := range []string{"a", "b"} {
		if s.Secret[name] != filepath.Join(dir, name+".key_secret") {
			t.Errorf("%s's secret key file: %q", name, s.Secret[name])
		}
		cfg, err := security.Load(s.Secret[name], []string{s.Allowed}, s.Gossip)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Keys.Public.String(); got != s.Public[name] {
			t.Errorf("%s's public key: loaded %s, Public says %s", name, got, s.Public[name])
		}
		if !list.Allowed(cfg.Keys.Public) {
			t.Errorf("%s's key is not in the allowlist", name)
		}
	}
	if s.Public["a"] == s.Public["b"] {
		t.Error("a and b have the same key")
	}

	// Another set in a subdirectory keeps to its own files.
	other := Write(t, filepath.Join(dir, "other"), "c")
	if other.Public["c"] == s.Public["a"] || len(other.Secret) != 1 {
		t.Errorf("other set: %+v", other)
	}
	if _, err := os.Stat(filepath.Join(s.Allowed, "c.key")); !os.IsNotExist(err) {
		t.Errorf("c's public key in the first set's allowlist: %v", err)
	}
}
