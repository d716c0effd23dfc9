package security

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Allowlist is the set of peer public keys a peer admits. It is safe for
// concurrent use and may change while peers run: a peer using it closes its
// connections to keys revoked from it. A nil *Allowlist admits no key.
type Allowlist struct {
	mu       sync.RWMutex
	keys     map[PublicKey]struct{}
	open     bool
	watchers map[int]func()
	nextW    int
}

// NewAllowlist returns an allowlist of keys.
func NewAllowlist(keys ...PublicKey) *Allowlist {
	a := &Allowlist{keys: make(map[PublicKey]struct{}, len(keys))}
	for _, k := range keys {
		a.keys[k] = struct{}{}
	}
	return a
}

// AllowAny returns an open allowlist: every peer that completes the CURVE
// handshake is admitted, whatever its key. Connections are still encrypted
// and each peer's name is still bound to its key, but anyone may connect.
// Peers report an open allowlist as insecure (Stats).
func AllowAny() *Allowlist {
	a := NewAllowlist()
	a.open = true
	return a
}

// LoadAllowlist reads public keys from key files (see LoadPublicKey) and
// from directories of them, where every regular file whose name ends in
// ".key" is read (secret key files, "*.key_secret", are not).
func LoadAllowlist(paths ...string) (*Allowlist, error) {
	var keys []PublicKey
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("security: allowlist: %w", err)
		}
		files := []string{p}
		if st.IsDir() {
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, fmt.Errorf("security: allowlist: %w", err)
			}
			files = files[:0]
			for _, e := range entries {
				if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".key") {
					files = append(files, filepath.Join(p, e.Name()))
				}
			}
			if len(files) == 0 {
				return nil, fmt.Errorf("security: allowlist: no *.key files in %s", p)
			}
		}
		for _, f := range files {
			k, err := LoadPublicKey(f)
			if err != nil {
				return nil, fmt.Errorf("security: allowlist: %w", err)
			}
			keys = append(keys, k)
		}
	}
	return NewAllowlist(keys...), nil
}

// Allowed reports whether k is admitted.
func (a *Allowlist) Allowed(k PublicKey) bool {
	if a == nil {
		return false
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.open {
		return true
	}
	_, ok := a.keys[k]
	return ok
}

// Open reports whether the allowlist admits every key (AllowAny).
func (a *Allowlist) Open() bool {
	if a == nil {
		return false
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.open
}

// Keys returns the listed keys, sorted.
func (a *Allowlist) Keys() []PublicKey {
	if a == nil {
		return nil
	}
	a.mu.RLock()
	out := make([]PublicKey, 0, len(a.keys))
	for k := range a.keys {
		out = append(out, k)
	}
	a.mu.RUnlock()
	slices.SortFunc(out, func(x, y PublicKey) int { return strings.Compare(string(x[:]), string(y[:])) })
	return out
}

// Allow adds keys.
func (a *Allowlist) Allow(keys ...PublicKey) {
	a.change(func() {
		for _, k := range keys {
			a.keys[k] = struct{}{}
		}
	})
}

// Revoke removes keys. Peers using the allowlist close their connections
// to peers holding them.
func (a *Allowlist) Revoke(keys ...PublicKey) {
	a.change(func() {
		for _, k := range keys {
			delete(a.keys, k)
		}
	})
}

// Set replaces the listed keys with keys (and closes an open allowlist).
func (a *Allowlist) Set(keys ...PublicKey) {
	a.change(func() {
		clear(a.keys)
		for _, k := range keys {
			a.keys[k] = struct{}{}
		}
		a.open = false
	})
}

func (a *Allowlist) change(fn func()) {
	a.mu.Lock()
	fn()
	watchers := make([]func(), 0, len(a.watchers))
	for _, w := range a.watchers {
		watchers = append(watchers, w)
	}
	a.mu.Unlock()
	for _, w := range watchers {
		w()
	}
}

// Watch calls fn after every change, from the goroutine that made it, until
// the returned stop is called. Peers use it to drop revoked connections; fn
// must not block.
func (a *Allowlist) Watch(fn func()) (stop func()) {
	if a == nil {
		return func() {}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.watchers == nil {
		a.watchers = make(map[int]func())
	}
	id := a.nextW
	a.nextW++
	a.watchers[id] = fn
	return func() {
		a.mu.Lock()
		delete(a.watchers, id)
		a.mu.Unlock()
	}
}
