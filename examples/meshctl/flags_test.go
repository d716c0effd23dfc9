package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/examples/internal/cli"
)

// Help: meshctl -h, meshctl help, meshctl help COMMAND and meshctl COMMAND -h
// print to stdout and exit 0; each command's help has examples and the
// common flags.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"help"}, {"--help"}} {
		r := meshctl(t, "", args...)
		if r.code != 0 || r.stderr != "" || !strings.HasPrefix(r.stdout, "Usage: meshctl COMMAND [flags] [ARG]\n") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
		for _, c := range commands {
			if !strings.Contains(r.stdout, "\n  "+c.name) {
				t.Errorf("%q: %s not listed", args, c.name)
			}
		}
	}
	for _, c := range commands {
		for _, args := range [][]string{{"help", c.name}, {c.name, "-h"}} {
			r := meshctl(t, "", args...)
			if r.code != 0 || r.stderr != "" || !strings.HasPrefix(r.stdout, "Usage: meshctl "+c.name) {
				t.Errorf("%q: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
				continue
			}
			for _, want := range []string{"\nExamples:\n", "\nFlags:\n", "  -join SEEDS\n", "  -timeout duration\n",
				"  -curve-key FILE\n", "  -cluster NAME\n", "  meshctl " + c.name} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("%q: no %q in\n%s", args, want, r.stdout)
				}
			}
		}
	}
	r := meshctl(t, "", "tail", "-h")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "Usage: meshctl subscribe PATTERN") {
		t.Errorf("tail -h: %d %q", r.code, r.stdout)
	}
}

