package chaincmd_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/chaincmd"
)

func TestNewCmdLint_flags(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantFile   string
		wantStrict bool
		wantErr    string
	}{
		{name: "short", args: []string{"-f", "chain.yaml"}, wantFile: "chain.yaml"},
		{name: "long with strict", args: []string{"--file", "c.yaml", "--strict"}, wantFile: "c.yaml", wantStrict: true},
		{name: "stdin", args: []string{"-f", "-"}, wantFile: "-"},
		{name: "a positional file", args: []string{"chain.yaml"}, wantErr: `unexpected argument "chain.yaml"`},
		{name: "unknown flag", args: []string{"--fix"}, wantErr: "unknown flag: --fix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			var got *chaincmd.LintOptions
			cmd := chaincmd.NewCmdLint(c.f, func(o *chaincmd.LintOptions) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SetOut(c.out)
			cmd.SetErr(c.errOut)
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.File != tt.wantFile || got.Strict != tt.wantStrict {
				t.Errorf("options = %+v", got)
			}
		})
	}
}

// problemLine is one "FILE:LINE:COL: severity: message" line.
var problemLine = regexp.MustCompile(`(?m)^(\S+):(\d+):(\d+): (error|warning): (.+)$`)

func TestLint(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		args     []string
		stdin    string
		stdinTTY bool
		want     expect
	}{
		{
			name: "the example chain is ok",
			args: []string{"chain", "lint", "-f", exampleChain},
			want: expect{code: 0, emptyStderr: true, stdout: []string{exampleChain + ": ok (2 receivers, mode hub, HS256)\n"}},
		},
		{
			name: "acceptance: a bad key, http without dev, an inline password without dev",
			args: []string{"chain", "lint", "-f", chainFile("acceptance")},
			want: expect{code: 2, emptyStderr: true, stdout: []string{
				"testdata/chains/acceptance.yaml:10:44: error: idp.users[0].password is written inline; inline secrets need dev: true\n  fix: use {env: NAME} or {file: PATH}\n",
				"testdata/chains/acceptance.yaml:12:8: error: issuer.url http://accounts.company.com uses http, which only dev chains may\n",
				"testdata/chains/acceptance.yaml:18:36: error: unknown key \"tll\" in receivers[0].cookie\n  fix: did you mean \"ttl\"?\n",
				"\n3 errors, 1 warning\n",
			}},
		},
		{
			name: "warnings alone pass",
			args: []string{"chain", "lint", "-f", chainFile("warnings")},
			want: expect{code: 0, emptyStderr: true, stdout: []string{
				"testdata/chains/warnings.yaml:7:14: warning: idp.admin_url uses http",
				"testdata/chains/warnings.yaml: ok (1 receiver, mode hub, HS256), 2 warnings\n",
			}},
		},
		{
			name: "--strict makes warnings fail",
			args: []string{"chain", "lint", "-f", chainFile("warnings"), "--strict"},
			want: expect{code: 2, emptyStderr: true, stdout: []string{"\n2 warnings (--strict: warnings count as errors)\n"}, notStdout: []string{": ok"}},
		},
		{
			name: "--strict on a chain without warnings",
			args: []string{"chain", "lint", "-f", chainFile("relay"), "--strict"},
			want: expect{code: 0, emptyStderr: true, stdout: []string{"ok (3 receivers, mode relay, HS256)"}},
		},
		{
			name: "shared-cookie receivers are counted",
			args: []string{"chain", "lint", "-f", chainFile("shared-cookie")},
			want: expect{code: 0, emptyStderr: true, stdout: []string{"ok (3 receivers, 1 shared-cookie, mode hub, EdDSA)"}},
		},
		{
			name:  "from stdin",
			args:  []string{"chain", "lint", "-f", "-"},
			stdin: "version: 1\nname: x\nfrobnicate: true\n",
			want:  expect{code: 2, emptyStderr: true, stdout: []string{"<stdin>:3:1: error: unknown key \"frobnicate\" in the chain file\n"}},
		},
		{
			name:  "a YAML syntax error",
			args:  []string{"chain", "lint", "-f", "-"},
			stdin: "version: 1\nissuer:\n  url: http://a.localhost\n   listen: x\n",
			want:  expect{code: 2, emptyStderr: true, stdout: []string{"<stdin>:4:4: error: YAML syntax: ", "\n1 error\n"}},
		},
		{
			name:     "stdin that is a terminal",
			args:     []string{"chain", "lint", "-f", "-"},
			stdinTTY: true,
			want:     expect{code: 2, emptyStdout: true, stderr: []string{"ssoctl: -f - reads the chain file from stdin, which is a terminal\n"}},
		},
		{
			name: "an empty file",
			args: []string{"chain", "lint", "-f", "-"},
			want: expect{code: 2, emptyStderr: true, stdout: []string{"<stdin>:1:1: error: file is empty\n  fix: start with version: 1\n"}},
		},
		{
			name: "a missing file",
			args: []string{"chain", "lint", "-f", filepath.Join(dir, "nope.yaml")},
			want: expect{code: 2, emptyStdout: true, stderr: []string{"ssoctl: chain file: open ", "nope.yaml: no such file or directory\nhint: check the path given to -f\n"}},
		},
		{
			name: "a directory",
			args: []string{"chain", "lint", "-f", dir},
			want: expect{code: 2, emptyStdout: true, stderr: []string{"ssoctl: chain file: read ", "is a directory\nhint: -f takes the chain file itself, like " + dir + "/chain.yaml\n"}},
		},
		{
			name: "no -f",
			args: []string{"chain", "lint"},
			want: expect{code: 2, emptyStdout: true, stderr: []string{"ssoctl: -f is required: the chain file\nhint: pass the chain file, like 'ssoctl chain lint -f chain.yaml' (or -f - for stdin)\n"}},
		},
		{
			name: "the file as an argument",
			args: []string{"chain", "lint", "chain.yaml"},
			want: expect{code: 2, emptyStdout: true, stderr: []string{"ssoctl: unexpected argument \"chain.yaml\"\nhint: pass the chain file with -f: 'ssoctl chain lint -f chain.yaml'\n"}},
		},
		{
			name: "-o mermaid is not lint's",
			args: []string{"chain", "lint", "-f", exampleChain, "-o", "mermaid"},
			want: expect{code: 2, emptyStdout: true, stderr: []string{`ssoctl: output format "mermaid" is not supported here (use text or json)`}},
		},
		{
			name: "a typo in the verb",
			args: []string{"chain", "lnit"},
			want: expect{code: 2, emptyStdout: true, stderr: []string{"hint: did you mean 'ssoctl chain lint'?"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			c.in.WriteString(tt.stdin)
			c.ios.SetStdinTTY(tt.stdinTTY)
			c.run(tt.args...).check(t, tt.want)
		})
	}
}

