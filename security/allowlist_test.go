package security

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func genKeys(t *testing.T, n int) []KeyPair {
	t.Helper()
	out := make([]KeyPair, n)
	for i := range out {
		kp, err := GenerateKeyPair()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = kp
	}
	return out
}

func TestAllowlist(t *testing.T) {
	k := genKeys(t, 3)
	var nilList *Allowlist
	if nilList.Allowed(k[0].Public) || nilList.Open() || nilList.Keys() != nil {
		t.Fatal("a nil allowlist admits")
	}
	nilList.Watch(func() {})() // no-op, no panic

	a := NewAllowlist(k[0].Public)
	changes := 0
	stop := a.Watch(func() { changes++ })
	if !a.Allowed(k[0].Public) || a.Allowed(k[1].Public) || a.Open() {
		t.Fatal("initial contents")
	}
	a.Allow(k[1].Public, k[2].Public)
	a.Revoke(k[0].Public)
	if a.Allowed(k[0].Public) || !a.Allowed(k[1].Public) || !a.Allowed(k[2].Public) {
		t.Fatal("after Allow and Revoke")
	}
	want := []PublicKey{k[1].Public, k[2].Public}
	slices.SortFunc(want, func(x, y PublicKey) int { return cmpKeys(x, y) })
	if got := a.Keys(); !slices.Equal(got, want) {
		t.Fatalf("Keys = %v, want %v", got, want)
	}
	a.Set(k[0].Public)
	if !a.Allowed(k[0].Public) || a.Allowed(k[1].Public) {
		t.Fatal("after Set")
	}
	if changes != 3 {
		t.Fatalf("%d change notifications, want 3", changes)
	}
	stop()
	a.Allow(k[1].Public)
	if changes != 3 {
		t.Fatal("notified after stop")
	}

	open := AllowAny()
	if !open.Open() || !open.Allowed(k[2].Public) {
		t.Fatal("AllowAny does not admit")
	}
	open.Set(k[0].Public)
	if open.Open() || open.Allowed(k[2].Public) {
		t.Fatal("Set does not close an open allowlist")
	}
}

func cmpKeys(x, y PublicKey) int {
	for i := range x {
		if x[i] != y[i] {
			return int(x[i]) - int(y[i])
		}
	}
	return 0
}

// Directories of zcert-style files: public ones are listed, secret ones
// skipped; a bad file fails the whole load.
func TestLoadAllowlist(t *testing.T) {
	k := genKeys(t, 3)
	dir := t.TempDir()
	for i, name := range []string{"a", "b"} {
		if err := WritePublicKey(filepath.Join(dir, name+".key"), k[i].Public); err != nil {
			t.Fatal(err)
		}
		if err := WriteKeyPair(filepath.Join(dir, name+".key_secret"), k[i]); err != nil {
			t.Fatal(err)
		}
	}
	single := filepath.Join(t.TempDir(), "c.key")
	if err := WritePublicKey(single, k[2].Public); err != nil {
		t.Fatal(err)
	}
	a, err := LoadAllowlist(dir, single)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Keys()) != 3 || !a.Allowed(k[0].Public) || !a.Allowed(k[1].Public) || !a.Allowed(k[2].Public) {
		t.Fatalf("loaded %v", a.Keys())
	}
	if _, err := LoadAllowlist(t.TempDir()); err == nil {
		t.Error("an empty directory loaded")
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.key"), []byte("public-key = \"short\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAllowlist(dir); !errors.Is(err, ErrKey) {
		t.Errorf("a bad key file: %v, want ErrKey", err)
	}
	if _, err := LoadAllowlist(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing path: %v", err)
	}
}
