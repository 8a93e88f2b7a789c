package serve_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/browsertest"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve"
)

// stepUpChain is localChain with a portal that accepts a login no older
// than an hour.
var stepUpChain = strings.Replace(localChain, "    cookie: {name: portal_session, ttl: 8h}\n",
	"    cookie: {name: portal_session, ttl: 8h}\n    max_auth_age: 1h\n", 1)

func countHops(hs []browsertest.Hop, method, prefix string) int {
	n := 0
	for _, h := range hs {
		if h.Method == method && strings.HasPrefix(h.URL, prefix) {
			n++
		}
	}
	return n
}

// TestMaxAuthAgeStepUp: past max_auth_age the portal's /auth says 401
// auth_too_old while the dashboard (no max_auth_age) stays signed in; a
// handoff to the portal sends the browser to log in again with
// prompt=login, the dev IdP asks for the password despite its session
// (refresh=true), and the walk that follows is accepted, once.
func TestMaxAuthAgeStepUp(t *testing.T) {
	rc := startChain(t, stepUpChain)
	b := rc.alice()
	if p := b.Visit(loginURL(portalURL + "/")); p.URL != portalURL+"/" || p.Status != http.StatusOK {
		t.Fatalf("first login ended at %s (%d): %v", p.URL, p.Status, hopURLs(p.Hops))
	}
	resp, _ := b.Get(portalURL + "/auth")
	sid := resp.Header.Get(serve.HeaderSession)
	if resp.StatusCode != http.StatusOK || sid == "" {
		t.Fatalf("/auth after login = %d", resp.StatusCode)
	}

	rc.clock.Advance(59 * time.Minute)
	if got := authStatus(b, portalURL); got != http.StatusOK {
		t.Errorf("/auth at 59m = %d, want 200", got)
	}
	rc.clock.Advance(2 * time.Minute)
	resp, _ = b.Get(portalURL + "/auth")
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get(serve.HeaderAuthReason) != serve.ReasonAuthTooOld {
		t.Errorf("/auth at 61m = %d %s=%q, want 401 %s", resp.StatusCode, serve.HeaderAuthReason, resp.Header.Get(serve.HeaderAuthReason), serve.ReasonAuthTooOld)
	}
	if got := authStatus(b, dashboardURL); got != http.StatusOK {
		t.Errorf("dashboard /auth at 61m = %d, want 200: it has no max_auth_age", got)
	}

	// Without a password the walk stops at the IdP's form: the handoff was
	// refused and the IdP asked again although its session is good.
	password := b.Password
	b.Password = ""
	p := b.Visit(loginURL(portalURL + "/"))
	stepUp := issuerURL + chain.LoginPath + "?" + url.Values{chain.PromptParam: {chain.PromptLogin}, chain.ReturnToParam: {portalURL + "/"}}.Encode()
	if !strings.HasPrefix(p.URL, idpPublic+chain.KratosLoginPath) || !strings.Contains(p.URL, "refresh=true") || countHops(p.Hops, "GET", stepUp) != 1 {
		t.Fatalf("a too-old session at the portal ended at %s (%d), want the IdP's form via %s; hops:\n%s", p.URL, p.Status, stepUp, strings.Join(hopURLs(p.Hops), "\n"))
	}
	if got := authStatus(b, portalURL); got != http.StatusUnauthorized {
		t.Errorf("portal /auth after the refused handoff = %d, want 401: no cookie is set", got)
	}

	// With the password, a while later: accepted, and nothing loops.
	rc.clock.Advance(time.Minute)
	b.Password = password
	p = b.Visit(loginURL(portalURL + "/"))
	if p.URL != portalURL+"/" || p.Status != http.StatusOK {
		t.Fatalf("step-up ended at %s (%d): %v", p.URL, p.Status, hopURLs(p.Hops))
	}
	if n := countHops(p.Hops, "POST", idpPublic); n != 1 {
		t.Errorf("the step-up typed the password %d times, want 1: %v", n, hopURLs(p.Hops))
	}
	if n := countHops(p.Hops, "GET", stepUp); n != 1 {
		t.Errorf("the step-up was asked %d times, want 1: %v", n, hopURLs(p.Hops))
	}
	resp, _ = b.Get(portalURL + "/auth")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("portal /auth after the step-up = %d, want 200", resp.StatusCode)
	}
	if got := resp.Header.Get(serve.HeaderSession); got != sid {
		t.Errorf("session after the step-up = %q, want the same IdP session %q refreshed", got, sid)
	}
	if _, body := b.Get(portalURL + "/whoami"); !strings.Contains(body, `"authenticated_at":"`+rc.clock.Now().Format(time.RFC3339)+`"`) {
		t.Errorf("portal /whoami after the step-up = %s, want authenticated_at %s", body, rc.clock.Now().Format(time.RFC3339))
	}
	if p := b.Visit(loginURL(portalURL + "/")); p.URL != portalURL+"/" || countHops(p.Hops, "GET", idpPublic) != 0 {
		t.Errorf("a login right after the step-up went to the IdP: %v", hopURLs(p.Hops))
	}
}

