package curve

import (
	"crypto/subtle"

	"golang.org/x/crypto/poly1305" //nolint:staticcheck // the building block of secretbox, used as secretbox does
	"golang.org/x/crypto/salsa20/salsa"
)

// NaCl secretbox (XSalsa20-Poly1305) in place. nacl/secretbox refuses
// overlapping buffers, so it costs a copy of every MESSAGE each way; these
// give the same bytes (secretbox_test.go checks them against it) without the
// copy: the ciphertext replaces the plaintext, and the other way round.

// xsalsaSetup derives the XSalsa20 subkey and counter block of nonce, and
// the first keystream block: the Poly1305 key, then 32 bytes of keystream
// for the first 32 bytes of the message.
func xsalsaSetup(nonce *[24]byte, key *[32]byte) (subKey [32]byte, counter [16]byte, first [64]byte) {
	var hNonce [16]byte
	copy(hNonce[:], nonce[:16])
	salsa.HSalsa20(&subKey, &hNonce, key, &salsa.Sigma)
	copy(counter[:], nonce[16:])
	salsa.XORKeyStream(first[:], first[:], &counter, &subKey)
	return subKey, counter, first
}

// xorMessage encrypts or decrypts msg in place.
func xorMessage(msg []byte, subKey *[32]byte, counter *[16]byte, first *[64]byte) {
	head := min(len(msg), 32)
	subtle.XORBytes(msg[:head], msg[:head], first[32:32+head])
	if len(msg) > 32 {
		counter[8] = 1 // block 1 onwards
		salsa.XORKeyStream(msg[32:], msg[32:], counter, subKey)
	}
}

// sealInPlace turns box, laid out as 16 bytes of room for the tag followed
// by the plaintext, into secretbox.Seal's output for that plaintext.
func sealInPlace(box []byte, nonce *[24]byte, key *[32]byte) {
	subKey, counter, first := xsalsaSetup(nonce, key)
	xorMessage(box[overhead:], &subKey, &counter, &first)
	var polyKey [32]byte
	copy(polyKey[:], first[:32])
	var tag [poly1305.TagSize]byte
	poly1305.Sum(&tag, box[overhead:], &polyKey)
	copy(box, tag[:])
}

// openInPlace authenticates box (secretbox.Seal's output) and decrypts it
// within itself: the plaintext is box[16:]. On failure box is unchanged.
func openInPlace(box []byte, nonce *[24]byte, key *[32]byte) ([]byte, bool) {
	if len(box) < overhead {
		return nil, false
	}
	subKey, counter, first := xsalsaSetup(nonce, key)
	var polyKey [32]byte
	copy(polyKey[:], first[:32])
	var tag [poly1305.TagSize]byte
	copy(tag[:], box)
	if !poly1305.Verify(&tag, box[overhead:], &polyKey) {
		return nil, false
	}
	msg := box[overhead:]
	xorMessage(msg, &subKey, &counter, &first)
	return msg, true
}
