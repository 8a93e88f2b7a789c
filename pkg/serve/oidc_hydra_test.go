package serve_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ssoctl/ssoctl/internal/browsertest"
	"github.com/ssoctl/ssoctl/internal/hydratest"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve"
)

// The OIDC chain of these tests: a real Ory Hydra is the provider, the dev
// IdP is Hydra's login and consent provider, and the issuer is Hydra's
// client. The issuer listens on 127.0.0.1 under its own port because Hydra
// itself POSTs back-channel logouts to it, and Hydra resolves names with
// the system resolver, not the tests' dialer.
const (
	oidcLoginURL = "http://login.company.localhost:4455"
)

type oidcChain struct {
	t         *testing.T
	net       *browsertest.Net
	hydra     *hydratest.Hydra
	issuer    string
	roles     *serve.Roles   // the first instance's
	instances []*serve.Roles // every instance's roles, roles first
	logoutMu  sync.Mutex
	logoutRaw []string // logout tokens Hydra delivered to the issuer
}

func startOIDCChain(t *testing.T) *oidcChain { return startOIDCChainRecheck(t, time.Minute) }

// startOIDCChainRecheck is startOIDCChain with every receiver re-checking
// its sessions at most every recheck.
func startOIDCChainRecheck(t *testing.T, recheck time.Duration) *oidcChain {
	return startOIDCChainOpts(t, oidcChainOptions{recheck: recheck})
}

type oidcChainOptions struct {
	recheck time.Duration
	// portalApart runs the portal as `serve receiver` would run it, in a
	// "process" of its own (its own roles and IdP client), so it knows no
	// OIDC session and must ask the issuer.
	portalApart bool
	// redisURL, when set, runs two instances of every role on Redis
	// stores, each role's pair behind a round-robin (scale_test.go).
	redisURL string
}

