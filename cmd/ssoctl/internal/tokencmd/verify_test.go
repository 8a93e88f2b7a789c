package tokencmd_test

import (
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/tokencmd"
	"github.com/ssoctl/ssoctl/pkg/token"
)

func TestNewCmdVerify_flags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(t *testing.T, o *tokencmd.VerifyOptions)
		wantErr string
	}{
		{
			name: "defaults",
			args: []string{"tok", "--iss", "https://a.test", "--aud", "portal", "--secret-env", "SSO_SECRET"},
			check: func(t *testing.T, o *tokencmd.VerifyOptions) {
				if o.Issuer != "https://a.test" || o.Audience != "portal" || o.Keys.SecretEnv != "SSO_SECRET" {
					t.Errorf("options = %+v", o)
				}
				if o.Leeway != token.DefaultLeeway || o.MaxLifetime != token.DefaultMaxLifetime || o.Quiet {
					t.Errorf("leeway %v max-lifetime %v quiet %v; want the profile defaults", o.Leeway, o.MaxLifetime, o.Quiet)
				}
				if strings.Join(o.Args, "|") != "tok" {
					t.Errorf("args = %q", o.Args)
				}
			},
		},
		{
			name: "every flag",
			args: []string{"-", "--iss", "https://a.test", "--aud", "portal", "--leeway", "2s", "--max-lifetime", "1m", "-q",
				"--secret-file", "s", "--key-file", "k", "--jwks-url", "https://a.test/jwks", "--jwks-file", "j", "--kid", "kid1", "--alg", "ES256"},
			check: func(t *testing.T, o *tokencmd.VerifyOptions) {
				k := o.Keys
				if o.Leeway != 2*time.Second || o.MaxLifetime != time.Minute || !o.Quiet || strings.Join(o.Args, "|") != "-" {
					t.Errorf("options = %+v", o)
				}
				if k.SecretFile != "s" || k.KeyFile != "k" || k.JWKSURL != "https://a.test/jwks" || k.JWKSFile != "j" || k.Kid != "kid1" || k.Alg != "ES256" {
					t.Errorf("key flags = %+v", k)
				}
			},
		},
		{name: "no argument", args: []string{"--iss", "x", "--aud", "y"},
			check: func(t *testing.T, o *tokencmd.VerifyOptions) {
				if len(o.Args) != 0 {
					t.Errorf("args = %q", o.Args)
				}
			}},
		{name: "two tokens", args: []string{"a", "b"}, wantErr: "accepts at most 1 arg(s)"},
		{name: "bad leeway", args: []string{"--leeway", "a bit"}, wantErr: `invalid argument "a bit" for "--leeway"`},
		{name: "no inline key flag exists", args: []string{"--key", "x"}, wantErr: "unknown flag: --key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			var got *tokencmd.VerifyOptions
			cmd := tokencmd.NewCmdVerify(c.f, func(o *tokencmd.VerifyOptions) error { got = o; return nil })
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
			tt.check(t, got)
		})
	}
}

func verifyArgs(tok string, extra ...string) []string {
	return append([]string{"token", "verify", tok, "--iss", "https://accounts.example.test", "--aud", "portal"}, extra...)
}