// TestLint_acceptance is the acceptance: three errors, each on its
// own FILE:LINE:COL line, exit 2, and the password nowhere.
func TestLint_acceptance(t *testing.T) {
	c := newCLI(t)
	r := c.run("chain", "lint", "-f", chainFile("acceptance"))
	if r.Code != 2 {
		t.Fatalf("exit %d, want 2", r.Code)
	}
	var errs []string
	for _, m := range problemLine.FindAllStringSubmatch(r.Stdout, -1) {
		if m[4] == "error" {
			errs = append(errs, m[2]+":"+m[3])
		}
	}
	if want := []string{"10:44", "12:8", "18:36"}; strings.Join(errs, " ") != strings.Join(want, " ") {
		t.Errorf("error positions = %v, want %v\n%s", errs, want, r.Stdout)
	}
}

func TestLint_json(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		args      []string
		code      int
		valid     bool
		errors    float64
		warnings  float64
		positions []string // "line:col severity path" per problem
	}{
		{name: "acceptance", file: chainFile("acceptance"), code: 2, errors: 3, warnings: 1, positions: []string{
			"7:9 warning idp.kind", "10:44 error idp.users[0].password", "12:8 error issuer.url", "18:36 error receivers[0].cookie.tll",
		}},
		{name: "example", file: exampleChain, code: 0, valid: true},
		{name: "warnings", file: chainFile("warnings"), code: 0, valid: true, warnings: 2, positions: []string{
			"7:14 warning idp.admin_url", "9:8 warning issuer.url",
		}},
		{name: "warnings --strict", file: chainFile("warnings"), args: []string{"--strict"}, code: 2, warnings: 2, positions: []string{
			"7:14 warning idp.admin_url", "9:8 warning issuer.url",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			r := c.run(append([]string{"chain", "lint", "-o", "json", "-f", tt.file}, tt.args...)...)
			if r.Code != tt.code || r.Stderr != "" {
				t.Fatalf("exit %d, want %d; stderr: %s", r.Code, tt.code, r.Stderr)
			}
			doc := jsonDoc(t, r.Stdout)
			if doc["file"] != tt.file || doc["valid"] != tt.valid || doc["errors"] != tt.errors || doc["warnings"] != tt.warnings {
				t.Errorf("file %v valid %v errors %v warnings %v, want %s %v %v %v", doc["file"], doc["valid"], doc["errors"], doc["warnings"], tt.file, tt.valid, tt.errors, tt.warnings)
			}
			problems, ok := doc["problems"].([]any)
			if !ok {
				t.Fatalf("problems is %T, want an array (never null)", doc["problems"])
			}
			var got []string
			for _, p := range problems {
				m := p.(map[string]any)
				for _, k := range []string{"line", "col", "severity", "path", "message", "fix"} {
					if _, ok := m[k]; !ok {
						t.Errorf("problem %v has no %q", m, k)
					}
				}
				got = append(got, strings.Join([]string{jsonInt(m["line"]) + ":" + jsonInt(m["col"]), m["severity"].(string), m["path"].(string)}, " "))
			}
			if strings.Join(got, "|") != strings.Join(tt.positions, "|") {
				t.Errorf("problems = %q, want %q", got, tt.positions)
			}
		})
	}
}