func TestFlagErrors(t *testing.T) {
	const join = "127.0.0.1:7946"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"nope"}, `unknown command "nope"`},
		{[]string{"-join", join, "members"}, "flag -join given before the command"},
		{[]string{"help", "nope"}, `unknown command "nope"`},
		{[]string{"members"}, "-join is required: the gossip address of a member"},
		{[]string{"members", "extra", "-join", join}, `members takes no argument (got "extra")`},
		{[]string{"members", "-nope"}, "flag provided but not defined: -nope"},
		{[]string{"members", "-join", "localhost"}, `-join "localhost": want comma-separated host:port`},
		{[]string{"members", "-join", join, "-gossip", "7946"}, `-gossip "7946": want host:port`},
		{[]string{"members", "-join", join, "-data", "127.0.0.1:7001"}, "want tcp://host:port"},
		{[]string{"members", "-join", join, "-profile", "slow"}, `-profile "slow": want fast or lan`},
		{[]string{"members", "-join", join, "-timeout", "0s"}, "-timeout 0s: want a positive duration"},
		{[]string{"members", "-join", join, "-expect", "-2"}, "-expect -2"},
		{[]string{"members", "-join", join, "-gossip-key-hex", "zz"}, "-gossip-key-hex: not hex"},
		{[]string{"members", "-join", join, "-gossip-key-hex", "0011"}, "2 bytes long"},
		{[]string{"members", "-join", join, "-curve-key", "a.key_secret"}, "-curve-key needs -allow"},
		{[]string{"members", "-peers", "a=tcp://127.0.0.1:7001"}, "-peers: members needs gossip (-join)"},
		{[]string{"send", "orders", "-peers", "a=tcp://127.0.0.1:7001", "-join", join}, "-peers and -join: give one"},
		{[]string{"send", "orders", "-peers", "a=127.0.0.1:7001"}, `-peers "a=127.0.0.1:7001": want NAME=tcp://HOST:PORT`},
		{[]string{"send", "orders", "-peers", "a=tcp://127.0.0.1:1,a=tcp://127.0.0.1:2"}, `-peers: "a" given twice`},
		{[]string{"send", "orders", "-peers", "a=tcp://127.0.0.1:1", "-to", "b"}, "-to b: not one of -peers"},
		{[]string{"send", "orders", "-peers", "a=tcp://127.0.0.1:1", "-curve-key", "k", "-allow", "a"}, "-peers with -curve-key"},
		{[]string{"send", "-join", join}, "send takes one SERVICE, such as: meshctl send orders"},
		{[]string{"send", "a", "b", "-join", join}, "got 2 arguments"},
		{[]string{"send", "orders", "-body", "1", "-file", "x", "-join", join}, "-body and -file: give one"},
		{[]string{"send", "orders", "-encoding", "xml", "-join", join}, `-encoding "xml": want msgpack or json`},
		{[]string{"send", "orders", "-header", "novalue", "-join", join}, `invalid value "novalue" for flag -header: want k=v`},
		{[]string{"send", "orders", "-header", "content-type=x", "-join", join}, "-header content-type: set by -encoding"},
		{[]string{"send", "orders", "-ttl", "-1s", "-join", join}, "-ttl -1s"},
		{[]string{"publish", "orders.*", "-join", join}, `topic "orders.*"`},
		{[]string{"publish", "orders", "-to", "a", "-join", join}, "flag provided but not defined: -to"},
		{[]string{"publish", "orders", "-peers", "a=tcp://127.0.0.1:1"}, "-peers: publish needs gossip"},
		{[]string{"subscribe"}, "subscribe takes one PATTERN"},
		{[]string{"subscribe", "orders.>.x"}, `pattern "orders.>.x"`},
		{[]string{"subscribe", "a", "-count", "-1"}, "-count -1"},
		{[]string{"serve", "quotes", "-reply", "{bad"}, "-reply: body: looks like JSON but is not"},
		{[]string{"api", "-format", "xml", "-join", join}, `-format "xml": want yaml or json`},
		{[]string{"bench"}, "bench needs a SERVICE to send to, or -local"},
		{[]string{"bench", "-local", "-n", "0"}, "-n 0: want 1 or more"},
		{[]string{"bench", "-local", "-n", "5", "-duration", "1s"}, "-n and -duration: give one"},
		{[]string{"bench", "-local", "-senders", "0"}, "-senders 0"},
		{[]string{"bench", "-local", "-size", "-1"}, "-size -1"},
		{[]string{"bench", "orders"}, "-join is required"},
		{[]string{"dashboard", "-listen", "8080"}, `-listen "8080": want host:port`},
		{[]string{"dashboard", "-refresh", "1ms"}, "-refresh 1ms: want 100ms to 1m0s"},
	} {
		r := meshctl(t, "", tc.args...)
		if r.code != 2 || r.stdout != "" || !strings.HasPrefix(r.stderr, tc.want) && !strings.Contains(strings.SplitN(r.stderr, "\n", 2)[0], tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and %q first", tc.args, r.code, r.stdout, firstLine(r.stderr), tc.want)
		}
		if r.code == 2 && !strings.Contains(r.stderr, "Usage: meshctl") {
			t.Errorf("%q: no usage after the reason:\n%s", tc.args, r.stderr)
		}
	}

	// Errors that are not usage: exit 1, one line.
	r := meshctl(t, "", "send", "orders", "-file", "/nonexistent/body.json", "-join", join)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "meshctl: -file: open /nonexistent/body.json") {
		t.Errorf("missing -file: %d %q", r.code, r.stderr)
	}
	r = meshctl(t, "", "send", "orders", "-body", `{"a":`, "-join", join)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "meshctl: body: looks like JSON but is not") {
		t.Errorf("bad JSON: %d %q", r.code, r.stderr)
	}
}

func firstLine(s string) string { return strings.SplitN(s, "\n", 2)[0] }

