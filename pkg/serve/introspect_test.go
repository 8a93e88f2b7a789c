package serve_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/browsertest"
	"github.com/ssoctl/ssoctl/internal/testenv"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve"
)

// Secrets of the shared-cookie chain: none may show in a log line or error.
const (
	wikiSecret = "wiki-secret-0123456789abcdef-0123456789"
	blogSecret = "blog-secret-0123456789abcdef-0123456789"
)

// sharedCookieChain is seed 002: the issuer's cookie on the parent domain
// company.localhost, read by the wiki and the blog on hosts under it,
// which ask the issuer about it at /sso/introspect. Alice's identity
// carries her own wiki permissions in metadata_admin, which only an admin
// sets; the blog's come from the file.
const sharedCookieChain = `version: 1
name: company
dev: true
idp:
  kind: dev
  public_url: http://auth.company.localhost:4433
  admin_url: http://auth.company.localhost:4434
  users:
    - {email: alice@example.com, password: wonderland, role: admin, metadata_admin: {permissions: {wiki: [wiki:read, wiki:admin]}}}
issuer:
  url: http://accounts.company.localhost:8080
  cookie: {name: accounts_session, ttl: 8h, domain: company.localhost}
token: {alg: HS256, ttl: 30s}
receivers:
  - {name: wiki, url: "http://wiki.company.localhost:8090", shared_cookie: true}
return_to:
  allow: ["http://*.company.localhost:8080"]
apps:
  - {name: wiki, key: wiki-app, secret: "` + wikiSecret + `", permissions: [wiki:read]}
  - {name: blog, key: blog-app, secret: "` + blogSecret + `", permissions: [blog:read, blog:comment]}
`

