package security

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/curve25519"

	"github.com/meshmq/meshmq/internal/z85"
)

// KeySize is the size in bytes of a Curve25519 key.
const KeySize = 32

// z85KeyLen is the length of a key in Z85 text.
const z85KeyLen = 40

// maxKeyFileSize bounds what LoadKeyPair and LoadPublicKey read.
const maxKeyFileSize = 64 << 10

// PublicKey is a Curve25519 public key.
type PublicKey [KeySize]byte

// SecretKey is a Curve25519 secret key. Its String method redacts it; use
// Z85 to obtain the encoded form deliberately.
type SecretKey [KeySize]byte

// KeyPair is a long-term (or transient) Curve25519 key pair.
type KeyPair struct {
	Public PublicKey
	Secret SecretKey
}

// ErrKey is wrapped by key parsing, derivation and key-file errors.
var ErrKey = errors.New("security: invalid key")

// GenerateKeyPair returns a new key pair from crypto/rand.
func GenerateKeyPair() (KeyPair, error) { return GenerateKeyPairFrom(rand.Reader) }

// GenerateKeyPairFrom returns a key pair whose secret key is the next 32
// bytes of r (deterministic keys for tests; production uses GenerateKeyPair).
func GenerateKeyPairFrom(r io.Reader) (KeyPair, error) {
	var kp KeyPair
	if _, err := io.ReadFull(r, kp.Secret[:]); err != nil {
		return KeyPair{}, fmt.Errorf("security: generating key: %w", err)
	}
	pub, err := kp.Secret.PublicKey()
	if err != nil {
		kp.Secret.Zero()
		return KeyPair{}, err
	}
	kp.Public = pub
	return kp, nil
}

// PublicKey derives the public key of s.
func (s *SecretKey) PublicKey() (PublicKey, error) {
	var p PublicKey
	out, err := curve25519.X25519(s[:], curve25519.Basepoint)
	if err != nil {
		return p, fmt.Errorf("%w: deriving public key: %v", ErrKey, err)
	}
	copy(p[:], out)
	return p, nil
}

// Zero overwrites the secret key with zeros (best effort: Go may have copied it).
func (s *SecretKey) Zero() { clear(s[:]) }

// Zero overwrites the secret half of the pair.
func (kp *KeyPair) Zero() { kp.Secret.Zero() }

// Check reports whether the public half matches the secret half.
func (kp *KeyPair) Check() error {
	pub, err := kp.Secret.PublicKey()
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(pub[:], kp.Public[:]) != 1 {
		return fmt.Errorf("%w: public key does not match secret key", ErrKey)
	}
	return nil
}

// String returns the Z85 encoding of p (40 characters).
func (p PublicKey) String() string {
	s, _ := z85.Encode(p[:]) // 32 is a multiple of 4: cannot fail
	return s
}

// IsZero reports whether p is the zero key: no key.
func (p PublicKey) IsZero() bool { return p == PublicKey{} }

// MarshalText implements encoding.TextMarshaler (Z85).
func (p PublicKey) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (Z85).
func (p *PublicKey) UnmarshalText(b []byte) error {
	k, err := ParsePublicKey(string(b))
	if err != nil {
		return err
	}
	*p = k
	return nil
}

// String redacts the key, so that logging a KeyPair does not leak it.
func (s SecretKey) String() string { return "security.SecretKey(redacted)" }

// GoString redacts the key for %#v.
func (s SecretKey) GoString() string { return s.String() }

// Z85 returns the Z85 encoding of the secret key.
func (s SecretKey) Z85() string {
	z, _ := z85.Encode(s[:])
	return z
}

func parseKey(z string) ([KeySize]byte, error) {
	var k [KeySize]byte
	if len(z) != z85KeyLen {
		return k, fmt.Errorf("%w: Z85 key must be %d characters, got %d", ErrKey, z85KeyLen, len(z))
	}
	b, err := z85.Decode(z)
	if err != nil {
		return k, fmt.Errorf("%w: %w", ErrKey, err)
	}
	copy(k[:], b)
	clear(b)
	return k, nil
}

// ParsePublicKey parses a 40-character Z85 public key.
func ParsePublicKey(z string) (PublicKey, error) {
	k, err := parseKey(z)
	return PublicKey(k), err
}

// ParseSecretKey parses a 40-character Z85 secret key.
func ParseSecretKey(z string) (SecretKey, error) {
	k, err := parseKey(z)
	return SecretKey(k), err
}