// TestMaxAuthAgeDoesNotLoop: an IdP that ignores refresh=true sends the
// browser back with the same old login; the portal then stops at a page
// (reauth_not_fresh) instead of sending it round again.
func TestMaxAuthAgeDoesNotLoop(t *testing.T) {
	rc := startChain(t, stepUpChain)
	ignoreRefresh := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			q.Del(chain.KratosRefreshParam)
			r.URL.RawQuery = q.Encode()
			next.ServeHTTP(w, r)
		})
	}
	rc.net.Serve(t, idpPublic, ignoreRefresh(rc.idp.Public()))
	b := rc.alice()
	if p := b.Visit(loginURL(portalURL + "/")); p.URL != portalURL+"/" {
		t.Fatalf("first login ended at %s (%d)", p.URL, p.Status)
	}
	rc.clock.Advance(2 * time.Hour)
	p := b.Visit(loginURL(portalURL + "/"))
	if p.Status != http.StatusUnauthorized || !strings.HasPrefix(p.URL, portalURL+chain.SSOPath) || !strings.Contains(p.Body, "reauth_not_fresh") {
		t.Fatalf("ended at %s (%d), want portal's /sso refusing with reauth_not_fresh; hops:\n%s", p.URL, p.Status, strings.Join(hopURLs(p.Hops), "\n"))
	}
	if n := countHops(p.Hops, "GET", portalURL+chain.SSOPath); n != 2 {
		t.Errorf("portal /sso was visited %d times, want 2 (the refusal, then the stop)", n)
	}
}

// TestMaxAuthAgeUpstream: the upstream proxy treats a too-old session as
// signed out, so the app sees nothing from it until the step-up is done.
func TestMaxAuthAgeUpstream(t *testing.T) {
	yaml := strings.Replace(stepUpChain, "    max_auth_age: 1h\n", "    max_auth_age: 1h\n    upstream: "+appURL+"\n", 1)
	rc := startChain(t, yaml)
	app := &appRecorder{}
	rc.net.Serve(t, appURL, app)
	b := rc.alice()
	if p := b.Visit(loginURL(portalURL + "/")); p.Status != http.StatusOK || !strings.Contains(p.Body, "app /") {
		t.Fatalf("login ended at %s (%d): %q", p.URL, p.Status, p.Body)
	}
	seen := app.count()
	rc.clock.Advance(2 * time.Hour)
	deep := portalURL + "/deep/page?tab=2"
	stepUp := issuerURL + chain.LoginPath + "?" + url.Values{chain.PromptParam: {chain.PromptLogin}, chain.ReturnToParam: {deep}}.Encode()
	resp, _ := b.Get(deep)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != stepUp || app.count() != seen {
		t.Errorf("a too-old session at the proxy = %d Location %q, app requests %d→%d; want %s and nothing proxied",
			resp.StatusCode, resp.Header.Get("Location"), seen, app.count(), stepUp)
	}
	// The step-up asks for the password once and lands on the page the
	// browser asked for, not the receiver's root.
	p := b.Visit(deep)
	if p.Status != http.StatusOK || p.URL != deep || !strings.Contains(p.Body, "app /deep/page") || countHops(p.Hops, "POST", idpPublic) != 1 {
		t.Errorf("step-up through the proxy ended at %s (%d): %q; hops %v", p.URL, p.Status, p.Body, hopURLs(p.Hops))
	}
}

// TestMaxAuthAgeRelayKeepsTheDeepLink: in relay mode the last receiver's
// handoff carries the walk's return_to, so a step-up there comes back to
// that page after the new login.
func TestMaxAuthAgeRelayKeepsTheDeepLink(t *testing.T) {
	yaml := strings.Replace(relayChain, "    url: http://dashboard.company3.localhost:8082\n", "    url: http://dashboard.company3.localhost:8082\n    max_auth_age: 1h\n", 1)
	if yaml == relayChain {
		t.Fatal("test setup: max_auth_age not added")
	}
	rc := startChain(t, yaml)
	b := rc.alice()
	deep := dashboardURL + "/reports?q=1"
	if p := b.Visit(loginURL(deep)); p.URL != deep {
		t.Fatalf("first login ended at %s (%d): %v", p.URL, p.Status, hopURLs(p.Hops))
	}
	rc.clock.Advance(2 * time.Hour)
	p := b.Visit(loginURL(deep))
	stepUp := issuerURL + chain.LoginPath + "?" + url.Values{chain.PromptParam: {chain.PromptLogin}, chain.ReturnToParam: {deep}}.Encode()
	if p.URL != deep || countHops(p.Hops, "GET", stepUp) != 1 || countHops(p.Hops, "POST", idpPublic) != 1 {
		t.Errorf("relay step-up ended at %s (%d), want %s via %s; hops:\n%s", p.URL, p.Status, deep, stepUp, strings.Join(hopURLs(p.Hops), "\n"))
	}
}