// startLoggedChain is startChain with the roles' logs kept.
func startLoggedChain(t *testing.T, yaml string) (*runningChain, *testenv.Buffer) {
	t.Helper()
	c, err := chain.Parse("chain.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	logs := &testenv.Buffer{}
	rc := &runningChain{t: t, net: browsertest.NewNet(), clock: &clock{now: time.Now().UTC().Truncate(time.Second)}, chain: c}
	env := serve.Env{HTTPClient: rc.net.Client(), Now: rc.clock.Now, Logger: slog.New(slog.NewJSONHandler(logs, nil))}
	idp, err := serve.NewDevIdPFromChain(c, env)
	if err != nil {
		t.Fatal(err)
	}
	rc.idp = idp
	rc.net.Serve(t, idpPublic, idp.Public())
	rc.net.Serve(t, idpAdmin, idp.Admin())
	rc.roles, err = serve.NewRoles(c, env, serve.RoleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rc.net.Serve(t, issuerURL, rc.roles.Issuer)
	return rc, logs
}

// issuerCookie signs alice in and returns the issuer's cookie as the wiki,
// on the shared parent domain, receives it.
func issuerCookie(t *testing.T, rc *runningChain) string {
	t.Helper()
	return issuerCookieOf(t, rc, "alice@example.com")
}

// issuerCookieOf is issuerCookie for any user of sharedCookieChain.
func issuerCookieOf(t *testing.T, rc *runningChain, email string) string {
	t.Helper()
	b := browsertest.New(rc.t, rc.net)
	b.Email, b.Password = email, "wonderland"
	if p := b.Visit(loginURL(issuerURL + "/")); p.Status != http.StatusOK {
		t.Fatalf("login ended with %d at %s", p.Status, p.URL)
	}
	u, _ := url.Parse("http://wiki.company.localhost:8090/")
	for _, c := range b.Jar().Cookies(u) {
		if c.Name == "accounts_session" {
			return c.Value
		}
	}
	t.Fatal("the wiki's host did not receive the issuer's cookie")
	return ""
}

type introspectCall struct {
	method      string
	contentType string
	basic       []string // key, secret; nil: no Authorization header
	body        string
}

func introspect(t *testing.T, rc *runningChain, c introspectCall) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(cmpOr(c.method, http.MethodPost), issuerURL+chain.IntrospectPath, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", cmpOr(c.contentType, "application/json"))
	if c.basic != nil {
		req.SetBasicAuth(c.basic[0], c.basic[1])
	}
	resp, err := rc.net.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func cookieBody(cookie string) string {
	b, _ := json.Marshal(map[string]string{"cookie": cookie})
	return string(b)
}

func TestIntrospectAnswersAppsWithIdentityAndPermissions(t *testing.T) {
	rc, logs := startLoggedChain(t, sharedCookieChain)
	cookie := issuerCookie(t, rc)
	bodyCreds, _ := json.Marshal(map[string]string{"key": "blog-app", "secret": blogSecret, "cookie": cookie})
	tests := []struct {
		name  string
		call  introspectCall
		perms []string
	}{
		{"basic auth, permissions from the identity's metadata_admin", introspectCall{basic: []string{"wiki-app", wikiSecret}, body: cookieBody(cookie)}, []string{"wiki:read", "wiki:admin"}},
		{"JSON credentials, permissions from the chain file", introspectCall{body: string(bodyCreds), contentType: "application/json; charset=utf-8"}, []string{"blog:read", "blog:comment"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := introspect(t, rc, tt.call)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
			var got serve.IntrospectResponse
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if !got.Active || got.Email != "alice@example.com" || got.Role != "admin" || got.Subject == "" || got.SessionID == "" {
				t.Errorf("answer %s, want alice's active session", body)
			}
			if want := rc.clock.Now().Add(8 * time.Hour); !got.ExpiresAt.Equal(want) {
				t.Errorf("expires_at %s, want %s", got.ExpiresAt, want)
			}
			if strings.Join(got.Permissions, " ") != strings.Join(tt.perms, " ") {
				t.Errorf("permissions %q, want %q", got.Permissions, tt.perms)
			}
		})
	}
	if strings.Contains(logs.String(), wikiSecret) || strings.Contains(logs.String(), blogSecret) {
		t.Errorf("an app secret is in the logs:\n%s", logs)
	}
}

// permissionUsers try every way of getting more than the chain file
// grants: their own traits, which Kratos lets users edit, and malformed
// metadata.
const permissionUsers = `
    - {email: mallory@example.com, password: wonderland, traits: {permissions: {wiki: [wiki:admin], blog: []}}}
    - {email: dana@example.com, password: wonderland, metadata_admin: {permissions: {wiki: "wiki:admin"}}}
    - {email: erin@example.com, password: wonderland, metadata_admin: {permissions: {wiki: [wiki:admin, 7]}}}
    - {email: frank@example.com, password: wonderland, metadata_admin: {permissions: {wiki: [wiki:admin, ""]}}}
    - {email: grace@example.com, password: wonderland, metadata_admin: {permissions: {wiki: []}}}
    - {email: heidi@example.com, password: wonderland, metadata_admin: {permissions: [wiki:admin]}}
`

// Only metadata_admin.permissions.<app>, as a list of non-empty strings,
// replaces the chain file's permissions; traits never do, and anything
// malformed falls back to the chain file's, never more.
func TestIntrospectPermissionsComeFromAdminMetadataOnly(t *testing.T) {
	yaml := strings.Replace(sharedCookieChain, "wiki:admin]}}}\n", "wiki:admin]}}}"+permissionUsers, 1)
	if yaml == sharedCookieChain {
		t.Fatal("no place for the users in sharedCookieChain")
	}
	rc, logs := startLoggedChain(t, yaml)
	wiki, blog := []string{"wiki-app", wikiSecret}, []string{"blog-app", blogSecret}
	tests := []struct {
		description string
		email       string
		app         []string
		perms       []string
	}{
		{description: "traits.permissions grant nothing: the user wrote them", email: "mallory@example.com", app: wiki, perms: []string{"wiki:read"}},
		{description: "traits.permissions take nothing away either", email: "mallory@example.com", app: blog, perms: []string{"blog:read", "blog:comment"}},
		{description: "a string, not a list: the chain file's", email: "dana@example.com", app: wiki, perms: []string{"wiki:read"}},
		{description: "a list with a number: the chain file's", email: "erin@example.com", app: wiki, perms: []string{"wiki:read"}},
		{description: "a list with an empty string: the chain file's", email: "frank@example.com", app: wiki, perms: []string{"wiki:read"}},
		{description: "permissions a list, not a map by app: the chain file's", email: "heidi@example.com", app: wiki, perms: []string{"wiki:read"}},
		{description: "an empty list grants nothing", email: "grace@example.com", app: wiki, perms: []string{}},
		{description: "metadata_admin for another app: the chain file's", email: "alice@example.com", app: blog, perms: []string{"blog:read", "blog:comment"}},
		{description: "metadata_admin replaces the chain file's", email: "alice@example.com", app: wiki, perms: []string{"wiki:read", "wiki:admin"}},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			resp, body := introspect(t, rc, introspectCall{basic: tt.app, body: cookieBody(issuerCookieOf(t, rc, tt.email))})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var got serve.IntrospectResponse
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if !got.Active || got.Email != tt.email {
				t.Errorf("answer %s, want %s's active session", body, tt.email)
			}
			if got.Permissions == nil || strings.Join(got.Permissions, " ") != strings.Join(tt.perms, " ") {
				t.Errorf("permissions %q, want %q", got.Permissions, tt.perms)
			}
		})
	}
	if strings.Contains(logs.String(), "wiki:admin") {
		t.Errorf("an identity's metadata is in the logs:\n%s", logs)
	}
}

func TestIntrospectRefusesWrongCredentialsAlike(t *testing.T) {
	rc, logs := startLoggedChain(t, sharedCookieChain)
	cookie := issuerCookie(t, rc)
	tests := []struct {
		name    string
		call    introspectCall
		logsApp bool // the log line names the app: the key was one
	}{
		{"wrong secret", introspectCall{basic: []string{"wiki-app", "not-" + wikiSecret}, body: cookieBody(cookie)}, true},
		{"another app's secret", introspectCall{basic: []string{"wiki-app", blogSecret}, body: cookieBody(cookie)}, true},
		{"a secret's prefix", introspectCall{basic: []string{"wiki-app", wikiSecret[:10]}, body: cookieBody(cookie)}, true},
		{"unknown key", introspectCall{basic: []string{"mallory", wikiSecret}, body: cookieBody(cookie)}, false},
		{"empty key and secret", introspectCall{basic: []string{"", ""}, body: cookieBody(cookie)}, false},
		{"no credentials", introspectCall{body: cookieBody(cookie)}, false},
		{"wrong secret in the body", introspectCall{body: `{"key":"wiki-app","secret":"nope","cookie":"x"}`}, true},
	}
	var first string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(logs.String())
			resp, body := introspect(t, rc, tt.call)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401: %s", resp.StatusCode, body)
			}
			if h := resp.Header.Get("WWW-Authenticate"); h != `Basic realm="ssoctl introspect"` {
				t.Errorf("WWW-Authenticate %q", h)
			}
			if first == "" {
				first = body
			} else if body != first {
				t.Errorf("body %q differs from %q: it tells which part was wrong", body, first)
			}
			line := logs.String()[before:]
			if !strings.Contains(line, "app authentication failed") {
				t.Errorf("no log line for the failure:\n%s", line)
			}
			if got := strings.Contains(line, `"app":"wiki"`); got != tt.logsApp {
				t.Errorf("log names the app: %v, want %v:\n%s", got, tt.logsApp, line)
			}
			if strings.Contains(line, "mallory") {
				t.Errorf("log repeats an unknown key, which may be a pasted secret:\n%s", line)
			}
		})
	}
	for _, s := range []string{wikiSecret, blogSecret, wikiSecret[:10], "nope"} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("a sent secret %q is in the logs:\n%s", s, logs)
		}
	}
}

