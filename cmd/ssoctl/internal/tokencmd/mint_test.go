package tokencmd_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/tokencmd"
	"github.com/ssoctl/ssoctl/pkg/token"
)

var baseMint = []string{"token", "mint", "--iss", "https://accounts.example.test", "--aud", "portal", "--sub", "user-1", "--sid", "session-1"}

func mintArgs(extra ...string) []string {
	return append(append([]string(nil), baseMint...), extra...)
}

func TestNewCmdMint_flags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    tokencmd.MintOptions
		wantErr string
	}{
		{
			name: "defaults",
			args: []string{"--iss", "https://a.test", "--aud", "portal", "--sub", "u1", "--sid", "s1", "--secret-env", "SSO_SECRET"},
			want: tokencmd.MintOptions{Issuer: "https://a.test", Audience: "portal", Subject: "u1", SessionID: "s1", TTL: 30 * time.Second},
		},
		{
			name: "every flag",
			args: []string{"--iss", "https://a.test", "--aud", "portal", "--sub", "u1", "--sid", "s1",
				"--ttl", "10s", "--jti", "j1", "--chn", "c1", "--ret", "https://portal.test/",
				"--claim", "role=admin", "--claim", `groups:=["ops"]`, "--alg", "EdDSA", "--kid", "k1", "--key-file", "keys/private.pem"},
			want: tokencmd.MintOptions{Issuer: "https://a.test", Audience: "portal", Subject: "u1", SessionID: "s1",
				TTL: 10 * time.Second, ID: "j1", Chain: "c1", Return: "https://portal.test/",
				Claims: []string{"role=admin", `groups:=["ops"]`}},
		},
		{
			name:    "positional argument",
			args:    []string{"eyJ.x.y"},
			wantErr: `unknown command "eyJ.x.y"`,
		},
		{
			name:    "bad duration",
			args:    []string{"--ttl", "soon"},
			wantErr: `invalid argument "soon" for "--ttl"`,
		},
		{
			name:    "no inline secret flag exists",
			args:    []string{"--secret", "x"},
			wantErr: "unknown flag: --secret",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			var got *tokencmd.MintOptions
			cmd := tokencmd.NewCmdMint(c.f, func(o *tokencmd.MintOptions) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SetOut(c.out)
			cmd.SetErr(c.errOut)
			err := cmd.ExecuteContext(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Issuer != tt.want.Issuer || got.Audience != tt.want.Audience || got.Subject != tt.want.Subject ||
				got.SessionID != tt.want.SessionID || got.TTL != tt.want.TTL || got.ID != tt.want.ID ||
				got.Chain != tt.want.Chain || got.Return != tt.want.Return ||
				strings.Join(got.Claims, "|") != strings.Join(tt.want.Claims, "|") {
				t.Errorf("options = %+v\nwant %+v", *got, tt.want)
			}
			if got.IO != c.ios {
				t.Error("options do not carry the factory's streams")
			}
		})
	}
	t.Run("key flags", func(t *testing.T) {
		c := newCLI(t)
		var got *tokencmd.MintOptions
		cmd := tokencmd.NewCmdMint(c.f, func(o *tokencmd.MintOptions) error { got = o; return nil })
		cmd.SetArgs([]string{"--secret-env", "A", "--secret-file", "B", "--key-file", "C", "--alg", "HS256", "--kid", "K"})
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		k := got.Keys
		if k.SecretEnv != "A" || k.SecretFile != "B" || k.KeyFile != "C" || k.Alg != "HS256" || k.Kid != "K" {
			t.Errorf("key flags = %+v", k)
		}
		for _, name := range []string{"jwks-url", "jwks-file"} {
			if cmd.Flags().Lookup(name) != nil {
				t.Errorf("mint has --%s, which only verify takes", name)
			}
		}
	})
}