// Flags and arguments in any order; after "--" all are arguments.
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args []string
		body string
		pos  []string
	}{
		{[]string{"orders", "-body", "1"}, "1", []string{"orders"}},
		{[]string{"-body", "1", "orders"}, "1", []string{"orders"}},
		{[]string{"a", "-body", "1", "b"}, "1", []string{"a", "b"}},
		{[]string{"-body", "1", "--", "-x", "y"}, "1", []string{"-x", "y"}},
		{[]string{"a", "--", "-body"}, "", []string{"a", "-body"}},
	} {
		fs := cli.NewFlagSet("t", "")
		body := fs.String("body", "", "")
		pos, err := parse(fs, tc.args)
		if err != nil || *body != tc.body || !slices.Equal(pos, tc.pos) {
			t.Errorf("%q: body %q, pos %q, %v; want %q, %q", tc.args, *body, pos, err, tc.body, tc.pos)
		}
	}
}

// Bodies: JSON (integers stay integers), text, binary; MessagePack or
// JSON; and back to JSON for display.
func TestBodies(t *testing.T) {
	for _, tc := range []struct {
		in, enc  string
		ct, back string // content type, bodyJSON's output
	}{
		{`{"b":[1,2.5,"x",null,true],"a":-3}`, encMsgPack, "application/msgpack", `{"a":-3,"b":[1,2.5,"x",null,true]}`},
		{`18446744073709551615`, encMsgPack, "application/msgpack", `18446744073709551615`},
		{` "quoted" `, encMsgPack, "application/msgpack", `"quoted"`},
		{"plain text\n", encMsgPack, "application/msgpack", `"plain text\n"`},
		{"\xff\x00", encMsgPack, "application/msgpack", `"/wA="`}, // bytes: base64 in JSON
		{"", encMsgPack, "", `null`},
		{"  \n", encJSON, "", `null`},
		{`{"b": 1, "a": 2}`, encJSON, "application/json", `{"b":1,"a":2}`}, // as given, compacted
		{"plain", encJSON, "application/json", `"plain"`},
	} {
		m := &channel.Message{}
		if err := encodeBody(m, []byte(tc.in), tc.enc); err != nil {
			t.Errorf("%q as %s: %v", tc.in, tc.enc, err)
			continue
		}
		got, ok := bodyJSON(m)
		if ct := m.Headers.Get("content-type"); ct != tc.ct || !ok || string(got) != tc.back {
			t.Errorf("%q as %s: content type %q, back %s (%v); want %q, %s", tc.in, tc.enc, ct, got, ok, tc.ct, tc.back)
		}
	}
	// An integer stays an integer in MessagePack: a handler decodes it
	// into an int, as examples/cluster's does.
	m := &channel.Message{}
	if err := encodeBody(m, []byte("42"), encMsgPack); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := m.Decode(&n); err != nil || n != 42 {
		t.Errorf("42: %d, %v", n, err)
	}
	for _, tc := range []struct{ in, enc, want string }{
		{`{"a":1`, encMsgPack, "looks like JSON but is not"},
		{`[1,]`, encJSON, "looks like JSON but is not"},
		{"\xff", encJSON, "JSON cannot carry it"},
	} {
		if err := encodeBody(&channel.Message{}, []byte(tc.in), tc.enc); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q as %s: %v, want %q", tc.in, tc.enc, err, tc.want)
		}
	}
	// What does not decode is shown raw: another content type, or a
	// malformed body; maps with other keys than strings have them as text.
	for _, m := range []*channel.Message{
		{Body: []byte("<xml/>"), Headers: channel.Headers{"content-type": "application/xml"}},
		{Body: []byte{0xc1}},
		{Body: []byte("{"), Headers: channel.Headers{"content-type": "application/json"}},
	} {
		if b, ok := bodyJSON(m); ok {
			t.Errorf("%q decoded: %s", m.Body, b)
		}
	}
	m = &channel.Message{}
	if err := m.Encode(nil, map[int]string{1: "a"}); err != nil {
		t.Fatal(err)
	}
	if b, ok := bodyJSON(m); !ok || string(b) != `{"1":"a"}` {
		t.Errorf("int keys: %s, %v", b, ok)
	}
	if got := bodyText(&channel.Message{Body: []byte("a\nb"), Headers: channel.Headers{"content-type": "text/plain"}}); got != `"a\nb"` {
		t.Errorf("bodyText raw: %s", got)
	}
}
