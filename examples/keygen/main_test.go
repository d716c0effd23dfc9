package main

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/meshmq/meshmq/examples/internal/cli"
	"github.com/meshmq/meshmq/security"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func keygen(t *testing.T, args ...string) string {
	t.Helper()
	var out strings.Builder
	if err := run(args, &out); err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return out.String()
}

// The files a secured cluster needs, loadable by package security as
// examples/cluster loads them, and the commands that start it.
func TestKeygen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	out := keygen(t, "-dir", dir, "a", "b", "c")

	allowed := filepath.Join(dir, "allowed")
	list, err := security.LoadAllowlist(allowed)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Keys()) != 3 {
		t.Fatalf("allowlist of %d keys, want 3", len(list.Keys()))
	}
	gossip := filepath.Join(dir, "gossip.key")
	for _, name := range []string{"a", "b", "c"} {
		secret := filepath.Join(dir, name+".key_secret")
		cfg, err := security.Load(secret, []string{allowed}, gossip)
		if err != nil {
			t.Fatal(err)
		}
		if !list.Allowed(cfg.Keys.Public) {
			t.Errorf("%s's key is not in the allowlist", name)
		}
		for _, want := range []string{
			"wrote " + secret + " ", "wrote " + filepath.Join(allowed, name+".key") + " ",
			"go run ./examples/cluster -name " + name + " -listen tcp://127.0.0.1:",
			"-curve-key " + secret + " -allow " + allowed + " -gossip-key " + gossip,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	}
	for path, mode := range map[string]os.FileMode{
		dir: 0o700, allowed: 0o755, gossip: 0o600, filepath.Join(dir, "a.key_secret"): 0o600,
	} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		// The umask may only take permissions away.
		if st.Mode().Perm()&^mode != 0 {
			t.Errorf("%s: mode %#o, want at most %#o", path, st.Mode().Perm(), mode)
		}
	}
	for _, want := range []string{
		"wrote " + gossip + " ",
		"-name a -listen tcp://127.0.0.1:7001 -gossip 127.0.0.1:7946 -serve orders -curve-key",
		"-name b -listen tcp://127.0.0.1:7002 -gossip 127.0.0.1:7947 -join 127.0.0.1:7946 -serve orders -curve-key",
		"-name c -listen tcp://127.0.0.1:7003 -gossip 127.0.0.1:7948 -join 127.0.0.1:7946 -send orders -rate 20 -curve-key",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "kept") {
		t.Errorf("kept files in an empty directory:\n%s", out)
	}
}

