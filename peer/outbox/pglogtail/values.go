package pglogtail

import (
	"errors"
	"fmt"
	"strconv"
)

// Values arrive in PostgreSQL's text output format, from pgoutput and from
// the sweep's queries alike; these decode the few types the table uses.

// decodeBytea decodes bytea's text output. The tail sets bytea_output=hex
// on its sessions, so hex ("\x00ff") is what arrives; the escape format is
// accepted too, in case a server or pooler overrides the setting.
func decodeBytea(s []byte) ([]byte, error) {
	if len(s) >= 2 && s[0] == '\\' && s[1] == 'x' {
		return decodeHex(s[2:])
	}
	return decodeEscape(s)
}

func decodeHex(s []byte) ([]byte, error) {
	if len(s)%2 != 0 {
		return nil, errors.New("bytea: odd number of hex digits")
	}
	out := make([]byte, len(s)/2)
	for i := range out {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("bytea: bad hex digit at %d", 2*i+2)
		}
		out[i] = hi<<4 | lo
	}
	return out, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// decodeEscape decodes the escape format: "\\" is a backslash, "\ooo" an
// octal byte, anything else itself.
func decodeEscape(s []byte) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			out = append(out, s[i])
			i++
			continue
		}
		switch {
		case i+1 < len(s) && s[i+1] == '\\':
			out = append(out, '\\')
			i += 2
		case i+3 < len(s) && isOctal(s[i+1], '3') && isOctal(s[i+2], '7') && isOctal(s[i+3], '7'):
			out = append(out, (s[i+1]-'0')<<6|(s[i+2]-'0')<<3|(s[i+3]-'0'))
			i += 4
		default:
			return nil, fmt.Errorf("bytea: bad escape at %d", i)
		}
	}
	return out, nil
}

func isOctal(c, max byte) bool { return '0' <= c && c <= max }

// decodeInt decodes a base-10 integer of the given bit size.
func decodeInt(s []byte, bits int) (int64, error) {
	n, err := strconv.ParseInt(string(s), 10, bits)
	if err != nil {
		return 0, fmt.Errorf("int%d: %q: %w", bits, truncate(s), errors.Unwrap(err))
	}
	return n, nil
}

// truncate keeps error messages short whatever the server sent.
func truncate(s []byte) string {
	const max = 32
	if len(s) > max {
		return string(s[:max]) + "..."
	}
	return string(s)
}
