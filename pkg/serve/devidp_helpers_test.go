package serve_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/net/publicsuffix"

	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve"
)

// The dev IdP and Kratos client tests run real HTTP over loopback
// listeners, each reached under its own host name through a dialer that
// never asks DNS, so cookie domains behave as in a browser.

const (
	idpPublicURL = "http://auth.company.localhost:4433"
	idpAdminURL  = "http://auth.company.localhost:4434"
	idpIssuer    = "http://accounts.company.localhost:8080"
	idpPortal    = "http://portal.company2.localhost:8081"
	idpCallback  = idpIssuer + "/callback?state=s1"
)

// idpEpoch is the tests' fixed start time.
var idpEpoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type idpClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *idpClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *idpClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// idpLoopback maps "host:port" names onto loopback listeners.
type idpLoopback struct {
	mu    sync.Mutex
	hosts map[string]string
}

func newIDPLoopback() *idpLoopback { return &idpLoopback{hosts: map[string]string{}} }

// serve starts h under origin's host:port; the server closes with the test.
func (n *idpLoopback) serve(t *testing.T, origin string, h http.Handler) *httptest.Server {
	t.Helper()
	u, err := url.Parse(origin)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	n.mu.Lock()
	n.hosts[u.Host] = srv.Listener.Addr().String()
	n.mu.Unlock()
	return srv
}

func (n *idpLoopback) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	n.mu.Lock()
	target, ok := n.hosts[addr]
	n.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("idpLoopback: no listener for %s (the tests never use DNS)", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, target)
}

func (n *idpLoopback) client() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: n.dial, DisableKeepAlives: true}, Timeout: 5 * time.Second}
}

// idpAllowlist is the chain's return_to allowlist plus the issuer, as
// NewDevIdPFromChain builds it.
func idpAllowlist(t *testing.T) func(string) error {
	t.Helper()
	a, err := chain.NewAllowlist([]string{idpIssuer, idpPortal, "http://dashboard.company3.localhost:8082"})
	if err != nil {
		t.Fatal(err)
	}
	return func(raw string) error { _, err := a.Allow(raw); return err }
}

// idpUsers are the accounts every harness has.
func idpUsers() []serve.DevUser {
	return []serve.DevUser{
		{Email: "alice@example.com", Password: []byte("wonderland"), Role: "admin",
			Traits:        map[string]any{"name": map[string]any{"first": "Alice"}},
			MetadataAdmin: map[string]any{"permissions": map[string]any{"wiki": []string{"wiki:admin"}}}},
		// bob's traits name a role, as a Kratos user could write their own;
		// it must reach no one as his role.
		{Email: "Bob@Example.com", Password: []byte("builder"), Traits: map[string]any{"role": "admin"}},
	}
}

// idpHarness is a running dev IdP and a Kratos client pointed at it.
type idpHarness struct {
	t      *testing.T
	clock  *idpClock
	net    *idpLoopback
	idp    *serve.DevIdP
	kratos *serve.Kratos
	pub    *httptest.Server
	adm    *httptest.Server
}

