// Command keygen writes the key material of a secured meshmq cluster: a
// CURVE key pair per peer, the directory of public keys every peer loads as
// its allowlist, and the gossip key they share. It then prints the commands
// that start the cluster with examples/cluster.
//
//	go run ./examples/keygen -dir keys a b c
//
// writes, for each name,
//
//	keys/a.key_secret   a's secret key file (mode 0600): for a's host only
//	keys/allowed/a.key  a's public key file: every peer's -allow directory
//
// and keys/gossip.key (mode 0600), the gossip key every peer needs. The
// files are zcert-style (ZeroMQ CURVE certificates), so libzmq tools read
// them and the other way round; see package security.
//
// keygen never overwrites a key. Run again with more names, it keeps the
// keys it finds, writes the new ones, and keeps the gossip key: that is how
// a peer is added (the running peers read -allow when they start, so
// restart them to admit it). To replace a peer's key, delete its two files
// first.
package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/meshmq/meshmq/examples/internal/cli"
	"github.com/meshmq/meshmq/security"
)

func main() { cli.Exit("keygen", run(os.Args[1:], os.Stdout)) }

const usageHead = `Usage: go run ./examples/keygen [-dir DIR] NAME...

Writes the keys of a secured cluster, one key pair per peer NAME:

  DIR/NAME.key_secret   the peer's secret key (mode 0600), for its host only
  DIR/allowed/NAME.key  its public key; every peer loads DIR/allowed as -allow
  DIR/gossip.key        the gossip key (mode 0600) every peer needs

and prints the examples/cluster commands that start the cluster:

  go run ./examples/keygen -dir keys a b c

Existing keys are kept, never overwritten: run again with a new name to add
a peer. Flags go before the names.

Flags:
`

// Names of the files, under -dir.
const (
	secretSuffix = ".key_secret"
	publicSuffix = ".key" // what security.LoadAllowlist reads in a directory
	allowedDir   = "allowed"
	gossipFile   = "gossip.key"
)

const maxNameLen = 64

