package asyncapi

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// Names. Every id in a document (server, channel, operation, component)
// is made of letters, digits, '.', '-' and '_' — what components' keys
// must be, and what needs no escaping in a $ref — and is derived from the
// member, service, topic or message it names, so that it stays the same
// from one build to the next. A wildcard of a pattern becomes "star" (*)
// or "gt" (>); any other character '_'. Ids that would clash get "-2",
// "-3", ... in the order of their sorted sources.

// sanitize turns s into an id.
func sanitize(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '_':
			b.WriteByte(c)
		case c == '*':
			b.WriteString("star")
		case c == '>':
			b.WriteString("gt")
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// namer hands out unique ids.
type namer map[string]bool

// take returns base, or base-2, base-3, ... when base is taken.
func (n namer) take(base string) string {
	id := base
	for i := 2; n[id]; i++ {
		id = base + "-" + strconv.Itoa(i)
	}
	n[id] = true
	return id
}

// shortHash is a stable 8-hex-digit digest of parts, to tell variants of a
// name apart.
func shortHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:8]
}

func ref(parts ...string) Reference {
	return Reference{Ref: "#/" + strings.Join(parts, "/")}
}
