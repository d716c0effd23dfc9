package codec

import (
	"fmt"
	"maps"
	"mime"
	"strings"
	"sync"
	"sync/atomic"
)

// Registry maps content types to codecs. It is safe for concurrent use.
//
// Lookup is on every message's receive path, so the table is copy-on-write:
// Lookup takes no lock and does not allocate (except to report an unknown
// content type); only Register locks.
//
// The zero value is an empty registry ready for use. A Registry must not
// be copied after first use.
type Registry struct {
	mu     sync.Mutex                       // serialises writers
	codecs atomic.Pointer[map[string]Codec] // keyed by normalised media type; never mutated once published
}

// NewRegistry returns a registry holding codecs. It skips invalid codecs
// (nil, or with an empty or malformed content type) rather than failing;
// use [Registry.Register] to have them reported.
func NewRegistry(codecs ...Codec) *Registry {
	r := new(Registry)
	for _, c := range codecs {
		_ = r.Register(c)
	}
	return r
}

// Register adds c under its content type, replacing any codec already
// registered for the same (normalised) content type. It returns an error
// matching [ErrInvalidCodec] if c is nil or its content type is empty or
// not a valid media type.
func (r *Registry) Register(c Codec) error {
	if c == nil {
		return fmt.Errorf("%w: nil", ErrInvalidCodec)
	}
	ct := c.ContentType()
	if ct == "" {
		return fmt.Errorf("%w: empty content type", ErrInvalidCodec)
	}
	// Registration is rare, so use the strict parser, which also lower-cases
	// the media type; Lookup uses cheaper matching that agrees with it.
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("%w: content type %q: %w", ErrInvalidCodec, ct, err)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	next := make(map[string]Codec)
	if cur := r.codecs.Load(); cur != nil {
		maps.Copy(next, *cur)
	}
	next[mt] = c
	r.codecs.Store(&next)
	return nil
}

// Lookup returns the codec for contentType. Matching is case-insensitive
// and ignores parameters such as "; charset=utf-8". An empty contentType
// selects the codec registered for [ContentTypeMsgPack], or [MsgPack] if
// there is none. An unregistered content type yields an
// [*UnknownContentTypeError].
func (r *Registry) Lookup(contentType string) (Codec, error) {
	var m map[string]Codec
	if p := r.codecs.Load(); p != nil {
		m = *p
	}
	if contentType == "" {
		if c, ok := m[ContentTypeMsgPack]; ok {
			return c, nil
		}
		return Default(), nil
	}
	// Senders normally write the canonical form, perhaps with parameters.
	if c, ok := m[contentType]; ok {
		return c, nil
	}
	mt := mediaType(contentType)
	if c, ok := m[mt]; ok {
		return c, nil
	}
	// Registries hold a handful of codecs, so scanning them beats
	// allocating a lower-case copy of mt.
	for k, c := range m {
		if strings.EqualFold(k, mt) {
			return c, nil
		}
	}
	return nil, &UnknownContentTypeError{ContentType: contentType}
}

// mediaType strips parameters and surrounding space from a content type.
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.TrimSpace(ct)
}

var defaultRegistry = NewRegistry(MsgPack(), JSON())

// Lookup returns the codec for contentType from the default registry,
// which holds [MsgPack] and [JSON] plus anything added with [Register].
// See [Registry.Lookup] for the matching rules.
func Lookup(contentType string) (Codec, error) {
	return defaultRegistry.Lookup(contentType)
}

// Register adds c to the default registry. See [Registry.Register].
func Register(c Codec) error {
	return defaultRegistry.Register(c)
}
