package serve_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/redistest"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// The roles' hot paths, in process, beside a bare net/http handler in the
// same run: /auth (seal open, revocation lookup, identity headers, the
// Observe middleware) and /sso (every token check, the replay store, the
// IdP session check against the dev IdP over loopback HTTP, the cookie).
// Requests per second are reported as req/s; ns/op is per request.

func signedIn(b testing.TB, yaml string) (*runningChain, *http.Cookie, string, string) {
	rc := startChain(b, yaml)
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
	rc, cookie, _, _ := signedIn(b, localChain)
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

// TestAuthAllocations holds a signed-in forward-auth check to its budget
// of allocations beyond net/http's own: Observe's exchange and one array
// backing the answer's header values. A remembered cookie is opened
// without copying its session.
func TestAuthAllocations(t *testing.T) {
	rc, cookie, _, _ := signedIn(t, localChain)
	portal := rc.roles.Receivers["portal"]
	req := httptest.NewRequest(http.MethodGet, portalURL+"/auth", nil)
	req.AddCookie(cookie)
	w := &statusWriter{h: make(http.Header, 8)}
	portal.ServeHTTP(w, req) // the first request opens the cookie
	if w.code != http.StatusOK {
		t.Fatalf("/auth = %d", w.code)
	}
	n := testing.AllocsPerRun(200, func() {
		clear(w.h)
		portal.ServeHTTP(w, req)
	})
	if w.code != http.StatusOK {
		t.Fatalf("/auth = %d", w.code)
	}
	if n > 2 {
		t.Errorf("a signed-in /auth allocates %v times, want at most 2", n)
	}
}

// statusWriter is a ResponseWriter that keeps the status only, so an
// allocation count sees the handler's and not a recorder's.
type statusWriter struct {
	h    http.Header
	code int
}

func (w *statusWriter) Header() http.Header         { return w.h }
func (w *statusWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *statusWriter) WriteHeader(code int)        { w.code = code }

// BenchmarkSSO measures handoffs: each request carries a fresh token, so
// every one verifies, consumes its jti, asks the dev IdP (loopback HTTP)
// about the session and seals a cookie. memory and redis are the two
// replay/revocation stores; redis runs a real redis-server through
// scripts/redis.sh and is skipped without one. The -parallel variants keep
// GOMAXPROCS handoffs in flight, as concurrent browsers would.
func BenchmarkSSO(b *testing.B) {
	for _, st := range []struct {
		name  string
		store func(b *testing.B) string // extra chain file lines
	}{
		{"memory", func(*testing.B) string { return "" }},
		{"redis", func(b *testing.B) string {
			b.Setenv("REDIS_URL", redistest.Start(b))
			return "store: {redis: {url_env: REDIS_URL}}\n"
		}},
	} {
		for _, parallel := range []bool{false, true} {
			name := st.name
			if parallel {
				name += "-parallel"
			}
			b.Run(name, func(b *testing.B) {
				rc, _, sub, sid := signedIn(b, localChain+st.store(b))
				b.Cleanup(func() { rc.roles.Close() })
				benchHandoffs(b, rc, sub, sid, parallel)
			})
		}
	}
}

func benchHandoffs(b *testing.B, rc *runningChain, sub, sid string, parallel bool) {
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
	handoff := func(u string) bool {
		w := httptest.NewRecorder()
		portal.ServeHTTP(w, httptest.NewRequest(http.MethodGet, u, nil))
		if w.Code != http.StatusSeeOther {
			b.Errorf("/sso = %d: %s", w.Code, w.Body)
			return false
		}
		return true
	}
	b.ReportAllocs()
	b.ResetTimer()
	if !parallel {
		for i := range b.N {
			if !handoff(toks[i]) {
				return
			}
		}
	} else {
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !handoff(toks[next.Add(1)-1]) {
					return
				}
			}
		})
	}
	reportRate(b)
}
