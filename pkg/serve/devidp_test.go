package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	client "github.com/ory/client-go"

	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve"
)

// returnToTest is a return_to an attacker might try, and whether the dev
// IdP may ever redirect to it.
type returnToTest struct {
	description string
	query       string // the raw query string after "?"
	allowed     bool
}

var returnToTests = []returnToTest{
	{"the issuer's callback", "return_to=" + url.QueryEscape(idpCallback), true},
	{"a receiver in the allowlist", "return_to=" + url.QueryEscape(idpPortal+"/app?x=1"), true},
	{"no return_to at all", "", true},
	{"scheme-relative", "return_to=" + url.QueryEscape("//evil.example/"), false},
	{"another site", "return_to=" + url.QueryEscape("https://evil.example/"), false},
	{"the allowed host as userinfo", "return_to=" + url.QueryEscape(idpIssuer+"@evil.example/"), false},
	{"userinfo with the allowed host as user", "return_to=" + url.QueryEscape("http://accounts.company.localhost:8080:x@evil.example/"), false},
	{"backslash after the host", "return_to=" + url.QueryEscape("http://evil.example\\@accounts.company.localhost:8080/"), false},
	{"backslash as the slashes", "return_to=" + url.QueryEscape("http:\\\\evil.example/"), false},
	{"slash-backslash", "return_to=" + url.QueryEscape("/\\evil.example/"), false},
	{"scheme without slashes", "return_to=" + url.QueryEscape("https:evil.example"), false},
	{"javascript", "return_to=" + url.QueryEscape("javascript:alert(1)"), false},
	{"data", "return_to=" + url.QueryEscape("data:text/html,<script>alert(1)</script>"), false},
	{"a path only", "return_to=" + url.QueryEscape("/callback"), false},
	{"encoded newline in the path", "return_to=" + url.QueryEscape(idpIssuer+"/%0d%0aSet-Cookie:%20x=1"), false},
	{"raw newline", "return_to=" + url.QueryEscape(idpIssuer+"/\r\nSet-Cookie: x=1"), false},
	{"leading space", "return_to=" + url.QueryEscape(" "+idpIssuer+"/"), false},
	{"the allowed host as a prefix of another", "return_to=" + url.QueryEscape("http://accounts.company.localhost.evil.example:8080/"), false},
	{"the allowed host after a fragment", "return_to=" + url.QueryEscape("http://evil.example#@accounts.company.localhost:8080/"), false},
	{"a look-alike (Cyrillic а)", "return_to=" + url.QueryEscape("http://\u0430ccounts.company.localhost:8080/"), false},
	{"another port", "return_to=" + url.QueryEscape("http://accounts.company.localhost:9999/"), false},
	{"https where http is allowed", "return_to=" + url.QueryEscape("https://accounts.company.localhost:8080/"), false},
	{"two return_to, the second evil", "return_to=" + url.QueryEscape(idpCallback) + "&return_to=" + url.QueryEscape("https://evil.example/"), false},
	{"longer than 2048 bytes", "return_to=" + url.QueryEscape(idpIssuer+"/"+strings.Repeat("a", 2100)), false},
}

func TestDevIdPReturnTo(t *testing.T) {
	for _, tc := range returnToTests {
		t.Run(tc.description, func(t *testing.T) {
			h := startDevIdP(t, serve.DevIdPConfig{})
			b := h.browser()
			q, _ := url.ParseQuery(tc.query)
			returnTo := q.Get("return_to")

			// The login page.
			page := b.get(idpPublicURL + chain.KratosLoginPath + "?" + tc.query)
			if tc.allowed {
				if page.StatusCode != http.StatusOK || !idpCSRFField.MatchString(page.Body) {
					t.Fatalf("login page: %d\n%s", page.StatusCode, page.Body)
				}
			} else {
				wantRefused(t, "login page", page)
			}

			// A correct login posting the same return_to (a form is easy
			// to edit) with a good form token.
			_, csrf := b.loginPage("")
			form := loginForm("alice@example.com", "wonderland", csrf, "")
			form["return_to"] = q["return_to"]
			resp := b.post(idpPublicURL+"/self-service/login", form, nil)
			if tc.allowed {
				want := returnTo
				if want == "" {
					want = "/"
				}
				if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
					t.Errorf("login: %d Location %q, want 303 to %q", resp.StatusCode, resp.Header.Get("Location"), want)
				}
			} else {
				wantRefused(t, "login", resp)
				if b.sessionCookie() != "" {
					t.Error("login: the browser holds a session after a refused return_to")
				}
			}

			// Logout.
			resp = b.get(idpPublicURL + "/self-service/logout/browser?" + tc.query)
			if !tc.allowed {
				wantRefused(t, "logout", resp)
			} else if resp.StatusCode != http.StatusSeeOther {
				t.Errorf("logout: %d", resp.StatusCode)
			}
		})
	}
}

// wantRefused wants a 400 page that says why, with no redirect and no
// session cookie.
func wantRefused(t *testing.T, what string, resp idpResponse) {
	t.Helper()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("%s: %d, want 400", what, resp.StatusCode)
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		t.Errorf("%s: redirects to %q", what, loc)
	}
	if c, ok := setCookies(resp.Response)["ory_kratos_session"]; ok {
		t.Errorf("%s: sets the session cookie %v", what, c)
	}
	if !strings.Contains(resp.Body, "return_to refused: ") {
		t.Errorf("%s: the page does not say why:\n%s", what, resp.Body)
	}
	if strings.Contains(resp.Body, "<a ") || strings.Contains(resp.Body, "<form") {
		t.Errorf("%s: the refusal page links or posts somewhere:\n%s", what, resp.Body)
	}
}

// csrfTest is a login POST whose form token or origin is wrong.
type csrfTest struct {
	description string
	tamper      func(h *idpHarness, b *idpBrowser, form url.Values, header http.Header)
}

