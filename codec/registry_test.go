package codec

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// fakeCodec is a JSON codec under another content type.
type fakeCodec struct {
	jsonCodec
	ct string
}

func (f fakeCodec) ContentType() string { return f.ct }

func TestLookup(t *testing.T) {
	tests := []struct {
		contentType string
		want        string // content type of the codec found; "" for an error
	}{
		{"", ContentTypeMsgPack},
		{"application/msgpack", ContentTypeMsgPack},
		{"application/json", ContentTypeJSON},
		{"Application/JSON", ContentTypeJSON},
		{"application/json; charset=utf-8", ContentTypeJSON},
		{"  application/json ;charset=utf-8", ContentTypeJSON},
		{"APPLICATION/MSGPACK;v=1", ContentTypeMsgPack},
		{"application/xml", ""},
		{"application/jsonx", ""},
		{" ", ""},
		{";", ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.contentType), func(t *testing.T) {
			c, err := Lookup(tt.contentType)
			if tt.want == "" {
				var ue *UnknownContentTypeError
				if !errors.As(err, &ue) || ue.ContentType != tt.contentType {
					t.Fatalf("Lookup error = %v, want *UnknownContentTypeError for %q", err, tt.contentType)
				}
				if !errors.Is(err, ErrUnknownContentType) {
					t.Errorf("error %v does not match ErrUnknownContentType", err)
				}
				if c != nil {
					t.Errorf("Lookup returned codec %v with an error", c)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			if c.ContentType() != tt.want {
				t.Errorf("Lookup = %s codec, want %s", c.ContentType(), tt.want)
			}
		})
	}
}

func TestRegistryRegister(t *testing.T) {
	tests := []struct {
		name    string
		c       Codec
		wantErr bool
	}{
		{"nil", nil, true},
		{"empty content type", fakeCodec{ct: ""}, true},
		{"malformed content type", fakeCodec{ct: "not a type"}, true},
		{"valid", fakeCodec{ct: "application/x-test"}, false},
		{"normalised", fakeCodec{ct: "Application/X-Upper; v=2"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Registry // the zero value is usable
			err := r.Register(tt.c)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidCodec) {
					t.Fatalf("Register error = %v, want ErrInvalidCodec", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Register: %v", err)
			}
			if _, err := r.Lookup(tt.c.ContentType()); err != nil {
				t.Errorf("Lookup(%q) after Register: %v", tt.c.ContentType(), err)
			}
		})
	}
}

func TestRegistryEmptyContentType(t *testing.T) {
	// Without a msgpack entry, "" still resolves to the built-in codec.
	r := NewRegistry(JSON())
	c, err := r.Lookup("")
	if err != nil || c.ContentType() != ContentTypeMsgPack {
		t.Fatalf("Lookup(\"\") = %v, %v; want the msgpack codec", c, err)
	}

	// With one, "" resolves to it.
	custom := fakeCodec{ct: ContentTypeMsgPack}
	if err := r.Register(custom); err != nil {
		t.Fatal(err)
	}
	if c, _ := r.Lookup(""); c != Codec(custom) {
		t.Errorf("Lookup(\"\") = %#v, want the registered msgpack codec", c)
	}
}

func TestRegistryReplaceAndIsolation(t *testing.T) {
	r := NewRegistry(MsgPack(), JSON(), nil) // nil is skipped
	replacement := fakeCodec{ct: "application/json; charset=utf-8"}
	if err := r.Register(replacement); err != nil {
		t.Fatal(err)
	}
	if c, _ := r.Lookup(ContentTypeJSON); c != Codec(replacement) {
		t.Errorf("Lookup after replacing = %#v, want the replacement", c)
	}
	// The default registry is unaffected.
	if c, _ := Lookup(ContentTypeJSON); c != JSON() {
		t.Errorf("default registry Lookup = %#v, want JSON()", c)
	}
	if _, err := Lookup("application/x-only-in-r"); err == nil {
		t.Error("default registry found a codec it was never given")
	}
}

func TestRegisterDefault(t *testing.T) {
	const ct = "application/x-meshmq-test-register"
	if _, err := Lookup(ct); !errors.Is(err, ErrUnknownContentType) {
		t.Fatalf("Lookup before Register: %v", err)
	}
	if err := Register(fakeCodec{ct: ct}); err != nil {
		t.Fatal(err)
	}
	if _, err := Lookup(ct); err != nil {
		t.Fatalf("Lookup after Register: %v", err)
	}
	if err := Register(nil); !errors.Is(err, ErrInvalidCodec) {
		t.Errorf("Register(nil) = %v, want ErrInvalidCodec", err)
	}
}

// Run with -race: lookups run alongside registrations.
func TestRegistryConcurrent(t *testing.T) {
	r := NewRegistry(MsgPack())
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 50 {
				if err := r.Register(fakeCodec{ct: fmt.Sprintf("application/x-%d-%d", i, j)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
		wg.Go(func() {
			for range 500 {
				if _, err := r.Lookup("application/msgpack"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for i := range 4 {
		for j := range 50 {
			if _, err := r.Lookup(fmt.Sprintf("application/x-%d-%d", i, j)); err != nil {
				t.Errorf("registration lost: %v", err)
			}
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	for _, ct := range []string{"application/msgpack", "Application/JSON; charset=utf-8"} {
		b.Run(ct, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Lookup(ct); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
