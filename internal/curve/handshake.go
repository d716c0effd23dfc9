package curve

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"
	"golang.org/x/crypto/nacl/secretbox"
)

// Nonce prefixes (RFC 26, as libzmq uses them).
const (
	prefixHello    = "CurveZMQHELLO---"
	prefixWelcome  = "WELCOME-"
	prefixCookie   = "COOKIE--"
	prefixInitiate = "CurveZMQINITIATE"
	prefixVouch    = "VOUCH---"
	prefixReady    = "CurveZMQREADY---"
	prefixMessageC = "CurveZMQMESSAGEC" // client to server
	prefixMessageS = "CurveZMQMESSAGES" // server to client
)

// Sizes of command data (after the command name), as libzmq 4.3 produces them.
const (
	overhead = box.Overhead // 16

	// HELLO: version(2) + padding(72) + C'(32) + short nonce(8) + Box[64 zeros].
	helloData = 2 + 72 + 32 + 8 + 64 + overhead // 194; 200 with "\x05HELLO"
	// WELCOME: nonce(16) + Box[S'(32) + cookie(96)].
	welcomeData = 16 + 32 + cookieLen + overhead // 160; 168 with "\x07WELCOME"
	// Cookie: nonce(16) + secretbox[C'(32) + s'(32)].
	cookieLen = 16 + 64 + secretbox.Overhead // 96
	// Vouch box: Box[C'(32) + S(32)].
	vouchBoxLen = 64 + overhead // 80
	// INITIATE: cookie + short nonce(8) + Box[C(32) + vouch nonce(16) + vouch box + metadata].
	initiateMinData = cookieLen + 8 + overhead + 32 + 16 + vouchBoxLen // 248
	// READY: short nonce(8) + Box[metadata].
	readyMinData = 8 + overhead
	// MESSAGE: short nonce(8) + Box[flags(1) + data].
	messageMinData = 8 + overhead + 1

	helloPadding = 72
)

// CookieLifetime is how long a server accepts the cookie of its WELCOME.
const CookieLifetime = 60 * time.Second

// RefusalReason is the ERROR reason a server returns when authorize refuses
// a client (the ZAP status code libzmq sends for an authentication failure).
const RefusalReason = "400"

// Handshake errors. Returned errors wrap one of these (and ErrMalformed for
// inputs that do not parse).
var (
	ErrState         = errors.New("curve: handshake step out of order or after a failure")
	ErrBadBox        = errors.New("curve: box authentication failed")
	ErrBadKey        = errors.New("curve: peer key is not usable (low-order point)")
	ErrBadVersion    = errors.New("curve: unsupported CurveZMQ version")
	ErrBadCookie     = errors.New("curve: cookie does not open (not from this WELCOME)")
	ErrCookieExpired = errors.New("curve: cookie expired")
	ErrBadVouch      = errors.New("curve: vouch does not verify")
	ErrUnauthorized  = errors.New("curve: client key not authorized")
	ErrNonce         = errors.New("curve: nonce not increasing (replayed or reordered)")
)

// AuthorizeFunc decides whether a client whose long-term public key has been
// verified (its vouch opened and names both C' and this server's S) may
// proceed. md is the client's INITIATE metadata. A nil error admits it.
// Anything the package cannot see (the remote address) is for the caller to
// capture in a closure.
type AuthorizeFunc func(client PublicKey, md Metadata) error

// AllowAny is an AuthorizeFunc that admits every client that completes the
// handshake. Use it only deliberately (an explicitly open allowlist).
func AllowAny(PublicKey, Metadata) error { return nil }

// Option configures a Client or Server.
type Option func(*options)

type options struct {
	metadata Metadata
	rand     io.Reader
}

// WithMetadata sets the metadata sent in INITIATE (client) or READY (server).
func WithMetadata(md Metadata) Option { return func(o *options) { o.metadata = md } }

// WithRand sets the randomness source (default crypto/rand). For tests.
func WithRand(r io.Reader) Option { return func(o *options) { o.rand = r } }

func buildOptions(opts []Option) (options, []byte, error) {
	o := options{rand: rand.Reader}
	for _, f := range opts {
		f(&o)
	}
	md, err := AppendMetadata(nil, o.metadata)
	return o, md, err
}

