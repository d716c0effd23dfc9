package channel

import (
	"errors"
	"strings"
	"testing"

	"github.com/meshmq/meshmq/codec"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	in := payload{Name: "héllo", Count: 7}
	for _, c := range []codec.Codec{nil, codec.MsgPack(), codec.JSON()} {
		var m Message
		if err := m.Encode(c, in); err != nil {
			t.Fatalf("Encode: %v", err)
		}
		want := codec.ContentTypeMsgPack
		if c != nil {
			want = c.ContentType()
		}
		if got := m.Headers.Get(HeaderContentType); got != want {
			t.Errorf("content type = %q, want %q", got, want)
		}
		for _, decode := range []func(any) error{
			m.Decode,
			func(v any) error { return m.DecodeWith(nil, v) },
			func(v any) error { return m.DecodeWith(codec.NewRegistry(codec.MsgPack(), codec.JSON()), v) },
		} {
			var out payload
			if err := decode(&out); err != nil || out != in {
				t.Errorf("%s: decoded %+v, %v; want %+v", want, out, err, in)
			}
		}
	}
}

func TestDecodeContentTypes(t *testing.T) {
	jsonBody := []byte(`{"name":"j","count":2}`)
	msgpackBody, err := codec.MsgPack().Marshal(payload{Name: "m", Count: 3})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		contentType string // "" leaves the header unset
		body        []byte
		want        payload
	}{
		{"missing header means msgpack", "", msgpackBody, payload{"m", 3}},
		{"json with parameters", "application/json; charset=utf-8", jsonBody, payload{"j", 2}},
		{"case-insensitive", "Application/MsgPack", msgpackBody, payload{"m", 3}},
		{"empty body leaves v unchanged", "application/json", nil, payload{"keep", 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Message{Body: tt.body}
			if tt.contentType != "" {
				m.SetHeader(HeaderContentType, tt.contentType)
			}
			got := payload{"keep", 1}
			if err := m.Decode(&got); err != nil || got != tt.want {
				t.Errorf("Decode = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Run("unknown content type", func(t *testing.T) {
		m := Message{ID: "m1", Headers: Headers{HeaderContentType: "text/csv"}, Body: []byte("a,b")}
		for _, err := range []error{
			m.Decode(new(payload)),
			m.DecodeWith(codec.NewRegistry(codec.JSON()), new(payload)),
		} {
			var ue *codec.UnknownContentTypeError
			if !errors.Is(err, codec.ErrUnknownContentType) || !errors.As(err, &ue) || ue.ContentType != "text/csv" {
				t.Errorf("error %v does not identify unknown content type text/csv", err)
			}
		}
	})
	t.Run("registry without the codec", func(t *testing.T) {
		var m Message
		if err := m.Encode(codec.JSON(), payload{}); err != nil {
			t.Fatal(err)
		}
		err := m.DecodeWith(codec.NewRegistry(codec.MsgPack()), new(payload))
		if !errors.Is(err, codec.ErrUnknownContentType) {
			t.Errorf("DecodeWith = %v, want ErrUnknownContentType", err)
		}
	})
	t.Run("custom codec error", func(t *testing.T) {
		m := Message{Headers: Headers{HeaderContentType: failingCodec{}.ContentType()}, Body: []byte("x")}
		err := m.DecodeWith(codec.NewRegistry(failingCodec{}), new(payload))
		var ce *codec.Error
		if !errors.As(err, &ce) || ce.Op != codec.OpUnmarshal || !errors.Is(err, errFailing) {
			t.Errorf("DecodeWith = %v, want a *codec.Error wrapping the codec's error", err)
		}
	})
	t.Run("bad body", func(t *testing.T) {
		m := Message{ID: "m2", Body: []byte{0xc1}}
		err := m.Decode(new(payload))
		var ce *codec.Error
		if !errors.As(err, &ce) || ce.Op != codec.OpUnmarshal {
			t.Errorf("Decode = %v, want a *codec.Error", err)
		}
		if err == nil || !strings.HasPrefix(err.Error(), `channel: decode message "m2": `) {
			t.Errorf("error %q lacks the message ID", err)
		}
	})
}

// failingCodec returns an error that is not a *codec.Error.
type failingCodec struct{}

var errFailing = errors.New("failing codec")

func (failingCodec) ContentType() string                { return "application/x-failing" }
func (failingCodec) Marshal(any) ([]byte, error)        { return nil, errFailing }
func (failingCodec) Unmarshal(data []byte, v any) error { return errFailing }

func TestEncodeErrors(t *testing.T) {
	for _, c := range []codec.Codec{codec.MsgPack(), failingCodec{}} {
		m := Message{Body: []byte("old")}
		arg := any(make(chan int))
		err := m.Encode(c, arg)
		var ce *codec.Error
		if !errors.As(err, &ce) || ce.Op != codec.OpMarshal || ce.ContentType != c.ContentType() {
			t.Errorf("%s: Encode = %v, want a *codec.Error", c.ContentType(), err)
		}
		if string(m.Body) != "old" || m.Headers != nil {
			t.Errorf("%s: failed Encode changed the message: %+v", c.ContentType(), m)
		}
	}
}
