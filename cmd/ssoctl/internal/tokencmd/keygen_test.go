package tokencmd_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/tokencmd"
	"github.com/ssoctl/ssoctl/pkg/token"
)

func TestNewCmdKeygen_flags(t *testing.T) {
	c := newCLI(t)
	var got *tokencmd.KeygenOptions
	cmd := tokencmd.NewCmdKeygen(c.f, func(o *tokencmd.KeygenOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--alg", "ES256", "--out", "keys", "--kid", "k1", "--force"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Alg != "ES256" || got.Out != "keys" || got.Kid != "k1" || !got.Force || got.IO != c.ios {
		t.Errorf("options = %+v", got)
	}

	cmd = tokencmd.NewCmdKeygen(c.f, func(o *tokencmd.KeygenOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"keys"})
	cmd.SetErr(c.errOut)
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), `unknown command "keys"`) {
		t.Errorf("positional argument: err = %v", err)
	}
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestKeygen(t *testing.T) {
	tests := []struct {
		name    string
		alg     string
		kid     string
		wantKty string
	}{
		{name: "EdDSA", alg: "EdDSA", wantKty: "OKP"},
		{name: "ES256 with kid", alg: "ES256", kid: "issuer-2030", wantKty: "EC"},
		{name: "RS256", alg: "RS256", wantKty: "RSA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			dir := filepath.Join(t.TempDir(), "keys")
			args := []string{"token", "keygen", "--alg", tt.alg, "--out", dir}
			if tt.kid != "" {
				args = append(args, "--kid", tt.kid)
			}
			r := c.run(args...)
			priv, jwksPath := filepath.Join(dir, "private.pem"), filepath.Join(dir, "jwks.json")
			r.check(t, expect{code: 0, emptyStderr: true, stdout: []string{
				"Generated " + tt.alg + " key", priv, "mode 0600", jwksPath, "mode 0644", "--key-file " + priv, "--jwks-file " + jwksPath,
			}})
			if m := fileMode(t, priv); m != 0o600 {
				t.Errorf("private.pem mode %04o, want 0600", m)
			}
			if m := fileMode(t, jwksPath); m != 0o644 {
				t.Errorf("jwks.json mode %04o, want 0644", m)
			}
			if m := fileMode(t, dir); m != 0o700 {
				t.Errorf("--out directory mode %04o, want 0700", m)
			}
			pemBytes, err := os.ReadFile(priv)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(pemBytes), "-----BEGIN PRIVATE KEY-----\n") {
				t.Errorf("private.pem is not PKCS#8:\n%.40s", pemBytes)
			}
			// The private key must not be echoed.
			for _, line := range strings.Split(string(pemBytes), "\n") {
				if len(line) > 16 && !strings.HasPrefix(line, "-----") && strings.Contains(r.Stdout, line) {
					t.Errorf("stdout holds private key material")
				}
			}
			var set struct {
				Keys []map[string]any `json:"keys"`
			}
			b, err := os.ReadFile(jwksPath)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &set); err != nil || len(set.Keys) != 1 {
				t.Fatalf("jwks.json: %v, %d keys", err, len(set.Keys))
			}
			k := set.Keys[0]
			if k["kty"] != tt.wantKty || k["alg"] != tt.alg || k["use"] != "sig" || k["kid"] == "" {
				t.Errorf("JWK = %v", k)
			}
			for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
				if _, ok := k[private]; ok {
					t.Errorf("jwks.json holds private member %q", private)
				}
			}
			if tt.kid != "" && k["kid"] != tt.kid {
				t.Errorf("kid %v, want %s", k["kid"], tt.kid)
			}
			if !strings.Contains(r.Stdout, `kid "`+k["kid"].(string)+`"`) {
				t.Errorf("stdout does not name the kid %v:\n%s", k["kid"], r.Stdout)
			}

			// The files work as 'Try it' says, with no --kid even when keygen
			// was given one: mint finds the kid in the jwks.json beside the PEM.
			if strings.Contains(r.Stdout, "--kid") {
				t.Errorf("'Try it' passes --kid, which mint should not need:\n%s", r.Stdout)
			}
			m := c.run(mintArgs("--key-file", priv)...)
			m.check(t, expect{code: 0, emptyStderr: true})
			v := c.run(verifyArgs(strings.TrimSpace(m.Stdout), "--jwks-file", jwksPath)...)
			v.check(t, expect{code: 0, emptyStderr: true, stdout: []string{"VALID", "signed by " + tt.alg + ` key "` + k["kid"].(string) + `"`}})
		})
	}
}

