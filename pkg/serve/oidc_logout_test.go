package serve_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc/oidctest"

	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve"
)

// A hostile logout-token table (OIDC Back-Channel Logout 1.0 §2.6) against
// an OpenID provider in the test process, go-oidc's oidctest: a real
// provider (Hydra, oidc_hydra_test.go) cannot be made to sign these.
func TestOIDCLogoutTokenRefusals(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	stray, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	op := &oidctest.Server{
		PublicKeys: []oidctest.PublicKey{{PublicKey: key.Public(), KeyID: "k1", Algorithm: "ES256"}},
		Algorithms: []string{"ES256"},
	}
	srv := httptest.NewServer(op)
	t.Cleanup(srv.Close)
	op.SetIssuer(srv.URL)

	now := time.Now()
	c, err := chain.Parse("chain.yaml", []byte(serve.OIDCTestChain(srv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := serve.NewOIDC(c, serve.Env{HTTPClient: srv.Client(), Now: func() time.Time { return now }}, serve.OIDCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	good := func() map[string]any {
		return map[string]any{
			"iss": srv.URL, "aud": "ssoctl", "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
			"jti": "j-" + base64.RawURLEncoding.EncodeToString([]byte(t.Name()+time.Now().String())), "sid": "s1", "sub": "u1",
			"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
		}
	}
	with := func(edit func(m map[string]any)) map[string]any { m := good(); edit(m); return m }
	sign := func(k *ecdsa.PrivateKey, claims map[string]any) string {
		b, _ := json.Marshal(claims)
		return oidctest.SignIDToken(k, "k1", "ES256", string(b))
	}
	unsigned := func(claims map[string]any) string {
		b, _ := json.Marshal(claims)
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
		return h + "." + base64.RawURLEncoding.EncodeToString(b) + "."
	}
	seen := map[string]bool{}
	replay := func(jti string, _ time.Time) (bool, error) {
		if seen[jti] {
			return false, nil
		}
		seen[jti] = true
		return true, nil
	}
	replayed := sign(key, good())
	if _, _, err := p.VerifyLogoutToken(context.Background(), replayed, replay); err != nil {
		t.Fatalf("a good logout token is refused: %v", err)
	}
	for _, tc := range []struct{ name, raw, want string }{
		{"replayed jti", replayed, "already used"},
		{"wrong aud", sign(key, with(func(m map[string]any) { m["aud"] = "someone-else" })), "audience"},
		{"wrong iss", sign(key, with(func(m map[string]any) { m["iss"] = "https://evil.example" })), "different provider"},
		{"no events", sign(key, with(func(m map[string]any) { delete(m, "events") })), "no events"},
		{"events without the back-channel member", sign(key, with(func(m map[string]any) { m["events"] = map[string]any{"x": map[string]any{}} })), "events lacks"},
		{"with a nonce (an ID token, not a logout token)", sign(key, with(func(m map[string]any) { m["nonce"] = "n" })), "nonce"},
		{"neither sid nor sub", sign(key, with(func(m map[string]any) { delete(m, "sid"); delete(m, "sub") })), "neither sid nor sub"},
		{"no jti", sign(key, with(func(m map[string]any) { delete(m, "jti") })), "no jti"},
		{"expired", sign(key, with(func(m map[string]any) {
			m["iat"] = now.Add(-3 * time.Minute).Unix()
			m["exp"] = now.Add(-time.Minute).Unix()
		})), "expired"},
		{"iat too old, no exp", sign(key, with(func(m map[string]any) { m["iat"] = now.Add(-time.Hour).Unix(); delete(m, "exp") })), "iat is more than"},
		{"iat in the future", sign(key, with(func(m map[string]any) { m["iat"] = now.Add(time.Hour).Unix() })), "future"},
		{`alg "none"`, unsigned(good()), "none"},
		{"signed with a key the provider does not publish", sign(stray, good()), "signature"},
		{"not a JWT", "logout", "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := p.VerifyLogoutToken(context.Background(), tc.raw, replay)
			if err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.want)) {
				t.Errorf("err = %v, want a refusal naming %q", err, tc.want)
			}
		})
	}
}