func TestVerify(t *testing.T) {
	ed := edKey(t)
	privPath, jwksPath := keyFiles(t)
	hs := mint(t, hmacKey(t, testSecret), nil)
	edTok := mint(t, ed, nil)
	expired := mint(t, hmacKey(t, testSecret), func(o *token.MintOptions) {
		o.Now = func() time.Time { return fixedNow.Add(-time.Minute) }
	})
	justExpired := mint(t, hmacKey(t, testSecret), func(o *token.MintOptions) {
		o.Now = func() time.Time { return fixedNow.Add(-33 * time.Second) }
	})
	longLived := mint(t, hmacKey(t, testSecret), func(o *token.MintOptions) { o.TTL = 2 * time.Minute })
	everythingWrong := mint(t, hmacKey(t, testSecret), func(o *token.MintOptions) {
		o.Issuer, o.Audience = "https://evil.test", "dashboard"
		o.Now = func() time.Time { return fixedNow.Add(-time.Hour) }
	})
	customKid := mint(t, hmacKey(t, testSecret), nil)
	{
		k, err := token.NewHMACKey("hs-custom", []byte(testSecret))
		if err != nil {
			t.Fatal(err)
		}
		customKid = mint(t, k, nil)
	}
	// An HS256 token that names the Ed25519 key's kid: algorithm confusion.
	confused := func() string {
		k, err := token.NewHMACKey(ed.ID(), []byte(testSecret))
		if err != nil {
			t.Fatal(err)
		}
		return mint(t, k, nil)
	}()
	algNone := rawToken(`{"alg":"none","typ":"sso-handoff+jwt"}`, `{"iss":"https://accounts.example.test","aud":"portal","sub":"u","sid":"s","jti":"j","iat":1893553445,"exp":1893553475}`)
	otherTok := mint(t, hmacKey(t, testSecret), func(o *token.MintOptions) { o.Audience = "dashboard" })

	tests := []struct {
		name      string
		args      []string
		stdin     string
		stdinTTY  bool
		want      expect
		wantCodes []string // reasons in -o json, in order; nil skips
	}{
		{
			name:      "valid HS256 from the environment",
			args:      verifyArgs(hs, "--secret-env", "SSO_SECRET"),
			want:      expect{code: 0, emptyStderr: true, stdout: []string{"VALID  handoff for portal from https://accounts.example.test, expires in 30s, signed by HS256 key", "found in  the argument", "sub       user-1"}},
			wantCodes: []string{},
		},
		{
			name:  "valid from stdin with -",
			args:  verifyArgs("-", "--secret-env", "SSO_SECRET"),
			stdin: hs + "\n",
			want:  expect{code: 0, emptyStderr: true, stdout: []string{"VALID", "found in  stdin"}},
		},
		{
			name:  "valid from stdin without an argument",
			args:  []string{"token", "verify", "--iss", "https://accounts.example.test", "--aud", "portal", "--secret-env", "SSO_SECRET"},
			stdin: hs,
			want:  expect{code: 0, emptyStderr: true, stdout: []string{"VALID"}},
		},
		{
			name:  "form_post body on stdin",
			args:  verifyArgs("-", "--secret-env", "SSO_SECRET"),
			stdin: "state=s1&token=" + hs,
			want:  expect{code: 0, emptyStderr: true, stdout: []string{"VALID", `found in  form field "token" (stdin)`}},
		},
		{
			name: "redirect URL",
			args: verifyArgs("https://portal.example.test/sso?token="+hs, "--secret-env", "SSO_SECRET"),
			want: expect{code: 0, emptyStderr: true, stdout: []string{"VALID", `found in  query parameter "token"`}},
		},
		{
			name: "several tokens: the first is verified and the rest noted",
			args: verifyArgs("https://portal.example.test/sso?token="+hs+"#id_token="+otherTok, "--secret-env", "SSO_SECRET"),
			want: expect{code: 0, stdout: []string{"VALID"}, stderr: []string{"ssoctl: note: 1 more token(s) found in the input; verifying the first"}},
		},
		{
			name: "secret file",
			args: verifyArgs(hs, "--secret-file", secretFile(t, testSecret)),
			want: expect{code: 0, emptyStderr: true, stdout: []string{"VALID"}},
		},
		{
			name:  "secret on stdin, token as the argument",
			args:  verifyArgs(hs, "--secret-file", "-"),
			stdin: testSecret + "\n",
			want:  expect{code: 0, emptyStderr: true, stdout: []string{"VALID"}},
		},
		{
			name: "custom kid passed with --kid",
			args: verifyArgs(customKid, "--secret-env", "SSO_SECRET", "--kid", "hs-custom"),
			want: expect{code: 0, emptyStderr: true, stdout: []string{`signed by HS256 key "hs-custom"`}},
		},
		{
			name: "Ed25519 private key file",
			args: verifyArgs(edTok, "--key-file", privPath),
			want: expect{code: 0, emptyStderr: true, stdout: []string{"VALID", "signed by EdDSA key"}},
		},
		{
			name: "JWK Set as --key-file",
			args: verifyArgs(edTok, "--key-file", jwksPath),
			want: expect{code: 0, emptyStderr: true, stdout: []string{"VALID"}},
		},
		{
			name: "JWK Set file with pinned alg",
			args: verifyArgs(edTok, "--jwks-file", jwksPath, "--alg", "EdDSA"),
			want: expect{code: 0, emptyStderr: true, stdout: []string{"VALID"}},
		},
		{
			name: "expired just within leeway",
			args: verifyArgs(justExpired, "--secret-env", "SSO_SECRET"),
			want: expect{code: 0, stdout: []string{"VALID", "expired 3s ago (within leeway)"}},
		},
		// Invalid tokens: exit 1, every reason listed.
		{
			name:      "wrong audience names it",
			args:      append(verifyArgs(hs, "--secret-env", "SSO_SECRET")[:5], "--aud", "dashboard", "--secret-env", "SSO_SECRET"),
			want:      expect{code: 1, emptyStderr: true, stdout: []string{"INVALID  1 problem", "audience_mismatch", `want "dashboard"`}},
			wantCodes: []string{"audience_mismatch"},
		},
		{
			name:      "every reason listed",
			args:      verifyArgs(everythingWrong, "--secret-env", "SSO_SECRET"),
			want:      expect{code: 1, emptyStderr: true, stdout: []string{"INVALID  3 problems", "token_expired", "issuer_mismatch", "audience_mismatch", "hint: handoffs live seconds"}},
			wantCodes: []string{"token_expired", "issuer_mismatch", "audience_mismatch"},
		},
		{
			name:      "expired beyond leeway",
			args:      verifyArgs(expired, "--secret-env", "SSO_SECRET", "--leeway", "0s"),
			want:      expect{code: 1, stdout: []string{"token_expired", "expired 30s ago"}},
			wantCodes: []string{"token_expired"},
		},
		{
			name:      "wrong secret",
			args:      verifyArgs(hs, "--secret-env", "OTHER_SECRET", "--kid", token.DeriveHMACKeyID([]byte(testSecret))),
			want:      expect{code: 1, stdout: []string{"signature_invalid", "hint: the secret differs from the minter's"}},
			wantCodes: []string{"signature_invalid"},
		},
		{
			name:      "wrong secret without --kid",
			args:      verifyArgs(hs, "--secret-env", "OTHER_SECRET"),
			want:      expect{code: 1, stdout: []string{"kid_unknown", "hint: if this key is the one the token names, pass its kid with --kid"}},
			wantCodes: []string{"kid_unknown"},
		},
		{
			name:      "lifetime over --max-lifetime",
			args:      verifyArgs(longLived, "--secret-env", "SSO_SECRET"),
			want:      expect{code: 1, stdout: []string{"lifetime_too_long"}},
			wantCodes: []string{"lifetime_too_long"},
		},
		{
			name: "--max-lifetime raised",
			args: verifyArgs(longLived, "--secret-env", "SSO_SECRET", "--max-lifetime", "5m"),
			want: expect{code: 0, stdout: []string{"VALID"}},
		},
		{
			name:      "issuer given as a URL path",
			args:      []string{"token", "verify", hs, "--iss", "accounts.example.test/login", "--aud", "portal", "--secret-env", "SSO_SECRET"},
			want:      expect{code: 1, stdout: []string{"issuer_mismatch", "hint: --iss is usually an origin"}},
			wantCodes: []string{"issuer_mismatch"},
		},
		{
			name:      "HS256 token against an Ed25519 key",
			args:      verifyArgs(confused, "--jwks-file", jwksPath),
			want:      expect{code: 1, stdout: []string{"alg_not_allowed"}},
			wantCodes: []string{"alg_not_allowed"},
		},
		{
			name: "alg none",
			args: verifyArgs(algNone, "--secret-env", "SSO_SECRET"),
			want: expect{code: 1, stdout: []string{"alg_none"}},
		},
		{
			name:      "unknown kid in a JWK Set",
			args:      verifyArgs(customKid, "--jwks-file", jwksPath),
			want:      expect{code: 1, stdout: []string{"kid_unknown", "hint: the token was signed by a key the set lacks"}},
			wantCodes: []string{"kid_unknown"},
		},
		{
			name:      "malformed token is invalid, not a usage error",
			args:      verifyArgs("garbage", "--secret-env", "SSO_SECRET"),
			want:      expect{code: 1, emptyStderr: true, stdout: []string{"INVALID  1 problem", "token_malformed", "found in  the argument"}},
			wantCodes: []string{"token_malformed"},
		},
		{
			name:      "bad base64",
			args:      verifyArgs("eyJ!.eyJ.c2ln", "--secret-env", "SSO_SECRET"),
			want:      expect{code: 1, stdout: []string{"INVALID"}},
			wantCodes: nil,
		},
		{
			name:      "oversized token",
			args:      verifyArgs("eyJhbGciOiJIUzI1NiJ9."+strings.Repeat("A", 9000)+".c2ln", "--secret-env", "SSO_SECRET"),
			want:      expect{code: 1, stdout: []string{"token_too_large"}},
			wantCodes: []string{"token_too_large"},
		},
		{
			name: "no token in the input",
			args: verifyArgs("hello world", "--secret-env", "SSO_SECRET"),
			want: expect{code: 1, emptyStdout: true, stderr: []string{"ssoctl: no token found in the argument", "hint: "}},
		},
		{
			name:      "quiet valid",
			args:      verifyArgs(hs, "--secret-env", "SSO_SECRET", "-q"),
			want:      expect{code: 0, emptyStdout: true, emptyStderr: true},
			wantCodes: nil,
		},
		{
			name: "quiet invalid",
			args: verifyArgs(everythingWrong, "--secret-env", "SSO_SECRET", "--quiet"),
			want: expect{code: 1, emptyStdout: true, emptyStderr: true},
		},
		// Usage errors: exit 2.
		{name: "missing --iss", args: []string{"token", "verify", hs, "--aud", "portal", "--secret-env", "SSO_SECRET"},
			want: expect{code: 2, emptyStdout: true, stderr: []string{"ssoctl: --iss is required", "hint: pass the issuer origin"}}},
		{name: "missing --aud", args: []string{"token", "verify", hs, "--iss", "https://a.test", "--secret-env", "SSO_SECRET"},
			want: expect{code: 2, emptyStdout: true, stderr: []string{"ssoctl: --aud is required", "hint: pass the receiver"}}},
		{name: "no key", args: verifyArgs(hs),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"no key: give one of --secret-env NAME, --secret-file PATH, --key-file PATH, --jwks-url URL or --jwks-file PATH", "hint: "}}},
		{name: "two key sources", args: verifyArgs(hs, "--secret-env", "SSO_SECRET", "--jwks-file", jwksPath),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"--secret-env and --jwks-file cannot be combined", "hint: "}}},
		{name: "three key sources", args: verifyArgs(hs, "--secret-env", "SSO_SECRET", "--secret-file", "x", "--jwks-url", "https://a.test/j"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"--secret-env and --secret-file and --jwks-url cannot be combined"}}},
		{name: "short secret", args: verifyArgs(hs, "--secret-env", "SHORT_SECRET"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"HS256 secret is 12 bytes; it must be at least 32", "hint: make one with"}}},
		{name: "short secret on stdin", args: verifyArgs(hs, "--secret-file", "-"), stdin: shortSecret,
			want: expect{code: 2, emptyStdout: true, stderr: []string{"secret from stdin: HS256 secret is 12 bytes"}}},
		{name: "unset environment variable", args: verifyArgs(hs, "--secret-env", "NOPE"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"environment variable NOPE is not set or empty"}}},
		{name: "token and secret both from stdin", args: verifyArgs("-", "--secret-file", "-"), stdin: hs,
			want: expect{code: 2, emptyStdout: true, stderr: []string{"the token and the key cannot both come from stdin", "hint: "}}},
		{name: "key file on stdin and no token argument", args: []string{"token", "verify", "--iss", "https://a", "--aud", "p", "--key-file", "-"},
			want: expect{code: 2, emptyStdout: true, stderr: []string{"cannot both come from stdin"}}},
		{name: "JWK Set on stdin and token from stdin", args: verifyArgs("-", "--jwks-file", "-"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"cannot both come from stdin"}}},
		{name: "no token and stdin is a terminal", args: []string{"token", "verify", "--iss", "https://a", "--aud", "p", "--secret-env", "SSO_SECRET"}, stdinTTY: true,
			want: expect{code: 2, emptyStdout: true, stderr: []string{"ssoctl: no token given", "hint: "}}},
		{name: "missing key file names the flag", args: verifyArgs(hs, "--key-file", "/nonexistent/key.pem"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"ssoctl: --key-file: open /nonexistent/key.pem"}}},
		{name: "missing JWK Set file names the flag", args: verifyArgs(hs, "--jwks-file", "/nonexistent/jwks.json"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"ssoctl: --jwks-file: open /nonexistent/jwks.json"}}},
		{name: "JWK Set file that is PEM", args: verifyArgs(hs, "--jwks-file", privPath),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"--jwks-file " + privPath}}},
		{name: "--kid with --jwks-file", args: verifyArgs(edTok, "--jwks-file", jwksPath, "--kid", "x"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"--kid does not apply to --jwks-file"}}},
		{name: "--kid with --jwks-url", args: verifyArgs(edTok, "--jwks-url", "https://accounts.example.test/jwks.json", "--kid", "x"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"--kid does not apply to --jwks-url"}}},
		{name: "plain http JWKS URL off loopback", args: verifyArgs(edTok, "--jwks-url", "http://accounts.example.test/jwks.json"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"--jwks-url: ", "plain http"}}},
		{name: "alg none", args: verifyArgs(hs, "--secret-env", "SSO_SECRET", "--alg", "none"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{`--alg: unsupported algorithm "none"`, "hint: "}}},
		{name: "alg that does not fit the secret", args: verifyArgs(hs, "--secret-env", "SSO_SECRET", "--alg", "RS256"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"--alg RS256 does not fit a shared secret"}}},
		{name: "alg that does not fit the JWK Set", args: verifyArgs(edTok, "--jwks-file", jwksPath, "--alg", "ES256"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"--alg ES256 does not fit key", "pinned to EdDSA"}}},
		{name: "leeway over a minute", args: verifyArgs(hs, "--secret-env", "SSO_SECRET", "--leeway", "2m"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"--leeway 2m0s is out of range"}}},
		{name: "negative leeway", args: verifyArgs(hs, "--secret-env", "SSO_SECRET", "--leeway=-1s"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"--leeway -1s is out of range"}}},
		{name: "zero max lifetime", args: verifyArgs(hs, "--secret-env", "SSO_SECRET", "--max-lifetime", "0s"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"--max-lifetime must be positive"}}},
		{name: "unknown flag", args: verifyArgs(hs, "--secret", "x"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"unknown flag: --secret", "hint: run 'ssoctl token verify --help' for usage"}}},
		{name: "unsupported output format", args: verifyArgs(hs, "--secret-env", "SSO_SECRET", "-o", "mermaid"),
			want: expect{code: 2, emptyStdout: true, stderr: []string{`output format "mermaid" is not supported`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			c.in.WriteString(tt.stdin)
			c.ios.SetStdinTTY(tt.stdinTTY)
			r := c.run(tt.args...)
			r.check(t, tt.want)
			if hasControl(r.Stdout) || hasControl(r.Stderr) {
				t.Errorf("output holds control characters:\n%q\n%q", r.Stdout, r.Stderr)
			}
			if tt.wantCodes == nil || r.Code > 1 {
				return
			}
			c.in.Reset()
			c.in.WriteString(tt.stdin)
			j := c.run(append(tt.args, "-o", "json")...)
			if j.Code != r.Code {
				t.Fatalf("-o json exit %d, text exit %d: %s", j.Code, r.Code, j.Stderr)
			}
			doc := jsonDoc(t, j.Stdout)
			if doc["valid"] != (r.Code == 0) {
				t.Errorf("valid = %v with exit %d", doc["valid"], r.Code)
			}
			if got := codes(t, doc, "reasons"); strings.Join(got, ",") != strings.Join(tt.wantCodes, ",") {
				t.Errorf("reason codes = %v, want %v", got, tt.wantCodes)
			}
		})
	}
}

