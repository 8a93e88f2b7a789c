package tracecmd_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/root"
	"github.com/ssoctl/ssoctl/internal/testenv"
	"github.com/ssoctl/ssoctl/pkg/chain"
)

const exampleChain = "../../../../examples/local/chain.yaml"

// secrets are values no output may hold: the example's dev password and
// token secret, and the password the tests pass through the environment.
var secrets = []string{"wonderland", "dev-only-hs256-secret-for-examples-local-not-for-production", "env-password-not-shown"}

type result struct {
	code           int
	stdout, stderr string
}

// run runs ssoctl args in process, as main does, and checks that no secret
// and no token reached either stream.
func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ios, in, out, errOut := cmdutil.Test()
	in.WriteString(stdin)
	f := &cmdutil.Factory{
		IO: ios,
		LookupEnv: func(k string) (string, bool) {
			if k == "TRACE_PW" {
				return "env-password-not-shown", true
			}
			return "", false
		},
		Now:     time.Now,
		Version: "v0.0.0-test",
		Output:  cmdutil.FormatText,
	}
	code := root.Main(f, args)
	r := result{code: code, stdout: out.String(), stderr: errOut.String()}
	for _, s := range secrets {
		if strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("output holds %q:\n%s\n%s", s, r.stdout, r.stderr)
		}
	}
	if jwt := testenv.JWT.FindString(r.stdout + r.stderr); jwt != "" {
		t.Errorf("output holds a JWT (%.20s…):\n%s\n%s", jwt, r.stdout, r.stderr)
	}
	return r
}

