package asyncapi

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/meshmq/meshmq/discovery"
)

var update = flag.Bool("update", false, "rewrite testdata/shop.yaml")

// The test cluster's document, with fixed endpoints, is
// testdata/shop.yaml: a change to what documents say shows in review.
// go test ./asyncapi -run TestGolden -update rewrites it.
func TestGolden(t *testing.T) {
	billing, audit, orders := shop(t)
	var members []discovery.Member
	for i, p := range []*testPeer{billing, audit, orders} {
		m := p.Advertisement()
		m.Endpoint = fmt.Sprintf("tcp://127.0.0.1:%d", 7001+i)
		members = append(members, m)
	}
	doc, err := ForMembers(Info{Title: "shop", Version: "1.0.0"}, members...)
	if err != nil {
		t.Fatal(err)
	}
	valid(t, doc)
	y, err := doc.YAML()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "shop.yaml")
	if *update {
		if err := os.WriteFile(path, y, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./asyncapi -run TestGolden -update writes it)", err)
	}
	if !bytes.Equal(y, want) {
		t.Errorf("the document differs from %s (-update rewrites it):\n%s", path, y)
	}
}
