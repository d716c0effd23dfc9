package security

import (
	"errors"
	"fmt"
)

// Config is a peer's security profile (peer.WithSecurity): one setting turns
// on both layers.
//
//   - Data connections use ZMTP CURVE with Keys: encrypted, authenticated
//     both ways, and admitted only when the remote key is in Allow.
//   - Discovery gossip is encrypted and authenticated with GossipKeys.
type Config struct {
	// Keys is the peer's long-term CURVE key pair (required). Its public
	// key is advertised through discovery; other peers list it in their
	// allowlists.
	Keys KeyPair
	// Allow lists the peer keys admitted, as clients of this peer and as
	// servers it dials. Nil admits no one (deny by default); AllowAny admits
	// every key, which peers report as insecure.
	Allow *Allowlist
	// GossipKeys encrypt and authenticate discovery gossip (AES-GCM, keys
	// of 16, 24 or 32 bytes; the first encrypts, all decrypt, for
	// rotation). Empty leaves gossip in the clear, which peers report as
	// insecure when they gossip.
	GossipKeys [][]byte
}

// ErrConfig is wrapped by the errors of Config.Check and Load.
var ErrConfig = errors.New("security: invalid configuration")

// Check reports whether c is usable: a consistent key pair and gossip keys
// of a valid size.
func (c *Config) Check() error {
	var zero KeyPair
	if c.Keys == zero {
		return fmt.Errorf("%w: no key pair", ErrConfig)
	}
	if err := c.Keys.Check(); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	for i, k := range c.GossipKeys {
		if err := checkGossipKey(k); err != nil {
			return fmt.Errorf("%w: gossip key %d: %w", ErrConfig, i, err)
		}
	}
	return nil
}

// Load builds a Config from files: the peer's secret key file (LoadKeyPair),
// the allowlist's key files and directories (LoadAllowlist; none: deny
// every peer), and gossip key files (LoadGossipKey; none: gossip in the
// clear).
func Load(keyFile string, allow []string, gossipKeyFiles ...string) (Config, error) {
	var c Config
	var err error
	if c.Keys, err = LoadKeyPair(keyFile); err != nil {
		return Config{}, err
	}
	if len(allow) > 0 {
		if c.Allow, err = LoadAllowlist(allow...); err != nil {
			return Config{}, err
		}
	}
	for _, f := range gossipKeyFiles {
		k, err := LoadGossipKey(f)
		if err != nil {
			return Config{}, err
		}
		c.GossipKeys = append(c.GossipKeys, k)
	}
	return c, c.Check()
}