func shortNonce(prefix string, n uint64) (out [24]byte) {
	copy(out[:16], prefix)
	binary.BigEndian.PutUint64(out[16:], n)
	return out
}

func longNonce(prefix string, r []byte) (out [24]byte) {
	copy(out[:8], prefix)
	copy(out[8:], r)
	return out
}

// precompute derives the box key between a peer's public key and a secret
// key, refusing low-order peer points (libsodium does the same).
func precompute(shared *[32]byte, peer *PublicKey, secret *SecretKey) error {
	s, err := curve25519.X25519(secret[:], peer[:])
	if err != nil {
		return ErrBadKey
	}
	clear(s)
	box.Precompute(shared, (*[32]byte)(peer), (*[32]byte)(secret))
	return nil
}

func randomBytes(r io.Reader, b []byte) error {
	if _, err := io.ReadFull(r, b); err != nil {
		return fmt.Errorf("curve: randomness: %w", err)
	}
	return nil
}

func isZero(b []byte) bool {
	var acc byte
	for _, c := range b {
		acc |= c
	}
	return acc == 0
}

type hsState uint8

const (
	stStart hsState = iota
	stWaitWelcome
	stWaitInitiate
	stWaitReady
	stDone
	stFailed
)

// Client is the client side of a CurveZMQ handshake. Methods take and return
// command DATA (what follows the command name); see AppendCommand and
// ParseCommand. Any error is terminal: later calls return ErrState.
type Client struct {
	state        hsState
	long         KeyPair
	serverPublic PublicKey
	opts         options
	metadata     []byte
	tmp          KeyPair  // C', c'
	helloKey     [32]byte // Box key (c', S): HELLO and WELCOME
	shared       [32]byte // Box key (c', S'): INITIATE, READY, MESSAGE
	nonce        uint64   // next short nonce to send
	peerMeta     Metadata
	session      *Session
}

// NewClient prepares a client handshake with the long-term key pair long
// towards a server whose long-term public key is serverPublic.
func NewClient(long KeyPair, serverPublic PublicKey, opts ...Option) (*Client, error) {
	if err := long.Check(); err != nil {
		return nil, err
	}
	o, md, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	c := &Client{long: long, serverPublic: serverPublic, opts: o, metadata: md, nonce: 1}
	if c.tmp, err = generateKeyPair(o.rand); err != nil {
		return nil, err
	}
	if err := precompute(&c.helloKey, &c.serverPublic, &c.tmp.Secret); err != nil {
		c.wipe()
		return nil, fmt.Errorf("server public key: %w", err)
	}
	return c, nil
}

func (c *Client) wipe() {
	c.tmp.Zero()
	clear(c.helloKey[:])
	clear(c.shared[:])
}

func (c *Client) fail(err error) error {
	c.wipe()
	c.state = stFailed
	return err
}

// Hello returns the HELLO data (194 bytes; 200 with its name).
func (c *Client) Hello() ([]byte, error) {
	if c.state != stStart {
		return nil, ErrState
	}
	out := make([]byte, 0, helloData)
	out = append(out, 1, 0) // version 1.0
	out = append(out, make([]byte, helloPadding)...)
	out = append(out, c.tmp.Public[:]...)
	out = binary.BigEndian.AppendUint64(out, c.nonce)
	n := shortNonce(prefixHello, c.nonce)
	var zeros [64]byte
	out = box.SealAfterPrecomputation(out, zeros[:], &n, &c.helloKey)
	c.nonce++
	c.state = stWaitWelcome
	return out, nil
}

