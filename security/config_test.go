package security

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestGossipKeyFiles(t *testing.T) {
	k, err := GenerateGossipKey()
	if err != nil || len(k) != 32 {
		t.Fatalf("GenerateGossipKey: %d bytes, %v", len(k), err)
	}
	path := filepath.Join(t.TempDir(), "gossip.key")
	if err := WriteGossipKey(path, k); err != nil {
		t.Fatal(err)
	}
	if err := WriteGossipKey(path, k); err == nil {
		t.Error("overwrote an existing gossip key file")
	}
	back, err := LoadGossipKey(path)
	if err != nil || string(back) != string(k) {
		t.Fatalf("LoadGossipKey: %x, %v", back, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadGossipKey(path); !errors.Is(err, ErrKey) {
		t.Errorf("a world-readable gossip key loaded: %v", err)
	}
	for _, s := range []string{"", "!!!", "AAAA", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="} {
		if _, err := ParseGossipKey(s); !errors.Is(err, ErrKey) {
			t.Errorf("ParseGossipKey(%q): %v", s, err)
		}
	}
	if err := WriteGossipKey(filepath.Join(t.TempDir(), "x"), []byte{1}); !errors.Is(err, ErrKey) {
		t.Errorf("wrote a 1-byte gossip key: %v", err)
	}
}

func TestLoadConfig(t *testing.T) {
	k := genKeys(t, 2)
	dir := t.TempDir()
	self := filepath.Join(dir, "self.key_secret")
	if err := WriteKeyPair(self, k[0]); err != nil {
		t.Fatal(err)
	}
	peers := filepath.Join(dir, "peers")
	if err := os.Mkdir(peers, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WritePublicKey(filepath.Join(peers, "other.key"), k[1].Public); err != nil {
		t.Fatal(err)
	}
	gk, _ := GenerateGossipKey()
	gossip := filepath.Join(dir, "gossip.key")
	if err := WriteGossipKey(gossip, gk); err != nil {
		t.Fatal(err)
	}
	c, err := Load(self, []string{peers}, gossip)
	if err != nil {
		t.Fatal(err)
	}
	if c.Keys != k[0] || !c.Allow.Allowed(k[1].Public) || c.Allow.Allowed(k[0].Public) || len(c.GossipKeys) != 1 {
		t.Fatalf("loaded %+v", c)
	}
	c, err = Load(self, nil)
	if err != nil || c.Allow != nil || c.GossipKeys != nil {
		t.Fatalf("without allowlist or gossip key: %+v, %v", c, err)
	}
	bad := Config{Keys: KeyPair{Public: k[0].Public, Secret: k[1].Secret}}
	if err := bad.Check(); !errors.Is(err, ErrConfig) {
		t.Errorf("a mismatched pair: %v", err)
	}
	if err := (&Config{}).Check(); !errors.Is(err, ErrConfig) {
		t.Errorf("no keys: %v", err)
	}
}