func TestIntrospectInactiveSessionsSayNothingMore(t *testing.T) {
	wiki := []string{"wiki-app", wikiSecret}
	tests := []struct {
		name  string
		spoil func(t *testing.T, rc *runningChain, cookie string) string
	}{
		{"revoked at the IdP", func(t *testing.T, rc *runningChain, cookie string) string {
			var active serve.IntrospectResponse
			_, body := introspect(t, rc, introspectCall{basic: wiki, body: cookieBody(cookie)})
			if err := json.Unmarshal([]byte(body), &active); err != nil || !active.Active {
				t.Fatalf("before revocation: %s", body)
			}
			if err := rc.roles.IdP.Revoke(context.Background(), active.SessionID); err != nil {
				t.Fatal(err)
			}
			return cookie
		}},
		{"expired", func(t *testing.T, rc *runningChain, cookie string) string {
			rc.clock.Advance(8*time.Hour + time.Second)
			return cookie
		}},
		{"tampered", func(t *testing.T, rc *runningChain, cookie string) string {
			b := []byte(cookie)
			b[3] ^= 1
			return string(b)
		}},
		{"not a cookie at all", func(*testing.T, *runningChain, string) string { return "hello" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, _ := startLoggedChain(t, sharedCookieChain)
			cookie := tt.spoil(t, rc, issuerCookie(t, rc))
			resp, body := introspect(t, rc, introspectCall{basic: wiki, body: cookieBody(cookie)})
			if resp.StatusCode != http.StatusOK || strings.TrimSpace(body) != `{"active":false}` {
				t.Errorf("got %d %s, want 200 {\"active\":false}", resp.StatusCode, body)
			}
		})
	}
}