// Welcome processes the server's WELCOME data and returns the INITIATE data.
// A failure here usually means the server does not hold the secret key of
// the configured server public key.
func (c *Client) Welcome(data []byte) (initiate []byte, err error) {
	if c.state != stWaitWelcome {
		return nil, ErrState
	}
	if len(data) != welcomeData {
		return nil, c.fail(fmt.Errorf("%w: WELCOME data of %d bytes, want %d", ErrMalformed, len(data), welcomeData))
	}
	n := longNonce(prefixWelcome, data[:16])
	pt, ok := box.OpenAfterPrecomputation(nil, data[16:], &n, &c.helloKey)
	clear(c.helloKey[:])
	if !ok {
		return nil, c.fail(fmt.Errorf("%w: WELCOME (wrong server key?)", ErrBadBox))
	}
	var serverTmp PublicKey
	copy(serverTmp[:], pt[:32])
	cookie := pt[32:]
	if err := precompute(&c.shared, &serverTmp, &c.tmp.Secret); err != nil {
		return nil, c.fail(fmt.Errorf("server transient key: %w", err))
	}

	// Vouch: Box[C' + S](C->S') with a long nonce.
	var vouchKey [32]byte
	if err := precompute(&vouchKey, &serverTmp, &c.long.Secret); err != nil {
		return nil, c.fail(err)
	}
	var vn [16]byte
	if err := randomBytes(c.opts.rand, vn[:]); err != nil {
		clear(vouchKey[:])
		return nil, c.fail(err)
	}
	vpt := make([]byte, 0, 64)
	vpt = append(vpt, c.tmp.Public[:]...)
	vpt = append(vpt, c.serverPublic[:]...)
	vnonce := longNonce(prefixVouch, vn[:])
	vouch := box.SealAfterPrecomputation(make([]byte, 0, vouchBoxLen), vpt, &vnonce, &vouchKey)
	clear(vouchKey[:])

	ipt := make([]byte, 0, 32+16+vouchBoxLen+len(c.metadata))
	ipt = append(ipt, c.long.Public[:]...)
	ipt = append(ipt, vn[:]...)
	ipt = append(ipt, vouch...)
	ipt = append(ipt, c.metadata...)

	out := make([]byte, 0, cookieLen+8+overhead+len(ipt))
	out = append(out, cookie...)
	out = binary.BigEndian.AppendUint64(out, c.nonce)
	in := shortNonce(prefixInitiate, c.nonce)
	out = box.SealAfterPrecomputation(out, ipt, &in, &c.shared)
	c.nonce++
	c.tmp.Zero() // c' is no longer needed: the shared key is derived
	c.state = stWaitReady
	return out, nil
}

// Ready processes the server's READY data. On success the handshake is
// complete and Session returns the message codec.
func (c *Client) Ready(data []byte) error {
	if c.state != stWaitReady {
		return ErrState
	}
	if len(data) < readyMinData || len(data) > readyMinData+MaxMetadataSize {
		return c.fail(fmt.Errorf("%w: READY data of %d bytes", ErrMalformed, len(data)))
	}
	sn := binary.BigEndian.Uint64(data)
	n := shortNonce(prefixReady, sn)
	pt, ok := box.OpenAfterPrecomputation(nil, data[8:], &n, &c.shared)
	if !ok {
		return c.fail(fmt.Errorf("%w: READY", ErrBadBox))
	}
	md, err := ParseMetadata(pt)
	if err != nil {
		return c.fail(err)
	}
	c.peerMeta = md
	c.session = newSession(&c.shared, prefixMessageC, prefixMessageS, c.nonce, sn)
	c.wipe()
	c.state = stDone
	return nil
}

// Session returns the message codec once the handshake is complete, else nil.
func (c *Client) Session() *Session { return c.session }

// PeerMetadata returns the server's READY metadata once the handshake is complete.
func (c *Client) PeerMetadata() Metadata { return c.peerMeta }

// Server is the server side of a CurveZMQ handshake for one connection.
// Methods take and return command DATA (what follows the command name). Any
// error is terminal: later calls return ErrState.
//
// Between WELCOME and INITIATE the server holds only its cookie key, the
// cookie's expiry and the HELLO nonce: the client's transient key C' and the
// server's transient secret s' travel in the cookie and are recovered from it.
type Server struct {
	state      hsState
	long       KeyPair
	authorize  AuthorizeFunc
	opts       options
	metadata   []byte
	now        func() time.Time
	cookieKey  [32]byte
	expiry     time.Time
	helloNonce uint64
	clientKey  PublicKey
	peerMeta   Metadata
	session    *Session
}