var csrfTests = []csrfTest{
	{"no form token", func(_ *idpHarness, _ *idpBrowser, form url.Values, _ http.Header) { form.Del("csrf_token") }},
	{"an empty form token", func(_ *idpHarness, _ *idpBrowser, form url.Values, _ http.Header) { form.Set("csrf_token", "") }},
	{"a made-up form token", func(_ *idpHarness, _ *idpBrowser, form url.Values, _ http.Header) {
		form.Set("csrf_token", strings.Repeat("A", 43))
	}},
	{"no CSRF cookie", func(_ *idpHarness, b *idpBrowser, _ url.Values, _ http.Header) {
		b.jar.SetCookies(mustURL(idpPublicURL), []*http.Cookie{{Name: "ssoctl_idp_csrf", Value: "", MaxAge: -1, Path: "/"}})
	}},
	{"another browser's form token", func(h *idpHarness, _ *idpBrowser, form url.Values, _ http.Header) {
		_, other := h.browser().loginPage(idpCallback)
		form.Set("csrf_token", other)
	}},
	{"a CSRF cookie planted by someone else", func(h *idpHarness, b *idpBrowser, _ url.Values, _ http.Header) {
		other := h.browser()
		other.loginPage(idpCallback)
		for _, c := range other.jar.Cookies(mustURL(idpPublicURL)) {
			b.jar.SetCookies(mustURL(idpPublicURL), []*http.Cookie{{Name: c.Name, Value: c.Value, Path: "/"}})
		}
	}},
	{"the form is older than 15 minutes", func(h *idpHarness, _ *idpBrowser, _ url.Values, _ http.Header) {
		h.clock.Advance(15*time.Minute + time.Second)
	}},
	{"posted from another site", func(_ *idpHarness, _ *idpBrowser, _ url.Values, header http.Header) {
		header.Set("Sec-Fetch-Site", "cross-site")
	}},
	{"posted from a sibling host", func(_ *idpHarness, _ *idpBrowser, _ url.Values, header http.Header) {
		header.Set("Origin", "http://evil.company.localhost:4433")
	}},
}

func TestDevIdPLoginCSRF(t *testing.T) {
	for _, tc := range csrfTests {
		t.Run(tc.description, func(t *testing.T) {
			h := startDevIdP(t, serve.DevIdPConfig{})
			b := h.browser()
			_, csrf := b.loginPage(idpCallback)
			form := loginForm("alice@example.com", "wonderland", csrf, idpCallback)
			header := http.Header{}
			tc.tamper(h, b, form, header)
			resp := b.post(idpPublicURL+"/self-service/login", form, header)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("status %d, want 403\n%s", resp.StatusCode, resp.Body)
			}
			if resp.Header.Get("Location") != "" || b.sessionCookie() != "" {
				t.Errorf("refused login still signed in: Location %q", resp.Header.Get("Location"))
			}
		})
	}
	t.Run("the untampered form works, twice from one page", func(t *testing.T) {
		h := startDevIdP(t, serve.DevIdPConfig{})
		b := h.browser()
		_, csrf := b.loginPage(idpCallback)
		// A wrong password first: the same form token stays good.
		if resp := b.post(idpPublicURL+"/self-service/login", loginForm("alice@example.com", "nope", csrf, idpCallback), nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d", resp.StatusCode)
		}
		h.clock.Advance(14 * time.Minute)
		resp := b.post(idpPublicURL+"/self-service/login", loginForm("alice@example.com", "wonderland", csrf, idpCallback), nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Errorf("status %d, want 303\n%s", resp.StatusCode, resp.Body)
		}
	})
}

func mustURL(raw string) *url.URL {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	return u
}

// A wrong password and an unknown email must be indistinguishable.
func TestDevIdPWrongCredentialsLookAlike(t *testing.T) {
	h := startDevIdP(t, serve.DevIdPConfig{})
	b := h.browser()
	_, csrf := b.loginPage(idpCallback)
	// The page keeps what was typed as email; that is the one difference.
	typed := regexp.MustCompile(`(name="email" type="email" autocomplete="username" required value=)"[^"]*"`)
	attempt := func(email, password string) idpResponse {
		resp := b.post(idpPublicURL+"/self-service/login", loginForm(email, password, csrf, idpCallback), nil)
		resp.Body = typed.ReplaceAllString(resp.Body, `$1"EMAIL"`)
		return resp
	}
	base := attempt("alice@example.com", "not-wonderland")
	if base.StatusCode != http.StatusUnauthorized || !strings.Contains(base.Body, "The email or password is wrong.") {
		t.Fatalf("wrong password: %d\n%s", base.StatusCode, base.Body)
	}
	for _, tc := range []struct{ description, email, password string }{
		{"unknown email", "mallory@example.com", "wonderland"},
		{"unknown email, no password", "mallory@example.com", ""},
		{"no password", "alice@example.com", ""},
		{"the right password with 72 bytes more", "alice@example.com", "wonderland" + strings.Repeat("x", 72)},
		{"another user's password", "alice@example.com", "builder"},
		{"no email", "", "wonderland"},
		{"markup as email", `"><script>alert(1)</script>`, "wonderland"},
	} {
		t.Run(tc.description, func(t *testing.T) {
			got := attempt(tc.email, tc.password)
			if got.StatusCode != base.StatusCode || got.Body != base.Body {
				t.Errorf("differs from a wrong password: %d\n%s\nwant %d\n%s", got.StatusCode, got.Body, base.StatusCode, base.Body)
			}
			if _, ok := setCookies(got.Response)["ory_kratos_session"]; ok || got.Header.Get("Location") != "" {
				t.Error("a refused login set a session cookie or redirected")
			}
			if strings.Contains(got.Body, "<script") {
				t.Error("the page echoes markup")
			}
			if strings.Contains(strings.ToLower(got.Body), "unknown") || strings.Contains(got.Body, "no such") {
				t.Error("the page says which part is wrong")
			}
		})
	}
	t.Run("emails are matched without case", func(t *testing.T) {
		if got := attempt("ALICE@example.COM", "wonderland"); got.StatusCode != http.StatusSeeOther {
			t.Errorf("status %d", got.StatusCode)
		}
	})
}

