package security

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
)

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
	open := os.Open
	if secret {
		open = openSecret
	}
	f, err := open(path)
	if err != nil {
		if secret {
			return keyFile{}, err
		}
		return keyFile{}, fmt.Errorf("security: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return keyFile{}, fmt.Errorf("security: %w", err)
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

// openSecret opens a file holding a secret, which must not be accessible by
// group or others (on Unix).
func openSecret(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("security: %w", err)
	}
	if runtime.GOOS == "windows" {
		return f, nil
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("security: %w", err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		f.Close()
		return nil, fmt.Errorf("%w: secret file %s has mode %#o, readable or writable by group/others; run chmod 600 %s",
			ErrKey, path, perm, path)
	}
	return f, nil
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
		return fmt.Errorf("security: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("security: %w", cerr)
		}
		if err != nil {
			_ = os.Remove(path)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("security: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("security: %w", err)
	}
	return nil
}