func jsonInt(v any) string {
	f, _ := v.(float64)
	return strconv.Itoa(int(f))
}

// TestLint_jsonUnreadable: a file that cannot be read still gives one JSON
// document, with the reason, and exit 2.
func TestLint_jsonUnreadable(t *testing.T) {
	c := newCLI(t)
	r := c.run("chain", "lint", "-o", "json", "-f", filepath.Join(t.TempDir(), "missing.yaml"))
	if r.Code != 2 {
		t.Fatalf("exit %d, want 2", r.Code)
	}
	doc := jsonDoc(t, r.Stdout)
	if doc["valid"] != false || !strings.Contains(doc["error"].(string), "no such file or directory") {
		t.Errorf("doc = %v", doc)
	}
	if !strings.Contains(r.Stderr, "ssoctl: chain file: open ") {
		t.Errorf("stderr = %q", r.Stderr)
	}
}

// TestLint_secrets: secrets written into a chain file, in the right places
// or the wrong ones, never reach lint's output, in text or JSON, and the
// problems about them are still reported where they are.
func TestLint_secrets(t *testing.T) {
	for _, name := range []string{"secrets", "dev-secrets", "acceptance", "relay"} {
		raw, err := os.ReadFile(chainFile(name))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(raw), leakMarker) && !strings.Contains(string(raw), "not-shown-") {
			t.Fatalf("%s has no marked secret; the test would test nothing", name)
		}
		for _, format := range []string{"text", "json"} {
			t.Run(format+" "+name, func(t *testing.T) {
				// run fails the test if a marked secret is in either stream.
				r := newCLI(t).run("chain", "lint", "-o", format, "-f", chainFile(name))
				if name == "secrets" && r.Code != 2 {
					t.Errorf("a chain with misplaced secrets: exit %d, want 2", r.Code)
				}
			})
		}
	}
	// Each misplaced secret is still reported, once, at its place; pkg/chain
	// words the problems so that none quotes a secret.
	c := newCLI(t)
	r := c.run("chain", "lint", "-f", chainFile("secrets"))
	for _, want := range []string{
		"secrets.yaml:9:44: error: idp.users[0].password is written inline",
		"secrets.yaml:10:43: error: unknown key in idp.users[1].password\n",
		"secrets.yaml:11:50: error: idp.users[2].password.env is not an environment variable name\n",
		"secrets.yaml:12:44: error: unknown key in idp.users[3].password\n",
		"secrets.yaml:14:8: error: issuer.url is not a usable URL: userinfo (user@) before the host",
		"secrets.yaml:16:11: error: token.secret is written inline",
		"secrets.yaml:23:7: error: return_to pattern \"https://(redacted)@portal.company2.com/admin\"",
		"secrets.yaml:25:21: error: expect.final_url_prefix is not a usable URL",
		"\n8 errors, 1 warning\n",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.Stdout)
		}
	}
	if strings.Contains(r.Stdout, "names no source") {
		t.Errorf("a misplaced secret is reported twice:\n%s", r.Stdout)
	}
}