func TestMint(t *testing.T) {
	privPath, jwksPath := keyFiles(t)
	privPEM, err := os.ReadFile(privPath)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		stdin string
		env   map[string]string
		want  expect
		// verifyWith, when set, checks the printed token with this key.
		verifyWith *token.Key
		check      func(t *testing.T, tok *token.Token)
	}{
		{
			name:       "secret from the environment prints only the token",
			args:       mintArgs("--secret-env", "SSO_SECRET"),
			want:       expect{code: 0, emptyStderr: true},
			verifyWith: hmacKey(t, testSecret),
			check: func(t *testing.T, tok *token.Token) {
				c := tok.Claims
				if c.Issuer != "https://accounts.example.test" || c.Audience[0] != "portal" || c.Subject != "user-1" || c.SessionID != "session-1" {
					t.Errorf("claims = %+v", c)
				}
				if !c.IssuedAt.Equal(fixedNow) || !c.Expiry.Equal(fixedNow.Add(30*time.Second)) {
					t.Errorf("iat %v exp %v; want the fixed clock and 30s", c.IssuedAt, c.Expiry)
				}
				if c.ID == "" || c.Chain == "" {
					t.Error("jti and chn must default to random ids")
				}
				if tok.Header.Typ != token.Type || tok.Header.Alg != "HS256" || tok.Header.Kid != token.DeriveHMACKeyID([]byte(testSecret)) {
					t.Errorf("header = %+v", tok.Header)
				}
			},
		},
		{
			name:       "secret file with trailing newline",
			args:       mintArgs("--secret-file", secretFile(t, testSecret)),
			want:       expect{code: 0, emptyStderr: true},
			verifyWith: hmacKey(t, testSecret),
		},
		{
			name:       "secret from stdin",
			args:       mintArgs("--secret-file", "-"),
			stdin:      testSecret + "\n",
			want:       expect{code: 0, emptyStderr: true},
			verifyWith: hmacKey(t, testSecret),
		},
		{
			name:       "private key file from keygen",
			args:       mintArgs("--key-file", privPath),
			want:       expect{code: 0, emptyStderr: true},
			verifyWith: edKey(t).Public(),
			check: func(t *testing.T, tok *token.Token) {
				if tok.Header.Alg != "EdDSA" || tok.Header.Kid != edKey(t).ID() {
					t.Errorf("header = %+v", tok.Header)
				}
			},
		},
		{
			name:       "private key from stdin with pinned alg",
			args:       mintArgs("--key-file", "-", "--alg", "EdDSA"),
			stdin:      string(privPEM),
			want:       expect{code: 0, emptyStderr: true},
			verifyWith: edKey(t).Public(),
		},
		{
			name: "every claim flag",
			args: mintArgs("--secret-env", "SSO_SECRET", "--ttl", "10s", "--jti", "j-1", "--chn", "c-1",
				"--ret", "https://portal.example.test/next", "--claim", "role=admin", "--claim", `groups:=["ops","dev"]`, "--claim", "n:=3", "--kid", "hs-1"),
			want: expect{code: 0, emptyStderr: true},
			check: func(t *testing.T, tok *token.Token) {
				c := tok.Claims
				if c.ID != "j-1" || c.Chain != "c-1" || c.Return != "https://portal.example.test/next" || c.Lifetime() != 10*time.Second {
					t.Errorf("claims = %+v", c)
				}
				if string(c.Extra["role"]) != `"admin"` || string(c.Extra["groups"]) != `["ops","dev"]` || string(c.Extra["n"]) != "3" {
					t.Errorf("extra claims = %s %s %s", c.Extra["role"], c.Extra["groups"], c.Extra["n"])
				}
				if tok.Header.Kid != "hs-1" {
					t.Errorf("kid = %q, want hs-1", tok.Header.Kid)
				}
			},
		},
		{
			name: "ttl over 30s is allowed with a note",
			args: mintArgs("--secret-env", "SSO_SECRET", "--ttl", "2m"),
			want: expect{code: 0, stderr: []string{"ssoctl: note: --ttl 2m0s is over 30s"}},
		},
		{
			name: "json output",
			args: mintArgs("--secret-env", "SSO_SECRET", "-o", "json", "--jti", "j-1"),
			want: expect{code: 0, emptyStderr: true, stdout: []string{`"schema_version": 1`, `"ttl_seconds": 30`, `"expires": "2030-01-02T03:04:35Z"`, `"alg": "HS256"`, `"jti": "j-1"`}},
		},
		// Usage errors: exit 2, one line, and a hint where a fix is not obvious.
		{name: "missing --iss", args: []string{"token", "mint", "--aud", "p", "--sub", "u", "--sid", "s", "--secret-env", "SSO_SECRET"},
			want: expect{code: 2, emptyStdout: true, stderr: []string{"ssoctl: --iss is required", "hint: "}}},
		{name: "missing --aud", args: []string{"token", "mint", "--iss", "https://a.test", "--sub", "u", "--sid", "s", "--secret-env", "SSO_SECRET"},
			want: expect{code: 2, emptyStdout: true, stderr: []string{"ssoctl: --aud is required", "hint: "}}},
		{name: "missing --sub", args: []string{"token", "mint", "--iss", "https://a.test", "--aud", "p", "--sid", "s", "--secret-env", "SSO_SECRET"},
			want: expect{code: 2, emptyStdout: true, stderr: []string{"ssoctl: --sub is required"}}},
		{name: "missing --sid", args: []string{"token", "mint", "--iss", "https://a.test", "--aud", "p", "--sub", "u", "--secret-env", "SSO_SECRET"},
			want: expect{code: 2, emptyStdout: true, stderr: []string{"ssoctl: --sid is required"}}},
		{name: "no key", args: mintArgs(),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"no signing key", "hint: make one with 'ssoctl token keygen"}}},
		{name: "two key sources", args: mintArgs("--secret-env", "SSO_SECRET", "--key-file", privPath),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"--secret-env and --key-file cannot be combined", "hint: "}}},
		{name: "unset environment variable", args: mintArgs("--secret-env", "NOT_SET"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"environment variable NOT_SET is not set or empty", "hint: "}}},
		{name: "empty environment variable", args: mintArgs("--secret-env", "EMPTY_SECRET"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"EMPTY_SECRET is not set or empty"}}},
		{name: "short secret from env", args: mintArgs("--secret-env", "SHORT_SECRET"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"secret from $SHORT_SECRET: HS256 secret is 12 bytes", "hint: make one with"}}},
		{name: "short secret from file", args: mintArgs("--secret-file", secretFile(t, shortSecret)),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"HS256 secret is 12 bytes"}}},
		{name: "missing secret file", args: mintArgs("--secret-file", "/nonexistent/secret"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"--secret-file: ", "/nonexistent/secret"}}},
		{name: "missing key file names the flag", args: mintArgs("--key-file", "/nonexistent/private.pem"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"ssoctl: --key-file: open /nonexistent/private.pem"}}},
		{name: "public key cannot sign", args: mintArgs("--key-file", jwksPath),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"holds no private key", "hint: mint with the private key"}}},
		{name: "raw secret in --key-file", args: mintArgs("--key-file", secretFile(t, testSecret)),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"raw HS256 secrets go in --secret-env or --secret-file"}}},
		{name: "alg none", args: mintArgs("--secret-env", "SSO_SECRET", "--alg", "none"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{`--alg: unsupported algorithm "none"`, "hint: "}}},
		{name: "alg is case sensitive", args: mintArgs("--secret-env", "SSO_SECRET", "--alg", "hs256"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{`unsupported algorithm "hs256"`}}},
		{name: "asymmetric alg with a secret", args: mintArgs("--secret-env", "SSO_SECRET", "--alg", "EdDSA"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"--alg EdDSA does not fit a shared secret", "hint: use --key-file"}}},
		{name: "alg that does not fit the key file", args: mintArgs("--key-file", privPath, "--alg", "RS256"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"--key-file " + privPath, "not RS256"}}},
		{name: "ttl too short", args: mintArgs("--secret-env", "SSO_SECRET", "--ttl", "500ms"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"--ttl 500ms is too short"}}},
		{name: "reserved claim", args: mintArgs("--secret-env", "SSO_SECRET", "--claim", "exp=1"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"--claim exp: exp is a claim of the handoff profile", "hint: exp is iat + --ttl"}}},
		{name: "claim without =", args: mintArgs("--secret-env", "SSO_SECRET", "--claim", "role"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{`--claim "role": want k=v`}}},
		{name: "claim JSON invalid", args: mintArgs("--secret-env", "SSO_SECRET", "--claim", "n:=ops"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{`--claim n: "ops" is not valid JSON`, `hint: quote JSON strings`}}},
		{name: "claim given twice", args: mintArgs("--secret-env", "SSO_SECRET", "--claim", "a=1", "--claim", "a=2"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"--claim a is given twice"}}},
		{name: "ret not an absolute URL", args: mintArgs("--secret-env", "SSO_SECRET", "--ret", "//evil.test/"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"ret must be an absolute URL"}}},
		{name: "unsupported output format", args: mintArgs("--secret-env", "SSO_SECRET", "-o", "yaml"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{`output format "yaml" is not supported here`}}},
		{name: "unknown flag", args: mintArgs("--secret-env", "SSO_SECRET", "--bogus"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"ssoctl: unknown flag: --bogus", "hint: run 'ssoctl token mint --help' for usage"}}},
		{name: "positional argument", args: mintArgs("--secret-env", "SSO_SECRET", "extra"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{`unknown command "extra" for "ssoctl token mint"`, "hint: run 'ssoctl token mint --help'"}}},
		{name: "env only through the factory", args: mintArgs("--secret-env", "SSOCTL_TEST_REAL_ENV_ONLY"),
			env:  map[string]string{"SSOCTL_TEST_REAL_ENV_ONLY": testSecret},
			want: expect{code: 2, emptyStdout: true, stderr: []string{"SSOCTL_TEST_REAL_ENV_ONLY is not set"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A variable in the real environment but not the fake one must
			// not be seen: the command reads only Factory.LookupEnv.
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c := newCLI(t)
			c.in.WriteString(tt.stdin)
			r := c.run(tt.args...)
			r.check(t, tt.want)
			if r.Code != 0 || strings.Contains(strings.Join(tt.args, " "), "-o json") {
				return
			}
			if strings.Count(r.Stdout, "\n") != 1 || !strings.HasSuffix(r.Stdout, "\n") {
				t.Fatalf("stdout is not exactly one line:\n%q", r.Stdout)
			}
			raw := strings.TrimSuffix(r.Stdout, "\n")
			if tt.verifyWith != nil {
				ring, err := token.NewKeyRing(tt.verifyWith)
				if err != nil {
					t.Fatal(err)
				}
				v, err := token.NewVerifier(ring, "https://accounts.example.test", "portal", token.WithTimeFunc(func() time.Time { return fixedNow }))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := v.Verify(context.Background(), raw); err != nil {
					t.Fatalf("minted token does not verify: %v", err)
				}
			}
			if tt.check != nil {
				tok, err := token.Parse(raw)
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, tok)
			}
		})
	}
}

