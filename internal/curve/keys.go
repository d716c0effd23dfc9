package curve

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"golang.org/x/crypto/curve25519"
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
var ErrKey = errors.New("curve: invalid key")

// GenerateKeyPair returns a new key pair from crypto/rand.
func GenerateKeyPair() (KeyPair, error) { return generateKeyPair(rand.Reader) }

func generateKeyPair(r io.Reader) (KeyPair, error) {
	var kp KeyPair
	if _, err := io.ReadFull(r, kp.Secret[:]); err != nil {
		return KeyPair{}, fmt.Errorf("curve: generating key: %w", err)
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
	s, _ := Z85Encode(p[:]) // 32 is a multiple of 4: cannot fail
	return s
}

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
func (s SecretKey) String() string { return "curve.SecretKey(redacted)" }

// GoString redacts the key for %#v.
func (s SecretKey) GoString() string { return s.String() }

// Z85 returns the Z85 encoding of the secret key.
func (s SecretKey) Z85() string {
	z, _ := Z85Encode(s[:])
	return z
}

func parseKey(z string) ([KeySize]byte, error) {
	var k [KeySize]byte
	if len(z) != z85KeyLen {
		return k, fmt.Errorf("%w: Z85 key must be %d characters, got %d", ErrKey, z85KeyLen, len(z))
	}
	b, err := Z85Decode(z)
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

// Key files follow the spirit of libzmq's zcert (ZPL) files: lines of the form
//
//	public-key = "<40 Z85 characters>"
//	secret-key = "<40 Z85 characters>"
//
// possibly indented and under "metadata"/"curve" section lines, with comment
// lines starting with '#'. Other lines are ignored.

type keyFile struct {
	public, secret       string
	hasPublic, hasSecret bool
}

func parseKeyFile(data []byte) (keyFile, error) {
	var kf keyFile
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxKeyFileSize)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || t[0] == '#' {
			continue
		}
		name, val, ok := strings.Cut(t, "=")
		if !ok {
			continue // section names such as "metadata" and "curve"
		}
		name = strings.TrimSpace(name)
		if name != "public-key" && name != "secret-key" {
			continue
		}
		val = strings.TrimSpace(val)
		if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
			return kf, fmt.Errorf("%w: line %d: %s value must be a double-quoted string", ErrKey, line, name)
		}
		val = val[1 : len(val)-1]
		if name == "public-key" {
			if kf.hasPublic {
				return kf, fmt.Errorf("%w: line %d: duplicate public-key", ErrKey, line)
			}
			kf.public, kf.hasPublic = val, true
		} else {
			if kf.hasSecret {
				return kf, fmt.Errorf("%w: line %d: duplicate secret-key", ErrKey, line)
			}
			kf.secret, kf.hasSecret = val, true
		}
	}
	if err := sc.Err(); err != nil {
		return kf, fmt.Errorf("%w: %v", ErrKey, err)
	}
	return kf, nil
}

func readKeyFile(path string, secret bool) (keyFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return keyFile{}, fmt.Errorf("curve: %w", err)
	}
	defer f.Close()
	if secret && runtime.GOOS != "windows" {
		st, err := f.Stat()
		if err != nil {
			return keyFile{}, fmt.Errorf("curve: %w", err)
		}
		if perm := st.Mode().Perm(); perm&0o077 != 0 {
			return keyFile{}, fmt.Errorf("%w: secret key file %s has mode %#o, readable or writable by group/others; run chmod 600 %s",
				ErrKey, path, perm, path)
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return keyFile{}, fmt.Errorf("curve: %w", err)
	}
	defer clear(data)
	if len(data) > maxKeyFileSize {
		return keyFile{}, fmt.Errorf("%w: key file %s is larger than %d bytes", ErrKey, path, maxKeyFileSize)
	}
	kf, err := parseKeyFile(data)
	if err != nil {
		return kf, fmt.Errorf("%s: %w", path, err)
	}
	return kf, nil
}

// LoadKeyPair loads a secret key file. The file must not be accessible by
// group or others (on Unix), must contain a secret-key line, and if it has a
// public-key line, that key must match the one derived from the secret key.
func LoadKeyPair(path string) (KeyPair, error) {
	kf, err := readKeyFile(path, true)
	if err != nil {
		return KeyPair{}, err
	}
	if !kf.hasSecret {
		return KeyPair{}, fmt.Errorf("%w: %s has no secret-key line", ErrKey, path)
	}
	var kp KeyPair
	kp.Secret, err = ParseSecretKey(kf.secret)
	if err != nil {
		return KeyPair{}, fmt.Errorf("%s: secret-key: %w", path, err)
	}
	kp.Public, err = kp.Secret.PublicKey()
	if err != nil {
		kp.Zero()
		return KeyPair{}, fmt.Errorf("%s: %w", path, err)
	}
	if kf.hasPublic {
		pub, err := ParsePublicKey(kf.public)
		if err != nil {
			kp.Zero()
			return KeyPair{}, fmt.Errorf("%s: public-key: %w", path, err)
		}
		if pub != kp.Public {
			kp.Zero()
			return KeyPair{}, fmt.Errorf("%w: %s: public-key does not match the secret-key", ErrKey, path)
		}
	}
	return kp, nil
}

// LoadPublicKey loads the public-key line of a key file (public or secret).
func LoadPublicKey(path string) (PublicKey, error) {
	kf, err := readKeyFile(path, false)
	if err != nil {
		return PublicKey{}, err
	}
	if !kf.hasPublic {
		return PublicKey{}, fmt.Errorf("%w: %s has no public-key line", ErrKey, path)
	}
	pub, err := ParsePublicKey(kf.public)
	if err != nil {
		return PublicKey{}, fmt.Errorf("%s: public-key: %w", path, err)
	}
	return pub, nil
}

// WriteKeyPair writes kp as a secret key file with mode 0600. It refuses to
// overwrite an existing file and checks that kp is consistent.
func WriteKeyPair(path string, kp KeyPair) error {
	if err := kp.Check(); err != nil {
		return err
	}
	body := fmt.Sprintf("#   ZeroMQ CURVE **Secret** Certificate (meshmq)\n"+
		"#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n\n"+
		"metadata\ncurve\n    public-key = %q\n    secret-key = %q\n", kp.Public.String(), kp.Secret.Z85())
	return writeNew(path, []byte(body), 0o600)
}

// WritePublicKey writes a public key file (mode 0644), refusing to overwrite.
func WritePublicKey(path string, pub PublicKey) error {
	body := fmt.Sprintf("#   ZeroMQ CURVE Public Certificate (meshmq)\n"+
		"#   Exchange securely, or use a secure mechanism to verify the contents\n#   of this file after exchange.\n\n"+
		"metadata\ncurve\n    public-key = %q\n", pub.String())
	return writeNew(path, []byte(body), 0o644)
}

func writeNew(path string, data []byte, perm os.FileMode) (err error) {
	defer clear(data)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("curve: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("curve: %w", cerr)
		}
		if err != nil {
			_ = os.Remove(path)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("curve: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("curve: %w", err)
	}
	return nil
}
