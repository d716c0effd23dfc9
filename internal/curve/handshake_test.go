package curve

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"golang.org/x/crypto/nacl/box"

	"github.com/meshmq/meshmq/security"
)

func mustKP(t testing.TB) KeyPair {
	t.Helper()
	kp, err := security.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// frame wraps data in a command body and unwraps it again, checking the name
// and, when want > 0, the body's size.
func frame(t testing.TB, name string, data []byte, want int) []byte {
	t.Helper()
	body, err := AppendCommand(nil, name, data)
	if err != nil {
		t.Fatal(err)
	}
	if want > 0 && len(body) != want {
		t.Fatalf("%s body is %d bytes, want %d", name, len(body), want)
	}
	got, d, err := ParseCommand(body)
	if err != nil || got != name {
		t.Fatalf("ParseCommand: %q, %v", got, err)
	}
	return d
}

type pair struct {
	ckp, skp KeyPair
	c        *Client
	s        *Server
}

func newPair(t testing.TB, authorize AuthorizeFunc) *pair {
	t.Helper()
	p := &pair{ckp: mustKP(t), skp: mustKP(t)}
	var err error
	p.c, err = NewClient(p.ckp, p.skp.Public, WithMetadata(Metadata{{"Socket-Type", []byte("DEALER")}, {"Identity", []byte("c1")}}))
	if err != nil {
		t.Fatal(err)
	}
	p.s, err = NewServer(p.skp, authorize, WithMetadata(Metadata{{"Socket-Type", []byte("ROUTER")}}))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// run performs the whole handshake, returning the server's INITIATE error.
func (p *pair) run(t testing.TB) error {
	t.Helper()
	hello, err := p.c.Hello()
	if err != nil {
		t.Fatal(err)
	}
	welcome, err := p.s.Hello(frame(t, CmdHello, hello, 200))
	if err != nil {
		t.Fatalf("server Hello: %v", err)
	}
	initiate, err := p.c.Welcome(frame(t, CmdWelcome, welcome, 168))
	if err != nil {
		t.Fatalf("client Welcome: %v", err)
	}
	reply, key, err := p.s.Initiate(frame(t, CmdInitiate, initiate, 0))
	if err != nil {
		if reply != nil {
			frame(t, CmdError, reply, 0)
		}
		return err
	}
	if key != p.ckp.Public {
		t.Fatalf("server saw client key %s, want %s", key, p.ckp.Public)
	}
	if err := p.c.Ready(frame(t, CmdReady, reply, 0)); err != nil {
		t.Fatalf("client Ready: %v", err)
	}
	return nil
}

func allowOnly(keys ...PublicKey) AuthorizeFunc {
	return func(k PublicKey, _ Metadata) error {
		for _, a := range keys {
			if a == k {
				return nil
			}
		}
		return fmt.Errorf("key %s not in allowlist", k)
	}
}

func TestHandshakeAndMessages(t *testing.T) {
	p := newPair(t, nil)
	p.s.authorize = allowOnly(p.ckp.Public)
	if err := p.run(t); err != nil {
		t.Fatal(err)
	}
	if v, _ := p.s.PeerMetadata().Get("socket-type"); string(v) != "DEALER" {
		t.Errorf("server saw Socket-Type %q", v)
	}
	if v, _ := p.s.PeerMetadata().Get("IDENTITY"); string(v) != "c1" {
		t.Errorf("server saw Identity %q", v)
	}
	if v, _ := p.c.PeerMetadata().Get("Socket-Type"); string(v) != "ROUTER" {
		t.Errorf("client saw Socket-Type %q", v)
	}
	if p.s.ClientKey() != p.ckp.Public {
		t.Error("ClientKey")
	}
	cs, ss := p.c.Session(), p.s.Session()
	if cs == nil || ss == nil {
		t.Fatal("no session")
	}
	// Secrets no longer needed are gone.
	if !isZero(p.c.tmp.Secret[:]) || !isZero(p.c.shared[:]) || !isZero(p.c.helloKey[:]) || !isZero(p.s.cookieKey[:]) {
		t.Error("transient secrets not zeroed")
	}

	big := bytes.Repeat([]byte("0123456789abcdef"), 100<<10/16)
	parts := [][]byte{[]byte("head"), {}, big, []byte("tail")}
	send := func(from, to *Session) {
		for i, part := range parts {
			flags := FlagMore
			if i == len(parts)-1 {
				flags = 0
			}
			data, err := from.Seal(flags, part)
			if err != nil {
				t.Fatal(err)
			}
			data = frame(t, CmdMessage, data, 8+8+16+1+len(part))
			gf, got, err := to.Open(data)
			if err != nil {
				t.Fatalf("part %d: %v", i, err)
			}
			if gf != flags || !bytes.Equal(got, part) {
				t.Fatalf("part %d: flags %d len %d", i, gf, len(got))
			}
		}
	}
	send(cs, ss)
	send(ss, cs)
	send(cs, ss)
	// A command (PING) flag passes through.
	data, _ := ss.Seal(FlagCommand, []byte("\x04PING"))
	if f, _, err := cs.Open(data); err != nil || f != FlagCommand {
		t.Fatalf("command flag: %d %v", f, err)
	}
	cs.Close()
	if _, err := cs.Seal(0, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Seal after Close: %v", err)
	}
	if _, _, err := cs.Open(data); !errors.Is(err, ErrClosed) {
		t.Errorf("Open after Close: %v", err)
	}
}

// libzmq's counters: client HELLO=1, INITIATE=2, first MESSAGE=3; server
// READY=1, first MESSAGE=2.
func TestNonceCountersMatchLibzmq(t *testing.T) {
	p := newPair(t, AllowAny)
	if err := p.run(t); err != nil {
		t.Fatal(err)
	}
	c, _ := p.c.Session().Seal(0, []byte("x"))
	s, _ := p.s.Session().Seal(0, []byte("x"))
	if n := binary.BigEndian.Uint64(c); n != 3 {
		t.Errorf("client first MESSAGE nonce %d, want 3", n)
	}
	if n := binary.BigEndian.Uint64(s); n != 2 {
		t.Errorf("server first MESSAGE nonce %d, want 2", n)
	}
}

func TestWrongServerKey(t *testing.T) {
	// The client is configured with a key the server does not hold: the
	// server cannot open HELLO.
	ckp, skp, other := mustKP(t), mustKP(t), mustKP(t)
	c, err := NewClient(ckp, other.Public)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := NewServer(skp, AllowAny)
	hello, _ := c.Hello()
	if _, err := s.Hello(hello); !errors.Is(err, ErrBadBox) {
		t.Fatalf("server Hello with wrong key: %v", err)
	}
	if _, err := s.Hello(hello); !errors.Is(err, ErrState) {
		t.Errorf("server after failure: %v", err)
	}
	// An impostor's WELCOME (made by the holder of another key) does not
	// open at the client.
	c2, _ := NewClient(ckp, other.Public)
	imp, _ := NewServer(other, AllowAny)
	h2, _ := c2.Hello()
	w2, err := imp.Hello(h2)
	if err != nil {
		t.Fatal(err)
	}
	c3, _ := NewClient(ckp, skp.Public)
	c3.Hello()
	if _, err := c3.Welcome(w2); !errors.Is(err, ErrBadBox) {
		t.Fatalf("client Welcome from impostor: %v", err)
	}
	if _, err := c3.Welcome(w2); !errors.Is(err, ErrState) {
		t.Errorf("client after failure: %v", err)
	}
}

func TestUnauthorizedClient(t *testing.T) {
	listed := mustKP(t)
	p := newPair(t, allowOnly(listed.Public))
	hello, _ := p.c.Hello()
	welcome, _ := p.s.Hello(hello)
	initiate, _ := p.c.Welcome(welcome)
	reply, key, err := p.s.Initiate(initiate)
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	if key != p.ckp.Public {
		t.Error("refusal should report the verified key")
	}
	reason, perr := ParseError(frame(t, CmdError, reply, 0))
	if perr != nil || reason != RefusalReason {
		t.Fatalf("ERROR reason %q, %v", reason, perr)
	}
	if p.s.Session() != nil {
		t.Error("session after refusal")
	}
	// nil authorize denies by default.
	p = newPair(t, nil)
	if err := p.run(t); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("nil authorize: %v", err)
	}
}

func TestMessageTamperReplayReorder(t *testing.T) {
	p := newPair(t, AllowAny)
	if err := p.run(t); err != nil {
		t.Fatal(err)
	}
	cs, ss := p.c.Session(), p.s.Session()
	m1, _ := cs.Seal(0, []byte("one"))
	m2, _ := cs.Seal(0, []byte("two"))
	m3, _ := cs.Seal(0, []byte("three"))

	for i := range m1 {
		bad := bytes.Clone(m1)
		bad[i] ^= 0x40
		if _, _, err := ss.Open(bad); err == nil {
			t.Fatalf("tampered byte %d accepted", i)
		}
	}
	if _, _, err := ss.Open(m1[:len(m1)-1]); err == nil {
		t.Fatal("truncated accepted")
	}
	if _, got, err := ss.Open(m1); err != nil || string(got) != "one" {
		t.Fatalf("genuine after tampering: %q %v", got, err)
	}
	if _, _, err := ss.Open(m1); !errors.Is(err, ErrNonce) {
		t.Fatalf("replay: %v", err)
	}
	if _, got, err := ss.Open(m3); err != nil || string(got) != "three" {
		t.Fatalf("m3 (a gap is allowed): %q %v", got, err)
	}
	if _, _, err := ss.Open(m2); !errors.Is(err, ErrNonce) {
		t.Fatalf("reordered: %v", err)
	}
	// A forged high nonce must not advance the counter.
	m4, _ := cs.Seal(0, []byte("four"))
	forged := bytes.Clone(m4)
	binary.BigEndian.PutUint64(forged, 1<<60)
	if _, _, err := ss.Open(forged); !errors.Is(err, ErrBadBox) {
		t.Fatalf("forged nonce: %v", err)
	}
	if _, _, err := ss.Open(m4); err != nil {
		t.Fatalf("m4 after forged nonce: %v", err)
	}
	// Reflection: a client's own message does not open at the client.
	m5, _ := cs.Seal(0, []byte("five"))
	if _, _, err := cs.Open(m5); err == nil {
		t.Fatal("reflected message accepted")
	}
	// The handshake's last nonce is the floor: a message reusing the
	// INITIATE nonce (2) is rejected.
	p2 := newPair(t, AllowAny)
	p2.run(t)
	p2.c.Session().sendNonce = 2
	m, _ := p2.c.Session().Seal(0, []byte("x"))
	if _, _, err := p2.s.Session().Open(m); !errors.Is(err, ErrNonce) {
		t.Fatalf("MESSAGE with INITIATE's nonce: %v", err)
	}
}

func TestNonceExhausted(t *testing.T) {
	p := newPair(t, AllowAny)
	p.run(t)
	cs, ss := p.c.Session(), p.s.Session()
	cs.sendNonce = ^uint64(0)
	m, err := cs.Seal(0, []byte("last"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ss.Open(m); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Seal(0, nil); !errors.Is(err, ErrNonceExhausted) {
		t.Fatalf("after max nonce: %v", err)
	}
}

func TestCookieFromAnotherWelcome(t *testing.T) {
	skp := mustKP(t)
	ckp := mustKP(t)
	mk := func() (*Client, *Server, []byte) {
		c, _ := NewClient(ckp, skp.Public)
		s, _ := NewServer(skp, AllowAny)
		h, _ := c.Hello()
		w, err := s.Hello(h)
		if err != nil {
			t.Fatal(err)
		}
		i, err := c.Welcome(w)
		if err != nil {
			t.Fatal(err)
		}
		return c, s, i
	}
	_, s1, i1 := mk()
	_, s2, i2 := mk()
	// INITIATE for server 2 sent to server 1 (same long-term key).
	if _, _, err := s1.Initiate(i2); !errors.Is(err, ErrBadCookie) {
		t.Fatalf("other WELCOME's INITIATE: %v", err)
	}
	// A cookie transplanted into an otherwise genuine INITIATE.
	forged := append(bytes.Clone(i1[:cookieLen]), i2[cookieLen:]...)
	if _, _, err := s2.Initiate(forged); err == nil {
		t.Fatal("transplanted cookie accepted")
	}
	// The cookie is one-shot: a server that failed does not accept the genuine one.
	if _, _, err := s2.Initiate(i2); !errors.Is(err, ErrState) {
		t.Fatalf("second INITIATE: %v", err)
	}
}

func TestCookieExpiry(t *testing.T) {
	for _, tc := range []struct {
		after time.Duration
		ok    bool
	}{{59 * time.Second, true}, {CookieLifetime, false}, {61 * time.Second, false}} {
		p := newPair(t, AllowAny)
		now := time.Unix(1000, 0)
		p.s.now = func() time.Time { return now }
		h, _ := p.c.Hello()
		w, _ := p.s.Hello(h)
		i, _ := p.c.Welcome(w)
		now = now.Add(tc.after)
		_, _, err := p.s.Initiate(i)
		if tc.ok && err != nil {
			t.Errorf("after %v: %v", tc.after, err)
		}
		if !tc.ok && !errors.Is(err, ErrCookieExpired) {
			t.Errorf("after %v: %v, want ErrCookieExpired", tc.after, err)
		}
		if !tc.ok && !isZero(p.s.cookieKey[:]) {
			t.Error("cookie key kept after expiry")
		}
	}
}

func TestVouch(t *testing.T) {
	// A vouch naming another server key S is refused (libzmq does not check).
	p := newPair(t, AllowAny)
	h, _ := p.c.Hello()
	w, _ := p.s.Hello(h)
	p.c.serverPublic = mustKP(t).Public // HELLO key already derived; only the vouch changes
	i, err := p.c.Welcome(w)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.s.Initiate(i); !errors.Is(err, ErrBadVouch) {
		t.Fatalf("vouch with wrong S: %v", err)
	}
	// A vouch naming another C'.
	p = newPair(t, AllowAny)
	h, _ = p.c.Hello()
	w, _ = p.s.Hello(h)
	p.c.tmp.Public = mustKP(t).Public
	i, _ = p.c.Welcome(w)
	if _, _, err := p.s.Initiate(i); !errors.Is(err, ErrBadVouch) {
		t.Fatalf("vouch with wrong C': %v", err)
	}
	// A vouch made with another long-term key than the one claimed.
	p = newPair(t, AllowAny)
	h, _ = p.c.Hello()
	w, _ = p.s.Hello(h)
	p.c.long.Public = mustKP(t).Public
	i, _ = p.c.Welcome(w)
	if _, _, err := p.s.Initiate(i); !errors.Is(err, ErrBadVouch) {
		t.Fatalf("vouch by another key: %v", err)
	}
}

func TestInitiateNonceAfterHello(t *testing.T) {
	p := newPair(t, AllowAny)
	h, _ := p.c.Hello()
	w, _ := p.s.Hello(h)
	p.c.nonce = 1 // reuse HELLO's nonce
	i, _ := p.c.Welcome(w)
	if _, _, err := p.s.Initiate(i); !errors.Is(err, ErrNonce) {
		t.Fatalf("INITIATE nonce = HELLO nonce: %v", err)
	}
}

func TestHelloValidation(t *testing.T) {
	p := newPair(t, AllowAny)
	h, _ := p.c.Hello()
	cases := map[string][]byte{
		"short":   h[:len(h)-1],
		"long":    append(bytes.Clone(h), 0),
		"version": append([]byte{2, 0}, h[2:]...),
		"box":     append(bytes.Clone(h[:len(h)-1]), h[len(h)-1]^1),
		"empty":   nil,
	}
	for name, data := range cases {
		s, _ := NewServer(p.skp, AllowAny)
		if _, err := s.Hello(data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Low-order C' (all zero) is refused.
	bad := bytes.Clone(h)
	clear(bad[74:106])
	s, _ := NewServer(p.skp, AllowAny)
	if _, err := s.Hello(bad); !errors.Is(err, ErrBadKey) {
		t.Errorf("zero C': %v", err)
	}
	// A HELLO whose box holds non-zero bytes.
	var nz [64]byte
	nz[5] = 1
	forged := bytes.Clone(h[:114])
	n := shortNonce(prefixHello, 1)
	forged = box.SealAfterPrecomputation(forged, nz[:], &n, &p.c.helloKey)
	s, _ = NewServer(p.skp, AllowAny)
	if _, err := s.Hello(forged); !errors.Is(err, ErrMalformed) {
		t.Errorf("non-zero signature: %v", err)
	}
}

func TestStateOrder(t *testing.T) {
	p := newPair(t, AllowAny)
	if _, err := p.c.Welcome(make([]byte, welcomeData)); !errors.Is(err, ErrState) {
		t.Error(err)
	}
	if err := p.c.Ready(make([]byte, 40)); !errors.Is(err, ErrState) {
		t.Error(err)
	}
	if _, _, err := p.s.Initiate(make([]byte, 300)); !errors.Is(err, ErrState) {
		t.Error(err)
	}
	if err := p.run(t); err != nil {
		t.Fatal(err)
	}
	if _, err := p.c.Hello(); !errors.Is(err, ErrState) {
		t.Error(err)
	}
	if _, err := p.s.Hello(make([]byte, helloData)); !errors.Is(err, ErrState) {
		t.Error(err)
	}
}

func TestConstructors(t *testing.T) {
	kp := mustKP(t)
	bad := kp
	bad.Public[3] ^= 1
	if _, err := NewClient(bad, kp.Public); err == nil {
		t.Error("client with inconsistent pair")
	}
	if _, err := NewServer(bad, AllowAny); err == nil {
		t.Error("server with inconsistent pair")
	}
	if _, err := NewClient(kp, PublicKey{}); !errors.Is(err, ErrBadKey) {
		t.Errorf("zero server key: %v", err)
	}
	if _, err := NewClient(kp, kp.Public, WithMetadata(Metadata{{"bad name", nil}})); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad metadata: %v", err)
	}
}

func TestMetadata(t *testing.T) {
	md := Metadata{{"Socket-Type", []byte("DEALER")}, {"Identity", nil}, {"X-Key.v_1+", bytes.Repeat([]byte{0}, 300)}}
	b, err := AppendMetadata(nil, md)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseMetadata(b)
	if err != nil || len(got) != 3 || string(got[0].Value) != "DEALER" || len(got[2].Value) != 300 {
		t.Fatalf("round trip: %v %v", got, err)
	}
	bad := []Metadata{
		{{"", nil}}, {{"a b", nil}}, {{"A", nil}, {"a", nil}},
		{{"Big", make([]byte, MaxMetadataSize)}},
		make(Metadata, MaxProperties+1),
	}
	for i, m := range bad {
		if _, err := AppendMetadata(nil, m); !errors.Is(err, ErrMalformed) {
			t.Errorf("bad %d: %v", i, err)
		}
	}
	for i, b := range [][]byte{
		{0}, {1, 'a'}, {1, 'a', 0, 0, 0, 1}, {1, 'a', 0xff, 0xff, 0xff, 0xff},
		{1, ' ', 0, 0, 0, 0}, {1, 'a', 0, 0, 0, 0, 1, 'A', 0, 0, 0, 0},
		make([]byte, MaxMetadataSize+1),
	} {
		if _, err := ParseMetadata(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("parse bad %d: %v", i, err)
		}
	}
	many := []byte{}
	for i := 0; i <= MaxProperties; i++ {
		many = append(many, 3, 'p', byte('A'+i/26), byte('a'+i%26), 0, 0, 0, 0)
	}
	if _, err := ParseMetadata(many); !errors.Is(err, ErrMalformed) {
		t.Errorf("too many properties: %v", err)
	}
}

func TestCommandHelpers(t *testing.T) {
	if _, err := AppendCommand(nil, "", nil); err == nil {
		t.Error("empty name")
	}
	if _, err := AppendCommand(nil, string(make([]byte, 256)), nil); err == nil {
		t.Error("long name")
	}
	for _, b := range [][]byte{nil, {0}, {5, 'H'}} {
		if _, _, err := ParseCommand(b); err == nil {
			t.Errorf("ParseCommand(%q) accepted", b)
		}
	}
	if r, err := ParseError(ErrorData(string(bytes.Repeat([]byte("x"), 300)))); err != nil || len(r) != 255 {
		t.Errorf("long reason: %d %v", len(r), err)
	}
	for _, b := range [][]byte{nil, {3, 'a'}, {1, 'a', 'b'}} {
		if _, err := ParseError(b); err == nil {
			t.Errorf("ParseError(%q) accepted", b)
		}
	}
}