// NewServer prepares a server handshake with the long-term key pair long.
// authorize is called with the verified client key before READY; a nil
// authorize refuses every client (deny by default; see AllowAny).
func NewServer(long KeyPair, authorize AuthorizeFunc, opts ...Option) (*Server, error) {
	if err := long.Check(); err != nil {
		return nil, err
	}
	o, md, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	return &Server{long: long, authorize: authorize, opts: o, metadata: md, now: time.Now}, nil
}

func (s *Server) fail(err error) error {
	clear(s.cookieKey[:])
	s.state = stFailed
	return err
}

// Hello processes the client's HELLO data and returns the WELCOME data.
func (s *Server) Hello(data []byte) (welcome []byte, err error) {
	if s.state != stStart {
		return nil, ErrState
	}
	if len(data) != helloData {
		return nil, s.fail(fmt.Errorf("%w: HELLO data of %d bytes, want %d", ErrMalformed, len(data), helloData))
	}
	if data[0] != 1 || data[1] != 0 {
		return nil, s.fail(fmt.Errorf("%w: %d.%d", ErrBadVersion, data[0], data[1]))
	}
	// The padding is not checked (libzmq does not either).
	var clientTmp PublicKey
	copy(clientTmp[:], data[2+helloPadding:])
	sn := binary.BigEndian.Uint64(data[2+helloPadding+32:])
	var k [32]byte
	defer clear(k[:])
	if err := precompute(&k, &clientTmp, &s.long.Secret); err != nil {
		return nil, s.fail(fmt.Errorf("client transient key: %w", err))
	}
	n := shortNonce(prefixHello, sn)
	pt, ok := box.OpenAfterPrecomputation(nil, data[2+helloPadding+32+8:], &n, &k)
	if !ok {
		return nil, s.fail(fmt.Errorf("%w: HELLO", ErrBadBox))
	}
	if !isZero(pt) {
		return nil, s.fail(fmt.Errorf("%w: HELLO signature is not 64 zero bytes", ErrMalformed))
	}

	tmp, err := generateKeyPair(s.opts.rand)
	if err != nil {
		return nil, s.fail(err)
	}
	defer tmp.Zero()
	if err := randomBytes(s.opts.rand, s.cookieKey[:]); err != nil {
		return nil, s.fail(err)
	}
	var rnd [32]byte // cookie nonce (16) + welcome nonce (16)
	if err := randomBytes(s.opts.rand, rnd[:]); err != nil {
		return nil, s.fail(err)
	}
	cpt := make([]byte, 0, 64)
	cpt = append(cpt, clientTmp[:]...)
	cpt = append(cpt, tmp.Secret[:]...)
	cn := longNonce(prefixCookie, rnd[:16])
	wpt := make([]byte, 0, 32+cookieLen)
	wpt = append(wpt, tmp.Public[:]...)
	wpt = append(wpt, rnd[:16]...)
	wpt = secretbox.Seal(wpt, cpt, &cn, &s.cookieKey)
	clear(cpt)

	wn := longNonce(prefixWelcome, rnd[16:])
	out := make([]byte, 0, welcomeData)
	out = append(out, rnd[16:]...)
	out = box.SealAfterPrecomputation(out, wpt, &wn, &k)
	clear(wpt)
	s.expiry = s.now().Add(CookieLifetime)
	s.helloNonce = sn
	s.state = stWaitInitiate
	return out, nil
}