// TestUsageErrors: every bad flag or file is exit 2, one "ssoctl:" line
// and a hint, and nothing on stdout (which may feed a pipe or a CI
// artefact).
func TestUsageErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("version: 1\nname: x\nissuer: {url: http://a.example}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		err  string // the "ssoctl:" line
		hint string
	}{
		{"nothing to walk", []string{"trace", "chain"},
			"nothing to walk: give -f FILE or --start URL", "walk a chain file with -f FILE"},
		{"--sandbox without -f", []string{"trace", "chain", "--sandbox", "--start", "http://a.localhost/"},
			"--sandbox needs -f FILE", "add -f FILE, or drop --sandbox"},
		{"--idp-url without -f", []string{"trace", "chain", "--idp-url", "http://auth.company.localhost:4433", "--start", "http://a.localhost/"},
			"--idp-url and --idp-admin-url need -f FILE", "add -f FILE"},
		{"--idp-url that the file's cookie domain does not cover", []string{"trace", "chain", "-f", "../../../../examples/kratos/chain.yaml", "--sandbox", "--idp-url", "http://auth.elsewhere.localhost:4433"},
			"chain.yaml has 1 error; nothing to walk", "fix the errors above"},
		{"both password sources", []string{"trace", "chain", "-f", exampleChain, "--user", "a@example.com", "--password-env", "TRACE_PW", "--password-file", "pw.txt"},
			"--password-env and --password-file cannot be combined", "give one password source"},
		{"a password flag does not exist", []string{"trace", "chain", "-f", exampleChain, "--password", "hunter2"},
			"unknown flag: --password", "ssoctl trace chain --help"},
		{"--password-env unset", []string{"trace", "chain", "-f", exampleChain, "--password-env", "NOT_SET"},
			"environment variable NOT_SET is not set or empty", "export it"},
		{"--password-env without a user", []string{"trace", "chain", "--start", "https://a.example/", "--password-env", "TRACE_PW"},
			"--password-env needs --user", "--user"},
		{"a user the file does not know, without a password", []string{"trace", "chain", "-f", exampleChain, "--user", "bob@example.com"},
			"no password for --user bob@example.com", "--password-env NAME"},
		{"unknown -o", []string{"trace", "chain", "-f", exampleChain, "-o", "yaml"},
			`output format "yaml" is not supported here`, ""},
		{"-o dot is chain graph's", []string{"-o", "dot", "trace", "chain", "-f", exampleChain},
			`output format "dot" is not supported here`, ""},
		{"--resolve without an address", []string{"trace", "chain", "-f", exampleChain, "--resolve", "accounts.company.localhost:8080"},
			`--resolve "accounts.company.localhost:8080": want HOST:PORT:ADDR`, "write it like curl"},
		{"--resolve to a host name", []string{"trace", "chain", "-f", exampleChain, "--resolve", "a.example:443:localhost"},
			`address "localhost" is not an IP address`, "write it like curl"},
		{"--resolve port out of range", []string{"trace", "chain", "-f", exampleChain, "--resolve", "a.example:99999:127.0.0.1"},
			`port "99999" is not a number from 1 to 65535`, "write it like curl"},
		{"--resolve with a list", []string{"trace", "chain", "-f", exampleChain, "--resolve", "a.example:443:127.0.0.1,127.0.0.2"},
			"give one address, not a list", "write it like curl"},
		{"--resolve curl's + prefix", []string{"trace", "chain", "-f", exampleChain, "--resolve", "+a.example:443:127.0.0.1"},
			"curl's +/- prefixes are not supported", "write it like curl"},
		{"--resolve twice, differently", []string{"trace", "chain", "-f", exampleChain, "--resolve", "a.example:443:127.0.0.1", "--resolve", "A.example:443:127.0.0.2"},
			"--resolve maps a.example:443 twice", "give each HOST:PORT once"},
		{"--expect-cookie without a name", []string{"trace", "chain", "-f", exampleChain, "--expect-cookie", "portal.company2.localhost"},
			`--expect-cookie "portal.company2.localhost": want HOST=NAME`, "HOST=NAME"},
		{"--expect-cookie with a bad name", []string{"trace", "chain", "-f", exampleChain, "--expect-cookie", "a.example=x;y"},
			`is not a cookie name`, "a cookie name is a token"},
		{"--start not http", []string{"trace", "chain", "--start", "ftp://a.example/"},
			"--start must be an http or https URL", "give an absolute URL"},
		{"--start with a password", []string{"trace", "chain", "--start", "https://u:hunter2@a.example/"},
			"--start holds a user name or password", "--password-env"},
		{"negative --max-hops", []string{"trace", "chain", "-f", exampleChain, "--max-hops", "-1"},
			"--max-hops -1: must be at least 0", ""},
		{"zero --timeout", []string{"trace", "chain", "-f", exampleChain, "--timeout", "0s"},
			"--timeout 0s: must be more than 0", "--timeout 10s"},
		{"a positional file", []string{"trace", "chain", "chain.yaml"},
			`unexpected argument "chain.yaml"`, "'ssoctl trace chain -f chain.yaml'"},
		{"a missing file", []string{"trace", "chain", "-f", "nope.yaml", "--sandbox"},
			"chain file: open nope.yaml: no such file or directory", "check the path given to -f"},
		{"a file with errors", []string{"trace", "chain", "-f", bad, "--sandbox"},
			"bad.yaml has 3 errors; nothing to walk", "'ssoctl chain lint -f"},
		{"an unknown verb", []string{"trace", "chian"},
			`unknown command "chian" for "ssoctl trace"`, "did you mean 'ssoctl trace chain'?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, "", tt.args...)
			if r.code != cmdutil.ExitUsage {
				t.Errorf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout: %s", r.stdout)
			}
			if !regexp.MustCompile(`(?m)^ssoctl: .*` + regexp.QuoteMeta(tt.err)).MatchString(r.stderr) {
				t.Errorf("no ssoctl: line with %q:\n%s", tt.err, r.stderr)
			}
			if tt.hint != "" && !regexp.MustCompile(`(?m)^hint: .*`+regexp.QuoteMeta(tt.hint)).MatchString(r.stderr) {
				t.Errorf("no hint with %q:\n%s", tt.hint, r.stderr)
			}
			if strings.Contains(r.stderr, "hunter2") {
				t.Errorf("stderr echoes the password:\n%s", r.stderr)
			}
		})
	}
}