func TestKeygen_hs256(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	r := c.run("token", "keygen", "--alg", "HS256", "--out", dir)
	secretPath := filepath.Join(dir, "secret")
	b, err := os.ReadFile(secretPath)
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.TrimSuffix(string(b), "\n")
	c.addSecret(secret)
	c.assertNoSecret(r)
	r.check(t, expect{code: 0, emptyStderr: true, stdout: []string{"Generated HS256 key", secretPath, "mode 0600", "--secret-file " + secretPath, "never publish it"}})
	if len(secret) != 43 || len(b) != 44 {
		t.Errorf("secret is %d bytes (file %d); want 43 base64url characters and a newline", len(secret), len(b))
	}
	if m := fileMode(t, secretPath); m != 0o600 {
		t.Errorf("secret mode %04o, want 0600", m)
	}
	if _, err := os.Stat(filepath.Join(dir, "jwks.json")); err == nil {
		t.Error("HS256 keygen wrote a jwks.json; a shared secret has no public half")
	}
	if !strings.Contains(r.Stdout, `kid "`+token.DeriveHMACKeyID([]byte(secret))+`"`) {
		t.Errorf("stdout does not name the derived kid:\n%s", r.Stdout)
	}

	m := c.run(mintArgs("--secret-file", secretPath)...)
	m.check(t, expect{code: 0, emptyStderr: true})
	v := c.run(verifyArgs(strings.TrimSpace(m.Stdout), "--secret-file", secretPath)...)
	v.check(t, expect{code: 0, emptyStderr: true, stdout: []string{"VALID"}})

	j := c.run("token", "keygen", "--alg", "HS256", "--out", filepath.Join(dir, "two"), "-o", "json")
	j.check(t, expect{code: 0, emptyStderr: true})
	b2, err := os.ReadFile(filepath.Join(dir, "two", "secret"))
	if err != nil {
		t.Fatal(err)
	}
	c.addSecret(strings.TrimSpace(string(b2)))
	c.assertNoSecret(j)
}

func TestKeygen_jsonShape(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	r := c.run("token", "keygen", "--alg", "EdDSA", "--out", dir, "--kid", "k-2030", "-o", "json")
	r.check(t, expect{code: 0, emptyStderr: true})
	doc := jsonDoc(t, r.Stdout)
	if doc["alg"] != "EdDSA" || doc["kid"] != "k-2030" {
		t.Errorf("alg %v kid %v", doc["alg"], doc["kid"])
	}
	files, _ := doc["files"].([]any)
	if len(files) != 2 {
		t.Fatalf("files = %v", doc["files"])
	}
	want := map[string]string{filepath.Join(dir, "private.pem"): "0600", filepath.Join(dir, "jwks.json"): "0644"}
	for _, f := range files {
		m := f.(map[string]any)
		if want[m["path"].(string)] != m["mode"] || m["kind"] == "" {
			t.Errorf("file entry %v", m)
		}
	}
}

func TestKeygen_refusesToOverwrite(t *testing.T) {
	tests := []struct {
		name  string
		alg   string
		plant string // file planted before keygen runs
	}{
		{name: "private.pem exists", alg: "EdDSA", plant: "private.pem"},
		{name: "only jwks.json exists", alg: "EdDSA", plant: "jwks.json"},
		{name: "secret exists", alg: "HS256", plant: "secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			dir := t.TempDir()
			planted := filepath.Join(dir, tt.plant)
			writeFile(t, planted, []byte("old key\n"), 0o600)
			r := c.run("token", "keygen", "--alg", tt.alg, "--out", dir)
			r.check(t, expect{code: 2, emptyStdout: true, stderr: []string{"ssoctl: " + planted + " already exists", "hint: pick another --out, or pass --force"}})
			if b, _ := os.ReadFile(planted); string(b) != "old key\n" {
				t.Errorf("%s was changed", tt.plant)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("keygen wrote files although it refused: %v", entries)
			}

			r = c.run("token", "keygen", "--alg", tt.alg, "--out", dir, "--force")
			r.check(t, expect{code: 0, emptyStderr: true})
			if b, _ := os.ReadFile(planted); string(b) == "old key\n" {
				t.Errorf("--force did not replace %s", tt.plant)
			}
			if tt.alg == "HS256" {
				b, _ := os.ReadFile(planted)
				c.addSecret(strings.TrimSpace(string(b)))
				c.assertNoSecret(r)
			}
		})
	}
}

