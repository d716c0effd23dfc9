package asyncapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/security"
)

// JSON writes every object's keys sorted, and YAML is the same document.
func TestRenderSortedAndEquivalent(t *testing.T) {
	doc, err := ForMembers(Info{}, discovery.Member{Name: "m", Endpoint: "tcp://127.0.0.1:1", Services: []string{"s"},
		Subscriptions: []discovery.Subscription{{Pattern: "t.>", Group: "g"}},
		MessageTypes: []discovery.MessageType{
			receive("s", "Cmd", channel.Command, schemaA), send("t.x", "Evt", channel.Event, schemaB),
		}})
	if err != nil {
		t.Fatal(err)
	}
	j := valid(t, doc)
	checkSorted(t, json.NewDecoder(bytes.NewReader(j)))
	y, err := doc.YAML()
	if err != nil {
		t.Fatal(err)
	}
	fromYAML, err := yaml.YAMLToJSON(y)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	if err := json.Unmarshal(j, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(fromYAML, &b); err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Errorf("YAML and JSON differ:\n%s\n---\n%s", ja, jb)
	}
	if !strings.HasPrefix(string(y), "asyncapi: 3.0.0\n") {
		t.Errorf("YAML starts with %q", strings.SplitN(string(y), "\n", 2)[0])
	}
}

// checkSorted reads one JSON value and fails if an object's keys are out
// of order.
func checkSorted(t *testing.T, dec *json.Decoder) {
	t.Helper()
	tok, err := dec.Token()
	if err != nil {
		t.Fatal(err)
	}
	switch tok {
	case json.Delim('{'):
		last := ""
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			if key := k.(string); key < last {
				t.Fatalf("key %q after %q", key, last)
			} else {
				last = key
			}
			checkSorted(t, dec)
		}
		dec.Token()
	case json.Delim('['):
		for dec.More() {
			checkSorted(t, dec)
		}
		dec.Token()
	}
}

// fatalRecorder is a testing.TB that records Fatalf and ends its goroutine.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// Without the schema the validation fails, saying how to get it; it
// never skips.
func TestSchemaRequired(t *testing.T) {
	for name, path := range map[string]string{"unset": "", "missing": filepath.Join(t.TempDir(), "3.0.0.json")} {
		t.Setenv(schemaEnv, path)
		f := &fatalRecorder{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			officialSchema(f)
		}()
		<-done
		if !strings.Contains(f.msg, schemaEnv) || !strings.Contains(f.msg, "npm install") || !strings.Contains(f.msg, "@asyncapi/specs") {
			t.Errorf("%s: the failure says %q", name, f.msg)
		}
	}
}

// A secured member's server refers to the CURVE security scheme and gives
// its public key; an insecure one does neither.
func TestSecuredServer(t *testing.T) {
	kp, err := security.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := ForMembers(Info{},
		discovery.Member{Name: "safe", Endpoint: "tcp://127.0.0.1:1", Key: kp.Public, Services: []string{"s"}},
		discovery.Member{Name: "open", Endpoint: "tcp://127.0.0.1:2", Services: []string{"s"}})
	if err != nil {
		t.Fatal(err)
	}
	valid(t, doc)
	safe, open := doc.Servers["safe"], doc.Servers["open"]
	if safe.CurveKey != kp.Public.String() || len(safe.Security) != 1 || safe.Security[0].Ref != "#/components/securitySchemes/curve" {
		t.Errorf("secured server: %+v", safe)
	}
	if open.CurveKey != "" || len(open.Security) != 0 {
		t.Errorf("insecure server: %+v", open)
	}
	if s := doc.Components.SecuritySchemes["curve"]; s == nil || s.Type != "asymmetricEncryption" {
		t.Errorf("security schemes: %+v", doc.Components.SecuritySchemes)
	}
	if got := refs(doc.Channels["s"].Servers); len(got) != 2 {
		t.Errorf("s is on %v", got)
	}
}