// TestHelp: the command is in the tree and says what it does, and no flag
// takes a password.
func TestHelp(t *testing.T) {
	r := run(t, "", "trace", "chain", "--help")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"--sandbox", "--start URL", "--resolve", "--password-env NAME", "--password-file PATH", "--probe",
		"--expect-final-url-prefix", "--max-hops", "--expect-cookie HOST=NAME", "--max-token-lifetime", "--max-total-time", "--timeout",
		"Exit status: 0 the walk is clean; 1 an error finding"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("help lacks %q", want)
		}
	}
	if regexp.MustCompile(`(?m)^\s+--password\s`).MatchString(r.stdout) {
		t.Error("a --password flag exists")
	}
}

// hopLine matches a hop row of the plain table: number, method, host+path
// and status.
var hopLine = regexp.MustCompile(`(?m)^(\d+)\s+(GET|POST)\s+(\S+)\s+(\d{3})\s`)

// TestSandbox_example is the acceptance run: the example chain in
// process, with probes, prints every hop and exits 0; and so in every
// format.
func TestSandbox_example(t *testing.T) {
	r := run(t, "", "trace", "chain", "-f", exampleChain, "--sandbox", "--probe")
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	hops := hopLine.FindAllStringSubmatch(r.stdout, -1)
	want := []string{
		"GET accounts.company.localhost:8080/login?return_to=… 303",
		"GET auth.company.localhost:4433/self-service/login/browser?return_to=… 200",
		"POST auth.company.localhost:4433/self-service/login 303",
		"GET accounts.company.localhost:8080/callback?state=… 303",
		"GET portal.company2.localhost:8081/sso?token=… 303",
		"GET accounts.company.localhost:8080/sso/continue?state=… 303",
		"GET dashboard.company3.localhost:8082/sso?token=… 303",
		"GET accounts.company.localhost:8080/sso/continue?state=… 303",
		"GET dashboard.company3.localhost:8082/ 200",
	}
	var got []string
	for _, h := range hops {
		got = append(got, h[2]+" "+h[3]+" "+h[4])
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("hops:\n%s\nwant:\n%s\n\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), r.stdout)
	}
	if !strings.Contains(r.stdout, "\nPASS 9 steps in ") {
		t.Errorf("no PASS verdict:\n%s", r.stdout)
	}

	j := run(t, "", "trace", "chain", "-f", exampleChain, "--sandbox", "-o", "junit")
	var doc struct {
		XMLName xml.Name `xml:"testsuites"`
		Suites  []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Cases    []struct {
				Classname string `xml:"classname,attr"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if j.code != 0 {
		t.Errorf("-o junit: exit %d", j.code)
	}
	if err := xml.Unmarshal([]byte(j.stdout), &doc); err != nil || len(doc.Suites) != 1 {
		t.Fatalf("-o junit is not one JUnit suite: %v\n%s", err, j.stdout)
	}
	if s := doc.Suites[0]; s.Name != "trace chain company" || s.Failures != 0 || s.Tests != len(s.Cases) || s.Tests < 1+9+2 {
		t.Errorf("suite %q: %d tests, %d failures, %d cases", s.Name, s.Tests, s.Failures, len(s.Cases))
	}

	m := run(t, "", "trace", "chain", "-f", exampleChain, "--sandbox", "-o", "mermaid")
	if m.code != 0 || !strings.HasPrefix(m.stdout, "sequenceDiagram\n") || strings.Count(m.stdout, "    Browser->>") != 9 {
		t.Errorf("-o mermaid: exit %d\n%s", m.code, m.stdout)
	}

	js := run(t, "", "-o", "json", "trace", "chain", "-f", exampleChain, "--sandbox")
	var trace struct {
		SchemaVersion int    `json:"schema_version"`
		Mode          string `json:"mode"`
		Steps         []any  `json:"steps"`
	}
	dec := json.NewDecoder(strings.NewReader(js.stdout))
	if err := dec.Decode(&trace); err != nil || dec.More() {
		t.Fatalf("-o json is not one document: %v\n%s", err, js.stdout)
	}
	if js.code != 0 || trace.SchemaVersion != 1 || trace.Mode != "sandbox" || len(trace.Steps) != 9 {
		t.Errorf("-o json: exit %d, %+v", js.code, trace)
	}
}

// TestSandbox_wrongPassword: a password from the environment that the dev
// IdP refuses stops the walk at the login form, which is a failed trace,
// not a usage error; the password never shows.
func TestSandbox_wrongPassword(t *testing.T) {
	r := run(t, "", "trace", "chain", "-f", exampleChain, "--sandbox", "--user", "alice@example.com", "--password-env", "TRACE_PW")
	if r.code != cmdutil.ExitCheckFailed {
		t.Fatalf("exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "✗ final_url_prefix") {
		t.Errorf("the failed expectation is not shown:\n%s", r.stdout)
	}
}

// TestLive_sameHopsAsSandbox: the same chain walked live (its roles on
// their listen addresses, as serve dev runs them) and in the sandbox gives
// the same hop list.
func TestLive_sameHopsAsSandbox(t *testing.T) {
	file := serveChain(t)
	live := run(t, "", "-o", "json", "trace", "chain", "-f", file)
	sandbox := run(t, "", "-o", "json", "trace", "chain", "-f", file, "--sandbox")
	if live.code != 0 || sandbox.code != 0 {
		t.Fatalf("live exit %d, sandbox exit %d\n%s\n%s\n%s", live.code, sandbox.code, live.stdout, live.stderr, sandbox.stdout)
	}
	hops := func(doc string) []string {
		var tr struct {
			Steps []struct {
				Method string `json:"method"`
				URL    string `json:"url"`
				Status int    `json:"status"`
				Kind   string `json:"kind"`
			} `json:"steps"`
		}
		if err := json.Unmarshal([]byte(doc), &tr); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range tr.Steps {
			u, _, _ := strings.Cut(s.URL, "?")
			out = append(out, s.Method+" "+u+" "+s.Kind+" "+string(rune('0'+s.Status/100)))
		}
		return out
	}
	l, s := hops(live.stdout), hops(sandbox.stdout)
	if len(l) != 9 || strings.Join(l, "\n") != strings.Join(s, "\n") {
		t.Errorf("live hops:\n%s\nsandbox hops:\n%s", strings.Join(l, "\n"), strings.Join(s, "\n"))
	}
	if !bytes.Contains([]byte(live.stdout), []byte(`"mode": "live"`)) {
		t.Error("the live walk is not labelled live")
	}
}

// TestSandbox_brokenExamples: each chain in examples/broken, stood up and
// probed, is exit 1 with exactly the finding code its README names, and
// no other: a second code would send whoever reads the report after a
// consequence instead of the cause.
func TestSandbox_brokenExamples(t *testing.T) {
	tests := []struct {
		file string
		code string
	}{
		{"long-lived-token.yaml", "SSO101"},
		{"skips-audience.yaml", "SSO102"},
		{"broad-cookie-domain.yaml", "SSO201"},
		{"open-return-to.yaml", "SSO302"},
		{"redirect-loop.yaml", "SSO301"},
	}
	readme, err := os.ReadFile("../../../../examples/broken/README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			if !regexp.MustCompile(`(?m)^\| \[` + regexp.QuoteMeta(tt.file) + `\].*` + "`" + tt.code + "`").Match(readme) {
				t.Errorf("examples/broken/README.md does not give %s the code %s", tt.file, tt.code)
			}
			r := run(t, "", "-o", "json", "trace", "chain", "-f", "../../../../examples/broken/"+tt.file, "--sandbox", "--probe")
			if r.code != cmdutil.ExitCheckFailed {
				t.Fatalf("exit %d, want %d\n%s\n%s", r.code, cmdutil.ExitCheckFailed, r.stdout, r.stderr)
			}
			var doc struct {
				Findings []struct {
					Code string `json:"code"`
				} `json:"findings"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
				t.Fatalf("-o json: %v\n%s", err, r.stdout)
			}
			var codes []string
			for _, f := range doc.Findings {
				if !slices.Contains(codes, f.Code) {
					codes = append(codes, f.Code)
				}
			}
			if len(codes) != 1 || codes[0] != tt.code {
				t.Errorf("finding codes %v, want exactly [%s]", codes, tt.code)
			}
		})
	}
}