// TestKeygen_symlink: a symlink planted where the key goes is neither
// followed nor, without --force, replaced.
func TestKeygen_symlink(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "elsewhere")
	writeFile(t, target, []byte("precious\n"), 0o644)
	if err := os.Symlink(target, filepath.Join(dir, "private.pem")); err != nil {
		t.Skip("symlinks not supported:", err)
	}
	r := c.run("token", "keygen", "--alg", "EdDSA", "--out", dir)
	r.check(t, expect{code: 2, stderr: []string{"already exists"}})
	r = c.run("token", "keygen", "--alg", "EdDSA", "--out", dir, "--force")
	r.check(t, expect{code: 0})
	if b, _ := os.ReadFile(target); string(b) != "precious\n" {
		t.Error("keygen wrote through a symlink")
	}
	if fi, err := os.Lstat(filepath.Join(dir, "private.pem")); err != nil || fi.Mode()&os.ModeSymlink != 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("private.pem after --force: %v %v", fi.Mode(), err)
	}
}

func TestKeygen_usageErrors(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	writeFile(t, notDir, []byte("x"), 0o600)
	tests := []struct {
		name string
		args []string
		want expect
	}{
		{name: "no --alg", args: []string{"--out", "keys"},
			want: expect{code: 2, stderr: []string{"--alg is required: EdDSA, ES256, RS256 or HS256", "hint: EdDSA is a good default"}}},
		{name: "alg none", args: []string{"--alg", "none", "--out", "keys"},
			want: expect{code: 2, stderr: []string{`--alg: unsupported algorithm "none"`, "hint: EdDSA is a good default"}}},
		{name: "alg lower case", args: []string{"--alg", "eddsa", "--out", "keys"},
			want: expect{code: 2, stderr: []string{`unsupported algorithm "eddsa"`}}},
		{name: "no --out", args: []string{"--alg", "EdDSA"},
			want: expect{code: 2, stderr: []string{"--out DIR is required"}}},
		{name: "--kid with HS256", args: []string{"--alg", "HS256", "--out", "keys", "--kid", "k"},
			want: expect{code: 2, stderr: []string{"--kid does not apply to HS256", "hint: pass --kid to 'token mint' and 'token verify' instead"}}},
		{name: "--out is a file", args: []string{"--alg", "EdDSA", "--out", notDir},
			want: expect{code: 2, stderr: []string{"--out: "}}},
		{name: "unsupported output format", args: []string{"--alg", "EdDSA", "--out", "keys", "-o", "junit"},
			want: expect{code: 2, stderr: []string{`output format "junit" is not supported`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			t.Chdir(t.TempDir())
			r := c.run(append([]string{"token", "keygen"}, tt.args...)...)
			tt.want.emptyStdout = true
			r.check(t, tt.want)
			if _, err := os.Stat("keys"); err == nil {
				t.Error("keygen created --out although it refused")
			}
		})
	}
}

func TestKeygen_color(t *testing.T) {
	for _, tt := range []struct {
		name      string
		tty       bool
		flags     []string
		wantColor bool
	}{
		{name: "not a terminal"},
		{name: "terminal", tty: true, wantColor: true},
		{name: "terminal with --no-color", tty: true, flags: []string{"--no-color"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			c.ios.SetStdoutTTY(tt.tty)
			r := c.run(append([]string{"token", "keygen", "--alg", "EdDSA", "--out", t.TempDir()}, tt.flags...)...)
			r.check(t, expect{code: 0})
			if got := strings.Contains(r.Stdout, "\x1b["); got != tt.wantColor {
				t.Errorf("ANSI escapes %v, want %v", got, tt.wantColor)
			}
		})
	}
}

// TestKeygen_quotesPaths: the 'Try it' lines can be pasted into a shell
// even when --out has spaces or quotes.
func TestKeygen_quotesPaths(t *testing.T) {
	c := newCLI(t)
	dir := filepath.Join(t.TempDir(), "my keys", "it's")
	r := c.run("token", "keygen", "--alg", "EdDSA", "--out", dir)
	r.check(t, expect{code: 0, emptyStderr: true})
	quoted := "'" + strings.ReplaceAll(filepath.Join(dir, "private.pem"), "'", `'\''`) + "'"
	if !strings.Contains(r.Stdout, "--key-file "+quoted+" ") {
		t.Errorf("private.pem path not shell-quoted in:\n%s", r.Stdout)
	}
}