// cookieDomainTest is where the session cookie goes, as a browser's jar
// sees it.
type cookieDomainTest struct {
	description string
	domain      string
	secure      bool
	wantDomain  string // the Domain attribute
	reaches     []string
	missing     []string
}

var cookieDomainTests = []cookieDomainTest{
	{
		description: "host-only by default",
		reaches:     []string{idpPublicURL},
		missing:     []string{idpIssuer, idpPortal, "http://company.localhost/"},
	},
	{
		description: "the parent domain reaches the issuer on a sibling host",
		domain:      "company.localhost",
		wantDomain:  "company.localhost",
		reaches:     []string{idpPublicURL, idpIssuer, "http://company.localhost/"},
		missing:     []string{idpPortal, "http://evilcompany.localhost/"},
	},
	{
		description: "a leading dot is dropped, as browsers do",
		domain:      ".Company.Localhost",
		wantDomain:  "company.localhost",
		reaches:     []string{idpIssuer},
	},
	{
		description: "the IdP's own host as domain also covers its subdomains",
		domain:      "auth.company.localhost",
		wantDomain:  "auth.company.localhost",
		reaches:     []string{idpPublicURL, "http://x.auth.company.localhost/"},
		missing:     []string{idpIssuer},
	},
	{
		description: "Secure on request",
		secure:      true,
		// Browsers, and Go's jar, treat *.localhost as a secure origin,
		// so the Secure cookie still reaches the IdP over http there.
		reaches: []string{"https://auth.company.localhost/", idpPublicURL},
		missing: []string{idpIssuer},
	},
}

func TestDevIdPSessionCookie(t *testing.T) {
	for _, tc := range cookieDomainTests {
		t.Run(tc.description, func(t *testing.T) {
			h := startDevIdP(t, serve.DevIdPConfig{CookieDomain: tc.domain, Secure: tc.secure, SessionTTL: 8 * time.Hour})
			b := h.browser()
			if tc.secure {
				// The CSRF cookie is __Host- and Secure too; a jar would not
				// send it over http, so post the form with it by hand.
				page, csrf := b.loginPage(idpCallback)
				c := setCookies(page.Response)["__Host-ssoctl_idp_csrf"]
				if c == nil || !c.Secure || c.Domain != "" || c.Path != "/" {
					t.Fatalf("CSRF cookie %v", c)
				}
				req, _ := http.NewRequest(http.MethodPost, idpPublicURL+"/self-service/login",
					strings.NewReader(loginForm("alice@example.com", "wonderland", csrf, idpCallback).Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
				resp := b.do(req)
				checkSessionCookie(t, resp, tc, 8*time.Hour)
				b.jar.SetCookies(mustURL("https://auth.company.localhost/"), resp.Cookies())
			} else {
				resp := b.login("alice@example.com", "wonderland", idpCallback)
				checkSessionCookie(t, resp, tc, 8*time.Hour)
			}
			for _, u := range tc.reaches {
				if !strings.Contains(b.cookieHeader(u), "ory_kratos_session=") {
					t.Errorf("the cookie does not reach %s", u)
				}
			}
			for _, u := range tc.missing {
				if strings.Contains(b.cookieHeader(u), "ory_kratos_session=") {
					t.Errorf("the cookie reaches %s", u)
				}
			}
		})
	}
}

func checkSessionCookie(t *testing.T, resp idpResponse, tc cookieDomainTest, ttl time.Duration) {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d\n%s", resp.StatusCode, resp.Body)
	}
	var raw string
	for _, line := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(line, "ory_kratos_session=") {
			raw = line
		}
	}
	c, err := http.ParseSetCookie(raw)
	if err != nil {
		t.Fatalf("Set-Cookie %q: %v", raw, err)
	}
	switch {
	case !c.HttpOnly:
		t.Errorf("not HttpOnly: %s", raw)
	case c.SameSite != http.SameSiteLaxMode:
		t.Errorf("SameSite is not Lax: %s", raw)
	case c.Path != "/":
		t.Errorf("Path: %s", raw)
	case c.Secure != tc.secure:
		t.Errorf("Secure is %v: %s", c.Secure, raw)
	case c.Domain != tc.wantDomain:
		t.Errorf("Domain %q, want %q: %s", c.Domain, tc.wantDomain, raw)
	case c.MaxAge != int(ttl/time.Second):
		t.Errorf("Max-Age %d: %s", c.MaxAge, raw)
	case len(c.Value) != 43:
		t.Errorf("the cookie value is not 256 bits in base64url: %d characters", len(c.Value))
	}
}

