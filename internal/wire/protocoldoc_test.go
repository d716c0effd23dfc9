package wire

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// protocolVectors reads the annotated hex dumps of PROTOCOL.md section 13:
// fenced blocks opened with "```vector NAME". Each line of a block starts
// with bytes in hex, two digits each, separated by single spaces; two spaces
// or more end them and start the annotation.
func protocolVectors(t *testing.T) map[string][]byte {
	t.Helper()
	f, err := os.Open("../../PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	sc := bufio.NewScanner(f)
	name, line := "", 0
	var cur bytes.Buffer
	for sc.Scan() {
		line++
		text := sc.Text()
		switch {
		case name == "" && strings.HasPrefix(text, "```vector "):
			name = strings.TrimSpace(strings.TrimPrefix(text, "```vector "))
			if _, dup := out[name]; dup {
				t.Fatalf("PROTOCOL.md:%d: vector %s annotated twice", line, name)
			}
			cur.Reset()
		case name != "" && strings.HasPrefix(text, "```"):
			out[name] = bytes.Clone(cur.Bytes())
			name = ""
		case name != "":
			hx, _, _ := strings.Cut(strings.TrimSpace(text), "  ")
			for _, tok := range strings.Fields(hx) {
				b, err := hex.DecodeString(tok)
				if err != nil || len(b) != 1 {
					t.Fatalf("PROTOCOL.md:%d: %q is not one hex byte (bytes and annotation are separated by two spaces)", line, tok)
				}
				cur.Write(b)
			}
		}
	}
	if name != "" {
		t.Fatalf("PROTOCOL.md: vector %s is not closed", name)
	}
	return out
}

// PROTOCOL.md's annotated dumps are the reference vectors, byte for byte,
// and every packet type has one: the document cannot drift from
// testdata/vectors.txt (which TestVectors ties to the encoders).
func TestProtocolDocVectors(t *testing.T) {
	doc := protocolVectors(t)
	ref := readVectors(t)
	for name, b := range doc {
		want, ok := ref[name]
		if !ok {
			t.Errorf("PROTOCOL.md annotates %s, which testdata/vectors.txt does not have", name)
			continue
		}
		if !bytes.Equal(b, want) {
			t.Errorf("PROTOCOL.md's %s:\n  doc %x\n want %x", name, b, want)
		}
	}
	types := map[Type]bool{}
	for _, v := range vectors() {
		if _, ok := doc[v.name]; ok {
			types[v.p.Type()] = true
		}
	}
	for ty := TypeHello; ty <= TypeError; ty++ {
		if !types[ty] {
			t.Errorf("no annotated vector in PROTOCOL.md for packet type %d (%v)", ty, ty)
		}
	}
	if _, ok := doc["message"]; !ok {
		t.Error("no annotated vector in PROTOCOL.md for the encoded message")
	}
}