func TestVerify_jsonShape(t *testing.T) {
	hs := mint(t, hmacKey(t, testSecret), nil)
	for _, tt := range []struct {
		name      string
		token     string
		wantValid bool
		wantToken bool
	}{
		{name: "valid", token: hs, wantValid: true, wantToken: true},
		{name: "invalid but readable", token: mint(t, hmacKey(t, testSecret), func(o *token.MintOptions) { o.Audience = "dashboard" }), wantToken: true},
		{name: "unreadable", token: "garbage"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			r := c.run(verifyArgs(tt.token, "--secret-env", "SSO_SECRET", "-o", "json")...)
			want := 0
			if !tt.wantValid {
				want = 1
			}
			r.check(t, expect{code: want, emptyStderr: true})
			doc := jsonDoc(t, r.Stdout)
			for _, field := range []string{"valid", "found_in", "reasons"} {
				if _, ok := doc[field]; !ok {
					t.Errorf("verify json has no %q", field)
				}
			}
			if _, ok := doc["reasons"].([]any); !ok {
				t.Errorf("reasons is %T, want an array (empty when valid)", doc["reasons"])
			}
			for _, field := range []string{"header", "claims", "times", "expired", "signature_bytes"} {
				if _, ok := doc[field]; ok != tt.wantToken {
					t.Errorf("field %q present %v, want %v", field, ok, tt.wantToken)
				}
			}
		})
	}
}

