package curve

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// Deterministic parties, so that seeds stay valid across fuzz iterations and
// mutations reach past the first check.

func detRand(seed byte) *rand.ChaCha8 {
	var s [32]byte
	s[0] = seed
	return rand.NewChaCha8(s)
}

func detKP(seed byte) KeyPair {
	kp, err := generateKeyPair(detRand(seed))
	if err != nil {
		panic(err)
	}
	return kp
}

var (
	fuzzClientKP = detKP(1)
	fuzzServerKP = detKP(2)
	fuzzMeta     = WithMetadata(Metadata{{"Socket-Type", []byte("DEALER")}})
)

func detClient(tb testing.TB) *Client {
	c, err := NewClient(fuzzClientKP, fuzzServerKP.Public, WithRand(detRand(3)), fuzzMeta)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func detServer(tb testing.TB) *Server {
	s, err := NewServer(fuzzServerKP, AllowAny, WithRand(detRand(4)), fuzzMeta)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// transcript returns the data of the four handshake commands between the
// deterministic parties, and the finished parties.
func transcript(tb testing.TB) (hello, welcome, initiate, ready []byte, c *Client, s *Server) {
	c, s = detClient(tb), detServer(tb)
	var err error
	if hello, err = c.Hello(); err != nil {
		tb.Fatal(err)
	}
	if welcome, err = s.Hello(hello); err != nil {
		tb.Fatal(err)
	}
	if initiate, err = c.Welcome(welcome); err != nil {
		tb.Fatal(err)
	}
	if ready, _, err = s.Initiate(initiate); err != nil {
		tb.Fatal(err)
	}
	if err = c.Ready(ready); err != nil {
		tb.Fatal(err)
	}
	return
}

func TestDeterministicTranscript(t *testing.T) {
	h1, w1, i1, r1, _, _ := transcript(t)
	h2, w2, i2, r2, _, _ := transcript(t)
	if !bytes.Equal(h1, h2) || !bytes.Equal(w1, w2) || !bytes.Equal(i1, i2) || !bytes.Equal(r1, r2) {
		t.Fatal("fuzz parties are not deterministic")
	}
}

func FuzzServerHello(f *testing.F) {
	hello, _, _, _, _, _ := transcript(f)
	f.Add(hello)
	f.Add(hello[:100])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := detServer(t)
		w, err := s.Hello(data)
		if err == nil && len(w) != welcomeData {
			t.Fatalf("WELCOME of %d bytes", len(w))
		}
	})
}

func FuzzClientWelcome(f *testing.F) {
	_, welcome, _, _, _, _ := transcript(f)
	f.Add(welcome)
	f.Add(welcome[:10])
	f.Fuzz(func(t *testing.T, data []byte) {
		c := detClient(t)
		if _, err := c.Hello(); err != nil {
			t.Fatal(err)
		}
		_, _ = c.Welcome(data)
	})
}

func FuzzServerInitiate(f *testing.F) {
	_, _, initiate, _, _, _ := transcript(f)
	f.Add(initiate)
	f.Add(initiate[:initiateMinData])
	f.Add(append(bytes.Clone(initiate), 1, 'a', 0, 0, 0, 9))
	hello, _, _, _, _, _ := transcript(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s := detServer(t)
		if _, err := s.Hello(hello); err != nil {
			t.Fatal(err)
		}
		reply, _, err := s.Initiate(data)
		if err == nil && s.Session() == nil {
			t.Fatal("success without session")
		}
		if err != nil && reply != nil {
			if _, perr := ParseError(reply); perr != nil {
				t.Fatal(perr)
			}
		}
	})
}

func FuzzClientReady(f *testing.F) {
	_, welcome, _, ready, _, _ := transcript(f)
	f.Add(ready)
	f.Add(ready[:readyMinData])
	f.Fuzz(func(t *testing.T, data []byte) {
		c := detClient(t)
		c.Hello()
		if _, err := c.Welcome(welcome); err != nil {
			t.Fatal(err)
		}
		if err := c.Ready(data); err == nil && c.Session() == nil {
			t.Fatal("success without session")
		}
	})
}

func FuzzSessionOpen(f *testing.F) {
	_, _, _, _, c, _ := transcript(f)
	for _, m := range [][]byte{[]byte("hello"), {}, bytes.Repeat([]byte{7}, 1000)} {
		data, err := c.Session().Seal(FlagMore, m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, _, _, _, s := transcript(t)
		sess := s.Session()
		before := sess.recvNonce
		_, msg, err := sess.Open(data)
		if err != nil {
			if sess.recvNonce != before {
				t.Fatal("counter advanced on failure")
			}
			return
		}
		if len(msg) != len(data)-messageMinData {
			t.Fatalf("message length %d from %d bytes", len(msg), len(data))
		}
		if _, _, err := sess.Open(data); err == nil {
			t.Fatal("replay accepted")
		}
	})
}

func FuzzParseMetadata(f *testing.F) {
	b, _ := AppendMetadata(nil, Metadata{{"Socket-Type", []byte("ROUTER")}, {"Identity", []byte("x")}})
	f.Add(b)
	f.Add([]byte{1, 'a', 0, 0, 0, 0})
	f.Add([]byte{1, 'a', 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMetadata(b)
		if err != nil {
			return
		}
		back, err := AppendMetadata(nil, m)
		if err != nil || !bytes.Equal(back, b) {
			t.Fatalf("round trip: %x -> %x, %v", b, back, err)
		}
	})
}

func FuzzParseCommand(f *testing.F) {
	f.Add([]byte("\x05ERROR\x03400"))
	f.Add([]byte("\x07MESSAGE"))
	f.Fuzz(func(t *testing.T, b []byte) {
		name, data, err := ParseCommand(b)
		if err != nil {
			return
		}
		back, err := AppendCommand(nil, name, data)
		if err != nil || !bytes.Equal(back, b) {
			t.Fatalf("round trip %x -> %x, %v", b, back, err)
		}
		if name == CmdError {
			_, _ = ParseError(data)
		}
	})
}
