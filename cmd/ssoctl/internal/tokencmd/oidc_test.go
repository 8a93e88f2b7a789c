package tokencmd_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc/oidctest"
	jose "github.com/go-jose/go-jose/v4"
)

// opNonce is the nonce in the test ID tokens; it must never be printed.
const opNonce = "test-only-nonce-5f3a9c"

// testOP is an OpenID provider on loopback: go-oidc's oidctest server with
// a P-256 key made for the test.
type testOP struct {
	srv *httptest.Server
	key *ecdsa.PrivateKey
}

func newTestOP(t *testing.T) *testOP {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	op := &oidctest.Server{
		PublicKeys: []oidctest.PublicKey{{PublicKey: key.Public(), KeyID: "op-key-1", Algorithm: "ES256"}},
		Algorithms: []string{"ES256"},
	}
	srv := httptest.NewServer(op)
	t.Cleanup(srv.Close)
	op.SetIssuer(srv.URL)
	return &testOP{srv: srv, key: key}
}

func (op *testOP) sign(t *testing.T, typ string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithHeader("kid", "op-key-1")
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: op.key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := signer.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := jws.CompactSerialize()
	return s
}

func (op *testOP) idToken(t *testing.T, edit ...any) string {
	c := map[string]any{
		"iss": op.srv.URL, "sub": "user-1", "aud": "client-1", "azp": "client-1",
		"iat": fixedNow.Unix(), "exp": fixedNow.Add(time.Hour).Unix(),
		"auth_time": fixedNow.Add(-5 * time.Minute).Unix(), "nonce": opNonce,
		"email": "alice@example.test", "email_verified": true, "amr": []string{"pwd"},
	}
	for i := 0; i+1 < len(edit); i += 2 {
		if edit[i+1] == nil {
			delete(c, edit[i].(string))
		} else {
			c[edit[i].(string)] = edit[i+1]
		}
	}
	return op.sign(t, "JWT", c)
}