func TestIntrospectRequestShape(t *testing.T) {
	rc, _ := startLoggedChain(t, sharedCookieChain)
	wiki := []string{"wiki-app", wikiSecret}
	tests := []struct {
		name string
		call introspectCall
		want int
	}{
		{"GET", introspectCall{method: http.MethodGet, basic: wiki}, http.StatusMethodNotAllowed},
		{"a form", introspectCall{basic: wiki, contentType: "application/x-www-form-urlencoded", body: "cookie=x"}, http.StatusUnsupportedMediaType},
		{"over 16 KiB", introspectCall{basic: wiki, body: cookieBody(strings.Repeat("a", 17<<10))}, http.StatusRequestEntityTooLarge},
		{"not JSON", introspectCall{basic: wiki, body: "cookie"}, http.StatusBadRequest},
		{"an unknown field", introspectCall{basic: wiki, body: `{"cookie":"x","token":"y"}`}, http.StatusBadRequest},
		{"no cookie", introspectCall{basic: wiki, body: `{}`}, http.StatusBadRequest},
		{"credentials twice", introspectCall{basic: wiki, body: `{"key":"wiki-app","secret":"` + wikiSecret + `","cookie":"x"}`}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := introspect(t, rc, tt.call)
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tt.want, body)
			}
			if tt.want == http.StatusMethodNotAllowed && resp.Header.Get("Allow") != http.MethodPost {
				t.Errorf("Allow %q, want POST", resp.Header.Get("Allow"))
			}
		})
	}
}

func TestIntrospectFailsClosedWhileIdPIsDown(t *testing.T) {
	rc, _ := startLoggedChain(t, sharedCookieChain)
	cookie := issuerCookie(t, rc)
	rc.net.SetDown(idpAdmin, true)
	resp, body := introspect(t, rc, introspectCall{basic: []string{"wiki-app", wikiSecret}, body: cookieBody(cookie)})
	if resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(body, "active") {
		t.Errorf("got %d %s, want 503 without an answer", resp.StatusCode, body)
	}
}

func TestResolveAppsNamesTheSourceNeverTheValue(t *testing.T) {
	c, err := chain.Parse("chain.yaml", []byte(strings.Replace(sharedCookieChain, `secret: "`+blogSecret+`"`, `secret: {env: BLOG_SECRET}`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = serve.ResolveApps(c, serve.Env{LookupEnv: func(string) (string, bool) { return "", false }})
	if err == nil || !strings.Contains(err.Error(), "app blog secret") || !strings.Contains(err.Error(), "BLOG_SECRET") {
		t.Fatalf("got %v, want the blog app's env variable named", err)
	}
	if strings.Contains(err.Error(), wikiSecret) {
		t.Errorf("the wiki's secret is in the error: %v", err)
	}
	apps, err := serve.ResolveApps(c, serve.Env{LookupEnv: func(k string) (string, bool) { return blogSecret, k == "BLOG_SECRET" }})
	if err != nil || len(apps) != 2 || string(apps[1].Secret) != blogSecret {
		t.Errorf("got %d apps, %v", len(apps), err)
	}
}