// startDevIdP runs a dev IdP from cfg, with the harness's defaults for
// whatever cfg leaves empty.
func startDevIdP(t *testing.T, cfg serve.DevIdPConfig) *idpHarness {
	t.Helper()
	h := &idpHarness{t: t, clock: &idpClock{now: idpEpoch}, net: newIDPLoopback()}
	if cfg.PublicURL == "" {
		cfg.PublicURL = idpPublicURL
	}
	if cfg.Users == nil {
		cfg.Users = idpUsers()
	}
	if cfg.AllowReturn == nil {
		cfg.AllowReturn = idpAllowlist(t)
	}
	if cfg.Now == nil {
		cfg.Now = h.clock.Now
	}
	if cfg.Name == "" {
		cfg.Name = "company"
	}
	cfg.PasswordCost = bcrypt.MinCost
	idp, err := serve.NewDevIdP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.idp = idp
	h.pub = h.net.serve(t, cfg.PublicURL, idp.Public())
	h.adm = h.net.serve(t, idpAdminURL, idp.Admin())
	h.kratos, err = serve.NewKratos(cfg.PublicURL, idpAdminURL, h.net.client(), serve.WithKratosClock(h.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// stop closes the IdP's listeners, as if it went down.
func (h *idpHarness) stop() {
	h.pub.Close()
	h.adm.Close()
}

// idpBrowser is a browser for the dev IdP: an RFC 6265 jar with the public
// suffix list, and no automatic redirects.
type idpBrowser struct {
	t      *testing.T
	h      *idpHarness
	client *http.Client
	jar    *cookiejar.Jar
}

func (h *idpHarness) browser() *idpBrowser {
	jar, err := cookiejar.New(&cookiejar.Options{PublicSuffixList: publicsuffix.List})
	if err != nil {
		h.t.Fatal(err)
	}
	c := h.net.client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &idpBrowser{t: h.t, h: h, client: c, jar: jar}
}

// idpResponse is an answer with its body read.
type idpResponse struct {
	*http.Response
	Body string
}

func (b *idpBrowser) do(req *http.Request) idpResponse {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return idpResponse{Response: resp, Body: string(data)}
}

func (b *idpBrowser) get(rawURL string) idpResponse {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *idpBrowser) post(rawURL string, form url.Values, header http.Header) idpResponse {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, rawURL, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	return b.do(req)
}

var idpCSRFField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// loginPage opens the login page for returnTo ("" for none) and returns
// the page and its form token.
func (b *idpBrowser) loginPage(returnTo string) (idpResponse, string) {
	b.t.Helper()
	u := idpPublicURL + chain.KratosLoginPath
	if returnTo != "" {
		u += "?" + url.Values{"return_to": {returnTo}}.Encode()
	}
	page := b.get(u)
	m := idpCSRFField.FindStringSubmatch(page.Body)
	if m == nil {
		return page, ""
	}
	return page, m[1]
}

// loginForm is the form a person submits.
func loginForm(email, password, csrf, returnTo string) url.Values {
	v := url.Values{"email": {email}, "password": {password}, "csrf_token": {csrf}}
	if returnTo != "" {
		v.Set("return_to", returnTo)
	}
	return v
}

// login signs in through the browser flow and returns the POST's answer.
func (b *idpBrowser) login(email, password, returnTo string) idpResponse {
	b.t.Helper()
	page, csrf := b.loginPage(returnTo)
	if page.StatusCode != http.StatusOK || csrf == "" {
		b.t.Fatalf("login page: %d, csrf %q\n%s", page.StatusCode, csrf, page.Body)
	}
	return b.post(idpPublicURL+"/self-service/login", loginForm(email, password, csrf, returnTo), nil)
}

// mustLogin signs alice in and fails the test unless it works.
func (b *idpBrowser) mustLogin() {
	b.t.Helper()
	resp := b.login("alice@example.com", "wonderland", idpCallback)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != idpCallback {
		b.t.Fatalf("login: %d Location %q\n%s", resp.StatusCode, resp.Header.Get("Location"), resp.Body)
	}
}

// cookieHeader is the Cookie header the browser would send to rawURL.
func (b *idpBrowser) cookieHeader(rawURL string) string {
	u, _ := url.Parse(rawURL)
	var parts []string
	for _, c := range b.jar.Cookies(u) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// sessionCookie is the value of the IdP session cookie the browser holds.
func (b *idpBrowser) sessionCookie() string {
	u, _ := url.Parse(idpPublicURL)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == "ory_kratos_session" {
			return c.Value
		}
	}
	return ""
}

// setCookies parses the answer's Set-Cookie headers by name.
func setCookies(resp *http.Response) map[string]*http.Cookie {
	out := map[string]*http.Cookie{}
	for _, c := range resp.Cookies() {
		out[c.Name] = c
	}
	return out
}

// cspHash is a CSP hash source for an inline element's text.
func cspHash(text string) string {
	sum := sha256.Sum256([]byte(text))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}
