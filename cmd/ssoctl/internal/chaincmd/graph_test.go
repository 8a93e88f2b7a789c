package chaincmd_test

import (
	"bytes"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/chaincmd"
)

func TestNewCmdGraph_flags(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantFormat string
		wantReturn string
		wantErr    string
	}{
		{name: "mermaid by default", args: []string{"-f", "c.yaml"}, wantFormat: "mermaid"},
		{name: "-o dot", args: []string{"-f", "c.yaml", "-o", "dot"}, wantFormat: "dot"},
		{name: "--output text and --return-to", args: []string{"-f", "c.yaml", "--output", "text", "--return-to", "https://p.test/x"}, wantFormat: "text", wantReturn: "https://p.test/x"},
		{name: "a positional file", args: []string{"c.yaml"}, wantErr: `unexpected argument "c.yaml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			var got *chaincmd.GraphOptions
			cmd := chaincmd.NewCmdGraph(c.f, func(o *chaincmd.GraphOptions) error { got = o; return nil })
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
			if got.File != "c.yaml" || got.Format != tt.wantFormat || got.ReturnTo != tt.wantReturn {
				t.Errorf("options = %+v", got)
			}
		})
	}
}

func TestGraph(t *testing.T) {
	// The last receiver's origin is not allowed (only a path under it is),
	// so the default return_to falls back to the issuer's root.
	narrow := writeChain(t, `version: 1
name: narrow
dev: true
idp: {kind: dev, public_url: "http://auth.narrow.localhost:4433", users: [{email: a@example.com, password: LEAK-narrow}]}
issuer: {url: "http://accounts.narrow.localhost:8080"}
token: {secret: {env: SSO_SECRET}}
receivers: [{name: portal, url: "http://portal.localhost:8081"}]
return_to: {allow: ["http://accounts.narrow.localhost:8080", "http://portal.localhost:8081/app"]}
`)
	tests := []struct {
		name     string
		args     []string
		stdin    string
		stdinTTY bool
		want     expect
	}{
		{
			name: "mermaid by default",
			args: []string{"chain", "graph", "-f", exampleChain},
			want: expect{code: 0, emptyStderr: true, stdout: []string{"sequenceDiagram\n", "    issuer->>r_dashboard: final GET /\n"}},
		},
		{
			name: "the global -o before the verb",
			args: []string{"-o", "dot", "chain", "graph", "-f", exampleChain},
			want: expect{code: 0, emptyStderr: true, stdout: []string{"digraph \"chain company\" {\n"}},
		},
		{
			name: "the global -o text before the verb",
			args: []string{"-o", "text", "chain", "graph", "-f", exampleChain},
			want: expect{code: 0, emptyStderr: true, stdout: []string{"8. final      issuer → dashboard  GET  http://dashboard.company3.localhost:8082/\n"}},
		},
		{
			name: "--return-to a receiver's page",
			args: []string{"chain", "graph", "-f", exampleChain, "-o", "text", "--return-to", "http://portal.company2.localhost:8081/home?tab=1"},
			want: expect{code: 0, emptyStderr: true, stdout: []string{
				"1. login      Browser → issuer    GET  http://accounts.company.localhost:8080/login?return_to=http%3A%2F%2Fportal.company2.localhost%3A8081%2Fhome%3Ftab%3D1\n",
				"8. final      issuer → portal     GET  http://portal.company2.localhost:8081/home?tab=1\n",
			}},
		},
		{
			name: "--return-to an origin no role serves",
			args: []string{"chain", "graph", "-f", exampleChain, "--return-to", "http://www.company.localhost:8080/welcome"},
			want: expect{code: 0, emptyStderr: true, stdout: []string{
				"    participant return_to as return_to<br/>http://www.company.localhost:8080\n",
				"    issuer->>return_to: final GET /welcome\n",
			}},
		},
		{
			name: "--return-to outside the allowlist",
			args: []string{"chain", "graph", "-f", exampleChain, "--return-to", "https://evil.example/"},
			want: expect{code: 2, emptyStdout: true, stderr: []string{
				"ssoctl: --return-to refused: not allowed by return_to.allow: no pattern matches https://evil.example/\n",
				"hint: pick a URL that return_to.allow covers: http://*.company.localhost:8080, http://portal.company2.localhost:8081, http://dashboard.company3.localhost:8082\n",
			}},
		},
		{
			name: "a default return_to outside the allowlist ends at the issuer",
			args: []string{"chain", "graph", "-f", narrow, "-o", "text"},
			want: expect{code: 0,
				stderr: []string{"ssoctl: note: http://portal.localhost:8081/ is outside return_to.allow; the drawing ends at the issuer\n"},
				stdout: []string{"6. final      issuer → issuer   GET  http://accounts.narrow.localhost:8080/\n"}},
		},
		{
			name: "--return-to that is no plain URL",
			args: []string{"chain", "graph", "-f", exampleChain, "--return-to", `http://portal.company2.localhost:8081\@evil.example/`},
			want: expect{code: 2, emptyStdout: true, stderr: []string{
				"ssoctl: --return-to refused: backslash, which browsers read as a slash: at byte 37\n",
				"hint: write --return-to as a plain absolute URL, like https://portal.company2.com/home\n",
			}},
		},
		{
			name: "an invalid chain: problems on stderr, nothing on stdout",
			args: []string{"chain", "graph", "-f", chainFile("acceptance")},
			want: expect{code: 2, emptyStdout: true, stderr: []string{
				"testdata/chains/acceptance.yaml:12:8: error: issuer.url http://accounts.company.com uses http, which only dev chains may\n  fix: use https, or set dev: true for local development\n",
				"ssoctl: testdata/chains/acceptance.yaml has 3 errors; nothing to draw\n",
				"hint: fix the errors above; 'ssoctl chain lint -f testdata/chains/acceptance.yaml' checks the file again\n",
			}},
		},
		{
			name:  "from stdin",
			args:  []string{"chain", "graph", "-f", "-", "-o", "text"},
			stdin: "version: 1\nname: s\ndev: true\nidp: {kind: dev, public_url: 'http://i.s.localhost:1', users: [{email: a@example.com, password: LEAK-stdin}]}\nissuer: {url: 'http://a.s.localhost:2'}\nreceivers: []\nreturn_to: {allow: []}\n",
			want:  expect{code: 0, emptyStderr: true, stdout: []string{"4. final      issuer → issuer   GET  http://a.s.localhost:2/\n"}},
		},
		{
			name: "-o yaml is not graph's",
			args: []string{"chain", "graph", "-f", exampleChain, "-o", "yaml"},
			want: expect{code: 2, emptyStdout: true, stderr: []string{`ssoctl: output format "yaml" is not supported here (use mermaid, dot, text, json)`}},
		},
		{
			name: "the global -o json before the verb",
			args: []string{"-o", "json", "chain", "graph", "-f", exampleChain},
			want: expect{code: 0, emptyStderr: true, stdout: []string{`"schema_version": 1`, `"return_to": "http://dashboard.company3.localhost:8082/"`}},
		},
		{
			name:     "stdin that is a terminal",
			args:     []string{"chain", "graph", "-f", "-"},
			stdinTTY: true,
			want:     expect{code: 2, emptyStdout: true, stderr: []string{"ssoctl: -f - reads the chain file from stdin, which is a terminal\nhint: pipe the chain file in (ssoctl chain graph -f - < chain.yaml), or give its path\n"}},
		},
		{
			name: "no -f",
			args: []string{"chain", "graph"},
			want: expect{code: 2, emptyStdout: true, stderr: []string{"ssoctl: -f is required: the chain file\nhint: pass the chain file, like 'ssoctl chain graph -f chain.yaml'"}},
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

// TestGraph_json: -o json is the plan as one document, hop by hop.
func TestGraph_json(t *testing.T) {
	r := newCLI(t).run("chain", "graph", "-o", "json", "-f", chainFile("relay"))
	if r.Code != 0 || r.Stderr != "" {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	doc := jsonDoc(t, r.Stdout)
	var got []string
	for _, h := range doc["hops"].([]any) {
		m := h.(map[string]any)
		s := m["kind"].(string) + " " + m["from"].(string) + "->" + m["to"].(string)
		if aud, ok := m["audience"].(string); ok {
			s += " aud=" + aud
		}
		got = append(got, s)
	}
	want := []string{"login Browser->issuer", "idp_login issuer->IdP", "callback IdP->issuer",
		"handoff issuer->r1 aud=r1", "handoff r1->r2-eu aud=r2-eu", "handoff r2-eu->r3 aud=r3", "final r3->r3"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("hops = %q\nwant %q", got, want)
	}
	if doc["mode"] != "relay" || doc["return_to"] != "http://r3.localhost:9083/" || doc["file"] != chainFile("relay") {
		t.Errorf("doc = %v", doc)
	}
}

func TestGraph_help(t *testing.T) {
	r := newCLI(t).run("chain", "graph", "--help")
	if r.Code != 0 {
		t.Fatalf("exit %d", r.Code)
	}
	if !strings.Contains(r.Stdout, `output format: mermaid, dot, text or json (default "mermaid")`) {
		t.Errorf("help does not show graph's own -o:\n%s", r.Stdout)
	}
	if strings.Contains(r.Stdout, "output format: text or json") {
		t.Errorf("help shows the global -o as well:\n%s", r.Stdout)
	}
}

// Mermaid sequenceDiagram statements as writeMermaid writes them. A label
// may hold '#' and ';' only as #NN; entity codes: a bare ';' ends the
// statement and a bare '#' starts an entity.
var (
	mmText        = `(?:[^#;\n<>]|#\d+;)+`
	mmParticipant = regexp.MustCompile(`^    participant ([A-Za-z0-9_]+) as ` + mmText + `<br/>` + mmText + `$`)
	mmArrow       = regexp.MustCompile(`^    ([A-Za-z0-9_]+)->>([A-Za-z0-9_]+): ` + mmText + `$`)
	mmNote        = regexp.MustCompile(`^    Note over ([A-Za-z0-9_]+): ` + mmText + `$`)
	mmTitle       = regexp.MustCompile(`^    title ` + mmText + `$`)
	mmKeywords    = map[string]bool{"end": true, "loop": true, "alt": true, "else": true, "opt": true, "par": true, "and": true, "rect": true,
		"critical": true, "break": true, "box": true, "note": true, "participant": true, "actor": true, "activate": true, "deactivate": true,
		"title": true, "autonumber": true, "create": true, "destroy": true, "link": true, "links": true, "properties": true, "details": true}
)

// checkMermaid checks that every line is a statement of the grammar above,
// every id is declared before it is used, and no id is a keyword.
func checkMermaid(t *testing.T, src string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(src, "\n"), "\n")
	if lines[0] != "sequenceDiagram" {
		t.Fatalf("first line %q", lines[0])
	}
	declared := map[string]bool{}
	use := func(line string, ids ...string) {
		for _, id := range ids {
			if !declared[id] {
				t.Errorf("%q uses %s before declaring it", line, id)
			}
		}
	}
	arrows := 0
	for _, line := range lines[1:] {
		switch m := []([]string){mmParticipant.FindStringSubmatch(line), mmArrow.FindStringSubmatch(line), mmNote.FindStringSubmatch(line)}; {
		case line == "    autonumber", mmTitle.MatchString(line):
		case line == "    actor Browser":
			declared["Browser"] = true
		case m[0] != nil:
			if declared[m[0][1]] || mmKeywords[strings.ToLower(m[0][1])] {
				t.Errorf("participant id %q is declared twice or is a keyword", m[0][1])
			}
			declared[m[0][1]] = true
		case m[1] != nil:
			use(line, m[1][1], m[1][2])
			arrows++
		case m[2] != nil:
			use(line, m[2][1])
		default:
			t.Errorf("not a statement writeMermaid writes: %q", line)
		}
	}
	if arrows == 0 {
		t.Error("no arrows")
	}
}

var (
	dotID   = `"(?:[^"\\\n]|\\.)*"`
	dotNode = regexp.MustCompile(`^  (` + dotID + `) \[(?:shape=oval|label=` + dotID + `(?:, style=dashed)?)\];$`)
	dotEdge = regexp.MustCompile(`^  (` + dotID + `) -> (` + dotID + `) \[label=` + dotID + `(?:, style=dashed)?\];$`)
)

// checkDot checks the digraph's statements, that every edge joins declared
// nodes, and, where Graphviz is installed, that dot accepts it.
func checkDot(t *testing.T, src string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(src, "\n"), "\n")
	if !regexp.MustCompile(`^digraph `+dotID+` \{$`).MatchString(lines[0]) || lines[len(lines)-1] != "}" {
		t.Fatalf("not a digraph:\n%s", src)
	}
	nodes := map[string]bool{}
	for _, line := range lines[1 : len(lines)-1] {
		if m := dotNode.FindStringSubmatch(line); m != nil {
			nodes[m[1]] = true
		} else if m := dotEdge.FindStringSubmatch(line); m != nil {
			if !nodes[m[1]] || !nodes[m[2]] {
				t.Errorf("edge between undeclared nodes: %q", line)
			}
		} else if !regexp.MustCompile(`^  (label=` + dotID + `|labelloc=t|fontname="Helvetica"|rankdir=LR|node \[.*\]|edge \[.*\]);$`).MatchString(line) {
			t.Errorf("unexpected DOT line %q", line)
		}
	}
	if path, err := exec.LookPath("dot"); err == nil {
		cmd := exec.Command(path, "-Tsvg")
		cmd.Stdin = strings.NewReader(src)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil || stderr.Len() > 0 {
			t.Errorf("Graphviz refuses the graph: %v %s", err, stderr.String())
		}
	}
}

// TestGraph_syntax draws every fixture, and labels full of what Mermaid
// and DOT treat specially, and checks the syntax of each.
func TestGraph_syntax(t *testing.T) {
	tricky := "http://portal.company2.localhost:8081/a;b/<x>\"q?q=1;2&r=%23#frag;x"
	cases := []struct {
		name string
		args []string
	}{
		{"example", []string{"-f", exampleChain}},
		{"relay", []string{"-f", chainFile("relay")}},
		{"shared cookie", []string{"-f", chainFile("shared-cookie")}},
		{"oidc", []string{"-f", chainFile("dev-secrets")}},
		{"tricky return_to", []string{"-f", exampleChain, "--return-to", tricky}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCLI(t)
			r := c.run(append([]string{"chain", "graph", "-o", "mermaid"}, tc.args...)...)
			if r.Code != 0 {
				t.Fatalf("exit %d: %s", r.Code, r.Stderr)
			}
			checkMermaid(t, r.Stdout)
			r = c.run(append([]string{"chain", "graph", "-o", "dot"}, tc.args...)...)
			if r.Code != 0 {
				t.Fatalf("exit %d: %s", r.Code, r.Stderr)
			}
			checkDot(t, r.Stdout)
		})
	}
}
