// Package z85 is the Z85 encoding of ZeroMQ RFC 32, in which CURVE keys are
// written in configuration: 5 printable characters for every 4 bytes.
package z85

import (
	"errors"
	"fmt"
)

// alphabet is the Z85 character set of RFC 32, in value order.
const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"

// decoder maps a character to its value plus one; zero marks a character
// outside the alphabet.
var decoder = func() (t [256]byte) {
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i + 1)
	}
	return t
}()

// ErrInvalid is wrapped by every Z85 encoding and decoding error.
var ErrInvalid = errors.New("z85: invalid input")

// Encode encodes src as Z85 (RFC 32). len(src) must be a multiple of 4.
func Encode(src []byte) (string, error) {
	if len(src)%4 != 0 {
		return "", fmt.Errorf("%w: input length %d is not a multiple of 4", ErrInvalid, len(src))
	}
	out := make([]byte, 0, len(src)/4*5)
	for i := 0; i < len(src); i += 4 {
		v := uint32(src[i])<<24 | uint32(src[i+1])<<16 | uint32(src[i+2])<<8 | uint32(src[i+3])
		var g [5]byte
		for j := 4; j >= 0; j-- {
			g[j] = alphabet[v%85]
			v /= 85
		}
		out = append(out, g[:]...)
	}
	return string(out), nil
}

// Decode decodes a Z85 string (RFC 32). len(s) must be a multiple of 5,
// every character must be in the Z85 alphabet and every 5-character group
// must encode a value below 2^32.
func Decode(s string) ([]byte, error) {
	if len(s)%5 != 0 {
		return nil, fmt.Errorf("%w: input length %d is not a multiple of 5", ErrInvalid, len(s))
	}
	out := make([]byte, 0, len(s)/5*4)
	for i := 0; i < len(s); i += 5 {
		var v uint64
		for j := i; j < i+5; j++ {
			d := decoder[s[j]]
			if d == 0 {
				return nil, fmt.Errorf("%w: character %q at offset %d is not in the Z85 alphabet", ErrInvalid, s[j], j)
			}
			v = v*85 + uint64(d-1)
		}
		if v > 0xFFFFFFFF {
			return nil, fmt.Errorf("%w: group at offset %d exceeds 32 bits", ErrInvalid, i)
		}
		out = append(out, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return out, nil
}