func TestNewDevIdPRefuses(t *testing.T) {
	good := func() serve.DevIdPConfig {
		return serve.DevIdPConfig{PublicURL: idpPublicURL, Users: idpUsers(), PasswordCost: 4}
	}
	for _, tc := range []struct {
		description string
		change      func(*serve.DevIdPConfig)
		want        string
	}{
		{"a public suffix as cookie domain", func(c *serve.DevIdPConfig) { c.CookieDomain = "localhost" }, "public suffix"},
		{"an ICANN public suffix", func(c *serve.DevIdPConfig) {
			c.PublicURL = "https://auth.company.co.uk"
			c.CookieDomain = "co.uk"
		}, "public suffix"},
		{"a private public suffix", func(c *serve.DevIdPConfig) {
			c.PublicURL = "https://company.github.io"
			c.CookieDomain = "github.io"
		}, "public suffix"},
		{"a domain that does not cover the host", func(c *serve.DevIdPConfig) { c.CookieDomain = "company2.localhost" }, "does not cover"},
		{"a suffix that is not at a dot", func(c *serve.DevIdPConfig) { c.CookieDomain = "pany.localhost" }, "does not cover"},
		{"a subdomain of the host", func(c *serve.DevIdPConfig) { c.CookieDomain = "x.auth.company.localhost" }, "does not cover"},
		{"a domain on an IP address", func(c *serve.DevIdPConfig) {
			c.PublicURL = "http://127.0.0.1:4433"
			c.CookieDomain = "0.0.1"
		}, "IP address"},
		{"a domain with a port", func(c *serve.DevIdPConfig) { c.CookieDomain = "company.localhost:4433" }, "without a port"},
		{"an empty password", func(c *serve.DevIdPConfig) { c.Users[1].Password = nil }, "empty password"},
		{"a password bcrypt would cut", func(c *serve.DevIdPConfig) { c.Users[0].Password = bytes.Repeat([]byte("p"), 73) }, "72 bytes"},
		{"the same email twice", func(c *serve.DevIdPConfig) { c.Users[1].Email = "ALICE@example.com" }, "twice"},
		{"an email with a display name", func(c *serve.DevIdPConfig) { c.Users[0].Email = "Alice <alice@example.com>" }, "plain address"},
		{"no users", func(c *serve.DevIdPConfig) { c.Users = nil }, "no users"},
		{"traits that are not JSON", func(c *serve.DevIdPConfig) { c.Users[0].Traits = map[string]any{"f": func() {}} }, "traits"},
		{"metadata_admin that is not JSON", func(c *serve.DevIdPConfig) { c.Users[0].MetadataAdmin = map[string]any{"f": func() {}} }, "metadata_admin"},
		{"no public URL", func(c *serve.DevIdPConfig) { c.PublicURL = "" }, "no public URL"},
		{"a public URL with a path", func(c *serve.DevIdPConfig) { c.PublicURL = idpPublicURL + "/idp" }, "origin"},
		{"a public URL with userinfo", func(c *serve.DevIdPConfig) { c.PublicURL = "http://admin:hunter2@auth.company.localhost" }, "user and password"},
		{"a public URL in ftp", func(c *serve.DevIdPConfig) { c.PublicURL = "ftp://auth.company.localhost" }, "scheme"},
		{"a session shorter than a second", func(c *serve.DevIdPConfig) { c.SessionTTL = time.Millisecond }, "too short"},
		{"a __Host- cookie over http", func(c *serve.DevIdPConfig) { c.CookieName = "__Host-session" }, "__Host-"},
		{"a cookie name with a space", func(c *serve.DevIdPConfig) { c.CookieName = "my session" }, "cookie name"},
	} {
		t.Run(tc.description, func(t *testing.T) {
			cfg := good()
			tc.change(&cfg)
			_, err := serve.NewDevIdP(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewDevIdP = %v, want an error about %q", err, tc.want)
			}
			if err != nil && (strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "wonderland")) {
				t.Errorf("the error holds a password: %v", err)
			}
		})
	}
	if _, err := serve.NewDevIdP(good()); err != nil {
		t.Errorf("the good config: %v", err)
	}
}

// The dev IdP's JSON must decode with client-go into every field the roles
// use; a shape change fails here.
func TestDevIdPJSONDecodesWithClientGo(t *testing.T) {
	h := startDevIdP(t, serve.DevIdPConfig{})
	b := h.browser()
	b.mustLogin()
	token := b.sessionCookie()

	whoami := rawGet(t, h, idpPublicURL+"/sessions/whoami", http.Header{"X-Session-Token": {token}})
	if whoami.StatusCode != http.StatusOK {
		t.Fatalf("whoami: %d %s", whoami.StatusCode, whoami.Body)
	}
	var s client.Session
	if err := json.Unmarshal([]byte(whoami.Body), &s); err != nil {
		t.Fatal(err)
	}
	id := s.GetIdentity()
	traits, _ := id.Traits.(map[string]any)
	for _, c := range []struct {
		field string
		ok    bool
	}{
		{"id is a UUID", len(s.Id) == 36},
		{"active", s.GetActive()},
		{"expires_at", s.GetExpiresAt().Equal(idpEpoch.Add(24 * time.Hour))},
		{"authenticated_at", s.GetAuthenticatedAt().Equal(idpEpoch)},
		{"issued_at", s.GetIssuedAt().Equal(idpEpoch)},
		{"authenticator_assurance_level", s.GetAuthenticatorAssuranceLevel() == client.AUTHENTICATORASSURANCELEVEL_AAL1},
		{"authentication_methods", len(s.AuthenticationMethods) == 1 && s.AuthenticationMethods[0].GetMethod() == "password"},
		{"identity.id", len(id.Id) == 36 && id.Id == whoami.Header.Get("X-Kratos-Authenticated-Identity-Id")},
		{"identity.schema_id", id.SchemaId == "default"},
		{"identity.state", id.GetState() == "active"},
		{"identity.traits.email", traits["email"] == "alice@example.com"},
		{"identity.traits has no role", traits["role"] == nil},
		{"identity.metadata_public.role", id.MetadataPublic["role"] == "admin"},
		{"no unknown fields", len(s.AdditionalProperties) == 0 && len(id.AdditionalProperties) == 0},
	} {
		if !c.ok {
			t.Errorf("%s: wrong in %s", c.field, whoami.Body)
		}
	}
	checkGolden(t, "devidp_whoami.json", strings.ReplaceAll(whoami.Body, s.Id, "SESSION-ID"))

	admin := rawGet(t, h, idpAdminURL+"/admin/sessions/"+s.Id+"?expand=Identity", nil)
	if admin.Body != whoami.Body {
		t.Errorf("admin with expand=Identity differs from whoami:\n%s\n%s", admin.Body, whoami.Body)
	}
	// metadata_admin is for the admin API's identity only, as in Kratos:
	// never in a session document, whoami's or the admin API's.
	if strings.Contains(whoami.Body, "metadata_admin") || strings.Contains(whoami.Body, "wiki:admin") {
		t.Errorf("whoami carries metadata_admin: %s", whoami.Body)
	}
	identity := rawGet(t, h, idpAdminURL+"/admin/identities/"+id.Id, nil)
	var full client.Identity
	if err := json.Unmarshal([]byte(identity.Body), &full); err != nil || identity.StatusCode != http.StatusOK {
		t.Fatalf("admin identity: %d %v %s", identity.StatusCode, err, identity.Body)
	}
	perms, _ := full.MetadataAdmin["permissions"].(map[string]any)
	if full.Id != id.Id || fmt.Sprint(perms["wiki"]) != "[wiki:admin]" || full.MetadataPublic["role"] != "admin" || len(full.AdditionalProperties) > 0 {
		t.Errorf("admin identity: %s", identity.Body)
	}
	for _, p := range []string{"/admin/identities/6f1c9d3e-2b7a-4c1d-9e8f-0a1b2c3d4e5f", "/admin/identities/..%2Fsessions", "/admin/identities/"} {
		if r := rawGet(t, h, idpAdminURL+p, nil); r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, r.StatusCode)
		}
	}
	if r := rawGet(t, h, idpPublicURL+"/admin/identities/"+id.Id, nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("the public API answers the admin identity: %d", r.StatusCode)
	}
	bare := rawGet(t, h, idpAdminURL+"/admin/sessions/"+s.Id, nil)
	var noIdentity client.Session
	if err := json.Unmarshal([]byte(bare.Body), &noIdentity); err != nil || noIdentity.Identity != nil || noIdentity.Id != s.Id {
		t.Errorf("admin without expand: %v %s", err, bare.Body)
	}

	// The error envelope decodes as Kratos's errorGeneric.
	denied := rawGet(t, h, idpPublicURL+"/sessions/whoami", nil)
	var e client.ErrorGeneric
	if err := json.Unmarshal([]byte(denied.Body), &e); err != nil || denied.StatusCode != http.StatusUnauthorized || e.Error.GetId() != "session_inactive" {
		t.Errorf("whoami without a session: %d %v %s", denied.StatusCode, err, denied.Body)
	}
	checkGolden(t, "devidp_whoami_401.json", denied.Body)
}