func TestVerify_jwksURL(t *testing.T) {
	ed := edKey(t)
	edTok := mint(t, ed, nil)
	jwks, err := token.MarshalJWKS(ed)
	if err != nil {
		t.Fatal(err)
	}
	serve := func(status int, body string) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	closedPort := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr + "/.well-known/jwks.json"
	}()

	tests := []struct {
		name string
		url  string
		tok  string
		want expect
	}{
		{name: "published set verifies", url: serve(200, string(jwks)).URL + "/.well-known/jwks.json", tok: edTok,
			want: expect{code: 0, emptyStderr: true, stdout: []string{"VALID", "signed by EdDSA key"}}},
		{name: "token the set does not know", url: serve(200, string(jwks)).URL, tok: mint(t, hmacKey(t, testSecret), nil),
			want: expect{code: 1, stdout: []string{"kid_unknown"}}},
		{name: "server error is unreachable, not invalid", url: serve(500, "oops").URL, tok: edTok,
			want: expect{code: 3, emptyStdout: true, stderr: []string{"ssoctl: verification keys unavailable", "500", "hint: check that the JWKS URL is reachable"}}},
		{name: "not a JWK Set", url: serve(200, "<html>login</html>").URL, tok: edTok,
			want: expect{code: 3, emptyStdout: true, stderr: []string{"verification keys unavailable"}}},
		{name: "closed port", url: closedPort, tok: edTok,
			want: expect{code: 3, emptyStdout: true, stderr: []string{"verification keys unavailable", "connection refused", "hint: "}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			r := c.run(verifyArgs(tt.tok, "--jwks-url", tt.url)...)
			r.check(t, tt.want)
			if tt.want.code == 3 {
				// No verdict, but still one JSON document saying why.
				j := c.run(verifyArgs(tt.tok, "--jwks-url", tt.url, "-o", "json")...)
				j.check(t, expect{code: 3, stdout: []string{`"valid": false`, `"code": "keys_unavailable"`}})
			}
		})
	}
}

