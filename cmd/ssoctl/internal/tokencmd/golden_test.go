package tokencmd_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ssoctl/ssoctl/pkg/token"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites the file with -update.
// Golden files are read by people and committed, so no secret may reach one.
func golden(t *testing.T, c *cli, name, got string) {
	t.Helper()
	for _, s := range c.secrets {
		if s != "" && strings.Contains(got, s) {
			t.Fatalf("output for %s holds a secret; refusing to compare or write it", name)
		}
	}
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

// TestGolden pins the whole text and JSON output of decode and verify for
// tokens made from fixed keys at the fixed clock.
func TestGolden(t *testing.T) {
	ed := edKey(t)
	_, jwksPath := keyFiles(t)
	edTok := mint(t, ed, func(o *token.MintOptions) {
		o.Extra = map[string]jsontext.Value{"role": jsontext.Value(`"admin"`), "groups": jsontext.Value(`["ops","dev"]`)}
	})
	hsTok := mint(t, hmacKey(t, testSecret), nil)
	// Everything a receiver should refuse, at once.
	badTok := mint(t, ed, func(o *token.MintOptions) {
		o.Issuer, o.Audience, o.TTL = "https://evil.example.test", "dashboard", 10*time.Minute
		o.Now = func() time.Time { return fixedNow.Add(-time.Hour) }
	})
	risky := rawToken(`{"alg":"none","jku":"https://evil.example.test/jwks.json"}`,
		`{"iss":"https://accounts.example.test","sub":"user-1","iat":1893549845,"exp":1893553445,"role":"admin"}`)
	hostile := rawToken("{\"alg\":\"HS256\",\"typ\":\"sso-handoff+jwt\",\"kid\":\"k\\u001b[31m\"}",
		"{\"iss\":\"https://accounts.example.test\\u001b]0;owned\\u0007\",\"aud\":\"portal\",\"sub\":\"\u009b31mred\",\"sid\":\"s\\r\\nVALID: yes\",\"jti\":\"j\u202egnp.exe\",\"note\":\"\u009b2J\",\"iat\":1893553445,\"exp\":1893553475}")

	tests := []struct {
		name   string
		golden string
		args   []string
		stdin  string
		code   int
	}{
		{name: "decode EdDSA text", golden: "decode_eddsa.txt", args: []string{"token", "decode", edTok}},
		{name: "decode EdDSA json", golden: "decode_eddsa.json", args: []string{"token", "decode", "-o", "json", edTok}},
		{name: "decode HS256 from a URL", golden: "decode_hs256_url.txt", args: []string{"token", "decode", "https://portal.example.test/sso?state=xyz&token=" + hsTok}},
		{name: "decode form_post from stdin json", golden: "decode_form_post.json", args: []string{"token", "decode", "-o", "json", "-"}, stdin: "token=" + hsTok + "&state=xyz"},
		{name: "decode risky text", golden: "decode_risky.txt", args: []string{"token", "decode", risky}},
		{name: "decode risky json", golden: "decode_risky.json", args: []string{"token", "decode", "-o", "json", risky}},
		{name: "decode hostile text", golden: "decode_hostile.txt", args: []string{"token", "decode", hostile}},
		{name: "verify valid EdDSA text", golden: "verify_valid_eddsa.txt", args: verifyArgs(edTok, "--jwks-file", jwksPath)},
		{name: "verify valid HS256 text", golden: "verify_valid_hs256.txt", args: verifyArgs(hsTok, "--secret-env", "SSO_SECRET")},
		{name: "verify invalid text", golden: "verify_invalid.txt", args: verifyArgs(badTok, "--jwks-file", jwksPath), code: 1},
		{name: "verify invalid json", golden: "verify_invalid.json", args: verifyArgs(badTok, "--jwks-file", jwksPath, "-o", "json"), code: 1},
		{name: "verify wrong audience text", golden: "verify_wrong_aud.txt",
			args: []string{"token", "verify", hsTok, "--iss", "https://accounts.example.test", "--aud", "dashboard", "--secret-env", "SSO_SECRET"}, code: 1},
		{name: "verify malformed text", golden: "verify_malformed.txt", args: verifyArgs("eyJhbGciOiJIUzI1NiJ9.not-json", "--secret-env", "SSO_SECRET"), code: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			c.in.WriteString(tt.stdin)
			r := c.run(tt.args...)
			if r.Code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", r.Code, tt.code, r.Stdout, r.Stderr)
			}
			if r.Stderr != "" {
				t.Errorf("stderr: %s", r.Stderr)
			}
			golden(t, c, tt.golden, r.Stdout)
		})
	}
}
