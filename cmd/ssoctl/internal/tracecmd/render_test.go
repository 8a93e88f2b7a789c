package tracecmd

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/pkg/chain"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// render prints t in format as the command does, on streams that are not
// a terminal unless tty.
func render(t *testing.T, format string, tr *chain.Trace, tty bool) string {
	t.Helper()
	ios, _, out, _ := cmdutil.Test()
	ios.SetStdoutTTY(tty)
	opts := &ChainOptions{IO: ios, f: &cmdutil.Factory{IO: ios, Output: format}, receivers: exampleReceivers}
	if err := opts.print(format, tr); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
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

// TestGolden pins every renderer's whole output for a clean walk, a
// failing one and one cut short by an unreachable host.
func TestGolden(t *testing.T) {
	fixtures := map[string]func() *chain.Trace{"ok": okTrace, "failed": failedTrace, "unreachable": unreachableTrace}
	exts := map[string]string{cmdutil.FormatText: "txt", cmdutil.FormatJSON: "json", FormatJUnit: "junit.xml", FormatMermaid: "mmd"}
	for name, fixture := range fixtures {
		for format, ext := range exts {
			t.Run(name+"."+ext, func(t *testing.T) {
				golden(t, name+"."+ext, render(t, format, fixture(), false))
			})
		}
	}
}

// TestText_terminal: on a terminal the table has borders and color, and
// every hop, cookie and token of the plain output is still there.
func TestText_terminal(t *testing.T) {
	styled := render(t, cmdutil.FormatText, failedTrace(), true)
	if !strings.Contains(styled, "\x1b[") || !strings.Contains(styled, "╭") {
		t.Fatalf("no color or border on a terminal:\n%s", styled)
	}
	plain := ansi.ReplaceAllString(styled, "")
	for _, want := range []string{
		"portal.company2.localhost:8081/sso?token=…", "portal_session Lax host-only", "aud=portal ttl=30s jti=3f2a9c01…",
		"SSO102 error at step 7 on dashboard.company3.localhost:8082", "✗ max_hops", "✗ wrong_audience",
		"FAIL 9 steps in 52.4 ms",
	} {
		if !strings.Contains(plain, want) {
			t.Errorf("terminal output lacks %q:\n%s", want, plain)
		}
	}
	if strings.Contains(render(t, cmdutil.FormatText, failedTrace(), false), "\x1b") {
		t.Error("plain output holds an escape")
	}
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// TestJUnit_structure reads the JUnit document back against the de-facto
// schema CI reporters use: <testsuites> of <testsuite>, each <testcase>
// with classname, name and a time in seconds, and counts that agree with
// the cases' <failure>, <error> and <skipped>.
func TestJUnit_structure(t *testing.T) {
	tests := []struct {
		name                             string
		trace                            *chain.Trace
		tests, failures, errors, skipped int
		wantCases                        []string // classname/name
		wantFailed                       []string
	}{
		{
			name: "clean", trace: okTrace(), tests: 1 + 9 + 4,
			wantCases: []string{"walk/walk", "hop/1 GET accounts.company.localhost:8080/login", "hop/5 GET portal.company2.localhost:8081/sso",
				"hop/9 GET dashboard.company3.localhost:8082/", "expectation/final_url_prefix", "expectation/auth[dashboard]"},
		},
		{
			name: "failed", trace: failedTrace(), tests: 1 + 9 + 5 + 8, failures: 6, skipped: 1, // logout_csrf is a warning: no failure
			wantFailed: []string{"hop/5 GET portal.company2.localhost:8081/sso", "hop/7 GET dashboard.company3.localhost:8082/sso", "expectation/max_hops",
				"probe/replay dashboard", "probe/wrong_audience dashboard", "probe/session_instances portal"},
		},
		{
			name: "unreachable", trace: unreachableTrace(), tests: 1 + 5, errors: 2,
			wantFailed: []string{"walk/walk", "hop/5 GET portal.company2.localhost:8081/sso"},
		},
		{name: "hostile", trace: hostileTrace(), tests: 1 + 1 + 1, failures: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := render(t, FormatJUnit, tt.trace, false)
			doc := parseJUnit(t, out)
			if len(doc.Suites) != 1 {
				t.Fatalf("%d testsuites, want 1", len(doc.Suites))
			}
			s := doc.Suites[0]
			if !strings.HasPrefix(s.Name, "trace chain ") {
				t.Errorf("testsuite name = %q", s.Name)
			}
			if s.Tests != tt.tests || s.Failures != tt.failures || s.Errors != tt.errors || s.Skipped != tt.skipped {
				t.Errorf("suite counts tests=%d failures=%d errors=%d skipped=%d, want %d %d %d %d",
					s.Tests, s.Failures, s.Errors, s.Skipped, tt.tests, tt.failures, tt.errors, tt.skipped)
			}
			if doc.Tests != s.Tests || doc.Failures != s.Failures || doc.Errors != s.Errors || doc.Skipped != s.Skipped {
				t.Errorf("testsuites counts differ from the suite's: %+v", doc)
			}
			got := map[string]bool{}
			failed := map[string]bool{}
			var nFail, nErr, nSkip int
			for _, c := range s.Cases {
				if c.Classname == "" || c.Name == "" {
					t.Errorf("testcase without classname or name: %+v", c)
				}
				if !timeAttr.MatchString(c.Time) {
					t.Errorf("testcase %q time = %q, want seconds", c.Name, c.Time)
				}
				key := c.Classname + "/" + c.Name
				got[key] = true
				if c.Failure != nil || c.Error != nil {
					failed[key] = true
				}
				for _, p := range []*junitProblem{c.Failure, c.Error} {
					if p != nil && (p.Message == "" || p.Type == "") {
						t.Errorf("%s: a failure without message or type: %+v", key, p)
					}
				}
				if c.Failure != nil {
					nFail++
				}
				if c.Error != nil {
					nErr++
				}
				if c.Skipped != nil {
					nSkip++
				}
			}
			if len(s.Cases) != s.Tests || nFail != s.Failures || nErr != s.Errors || nSkip != s.Skipped {
				t.Errorf("the cases (%d, %d failed, %d errors, %d skipped) disagree with the counts", len(s.Cases), nFail, nErr, nSkip)
			}
			for _, k := range tt.wantCases {
				if !got[k] {
					t.Errorf("no testcase %s; have %v", k, got)
				}
			}
			for _, k := range tt.wantFailed {
				if !failed[k] {
					t.Errorf("testcase %s does not fail", k)
				}
			}
			if n := len(failed); n != tt.failures+tt.errors {
				t.Errorf("%d failing cases, want %d: %v", n, tt.failures+tt.errors, failed)
			}
		})
	}
}

// mermaidEntity is an escape Mermaid decodes, like #59; for ';'.
var mermaidEntity = regexp.MustCompile(`#\d+;`)

var timeAttr = regexp.MustCompile(`^\d+\.\d{3}$`)

// parseJUnit decodes out strictly: one XML document, the header first,
// nothing after the root element.
func parseJUnit(t *testing.T, out string) junitSuites {
	t.Helper()
	if !strings.HasPrefix(out, `<?xml version="1.0" encoding="UTF-8"?>`) {
		t.Errorf("no XML declaration:\n%s", out)
	}
	dec := xml.NewDecoder(strings.NewReader(out))
	dec.Strict = true
	var doc junitSuites
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("not well-formed JUnit XML: %v\n%s", err, out)
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after the root element: %v", err)
		}
		if cd, ok := tok.(xml.CharData); !ok || len(bytes.TrimSpace(cd)) > 0 {
			t.Fatalf("content after the root element: %#v", tok)
		}
	}
	return doc
}