// TestSandbox_relayExample: examples/relay walks from receiver to
// receiver with no trip back to the issuer, labels each receiver-minted
// handoff with its minter, and reports it as SSO107, a warning: the trace
// passes, probes and logout included.
func TestSandbox_relayExample(t *testing.T) {
	const file = "../../../../examples/relay/chain.yaml"
	r := run(t, "", "trace", "chain", "-f", file, "--sandbox", "--probe", "--logout")
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	var got []string
	for _, h := range hopLine.FindAllStringSubmatch(r.stdout, -1) {
		got = append(got, h[2]+" "+h[3]+" "+h[4])
	}
	want := []string{
		"GET accounts.relay.localhost:9080/login?return_to=… 303",
		"GET auth.relay.localhost:4533/self-service/login/browser?return_to=… 200",
		"POST auth.relay.localhost:4533/self-service/login 303",
		"GET accounts.relay.localhost:9080/callback?state=… 303",
		"GET shop.relay2.localhost:9081/sso?token=… 303",
		"GET blog.relay3.localhost:9082/sso?token=… 303",
		"GET help.relay4.localhost:9083/sso?token=… 303",
		"GET help.relay4.localhost:9083/ 200",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("hops:\n%s\nwant:\n%s\n\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), r.stdout)
	}
	for _, s := range []string{"aud=blog ttl=30s", "by=shop", "by=blog", "SSO107 warning at step 6 on blog.relay3.localhost", "shop minted the handoff for blog itself", "26 of 26 probes refused"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("the trace does not show %q:\n%s", s, r.stdout)
		}
	}

	js := run(t, "", "-o", "json", "trace", "chain", "-f", file, "--sandbox")
	var doc struct {
		Steps []struct {
			Token *struct {
				Issuer   string `json:"iss"`
				MintedBy string `json:"minted_by"`
			} `json:"token"`
		} `json:"steps"`
		Findings []struct {
			Code, Severity string
			Step           int
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(js.stdout), &doc); err != nil || js.code != 0 {
		t.Fatalf("-o json: exit %d, %v\n%s", js.code, err, js.stdout)
	}
	var minted []string
	for _, s := range doc.Steps {
		if s.Token != nil {
			minted = append(minted, s.Token.Issuer+" "+s.Token.MintedBy)
		}
	}
	wantMinted := []string{"http://accounts.relay.localhost:9080 ", "http://shop.relay2.localhost:9081 shop", "http://blog.relay3.localhost:9082 blog"}
	if !slices.Equal(minted, wantMinted) {
		t.Errorf("token iss and minted_by: %q, want %q", minted, wantMinted)
	}
	if len(doc.Findings) != 2 || doc.Findings[0].Code != "SSO107" || doc.Findings[0].Severity != "warning" || doc.Findings[1].Step != 7 {
		t.Errorf("findings: %+v, want SSO107 warnings at steps 6 and 7", doc.Findings)
	}
}

// TestLive_relay: a relay chain served live, walked with its file and
// walked from its login URL alone (--start, no file: a chain that is not
// ssoctl's), is seen as relay both ways.
func TestLive_relay(t *testing.T) {
	file := serveChain(t, "mode: relay\n")
	live := run(t, "", "trace", "chain", "-f", file)
	if live.code != 0 || !strings.Contains(live.stdout, "by=portal") || !strings.Contains(live.stdout, "SSO107 warning at step 6") {
		t.Errorf("live with the file: exit %d\n%s\n%s", live.code, live.stdout, live.stderr)
	}
	if strings.Contains(live.stdout, "/sso/continue") {
		t.Errorf("a relay walk went back to the issuer:\n%s", live.stdout)
	}
	c, err := chain.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	start := c.Issuer.URL + chain.LoginPath + "?" + url.Values{chain.ReturnToParam: {c.Receivers[1].URL + "/"}}.Encode()
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("wonderland\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bare := run(t, "", "trace", "chain", "--start", start, "--user", "alice@example.com", "--password-file", pw)
	if !strings.Contains(bare.stdout, "SSO107 warning at step 6") || !strings.Contains(bare.stdout, "by=portal.company2.localhost") {
		t.Errorf("--start without a file: exit %d\n%s\n%s", bare.code, bare.stdout, bare.stderr)
	}
}
