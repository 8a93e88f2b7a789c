package serve_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/browsertest"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// logoutChain is startChain with a switch that makes portal's back-channel
// endpoint answer 503 while the rest of portal works: a receiver whose
// back-channel is down while browsers still reach it.
type logoutChain struct {
	*runningChain
	portalBackchannelDown atomic.Bool
	// portalBackchannelHold, when set, holds portal's back-channel
	// requests until it is closed.
	portalBackchannelHold atomic.Pointer[chan struct{}]
}

func startLogoutChain(t *testing.T, yaml string) *logoutChain {
	t.Helper()
	c, err := chain.Parse("chain.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	lc := &logoutChain{runningChain: &runningChain{t: t, net: browsertest.NewNet(), clock: &clock{now: time.Now().UTC().Truncate(time.Second)}, chain: c}}
	rc := lc.runningChain
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
	portal := rc.roles.Receivers["portal"]
	rc.net.Serve(t, issuerURL, rc.roles.Issuer)
	rc.net.Serve(t, portalURL, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hold := lc.portalBackchannelHold.Load(); hold != nil && r.URL.Path == chain.BackchannelLogoutPath {
			<-*hold
		}
		if lc.portalBackchannelDown.Load() && r.URL.Path == chain.BackchannelLogoutPath {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		portal.ServeHTTP(w, r)
	}))
	rc.net.Serve(t, dashboardURL, rc.roles.Receivers["dashboard"])
	return lc
}

// signedInCopy is a second browser holding a copy of b's cookies for
// origin: the same session in another browser, or a cookie that outlives
// the tab that logged out.
func signedInCopy(t *testing.T, rc *runningChain, b *browsertest.Browser, origins ...string) *browsertest.Browser {
	t.Helper()
	c := browsertest.New(t, rc.net)
	for _, o := range origins {
		u, _ := url.Parse(o)
		c.Jar().SetCookies(u, b.Jar().Cookies(u))
	}
	return c
}