func startOIDCChainOpts(t *testing.T, o oidcChainOptions) *oidcChain {
	t.Helper()
	recheck := o.recheck
	oc := &oidcChain{t: t, net: browsertest.NewNet()}
	oc.hydra = hydratest.Start(t, hydratest.Options{
		Host:       "hydra.company.localhost",
		LoginURL:   oidcLoginURL + serve.HydraLoginPath,
		ConsentURL: oidcLoginURL + serve.HydraConsentPath,
		LogoutURL:  oidcLoginURL + serve.HydraLogoutPath,
	})
	for _, u := range []string{oc.hydra.PublicURL(), oc.hydra.AdminURL()} {
		pu, _ := url.Parse(u)
		oc.net.Map(u, "127.0.0.1:"+pu.Port())
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	oc.issuer = "http://" + ln.Addr().String()
	id, secret := oc.hydra.CreateClient(t, hydratest.Client{
		Name:                   "ssoctl issuer",
		RedirectURIs:           []string{oc.issuer + chain.CallbackPath},
		PostLogoutRedirectURIs: []string{oc.issuer + chain.LogoutContinuePath},
		BackchannelLogoutURI:   oc.issuer + chain.OIDCBackchannelLogoutPath,
	})
	yaml := fmt.Sprintf(`version: 1
name: oidc
dev: true
idp:
  kind: oidc
  public_url: %s
  client_id: %s
  client_secret: {env: OIDC_CLIENT_SECRET}
  scopes: [openid, email, profile, offline_access]
issuer:
  url: %s
token: {alg: HS256, ttl: 30s, secret: dev-only-hs256-secret-for-the-oidc-tests-0123456789}
receivers:
  - {name: portal, url: "%s", recheck_interval: %s}
  - {name: dashboard, url: "%s", recheck_interval: %s}
return_to:
  allow: ["%s", "%s", "%s"]
`, oc.hydra.PublicURL(), id, oc.issuer, portalURL, recheck, dashboardURL, recheck, oc.issuer, portalURL, dashboardURL)
	instances := 1
	if o.redisURL != "" {
		// A leeway of 1s lets a test wait out a Redis that came back
		// empty (handoffs issued before then are refused, docs/stores.md).
		yaml = strings.Replace(yaml, "ttl: 30s,", "ttl: 30s, leeway: 1s,", 1) + scaleStore
		instances = 2
	}
	c, err := chain.Parse("chain.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	env := serve.Env{
		HTTPClient: oc.net.Client(),
		LookupEnv: func(k string) (string, bool) {
			switch k {
			case "OIDC_CLIENT_SECRET":
				return secret, true
			case "REDIS_URL":
				return o.redisURL, o.redisURL != ""
			}
			return "", false
		},
	}
	env.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	for range instances {
		roles, err := serve.NewRoles(c, env, serve.RoleOptions{RecheckInterval: recheck})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { roles.Close() })
		oc.instances = append(oc.instances, roles)
	}
	oc.roles = oc.instances[0]
	each := func(role func(*serve.Roles) http.Handler) http.Handler {
		rr := &roundRobin{}
		for _, roles := range oc.instances {
			rr.instances = append(rr.instances, role(roles))
		}
		return rr
	}
	issuer := each(func(r *serve.Roles) http.Handler { return r.Issuer })
	record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == chain.OIDCBackchannelLogoutPath {
			body, _ := io.ReadAll(r.Body)
			if form, err := url.ParseQuery(string(body)); err == nil {
				oc.logoutMu.Lock()
				oc.logoutRaw = append(oc.logoutRaw, form.Get("logout_token"))
				oc.logoutMu.Unlock()
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		issuer.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: record, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	oc.net.Map(oc.issuer, ln.Addr().String())
	portal := each(func(r *serve.Roles) http.Handler { return r.Receivers["portal"] })
	if o.portalApart {
		apart, err := serve.NewRoles(c, env, serve.RoleOptions{RecheckInterval: recheck, Only: []string{"portal"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { apart.Close() })
		portal = apart.Receivers["portal"]
	}
	oc.net.Serve(t, portalURL, portal)
	oc.net.Serve(t, dashboardURL, each(func(r *serve.Roles) http.Handler { return r.Receivers["dashboard"] }))

	idp, err := serve.NewDevIdP(serve.DevIdPConfig{
		Name: "oidc", PublicURL: oidcLoginURL, PasswordCost: bcrypt.MinCost,
		Users: []serve.DevUser{{Email: "alice@example.com", Password: []byte("wonderland"), Role: "admin"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	oc.net.Serve(t, oidcLoginURL, idp.HydraProvider(oc.hydra.OAuth2API(), oc.hydra.PublicURL()))
	return oc
}

func (oc *oidcChain) alice() *browsertest.Browser {
	b := browsertest.New(oc.t, oc.net)
	b.Email, b.Password = "alice@example.com", "wonderland"
	return b
}

func (oc *oidcChain) login(b *browsertest.Browser, returnTo string) browsertest.Page {
	oc.t.Helper()
	return b.Visit(oc.issuer + chain.LoginPath + "?" + url.Values{chain.ReturnToParam: {returnTo}}.Encode())
}

func (oc *oidcChain) fail(format string, args ...any) {
	oc.t.Helper()
	oc.t.Fatalf(format+"\nhydra log (tail):\n%s", append(args, tail(oc.hydra.Log(), 20))...)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func TestOIDCLoginThroughHydraSignsInEverywhere(t *testing.T) {
	oc := startOIDCChain(t)
	b := oc.alice()
	p := oc.login(b, dashboardURL+"/")
	if p.URL != dashboardURL+"/" || p.Status != http.StatusOK {
		oc.fail("login ended at %s (%d): %s\nhops:\n%s", p.URL, p.Status, p.Body, strings.Join(hopURLs(p.Hops), "\n"))
	}
	for _, want := range []string{
		"GET " + oc.hydra.PublicURL() + "/oauth2/auth",
		"POST " + oidcLoginURL + serve.HydraLoginPath,
		"GET " + oidcLoginURL + serve.HydraConsentPath,
		"GET " + oc.issuer + chain.CallbackPath,
		"GET " + portalURL + chain.SSOPath,
		"GET " + dashboardURL + chain.SSOPath,
	} {
		if !containsHop(p.Hops, want) {
			t.Errorf("no hop %s in:\n%s", want, strings.Join(hopURLs(p.Hops), "\n"))
		}
	}
	for _, h := range p.Hops {
		if strings.HasPrefix(h.URL, oc.hydra.PublicURL()+"/oauth2/auth?") {
			q, _ := url.Parse(h.URL)
			v := q.Query()
			if v.Get("code_challenge_method") != "S256" || v.Get("code_challenge") == "" || v.Get("nonce") == "" || v.Get("state") == "" || v.Get("code_verifier") != "" {
				t.Errorf("authorization request lacks PKCE S256, nonce or state, or leaks the verifier: %v", v)
			}
			break
		}
	}
	// The ID token's claims reach the apps behind every receiver.
	for _, origin := range []string{portalURL, dashboardURL} {
		resp, _ := b.Get(origin + "/auth")
		if resp.StatusCode != http.StatusOK || resp.Header.Get(serve.HeaderEmail) != "alice@example.com" || resp.Header.Get(serve.HeaderRole) != "admin" {
			t.Errorf("%s/auth = %d email=%q role=%q", origin, resp.StatusCode, resp.Header.Get(serve.HeaderEmail), resp.Header.Get(serve.HeaderRole))
		}
	}
	// A second login needs no password: the issuer's cookie holds the session.
	b.Password = ""
	if p := oc.login(b, portalURL+"/"); p.URL != portalURL+"/" {
		t.Errorf("second login ended at %s (%d): %v", p.URL, p.Status, hopURLs(p.Hops))
	}
}

func containsHop(hs []browsertest.Hop, want string) bool {
	for _, h := range hopURLs(hs) {
		if h == want {
			return true
		}
	}
	return false
}

// Hydra ending its login session (by sid, which notifies clients) delivers
// a logout token to the issuer; the issuer ends the session and tells every
// receiver, so /auth is 401 everywhere without the browser visiting.
// Replaying that logout token is refused.
func TestOIDCBackchannelLogoutFromHydra(t *testing.T) {
	oc := startOIDCChain(t)
	b := oc.alice()
	if p := oc.login(b, dashboardURL+"/"); p.URL != dashboardURL+"/" {
		oc.fail("login ended at %s (%d): %v", p.URL, p.Status, hopURLs(p.Hops))
	}
	resp, _ := b.Get(portalURL + "/auth")
	sid := resp.Header.Get(serve.HeaderSession)
	if sid == "" {
		t.Fatal("no session id at the portal")
	}
	oc.hydra.RevokeLoginSession(t, sid)
	for _, origin := range []string{portalURL, dashboardURL} {
		if got := waitAuth(b, origin, http.StatusUnauthorized, 5*time.Second); got != http.StatusUnauthorized {
			oc.fail("%s/auth = %d 5 s after Hydra revoked the session, want 401", origin, got)
		}
	}
	oc.replayLogoutToken()
}

// replayLogoutToken posts the first logout token Hydra delivered to the
// issuer again, which must refuse it as used.
func (oc *oidcChain) replayLogoutToken() {
	oc.t.Helper()
	oc.logoutMu.Lock()
	raws := append([]string(nil), oc.logoutRaw...)
	oc.logoutMu.Unlock()
	if len(raws) == 0 {
		oc.fail("Hydra delivered no logout token")
	}
	resp, err := http.PostForm(oc.issuer+chain.OIDCBackchannelLogoutPath, url.Values{"logout_token": {raws[0]}})
	if err != nil {
		oc.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "invalid_request") {
		oc.t.Errorf("a replayed logout token = %d %s, want 400 invalid_request", resp.StatusCode, body)
	}
}

// Logout at the issuer ends the Hydra session too (RP-initiated logout),
// then walks the receivers; a silent check afterwards answers
// login_required without showing a login page.
func TestOIDCLogoutEndsTheHydraSession(t *testing.T) {
	oc := startOIDCChain(t)
	b := oc.alice()
	if p := oc.login(b, dashboardURL+"/"); p.URL != dashboardURL+"/" {
		oc.fail("login ended at %s (%d): %v", p.URL, p.Status, hopURLs(p.Hops))
	}
	p := b.Visit(oc.issuer + chain.LogoutPath)
	if p.URL != oc.issuer+"/" || !containsHop(p.Hops, "GET "+oc.hydra.PublicURL()+"/oauth2/sessions/logout") || !containsHop(p.Hops, "GET "+oidcLoginURL+serve.HydraLogoutPath) {
		oc.fail("logout ended at %s (%d); hops:\n%s", p.URL, p.Status, strings.Join(hopURLs(p.Hops), "\n"))
	}
	for _, origin := range []string{portalURL, dashboardURL} {
		if got := authStatus(b, origin); got != http.StatusUnauthorized {
			t.Errorf("%s/auth after logout = %d, want 401", origin, got)
		}
	}
	// Silent check: no session at the issuer nor at Hydra.
	check := oc.issuer + chain.CheckPath + "?" + url.Values{chain.ReturnToParam: {portalURL + "/"}}.Encode()
	p = b.Visit(check)
	want := portalURL + "/?" + chain.ErrorParam + "=" + chain.ErrorLoginRequired
	if p.URL != want || containsHop(p.Hops, "GET "+oidcLoginURL+serve.HydraLoginPath) {
		oc.fail("silent check after logout ended at %s (%d), want %s and no login page; hops:\n%s", p.URL, p.Status, want, strings.Join(hopURLs(p.Hops), "\n"))
	}
	// And a login asks for the password again: Hydra's session is gone.
	b.Password = ""
	p = oc.login(b, portalURL+"/")
	if !strings.HasPrefix(p.URL, oidcLoginURL+serve.HydraLoginPath) {
		oc.fail("a login after logout ended at %s (%d), want Hydra's login page", p.URL, p.Status)
	}
}

// testWriter sends the roles' log to the test's log, shown on failure.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// The provider withdrawing the grant (Hydra revoking the consent and its
// tokens, with no logout token sent) ends the session at the next
// re-check: the issuer's refresh-token grant is refused.
func TestOIDCRecheckFollowsTheProvider(t *testing.T) {
	oc := startOIDCChainRecheck(t, time.Second)
	b := oc.alice()
	if p := oc.login(b, dashboardURL+"/"); p.URL != dashboardURL+"/" {
		oc.fail("login ended at %s (%d): %v", p.URL, p.Status, hopURLs(p.Hops))
	}
	resp, _ := b.Get(portalURL + "/auth")
	sub := resp.Header.Get(serve.HeaderSubject)
	time.Sleep(1100 * time.Millisecond)
	if got := authStatus(b, portalURL); got != http.StatusOK {
		oc.fail("portal /auth after a re-check with the grant in place = %d, want 200", got)
	}
	r, err := oc.hydra.OAuth2API().RevokeOAuth2ConsentSessions(context.Background()).Subject(sub).All(true).Execute()
	if err != nil {
		t.Fatalf("revoking the consent at Hydra: %v (%v)", err, r)
	}
	for _, origin := range []string{portalURL, dashboardURL} {
		if got := waitAuth(b, origin, http.StatusUnauthorized, 5*time.Second); got != http.StatusUnauthorized {
			oc.fail("%s/auth = %d after Hydra withdrew the grant, want 401 within the re-check interval", origin, got)
		}
	}
}

// The provider's front-channel logout page (an iframe, so no cookies)
// ends the session its sid names once iss is this chain's provider, here
// and at every receiver; anything else changes nothing.
func TestOIDCFrontchannelLogout(t *testing.T) {
	oc := startOIDCChain(t)
	b := oc.alice()
	if p := oc.login(b, dashboardURL+"/"); p.URL != dashboardURL+"/" {
		oc.fail("login ended at %s (%d): %v", p.URL, p.Status, hopURLs(p.Hops))
	}
	resp, _ := b.Get(portalURL + "/auth")
	sid := resp.Header.Get(serve.HeaderSession)
	page := func(iss, sid string) *http.Response {
		t.Helper()
		stranger := browsertest.New(t, oc.net) // the iframe carries no cookie
		resp, _ := stranger.Get(oc.issuer + chain.OIDCFrontchannelLogoutPath + "?" + url.Values{"iss": {iss}, "sid": {sid}}.Encode())
		return resp
	}
	for _, bad := range []struct{ iss, sid string }{
		{"https://evil.example", sid},
		{oc.hydra.PublicURL() + "/", sid},
		{oc.hydra.PublicURL(), ""},
	} {
		if resp := page(bad.iss, bad.sid); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("iss=%q sid=%q: %d, want 400", bad.iss, bad.sid, resp.StatusCode)
		}
	}
	if resp := page(oc.hydra.PublicURL(), "not-a-session"); resp.StatusCode != http.StatusOK {
		t.Errorf("an unknown sid: %d, want 200 and nothing changed", resp.StatusCode)
	}
	if got := authStatus(b, portalURL); got != http.StatusOK {
		t.Fatalf("portal /auth after refused front-channel logouts = %d, want 200", got)
	}
	resp = page(oc.hydra.PublicURL(), sid)
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors "+oc.hydra.PublicURL()) {
		t.Errorf("front-channel logout = %d CSP %q, want 200 framable by the provider only", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	for _, origin := range []string{portalURL, dashboardURL} {
		if got := waitAuth(b, origin, http.StatusUnauthorized, 5*time.Second); got != http.StatusUnauthorized {
			oc.fail("%s/auth = %d after the front-channel logout, want 401", origin, got)
		}
	}
}

// A receiver in a process of its own knows no OIDC session: it asks the
// issuer's session API (Basic credentials derived from the chain secret),
// gets the identity for its headers, and follows the session's end.
func TestOIDCReceiverApartAsksTheIssuer(t *testing.T) {
	oc := startOIDCChainOpts(t, oidcChainOptions{recheck: time.Second, portalApart: true})
	b := oc.alice()
	if p := oc.login(b, dashboardURL+"/"); p.URL != dashboardURL+"/" {
		oc.fail("login ended at %s (%d): %s %v", p.URL, p.Status, p.Body, hopURLs(p.Hops))
	}
	resp, _ := b.Get(portalURL + "/auth")
	if resp.StatusCode != http.StatusOK || resp.Header.Get(serve.HeaderEmail) != "alice@example.com" || resp.Header.Get(serve.HeaderRole) != "admin" {
		t.Fatalf("portal (apart) /auth = %d email=%q role=%q, want 200 with the ID token's claims", resp.StatusCode, resp.Header.Get(serve.HeaderEmail), resp.Header.Get(serve.HeaderRole))
	}
	// Only the chain's receivers may ask.
	stranger := browsertest.New(t, oc.net)
	for _, user := range []string{"", "ssoctl-receiver"} {
		req, _ := http.NewRequest(http.MethodPost, oc.issuer+chain.OIDCSessionPath, strings.NewReader(url.Values{"sid": {resp.Header.Get(serve.HeaderSession)}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if user != "" {
			req.SetBasicAuth(user, "guess")
		}
		r, err := stranger.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != http.StatusUnauthorized || strings.Contains(string(body), "alice") {
			t.Errorf("session API with user %q and a wrong password = %d %s, want 401 and nothing about the session", user, r.StatusCode, body)
		}
	}
	// The issuer ends the session (Hydra's back-channel): the portal's next
	// re-check asks again and is told no.
	oc.hydra.RevokeLoginSession(t, resp.Header.Get(serve.HeaderSession))
	if got := waitAuth(b, portalURL, http.StatusUnauthorized, 5*time.Second); got != http.StatusUnauthorized {
		oc.fail("portal (apart) /auth = %d after Hydra ended the session, want 401", got)
	}
}
