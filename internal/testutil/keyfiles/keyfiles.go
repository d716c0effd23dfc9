// Package keyfiles writes, for tests, the key files of a secured cluster in
// the layout examples/keygen writes them:
//
//	DIR/NAME.key_secret   NAME's secret key file (mode 0600)
//	DIR/allowed/NAME.key  NAME's public key file: DIR/allowed is the allowlist
//	DIR/gossip.key        the gossip key (mode 0600)
//
// The keys are new for every call, made and written with package security.
package keyfiles

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/meshmq/meshmq/security"
)

// Set is the key files Write wrote.
type Set struct {
	Dir     string            // the directory they are in
	Allowed string            // Dir/allowed: every name's public key file, NAME.key
	Gossip  string            // Dir/gossip.key: the gossip key file
	Secret  map[string]string // name: its secret key file, Dir/NAME.key_secret
	Public  map[string]string // name: its public key, Z85 (security.PublicKey.String)
}

// Write writes a new key pair for each of names, its public key in
// Dir/allowed, and a new gossip key, under dir (created if missing). It
// fails t on any error.
func Write(t testing.TB, dir string, names ...string) *Set {
	t.Helper()
	s := &Set{Dir: dir, Allowed: filepath.Join(dir, "allowed"), Gossip: filepath.Join(dir, "gossip.key"),
		Secret: map[string]string{}, Public: map[string]string{}}
	if err := os.MkdirAll(s.Allowed, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		kp, err := security.GenerateKeyPair()
		if err != nil {
			t.Fatal(err)
		}
		s.Secret[name] = filepath.Join(dir, name+".key_secret")
		s.Public[name] = kp.Public.String()
		if err := security.WriteKeyPair(s.Secret[name], kp); err != nil {
			t.Fatal(err)
		}
		if err := security.WritePublicKey(filepath.Join(s.Allowed, name+".key"), kp.Public); err != nil {
			t.Fatal(err)
		}
	}
	gk, err := security.GenerateGossipKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := security.WriteGossipKey(s.Gossip, gk); err != nil {
		t.Fatal(err)
	}
	return s
}
