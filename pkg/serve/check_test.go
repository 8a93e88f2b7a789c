package serve_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/pkg/chain"
)

func checkURL(returnTo string) string {
	return issuerURL + chain.CheckPath + "?" + url.Values{chain.ReturnToParam: {returnTo}}.Encode()
}

// TestSilentCheck is /sso/check, the prompt=none analogue: a walk when
// the browser has an IdP session, return_to with an error otherwise, and
// never a login page.
func TestSilentCheck(t *testing.T) {
	// A portal that wants a login no older than an hour.
	stepUpChain := strings.Replace(localChain, "    cookie: {name: portal_session, ttl: 8h}\n",
		"    cookie: {name: portal_session, ttl: 8h}\n    max_auth_age: 1h\n", 1)
	tests := []struct {
		name     string
		chain    string
		signedIn bool
		before   func(rc *runningChain) // after the login, before the check
		returnTo string
		wantURL  string // where the check lands
		wantHops []string
	}{
		{
			name: "no session: back to return_to with login_required", chain: localChain,
			returnTo: portalURL + "/app?tab=1#top",
			wantURL:  portalURL + "/app?error=login_required&tab=1#top",
			wantHops: []string{"GET " + issuerURL + "/sso/check", "GET " + portalURL + "/app"},
		},
		{
			name: "a session: the hub walk, aimed at return_to", chain: localChain, signedIn: true,
			returnTo: dashboardURL + "/",
			wantURL:  dashboardURL + "/",
			wantHops: []string{
				"GET " + issuerURL + "/sso/check",
				"GET " + portalURL + "/sso",
				"GET " + issuerURL + "/sso/continue",
				"GET " + dashboardURL + "/sso",
				"GET " + issuerURL + "/sso/continue",
				"GET " + dashboardURL + "/",
			},
		},
		{
			name: "the IdP down: temporarily_unavailable, no page", chain: localChain, signedIn: true,
			before:   func(rc *runningChain) { rc.net.SetDown(idpPublic, true) },
			returnTo: dashboardURL + "/",
			wantURL:  dashboardURL + "/?error=temporarily_unavailable",
			wantHops: []string{"GET " + issuerURL + "/sso/check", "GET " + dashboardURL + "/"},
		},
		{
			name: "a session too old for a receiver on the walk: login_required", chain: stepUpChain, signedIn: true,
			before:   func(rc *runningChain) { rc.clock.Advance(61 * time.Minute) },
			returnTo: dashboardURL + "/",
			wantURL:  dashboardURL + "/?error=login_required",
			wantHops: []string{"GET " + issuerURL + "/sso/check", "GET " + dashboardURL + "/"},
		},
		{
			name: "a session young enough: the walk", chain: stepUpChain, signedIn: true,
			before:   func(rc *runningChain) { rc.clock.Advance(59 * time.Minute) },
			returnTo: portalURL + "/",
			wantURL:  portalURL + "/",
			wantHops: []string{
				"GET " + issuerURL + "/sso/check",
				"GET " + portalURL + "/sso",
				"GET " + issuerURL + "/sso/continue",
				"GET " + dashboardURL + "/sso",
				"GET " + issuerURL + "/sso/continue",
				"GET " + portalURL + "/",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := startChain(t, tt.chain)
			b := rc.alice()
			if tt.signedIn {
				if p := b.Visit(loginURL(issuerURL + "/")); p.URL != issuerURL+"/" {
					t.Fatalf("login ended at %s (%d)", p.URL, p.Status)
				}
			}
			if tt.before != nil {
				tt.before(rc)
			}
			b.Password = "" // a login form would stop the walk; a check must show none
			p := b.Visit(checkURL(tt.returnTo))
			if p.URL != tt.wantURL {
				t.Errorf("check ended at %s (%d), want %s", p.URL, p.Status, tt.wantURL)
			}
			if got := hopURLs(p.Hops); !slices.Equal(got, tt.wantHops) {
				t.Errorf("hops:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.wantHops, "\n"))
			}
		})
	}
}

// TestSilentCheckRefusesReturnToFirst: a return_to off the allowlist gets
// the 400 page before anything else, session or not: no redirect, no
// cookie, no IdP.
func TestSilentCheckRefusesReturnToFirst(t *testing.T) {
	rc := startChain(t, localChain)
	for _, signedIn := range []bool{false, true} {
		b := rc.alice()
		if signedIn {
			if p := b.Visit(loginURL(issuerURL + "/")); p.URL != issuerURL+"/" {
				t.Fatalf("login ended at %s (%d)", p.URL, p.Status)
			}
		}
		for _, returnTo := range []string{"https://evil.example/", "http://portal.company2.localhost.evil.example:8081/", "javascript:alert(1)"} {
			resp, body := b.Get(checkURL(returnTo))
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || len(resp.Header.Values("Set-Cookie")) != 0 || !strings.Contains(body, "return_to_refused") {
				t.Errorf("signed in %v, check with return_to %s = %d Location=%q Set-Cookie=%q, want a 400 page and nothing else",
					signedIn, returnTo, resp.StatusCode, resp.Header.Get("Location"), resp.Header.Values("Set-Cookie"))
			}
		}
	}
}