// waitAuth polls origin's /auth with b's cookies until it answers want or
// the deadline passes, and returns the last answer.
func waitAuth(b *browsertest.Browser, origin string, want int, within time.Duration) int {
	deadline := time.Now().Add(within)
	for {
		got := authStatus(b, origin)
		if got == want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func logoutURL(post string) string {
	if post == "" {
		return issuerURL + chain.LogoutPath
	}
	return issuerURL + chain.LogoutPath + "?" + url.Values{chain.PostLogoutRedirectParam: {post}}.Encode()
}

func TestLogoutAtTheIssuerAloneSignsOutEveryReceiver(t *testing.T) {
	lc := startLogoutChain(t, localChain)
	b := lc.alice()
	if p := b.Visit(loginURL(dashboardURL + "/")); p.URL != dashboardURL+"/" {
		t.Fatalf("login ended at %s", p.URL)
	}
	for _, o := range []string{portalURL, dashboardURL} {
		if got := authStatus(b, o); got != http.StatusOK {
			t.Fatalf("%s /auth after login = %d", o, got)
		}
	}
	// The browser asks the issuer and follows nothing: it never visits a
	// receiver, and keeps their cookies.
	resp, _ := b.Get(logoutURL(""))
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), portalURL+chain.FrontchannelLogoutPath) {
		t.Fatalf("/logout = %d → %q; want a redirect into the front-channel walk", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, o := range []string{portalURL, dashboardURL} {
		if got := waitAuth(b, o, http.StatusUnauthorized, 3*time.Second); got != http.StatusUnauthorized {
			t.Errorf("%s /auth after logout at the issuer = %d, want 401 (back-channel)", o, got)
		}
	}
	if got := b.Cookies(issuerURL + "/"); slices.Contains(got, "accounts_session") {
		t.Errorf("issuer cookie still held after logout: %v", got)
	}
	// The IdP session is gone too: a new login needs the password.
	b.Password = ""
	if p := b.Visit(loginURL(portalURL + "/")); !strings.HasPrefix(p.URL, idpPublic) {
		t.Errorf("login after logout ended at %s, want the IdP's login page", p.URL)
	}
}

func TestLogoutFrontchannelWalkClearsEveryCookieAndLandsOnPostLogoutRedirect(t *testing.T) {
	lc := startLogoutChain(t, localChain)
	b := lc.alice()
	b.Visit(loginURL(dashboardURL + "/"))
	p := b.Visit(logoutURL(portalURL + "/"))
	if p.URL != portalURL+"/" {
		t.Fatalf("logout ended at %s, want %s/", p.URL, portalURL)
	}
	want := []string{
		"GET " + issuerURL + chain.LogoutPath,
		"GET " + portalURL + chain.FrontchannelLogoutPath,
		"GET " + issuerURL + chain.LogoutContinuePath,
		"GET " + dashboardURL + chain.FrontchannelLogoutPath,
		"GET " + issuerURL + chain.LogoutContinuePath,
		"GET " + portalURL + "/",
	}
	if got := hopURLs(p.Hops); !slices.Equal(got, want) {
		t.Errorf("hops\n got %v\nwant %v", got, want)
	}
	for host, name := range map[string]string{portalURL: "portal_session", dashboardURL: "dashboard_session", issuerURL: "accounts_session"} {
		if slices.Contains(b.Cookies(host+"/"), name) {
			t.Errorf("%s still holds %s after the front-channel walk", host, name)
		}
	}
}

// metricValue reads one series of a role's /metrics.
func metricValue(t *testing.T, b *browsertest.Browser, origin, series string) string {
	t.Helper()
	_, body := b.Get(origin + "/metrics")
	for line := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

// TestLogoutDrainWaitsForDeliveries: a shutdown right after a /logout
// lets the back-channel deliveries it started finish (Roles.Drain), within
// its deadline, so a receiver in another process still hears of it.
func TestLogoutDrainWaitsForDeliveries(t *testing.T) {
	lc := startLogoutChain(t, localChain)
	hold := make(chan struct{})
	lc.portalBackchannelHold.Store(&hold)
	b := lc.alice()
	b.Visit(loginURL(dashboardURL + "/"))
	if p := b.Visit(logoutURL("")); p.URL != issuerURL+"/" {
		t.Fatalf("logout ended at %s", p.URL)
	}
	short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := lc.roles.Drain(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Drain with portal's delivery held = %v, want the deadline", err)
	}
	close(hold)
	ctx, cancel2 := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel2()
	if err := lc.roles.Drain(ctx); err != nil {
		t.Fatalf("Drain once portal answers = %v", err)
	}
	// Drain returned: every delivery has ended, so the count is final.
	for _, rcv := range []string{"portal", "dashboard"} {
		series := `ssoctl_backchannel_logouts_total{receiver="` + rcv + `",result="delivered"}`
		if got := metricValue(t, b, issuerURL, series); got != "1" {
			t.Errorf("%s = %q right after Drain, want 1", series, got)
		}
	}
}

func TestLogoutBackchannelDownIsRetriedReportedAndFrontchannelStillClears(t *testing.T) {
	lc := startLogoutChain(t, localChain)
	lc.portalBackchannelDown.Store(true)
	b := lc.alice()
	b.Visit(loginURL(dashboardURL + "/"))
	other := signedInCopy(t, lc.runningChain, b, portalURL, dashboardURL)

	if p := b.Visit(logoutURL("")); p.URL != issuerURL+"/" {
		t.Fatalf("logout ended at %s", p.URL)
	}
	if slices.Contains(b.Cookies(portalURL+"/"), "portal_session") {
		t.Error("the front-channel did not clear portal's cookie")
	}
	failed := `ssoctl_backchannel_logouts_total{receiver="portal",result="failed"}`
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := lc.roles.Drain(ctx); err != nil {
		t.Fatalf("the deliveries did not end: %v", err)
	}
	if got := metricValue(t, b, issuerURL, failed); got != "1" {
		t.Fatalf("%s = %q, want 1", failed, got)
	}
	if got := metricValue(t, b, issuerURL, `ssoctl_backchannel_logouts_total{receiver="portal",result="retried"}`); got != "2" {
		t.Errorf("portal retries = %q, want 2 (three tries)", got)
	}
	if got := metricValue(t, b, issuerURL, `ssoctl_backchannel_logouts_total{receiver="dashboard",result="delivered"}`); got != "1" {
		t.Errorf("dashboard deliveries = %q, want 1", got)
	}
	// The copy of the cookie elsewhere: dashboard heard of the logout,
	// portal did not and waits for its re-check.
	if got := authStatus(other, dashboardURL); got != http.StatusUnauthorized {
		t.Errorf("dashboard /auth for the copied cookie = %d, want 401", got)
	}
	if got := authStatus(other, portalURL); got != http.StatusOK {
		t.Errorf("portal /auth for the copied cookie = %d, want 200 until its re-check", got)
	}
	lc.clock.Advance(time.Minute)
	if got := authStatus(other, portalURL); got != http.StatusUnauthorized {
		t.Errorf("portal /auth after its recheck interval = %d, want 401", got)
	}
}

func TestLogoutRefusesPostLogoutRedirectOffTheAllowlist(t *testing.T) {
	lc := startLogoutChain(t, localChain)
	b := lc.alice()
	b.Visit(loginURL(portalURL + "/"))
	for _, post := range []string{"https://evil.example/", "//evil.example/", `http://accounts.company.localhost:8080\@evil.example/`} {
		resp, body := b.Get(logoutURL(post))
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(body, "post_logout_redirect_refused") {
			t.Errorf("post_logout_redirect %q: %d Location=%q; want 400 naming post_logout_redirect_refused", post, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if !slices.Contains(b.Cookies(issuerURL+"/"), "accounts_session") {
		t.Error("a refused logout cleared the issuer's cookie")
	}
	if got := authStatus(b, portalURL); got != http.StatusOK {
		t.Errorf("portal /auth after refused logouts = %d, want 200: nothing may change", got)
	}
}

func TestReceiverLogoutSendsTheBrowserToTheIssuer(t *testing.T) {
	lc := startLogoutChain(t, localChain)
	b := lc.alice()
	b.Visit(loginURL(portalURL + "/"))
	p := b.Visit(portalURL + chain.LogoutPath)
	if p.URL != portalURL+"/" {
		t.Errorf("RP-initiated logout ended at %s, want back on portal", p.URL)
	}
	if got := hopURLs(p.Hops); len(got) < 2 || got[1] != "GET "+issuerURL+chain.LogoutPath {
		t.Errorf("hops %v; want portal's /logout then the issuer's", got)
	}
	if got := waitAuth(b, dashboardURL, http.StatusUnauthorized, 3*time.Second); got != http.StatusUnauthorized {
		t.Errorf("dashboard /auth after RP-initiated logout = %d, want 401", got)
	}
}

// postLogoutToken sends raw to a receiver's back-channel endpoint.
func postLogoutToken(t *testing.T, rc *runningChain, origin, raw string) (int, string) {
	t.Helper()
	c := rc.net.Client()
	resp, err := c.PostForm(origin+chain.BackchannelLogoutPath, url.Values{chain.LogoutTokenParam: {raw}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestBackchannelLogoutTokenChecks(t *testing.T) {
	lc := startLogoutChain(t, localChain)
	rc := lc.runningChain
	key := rc.roles.Keys.Signing
	b := rc.alice()
	handoff := rc.captureUnused(b, portalURL)
	parsed, err := token.Parse(handoff)
	if err != nil {
		t.Fatal(err)
	}
	sid, sub := parsed.Claims.SessionID, parsed.Claims.Subject
	mintLogout := func(aud string) string {
		raw, _, err := token.MintLogout(key, token.LogoutOptions{Issuer: issuerURL, Audience: aud, Subject: sub, SessionID: sid, Now: rc.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}

	t.Run("a handoff is not a logout token", func(t *testing.T) {
		status, body := postLogoutToken(t, rc, portalURL, handoff)
		if status != http.StatusBadRequest || !strings.Contains(body, "invalid_request") {
			t.Errorf("handoff at /backchannel-logout = %d %s, want 400 invalid_request", status, body)
		}
		if got := authStatus(b, portalURL); got != http.StatusOK {
			t.Errorf("portal /auth after a refused logout = %d, want 200", got)
		}
	})
	t.Run("a logout token is not a handoff", func(t *testing.T) {
		resp, body := browsertest.New(t, rc.net).Get(ssoURL(portalURL, mintLogout("portal")))
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "typ_mismatch") {
			t.Errorf("logout token at /sso = %d; want 401 naming typ_mismatch", resp.StatusCode)
		}
	})
	t.Run("another receiver's logout token", func(t *testing.T) {
		if status, _ := postLogoutToken(t, rc, portalURL, mintLogout("dashboard")); status != http.StatusBadRequest {
			t.Errorf("dashboard's logout token at portal = %d, want 400", status)
		}
	})
	t.Run("valid, then replayed", func(t *testing.T) {
		raw := mintLogout("portal")
		if status, body := postLogoutToken(t, rc, portalURL, raw); status != http.StatusOK {
			t.Fatalf("logout token = %d %s, want 200", status, body)
		}
		if got := authStatus(b, portalURL); got != http.StatusUnauthorized {
			t.Errorf("portal /auth after back-channel logout = %d, want 401", got)
		}
		if status, body := postLogoutToken(t, rc, portalURL, raw); status != http.StatusBadRequest || !strings.Contains(body, "replayed") && !strings.Contains(body, "single use") {
			t.Errorf("replayed logout token = %d %s, want 400 for the replay", status, body)
		}
	})
}

func TestBackchannelLogoutDisabledServesNoEndpoint(t *testing.T) {
	yaml := strings.Replace(localChain, "    cookie: {name: portal_session, ttl: 8h}\n", "    cookie: {name: portal_session, ttl: 8h}\n    backchannel_logout: false\n", 1)
	lc := startLogoutChain(t, yaml)
	if status, _ := postLogoutToken(t, lc.runningChain, portalURL, "x"); status != http.StatusMethodNotAllowed && status != http.StatusNotFound {
		t.Errorf("POST /backchannel-logout on a receiver without back-channel = %d, want 404 or 405", status)
	}
	b := lc.alice()
	b.Visit(loginURL(dashboardURL + "/"))
	other := signedInCopy(t, lc.runningChain, b, portalURL)
	b.Visit(logoutURL(""))
	// Nothing tells portal; only its re-check will.
	time.Sleep(300 * time.Millisecond)
	if got := authStatus(other, portalURL); got != http.StatusOK {
		t.Errorf("portal /auth without back-channel = %d, want 200 until its re-check", got)
	}
}

// A logout another site starts is asked about first, and what a
// receiver's own logout sends on carries the session's hint, which the
// issuer takes without asking, however cross-site the redirect made it.
func TestLogoutFromAnotherSiteAsksFirst(t *testing.T) {
	lc := startLogoutChain(t, localChain)
	b := lc.alice()
	b.Visit(loginURL(portalURL + "/"))
	send := func(method, target string, header ...string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, target, nil)
		if err != nil {
			t.Fatal(err)
		}
		setHeaders(req, header)
		resp, err := b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	// From another site: a page that asks, at the issuer and at a
	// receiver, and nobody is signed out.
	for _, target := range []string{issuerURL + chain.LogoutPath, portalURL + chain.LogoutPath} {
		resp := send(http.MethodGet, target, "Sec-Fetch-Site", "cross-site")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" || len(resp.Cookies()) != 0 {
			t.Errorf("cross-site GET %s = %d, Location %q, cookies %v; want the page that asks", target, resp.StatusCode, resp.Header.Get("Location"), resp.Cookies())
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' ") || !strings.Contains(csp, " "+dashboardURL) {
			t.Errorf("the page's CSP %q does not let its form's redirects through the chain", csp)
		}
	}
	if got := authStatus(b, dashboardURL); got != http.StatusOK {
		t.Fatalf("dashboard /auth after the pages that ask = %d, want 200", got)
	}

	// The receiver's own logout (a link on its own page) carries the hint.
	resp := send(http.MethodGet, portalURL+chain.LogoutPath, "Sec-Fetch-Site", "same-origin")
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusSeeOther || loc.Query().Get(chain.SessionHintParam) == "" {
		t.Fatalf("portal's logout = %d to %q, want the issuer's /logout with a session hint", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Another session's hint is no hint.
	wrong := *loc
	q := wrong.Query()
	q.Set(chain.SessionHintParam, "AAAAAAAAAAAAAAAAAAAAAA")
	wrong.RawQuery = q.Encode()
	if resp := send(http.MethodGet, wrong.String(), "Sec-Fetch-Site", "cross-site"); resp.StatusCode != http.StatusOK {
		t.Errorf("the issuer's /logout with a wrong hint = %d, want the page that asks", resp.StatusCode)
	}
	// The right one is taken at once, the redirect being cross-site.
	if resp := send(http.MethodGet, loc.String(), "Sec-Fetch-Site", "cross-site"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the issuer's /logout with the receiver's hint = %d, want the logout walk", resp.StatusCode)
	}
	if got := waitAuth(b, dashboardURL, http.StatusUnauthorized, 3*time.Second); got != http.StatusUnauthorized {
		t.Errorf("dashboard /auth after the receiver's logout = %d, want 401", got)
	}
}

// A link from another site is asked about before anything is looked up:
// without a session hint the issuer asks the IdP nothing, however many
// pages embed the link. With one, the session is found to check it.
func TestLogoutFromAnotherSiteLooksNothingUpBeforeAsking(t *testing.T) {
	lc := startLogoutChain(t, localChain)
	b := lc.alice()
	b.Visit(loginURL(portalURL + "/"))
	// Without its own cookie the issuer would find the session through
	// the browser's IdP cookie, at the IdP.
	b.Jar().SetCookies(&url.URL{Scheme: "http", Host: "accounts.company.localhost:8080", Path: "/"},
		[]*http.Cookie{{Name: "accounts_session", Value: "", Path: "/", MaxAge: -1}})
	var asked atomic.Int64
	public := lc.idp.Public()
	lc.net.Serve(t, idpPublic, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		public.ServeHTTP(w, r)
	}))
	lc.net.SetDown(idpPublic, false) // closes the idle connections to the IdP's first listener
	logout := func(target string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, target, nil)
		setHeaders(req, crossSite)
		resp, err := b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := logout(issuerURL + chain.LogoutPath); got != http.StatusOK || asked.Load() != 0 {
		t.Errorf("cross-site GET /logout = %d after %d IdP requests; want the page that asks, and none", got, asked.Load())
	}
	hinted := issuerURL + chain.LogoutPath + "?" + url.Values{chain.SessionHintParam: {"AAAAAAAAAAAAAAAAAAAAAA"}}.Encode()
	if got := logout(hinted); got != http.StatusOK || asked.Load() == 0 {
		t.Errorf("cross-site GET /logout with a wrong hint = %d after %d IdP requests; want the page that asks, after looking the session up", got, asked.Load())
	}
}

// The page's button signs out: a POST from the issuer's own page.
func TestLogoutConfirmedByPost(t *testing.T) {
	lc := startLogoutChain(t, localChain)
	b := lc.alice()
	b.Visit(loginURL(portalURL + "/"))
	req, err := http.NewRequest(http.MethodPost, logoutURL(portalURL+"/"), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", issuerURL)
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), portalURL+chain.FrontchannelLogoutPath) {
		t.Fatalf("confirmed POST /logout = %d to %q, want the front-channel walk", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := waitAuth(b, dashboardURL, http.StatusUnauthorized, 3*time.Second); got != http.StatusUnauthorized {
		t.Errorf("dashboard /auth after the confirmed logout = %d, want 401", got)
	}
}
