package serve_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// The roles' hot paths, in process, beside a bare net/http handler in the
// same run: /auth (seal open, revocation lookup, identity headers, the
// Observe middleware) and /sso (every token check, the replay store, the
// IdP session check against the dev IdP over loopback HTTP, the cookie).
// Requests per second are reported as req/s; ns/op is per request.

func signedIn(b *testing.B) (*runningChain, *http.Cookie, string, string) {
	rc := startChain(b, localChain)
	br := rc.alice()
	if p := br.Visit(loginURL(portalURL + "/")); p.URL != portalURL+"/" {
		b.Fatalf("login ended at %s", p.URL)
	}
	tok := rc.captureUnused(br, portalURL)
	parsed, err := token.Parse(tok)
	if err != nil {
		b.Fatal(err)
	}
	u, _ := url.Parse(portalURL)
	for _, c := range br.Jar().Cookies(u) {
		if c.Name == "portal_session" {
			return rc, c, parsed.Claims.Subject, parsed.Claims.SessionID
		}
	}
	b.Fatal("no portal_session cookie")
	return nil, nil, "", ""
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

func BenchmarkAuth(b *testing.B) {
	rc, cookie, _, _ := signedIn(b)
	portal := rc.roles.Receivers["portal"]
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := r.Cookie("portal_session"); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-Auth-Subject", "alice")
		w.WriteHeader(http.StatusOK)
	})
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"receiver", portal}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest(http.MethodGet, portalURL+"/auth", nil)
				req.AddCookie(cookie)
				for pb.Next() {
					w := httptest.NewRecorder()
					bc.h.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Fatalf("/auth = %d", w.Code)
					}
				}
			})
			reportRate(b)
		})
	}
}

func BenchmarkSSO(b *testing.B) {
	rc, _, sub, sid := signedIn(b)
	portal := rc.roles.Receivers["portal"]
	// Fresh tokens, minted ahead with the chain's key: each handoff is
	// single use. The clock stands still, so none expires during the run.
	toks := make([]string, b.N)
	for i := range toks {
		tok, _, err := token.Mint(rc.roles.Keys.Signing, token.MintOptions{
			Issuer: issuerURL, Audience: "portal", Subject: sub, SessionID: sid,
			TTL: 30 * time.Second, Return: portalURL + "/", Now: rc.clock.Now,
		})
		if err != nil {
			b.Fatal(err)
		}
		toks[i] = portalURL + chain.SSOPath + "?" + url.Values{chain.TokenParam: {tok}}.Encode()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		w := httptest.NewRecorder()
		portal.ServeHTTP(w, httptest.NewRequest(http.MethodGet, toks[i], nil))
		if w.Code != http.StatusSeeOther {
			b.Fatalf("/sso = %d: %s", w.Code, w.Body)
		}
	}
	reportRate(b)
}
