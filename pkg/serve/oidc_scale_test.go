package serve_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/redistest"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve"
)

// An OIDC chain behind load balancers: two instances of the issuer and of
// every receiver on one real Redis, each pair behind a round-robin, with
// a real Hydra as the provider. The issuer's provider sessions are in
// Redis, so whichever instance a request (or Hydra's back-channel) lands
// on knows the session; and the instances re-check a session with Hydra
// once between them, since Hydra takes each refresh token once and, shown
// one again, revokes the whole grant.
func TestOIDCTwoIssuerInstancesShareSessions(t *testing.T) {
	redis := redistest.StartServer(t)
	oc := startOIDCChainOpts(t, oidcChainOptions{recheck: time.Second, redisURL: redis.URL})
	b := oc.alice()
	if p := oc.login(b, dashboardURL+"/"); p.URL != dashboardURL+"/" {
		oc.fail("login ended at %s (%d): %s %v", p.URL, p.Status, p.Body, hopURLs(p.Hops))
	}
	// Every receiver instance answers for the session, whichever issuer
	// instance finished the login: the round-robins alternate.
	for range 2 {
		for _, origin := range []string{portalURL, dashboardURL} {
			resp, _ := b.Get(origin + "/auth")
			if resp.StatusCode != http.StatusOK || resp.Header.Get(serve.HeaderEmail) != "alice@example.com" {
				oc.fail("%s/auth = %d email=%q, want 200 for alice", origin, resp.StatusCode, resp.Header.Get(serve.HeaderEmail))
			}
		}
	}

	// Re-checks due at both instances at once, three intervals running.
	for round := range 3 {
		time.Sleep(1100 * time.Millisecond)
		var wg sync.WaitGroup
		codes := make([]int, 8)
		for i := range codes {
			origin := portalURL
			if i%2 == 1 {
				origin = dashboardURL
			}
			wg.Go(func() { codes[i] = authStatus(b, origin) })
		}
		wg.Wait()
		for i, code := range codes {
			if code != http.StatusOK {
				oc.fail("round %d: request %d during concurrent re-checks = %d, want 200 (a refresh token used twice ends the grant at Hydra)", round, i, code)
			}
		}
	}

	// Signing in again needs no password at either issuer instance: its
	// cookie names a session both know.
	b.Password = ""
	for i := range 2 {
		if p := oc.login(b, portalURL+"/"); p.URL != portalURL+"/" {
			oc.fail("login %d again ended at %s (%d), want the portal without a password", i, p.URL, p.Status)
		}
	}

	// Hydra ends the session: its logout token reaches one issuer
	// instance, which ends it for both, and every receiver instance.
	resp, _ := b.Get(portalURL + "/auth")
	oc.hydra.RevokeLoginSession(t, resp.Header.Get(serve.HeaderSession))
	for _, origin := range []string{portalURL, dashboardURL} {
		for range 2 {
			if got := waitAuth(b, origin, http.StatusUnauthorized, 5*time.Second); got != http.StatusUnauthorized {
				oc.fail("%s/auth = %d after Hydra's back-channel logout, want 401 at every instance", origin, got)
			}
		}
	}
	check := oc.issuer + chain.CheckPath + "?" + url.Values{chain.ReturnToParam: {portalURL + "/"}}.Encode()
	for range 2 {
		if p := b.Visit(check); !strings.Contains(p.URL, chain.ErrorParam+"="+chain.ErrorLoginRequired) {
			oc.fail("a silent check after the logout ended at %s, want login_required at each issuer instance", p.URL)
		}
	}

	// The logout token, replayed at each instance (the round-robin
	// alternates), is refused: its jti is in Redis.
	oc.replayLogoutToken()
	oc.replayLogoutToken()

	// Redis down: every issuer instance's /readyz names the store, and a
	// sign-in that needs the session store fails closed; once Redis is
	// back, the same instances sign in again.
	redis.Stop(t)
	for i, roles := range oc.instances {
		rec := httptest.NewRecorder()
		roles.Issuer.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, oc.issuer+"/readyz", nil))
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "store") {
			t.Errorf("issuer instance %d /readyz with Redis down = %d %q, want 503 naming the store", i, rec.Code, rec.Body.String())
		}
	}
	b.Password = "wonderland"
	if p := oc.login(b, portalURL+"/"); p.Status != http.StatusServiceUnavailable || !strings.Contains(p.Body, "store_unavailable") {
		oc.fail("a login with Redis down ended at %s (%d), want 503 store_unavailable (not the provider's fault)", p.URL, p.Status)
	}
	redis.Restart(t)
	for i, roles := range oc.instances {
		for name, h := range map[string]http.Handler{"issuer": roles.Issuer, "portal": roles.Receivers["portal"], "dashboard": roles.Receivers["dashboard"]} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if rec.Code != http.StatusOK {
				t.Errorf("%s instance %d /readyz once Redis is back = %d %q, want 200", name, i, rec.Code, rec.Body.String())
			}
		}
	}
	// The receivers saw Redis come back empty: handoffs that may have been
	// issued before that are refused (the replay records were lost). A
	// token's iat is in whole seconds and the leeway is 1 s, so a handoff
	// is taken for issued up to 2 s before it was: wait that out.
	time.Sleep(2500 * time.Millisecond)
	for i := range 2 {
		if p := oc.login(b, portalURL+"/"); p.URL != portalURL+"/" {
			oc.fail("login %d once Redis is back ended at %s (%d)", i, p.URL, p.Status)
		}
	}
}
