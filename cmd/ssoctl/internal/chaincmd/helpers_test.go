package chaincmd_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/root"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// exampleChain is the chain of examples/local, as tests reach it from this
// package's directory.
const exampleChain = "../../../../examples/local/chain.yaml"

// chainFile is a fixture under testdata/chains.
func chainFile(name string) string { return filepath.Join("testdata", "chains", name+".yaml") }

// leakMarker is in every secret value of the fixtures (and only there):
// output that holds it shows a secret.
const leakMarker = "LEAK"

// secretValues are the secret values of the fixtures that do not carry
// leakMarker, and the example's inline dev secrets.
var secretValues = []string{
	"not-shown-ACCEPTANCE-PASSWORD",
	"not-shown-RELAY-PASSWORD",
	"not-shown-RELAY-SECRET-0123456789abcdef",
	"dev-only-hs256-secret-for-examples-local-not-for-production",
	"wonderland",
}

// cli is one in-process ssoctl with fake streams and the fixed clock.
type cli struct {
	t      *testing.T
	f      *cmdutil.Factory
	ios    *cmdutil.IOStreams
	in     *bytes.Buffer
	out    *bytes.Buffer
	errOut *bytes.Buffer
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	ios, in, out, errOut := cmdutil.Test()
	return &cli{
		t: t, ios: ios, in: in, out: out, errOut: errOut,
		f: &cmdutil.Factory{
			IO:        ios,
			LookupEnv: func(string) (string, bool) { return "", false },
			Now:       func() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) },
			Version:   "v0.0.0-test",
			Output:    cmdutil.FormatText,
		},
	}
}

// result is what one run left behind.
type result struct {
	Code   int
	Stdout string
	Stderr string
}

// run runs ssoctl args through root.Main, as main does, and checks that no
// secret from a fixture reached either stream.
func (c *cli) run(args ...string) result {
	c.t.Helper()
	c.out.Reset()
	c.errOut.Reset()
	code := root.Main(c.f, args)
	r := result{Code: code, Stdout: c.out.String(), Stderr: c.errOut.String()}
	assertNoSecret(c.t, r.Stdout+r.Stderr)
	return r
}

func assertNoSecret(t *testing.T, s string) {
	t.Helper()
	if strings.Contains(s, leakMarker) {
		t.Errorf("output holds a secret value (marked %s):\n%s", leakMarker, s)
	}
	for _, v := range secretValues {
		if strings.Contains(s, v) {
			t.Errorf("output holds the secret value %q:\n%s", v, s)
		}
	}
}

// expect is what a run must show.
type expect struct {
	code        int
	stdout      []string
	stderr      []string
	notStdout   []string
	emptyStdout bool
	emptyStderr bool
}

func (r result) check(t *testing.T, want expect) {
	t.Helper()
	if r.Code != want.code {
		t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.Code, want.code, r.Stdout, r.Stderr)
	}
	for _, s := range want.stdout {
		if !strings.Contains(r.Stdout, s) {
			t.Errorf("stdout does not contain %q:\n%s", s, r.Stdout)
		}
	}
	for _, s := range want.stderr {
		if !strings.Contains(r.Stderr, s) {
			t.Errorf("stderr does not contain %q:\n%s", s, r.Stderr)
		}
	}
	for _, s := range want.notStdout {
		if strings.Contains(r.Stdout, s) {
			t.Errorf("stdout contains %q:\n%s", s, r.Stdout)
		}
	}
	if want.emptyStdout && r.Stdout != "" {
		t.Errorf("stdout is not empty:\n%s", r.Stdout)
	}
	if want.emptyStderr && r.Stderr != "" {
		t.Errorf("stderr is not empty:\n%s", r.Stderr)
	}
}

// jsonDoc decodes stdout as exactly one JSON object with the schema version.
func jsonDoc(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, s)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON document:\n%s", s)
	}
	if v, ok := m["schema_version"].(float64); !ok || v != cmdutil.SchemaVersion {
		t.Errorf("schema_version = %v, want %d", m["schema_version"], cmdutil.SchemaVersion)
	}
	return m
}

// golden compares got with testdata/name, or rewrites it with -update.
// Golden files are committed, so no secret may reach one.
func golden(t *testing.T, name, got string) {
	t.Helper()
	assertNoSecret(t, got)
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test -update to accept it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// writeChain writes a chain file into a temporary directory.
func writeChain(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "chain.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