// Run again, keygen keeps every key it finds, adds the new names, and
// restores a missing public key file from its secret.
func TestKeygenKeepsKeys(t *testing.T) {
	dir := t.TempDir()
	keygen(t, "-dir", dir, "a", "b")
	files := []string{"a.key_secret", "b.key_secret", "allowed/a.key", "allowed/b.key", "gossip.key"}
	before := map[string]string{}
	for _, f := range files {
		before[f] = read(t, filepath.Join(dir, f))
	}
	if err := os.Remove(filepath.Join(dir, "allowed", "b.key")); err != nil {
		t.Fatal(err)
	}
	out := keygen(t, "-dir", dir, "a", "b", "c")
	for _, f := range files {
		if got := read(t, filepath.Join(dir, f)); got != before[f] {
			t.Errorf("%s changed:\n%s\nwas\n%s", f, got, before[f])
		}
	}
	for _, want := range []string{
		"kept  " + filepath.Join(dir, "a.key_secret"), "kept  " + filepath.Join(dir, "allowed", "a.key"),
		"kept  " + filepath.Join(dir, "b.key_secret"), "wrote " + filepath.Join(dir, "allowed", "b.key"),
		"wrote " + filepath.Join(dir, "c.key_secret"), "wrote " + filepath.Join(dir, "allowed", "c.key"),
		"kept  " + filepath.Join(dir, "gossip.key"), "keygen never overwrites a key",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if list, err := security.LoadAllowlist(filepath.Join(dir, "allowed")); err != nil || len(list.Keys()) != 3 {
		t.Fatalf("allowlist after adding c: %v", err)
	}
}

// Files that cannot be kept consistently fail the run before anything is
// written.
func TestKeygenConflicts(t *testing.T) {
	dir := t.TempDir()
	keygen(t, "-dir", dir, "a", "b", "c")
	// a's secret key is gone: its public key stays, and a is refused.
	if err := os.Remove(filepath.Join(dir, "a.key_secret")); err != nil {
		t.Fatal(err)
	}
	// b's public key file holds another key.
	other, _ := security.GenerateKeyPair()
	bPub := filepath.Join(dir, "allowed", "b.key")
	if err := os.Remove(bPub); err != nil {
		t.Fatal(err)
	}
	if err := security.WritePublicKey(bPub, other.Public); err != nil {
		t.Fatal(err)
	}
	// c's secret key is readable by others.
	cSecret := filepath.Join(dir, "c.key_secret")
	if err := os.Chmod(cSecret, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		want []string
	}{
		{"a", []string{"a.key exists but", "a.key_secret does not", "will not replace a public key"}},
		{"b", []string{"b.key does not hold the public key of", "b.key_secret"}},
		{"c", []string{"the existing key of c", "chmod 600"}},
	} {
		var out strings.Builder
		// d comes first, and is not written: nothing is, on an error.
		err := run([]string{"-dir", dir, "d", c.name}, &out)
		var ue *cli.UsageError
		if err == nil || errors.As(err, &ue) {
			t.Errorf("%s: %v, want an error that is not a usage error", c.name, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q lacks %q", c.name, err, w)
			}
		}
		if out.Len() != 0 {
			t.Errorf("%s: printed %q", c.name, out.String())
		}
		if _, err := os.Stat(filepath.Join(dir, "d.key_secret")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: d's key written: %v", c.name, err)
		}
	}

	// A bad gossip key is not kept either.
	gossip := filepath.Join(dir, "gossip.key")
	if err := os.Chmod(gossip, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-dir", dir, "e"}, new(strings.Builder)); err == nil || !strings.Contains(err.Error(), "gossip key") {
		t.Errorf("a world-readable gossip key: %v", err)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "no names: give one name per peer"},
		{[]string{"-dir", "k"}, "no names"},
		{[]string{"-dir", "", "a"}, "-dir: empty"},
		{[]string{"a", "-dir", "k"}, `name "-dir" looks like a flag: flags go before the names`},
		{[]string{"keys/a"}, `name "keys/a" is a path`},
		{[]string{`a\b`}, "is a path"},
		{[]string{".."}, `name ".."`},
		{[]string{".hidden"}, "must not start with a dot"},
		{[]string{"a b"}, "use letters, digits"},
		{[]string{"é"}, "use letters, digits"},
		{[]string{strings.Repeat("x", 65)}, "longer than 64 bytes"},
		{[]string{"a", "b", "a"}, `name "a" given twice`},
		{[]string{"-nope", "a"}, "flag provided but not defined: -nope"},
	} {
		err := run(c.args, nil)
		var ue *cli.UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%q: %v, want a usage error", c.args, err)
			continue
		}
		if !strings.Contains(ue.Usage, c.want) || !strings.Contains(ue.Usage, "Usage: go run ./examples/keygen") {
			t.Errorf("%q: usage lacks %q:\n%s", c.args, c.want, ue.Usage)
		}
	}
	var ue *cli.UsageError
	if err := run([]string{"-h"}, nil); !errors.Is(err, flag.ErrHelp) || !errors.As(err, &ue) ||
		!strings.Contains(ue.Usage, "-dir DIR") {
		t.Errorf("-h: %v", err)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"keys/a.key_secret": "keys/a.key_secret",
		"my keys/a":         "'my keys/a'",
		"it's":              `'it'\''s'`,
		"":                  "''",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
