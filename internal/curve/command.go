package curve

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// ZMTP command names used by CURVE (RFC 25).
const (
	CmdHello    = "HELLO"
	CmdWelcome  = "WELCOME"
	CmdInitiate = "INITIATE"
	CmdReady    = "READY"
	CmdMessage  = "MESSAGE"
	CmdError    = "ERROR"
)

// Limits applied by the decoders.
const (
	// MaxMetadataSize bounds the metadata carried in INITIATE and READY.
	MaxMetadataSize = 16 << 10
	// MaxProperties bounds the number of metadata properties.
	MaxProperties = 64
	// MaxHandshakeCommand bounds a handshake command's body (name length
	// byte, name and data); callers reading handshake frames should refuse
	// anything larger before buffering it.
	MaxHandshakeCommand = 1 + len(CmdInitiate) + initiateMinData + MaxMetadataSize
)

// ErrMalformed is wrapped by errors about inputs that do not parse.
var ErrMalformed = errors.New("curve: malformed input")

// AppendCommand appends a ZMTP command body (name length byte, name, data)
// to dst. The name must be 1 to 255 bytes.
func AppendCommand(dst []byte, name string, data []byte) ([]byte, error) {
	if len(name) == 0 || len(name) > 255 {
		return dst, fmt.Errorf("%w: command name length %d out of range 1..255", ErrMalformed, len(name))
	}
	dst = append(dst, byte(len(name)))
	dst = append(dst, name...)
	return append(dst, data...), nil
}

// ParseCommand splits a ZMTP command body into its name and data. The data
// aliases body.
func ParseCommand(body []byte) (name string, data []byte, err error) {
	if len(body) < 1 {
		return "", nil, fmt.Errorf("%w: empty command", ErrMalformed)
	}
	n := int(body[0])
	if n == 0 || len(body) < 1+n {
		return "", nil, fmt.Errorf("%w: command name length %d with %d bytes", ErrMalformed, n, len(body)-1)
	}
	return string(body[1 : 1+n]), body[1+n:], nil
}

// ErrorData builds the data of an ERROR command (RFC 25): a length byte and
// the reason. Reasons longer than 255 bytes are truncated.
func ErrorData(reason string) []byte {
	if len(reason) > 255 {
		reason = reason[:255]
	}
	out := make([]byte, 0, 1+len(reason))
	out = append(out, byte(len(reason)))
	return append(out, reason...)
}

// ParseError parses the data of an ERROR command and returns its reason.
func ParseError(data []byte) (string, error) {
	if len(data) < 1 || len(data) != 1+int(data[0]) {
		return "", fmt.Errorf("%w: ERROR data of %d bytes", ErrMalformed, len(data))
	}
	return string(data[1:]), nil
}

// Property is one ZMTP metadata property.
type Property struct {
	Name  string
	Value []byte
}

// Metadata is an ordered list of ZMTP metadata properties (Socket-Type,
// Identity, X-...). Names compare case-insensitively.
type Metadata []Property

// Get returns the value of the named property (case-insensitive).
func (m Metadata) Get(name string) ([]byte, bool) {
	for _, p := range m {
		if strings.EqualFold(p.Name, name) {
			return p.Value, true
		}
	}
	return nil, false
}

func validName(name string) bool {
	if len(name) == 0 || len(name) > 255 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '-', c == '_', c == '.', c == '+':
		default:
			return false
		}
	}
	return true
}

// AppendMetadata appends the ZMTP encoding of m (per property: name length
// byte, name, 4-byte big-endian value length, value) to dst. It enforces the
// same limits as ParseMetadata.
func AppendMetadata(dst []byte, m Metadata) ([]byte, error) {
	if len(m) > MaxProperties {
		return dst, fmt.Errorf("%w: %d metadata properties, limit %d", ErrMalformed, len(m), MaxProperties)
	}
	size := 0
	for i, p := range m {
		if !validName(p.Name) {
			return dst, fmt.Errorf("%w: invalid metadata property name %q", ErrMalformed, p.Name)
		}
		for _, q := range m[:i] {
			if strings.EqualFold(p.Name, q.Name) {
				return dst, fmt.Errorf("%w: duplicate metadata property %q", ErrMalformed, p.Name)
			}
		}
		size += 1 + len(p.Name) + 4 + len(p.Value)
		if size > MaxMetadataSize {
			return dst, fmt.Errorf("%w: metadata larger than %d bytes", ErrMalformed, MaxMetadataSize)
		}
	}
	for _, p := range m {
		dst = append(dst, byte(len(p.Name)))
		dst = append(dst, p.Name...)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(p.Value)))
		dst = append(dst, p.Value...)
	}
	return dst, nil
}

// ParseMetadata decodes ZMTP metadata. It rejects inputs larger than
// MaxMetadataSize, more than MaxProperties properties, invalid or duplicate
// names and truncated values. Values are copied.
func ParseMetadata(b []byte) (Metadata, error) {
	if len(b) > MaxMetadataSize {
		return nil, fmt.Errorf("%w: metadata of %d bytes, limit %d", ErrMalformed, len(b), MaxMetadataSize)
	}
	var m Metadata
	for len(b) > 0 {
		if len(m) == MaxProperties {
			return nil, fmt.Errorf("%w: more than %d metadata properties", ErrMalformed, MaxProperties)
		}
		n := int(b[0])
		if n == 0 || len(b) < 1+n+4 {
			return nil, fmt.Errorf("%w: truncated metadata property", ErrMalformed)
		}
		name := string(b[1 : 1+n])
		if !validName(name) {
			return nil, fmt.Errorf("%w: invalid metadata property name %q", ErrMalformed, name)
		}
		if _, dup := m.Get(name); dup {
			return nil, fmt.Errorf("%w: duplicate metadata property %q", ErrMalformed, name)
		}
		vl := binary.BigEndian.Uint32(b[1+n:])
		b = b[1+n+4:]
		if uint64(vl) > uint64(len(b)) {
			return nil, fmt.Errorf("%w: metadata property %q value length %d exceeds remaining %d bytes", ErrMalformed, name, vl, len(b))
		}
		v := make([]byte, vl)
		copy(v, b)
		b = b[vl:]
		m = append(m, Property{Name: name, Value: v})
	}
	return m, nil
}
