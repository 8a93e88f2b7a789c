package serve_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/browsertest"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// localChain is the DESIGN §12 chain: an issuer and a dev IdP under
// company.localhost, receivers on two other root domains.
const localChain = `version: 1
name: company
dev: true
idp:
  kind: dev
  public_url: http://auth.company.localhost:4433
  admin_url: http://auth.company.localhost:4434
  users:
    - {email: alice@example.com, password: wonderland, role: admin}
issuer:
  url: http://accounts.company.localhost:8080
  listen: 127.0.0.1:8080
  cookie: {name: accounts_session, ttl: 8h}
token:
  alg: HS256
  ttl: 30s
  leeway: 5s
mode: hub
receivers:
  - name: portal
    url: http://portal.company2.localhost:8081
    cookie: {name: portal_session, ttl: 8h}
  - name: dashboard
    url: http://dashboard.company3.localhost:8082
return_to:
  allow:
    - http://*.company.localhost:8080
    - http://portal.company2.localhost:8081
    - http://dashboard.company3.localhost:8082
`

const (
	issuerURL    = "http://accounts.company.localhost:8080"
	portalURL    = "http://portal.company2.localhost:8081"
	dashboardURL = "http://dashboard.company3.localhost:8082"
	idpPublic    = "http://auth.company.localhost:4433"
	idpAdmin     = "http://auth.company.localhost:4434"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// runningChain is one chain file stood up in process, every role on its own
// loopback listener under its own host name.
type runningChain struct {
	t     testing.TB
	net   *browsertest.Net
	clock *clock
	chain *chain.Chain
	roles *serve.Roles
	idp   *serve.DevIdP
}

func startChain(t testing.TB, yaml string) *runningChain {
	t.Helper()
	c, err := chain.Parse("chain.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	rc := &runningChain{t: t, net: browsertest.NewNet(), clock: &clock{now: time.Now().UTC().Truncate(time.Second)}, chain: c}
	env := serve.Env{HTTPClient: rc.net.Client(), Now: rc.clock.Now}
	idp, err := serve.NewDevIdPFromChain(c, env)
	if err != nil {
		t.Fatal(err)
	}
	rc.idp = idp
	rc.net.Serve(t, idpPublic, idp.Public())
	rc.net.Serve(t, idpAdmin, idp.Admin())
	rc.roles, err = serve.NewRoles(c, env, serve.RoleOptions{RecheckInterval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	rc.net.Serve(t, issuerURL, rc.roles.Issuer)
	rc.net.Serve(t, portalURL, rc.roles.Receivers["portal"])
	rc.net.Serve(t, dashboardURL, rc.roles.Receivers["dashboard"])
	return rc
}

func (rc *runningChain) alice() *browsertest.Browser {
	b := browsertest.New(rc.t, rc.net)
	b.Email, b.Password = "alice@example.com", "wonderland"
	return b
}

func loginURL(returnTo string) string {
	return issuerURL + chain.LoginPath + "?" + url.Values{chain.ReturnToParam: {returnTo}}.Encode()
}

// authStatus asks a receiver's forward-auth endpoint about b's cookie.
func authStatus(b *browsertest.Browser, origin string) int {
	resp, _ := b.Get(origin + "/auth")
	return resp.StatusCode
}

func hopURLs(hs []browsertest.Hop) []string {
	var out []string
	for _, h := range hs {
		u, _ := url.Parse(h.URL)
		out = append(out, h.Method+" "+u.Scheme+"://"+u.Host+u.Path)
	}
	return out
}

func TestChainLoginOnceSignsInEverywhere(t *testing.T) {
	rc := startChain(t, localChain)
	b := rc.alice()
	p := b.Visit(loginURL(dashboardURL + "/"))
	if p.Status != http.StatusOK || p.URL != dashboardURL+"/" {
		t.Fatalf("walk ended at %s with %d; hops:\n%s", p.URL, p.Status, strings.Join(hopURLs(p.Hops), "\n"))
	}
	want := []string{
		"GET " + issuerURL + "/login",
		"GET " + idpPublic + "/self-service/login/browser",
		"POST " + idpPublic + "/self-service/login",
		"GET " + issuerURL + "/callback",
		"GET " + portalURL + "/sso",
		"GET " + issuerURL + "/sso/continue",
		"GET " + dashboardURL + "/sso",
		"GET " + issuerURL + "/sso/continue",
		"GET " + dashboardURL + "/",
	}
	if got := hopURLs(p.Hops); !slices.Equal(got, want) {
		t.Errorf("hops:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, tc := range []struct{ origin, cookie string }{
		{issuerURL, "accounts_session"},
		{portalURL, "portal_session"},
		{dashboardURL, "dashboard_session"},
	} {
		if !slices.Contains(b.Cookies(tc.origin), tc.cookie) {
			t.Errorf("%s: cookies %v, want %s", tc.origin, b.Cookies(tc.origin), tc.cookie)
		}
	}
	for _, origin := range []string{portalURL, dashboardURL} {
		resp, _ := b.Get(origin + "/auth")
		if resp.StatusCode != http.StatusOK || resp.Header.Get(serve.HeaderEmail) != "alice@example.com" || resp.Header.Get(serve.HeaderRole) != "admin" || resp.Header.Get(serve.HeaderSubject) == "" {
			t.Errorf("%s/auth = %d %v", origin, resp.StatusCode, resp.Header)
		}
	}
	// A receiver's cookie never reaches another root domain.
	if slices.Contains(b.Cookies(dashboardURL), "portal_session") {
		t.Error("portal's cookie reaches dashboard")
	}
	// Proxies ask /auth with the original request's method.
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		req, _ := http.NewRequest(method, portalURL+"/auth", nil)
		resp, err := b.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("%s /auth = %v, %v; want 200", method, resp, err)
		}
	}
	// ServeHTTP answers /auth before its mux; the paths beside it still
	// go through the mux, and the metrics name the route as the mux would.
	for target, want := range map[string]int{
		"/auth?rd=%2Fx": http.StatusOK, "/auth/": http.StatusNotFound, "/authx": http.StatusNotFound,
	} {
		if resp, _ := b.Get(portalURL + target); resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", target, resp.StatusCode, want)
		}
	}
	_, body := b.Get(portalURL + "/metrics")
	if !strings.Contains(body, `ssoctl_http_requests_total{code="200",role="portal",route="/auth"} 5`) {
		t.Errorf("metrics do not count the five /auth answers:\n%s", body)
	}
	stranger := browsertest.New(t, rc.net)
	if got := authStatus(stranger, portalURL); got != http.StatusUnauthorized {
		t.Errorf("/auth without a cookie = %d, want 401", got)
	}
}

func TestChainSecondLoginNeedsNoPassword(t *testing.T) {
	rc := startChain(t, localChain)
	b := rc.alice()
	if p := b.Visit(loginURL(portalURL + "/")); p.URL != portalURL+"/" {
		t.Fatalf("first login ended at %s (%d)", p.URL, p.Status)
	}
	b.Password = "" // a login form now would stop the walk
	p := b.Visit(loginURL(dashboardURL + "/"))
	if p.URL != dashboardURL+"/" || p.Status != http.StatusOK {
		t.Fatalf("second login ended at %s (%d): %v", p.URL, p.Status, hopURLs(p.Hops))
	}
	for _, h := range p.Hops {
		if strings.HasPrefix(h.URL, idpPublic) {
			t.Errorf("second login went to the IdP: %v", hopURLs(p.Hops))
		}
	}
}

// handoffURL walks a login and captures the first /sso URL for origin,
// without letting the browser use it.
func (rc *runningChain) handoffURL(b *browsertest.Browser, origin string) string {
	rc.t.Helper()
	p := b.Visit(loginURL(origin + "/"))
	for _, h := range p.Hops {
		if strings.HasPrefix(h.URL, origin+chain.SSOPath) {
			return h.URL
		}
	}
	rc.t.Fatalf("no handoff to %s in %v", origin, hopURLs(p.Hops))
	return ""
}

// captureUnused logs b in (a whole walk), then returns the token of a new
// handoff to origin without sending it there: the issuer's redirect is
// read, not followed.
func (rc *runningChain) captureUnused(b *browsertest.Browser, origin string) string {
	rc.t.Helper()
	if p := b.Visit(loginURL(issuerURL + "/")); p.Status != http.StatusOK {
		rc.t.Fatalf("login ended with %d at %s", p.Status, p.URL)
	}
	resp, _ := b.Get(loginURL(origin + "/"))
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), origin+chain.SSOPath) {
		rc.t.Fatalf("issuer did not hand off to %s: %d %s", origin, resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query().Get(chain.TokenParam)
}

// revoke ends, through the IdP's admin API, the session a token names.
func (rc *runningChain) revoke(tok string) {
	rc.t.Helper()
	parsed, err := token.Parse(tok)
	if err != nil {
		rc.t.Fatal(err)
	}
	if err := rc.roles.IdP.Revoke(context.Background(), parsed.Claims.SessionID); err != nil {
		rc.t.Fatal(err)
	}
}

func TestChainRefusesForeignReturnToBeforeAnyRedirect(t *testing.T) {
	rc := startChain(t, localChain)
	for _, rt := range []string{"https://evil.example/", "//evil.example/", "http://portal.company2.localhost:8081@evil.example/", `http://accounts.company.localhost:8080\@evil.example/`} {
		b := rc.alice()
		resp, body := b.Get(loginURL(rt))
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(body, "return_to_refused") {
			t.Errorf("return_to %q: %d Location=%q; want 400 naming return_to_refused and no redirect", rt, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

func TestChainAuthFollowsRevocationAfterRecheckInterval(t *testing.T) {
	rc := startChain(t, localChain)
	b := rc.alice()
	if p := b.Visit(loginURL(dashboardURL + "/")); p.URL != dashboardURL+"/" {
		t.Fatalf("login ended at %s", p.URL)
	}
	rc.revoke(rc.captureUnused(b, portalURL))
	if got := authStatus(b, portalURL); got != http.StatusOK {
		t.Errorf("/auth right after revocation = %d; within the recheck interval the cookie still counts", got)
	}
	rc.clock.Advance(time.Minute)
	if got := authStatus(b, portalURL); got != http.StatusUnauthorized {
		t.Errorf("/auth after the recheck interval = %d, want 401", got)
	}
}

func TestChainFailsClosedWhileIdPIsDownAndRecovers(t *testing.T) {
	rc := startChain(t, localChain)
	b := rc.alice()
	if p := b.Visit(loginURL(portalURL + "/")); p.URL != portalURL+"/" {
		t.Fatalf("login ended at %s", p.URL)
	}
	rc.net.SetDown(idpPublic, true)
	rc.net.SetDown(idpAdmin, true)
	resp, body := b.Get(loginURL(dashboardURL + "/"))
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "idp_unavailable") || resp.Header.Get("Location") != "" {
		t.Errorf("login while the IdP is down = %d Location=%q, want 503 and no redirect", resp.StatusCode, resp.Header.Get("Location"))
	}
	rc.clock.Advance(time.Minute)
	if got := authStatus(b, portalURL); got != http.StatusServiceUnavailable {
		t.Errorf("/auth due for a recheck while the IdP is down = %d, want 503 (fail closed)", got)
	}
	rc.net.SetDown(idpPublic, false)
	rc.net.SetDown(idpAdmin, false)
	if got := authStatus(b, portalURL); got != http.StatusOK {
		t.Errorf("/auth after the IdP is back = %d, want 200", got)
	}
	if p := b.Visit(loginURL(dashboardURL + "/")); p.URL != dashboardURL+"/" {
		t.Errorf("login after the IdP is back ended at %s (%d)", p.URL, p.Status)
	}
}

func TestChainFormPostKeepsTokensOutOfURLs(t *testing.T) {
	rc := startChain(t, strings.Replace(localChain, "  leeway: 5s\n", "  leeway: 5s\n  transport: form_post\n", 1))
	b := rc.alice()
	p := b.Visit(loginURL(dashboardURL + "/"))
	if p.URL != dashboardURL+"/" || p.Status != http.StatusOK {
		t.Fatalf("walk ended at %s (%d): %v", p.URL, p.Status, hopURLs(p.Hops))
	}
	posts := 0
	for _, h := range p.Hops {
		if strings.Contains(h.URL, chain.TokenParam+"=") {
			t.Errorf("a token travelled in a URL: %s %s", h.Method, h.URL)
		}
		if h.Method == http.MethodPost && strings.HasSuffix(h.URL, chain.SSOPath) {
			posts++
		}
	}
	if posts != 2 {
		t.Errorf("%d handoffs by POST, want 2: %v", posts, hopURLs(p.Hops))
	}
	if got := authStatus(b, portalURL); got != http.StatusOK {
		t.Errorf("portal /auth = %d after a form_post walk", got)
	}
}

func TestChainAsymmetricKeysReceiversFetchTheIssuersJWKS(t *testing.T) {
	key, err := token.GenerateKey(token.EdDSA, "")
	if err != nil {
		t.Fatal(err)
	}
	pem, err := token.MarshalPrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "private.pem")
	if err := os.WriteFile(keyFile, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := strings.Replace(localChain, "  alg: HS256\n", "  alg: EdDSA\n  key_file: "+keyFile+"\n  jwks_url: "+issuerURL+"/.well-known/jwks.json\n", 1)
	rc := startChain(t, yaml)
	b := rc.alice()
	p := b.Visit(loginURL(dashboardURL + "/"))
	if p.URL != dashboardURL+"/" || p.Status != http.StatusOK {
		t.Fatalf("walk ended at %s (%d): %v", p.URL, p.Status, hopURLs(p.Hops))
	}
	resp, body := b.Get(issuerURL + "/.well-known/jwks.json")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, key.ID()) || strings.Contains(body, `"d"`) {
		t.Errorf("JWKS = %d %s; want the public key with kid %s and no private member", resp.StatusCode, body, key.ID())
	}
	// A token signed with another Ed25519 key is refused for its kid.
	other, _ := token.GenerateKey(token.EdDSA, "")
	forged, _, err := token.Mint(other, token.MintOptions{Issuer: issuerURL, Audience: "portal", Subject: "x", SessionID: "y", Now: rc.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	resp, body = browsertest.New(t, rc.net).Get(portalURL + chain.SSOPath + "?" + url.Values{chain.TokenParam: {forged}}.Encode())
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "kid_unknown") {
		t.Errorf("token from an unknown key = %d, want 401 naming kid_unknown", resp.StatusCode)
	}
}

// Browsers check a form's CSP form-action on every redirect after the
// submission, and a login form's submission starts a redirect chain through
// every role; Chromium stopped the walk at the first receiver when
// form-action named only the issuer. The Go browser does not enforce CSP,
// so the policy itself is checked here.
func TestChainFormsAllowEveryChainOriginInFormAction(t *testing.T) {
	for _, transport := range []string{"query", "form_post"} {
		t.Run(transport, func(t *testing.T) {
			rc := startChain(t, strings.Replace(localChain, "  leeway: 5s\n", "  leeway: 5s\n  transport: "+transport+"\n", 1))
			b := rc.alice()
			resp, _ := b.Get(idpPublic + "/self-service/login/browser?" + url.Values{"return_to": {issuerURL + "/"}}.Encode())
			pages := []*http.Response{resp}
			if transport == "form_post" {
				if p := b.Visit(loginURL(issuerURL + "/")); p.Status != http.StatusOK {
					t.Fatalf("login ended with %d at %s", p.Status, p.URL)
				}
				// Signed in, the next /login answers with the interstitial.
				resp, body := b.Get(loginURL(portalURL + "/"))
				if !strings.Contains(body, `method="post"`) {
					t.Fatalf("no interstitial: %d %s", resp.StatusCode, body)
				}
				pages = append(pages, resp)
			}
			for _, p := range pages {
				csp := p.Header.Get("Content-Security-Policy")
				for _, origin := range []string{issuerURL, portalURL, dashboardURL} {
					if !strings.Contains(csp, "form-action") || !strings.Contains(csp, origin) {
						t.Errorf("%s: CSP %q does not allow form-action to %s", p.Request.URL.Path, csp, origin)
					}
				}
			}
		})
	}
}

// refusalTest is one handoff a receiver must refuse, read like a story:
// alice has logged in (a whole walk), and then someone presents a token,
// built from a fresh one of hers, to a receiver. Nothing may be set.
type refusalTest struct {
	description string
	receiver    string // origin the token is presented to
	// present returns the /sso URL to request; fresh is an unused handoff
	// for portal, sso the /sso URL alice's own walk already used.
	present    func(rc *runningChain, fresh, used string) string
	wantStatus int
	wantReason string
}

func ssoURL(origin, tok string) string {
	return origin + chain.SSOPath + "?" + url.Values{chain.TokenParam: {tok}}.Encode()
}

// mintFor mints with the chain's own key, so only the claim under test is
// wrong.
func mintFor(rc *runningChain, fresh string, edit func(*token.MintOptions)) string {
	parsed, err := token.Parse(fresh)
	if err != nil {
		rc.t.Fatal(err)
	}
	o := token.MintOptions{
		Issuer: issuerURL, Audience: "portal", Subject: parsed.Claims.Subject, SessionID: parsed.Claims.SessionID,
		Return: portalURL + "/", Now: rc.clock.Now,
	}
	edit(&o)
	tok, _, err := token.Mint(rc.roles.Keys.Signing, o)
	if err != nil {
		rc.t.Fatal(err)
	}
	return tok
}

var refusalTests = []refusalTest{
	{
		description: "The /sso URL of alice's own walk, replayed by someone else.",
		receiver:    portalURL,
		present:     func(rc *runningChain, fresh, used string) string { return used },
		wantStatus:  http.StatusUnauthorized, wantReason: "token_replayed",
	},
	{
		description: "A token minted for portal, taken to dashboard.",
		receiver:    dashboardURL,
		present:     func(rc *runningChain, fresh, used string) string { return ssoURL(dashboardURL, fresh) },
		wantStatus:  http.StatusUnauthorized, wantReason: "audience_mismatch",
	},
	{
		description: "A token whose IdP session was revoked after it was minted.",
		receiver:    portalURL,
		present: func(rc *runningChain, fresh, used string) string {
			rc.revoke(fresh)
			return ssoURL(portalURL, fresh)
		},
		wantStatus: http.StatusUnauthorized, wantReason: "idp_session_inactive",
	},
	{
		description: "Signed with the chain's key for alice's live session, naming someone else (a leaked key, a buggy issuer).",
		receiver:    portalURL,
		present: func(rc *runningChain, fresh, used string) string {
			return ssoURL(portalURL, mintFor(rc, fresh, func(o *token.MintOptions) { o.Subject = "mallory" }))
		},
		wantStatus: http.StatusUnauthorized, wantReason: "idp_session_mismatch",
	},
	{
		description: "A token that sends the browser on to a foreign site.",
		receiver:    portalURL,
		present: func(rc *runningChain, fresh, used string) string {
			return ssoURL(portalURL, mintFor(rc, fresh, func(o *token.MintOptions) { o.Return = "https://evil.example/" }))
		},
		wantStatus: http.StatusUnauthorized, wantReason: "ret_not_allowed",
	},
	{
		description: "A token that lived past its 30 seconds (plus the 5 s leeway).",
		receiver:    portalURL,
		present: func(rc *runningChain, fresh, used string) string {
			rc.clock.Advance(35 * time.Second)
			return ssoURL(portalURL, fresh)
		},
		wantStatus: http.StatusUnauthorized, wantReason: "token_expired",
	},
	{
		description: "A token minted for an hour, longer than receivers accept.",
		receiver:    portalURL,
		present: func(rc *runningChain, fresh, used string) string {
			return ssoURL(portalURL, mintFor(rc, fresh, func(o *token.MintOptions) { o.TTL = time.Hour }))
		},
		wantStatus: http.StatusUnauthorized, wantReason: "lifetime_too_long",
	},
	{
		description: "A token whose signature was tampered with.",
		receiver:    portalURL,
		present: func(rc *runningChain, fresh, used string) string {
			last := fresh[len(fresh)-2]
			flip := byte('A')
			if last == 'A' {
				flip = 'B'
			}
			return ssoURL(portalURL, fresh[:len(fresh)-2]+string(flip)+fresh[len(fresh)-1:])
		},
		wantStatus: http.StatusUnauthorized, wantReason: "signature_invalid",
	},
	{
		description: `The same claims re-sent unsigned, with alg "none".`,
		receiver:    portalURL,
		present: func(rc *runningChain, fresh, used string) string {
			parts := strings.Split(fresh, ".")
			return ssoURL(portalURL, "eyJhbGciOiJub25lIiwidHlwIjoic3NvLWhhbmRvZmYrand0In0."+parts[1]+".")
		},
		wantStatus: http.StatusUnauthorized, wantReason: "alg_none",
	},
	{
		description: "No token at all.",
		receiver:    portalURL,
		present:     func(rc *runningChain, fresh, used string) string { return portalURL + chain.SSOPath },
		wantStatus:  http.StatusBadRequest, wantReason: "token_missing",
	},
}

func TestChainRefusesHandoffs(t *testing.T) {
	for _, tt := range refusalTests {
		t.Run(tt.description, func(t *testing.T) {
			rc := startChain(t, localChain)
			alice := rc.alice()
			used := rc.handoffURL(alice, portalURL)
			fresh := rc.captureUnused(alice, portalURL)
			target := tt.present(rc, fresh, used)

			// Whoever holds the token: a browser with no cookies at all.
			b := browsertest.New(t, rc.net)
			resp, body := b.Get(target)
			if resp.StatusCode != tt.wantStatus || !strings.Contains(body, tt.wantReason) {
				t.Errorf("%s = %d, want %d naming %s", tt.receiver, resp.StatusCode, tt.wantStatus, tt.wantReason)
			}
			if loc := resp.Header.Get("Location"); loc != "" {
				t.Errorf("a refused handoff redirected to %s", loc)
			}
			if got := b.Cookies(tt.receiver); len(got) != 0 {
				t.Errorf("a refused handoff set cookies %v", got)
			}
			if !strings.Contains(body, "request id") {
				t.Error("the refusal page gives no request id to quote")
			}
		})
	}
	t.Run("A refusal consumes nothing: portal still takes the token dashboard refused.", func(t *testing.T) {
		rc := startChain(t, localChain)
		fresh := rc.captureUnused(rc.alice(), portalURL)
		b := browsertest.New(t, rc.net)
		if resp, _ := b.Get(ssoURL(dashboardURL, fresh)); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("dashboard = %d, want 401", resp.StatusCode)
		}
		resp, _ := b.Get(ssoURL(portalURL, fresh))
		if resp.StatusCode != http.StatusSeeOther || !slices.Contains(b.Cookies(portalURL), "portal_session") {
			t.Errorf("portal = %d with cookies %v, want 303 and portal_session", resp.StatusCode, b.Cookies(portalURL))
		}
	})
}

func TestChainIssuerRefusesWalkStateItCannotTrust(t *testing.T) {
	rc := startChain(t, localChain)
	fresh := rc.captureUnused(rc.alice(), portalURL)
	parsed, err := token.Parse(fresh)
	if err != nil {
		t.Fatal(err)
	}
	continueURL := parsed.Claims.Return // the issuer's /sso/continue with alice's sealed state
	tests := []struct {
		description string
		url         string
		wantReason  string
	}{
		{"A callback whose state was made up.", issuerURL + chain.CallbackPath + "?state=made-up", "login_state_invalid"},
		{"A callback with no state.", issuerURL + chain.CallbackPath, "login_state_invalid"},
		{"A continue whose state was made up.", issuerURL + chain.ContinuePath + "?state=AAAA.BBBB", "walk_state_invalid"},
		{"Alice's continue URL opened in another browser, which has no issuer session.", continueURL, "issuer_cookie_missing"},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			b := browsertest.New(t, rc.net)
			resp, body := b.Get(tt.url)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, tt.wantReason) || resp.Header.Get("Location") != "" {
				t.Errorf("%s = %d Location=%q, want 400 naming %s and no redirect", tt.url, resp.StatusCode, resp.Header.Get("Location"), tt.wantReason)
			}
		})
	}
	rc.clock.Advance(3 * time.Minute)
	resp, body := rc.alice().Get(continueURL)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "walk_state_expired") {
		t.Errorf("a continue state 3 minutes old = %d, want 400", resp.StatusCode)
	}
}