func TestVerifyOIDC(t *testing.T) {
	op := newTestOP(t)
	down := httptest.NewServer(nil)
	downURL := down.URL
	down.Close()
	idTok := op.idToken(t)
	accessTok := op.sign(t, "at+jwt", map[string]any{
		"iss": op.srv.URL, "sub": "user-1", "aud": "https://api.example.test", "client_id": "client-1",
		"scope": "openid read", "jti": "at-1", "iat": fixedNow.Unix(), "exp": fixedNow.Add(10 * time.Minute).Unix(),
	})
	oidcArgs := func(tok string, more ...string) []string {
		return append([]string{"token", "verify", tok, "--oidc-issuer", op.srv.URL}, more...)
	}
	tests := []struct {
		name      string
		args      []string
		want      expect
		jsonCodes []string // with -o json: the reasons listed
	}{
		{name: "a valid ID token", args: oidcArgs(idTok, "--audience", "client-1", "--nonce", opNonce, "--max-age", "10m"),
			want: expect{code: 0, stdout: []string{"VALID", "ID token for client-1", "present, 22 characters"}, emptyStderr: true}},
		{name: "--aud works as --audience", args: oidcArgs(idTok, "--aud", "client-1"),
			want: expect{code: 0, stdout: []string{"VALID", "hint: the token carries a nonce"}}},
		{name: "wrong audience", args: oidcArgs(idTok, "--audience", "client-2"),
			want: expect{code: 1, stdout: []string{"INVALID", "audience_mismatch", "azp_mismatch", `issued to client "client-1"`}}},
		{name: "wrong audience json", args: oidcArgs(idTok, "--audience", "client-2", "-o", "json"),
			want: expect{code: 1}, jsonCodes: []string{"audience_mismatch", "azp_mismatch"}},
		{name: "nonce mismatch and auth_time too old", args: oidcArgs(idTok, "--audience", "client-1", "--nonce", "other", "--max-age", "1m", "-o", "json"),
			want: expect{code: 1}, jsonCodes: []string{"nonce_mismatch", "auth_time_too_old"}},
		{name: "expired", args: oidcArgs(op.idToken(t, "exp", fixedNow.Add(-time.Minute).Unix(), "iat", fixedNow.Add(-time.Hour).Unix()), "--audience", "client-1"),
			want: expect{code: 1, stdout: []string{"token_expired"}}},
		{name: "an access token", args: oidcArgs(accessTok, "--access-token", "--audience", "https://api.example.test"),
			want: expect{code: 0, stdout: []string{"VALID", "JWT access token for https://api.example.test", "openid read"}}},
		{name: "an access token without --access-token", args: oidcArgs(accessTok, "--audience", "https://api.example.test"),
			want: expect{code: 1, stdout: []string{"typ_mismatch", "add --access-token"}}},
		{name: "no audience", args: oidcArgs(idTok),
			want: expect{code: 2, stderr: []string{"--audience is required", "hint: "}, emptyStdout: true}},
		{name: "key flags with --oidc-issuer", args: oidcArgs(idTok, "--audience", "client-1", "--secret-env", "SSO_SECRET"),
			want: expect{code: 2, stderr: []string{"cannot be combined with --secret-env"}}},
		{name: "--nonce without --oidc-issuer", args: []string{"token", "verify", idTok, "--iss", "x", "--aud", "y", "--secret-env", "SSO_SECRET", "--nonce", "n"},
			want: expect{code: 2, stderr: []string{"--nonce applies only with --oidc-issuer"}}},
		{name: "a trailing slash the provider does not use", args: []string{"token", "verify", idTok, "--oidc-issuer", op.srv.URL + "/", "--audience", "client-1"},
			want: expect{code: 2, stderr: []string{"names another issuer"}}},
		{name: "provider down", args: []string{"token", "verify", idTok, "--oidc-issuer", downURL, "--audience", "client-1"},
			want: expect{code: 3, stderr: []string{"OpenID provider unavailable", "hint: "}, emptyStdout: true}},
		{name: "provider down json", args: []string{"token", "verify", idTok, "--oidc-issuer", downURL, "--audience", "client-1", "-o", "json"},
			want: expect{code: 3, stdout: []string{`"provider_unavailable"`}}},
		{name: "the handoff verifier points an ID token at --oidc-issuer", args: verifyArgs(idTok, "--secret-env", "SSO_SECRET"),
			want: expect{code: 1, stdout: []string{"typ_mismatch", "looks like an ID token", "--oidc-issuer"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			// Text output shows only that a nonce is present; -o json and
			// the handoff verifier show the claims as the token has them.
			if !slices.Contains(tt.args, "json") && !slices.Contains(tt.args, "--secret-env") {
				c.addSecret(opNonce)
			}
			c.addSecret(idTok)
			c.addSecret(accessTok)
			r := c.run(tt.args...)
			r.check(t, tt.want)
			if tt.jsonCodes != nil {
				got := codes(t, jsonDoc(t, r.Stdout), "reasons")
				slices.Sort(got)
				slices.Sort(tt.jsonCodes)
				if !slices.Equal(got, tt.jsonCodes) {
					t.Errorf("reasons = %q, want %q", got, tt.jsonCodes)
				}
			}
		})
	}
}

func TestDecodeOIDC(t *testing.T) {
	op := newTestOP(t)
	idTok := op.idToken(t, "aud", []string{"client-1", "client-2"}, "azp", nil, "exp", fixedNow.Add(30*24*time.Hour).Unix())
	c := newCLI(t)
	c.addSecret(opNonce)
	c.addSecret(idTok)
	r := c.run("token", "decode", idTok)
	r.check(t, expect{code: 0, stdout: []string{
		"looks like  ID token", "typ JWT with nonce, auth_time",
		"email     alice@example.test  (email, verified: true)", "nonce     present, 22 characters", "auth_time",
		"azp_missing", "lifetime_too_long",
	}, notStdout: []string{"sid_missing", "jti_missing", "typ_mismatch"}, emptyStderr: true})

	// -o json shows the claims exactly as the token has them, nonce too.
	c = newCLI(t)
	c.addSecret(idTok)
	r = c.run("token", "decode", "-o", "json", idTok)
	doc := jsonDoc(t, r.Stdout)
	if doc["kind"] != "id_token" {
		t.Errorf("kind = %v", doc["kind"])
	}
	oidc, _ := doc["oidc"].(map[string]any)
	if oidc["nonce_present"] != true {
		t.Errorf("oidc = %v", oidc)
	}
	if got := codes(t, doc, "warnings"); !slices.Contains(got, "azp_missing") {
		t.Errorf("warnings = %q", got)
	}
}
