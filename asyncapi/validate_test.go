package asyncapi

import (
	"bytes"
	"errors"
	"os"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

// The official AsyncAPI 3.0.0 JSON Schema, from the npm package
// @asyncapi/specs: schemas/3.0.0.json is the bundled one, every definition
// it refers to (JSON Schema draft-07 included) embedded under its $id.
// It is not kept in the repository: scripts/test.sh installs the package
// and sets MESHMQ_ASYNCAPI_SCHEMA to the file.
const (
	schemaEnv = "MESHMQ_ASYNCAPI_SCHEMA"
	schemaID  = "http://asyncapi.com/definitions/3.0.0/asyncapi.json"
	schemaHow = "run ./scripts/test.sh, which installs it, or: " +
		"npm install --prefix ~/.cache/meshmq/asyncapi-specs-6.11.1 @asyncapi/specs@6.11.1 && " +
		"export MESHMQ_ASYNCAPI_SCHEMA=~/.cache/meshmq/asyncapi-specs-6.11.1/node_modules/@asyncapi/specs/schemas/3.0.0.json"
)

var (
	schemaMu sync.Mutex
	compiled = make(map[string]*jsonschema.Schema) // by path
)

// offline refuses every load: the bundle and the library's own
// metaschemas hold all that the schema refers to.
type offline struct{}

func (offline) Load(url string) (any, error) {
	return nil, errors.New("not loading " + url + ": the AsyncAPI schema must be self-contained (no network at test time)")
}

// officialSchema compiles the schema named by MESHMQ_ASYNCAPI_SCHEMA. It
// fails the test, never skips, when there is none.
func officialSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	path := os.Getenv(schemaEnv)
	if path == "" {
		t.Fatalf("%s is not set: it names the AsyncAPI 3.0.0 JSON schema (@asyncapi/specs, schemas/3.0.0.json); %s", schemaEnv, schemaHow)
	}
	s, err := compileSchema(path)
	if err != nil {
		t.Fatalf("%s=%s: %v; %s", schemaEnv, path, err, schemaHow)
	}
	return s
}

func compileSchema(path string) (*jsonschema.Schema, error) {
	schemaMu.Lock()
	defer schemaMu.Unlock()
	if s := compiled[path]; s != nil {
		return s, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(offline{})
	if err := c.AddResource(schemaID, doc); err != nil {
		return nil, err
	}
	s, err := c.Compile(schemaID)
	if err != nil {
		return nil, err
	}
	compiled[path] = s
	return s, nil
}

// validJSON validates a document's JSON against the official schema.
func validJSON(t testing.TB, j []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatalf("the document is not JSON: %v", err)
	}
	if err := officialSchema(t).Validate(inst); err != nil {
		t.Fatalf("the document is not valid AsyncAPI 3.0.0: %v\n%s", err, j)
	}
}

// valid validates d's JSON and its YAML (read back as JSON), and returns
// the JSON.
func valid(t testing.TB, d *Document) []byte {
	t.Helper()
	j, err := d.JSON()
	if err != nil {
		t.Fatal(err)
	}
	validJSON(t, j)
	y, err := d.YAML()
	if err != nil {
		t.Fatal(err)
	}
	fromYAML, err := yaml.YAMLToJSON(y)
	if err != nil {
		t.Fatalf("the YAML does not parse: %v\n%s", err, y)
	}
	validJSON(t, fromYAML)
	return j
}