// Initiate processes the client's INITIATE data. It opens the cookie (which
// must come from this server's WELCOME and be younger than CookieLifetime),
// the INITIATE box and the vouch (which must name both the client's C' and
// this server's S), then calls authorize with the client's long-term key.
//
// On success reply is the READY data. If authorize refuses, reply is the
// ERROR data (reason RefusalReason) to send before closing, and err wraps
// ErrUnauthorized; on any other error reply is nil.
func (s *Server) Initiate(data []byte) (reply []byte, clientKey PublicKey, err error) {
	if s.state != stWaitInitiate {
		return nil, PublicKey{}, ErrState
	}
	if !s.now().Before(s.expiry) {
		return nil, PublicKey{}, s.fail(ErrCookieExpired)
	}
	if len(data) < initiateMinData || len(data) > initiateMinData+MaxMetadataSize {
		return nil, PublicKey{}, s.fail(fmt.Errorf("%w: INITIATE data of %d bytes", ErrMalformed, len(data)))
	}
	cn := longNonce(prefixCookie, data[:16])
	cpt, ok := secretbox.Open(make([]byte, 0, 64), data[16:cookieLen], &cn, &s.cookieKey)
	clear(s.cookieKey[:]) // one INITIATE per cookie
	if !ok {
		return nil, PublicKey{}, s.fail(ErrBadCookie)
	}
	defer clear(cpt)
	var clientTmp PublicKey
	var serverTmp SecretKey
	copy(clientTmp[:], cpt[:32])
	copy(serverTmp[:], cpt[32:])
	defer serverTmp.Zero()

	sn := binary.BigEndian.Uint64(data[cookieLen:])
	if sn <= s.helloNonce {
		return nil, PublicKey{}, s.fail(fmt.Errorf("%w: INITIATE nonce %d after HELLO nonce %d", ErrNonce, sn, s.helloNonce))
	}
	var shared [32]byte
	defer clear(shared[:])
	if err := precompute(&shared, &clientTmp, &serverTmp); err != nil {
		return nil, PublicKey{}, s.fail(err)
	}
	in := shortNonce(prefixInitiate, sn)
	ipt, ok := box.OpenAfterPrecomputation(nil, data[cookieLen+8:], &in, &shared)
	if !ok {
		return nil, PublicKey{}, s.fail(fmt.Errorf("%w: INITIATE", ErrBadBox))
	}
	var client PublicKey
	copy(client[:], ipt[:32])
	var vouchKey [32]byte
	defer clear(vouchKey[:])
	if err := precompute(&vouchKey, &client, &serverTmp); err != nil {
		return nil, PublicKey{}, s.fail(fmt.Errorf("client long-term key: %w", err))
	}
	vn := longNonce(prefixVouch, ipt[32:48])
	vpt, ok := box.OpenAfterPrecomputation(nil, ipt[48:48+vouchBoxLen], &vn, &vouchKey)
	if !ok {
		return nil, PublicKey{}, s.fail(fmt.Errorf("%w: box does not open", ErrBadVouch))
	}
	if subtle.ConstantTimeCompare(vpt[:32], clientTmp[:]) != 1 {
		return nil, PublicKey{}, s.fail(fmt.Errorf("%w: wrong client transient key", ErrBadVouch))
	}
	if subtle.ConstantTimeCompare(vpt[32:], s.long.Public[:]) != 1 {
		return nil, PublicKey{}, s.fail(fmt.Errorf("%w: vouch names another server key", ErrBadVouch))
	}
	md, err := ParseMetadata(ipt[48+vouchBoxLen:])
	if err != nil {
		return nil, PublicKey{}, s.fail(err)
	}
	if s.authorize == nil {
		return ErrorData(RefusalReason), client, s.fail(fmt.Errorf("%w: no authorize function configured", ErrUnauthorized))
	}
	if aerr := s.authorize(client, md); aerr != nil {
		return ErrorData(RefusalReason), client, s.fail(fmt.Errorf("%w: %w", ErrUnauthorized, aerr))
	}

	const readyNonce = 1 // the server's first short nonce
	out := make([]byte, 0, readyMinData+len(s.metadata))
	out = binary.BigEndian.AppendUint64(out, readyNonce)
	rn := shortNonce(prefixReady, readyNonce)
	out = box.SealAfterPrecomputation(out, s.metadata, &rn, &shared)
	s.clientKey = client
	s.peerMeta = md
	s.session = newSession(&shared, prefixMessageS, prefixMessageC, readyNonce+1, sn)
	s.state = stDone
	return out, client, nil
}

// Session returns the message codec once the handshake is complete, else nil.
func (s *Server) Session() *Session { return s.session }

// ClientKey returns the authenticated client long-term key once complete.
func (s *Server) ClientKey() PublicKey { return s.clientKey }

// PeerMetadata returns the client's INITIATE metadata once complete.
func (s *Server) PeerMetadata() Metadata { return s.peerMeta }
