package tokencmd_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/root"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// fixedNow is the clock of every in-process test: tokens minted at it have
// known iat and exp, and relative times render the same on every run.
var fixedNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// Test-only secrets. They reach the commands only through the fake
// environment or a temporary file, and every run asserts that none of them
// shows up on stdout or stderr.
const (
	testSecret  = "test-only-hs256-secret-0123456789abcdef" // 39 bytes
	otherSecret = "test-only-other-secret-fedcba9876543210" // 39 bytes, a different key
	shortSecret = "twelve-bytes"                            // 12 bytes: too short for HS256
)

// edSeed is the seed of the fixed Ed25519 test key; the same key on every
// run, so golden files hold the same signatures.
var edSeed = sha256.Sum256([]byte("ssoctl cmd test-only ed25519 key"))

// edKey is the fixed key with its derived kid (the RFC 7638 thumbprint), as
// keygen makes it, so a PEM of it and a JWKS of it name the same kid.
func edKey(t testing.TB) *token.Key {
	t.Helper()
	k, err := token.NewKey("", token.EdDSA, ed25519.NewKeyFromSeed(edSeed[:]))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func hmacKey(t testing.TB, secret string) *token.Key {
	t.Helper()
	k, err := token.NewHMACKey("", []byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// secretStrings are what must never appear in any output: the HS256 test
// secrets and the Ed25519 private key in the encodings a leak would take.
func secretStrings(t testing.TB) []string {
	t.Helper()
	pemBytes, err := token.MarshalPrivateKeyPEM(edKey(t))
	if err != nil {
		t.Fatal(err)
	}
	var pemBody []string
	for _, line := range strings.Split(string(pemBytes), "\n") {
		if line != "" && !strings.HasPrefix(line, "-----") {
			pemBody = append(pemBody, line)
		}
	}
	return append([]string{
		testSecret, otherSecret, shortSecret,
		base64.RawURLEncoding.EncodeToString(edSeed[:]),
		base64.StdEncoding.EncodeToString(edSeed[:]),
	}, pemBody...)
}

// cli is one in-process ssoctl: fake streams, a fake environment and the
// fixed clock.
type cli struct {
	t       *testing.T
	f       *cmdutil.Factory
	ios     *cmdutil.IOStreams
	in      *bytes.Buffer
	out     *bytes.Buffer
	errOut  *bytes.Buffer
	env     map[string]string
	secrets []string
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	ios, in, out, errOut := cmdutil.Test()
	c := &cli{
		t: t, ios: ios, in: in, out: out, errOut: errOut,
		env: map[string]string{
			"SSO_SECRET":   testSecret,
			"OTHER_SECRET": otherSecret,
			"SHORT_SECRET": shortSecret,
			"EMPTY_SECRET": "",
		},
		secrets: secretStrings(t),
	}
	c.f = &cmdutil.Factory{
		IO: ios,
		LookupEnv: func(name string) (string, bool) {
			v, ok := c.env[name]
			return v, ok
		},
		Now: func() time.Time { return fixedNow },
		// Tests reach loopback only; any other address fails at once.
		HTTPClient: func() *http.Client {
			return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
				DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
					host, _, err := net.SplitHostPort(addr)
					if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
						return nil, fmt.Errorf("test dialer: %s is not loopback", addr)
					}
					var d net.Dialer
					return d.DialContext(ctx, network, addr)
				},
			}}
		},
		Version: "v0.0.0-test",
		Output:  cmdutil.FormatText,
	}
	return c
}

// result is what one run of ssoctl left behind.
type result struct {
	Code   int
	Stdout string
	Stderr string
}

// run runs ssoctl args through root.Main, as main does, and checks that no
// secret leaked into either stream.
func (c *cli) run(args ...string) result {
	c.t.Helper()
	c.out.Reset()
	c.errOut.Reset()
	code := root.Main(c.f, args)
	r := result{Code: code, Stdout: c.out.String(), Stderr: c.errOut.String()}
	c.assertNoSecret(r)
	return r
}

// addSecret registers one more string that must never be printed, such as
// a secret keygen wrote.
func (c *cli) addSecret(s string) { c.secrets = append(c.secrets, s) }

