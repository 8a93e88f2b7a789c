package serve_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/ssoctl/ssoctl/pkg/serve"
)

// whoHandler answers with the identity RequireSession established.
var whoHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	id, ok := serve.IdentityFrom(r.Context())
	if !ok {
		http.Error(w, "no identity", http.StatusInternalServerError)
		return
	}
	_, _ = w.Write([]byte(id.Subject + "|" + id.SessionID + "|" + id.Email + "|" + id.Role))
})

func TestRequireSessionTrustsHeadersOnlyFromTrustedPeers(t *testing.T) {
	identity := map[string][]string{
		serve.HeaderSubject: {"sub-1"}, serve.HeaderSession: {"sid-1"},
		serve.HeaderEmail: {"alice@example.com"}, serve.HeaderRole: {"admin"},
	}
	for _, tc := range []struct {
		name    string
		remote  string
		headers map[string][]string
		opts    []serve.RequireOption
		status  int
		body    string
	}{
		{name: "receiver on loopback", remote: "127.0.0.1:50000", headers: identity, status: 200, body: "sub-1|sid-1|alice@example.com|admin"},
		{name: "IPv6 loopback", remote: "[::1]:50000", headers: identity, status: 200},
		{name: "IPv4-mapped loopback", remote: "[::ffff:127.0.0.1]:50000", headers: identity, status: 200},
		{name: "headers from an untrusted peer", remote: "192.0.2.7:50000", headers: identity, status: 401},
		{name: "no headers", remote: "127.0.0.1:50000", status: 401},
		{name: "subject without session", remote: "127.0.0.1:50000", headers: map[string][]string{serve.HeaderSubject: {"sub-1"}}, status: 401},
		{name: "two subjects", remote: "127.0.0.1:50000", headers: map[string][]string{serve.HeaderSubject: {"sub-1", "sub-2"}, serve.HeaderSession: {"sid-1"}}, status: 401},
		{name: "configured proxy network", remote: "10.1.2.3:50000", headers: identity, status: 200,
			opts: []serve.RequireOption{serve.WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8"))}},
		{name: "loopback no longer trusted once replaced", remote: "127.0.0.1:50000", headers: identity, status: 401,
			opts: []serve.RequireOption{serve.WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8"))}},
		{name: "custom refusal", remote: "192.0.2.7:50000", status: http.StatusTeapot,
			opts: []serve.RequireOption{serve.WithUnauthorized(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.RemoteAddr = tc.remote
			for k, v := range tc.headers {
				req.Header[k] = v
			}
			w := httptest.NewRecorder()
			serve.RequireSession(whoHandler, tc.opts...).ServeHTTP(w, req)
			if w.Code != tc.status || (tc.body != "" && w.Body.String() != tc.body) {
				t.Errorf("= %d %q, want %d %q", w.Code, w.Body.String(), tc.status, tc.body)
			}
		})
	}
}

func TestRequireSessionForwardAuthAsksTheReceiver(t *testing.T) {
	rc := startChain(t, localChain)
	b := rc.alice()
	b.Visit(loginURL(portalURL + "/"))
	cookie := ""
	pu, _ := url.Parse(portalURL)
	for _, c := range b.Jar().Cookies(pu) {
		cookie += c.Name + "=" + c.Value + "; "
	}
	h := serve.RequireSession(whoHandler, serve.WithForwardAuth(portalURL+"/auth", rc.net.Client()))
	for _, tc := range []struct {
		name    string
		cookie  string
		spoof   bool
		down    bool
		status  int
		contain string
	}{
		{name: "signed in", cookie: cookie, status: 200, contain: "|alice@example.com|admin"},
		{name: "headers alone are not enough", spoof: true, status: 401},
		{name: "foreign cookie", cookie: "portal_session=forged", status: 401},
		{name: "receiver down fails closed", cookie: cookie, down: true, status: 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc.net.SetDown(portalURL, tc.down)
			defer rc.net.SetDown(portalURL, false)
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.RemoteAddr = "127.0.0.1:50000"
			if tc.cookie != "" {
				req.Header.Set("Cookie", tc.cookie)
			}
			if tc.spoof {
				req.Header.Set(serve.HeaderSubject, "mallory")
				req.Header.Set(serve.HeaderSession, "forged")
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.contain) {
				t.Errorf("= %d %q, want %d containing %q", w.Code, w.Body.String(), tc.status, tc.contain)
			}
		})
	}
}

func TestRequireSessionBehindTheReceiverProxy(t *testing.T) {
	yaml := strings.Replace(localChain, "    cookie: {name: portal_session, ttl: 8h}\n",
		"    cookie: {name: portal_session, ttl: 8h}\n    upstream: "+appURL+"\n", 1)
	rc := startChain(t, yaml)
	// The receiver dials the app on loopback, so the default trust holds.
	rc.net.Serve(t, appURL, serve.RequireSession(whoHandler))
	b := rc.alice()
	p := b.Visit(loginURL(portalURL + "/"))
	if p.Status != http.StatusOK || !strings.HasSuffix(p.Body, "|alice@example.com|admin") {
		t.Fatalf("app said %d %q", p.Status, p.Body)
	}
}