// TestLint_secretShapes: secrets in shapes that reach no redaction in this
// package, a YAML alias or tag in place of a password, a Redis URL where its
// variable's name goes, a password with a slash in a URL: lint still shows
// none, in text or JSON, because pkg/chain never puts one in a problem.
func TestLint_secretShapes(t *testing.T) {
	const head = "version: 1\nname: s\ndev: true\nissuer: {url: 'http://accounts.s.localhost:8080'}\n"
	tests := []struct {
		name  string
		chain string // appended to head
		want  string // a line of lint's text output
	}{
		{
			name:  "a password that starts with *",
			chain: "idp: {kind: dev, public_url: 'http://auth.s.localhost:4433', users: [{email: a@example.com, password: *LEAK-alias}]}\n",
			want:  "<stdin>:5:103: error: YAML syntax: an alias (*name) refers to no anchor\n",
		},
		{
			name:  "a password that starts with !",
			chain: "idp: {kind: dev, public_url: 'http://auth.s.localhost:4433', users: [{email: a@example.com, password: !LEAK-tag x}]}\n",
			want:  "<stdin>:5:103: error: a YAML tag is not supported in idp.users[0].password\n",
		},
		{
			name:  "a Redis URL in place of its variable's name",
			chain: "idp: {kind: dev, public_url: 'http://auth.s.localhost:4433', users: [{email: a@example.com, password: pw}]}\nstore: {redis: {url_env: 'redis://:LEAK-redis@redis:6379'}}\n",
			want:  "<stdin>:6:26: error: store.redis.url_env is not an environment variable name\n",
		},
		{
			name:  "a password with a slash in a receiver URL",
			chain: "idp: {kind: dev, public_url: 'http://auth.s.localhost:4433', users: [{email: a@example.com, password: pw}]}\nreceivers: [{name: p, url: 'http://ops:LEAK/pw@portal.localhost:8081'}]\n",
			want:  "<stdin>:6:28: error: receivers[0].url is not a usable URL: invalid port: not a number from 1 to 65535\n",
		},
		{
			name:  "a cookie secret in braces",
			chain: "idp: {kind: dev, public_url: 'http://auth.s.localhost:4433', users: [{email: a@example.com, password: pw}]}\nreceivers: [{name: p, url: 'http://portal.localhost:8081', cookie: {secret: {LEAK-cookie-key}}}]\n",
			want:  "<stdin>:6:78: error: unknown key in receivers[0].cookie.secret\n",
		},
	}
	for _, tt := range tests {
		for _, format := range []string{"text", "json"} {
			t.Run(format+" "+tt.name, func(t *testing.T) {
				c := newCLI(t)
				c.in.WriteString(head + tt.chain)
				// run fails the test if LEAK is in either stream.
				r := c.run("chain", "lint", "-o", format, "-f", "-")
				if r.Code != 2 {
					t.Errorf("exit %d, want 2", r.Code)
				}
				if format == "text" && !strings.Contains(r.Stdout, tt.want) {
					t.Errorf("stdout lacks %q:\n%s", tt.want, r.Stdout)
				}
			})
		}
	}
}

// TestLint_terminal: on a terminal the output is styled, and the text is
// the same once the styling is taken out; NO_COLOR and --no-color keep it
// plain.
func TestLint_terminal(t *testing.T) {
	plain := newCLI(t).run("chain", "lint", "-f", chainFile("acceptance")).Stdout

	c := newCLI(t)
	c.ios.SetStdoutTTY(true)
	styled := c.run("chain", "lint", "-f", chainFile("acceptance")).Stdout
	if !strings.Contains(styled, "\x1b[") {
		t.Fatalf("no styling on a terminal:\n%s", styled)
	}
	if got := ansi.ReplaceAllString(styled, ""); got != plain {
		t.Errorf("styled text differs from plain:\n%s\nwant\n%s", got, plain)
	}

	c = newCLI(t)
	c.ios.SetStdoutTTY(true)
	if out := c.run("--no-color", "chain", "lint", "-f", chainFile("acceptance")).Stdout; out != plain {
		t.Errorf("--no-color output is styled:\n%q", out)
	}
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// TestLint_hostileText: a key holding terminal escapes is shown escaped.
func TestLint_hostileText(t *testing.T) {
	c := newCLI(t)
	c.in.WriteString("version: 1\n\"\\e]0;owned\\a\\e[2J\u202e\": x\n")
	r := c.run("chain", "lint", "-f", "-")
	if r.Code != 2 {
		t.Fatalf("exit %d", r.Code)
	}
	for _, bad := range []string{"\x1b", "\a", "\u202e"} {
		if strings.Contains(r.Stdout, bad) {
			t.Errorf("stdout holds %q:\n%q", bad, r.Stdout)
		}
	}
	if !strings.Contains(r.Stdout, `unknown key "\x1b]0;owned\a\x1b[2J\u202e"`) {
		t.Errorf("stdout = %q", r.Stdout)
	}
}