func (c *cli) assertNoSecret(r result) {
	c.t.Helper()
	for _, s := range c.secrets {
		if s == "" {
			continue
		}
		if strings.Contains(r.Stdout, s) {
			c.t.Errorf("stdout holds a secret (%d bytes):\n%s", len(s), r.Stdout)
		}
		if strings.Contains(r.Stderr, s) {
			c.t.Errorf("stderr holds a secret (%d bytes):\n%s", len(s), r.Stderr)
		}
	}
}

// expect checks a run's exit code and that stdout and stderr contain each
// of the wanted strings (and none of the unwanted ones).
type expect struct {
	code        int
	stdout      []string
	stderr      []string
	notStdout   []string
	notStderr   []string
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
	for _, s := range want.notStderr {
		if strings.Contains(r.Stderr, s) {
			t.Errorf("stderr contains %q:\n%s", s, r.Stderr)
		}
	}
	if want.emptyStdout && r.Stdout != "" {
		t.Errorf("stdout is not empty:\n%s", r.Stdout)
	}
	if want.emptyStderr && r.Stderr != "" {
		t.Errorf("stderr is not empty:\n%s", r.Stderr)
	}
	// Every error is one "ssoctl: " line, maybe a hint, maybe notes.
	for _, line := range strings.Split(strings.TrimRight(r.Stderr, "\n"), "\n") {
		if line != "" && !strings.HasPrefix(line, "ssoctl: ") && !strings.HasPrefix(line, "hint: ") {
			t.Errorf("stderr line %q is neither an error, a note nor a hint", line)
		}
	}
}

// jsonDoc decodes one -o json document.
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

// codes returns the "code" of each object in the JSON array doc[field].
func codes(t *testing.T, doc map[string]any, field string) []string {
	t.Helper()
	arr, ok := doc[field].([]any)
	if !ok {
		t.Fatalf("%s is %T, want an array", field, doc[field])
	}
	var out []string
	for _, v := range arr {
		obj, _ := v.(map[string]any)
		code, _ := obj["code"].(string)
		if msg, _ := obj["message"].(string); msg == "" {
			t.Errorf("%s entry %v has no message", field, v)
		}
		out = append(out, code)
	}
	return out
}

// mintOpts is a handoff minted at the fixed clock with fixed ids, so its
// bytes are the same on every run.
func mintOpts() token.MintOptions {
	return token.MintOptions{
		Issuer:    "https://accounts.example.test",
		Audience:  "portal",
		Subject:   "user-1",
		SessionID: "session-1",
		ID:        "jti-0001",
		Chain:     "chn-0001",
		Return:    "https://portal.example.test/home",
		Now:       func() time.Time { return fixedNow },
	}
}

func mint(t testing.TB, key *token.Key, edit func(*token.MintOptions)) string {
	t.Helper()
	o := mintOpts()
	if edit != nil {
		edit(&o)
	}
	tok, _, err := token.Mint(key, o)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// rawToken builds a compact token from JSON text without any checks, for
// tokens no minter would make. The signature is placeholder bytes.
func rawToken(header, claims string) string {
	e := base64.RawURLEncoding.EncodeToString
	return e([]byte(header)) + "." + e([]byte(claims)) + "." + e([]byte("not-a-real-signature"))
}

// keyFiles writes the fixed Ed25519 key as keygen would, into a temporary
// directory: private.pem and jwks.json.
func keyFiles(t *testing.T) (privPath, jwksPath string) {
	t.Helper()
	dir := t.TempDir()
	key := edKey(t)
	priv, err := token.MarshalPrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := token.MarshalJWKS(key)
	if err != nil {
		t.Fatal(err)
	}
	privPath, jwksPath = filepath.Join(dir, "private.pem"), filepath.Join(dir, "jwks.json")
	writeFile(t, privPath, priv, 0o600)
	writeFile(t, jwksPath, pub, 0o644)
	return privPath, jwksPath
}

func writeFile(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}

// secretFile writes secret to a temporary file, with a trailing newline as
// an editor leaves it.
func secretFile(t *testing.T, secret string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	writeFile(t, p, []byte(secret+"\n"), 0o600)
	return p
}

// hasControl reports whether s holds a byte or rune a terminal would act
// on: C0 controls other than newline, DEL, C1 controls, or bidi overrides.
func hasControl(s string) bool {
	for _, r := range s {
		switch {
		case r == '\n':
		case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
			return true
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			return true
		}
	}
	return false
}
