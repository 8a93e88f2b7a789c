package token_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc/oidctest"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/ssoctl/ssoctl/pkg/token"
)

// testProvider is an OpenID provider in the test process: go-oidc's
// oidctest server (discovery at /.well-known/openid-configuration, the
// JWK Set at /keys) with a P-256 key made for the test.
type testProvider struct {
	srv   *httptest.Server
	key   *ecdsa.PrivateKey
	kid   string
	stray *ecdsa.PrivateKey // a key the JWK Set does not publish
}

func newTestProvider(t *testing.T) *testProvider {
	t.Helper()
	gen := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	p := &testProvider{key: gen(), kid: "op-key-1", stray: gen()}
	op := &oidctest.Server{
		PublicKeys: []oidctest.PublicKey{{PublicKey: p.key.Public(), KeyID: p.kid, Algorithm: "ES256"}},
		Algorithms: []string{"ES256", "HS256"}, // HS256 advertised, and still never verified
	}
	p.srv = httptest.NewServer(op)
	t.Cleanup(p.srv.Close)
	op.SetIssuer(p.srv.URL)
	return p
}

func (p *testProvider) issuer() string { return p.srv.URL }

// sign makes a compact JWS over claims with key, typed typ ("" for none).
func (p *testProvider) sign(t *testing.T, key *ecdsa.PrivateKey, typ string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithHeader("kid", p.kid)
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// idClaims are an ID token's claims, issued at testNow for client-1 an hour
// before, with the user authenticated five minutes before that.
func (p *testProvider) idClaims(edit ...any) map[string]any {
	c := map[string]any{
		"iss": p.issuer(), "sub": "user-1", "aud": "client-1", "azp": "client-1",
		"iat": testNow.Unix(), "exp": testNow.Add(time.Hour).Unix(),
		"auth_time": testNow.Add(-5 * time.Minute).Unix(), "nonce": "n-0S6_WzA2Mj", "sid": "s-1",
	}
	for i := 0; i+1 < len(edit); i += 2 {
		if edit[i+1] == nil {
			delete(c, edit[i].(string))
		} else {
			c[edit[i].(string)] = edit[i+1]
		}
	}
	return c
}

func (p *testProvider) accessClaims() map[string]any {
	return map[string]any{
		"iss": p.issuer(), "sub": "user-1", "aud": "https://api.example.test", "client_id": "client-1",
		"scope": "openid read", "jti": "at-1", "iat": testNow.Unix(), "exp": testNow.Add(10 * time.Minute).Unix(),
	}
}

func TestOIDCVerify(t *testing.T) {
	p := newTestProvider(t)
	unsigned := func(claims map[string]any) string {
		b, _ := json.Marshal(claims)
		e := base64.RawURLEncoding.EncodeToString
		return e([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + e(b) + "."
	}
	tests := []struct {
		name  string
		token string
		cfg   token.OIDCConfig
		want  []*token.Reason // nil: valid
		// detail, when set, is the exact text of the one failure: the
		// wording OIDC tokens get, not a handoff's.
		detail string
	}{
		{name: "a valid ID token", token: p.sign(t, p.key, "JWT", p.idClaims()), cfg: token.OIDCConfig{Audience: "client-1"}},
		{name: "a valid ID token with no typ, nonce checked", token: p.sign(t, p.key, "", p.idClaims()), cfg: token.OIDCConfig{Audience: "client-1", Nonce: "n-0S6_WzA2Mj"}},
		{name: "issued to another client", token: p.sign(t, p.key, "JWT", p.idClaims("aud", "client-2", "azp", nil)), cfg: token.OIDCConfig{Audience: "client-1"},
			want: rs(token.ErrAudienceMismatch)},
		{name: "azp names another client", token: p.sign(t, p.key, "JWT", p.idClaims("aud", []string{"client-1", "client-2"}, "azp", "client-2")), cfg: token.OIDCConfig{Audience: "client-1"},
			want: rs(token.ErrAzpMismatch)},
		{name: "from another issuer", token: p.sign(t, p.key, "JWT", p.idClaims("iss", "https://evil.example.test")), cfg: token.OIDCConfig{Audience: "client-1"},
			want: rs(token.ErrIssuerMismatch)},
		{name: "expired", token: p.sign(t, p.key, "JWT", p.idClaims("iat", testNow.Add(-2*time.Hour).Unix(), "exp", testNow.Add(-time.Hour).Unix())), cfg: token.OIDCConfig{Audience: "client-1", Leeway: 5 * time.Second},
			want: rs(token.ErrExpired)},
		{name: "expired within leeway", token: p.sign(t, p.key, "JWT", p.idClaims("exp", testNow.Add(-3*time.Second).Unix(), "iat", testNow.Add(-time.Hour).Unix())), cfg: token.OIDCConfig{Audience: "client-1", Leeway: 5 * time.Second}},
		{name: "nonce mismatch", token: p.sign(t, p.key, "JWT", p.idClaims()), cfg: token.OIDCConfig{Audience: "client-1", Nonce: "another-nonce"},
			want: rs(token.ErrNonceMismatch)},
		{name: "nonce expected, none sent", token: p.sign(t, p.key, "JWT", p.idClaims("nonce", nil)), cfg: token.OIDCConfig{Audience: "client-1", Nonce: "n-0S6_WzA2Mj"},
			want: rs(token.ErrNonceMissing)},
		{name: "alg none", token: unsigned(p.idClaims()), cfg: token.OIDCConfig{Audience: "client-1"},
			want: rs(token.ErrAlgNone)},
		{name: "HS256, though advertised", token: hs256(t, p.idClaims()), cfg: token.OIDCConfig{Audience: "client-1"},
			want: rs(token.ErrAlgNotAllowed)},
		{name: "signed by a key not in the JWK Set", token: p.sign(t, p.stray, "JWT", p.idClaims()), cfg: token.OIDCConfig{Audience: "client-1"},
			want: rs(token.ErrSignatureInvalid)},
		{name: "authenticated too long ago for max age", token: p.sign(t, p.key, "JWT", p.idClaims()), cfg: token.OIDCConfig{Audience: "client-1", MaxAge: time.Minute},
			want: rs(token.ErrAuthTimeTooOld)},
		{name: "max age and no auth_time", token: p.sign(t, p.key, "JWT", p.idClaims("auth_time", nil)), cfg: token.OIDCConfig{Audience: "client-1", MaxAge: time.Hour},
			want: rs(token.ErrAuthTimeMissing)},
		{name: "auth_time within max age", token: p.sign(t, p.key, "JWT", p.idClaims()), cfg: token.OIDCConfig{Audience: "client-1", MaxAge: 10 * time.Minute}},
		{name: "every failure at once", token: p.sign(t, p.key, "JWT", p.idClaims("iss", "https://evil.example.test", "aud", "client-2", "azp", nil, "sub", nil, "exp", testNow.Add(-time.Minute).Unix(), "iat", testNow.Add(-time.Hour).Unix())),
			cfg:  token.OIDCConfig{Audience: "client-1", Nonce: "x"},
			want: rs(token.ErrExpired, token.ErrIssuerMismatch, token.ErrSubMissing, token.ErrAudienceMismatch, token.ErrNonceMismatch)},
		{name: "an access token taken for an ID token", token: p.sign(t, p.key, "at+jwt", p.accessClaims()), cfg: token.OIDCConfig{Audience: "https://api.example.test"},
			want: rs(token.ErrTypMismatch)},
		{name: "a valid access token", token: p.sign(t, p.key, "at+jwt", p.accessClaims()), cfg: token.OIDCConfig{Audience: "https://api.example.test", AccessToken: true}},
		{name: "an ID token taken for an access token", token: p.sign(t, p.key, "JWT", p.idClaims()), cfg: token.OIDCConfig{Audience: "client-1", AccessToken: true},
			want: rs(token.ErrTypMismatch, token.ErrClientIDMissing, token.ErrJtiMissing)},
		{name: "a lifetime over the maximum asked for", token: p.sign(t, p.key, "JWT", p.idClaims()), cfg: token.OIDCConfig{Audience: "client-1", MaxLifetime: 10 * time.Minute},
			want: rs(token.ErrLifetimeTooLong)},
		// The time checks are shared with handoffs; the words are not.
		{name: "nbf a minute ahead, beyond the leeway", token: p.sign(t, p.key, "JWT", p.idClaims("nbf", testNow.Add(time.Minute).Unix())), cfg: token.OIDCConfig{Audience: "client-1", Leeway: 5 * time.Second},
			want: rs(token.ErrNotYetValid), detail: "nbf is 1m0s in the future (leeway 5s)"},
		{name: "iat a minute ahead blames the provider's clock", token: p.sign(t, p.key, "JWT", p.idClaims("iat", testNow.Add(time.Minute).Unix())), cfg: token.OIDCConfig{Audience: "client-1", Leeway: 5 * time.Second},
			want: rs(token.ErrIssuedInFuture), detail: "iat is 1m0s in the future (leeway 5s); check the provider's clock"},
		{name: "no iat", token: p.sign(t, p.key, "JWT", p.idClaims("iat", nil)), cfg: token.OIDCConfig{Audience: "client-1"},
			want: rs(token.ErrIatMissing), detail: "no iat claim"},
		{name: "exp before iat, both within the leeway", token: p.sign(t, p.key, "JWT", p.idClaims("iat", testNow.Add(3*time.Second).Unix(), "exp", testNow.Add(2*time.Second).Unix())), cfg: token.OIDCConfig{Audience: "client-1", Leeway: 5 * time.Second},
			want: rs(token.ErrLifetimeInvalid), detail: "exp 2026-03-14T15:09:28Z is not after iat 2026-03-14T15:09:29Z"},
		{name: "a lifetime of 4 days over a maximum of 72h, the limit as configured", token: p.sign(t, p.key, "JWT", p.idClaims("exp", testNow.Add(96*time.Hour).Unix())), cfg: token.OIDCConfig{Audience: "client-1", MaxLifetime: 72 * time.Hour},
			want: rs(token.ErrLifetimeTooLong), detail: "lifetime is 4 days; at most 72h is accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			prov, err := token.DiscoverOIDC(ctx, p.issuer(), p.srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			if algs := prov.Algorithms(); !slices.Equal(algs, []string{"ES256"}) {
				t.Errorf("Algorithms = %q, want only ES256 (HMAC is never verified with published keys)", algs)
			}
			cfg := tt.cfg
			cfg.Now = fixedClock
			v, err := prov.Verifier(cfg)
			if err != nil {
				t.Fatal(err)
			}
			tok, _, err := v.Verify(ctx, tt.token)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			var inv *token.InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("Verify error = %v, want an *InvalidError", err)
			}
			if tok == nil {
				t.Error("no token returned with the failures")
			}
			assertReasons(t, inv, tt.want)
			if tt.detail != "" && (len(inv.Failures) != 1 || inv.Failures[0].Detail != tt.detail) {
				t.Errorf("detail:\n got %v\nwant %s", inv, tt.detail)
			}
		})
	}
}

