package security

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
)

// GenerateGossipKey returns a new 32-byte gossip key.
func GenerateGossipKey() ([]byte, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("security: generating gossip key: %w", err)
	}
	return k, nil
}

// ParseGossipKey decodes a gossip key written in standard base64.
func ParseGossipKey(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: gossip key is not base64: %v", ErrKey, err)
	}
	if err := checkGossipKey(k); err != nil {
		return nil, err
	}
	return k, nil
}

func checkGossipKey(k []byte) error {
	switch len(k) {
	case 16, 24, 32:
		return nil
	}
	return fmt.Errorf("%w: gossip key of %d bytes, want 16, 24 or 32", ErrKey, len(k))
}

// LoadGossipKey reads a gossip key file: one line of base64, which like a
// secret key file must not be readable by group or others.
func LoadGossipKey(path string) ([]byte, error) {
	f, err := openSecret(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return nil, fmt.Errorf("security: %w", err)
	}
	defer clear(data)
	k, err := ParseGossipKey(string(bytes.TrimSpace(data)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// WriteGossipKey writes key as a gossip key file with mode 0600, refusing
// to overwrite an existing file.
func WriteGossipKey(path string, key []byte) error {
	if err := checkGossipKey(key); err != nil {
		return err
	}
	return writeNew(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600)
}
