package dashboard_test

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

// between returns the text of s between the first open and the close after it.
func between(t *testing.T, s, open, close string) string {
	t.Helper()
	_, rest, ok := strings.Cut(s, open)
	if !ok {
		t.Fatalf("no %s", open)
	}
	body, _, ok := strings.Cut(rest, close)
	if !ok {
		t.Fatalf("no %s", close)
	}
	return body
}

// sha256CSP is a CSP hash source for text.
func sha256CSP(text string) string {
	sum := sha256.Sum256([]byte(text))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}
