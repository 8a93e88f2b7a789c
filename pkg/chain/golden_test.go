package chain_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/ssoctl/ssoctl/pkg/chain"
)

// updating reports whether -update was given. The flag is load_test.go's
// (package chain and chain_test share one test binary, so one definition).
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// oneTime are the values of a sandbox walk that change on every run: the
// roles' sealed states, the dev chain's generated key id, token ids.
var oneTime = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`state(=|%3D)[A-Za-z0-9_.%-]+`), "state${1}STATE"},
	{regexp.MustCompile(`"kid": "[^"]*"`), `"kid": "KID"`},
	{regexp.MustCompile(`"jti_prefix": "[^"]*"`), `"jti_prefix": "JTI…"`},
	{regexp.MustCompile(`"chn": "[^"]*"`), `"chn": "CHN"`},
}

// TestWalkGolden pins the JSON of clean traces: acme's, fully determined by
// its fixed clock, key and ids, and the DESIGN §12 chain's with its
// one-time values replaced. Timings are zeroed.
func TestWalkGolden(t *testing.T) {
	tests := []struct {
		name    string
		oneTime bool // replace the oneTime values
		run     func(t *testing.T) *chain.Trace
	}{
		{"acme", false, func(t *testing.T) *chain.Trace {
			a := startAcme(t, acmeFaults{})
			c := a.chain()
			b := a.browser(c, acmeUser, acmePass)
			tr := walk(t, b, acmeStart())
			b.Expect(context.Background(), tr, c.Expect)
			return tr
		}},
		{"design-hub", true, func(t *testing.T) *chain.Trace {
			sb := standUp(t, designChain)
			b := sb.browser(nil)
			tr := walk(t, b, chain.StartURL(sb.chain))
			b.Expect(context.Background(), tr, sb.chain.Expect)
			return tr
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := tt.run(t)
			tr.ElapsedMS = 0
			for i := range tr.Steps {
				tr.Steps[i].AtMS, tr.Steps[i].ElapsedMS = 0, 0
			}
			got := traceJSON(t, tr)
			for _, r := range oneTime {
				if tt.oneTime {
					got = r.re.ReplaceAllString(got, r.with)
				}
			}
			path := filepath.Join("testdata", "trace", tt.name+".json")
			if updating() {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("trace differs from %s (run with -update to accept):\n%s", path, got)
			}
		})
	}
}