func TestVerify_color(t *testing.T) {
	hs := mint(t, hmacKey(t, testSecret), nil)
	bad := mint(t, hmacKey(t, testSecret), func(o *token.MintOptions) { o.Audience = "dashboard" })
	for _, tt := range []struct {
		name      string
		tok       string
		tty       bool
		noColor   bool
		flags     []string
		wantCode  int
		wantColor bool
	}{
		{name: "valid, not a terminal", tok: hs, wantCode: 0},
		{name: "valid in a terminal", tok: hs, tty: true, wantCode: 0, wantColor: true},
		{name: "invalid in a terminal", tok: bad, tty: true, wantCode: 1, wantColor: true},
		{name: "invalid in a terminal with --no-color", tok: bad, tty: true, flags: []string{"--no-color"}, wantCode: 1},
		{name: "valid in a terminal with NO_COLOR", tok: hs, tty: true, noColor: true, wantCode: 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			c.ios.SetStdoutTTY(tt.tty)
			c.ios.SetColorDisabled(tt.noColor)
			r := c.run(append(verifyArgs(tt.tok, "--secret-env", "SSO_SECRET"), tt.flags...)...)
			r.check(t, expect{code: tt.wantCode, emptyStderr: true})
			if got := strings.Contains(r.Stdout, "\x1b["); got != tt.wantColor {
				t.Errorf("ANSI escapes: %v, want %v\n%q", got, tt.wantColor, r.Stdout)
			}
		})
	}
}