func TestMint_jsonShape(t *testing.T) {
	c := newCLI(t)
	r := c.run(mintArgs("--secret-env", "SSO_SECRET", "-o", "json", "--jti", "j-1", "--chn", "c-1")...)
	r.check(t, expect{code: 0, emptyStderr: true})
	doc := jsonDoc(t, r.Stdout)
	for _, field := range []string{"token", "alg", "kid", "claims", "expires", "ttl_seconds"} {
		if _, ok := doc[field]; !ok {
			t.Errorf("json has no %q: %v", field, doc)
		}
	}
	if doc["expires"] != "2030-01-02T03:04:35Z" || doc["ttl_seconds"] != 30.0 {
		t.Errorf("expires %v ttl_seconds %v", doc["expires"], doc["ttl_seconds"])
	}
	claims, _ := doc["claims"].(map[string]any)
	if claims["iat"] != float64(fixedNow.Unix()) || claims["jti"] != "j-1" || claims["chn"] != "c-1" {
		t.Errorf("claims = %v", claims)
	}
	if _, err := token.Parse(doc["token"].(string)); err != nil {
		t.Errorf("token in json does not parse: %v", err)
	}
}

// TestMint_outputIsPlain: the token is for pipes and URLs, so a terminal
// and color change nothing about it.
func TestMint_outputIsPlain(t *testing.T) {
	c := newCLI(t)
	c.ios.SetStdoutTTY(true)
	r := c.run(mintArgs("--secret-env", "SSO_SECRET", "--jti", "j", "--chn", "c")...)
	r.check(t, expect{code: 0, emptyStderr: true, notStdout: []string{"\x1b"}})
	if strings.ContainsAny(strings.TrimSuffix(r.Stdout, "\n"), " \t\n") {
		t.Errorf("token output has whitespace: %q", r.Stdout)
	}
}

