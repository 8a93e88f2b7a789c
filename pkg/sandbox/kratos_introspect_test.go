package sandbox_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ssoctl/ssoctl/internal/kratostest"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/sandbox"
	"github.com/ssoctl/ssoctl/pkg/serve"
)

// These tests run seed 002's shared-cookie chain against a real Ory Kratos
// v1.3.1: the issuer's cookie on the parent domain company.localhost, a
// wiki on a host under it that the walk skips, and the wiki asking the
// issuer about the cookie at /sso/introspect (docs/introspect.md), with
// permissions from the Kratos identity's metadata_admin.permissions, which
// only the admin API sets; never from traits, which users write themselves.

// The apps' secrets; one comes from the environment, one from a file, as a
// chain file outside dev must have them.
const (
	introspectWikiSecret = "wiki-secret-kratos-0123456789abcdef-0123"
	introspectBlogSecret = "blog-secret-kratos-0123456789abcdef-0123"
)

const (
	introspectIssuer = "http://accounts.company.localhost:8080"
	introspectWiki   = "http://wiki.company.localhost:8090"
)

// sharedCookieKratos is the chain running: Kratos, the sandbox serving the
// issuer, and the wiki app's host, which records the issuer's cookie a
// browser sends it.
type sharedCookieKratos struct {
	kratos   *kratostest.Kratos
	sb       *sandbox.Sandbox
	wiki     *wikiApp
	wikiAddr string // the wiki's listener
}

// wikiApp stands in for the app behind the shared-cookie receiver: ssoctl
// does not serve it, so the browser reaches it on a listener of its own.
type wikiApp struct {
	mu     sync.Mutex
	cookie string // the last accounts_session value it received
}

func (w *wikiApp) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie("accounts_session"); err == nil {
		w.mu.Lock()
		w.cookie = c.Value
		w.mu.Unlock()
	}
	rw.WriteHeader(http.StatusNoContent)
}

func (w *wikiApp) take() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.cookie
	w.cookie = ""
	return c
}

