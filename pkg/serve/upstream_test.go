package serve_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/ssoctl/ssoctl/internal/browsertest"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve"
)

const appURL = "http://app.internal.localhost:9000"

// appRecorder is the app behind portal: it answers 200 and keeps the
// headers and URL of every request it got.
type appRecorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (a *appRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.reqs = append(a.reqs, r.Clone(r.Context()))
	a.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("app " + r.URL.Path))
}

func (a *appRecorder) last(t *testing.T) *http.Request {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.reqs) == 0 {
		t.Fatal("the app got no request")
	}
	return a.reqs[len(a.reqs)-1]
}

func (a *appRecorder) count() int { a.mu.Lock(); defer a.mu.Unlock(); return len(a.reqs) }

// startProxiedChain is the local chain with portal proxying to a recording
// app.
func startProxiedChain(t *testing.T) (*runningChain, *appRecorder) {
	t.Helper()
	yaml := strings.Replace(localChain, "    cookie: {name: portal_session, ttl: 8h}\n",
		"    cookie: {name: portal_session, ttl: 8h}\n    upstream: "+appURL+"\n", 1)
	rc := startChain(t, yaml)
	app := &appRecorder{}
	rc.net.Serve(t, appURL, app)
	return rc, app
}

func TestUpstreamProxiesSignedInBrowserWithIdentity(t *testing.T) {
	rc, app := startProxiedChain(t)
	b := rc.alice()
	p := b.Visit(loginURL(portalURL + "/"))
	if p.Status != http.StatusOK || p.URL != portalURL+"/" || !strings.Contains(p.Body, "app /") {
		t.Fatalf("login ended at %s with %d: %q", p.URL, p.Status, p.Body)
	}
	// The app's own cookie on the receiver's host must still reach it.
	u, _ := url.Parse(portalURL)
	b.Jar().SetCookies(u, []*http.Cookie{{Name: "app_pref", Value: "dark"}})

	req, _ := http.NewRequest(http.MethodGet, portalURL+"/reports/q1?year=2026", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("X-Forwarded-Host", "evil.example")
	resp, err := b.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET through the proxy = %v, %v", resp, err)
	}
	got := app.last(t)
	if got.URL.Path != "/reports/q1" || got.URL.RawQuery != "year=2026" {
		t.Errorf("app got %s", got.URL)
	}
	if got.Header.Get(serve.HeaderEmail) != "alice@example.com" || got.Header.Get(serve.HeaderRole) != "admin" ||
		got.Header.Get(serve.HeaderSubject) == "" || got.Header.Get(serve.HeaderSession) == "" {
		t.Errorf("identity headers = %v", got.Header)
	}
	if c := got.Header.Get("Cookie"); strings.Contains(c, "portal_session") || !strings.Contains(c, "app_pref=dark") {
		t.Errorf("app got Cookie %q: want app_pref without portal_session", c)
	}
	for h, want := range map[string]string{
		"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": "portal.company2.localhost:8081", "X-Forwarded-Proto": "http",
	} {
		if v := got.Header.Values(h); len(v) != 1 || v[0] != want {
			t.Errorf("%s = %q, want %q", h, v, want)
		}
	}
	// The receiver's own endpoints stay its own.
	if got := authStatus(b, portalURL); got != http.StatusOK {
		t.Errorf("/auth = %d", got)
	}
	before := app.count()
	for _, method := range []string{http.MethodPut, http.MethodPost} {
		req, _ := http.NewRequest(method, portalURL+"/whoami", nil)
		if resp, err := b.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s /whoami = %v, %v; want 405", method, resp, err)
		}
	}
	// Logout's paths too, whatever the method: the app never answers
	// under a name the issuer's logout walks through.
	for _, path := range []string{"/logout/anything", "/backchannel-logout"} {
		req, _ := http.NewRequest(http.MethodGet, portalURL+path, nil)
		if resp, err := b.Do(req); err != nil || resp.StatusCode < 400 {
			t.Errorf("GET %s = %v, %v; want a refusal from the receiver", path, resp, err)
		}
	}
	if app.count() != before {
		t.Error("a receiver path reached the app")
	}
}

func TestUpstreamStripsSpoofedIdentityHeaders(t *testing.T) {
	rc, app := startProxiedChain(t)
	b := rc.alice()
	b.Visit(loginURL(portalURL + "/"))
	for _, tc := range []struct {
		name    string
		headers map[string][]string // raw keys, sent as written
	}{
		{"canonical", map[string][]string{"X-Auth-Subject": {"mallory"}, "X-Auth-Role": {"superuser"}}},
		{"lower case", map[string][]string{"x-auth-email": {"mallory@example.com"}, "x-auth-session": {"forged"}}},
		{"upper case", map[string][]string{"X-AUTH-ROLE": {"superuser"}, "X-AUTH-SUBJECT": {"mallory"}}},
		{"underscore", map[string][]string{"X-Auth_Role": {"superuser"}, "x_auth_subject": {"mallory"}}},
		{"unknown X-Auth header", map[string][]string{"X-Auth-Admin": {"true"}}},
		{"named in Connection to drop the real ones", map[string][]string{
			"Connection": {"X-Auth-Role, x-auth-email, X-Auth-Subject"},
		}},
		{"spoof named in Connection", map[string][]string{
			"Connection": {"keep-alive, X-Auth-Role"}, "X-Auth-Role": {"superuser"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, portalURL+"/page", nil)
			for k, v := range tc.headers {
				req.Header[k] = v
			}
			if resp, err := b.Do(req); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("GET = %v, %v", resp, err)
			}
			got := app.last(t)
			for _, h := range []struct{ name, want string }{
				{serve.HeaderEmail, "alice@example.com"}, {serve.HeaderRole, "admin"},
			} {
				if v := got.Header.Values(h.name); len(v) != 1 || v[0] != h.want {
					t.Errorf("%s = %q, want [%s]", h.name, v, h.want)
				}
			}
			for _, h := range []string{serve.HeaderSubject, serve.HeaderSession} {
				if v := got.Header.Values(h); len(v) != 1 || v[0] == "mallory" || v[0] == "forged" {
					t.Errorf("%s = %q", h, v)
				}
			}
			for k := range got.Header {
				n := strings.ReplaceAll(strings.ToLower(k), "_", "-")
				if strings.HasPrefix(n, "x-auth-") && !isIdentityHeader(k) {
					t.Errorf("app got client header %s", k)
				}
			}
		})
	}
}