// checkName accepts a name that is one plain file name, the same on every
// system: it becomes the peer's key file names (and is meant to be its
// -name).
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("an empty name")
	case strings.HasPrefix(name, "-"):
		return fmt.Errorf("name %q looks like a flag: flags go before the names", name)
	case strings.ContainsAny(name, `/\`) || strings.ContainsRune(name, filepath.Separator):
		return fmt.Errorf("name %q is a path: give a plain name; the files go under -dir", name)
	case name == "." || name == "..":
		return fmt.Errorf("name %q: give a plain name", name)
	case len(name) > maxNameLen:
		return fmt.Errorf("name %q: longer than %d bytes", name, maxNameLen)
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("name %q: a name must not start with a dot (hidden file)", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("name %q: use letters, digits, '-', '_' and '.' only", name)
		}
	}
	return nil
}

// options are the parsed and checked command line.
type options struct {
	dir   string
	names []string
}

func parseArgs(args []string) (*options, error) {
	fs := cli.NewFlagSet("keygen", usageHead)
	o := &options{}
	fs.StringVar(&o.dir, "dir", "keys", "directory `DIR` to write the keys to; created if missing")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.dir == "" {
		return nil, fs.Fail("-dir: empty; give a directory, such as keys")
	}
	o.names = fs.Args()
	if len(o.names) == 0 {
		return nil, fs.Fail("no names: give one name per peer, such as: go run ./examples/keygen -dir %s a b c", o.dir)
	}
	for i, name := range o.names {
		if err := checkName(name); err != nil {
			return nil, fs.Fail("%v", err)
		}
		if slices.Contains(o.names[:i], name) {
			return nil, fs.Fail("name %q given twice", name)
		}
	}
	return o, nil
}

// What happens to a file.
const (
	write = "wrote"
	keep  = "kept "
)

// peerKeys is the plan for one name: what to do with its two files.
type peerKeys struct {
	name           string
	secret, public string // paths
	secretAction   string
	publicAction   string
	keys           security.KeyPair // loaded, or to be generated (zero)
}

// run is the command: it writes the keys args ask for and prints what it
// did, then the commands that start the cluster, to out.
//
// On existing files it keeps, and checks, rather than fails: a rerun that
// adds a peer is the usual reason for them, and a key already handed out
// must not change. A peer key is never overwritten either way (the files
// are created exclusively). What cannot be kept consistently is an error,
// found before anything is written: a public key file without its secret
// (the secret is elsewhere or lost; replacing the public key would lock
// that peer out), or one that does not match its secret.
func run(args []string, out io.Writer) error {
	o, err := parseArgs(args)
	if err != nil {
		return err
	}
	allowed := filepath.Join(o.dir, allowedDir)
	gossip := filepath.Join(o.dir, gossipFile)

	// Plan, reading what exists, before writing anything.
	plan := make([]*peerKeys, 0, len(o.names))
	for _, name := range o.names {
		pk, err := planPeer(name, filepath.Join(o.dir, name+secretSuffix), filepath.Join(allowed, name+publicSuffix))
		if err != nil {
			return err
		}
		plan = append(plan, pk)
	}
	gossipAction := write
	if _, err := os.Lstat(gossip); err == nil {
		// Kept, but checked: every peer would fail to load a bad one.
		if _, err := security.LoadGossipKey(gossip); err != nil {
			return fmt.Errorf("the existing gossip key: %w", err)
		}
		gossipAction = keep
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}

	// The directory holds secret keys: others may not list it. allowed
	// holds public keys only.
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return err
	}
	if err := os.MkdirAll(allowed, 0o755); err != nil {
		return err
	}
	for _, pk := range plan {
		if pk.secretAction == write {
			if pk.keys, err = security.GenerateKeyPair(); err != nil {
				return err
			}
			if err := security.WriteKeyPair(pk.secret, pk.keys); err != nil {
				return err
			}
		}
		if pk.publicAction == write {
			if err := security.WritePublicKey(pk.public, pk.keys.Public); err != nil {
				return err
			}
		}
		pk.keys.Zero()
	}
	if gossipAction == write {
		k, err := security.GenerateGossipKey()
		if err != nil {
			return err
		}
		err = security.WriteGossipKey(gossip, k)
		clear(k)
		if err != nil {
			return err
		}
	}

	width := len(gossip)
	for _, pk := range plan {
		width = max(width, len(pk.secret), len(pk.public))
	}
	line := func(action, path, what string) {
		fmt.Fprintf(out, "%s %-*s  %s\n", action, width, path, what)
	}
	for _, pk := range plan {
		line(pk.secretAction, pk.secret, fmt.Sprintf("%s's secret key (mode 0600): copy it to %s's host only", pk.name, pk.name))
		line(pk.publicAction, pk.public, fmt.Sprintf("%s's public key: in every peer's allowlist", pk.name))
	}
	line(gossipAction, gossip, "the gossip key (mode 0600): every peer needs it")
	if slices.ContainsFunc(plan, func(pk *peerKeys) bool { return pk.secretAction == keep }) || gossipAction == keep {
		fmt.Fprintln(out, "(kept files existed: keygen never overwrites a key; delete a peer's two files to replace its key)")
	}

	fmt.Fprintf(out, "\nStart the secured cluster, one terminal per peer:\n\n")
	for _, c := range clusterCommands(o.dir, o.names) {
		fmt.Fprintf(out, "  %s\n", c)
	}
	fmt.Fprintf(out, "\nEvery peer admits the public keys in %s, and no others; it reads them when it starts.\n", allowed)
	return nil
}

// planPeer decides what to do with a name's secret and public key files.
func planPeer(name, secret, public string) (*peerKeys, error) {
	pk := &peerKeys{name: name, secret: secret, public: public, secretAction: write, publicAction: write}
	haveSecret, err := exists(secret)
	if err != nil {
		return nil, err
	}
	havePublic, err := exists(public)
	if err != nil {
		return nil, err
	}
	if havePublic && !haveSecret {
		return nil, fmt.Errorf("%s exists but %s does not: %s's secret key is elsewhere, or lost; "+
			"keygen will not replace a public key others may trust. Leave %s out, or delete %s to make %s a new key",
			public, secret, name, name, public, name)
	}
	if !haveSecret {
		return pk, nil
	}
	pk.secretAction = keep
	if pk.keys, err = security.LoadKeyPair(secret); err != nil {
		return nil, fmt.Errorf("the existing key of %s: %w", name, err)
	}
	if !havePublic {
		return pk, nil // written again from the secret
	}
	pub, err := security.LoadPublicKey(public)
	if err != nil {
		pk.keys.Zero()
		return nil, fmt.Errorf("the existing public key of %s: %w", name, err)
	}
	if pub != pk.keys.Public {
		pk.keys.Zero()
		return nil, fmt.Errorf("%s does not hold the public key of %s: one of them was replaced; "+
			"delete the wrong one (or both, to make %s a new key)", public, secret, name)
	}
	pk.publicAction = keep
	return pk, nil
}

func exists(path string) (bool, error) {
	_, err := os.Lstat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, err
}

// clusterCommands are the examples/cluster commands for names, keyed from
// dir: each peer on its own ports of 127.0.0.1, the first starting the
// cluster and the others joining it; all but the last serve orders, and the
// last sends to them (a single peer only serves).
func clusterCommands(dir string, names []string) []string {
	keyFlags := func(name string) string {
		return fmt.Sprintf("-curve-key %s -allow %s -gossip-key %s",
			shellQuote(filepath.Join(dir, name+secretSuffix)), shellQuote(filepath.Join(dir, allowedDir)),
			shellQuote(filepath.Join(dir, gossipFile)))
	}
	const firstData, firstGossip = 7001, 7946
	var out []string
	for i, name := range names {
		c := fmt.Sprintf("go run ./examples/cluster -name %s -listen tcp://127.0.0.1:%d -gossip 127.0.0.1:%d",
			name, firstData+i, firstGossip+i)
		if i > 0 {
			c += fmt.Sprintf(" -join 127.0.0.1:%d", firstGossip)
		}
		if i < len(names)-1 || len(names) == 1 {
			c += " -serve orders"
		} else {
			c += " -send orders -rate 20"
		}
		out = append(out, c+" "+keyFlags(name))
	}
	return out
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	safe := s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=+,@%", r))
	}) < 0
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
