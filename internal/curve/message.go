package curve

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// MESSAGE flags (the first byte of the encrypted payload).
const (
	FlagMore    byte = 1 << 0 // more frames of this message follow
	FlagCommand byte = 1 << 1 // the payload is a ZMTP command (e.g. PING)
)

var (
	// ErrNonceExhausted is returned by Seal after 2^64-1 messages.
	ErrNonceExhausted = errors.New("curve: send nonce space exhausted")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("curve: session closed")
)

// Session encrypts and decrypts MESSAGE command data after a completed
// handshake. The send counter continues from the handshake (client: 3 after
// HELLO=1 and INITIATE=2; server: 2 after READY=1) and the receive floor is
// the peer's last handshake nonce.
//
// Seal and Open each keep their own direction's state: one goroutine may
// Seal while another Opens, but Seal calls must be serialized with each other
// and with writing their output (frames must leave in nonce order), and Open
// calls with each other.
type Session struct {
	key        [32]byte
	sendPrefix string
	recvPrefix string
	sendNonce  uint64 // next nonce to use; 0 once exhausted
	recvNonce  uint64 // last accepted nonce
	closed     bool
}

func newSession(key *[32]byte, sendPrefix, recvPrefix string, sendNext, recvLast uint64) *Session {
	s := &Session{sendPrefix: sendPrefix, recvPrefix: recvPrefix, sendNonce: sendNext, recvNonce: recvLast}
	s.key = *key
	return s
}

// Seal returns the MESSAGE data (8-byte nonce + Box[flags + data]) for one
// frame. The caller prefixes the command name ("\x07MESSAGE").
func (s *Session) Seal(flags byte, data []byte) ([]byte, error) {
	return s.AppendSeal(make([]byte, 0, messageMinData+len(data)), flags, data)
}

// AppendSeal is Seal appending to dst, so that a caller can build the frame
// header and command name in the same buffer.
func (s *Session) AppendSeal(dst []byte, flags byte, data []byte) ([]byte, error) {
	if s.closed {
		return dst, ErrClosed
	}
	if s.sendNonce == 0 {
		return dst, ErrNonceExhausted
	}
	n := s.sendNonce
	s.sendNonce++ // wraps to 0 after the last usable nonce
	nonce := shortNonce(s.sendPrefix, n)
	dst = binary.BigEndian.AppendUint64(dst, n)
	// The box is built in dst: room for the tag, the plaintext, then sealed
	// in place.
	start := len(dst)
	dst = append(dst, make([]byte, overhead)...)
	dst = append(dst, flags)
	dst = append(dst, data...)
	sealInPlace(dst[start:], &nonce, &s.key)
	return dst, nil
}

// Open decrypts MESSAGE data (after the command name). It rejects a nonce
// not greater than the last accepted one (replay, reorder) before decrypting,
// and advances the receive counter only after the box authenticates. The
// returned data is freshly allocated. Unknown flag bits are returned as is.
func (s *Session) Open(data []byte) (flags byte, msg []byte, err error) {
	return s.OpenInPlace(bytes.Clone(data))
}

// OpenInPlace is Open decrypting within data: msg is a slice of data, and
// the ciphertext is overwritten.
func (s *Session) OpenInPlace(data []byte) (flags byte, msg []byte, err error) {
	if s.closed {
		return 0, nil, ErrClosed
	}
	if len(data) < messageMinData {
		return 0, nil, fmt.Errorf("%w: MESSAGE data of %d bytes", ErrMalformed, len(data))
	}
	n := binary.BigEndian.Uint64(data)
	if n <= s.recvNonce {
		return 0, nil, fmt.Errorf("%w: got %d, last %d", ErrNonce, n, s.recvNonce)
	}
	nonce := shortNonce(s.recvPrefix, n)
	pt, ok := openInPlace(data[8:], &nonce, &s.key)
	if !ok {
		return 0, nil, fmt.Errorf("%w: MESSAGE", ErrBadBox)
	}
	s.recvNonce = n
	return pt[0], pt[1:], nil
}

// Close zeroes the session key (best effort); later calls fail with
// ErrClosed. It must not run concurrently with Seal or Open.
func (s *Session) Close() {
	clear(s.key[:])
	s.closed = true
}
