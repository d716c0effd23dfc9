package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/codec"
	"github.com/meshmq/meshmq/examples/internal/cli"
	"github.com/vmihailenco/msgpack/v5"
)

// Body encodings (-encoding).
const (
	encMsgPack = "msgpack"
	encJSON    = "json"
)

// bodyUsage is the part of the help of send, publish and request about
// bodies.
const bodyUsage = `
The body: -body TEXT, -file FILE, or -file - (standard input); none gives an
empty body. It is JSON ({"id":1}, [1,2], 42, "text", true), or else plain
text, taken as one string. -encoding msgpack (the default, as
channel.NewCommand encodes) parses the JSON and encodes the value as
MessagePack; -encoding json sends the JSON as it is, with the header
content-type: application/json. Handlers read either with Message.Decode.
`

// msgFlags are the flags that make the message of send, publish and
// request.
type msgFlags struct {
	body     string
	file     string
	encoding string
	key      string
	to       string
	ttl      time.Duration
	headers  headerFlag
	bodySet  bool // -body given, even empty
}

func (f *msgFlags) register(fs *cli.Flags, withTo bool) {
	fs.StringVar(&f.body, "body", "", "the body, as `JSON` or plain text (see above)")
	fs.StringVar(&f.file, "file", "", "read the body from `FILE`; - for standard input")
	fs.StringVar(&f.encoding, "encoding", encMsgPack, "body encoding: msgpack or json")
	fs.StringVar(&f.key, "key", "", "the message's ordering `KEY`: messages with one key are handled in order")
	if withTo {
		fs.StringVar(&f.to, "to", "", "send to the member `NAME`, not to any instance of the service")
	}
	fs.DurationVar(&f.ttl, "ttl", 0, "time to live: dead-lettered instead of delivered after this long (0: never)")
	fs.Var(&f.headers, "header", "a header `k=v` (repeatable)")
}

// check checks the message flags after parsing.
func (f *msgFlags) check(fs *cli.Flags) error {
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "body" {
			f.bodySet = true
		}
	})
	if f.bodySet && f.file != "" {
		return fs.Fail("-body and -file: give one")
	}
	if f.encoding = strings.ToLower(f.encoding); f.encoding != encMsgPack && f.encoding != encJSON {
		return fs.Fail("-encoding %q: want msgpack or json", f.encoding)
	}
	if f.ttl < 0 {
		return fs.Fail("-ttl %v: want a positive duration, or 0 for none", f.ttl)
	}
	for k := range f.headers {
		if strings.EqualFold(k, "content-type") {
			return fs.Fail("-header content-type: set by -encoding")
		}
	}
	return nil
}

// message builds the message of kind for ch from the flags, reading the
// body from -body, -file or stdin.
func (f *msgFlags) message(kind channel.Kind, ch string, stdin io.Reader) (*channel.Message, error) {
	m := &channel.Message{ID: channel.NewID(), Kind: kind, Channel: ch, Key: f.key, To: f.to, TTL: f.ttl, Time: time.Now()}
	for k, v := range f.headers {
		m.SetHeader(k, v)
	}
	var data []byte
	switch {
	case f.bodySet:
		data = []byte(f.body)
	case f.file == "-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("-file -: reading standard input: %w", err)
		}
		data = b
	case f.file != "":
		b, err := os.ReadFile(f.file)
		if err != nil {
			return nil, fmt.Errorf("-file: %w", err)
		}
		data = b
	}
	if err := encodeBody(m, data, f.encoding); err != nil {
		return nil, err
	}
	return m, nil
}

// encodeBody sets m's body from data, JSON or text, encoded as enc. Empty
// (or blank) data leaves the body empty, without a content type.
func encodeBody(m *channel.Message, data []byte, enc string) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil
	}
	var v any
	isJSON := json.Valid(trimmed)
	switch {
	case isJSON:
		d := json.NewDecoder(bytes.NewReader(trimmed))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			return fmt.Errorf("body: %w", err)
		}
		v = fromJSON(v)
	case strings.ContainsRune("{[\"", rune(trimmed[0])):
		// Meant as JSON: a typo must not become a string.
		var probe any
		err := json.Unmarshal(trimmed, &probe)
		return fmt.Errorf("body: looks like JSON but is not: %v (plain text must not start with {, [ or \")", err)
	case utf8.Valid(data):
		v = string(data)
	default:
		if enc == encJSON {
			return errors.New("body: binary data, not text or JSON; JSON cannot carry it: use -encoding msgpack")
		}
		v = data
	}
	if enc == encJSON {
		if isJSON {
			// As it is (compacted): key order and number forms kept.
			return m.Encode(codec.JSON(), json.RawMessage(trimmed))
		}
		return m.Encode(codec.JSON(), v)
	}
	return m.Encode(codec.MsgPack(), v)
}

// fromJSON turns numbers decoded with UseNumber into int64, uint64 or
// float64, so that MessagePack carries integers as integers.
func fromJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i
		}
		if u, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return u
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = fromJSON(e)
		}
	case []any:
		for i, e := range x {
			x[i] = fromJSON(e)
		}
	}
	return v
}

// bodyJSON renders m's body as JSON when it can: a MessagePack body decoded
// (maps with keys other than strings get their keys as text, bytes become
// base64 strings), a JSON body compacted. ok is false for a body of another
// content type, or one that does not decode: the caller shows it raw. An
// empty body is null.
func bodyJSON(m *channel.Message) (out []byte, ok bool) {
	if len(m.Body) == 0 {
		return []byte("null"), true
	}
	ct := m.Headers.Get("content-type")
	c, err := codec.Lookup(ct)
	if err != nil {
		return nil, false
	}
	switch c.ContentType() {
	case codec.ContentTypeJSON:
		var b bytes.Buffer
		if json.Compact(&b, m.Body) != nil {
			return nil, false
		}
		return b.Bytes(), true
	case codec.ContentTypeMsgPack:
		// The codec checks the body (lengths, nesting, one value) without
		// trusting it; then a decoder that takes any map keys reads it.
		var raw msgpack.RawMessage
		if codec.MsgPack().Unmarshal(m.Body, &raw) != nil {
			return nil, false
		}
		d := msgpack.NewDecoder(bytes.NewReader(m.Body))
		d.SetMapDecoder(func(d *msgpack.Decoder) (any, error) { return d.DecodeUntypedMap() })
		v, err := d.DecodeInterface()
		if err != nil {
			return nil, false
		}
		b, err := json.Marshal(toJSON(v))
		if err != nil {
			return nil, false
		}
		return b, true
	}
	return nil, false
}

// toJSON makes a decoded MessagePack value marshalable as JSON.
func toJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = toJSON(e)
		}
		return x
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = toJSON(e)
		}
		return out
	case []any:
		for i, e := range x {
			x[i] = toJSON(e)
		}
		return x
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprint(x)
		}
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Sprint(x)
		}
	case time.Time:
		return x.Format(time.RFC3339Nano)
	}
	return v
}

// bodyText is m's body for a line of output: its JSON, or else the raw
// bytes quoted.
func bodyText(m *channel.Message) string {
	if b, ok := bodyJSON(m); ok {
		return string(b)
	}
	return strconv.Quote(string(m.Body))
}

// headerFlag is a repeatable -header k=v.
type headerFlag map[string]string

func (h *headerFlag) String() string {
	if h == nil || *h == nil {
		return ""
	}
	var parts []string
	for k, v := range *h {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func (h *headerFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("want k=v, such as tenant=eu")
	}
	if *h == nil {
		*h = headerFlag{}
	}
	(*h)[strings.TrimSpace(k)] = v
	return nil
}
