package hydratest_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	client "github.com/ory/client-go"
	"golang.org/x/net/publicsuffix"
	"golang.org/x/oauth2"

	"github.com/ssoctl/ssoctl/internal/hydratest"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// TestCodeFlow walks a browser through a real Hydra the way ssoctl's
// idp.kind: oidc issuer will: authorization request with PKCE, state and
// nonce, Hydra's login and consent pages (a tiny provider that signs in
// alice), the code back at the relying party, the token exchange, and the
// ID token verified against Hydra's discovery document and keys. A second
// request is remembered without a login page; once alice's login sessions
// are revoked the login page is back.
func TestCodeFlow(t *testing.T) {
	// Every role has its own host name; the dialer sends them to
	// loopback, so each keeps its own cookies, as in a browser.
	app := httptest.NewUnstartedServer(nil)
	t.Cleanup(app.Close)
	port := portOf(t, app.Listener.Addr())
	appURL := "http://login.company.localhost:" + port
	redirectURI := "http://rp.company2.localhost:" + port + "/callback"

	h := hydratest.Start(t, hydratest.Options{
		Host:       "hydra.company.localhost",
		LoginURL:   appURL + "/login",
		ConsentURL: appURL + "/consent",
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("hydra's log:\n%s", h.Log())
		}
	})
	p := &provider{t: t, api: h.OAuth2API()}
	app.Config.Handler = p
	app.Start()

	id, secret := h.CreateClient(t, hydratest.Client{
		Name:         "ssoctl issuer",
		RedirectURIs: []string{redirectURI},
		Scope:        "openid offline_access email",
	})
	if id == "" || secret == "" {
		t.Fatalf("CreateClient = %q, %q; want an id and a secret", id, secret)
	}

	hc := &http.Client{Transport: hydratest.Transport(), Timeout: 10 * time.Second}
	ctx := oidc.ClientContext(context.Background(), hc)
	ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)
	op, err := oidc.NewProvider(ctx, h.PublicURL())
	if err != nil {
		t.Fatalf("discovery at %s: %v", h.PublicURL(), err)
	}
	rp := &oauth2.Config{
		ClientID:     id,
		ClientSecret: secret,
		Endpoint:     op.Endpoint(),
		RedirectURL:  redirectURI,
		Scopes:       []string{oidc.ScopeOpenID, "email"},
	}
	jar, err := cookiejar.New(&cookiejar.Options{PublicSuffixList: publicsuffix.List})
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{
		Transport:     hydratest.Transport(),
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	signIn := func(t *testing.T) {
		verifier, state, nonce := oauth2.GenerateVerifier(), rand.Text(), rand.Text()
		start := rp.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))
		back := walk(t, browser, start, redirectURI)
		if got := back.Query().Get("state"); got != state {
			t.Fatalf("state at the redirect_uri = %q, want %q", got, state)
		}
		code := back.Query().Get("code")
		if code == "" {
			t.Fatalf("no code at the redirect_uri: %s", back)
		}
		tok, err := rp.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange the code: %v", err)
		}
		raw, _ := tok.Extra("id_token").(string)
		if raw == "" {
			t.Fatal("the token response has no id_token")
		}
		idt, err := op.Verifier(&oidc.Config{ClientID: id}).Verify(ctx, raw)
		if err != nil {
			t.Fatalf("verify the id_token: %v", err)
		}
		var claims struct {
			Email string `json:"email"`
			Role  string `json:"role"`
			SID   string `json:"sid"`
		}
		if err := idt.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ name, got, want string }{
			{"iss", idt.Issuer, h.PublicURL()},
			{"sub", idt.Subject, "alice"},
			{"nonce", idt.Nonce, nonce},
			{"email", claims.Email, "alice@example.com"},
			{"role", claims.Role, "admin"},
		} {
			if c.got != c.want {
				t.Errorf("id_token %s = %q, want %q", c.name, c.got, c.want)
			}
		}
		if !slices.Contains(idt.Audience, id) {
			t.Errorf("id_token aud = %q, want it to hold %q", idt.Audience, id)
		}
		if claims.SID == "" {
			t.Error("id_token has no sid; back-channel logout needs one")
		}
		// What `ssoctl token verify --oidc-issuer` runs, on a real Hydra
		// ID token: valid for its client and nonce, and a wrong nonce is
		// named as such.
		prov, err := token.DiscoverOIDC(ctx, h.PublicURL(), hc)
		if err != nil {
			t.Fatalf("ssoctl's OIDC discovery at Hydra: %v", err)
		}
		for _, tc := range []struct {
			nonce string
			want  *token.Reason
		}{{nonce, nil}, {"another-nonce-0123", token.ErrNonceMismatch}} {
			v, err := prov.Verifier(token.OIDCConfig{Audience: id, Nonce: tc.nonce})
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = v.Verify(ctx, raw)
			var inv *token.InvalidError
			switch {
			case tc.want == nil && err != nil:
				t.Errorf("ssoctl's verifier refuses Hydra's ID token: %v", err)
			case tc.want != nil && (!errors.As(err, &inv) || !slices.Contains(inv.Codes(), tc.want.Code)):
				t.Errorf("ssoctl's verifier with a wrong nonce: %v, want %s", err, tc.want.Code)
			}
		}
	}

	steps := []struct {
		name   string
		before func(t *testing.T)
		// skip is what Hydra's login request says: true when it
		// remembers alice and shows no login page.
		skip bool
	}{
		{name: "first sign-in shows the login page", skip: false},
		{name: "a remembered session skips it", skip: true},
		{
			name:   "after revoking alice's sessions it is back",
			before: func(t *testing.T) { h.RevokeLoginSessions(t, "alice") },
			skip:   false,
		},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.before != nil {
				s.before(t)
			}
			signIn(t)
			if got := p.lastSkip(); got != s.skip {
				t.Errorf("login request skip = %v, want %v", got, s.skip)
			}
		})
	}
}