// assertReasons checks that inv lists exactly the reasons want, each once.
func assertReasons(t *testing.T, inv *token.InvalidError, want []*token.Reason) {
	t.Helper()
	var got []string
	for _, f := range inv.Failures {
		got = append(got, f.Reason.Code)
	}
	var wantCodes []string
	for _, r := range want {
		wantCodes = append(wantCodes, r.Code)
		if !errors.Is(inv, r) {
			t.Errorf("errors.Is(err, %s) = false", r.Code)
		}
	}
	slices.Sort(got)
	slices.Sort(wantCodes)
	if !slices.Equal(got, wantCodes) {
		t.Errorf("reasons = %q, want %q\n%v", got, wantCodes, inv)
	}
}

// hs256 signs claims with a made-up secret, as a provider signing ID tokens
// with the client secret would.
func hs256(t *testing.T, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("client-secret-of-thirty-two-bytes!")}, (&jose.SignerOptions{}).WithType("JWT"))
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

func TestOIDCProviderUnavailable(t *testing.T) {
	ctx := context.Background()
	t.Run("discovery cannot be reached", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		_, err := token.DiscoverOIDC(ctx, url, nil)
		if !errors.Is(err, token.ErrProviderUnavailable) {
			t.Errorf("DiscoverOIDC = %v, want ErrProviderUnavailable", err)
		}
	})
	t.Run("discovery names another issuer", func(t *testing.T) {
		p := newTestProvider(t)
		_, err := token.DiscoverOIDC(ctx, p.issuer()+"/", p.srv.Client())
		if !errors.Is(err, token.ErrProviderIssuerMismatch) {
			t.Errorf("DiscoverOIDC = %v, want ErrProviderIssuerMismatch", err)
		}
	})
	t.Run("plain http off loopback", func(t *testing.T) {
		if _, err := token.DiscoverOIDC(ctx, "http://idp.example.test", nil); err == nil || errors.Is(err, token.ErrProviderUnavailable) {
			t.Errorf("DiscoverOIDC = %v, want a configuration error", err)
		}
	})
	t.Run("the JWK Set goes away after discovery", func(t *testing.T) {
		p := newTestProvider(t)
		prov, err := token.DiscoverOIDC(ctx, p.issuer(), p.srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		p.srv.Close()
		v, err := prov.Verifier(token.OIDCConfig{Audience: "client-1", Now: fixedClock})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = v.Verify(ctx, p.sign(t, p.key, "JWT", p.idClaims()))
		if !errors.Is(err, token.ErrKeysUnavailable) {
			t.Errorf("Verify = %v, want ErrKeysUnavailable", err)
		}
	})
	t.Run("the key set is cached", func(t *testing.T) {
		p := newTestProvider(t)
		prov, err := token.DiscoverOIDC(ctx, p.issuer(), p.srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		v, _ := prov.Verifier(token.OIDCConfig{Audience: "client-1", Now: fixedClock})
		tok := p.sign(t, p.key, "JWT", p.idClaims())
		if _, _, err := v.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
		p.srv.Close()
		if _, _, err := v.Verify(ctx, tok); err != nil {
			t.Errorf("second Verify with the provider down = %v, want the cached key to verify", err)
		}
	})
}

func TestKindOfAndInspectOIDC(t *testing.T) {
	p := newTestProvider(t)
	tests := []struct {
		name  string
		token string
		kind  token.Kind
		want  []*token.Reason
	}{
		{name: "an ID token", token: p.sign(t, p.key, "JWT", p.idClaims()), kind: token.KindIDToken},
		{name: "an untyped ID token with a nonce", token: p.sign(t, p.key, "", p.idClaims()), kind: token.KindIDToken},
		{name: "typ JWT with iss, sub and aud", token: p.sign(t, p.key, "JWT", p.idClaims("nonce", nil, "auth_time", nil, "azp", nil)), kind: token.KindIDToken},
		{name: "an at+jwt access token", token: p.sign(t, p.key, "at+jwt", p.accessClaims()), kind: token.KindAccessToken},
		{name: "an access token by its claims", token: p.sign(t, p.key, "", p.accessClaims()), kind: token.KindAccessToken, want: rs(token.ErrTypMissing)},
		{name: "several audiences without azp, a long life, no exp", kind: token.KindIDToken,
			token: p.sign(t, p.key, "JWT", p.idClaims("azp", nil, "aud", []string{"client-1", "client-2"}, "exp", testNow.Add(30*24*time.Hour).Unix())),
			want:  rs(token.ErrAzpMissing, token.ErrLifetimeTooLong)},
		{name: "alg none, no exp", kind: token.KindIDToken,
			token: base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"x","sub":"u","aud":"c","nonce":"n","iat":1}`)) + ".",
			want:  rs(token.ErrAlgNone, token.ErrExpMissing)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := token.InspectOIDC(tt.token, testNow, "")
			if err != nil {
				t.Fatal(err)
			}
			if in.Kind != tt.kind || in.Why == "" {
				t.Errorf("kind = %s (%q), want %s", in.Kind, in.Why, tt.kind)
			}
			assertReasons(t, &token.InvalidError{Failures: in.Warnings}, tt.want)
		})
	}

	handoff := newTestKeys(t).signer(token.HS256).sign(t, header("HS256", "hs1").String(), goodClaims().String())
	tok, err := token.Parse(handoff)
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := token.KindOf(tok); k != token.KindHandoff {
		t.Errorf("a handoff is %s", k)
	}
	if _, err := token.InspectOIDC(handoff, testNow, ""); err == nil {
		t.Error("InspectOIDC took a handoff")
	}
}