// TestMint_jwk: a single private JWK signs, under its own kid; a JWK Set
// is public by definition, so private members in one are never used.
func TestMint_jwk(t *testing.T) {
	var keys []jose.JSONWebKey
	for i, kid := range []string{"one", "two"} {
		seed := make([]byte, ed25519.SeedSize)
		seed[0] = byte(i + 1)
		keys = append(keys, jose.JSONWebKey{Key: ed25519.NewKeyFromSeed(seed), KeyID: kid, Algorithm: "EdDSA", Use: "sig"})
	}
	dir := t.TempDir()
	one, err := json.Marshal(keys[0])
	if err != nil {
		t.Fatal(err)
	}
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	jwkPath, setPath := filepath.Join(dir, "one.jwk.json"), filepath.Join(dir, "private.jwks.json")
	writeFile(t, jwkPath, one, 0o600)
	writeFile(t, setPath, set, 0o600)
	for _, tt := range []struct {
		name    string
		args    []string
		want    expect
		wantKid string
	}{
		{name: "private JWK", args: mintArgs("--key-file", jwkPath), want: expect{code: 0, emptyStderr: true}, wantKid: "one"},
		{name: "private JWK with another --kid", args: mintArgs("--key-file", jwkPath, "--kid", "two"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{`the JWK says kid "one", not "two"`}}},
		{name: "JWK Set with private members", args: mintArgs("--key-file", setPath),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"--key-file " + setPath + " holds no private key", "hint: mint with the private key", "JWK Sets are for verify"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			for _, k := range keys {
				c.addSecret(base64.RawURLEncoding.EncodeToString(k.Key.(ed25519.PrivateKey).Seed()))
			}
			r := c.run(tt.args...)
			r.check(t, tt.want)
			if tt.wantKid == "" {
				return
			}
			tok, err := token.Parse(strings.TrimSpace(r.Stdout))
			if err != nil {
				t.Fatal(err)
			}
			if tok.Header.Kid != tt.wantKid {
				t.Errorf("kid %q, want %s", tok.Header.Kid, tt.wantKid)
			}
		})
	}
}

func TestMint_oversizedKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.pem")
	writeFile(t, path, bytes.Repeat([]byte("A"), 1<<20+1), 0o600)
	c := newCLI(t)
	r := c.run(mintArgs("--key-file", path)...)
	r.check(t, expect{code: 2, emptyStdout: true, stderr: []string{"is over 1048576 bytes"}})
}