// provider is a login and consent app: it signs in alice without asking
// and grants every scope, with email and role in the ID token.
type provider struct {
	t   *testing.T
	api client.OAuth2API

	mu   sync.Mutex
	skip bool // the last login request's
}

func (p *provider) lastSkip() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.skip
}

func (p *provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var to string
	switch r.URL.Path {
	case "/login":
		lr, _, err := p.api.GetOAuth2LoginRequest(ctx).LoginChallenge(r.URL.Query().Get("login_challenge")).Execute()
		if err != nil {
			p.fail(w, "get login request", err)
			return
		}
		p.mu.Lock()
		p.skip = lr.Skip
		p.mu.Unlock()
		red, _, err := p.api.AcceptOAuth2LoginRequest(ctx).LoginChallenge(lr.Challenge).
			AcceptOAuth2LoginRequest(client.AcceptOAuth2LoginRequest{Subject: "alice", Remember: client.PtrBool(true)}).
			Execute()
		if err != nil {
			p.fail(w, "accept login", err)
			return
		}
		to = red.RedirectTo
	case "/consent":
		cr, _, err := p.api.GetOAuth2ConsentRequest(ctx).ConsentChallenge(r.URL.Query().Get("consent_challenge")).Execute()
		if err != nil {
			p.fail(w, "get consent request", err)
			return
		}
		red, _, err := p.api.AcceptOAuth2ConsentRequest(ctx).ConsentChallenge(cr.Challenge).
			AcceptOAuth2ConsentRequest(client.AcceptOAuth2ConsentRequest{
				GrantScope:               cr.RequestedScope,
				GrantAccessTokenAudience: cr.RequestedAccessTokenAudience,
				Session: &client.AcceptOAuth2ConsentRequestSession{
					IdToken: map[string]any{"email": "alice@example.com", "role": "admin"},
				},
			}).Execute()
		if err != nil {
			p.fail(w, "accept consent", err)
			return
		}
		to = red.RedirectTo
	default:
		http.NotFound(w, r)
		return
	}
	http.Redirect(w, r, to, http.StatusFound)
}

func (p *provider) fail(w http.ResponseWriter, what string, err error) {
	var oe *client.GenericOpenAPIError
	if errors.As(err, &oe) {
		err = errors.New(oe.Error() + ": " + string(oe.Body()))
	}
	p.t.Errorf("provider: %s: %v", what, err)
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

// walk follows redirects from start, as a browser would, until one leads
// to redirectURI, and returns that URL; the hops are in the failure.
func walk(t *testing.T, browser *http.Client, start, redirectURI string) *url.URL {
	t.Helper()
	var hops []string
	at := start
	for range 10 {
		hops = append(hops, at)
		if strings.HasPrefix(at, redirectURI+"?") {
			u, err := url.Parse(at)
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
		resp, err := browser.Get(at)
		if err != nil {
			t.Fatalf("GET %s: %v\nhops:\n  %s", at, err, strings.Join(hops, "\n  "))
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			t.Fatalf("GET %s: %s without a redirect\nhops:\n  %s", at, resp.Status, strings.Join(hops, "\n  "))
		}
		at = loc.String()
	}
	t.Fatalf("no redirect to %s in 10 hops:\n  %s", redirectURI, strings.Join(hops, "\n  "))
	return nil
}

func portOf(t *testing.T, a net.Addr) string {
	t.Helper()
	_, port, err := net.SplitHostPort(a.String())
	if err != nil {
		t.Fatal(err)
	}
	return port
}