func rawGet(t *testing.T, h *idpHarness, rawURL string, header http.Header) idpResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	b := h.browser()
	return b.do(req)
}

// checkGolden compares got with testdata/name. It rewrites the file when
// the package's -update flag is set (if some test file defines one) or
// when the file does not exist yet.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	// Members in a canonical (sorted) order: JSON objects are unordered,
	// and Kratos's own order is its structs'.
	var v any
	if err := json.Unmarshal([]byte(got), &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	canonical, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	pretty := bytes.NewBuffer(append(canonical, '\n'))
	want, err := os.ReadFile(path)
	if f := flag.Lookup("update"); (f != nil && f.Value.String() == "true") || errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(want), bytes.TrimSpace(pretty.Bytes())) {
		t.Errorf("%s changed; the dev IdP's JSON must keep Kratos's shape.\ngot:\n%s\nwant:\n%s", path, pretty.Bytes(), want)
	}
}

func TestDevIdPWhoamiRefuses(t *testing.T) {
	h := startDevIdP(t, serve.DevIdPConfig{})
	b := h.browser()
	b.mustLogin()
	good := b.sessionCookie()
	for _, tc := range []struct {
		description string
		header      http.Header
	}{
		{"nothing", nil},
		{"a forged cookie", http.Header{"Cookie": {"ory_kratos_session=" + strings.Repeat("A", 43)}}},
		{"a cookie of the wrong length", http.Header{"Cookie": {"ory_kratos_session=" + good[:42]}}},
		{"a cookie one character off", http.Header{"Cookie": {"ory_kratos_session=" + good[:42] + flip(good[42])}}},
		{"the right value under another name", http.Header{"Cookie": {"accounts_session=" + good}}},
		{"a forged session token", http.Header{"X-Session-Token": {strings.Repeat("B", 43)}}},
		{"a forged token beats a good cookie: the token header is read first", http.Header{"X-Session-Token": {"x"}, "Cookie": {"ory_kratos_session=" + good}}},
		{"a basic Authorization header", http.Header{"Authorization": {"Basic " + good}}},
		{"a bearer of nothing", http.Header{"Authorization": {"Bearer "}}},
		{"the session id instead of the token", http.Header{"X-Session-Token": {sessionID(t, h, good)}}},
	} {
		t.Run(tc.description, func(t *testing.T) {
			resp := rawGet(t, h, idpPublicURL+"/sessions/whoami", tc.header)
			var e struct {
				Error struct {
					ID      string `json:"id"`
					Code    int    `json:"code"`
					Status  string `json:"status"`
					Reason  string `json:"reason"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal([]byte(resp.Body), &e); err != nil {
				t.Fatalf("%v: %s", err, resp.Body)
			}
			if resp.StatusCode != 401 || e.Error.ID != "session_inactive" || e.Error.Code != 401 || e.Error.Status != "Unauthorized" || e.Error.Reason == "" || e.Error.Message == "" {
				t.Errorf("%d %s", resp.StatusCode, resp.Body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	for _, tc := range []struct {
		description string
		header      http.Header
	}{
		{"Authorization bearer", http.Header{"Authorization": {"Bearer " + good}}},
		{"a stale cookie before the good one", http.Header{"Cookie": {"ory_kratos_session=" + strings.Repeat("A", 43) + "; ory_kratos_session=" + good}}},
	} {
		t.Run(tc.description, func(t *testing.T) {
			if resp := rawGet(t, h, idpPublicURL+"/sessions/whoami", tc.header); resp.StatusCode != http.StatusOK {
				t.Errorf("%d %s", resp.StatusCode, resp.Body)
			}
		})
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func sessionID(t *testing.T, h *idpHarness, token string) string {
	t.Helper()
	s, err := h.kratos.Whoami(context.Background(), "", token)
	if err != nil {
		t.Fatal(err)
	}
	return s.ID
}

// Path-like session ids on the admin API are 404, never a lookup, a
// redirect or a panic. The requests go straight to the handler, so no
// client cleans the paths first.
func TestDevIdPAdminPathLikeIDs(t *testing.T) {
	h := startDevIdP(t, serve.DevIdPConfig{})
	b := h.browser()
	b.mustLogin()
	sid := sessionID(t, h, b.sessionCookie())
	for _, target := range []string{
		"/admin/sessions/",
		"/admin/sessions/..",
		"/admin/sessions/../../etc/passwd",
		"/admin/sessions/..%2F..%2Fetc%2Fpasswd",
		"/admin/sessions/%2e%2e",
		"/admin/sessions/" + sid + "/",
		"/admin/sessions/" + sid + "/..",
		"/admin/sessions/" + sid + "%00",
		"/admin/sessions/" + sid[:35] + "%2F",
		"/admin/sessions/" + strings.Replace(sid, "-", "%2D", 1),
		"/admin/sessions/" + strings.Repeat("a", 8192),
		"/admin/sessions//" + sid,
		"/admin/sessions/{id}",
		"/admin/sessions/6f1c9d3e-2b7a-4c1d-9e8f-0a1b2c3d4e5f",
		"/admin/identities",
		"/admin",
	} {
		for _, method := range []string{http.MethodGet, http.MethodDelete} {
			t.Run(method+" "+target[:min(len(target), 60)], func(t *testing.T) {
				rec := httptest.NewRecorder()
				h.idp.Admin().ServeHTTP(rec, httptest.NewRequest(method, target, nil))
				if rec.Code != http.StatusNotFound || rec.Header().Get("Location") != "" {
					t.Errorf("%d Location %q: %s", rec.Code, rec.Header().Get("Location"), rec.Body)
				}
			})
		}
	}
	if _, err := h.kratos.Whoami(context.Background(), "", b.sessionCookie()); err != nil {
		t.Errorf("the session did not survive: %v", err)
	}
}

func TestDevIdPAdminAPI(t *testing.T) {
	h := startDevIdP(t, serve.DevIdPConfig{})
	b := h.browser()
	b.mustLogin()
	sid := sessionID(t, h, b.sessionCookie())
	serveAdmin := func(method, target string, handler http.Handler) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
		return rec
	}
	steps := []struct {
		description string
		method      string
		target      string
		handler     http.Handler
		wantStatus  int
		wantBody    string
	}{
		{"the public API has no admin routes", "GET", "/admin/sessions/" + sid, h.idp.Public(), 404, `"code":404`},
		{"the admin API has no whoami", "GET", "/sessions/whoami", h.idp.Admin(), 404, ""},
		{"an upper-case id is the same session", "GET", "/admin/sessions/" + strings.ToUpper(sid), h.idp.Admin(), 200, `"active":true`},
		{"an unknown expand is a bad request", "GET", "/admin/sessions/" + sid + "?expand=credentials", h.idp.Admin(), 400, `"code":400`},
		{"expand=Devices is accepted", "GET", "/admin/sessions/" + sid + "?expand=Devices", h.idp.Admin(), 200, `"id":"` + sid + `"`},
		{"POST is not allowed", "POST", "/admin/sessions/" + sid, h.idp.Admin(), 405, ""},
		{"revoke", "DELETE", "/admin/sessions/" + sid, h.idp.Admin(), 204, ""},
		{"revoke again: still 204, as Kratos", "DELETE", "/admin/sessions/" + sid, h.idp.Admin(), 204, ""},
		{"a revoked session is shown inactive", "GET", "/admin/sessions/" + sid, h.idp.Admin(), 200, `"active":false`},
		{"health on admin", "GET", "/health/ready", h.idp.Admin(), 200, `{"status":"ok"}`},
		{"alive on admin", "GET", "/health/alive", h.idp.Admin(), 200, `{"status":"ok"}`},
		{"health on public", "GET", "/health/ready", h.idp.Public(), 200, `{"status":"ok"}`},
		{"alive on public", "GET", "/health/alive", h.idp.Public(), 200, `{"status":"ok"}`},
	}
	for _, s := range steps {
		rec := serveAdmin(s.method, s.target, s.handler)
		if rec.Code != s.wantStatus || !strings.Contains(rec.Body.String(), s.wantBody) {
			t.Errorf("%s: %d %s, want %d with %s", s.description, rec.Code, rec.Body, s.wantStatus, s.wantBody)
		}
	}
}

func TestDevIdPAdminOnPublic(t *testing.T) {
	h := startDevIdP(t, serve.DevIdPConfig{AdminOnPublic: true})
	b := h.browser()
	b.mustLogin()
	sid := sessionID(t, h, b.sessionCookie())
	k, err := serve.NewKratos(idpPublicURL, idpPublicURL, h.net.client(), serve.WithKratosClock(h.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	if s, err := k.Session(context.Background(), sid); err != nil || s.Email != "alice@example.com" {
		t.Errorf("Session through the public listener: %v", err)
	}
	if err := k.Revoke(context.Background(), sid); err != nil {
		t.Errorf("Revoke: %v", err)
	}
	if _, err := k.Whoami(context.Background(), "", b.sessionCookie()); !errors.Is(err, serve.ErrNoSession) {
		t.Errorf("Whoami after revoke: %v", err)
	}
}

func TestDevIdPBrowserFlow(t *testing.T) {
	h := startDevIdP(t, serve.DevIdPConfig{})
	b := h.browser()

	page, csrf := b.loginPage(idpCallback)
	for _, want := range []string{
		`<html lang="en">`, `<label for="email">`, `id="email"`, `type="email"`, `autocomplete="username"`,
		`<label for="password">`, `id="password"`, `type="password"`, `autocomplete="current-password"`,
		`name="return_to" value="` + strings.ReplaceAll(idpCallback, "&", "&amp;") + `"`,
		"company", "accounts.company.localhost:8080",
	} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("the login page lacks %s", want)
		}
	}
	if strings.Contains(page.Body, "<script") {
		t.Error("the login page has a script")
	}
	if csrf == "" {
		t.Fatal("no form token")
	}
	if strings.Count(page.Body, "<form") != 1 {
		t.Error("the login page must hold exactly one form")
	}

	resp := b.post(idpPublicURL+"/self-service/login", loginForm("alice@example.com", "wonderland", csrf, idpCallback), nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != idpCallback {
		t.Fatalf("login: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if c := setCookies(resp.Response)["ssoctl_idp_csrf"]; c == nil || c.MaxAge >= 0 {
		t.Errorf("the form cookie is not cleared after login: %v", c)
	}

	// Signed in: the login page sends the browser straight back.
	again := b.get(idpPublicURL + chain.KratosLoginPath + "?return_to=" + url.QueryEscape(idpPortal+"/"))
	if again.StatusCode != http.StatusSeeOther || again.Header.Get("Location") != idpPortal+"/" {
		t.Errorf("login page with a session: %d %q", again.StatusCode, again.Header.Get("Location"))
	}
	home := b.get(idpPublicURL + "/")
	if home.StatusCode != 200 || !strings.Contains(home.Body, "Signed in as alice@example.com (admin)") || strings.Contains(home.Body, "<form") {
		t.Errorf("home: %d\n%s", home.StatusCode, home.Body)
	}

	// Logout: cookie cleared, session revoked, on to return_to.
	sid := sessionID(t, h, b.sessionCookie())
	token := b.sessionCookie()
	out := b.get(idpPublicURL + "/self-service/logout/browser?return_to=" + url.QueryEscape(idpIssuer+"/"))
	if out.StatusCode != http.StatusSeeOther || out.Header.Get("Location") != idpIssuer+"/" {
		t.Errorf("logout: %d %q", out.StatusCode, out.Header.Get("Location"))
	}
	if c := setCookies(out.Response)["ory_kratos_session"]; c == nil || c.MaxAge >= 0 {
		t.Errorf("logout does not clear the cookie: %v", c)
	}
	if _, err := h.kratos.Whoami(context.Background(), "", token); !errors.Is(err, serve.ErrNoSession) {
		t.Errorf("the token still works after logout: %v", err)
	}
	if _, err := h.kratos.Session(context.Background(), sid); !errors.Is(err, serve.ErrNoSession) {
		t.Errorf("the session is still active by id: %v", err)
	}
	if page, _ := b.loginPage(idpCallback); page.StatusCode != http.StatusOK {
		t.Errorf("login page after logout: %d", page.StatusCode)
	}
}

func TestDevIdPSecurityHeaders(t *testing.T) {
	h := startDevIdP(t, serve.DevIdPConfig{})
	b := h.browser()
	for _, tc := range []struct {
		description string
		get         func() idpResponse
		formAction  string
	}{
		{"login page", func() idpResponse { p, _ := b.loginPage(idpCallback); return p }, "form-action 'self' " + idpIssuer + ";"},
		{"login page without return_to", func() idpResponse { p, _ := b.loginPage(""); return p }, "form-action 'self';"},
		{"refused return_to", func() idpResponse { p, _ := b.loginPage("https://evil.example/"); return p }, "form-action 'self';"},
		{"wrong password", func() idpResponse { return b.login("alice@example.com", "x", idpPortal+"/") }, "form-action 'self' " + idpPortal + ";"},
		{"whoami", func() idpResponse { return b.get(idpPublicURL + "/sessions/whoami") }, ""},
		{"health", func() idpResponse { return b.get(idpPublicURL + "/health/ready") }, ""},
		{"not found", func() idpResponse { return b.get(idpPublicURL + "/nope") }, ""},
		{"home", func() idpResponse { return b.get(idpPublicURL + "/") }, ""},
	} {
		t.Run(tc.description, func(t *testing.T) {
			resp := tc.get()
			csp := resp.Header.Get("Content-Security-Policy")
			for _, c := range []struct{ header, want string }{
				{"Cache-Control", "no-store"},
				{"X-Frame-Options", "DENY"},
				{"Referrer-Policy", "no-referrer"},
				{"X-Content-Type-Options", "nosniff"},
			} {
				if got := resp.Header.Get(c.header); got != c.want {
					t.Errorf("%s: %q, want %q", c.header, got, c.want)
				}
			}
			for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", tc.formAction} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe") {
				t.Errorf("CSP %q allows unsafe sources", csp)
			}
		})
	}
}

// The inline style's hash in the CSP must match the style, or browsers
// drop it.
func TestDevIdPStyleHashMatches(t *testing.T) {
	h := startDevIdP(t, serve.DevIdPConfig{})
	page, _ := h.browser().loginPage("")
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatal("no style")
	}
	want := "'" + cspHash(m[1]) + "'"
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "style-src "+want) {
		t.Errorf("CSP %q does not allow the page's style (%s)", csp, want)
	}
}

func TestDevIdPSessionLimit(t *testing.T) {
	h := startDevIdP(t, serve.DevIdPConfig{MaxSessions: 2, SessionTTL: time.Hour})
	ctx := context.Background()
	var tokens []string
	for i := range 2 {
		b := h.browser()
		if resp := b.login("alice@example.com", "wonderland", ""); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("login %d: %d", i, resp.StatusCode)
		}
		tokens = append(tokens, b.sessionCookie())
	}
	full := h.browser().login("alice@example.com", "wonderland", "")
	if full.StatusCode != http.StatusServiceUnavailable || full.Header.Get("Retry-After") == "" {
		t.Errorf("third login: %d, want 503 with Retry-After", full.StatusCode)
	}
	if _, ok := setCookies(full.Response)["ory_kratos_session"]; ok {
		t.Error("a refused login set the session cookie")
	}
	// A revoked session makes room.
	if err := h.kratos.Revoke(ctx, sessionID(t, h, tokens[0])); err != nil {
		t.Fatal(err)
	}
	if resp := h.browser().login("alice@example.com", "wonderland", ""); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("login after a revocation: %d", resp.StatusCode)
	}
	// Expired sessions make room.
	h.clock.Advance(time.Hour)
	if resp := h.browser().login("alice@example.com", "wonderland", ""); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("login after expiry: %d", resp.StatusCode)
	}
	if _, err := h.kratos.Whoami(ctx, "", tokens[1]); !errors.Is(err, serve.ErrNoSession) {
		t.Errorf("an expired session: %v", err)
	}
}

func TestDevIdPConcurrentLogins(t *testing.T) {
	h := startDevIdP(t, serve.DevIdPConfig{CookieDomain: "company.localhost"})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := h.browser()
			resp := b.login("alice@example.com", "wonderland", idpCallback)
			if resp.StatusCode != http.StatusSeeOther {
				errs <- fmt.Errorf("login %d: %d", i, resp.StatusCode)
				return
			}
			s, err := h.kratos.Whoami(ctx, b.cookieHeader(idpIssuer), "")
			if err != nil {
				errs <- err
				return
			}
			if i%2 == 0 {
				if err := h.kratos.Revoke(ctx, s.ID); err != nil {
					errs <- err
				}
				if _, err := h.kratos.Session(ctx, s.ID); !errors.Is(err, serve.ErrNoSession) {
					errs <- fmt.Errorf("after revoke: %v", err)
				}
			} else if _, err := h.kratos.Session(ctx, s.ID); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestNewDevIdPFromChain(t *testing.T) {
	c, err := chain.Parse("chain.yaml", []byte(`version: 1
name: company
dev: true
idp:
  kind: dev
  public_url: http://auth.company.localhost:4433
  admin_url: http://auth.company.localhost:4434
  users:
    - {email: alice@example.com, password: wonderland, role: admin}
    - {email: bob@example.com, password: {env: BOB_PASSWORD}}
issuer:
  url: http://accounts.company.localhost:8080
token:
  alg: HS256
receivers:
  - name: portal
    url: http://portal.company2.localhost:8081
return_to:
  allow:
    - http://portal.company2.localhost:8081
`))
	if err != nil {
		t.Fatal(err)
	}
	env := serve.Env{LookupEnv: func(k string) (string, bool) {
		return map[string]string{"BOB_PASSWORD": "builder"}[k], k == "BOB_PASSWORD"
	}}
	idp, err := serve.NewDevIdPFromChain(c, env)
	if err != nil {
		t.Fatal(err)
	}
	if got := idp.CookieDomain(); got != "company.localhost" {
		t.Errorf("cookie domain %q, want company.localhost (shared with the issuer)", got)
	}
	for _, tc := range []struct {
		returnTo string
		status   int
	}{
		{"http://accounts.company.localhost:8080/callback?state=x", 200}, // the issuer, though not in return_to.allow
		{"http://portal.company2.localhost:8081/", 200},
		{"http://dashboard.company3.localhost:8082/", 400},
		{"https://evil.example/", 400},
	} {
		rec := httptest.NewRecorder()
		idp.Public().ServeHTTP(rec, httptest.NewRequest("GET", "http://auth.company.localhost:4433"+chain.KratosLoginPath+"?return_to="+url.QueryEscape(tc.returnTo), nil))
		if rec.Code != tc.status {
			t.Errorf("return_to %s: %d, want %d", tc.returnTo, rec.Code, tc.status)
		}
	}
	rec := httptest.NewRecorder()
	idp.Public().ServeHTTP(rec, httptest.NewRequest("GET", "/admin/sessions/6f1c9d3e-2b7a-4c1d-9e8f-0a1b2c3d4e5f", nil))
	if rec.Code != 404 || strings.Contains(rec.Body.String(), "Unable") == false {
		t.Errorf("admin on a separate admin_url is not served on public: %d", rec.Code)
	}

	_, err = serve.NewDevIdPFromChain(c, serve.Env{LookupEnv: func(string) (string, bool) { return "", false }})
	if err == nil || !strings.Contains(err.Error(), "BOB_PASSWORD") {
		t.Errorf("an unset password env: %v", err)
	}
}

func TestDevIdPMalformedLoginPosts(t *testing.T) {
	h := startDevIdP(t, serve.DevIdPConfig{})
	for _, tc := range []struct {
		description string
		method      string
		contentType string
		body        string
		want        int
	}{
		{"GET on the form target", http.MethodGet, "", "", http.StatusMethodNotAllowed},
		{"PUT on the form target", http.MethodPut, "application/x-www-form-urlencoded", "email=a", http.StatusMethodNotAllowed},
		{"a body over 16 KiB", http.MethodPost, "application/x-www-form-urlencoded", "email=" + strings.Repeat("a", 20<<10), http.StatusBadRequest},
		{"bad form encoding", http.MethodPost, "application/x-www-form-urlencoded", "email=%zz", http.StatusBadRequest},
		{"JSON instead of a form", http.MethodPost, "application/json", `{"email":"alice@example.com","password":"wonderland"}`, http.StatusForbidden},
	} {
		t.Run(tc.description, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, idpPublicURL+"/self-service/login", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			resp := h.browser().do(req)
			if resp.StatusCode != tc.want {
				t.Errorf("%d, want %d\n%s", resp.StatusCode, tc.want, resp.Body)
			}
			if _, ok := setCookies(resp.Response)["ory_kratos_session"]; ok {
				t.Error("sets a session cookie")
			}
		})
	}
}
