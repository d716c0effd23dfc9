package curve

import (
	"io"

	"github.com/meshmq/meshmq/security"
)

// The key types are the public ones of package security, so that keys from
// configuration reach the mechanism without conversion.
type (
	PublicKey = security.PublicKey
	SecretKey = security.SecretKey
	KeyPair   = security.KeyPair
)

// KeySize is the size in bytes of a Curve25519 key.
const KeySize = security.KeySize

// ErrKey is wrapped by key parsing and derivation errors.
var ErrKey = security.ErrKey

func generateKeyPair(r io.Reader) (KeyPair, error) { return security.GenerateKeyPairFrom(r) }