func isIdentityHeader(k string) bool {
	switch k {
	case serve.HeaderSubject, serve.HeaderSession, serve.HeaderEmail, serve.HeaderRole:
		return true
	}
	return false
}

func TestUpstreamSignedOut(t *testing.T) {
	rc, app := startProxiedChain(t)
	stranger := browsertest.New(t, rc.net)
	for _, tc := range []struct {
		name     string
		method   string
		fetch    string // Sec-Fetch-Mode
		spoof    bool
		status   int
		location string
	}{
		{name: "page load goes to log in", method: http.MethodGet, status: http.StatusFound, location: loginURL(portalURL + "/deep/page?x=1")},
		{name: "navigate mode", method: http.MethodGet, fetch: "navigate", status: http.StatusFound, location: loginURL(portalURL + "/deep/page?x=1")},
		{name: "HEAD", method: http.MethodHead, status: http.StatusFound, location: loginURL(portalURL + "/deep/page?x=1")},
		{name: "spoofed headers do not sign in", method: http.MethodGet, spoof: true, status: http.StatusFound, location: loginURL(portalURL + "/deep/page?x=1")},
		{name: "script fetch", method: http.MethodGet, fetch: "cors", status: http.StatusUnauthorized},
		{name: "POST", method: http.MethodPost, status: http.StatusUnauthorized},
		{name: "DELETE", method: http.MethodDelete, status: http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, portalURL+"/deep/page?x=1", nil)
			if tc.fetch != "" {
				req.Header.Set("Sec-Fetch-Mode", tc.fetch)
			}
			if tc.spoof {
				req.Header.Set(serve.HeaderSubject, "mallory")
				req.Header.Set(serve.HeaderSession, "forged")
			}
			resp, err := stranger.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || resp.Header.Get("Location") != tc.location {
				t.Errorf("%s = %d Location %q; want %d %q", tc.method, resp.StatusCode, resp.Header.Get("Location"), tc.status, tc.location)
			}
		})
	}
	if app.count() != 0 {
		t.Errorf("the app got %d requests from a signed-out browser", app.count())
	}
	// A browser that follows the redirect logs in and lands on the page it
	// asked for, served by the app.
	b := rc.alice()
	p := b.Visit(portalURL + "/deep/page?x=1")
	if p.Status != http.StatusOK || p.URL != portalURL+"/deep/page?x=1" || !strings.Contains(p.Body, "app /deep/page") {
		t.Errorf("walk ended at %s with %d: %q", p.URL, p.Status, p.Body)
	}
}

func TestUpstreamDownIsA502Page(t *testing.T) {
	rc, _ := startProxiedChain(t)
	b := rc.alice()
	b.Visit(loginURL(portalURL + "/"))
	rc.net.SetDown(appURL, true)
	resp, body := b.Get(portalURL + "/anything")
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", resp.StatusCode)
	}
	if !strings.Contains(body, "upstream_unavailable") || strings.Contains(body, "goroutine") ||
		strings.Contains(body, "browsertest") || strings.Contains(body, "app.internal") {
		t.Errorf("502 page leaks detail or lacks the code:\n%s", body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("502 page CSP = %q", csp)
	}
}

func TestParseUpstream(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		ok   bool
		want string // in the error
	}{
		{raw: "http://127.0.0.1:3000", ok: true},
		{raw: "https://app.internal/prefix", ok: true},
		{raw: "", want: "empty"},
		{raw: "127.0.0.1:3000", want: "absolute http or https"},
		{raw: "/app", want: "absolute http or https"},
		{raw: "ftp://host", want: "absolute http or https"},
		{raw: "http://", want: "no host"},
		{raw: "http://user:hunter2@host", want: "user:password"},
		{raw: "http://host/?a=b", want: "query"},
		{raw: "http://host/#x", want: "fragment"},
	} {
		_, err := serve.ParseUpstream(tc.raw)
		switch {
		case tc.ok && err != nil:
			t.Errorf("%q: %v", tc.raw, err)
		case !tc.ok && (err == nil || !errors.Is(err, serve.ErrBadUpstream) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: error %v, want one saying %q", tc.raw, err, tc.want)
		case err != nil && strings.Contains(err.Error(), "hunter2"):
			t.Errorf("%q: error quotes the password", tc.raw)
		}
	}
}

func TestChainFileUpstreamIsValidated(t *testing.T) {
	for _, tc := range []struct {
		name, upstream, want string
	}{
		{"not absolute", "app:3000", "receivers[0].upstream"},
		{"query", "http://127.0.0.1:3000/?x=1", "must not have a query"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			yaml := strings.Replace(localChain, "    cookie: {name: portal_session, ttl: 8h}\n",
				"    cookie: {name: portal_session, ttl: 8h}\n    upstream: "+tc.upstream+"\n", 1)
			_, err := chain.Parse("chain.yaml", []byte(yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
}