// startSharedCookieKratos starts a Kratos whose cookies, like the issuer's,
// are on company.localhost, and the chain pointed at it.
func startSharedCookieKratos(t *testing.T) *sharedCookieKratos {
	t.Helper()
	k := kratostest.Start(t, kratostest.Options{
		Host:         "auth.company.localhost",
		UIURL:        introspectIssuer,
		CookieDomain: "company.localhost",
	})
	dir := t.TempDir()
	blogSecretFile := filepath.Join(dir, "blog.secret")
	if err := os.WriteFile(blogSecretFile, []byte(introspectBlogSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := `version: 1
name: company
dev: true
idp:
  kind: kratos
  public_url: ` + k.PublicURL + `
  admin_url: ` + k.AdminURL + `
  cookie_domain: company.localhost
issuer:
  url: ` + introspectIssuer + `
  cookie: {name: accounts_session, ttl: 8h, domain: company.localhost}
token:
  alg: HS256
  secret: dev-only-hs256-secret-for-the-introspect-test
  ttl: 30s
receivers:
  - {name: wiki, url: "` + introspectWiki + `", shared_cookie: true}
return_to:
  allow: ["` + introspectIssuer + `"]
store: {memory: {}}
apps:
  - {name: wiki, key: wiki-app, secret: {env: WIKI_APP_SECRET}, permissions: [wiki:read]}
  - {name: blog, key: blog-app, secret: {file: "` + blogSecretFile + `"}, permissions: [blog:read, blog:comment]}
`
	path := filepath.Join(dir, "chain.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c := loadChain(t, path)
	env := serve.Env{LookupEnv: func(name string) (string, bool) {
		if name == "WIKI_APP_SECRET" {
			return introspectWikiSecret, true
		}
		return "", false
	}}
	sc := &sharedCookieKratos{kratos: k, sb: start(t, c, env), wiki: &wikiApp{}}
	srv := httptest.NewServer(sc.wiki)
	t.Cleanup(srv.Close)
	sc.wikiAddr = srv.Listener.Addr().String()
	return sc
}

// login walks Kratos's browser login for email, then visits the wiki, and
// returns the issuer's cookie as the wiki received it on the shared parent
// domain.
func (sc *sharedCookieKratos) login(t *testing.T, email, password string) string {
	t.Helper()
	dialer := sc.sb.Mapped(map[string]string{strings.TrimPrefix(introspectWiki, "http://"): sc.wikiAddr})
	b, err := chain.NewBrowser(chain.BrowserOptions{Dialer: dialer, Chain: sc.sb.Chain(), User: email, Password: password, Now: sc.sb.Now})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := b.Walk(context.Background(), chain.StartURL(sc.sb.Chain()))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Failed() || !strings.HasPrefix(tr.Final, introspectIssuer+"/") {
		t.Fatalf("%s's login ended at %s, findings %v:\n%s\n%s", email, tr.Final, tr.Findings, strings.Join(stepsOf(tr), "\n"), sc.kratos.Log())
	}
	resp, err := b.Get(context.Background(), introspectWiki+"/")
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("wiki after %s's login: %v %v", email, resp, err)
	}
	cookie := sc.wiki.take()
	if cookie == "" {
		t.Fatalf("the wiki's host did not receive the issuer's cookie after %s's login", email)
	}
	return cookie
}

// introspect is the app's call: POST /sso/introspect on the issuer with
// HTTP Basic credentials and the cookie it received.
func (sc *sharedCookieKratos) introspect(t *testing.T, key, secret, cookie string) (*http.Response, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"cookie": cookie})
	req, err := http.NewRequest(http.MethodPost, introspectIssuer+chain.IntrospectPath, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(key, secret)
	client := &http.Client{Transport: &http.Transport{DialContext: sc.sb.Dialer().DialContext}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// person is one Kratos identity of the test, created through the admin
// API.
type person struct {
	email         string
	role          string
	metadataAdmin map[string]any
}

func TestIntrospect_kratosSharedCookie(t *testing.T) {
	t.Parallel()
	sc := startSharedCookieKratos(t)
	people := map[string]person{
		// alice's identity grants her own wiki permissions.
		"alice": {"alice@example.com", "admin", map[string]any{"permissions": map[string]any{"wiki": []string{"wiki:read", "wiki:admin"}}}},
		// bob's has no metadata_admin: the chain file's apply.
		"bob": {"bob@example.com", "member", nil},
		// carol's grants nothing on the wiki: an empty list replaces the
		// chain file's too.
		"carol": {"carol@example.com", "", map[string]any{"permissions": map[string]any{"wiki": []string{}}}},
	}
	ids, cookies := map[string]string{}, map[string]string{}
	for name, p := range people {
		ids[name] = sc.kratos.CreateIdentityWithAdminMetadata(t, p.email, kratosPass, p.role, p.metadataAdmin)
		cookies[name] = sc.login(t, p.email, kratosPass)
	}

	tests := []struct {
		name        string
		user        string
		key, secret string
		role        string
		permissions []string
	}{
		{name: "alice at the wiki: permissions from her metadata_admin", user: "alice", key: "wiki-app", secret: introspectWikiSecret,
			role: "admin", permissions: []string{"wiki:read", "wiki:admin"}},
		{name: "alice at the blog: her metadata_admin says nothing, the chain file's apply", user: "alice", key: "blog-app", secret: introspectBlogSecret,
			role: "admin", permissions: []string{"blog:read", "blog:comment"}},
		{name: "bob at the wiki: no metadata_admin, the chain file's apply", user: "bob", key: "wiki-app", secret: introspectWikiSecret,
			role: "member", permissions: []string{"wiki:read"}},
		{name: "carol at the wiki: an empty list grants nothing", user: "carol", key: "wiki-app", secret: introspectWikiSecret,
			permissions: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := sc.introspect(t, tt.key, tt.secret, cookies[tt.user])
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var got serve.IntrospectResponse
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			sessions := sc.kratos.Sessions(t, ids[tt.user])
			if len(sessions) != 1 {
				t.Fatalf("Kratos holds %d sessions for %s, want 1", len(sessions), tt.user)
			}
			if !got.Active || got.Email != people[tt.user].email || got.Role != tt.role || got.Subject != ids[tt.user] || got.SessionID != sessions[0] {
				t.Errorf("answer %s, want %s's active session %s (identity %s)", body, people[tt.user].email, sessions[0], ids[tt.user])
			}
			if got.Permissions == nil || !slices.Equal(got.Permissions, tt.permissions) {
				t.Errorf("permissions %q, want %q", got.Permissions, tt.permissions)
			}
		})
	}

	// A failed client authentication is one answer whatever was wrong.
	refused := []struct {
		name        string
		key, secret string
	}{
		{name: "the wiki's key, a wrong secret", key: "wiki-app", secret: introspectWikiSecret + "x"},
		{name: "the wiki's key, the blog's secret", key: "wiki-app", secret: introspectBlogSecret},
		{name: "an unknown key, the wiki's secret", key: "no-such-app", secret: introspectWikiSecret},
		{name: "no secret", key: "wiki-app", secret: ""},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := sc.introspect(t, tt.key, tt.secret, cookies["alice"])
			if resp.StatusCode != http.StatusUnauthorized || strings.TrimSpace(body) != `{"error":"invalid_client"}` {
				t.Errorf("%d %s, want 401 {\"error\":\"invalid_client\"}", resp.StatusCode, body)
			}
			if h := resp.Header.Get("WWW-Authenticate"); h != `Basic realm="ssoctl introspect"` {
				t.Errorf("WWW-Authenticate %q", h)
			}
		})
	}

	// Revoked in Kratos, alice's session is inactive at once: the issuer
	// asks Kratos on every introspection. bob's is untouched.
	sc.kratos.RevokeSessions(t, ids["alice"])
	if resp, body := sc.introspect(t, "wiki-app", introspectWikiSecret, cookies["alice"]); resp.StatusCode != http.StatusOK || strings.TrimSpace(body) != `{"active":false}` {
		t.Errorf("alice after the revocation: %d %s, want 200 {\"active\":false}", resp.StatusCode, body)
	}
	if resp, body := sc.introspect(t, "wiki-app", introspectWikiSecret, cookies["bob"]); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"active":true`) {
		t.Errorf("bob after alice's revocation: %d %s, want still active", resp.StatusCode, body)
	}
}

// Mallory signs herself up through Kratos's public self-service
// registration and asks for the wiki's admin permission, or the admin role,
// in her traits, as the schema once allowed: Kratos refuses the traits, and
// the account she can make gets no role and the chain file's permissions
// only.
func TestIntrospect_kratosSelfServiceCannotGrantPermissions(t *testing.T) {
	t.Parallel()
	sc := startSharedCookieKratos(t)
	const email = "mallory@example.com"
	tests := []struct {
		description string
		traits      map[string]any
	}{
		{description: "traits.permissions", traits: map[string]any{"email": email, "permissions": map[string]any{"wiki": []string{"wiki:admin"}}}},
		{description: "traits.role", traits: map[string]any{"email": email, "role": "admin"}},
		{description: "metadata_public inside the traits", traits: map[string]any{"email": email, "metadata_public": map[string]any{"role": "admin"}}},
		{description: "metadata_admin inside the traits", traits: map[string]any{"email": email, "metadata_admin": map[string]any{"permissions": map[string]any{"wiki": []string{"wiki:admin"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			code, id, refusal := sc.kratos.Register(t, kratosPass, tt.traits)
			if code != http.StatusBadRequest || id != "" {
				t.Fatalf("registration with %s: %d, identity %q, want 400 and none", tt.description, code, id)
			}
			if !strings.Contains(refusal, "additionalProperties") {
				t.Errorf("the refusal does not name the schema's additionalProperties: %s", refusal)
			}
		})
	}

	code, id, refusal := sc.kratos.Register(t, kratosPass, map[string]any{"email": email})
	if code != http.StatusOK || id == "" {
		t.Fatalf("registration with the email only: %d %s", code, refusal)
	}
	cookie := sc.login(t, email, kratosPass)
	for _, app := range []struct{ key, secret, want string }{
		{"wiki-app", introspectWikiSecret, `["wiki:read"]`},
		{"blog-app", introspectBlogSecret, `["blog:read","blog:comment"]`},
	} {
		resp, body := sc.introspect(t, app.key, app.secret, cookie)
		var got serve.IntrospectResponse
		if err := json.Unmarshal([]byte(body), &got); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", app.key, resp.StatusCode, body)
		}
		perms, _ := json.Marshal(got.Permissions)
		if !got.Active || got.Subject != id || got.Role != "" || string(perms) != app.want {
			t.Errorf("%s: %s, want mallory's active session with no role and %s", app.key, body, app.want)
		}
	}
}