// TestHostileText: what a server sends back cannot drive a terminal, break
// the XML or inject Mermaid statements.
func TestHostileText(t *testing.T) {
	tr := hostileTrace()
	text := render(t, cmdutil.FormatText, tr, false)
	for _, bad := range []string{"\x1b", "\a", "\x00"} {
		if strings.Contains(text, bad) {
			t.Errorf("text holds %q:\n%q", bad, text)
		}
	}
	junit := render(t, FormatJUnit, tr, false)
	doc := parseJUnit(t, junit)
	if strings.Contains(junit, "\x1b") || !strings.Contains(doc.Suites[0].Cases[1].Name, "<script>") {
		t.Errorf("JUnit did not keep the markup as text, or kept the escape:\n%s", junit)
	}
	mmd := render(t, FormatMermaid, tr, false)
	for i, line := range strings.Split(strings.TrimSuffix(mmd, "\n"), "\n") {
		if i > 0 && !strings.HasPrefix(line, "    ") {
			t.Errorf("line %d escapes its statement: %q", i+1, line)
		}
		bare := mermaidEntity.ReplaceAllString(line, "")
		for _, bad := range []string{"\x1b", "<script>", ";", "<!--", "#"} {
			if strings.Contains(bare, bad) {
				t.Errorf("mermaid line %d holds %q: %q", i+1, bad, line)
			}
		}
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(render(t, cmdutil.FormatJSON, tr, false)), &m); err != nil {
		t.Errorf("JSON of a hostile trace does not parse: %v", err)
	}
}

// TestScrub: a token-shaped value that reached a trace anyway never
// reaches the output.
func TestScrub(t *testing.T) {
	tr := okTrace()
	jwt := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
	tr.Steps[8].Error = "server said " + jwt
	tr.Findings = []chain.Finding{chain.FindingTokenReferer.New(9, "x", "Referer held %s", jwt)}
	for _, format := range formats {
		if out := render(t, format, tr, false); strings.Contains(out, "eyJ") {
			t.Errorf("-o %s shows a token:\n%s", format, out)
		}
	}
}

func TestHostPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://accounts.company.localhost:8080/login?return_to=http%3A%2F%2Fx%2F", "accounts.company.localhost:8080/login?return_to=…"},
		{"http://portal.company2.localhost:8081/sso?token=<token aud=portal ttl=30s>", "portal.company2.localhost:8081/sso?token=…"},
		{"https://a.example", "a.example/"},
		{"https://a.example?x", "a.example/?x"},
		{"https://a.example/p#frag", "a.example/p"},
		{"http://auth.company.localhost:4433/self-service/login/browser/with/a/very/long/path/indeed?return_to=x&flow=y",
			"auth.company.localhost:4433/self-service/…/indeed?return_to=…&flow=…"},
		{"https://a.example/" + strings.Repeat("x", 80), "a.example/" + strings.Repeat("x", 61) + "…"},
	}
	for _, tt := range tests {
		if got := hostPath(tt.in); got != tt.want {
			t.Errorf("hostPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