// TestVerify_secretFileNotPrinted: whatever goes wrong with a secret file,
// its content stays out of the output.
func TestVerify_secretFileNotPrinted(t *testing.T) {
	hs := mint(t, hmacKey(t, testSecret), nil)
	short := secretFile(t, shortSecret)
	// A secret file given where a key file or JWK Set is expected.
	asKey := secretFile(t, testSecret)
	for _, args := range [][]string{
		verifyArgs(hs, "--secret-file", short),
		verifyArgs(hs, "--key-file", asKey),
		verifyArgs(hs, "--jwks-file", asKey),
		verifyArgs(hs, "--secret-file", asKey, "--alg", "EdDSA"),
		verifyArgs(hs, "--secret-file", asKey, "--secret-env", "SSO_SECRET"),
	} {
		t.Run(strings.Join(args[len(args)-2:], " "), func(t *testing.T) {
			c := newCLI(t)
			r := c.run(args...) // run checks every secret is absent
			if r.Code != 2 {
				t.Errorf("exit %d, want 2: %s", r.Code, r.Stderr)
			}
		})
	}
	if b, err := os.ReadFile(short); err != nil || string(b) != shortSecret+"\n" {
		t.Errorf("secret file changed: %q %v", b, err)
	}
}

// TestVerify_jwksFileSkipsKeys: a set with keys the profile cannot use
// still verifies with the usable one, says on stderr what it skipped, and
// never prints a secret a careless publisher put in the set.
func TestVerify_jwksFileSkipsKeys(t *testing.T) {
	ed := edKey(t)
	pub, err := token.MarshalJWKS(ed)
	if err != nil {
		t.Fatal(err)
	}
	var set map[string][]map[string]any
	if err := json.Unmarshal(pub, &set); err != nil {
		t.Fatal(err)
	}
	k := base64.RawURLEncoding.EncodeToString([]byte(testSecret))
	set["keys"] = append(set["keys"], map[string]any{"kty": "oct", "kid": "shared", "k": k})
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "jwks.json")
	writeFile(t, path, b, 0o644)

	c := newCLI(t)
	c.addSecret(k)
	r := c.run(verifyArgs(mint(t, ed, nil), "--jwks-file", path)...)
	r.check(t, expect{code: 0, stdout: []string{"VALID"}, stderr: []string{"ssoctl: note: skipped a key in " + path + ": ", `"shared"`}})
}
