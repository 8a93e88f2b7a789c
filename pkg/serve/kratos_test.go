package serve_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/pkg/serve"
)

// kratosTest is one story told through the Kratos client against the dev
// IdP over HTTP: what the browser did, then what whoami (by cookie and by
// session token) and the admin lookup by id must say.
type kratosTest struct {
	description string
	// act runs after alice has logged in through the browser flow.
	act func(t *testing.T, h *idpHarness, b *idpBrowser, sid string)
	// cookie replaces the browser's Cookie header when set.
	cookie string
	// id replaces the session id for the admin lookup when set.
	id      string
	wantErr error // nil: the session is alice's and usable
}

var kratosTests = []kratosTest{
	{
		description: "a fresh login is seen by cookie, by token and by id",
	},
	{
		description: "revoked through the admin API",
		act: func(t *testing.T, h *idpHarness, _ *idpBrowser, sid string) {
			if err := h.kratos.Revoke(context.Background(), sid); err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			// Revoking again is not an error.
			if err := h.kratos.Revoke(context.Background(), sid); err != nil {
				t.Fatalf("second Revoke: %v", err)
			}
		},
		wantErr: serve.ErrNoSession,
	},
	{
		description: "logged out in the browser",
		act: func(t *testing.T, _ *idpHarness, b *idpBrowser, _ string) {
			resp := b.get(idpPublicURL + "/self-service/logout/browser?return_to=" + idpIssuer + "/")
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("logout: %d", resp.StatusCode)
			}
		},
		wantErr: serve.ErrNoSession,
	},
	{
		description: "expired: the clock passes the session's 24h",
		act: func(_ *testing.T, h *idpHarness, _ *idpBrowser, _ string) {
			h.clock.Advance(24*time.Hour + time.Second)
		},
		wantErr: serve.ErrNoSession,
	},
	{
		description: "one second before expiry the session still works",
		act: func(_ *testing.T, h *idpHarness, _ *idpBrowser, _ string) {
			h.clock.Advance(24*time.Hour - time.Second)
		},
	},
	{
		description: "a forged cookie and an unknown id",
		cookie:      "ory_kratos_session=" + strings.Repeat("A", 43),
		id:          "6f1c9d3e-2b7a-4c1d-9e8f-0a1b2c3d4e5f",
		wantErr:     serve.ErrNoSession,
	},
	{
		description: "a cookie of another name and an id with a path in it",
		cookie:      "accounts_session=x; other=y",
		id:          "../../admin/identities",
		wantErr:     serve.ErrNoSession,
	},
}

func TestKratosAgainstDevIdP(t *testing.T) {
	for _, tc := range kratosTests {
		t.Run(tc.description, func(t *testing.T) {
			h := startDevIdP(t, serve.DevIdPConfig{CookieDomain: "company.localhost"})
			b := h.browser()
			b.mustLogin()
			ctx := context.Background()

			// The issuer sees the IdP's parent-domain cookie on its own host.
			cookie := b.cookieHeader(idpIssuer)
			first, err := h.kratos.Whoami(ctx, cookie, "")
			if err != nil {
				t.Fatalf("Whoami right after login: %v", err)
			}
			token := b.sessionCookie()
			if tc.act != nil {
				tc.act(t, h, b, first.ID)
			}
			if tc.cookie != "" {
				cookie = tc.cookie
				token = strings.TrimPrefix(tc.cookie, "ory_kratos_session=")
			}
			id := first.ID
			if tc.id != "" {
				id = tc.id
			}

			for _, c := range []struct {
				name string
				get  func() (*serve.Session, error)
			}{
				{"whoami by cookie", func() (*serve.Session, error) { return h.kratos.Whoami(ctx, cookie, "") }},
				{"whoami by session token", func() (*serve.Session, error) { return h.kratos.Whoami(ctx, "", token) }},
				{"session by id", func() (*serve.Session, error) { return h.kratos.Session(ctx, id) }},
			} {
				s, err := c.get()
				if tc.wantErr != nil {
					if !errors.Is(err, tc.wantErr) {
						t.Errorf("%s: err = %v, want %v", c.name, err, tc.wantErr)
					}
					if s != nil {
						t.Errorf("%s: returned a session with the error", c.name)
					}
					if err != nil && (strings.Contains(err.Error(), b.sessionCookie()) && b.sessionCookie() != "") {
						t.Errorf("%s: the error holds the session cookie: %v", c.name, err)
					}
					continue
				}
				if err != nil {
					t.Errorf("%s: %v", c.name, err)
					continue
				}
				wantAlice(t, c.name, s, first.ID)
			}
		})
	}
}

func wantAlice(t *testing.T, what string, s *serve.Session, sid string) {
	t.Helper()
	name, _ := s.Traits["name"].(map[string]any)
	switch {
	case s.ID != sid:
		t.Errorf("%s: ID = %q, want %q", what, s.ID, sid)
	case len(s.IdentityID) != 36:
		t.Errorf("%s: IdentityID = %q", what, s.IdentityID)
	case s.Email != "alice@example.com" || s.Role != "admin":
		t.Errorf("%s: Email, Role = %q, %q", what, s.Email, s.Role)
	case name["first"] != "Alice":
		t.Errorf("%s: Traits = %v", what, s.Traits)
	case !s.Active:
		t.Errorf("%s: not active", what)
	case !s.AuthenticatedAt.Equal(idpEpoch):
		t.Errorf("%s: AuthenticatedAt = %s, want %s", what, s.AuthenticatedAt, idpEpoch)
	case !s.ExpiresAt.Equal(idpEpoch.Add(24 * time.Hour)):
		t.Errorf("%s: ExpiresAt = %s", what, s.ExpiresAt)
	}
}

// Only SessionWithAdminMetadata reads metadata_admin, from the admin
// API's identity; whoami and the session lookup never carry it.
func TestKratosAdminMetadataOnlyFromTheIdentity(t *testing.T) {
	h := startDevIdP(t, serve.DevIdPConfig{})
	b := h.browser()
	b.mustLogin()
	ctx := context.Background()
	who, err := h.kratos.Whoami(ctx, b.cookieHeader(idpPublicURL), "")
	if err != nil {
		t.Fatal(err)
	}
	byID, err := h.kratos.Session(ctx, who.ID)
	if err != nil {
		t.Fatal(err)
	}
	if who.MetadataAdmin != nil || byID.MetadataAdmin != nil {
		t.Errorf("whoami %v, session by id %v: want no metadata_admin", who.MetadataAdmin, byID.MetadataAdmin)
	}
	full, err := h.kratos.SessionWithAdminMetadata(ctx, who.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantAlice(t, "session with admin metadata", full, who.ID)
	perms, _ := full.MetadataAdmin["permissions"].(map[string]any)
	if wiki, _ := perms["wiki"].([]any); len(wiki) != 1 || wiki[0] != "wiki:admin" {
		t.Errorf("MetadataAdmin = %v", full.MetadataAdmin)
	}
	if err := h.kratos.Revoke(ctx, who.ID); err != nil {
		t.Fatal(err)
	}
	if s, err := h.kratos.SessionWithAdminMetadata(ctx, who.ID); !errors.Is(err, serve.ErrNoSession) || s != nil {
		t.Errorf("after revocation: %v %v, want ErrNoSession", s, err)
	}
}

// bob's traits say role: admin, as a Kratos user could register or set
// them; his role stays empty on every call, and Traits keeps the trait.
func TestKratosTraitsRoleIsNotTheRole(t *testing.T) {
	h := startDevIdP(t, serve.DevIdPConfig{})
	b := h.browser()
	if resp := b.login("bob@example.com", "builder", idpCallback); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	ctx := context.Background()
	who, err := h.kratos.Whoami(ctx, b.cookieHeader(idpPublicURL), "")
	if err != nil {
		t.Fatal(err)
	}
	byID, err := h.kratos.Session(ctx, who.ID)
	if err != nil {
		t.Fatal(err)
	}
	full, err := h.kratos.SessionWithAdminMetadata(ctx, who.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*serve.Session{who, byID, full} {
		if s.Email != "Bob@Example.com" || s.Role != "" || s.Traits["role"] != "admin" {
			t.Errorf("Email %q Role %q Traits %v, want no role", s.Email, s.Role, s.Traits)
		}
	}
}

// The role is metadata_public.role when it is a string, and nothing else:
// not traits.role, not a role of another type.
func TestKratosRoleOnlyFromMetadataPublic(t *testing.T) {
	const identityID = "1b8e4b2c-7f1a-4d2e-9c3b-5a6f7e8d9c0b"
	for _, tc := range []struct {
		description string
		identity    string // the identity's fields after id and schema
		want        string
	}{
		{description: "metadata_public.role", identity: `"traits":{"email":"a@example.com"},"metadata_public":{"role":"admin"}`, want: "admin"},
		{description: "traits.role alone is no role", identity: `"traits":{"email":"a@example.com","role":"admin"}`},
		{description: "metadata_public.role wins over traits.role", identity: `"traits":{"role":"admin"},"metadata_public":{"role":"viewer"}`, want: "viewer"},
		{description: "metadata_public.role that is a number", identity: `"traits":{},"metadata_public":{"role":7}`},
		{description: "metadata_public.role that is a list", identity: `"traits":{},"metadata_public":{"role":["admin"]}`},
		{description: "metadata_public null", identity: `"traits":{"role":"admin"},"metadata_public":null`},
		{description: "metadata_admin.role is not read from a session", identity: `"traits":{},"metadata_admin":{"role":"admin"}`},
	} {
		t.Run(tc.description, func(t *testing.T) {
			body := `{"id":"` + fakeSID + `","active":true,"expires_at":"2999-01-01T00:00:00Z",` +
				`"identity":{"id":"` + identityID + `","schema_id":"default","schema_url":"x",` + tc.identity + `}}`
			net := newIDPLoopback()
			net.serve(t, idpPublicURL, kratosFakeSession(body))
			net.serve(t, idpAdminURL, kratosFakeSession(body))
			k, err := serve.NewKratos(idpPublicURL, idpAdminURL, net.client(), serve.WithKratosClock(func() time.Time { return idpEpoch }))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			who, err := k.Whoami(ctx, fakeCookie, "")
			if err != nil {
				t.Fatal(err)
			}
			byID, err := k.Session(ctx, fakeSID)
			if err != nil {
				t.Fatal(err)
			}
			if who.Role != tc.want || byID.Role != tc.want {
				t.Errorf("whoami role %q, session role %q, want %q", who.Role, byID.Role, tc.want)
			}
		})
	}
}

func TestKratosHostOnlyCookieDoesNotReachTheIssuer(t *testing.T) {
	h := startDevIdP(t, serve.DevIdPConfig{})
	b := h.browser()
	b.mustLogin()
	if _, err := h.kratos.Whoami(context.Background(), b.cookieHeader(idpIssuer), ""); !errors.Is(err, serve.ErrNoSession) {
		t.Errorf("issuer host with a host-only IdP cookie: %v, want ErrNoSession", err)
	}
	if _, err := h.kratos.Whoami(context.Background(), b.cookieHeader(idpPublicURL), ""); err != nil {
		t.Errorf("IdP host: %v", err)
	}
}

func TestKratosNoAdminAPI(t *testing.T) {
	h := startDevIdP(t, serve.DevIdPConfig{})
	k, err := serve.NewKratos(idpPublicURL, "", h.net.client(), serve.WithKratosClock(h.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	b := h.browser()
	b.mustLogin()
	ctx := context.Background()
	s, err := k.Whoami(ctx, b.cookieHeader(idpPublicURL), "")
	if err != nil {
		t.Fatalf("Whoami: %v", err)
	}
	if _, err := k.Session(ctx, s.ID); !errors.Is(err, serve.ErrNoAdminAPI) {
		t.Errorf("Session: %v, want ErrNoAdminAPI", err)
	}
	if err := k.Revoke(ctx, s.ID); !errors.Is(err, serve.ErrNoAdminAPI) {
		t.Errorf("Revoke: %v, want ErrNoAdminAPI", err)
	}
	if err := k.Ready(ctx); err != nil {
		t.Errorf("Ready on the public API: %v", err)
	}
}

func TestKratosIdPStopped(t *testing.T) {
	h := startDevIdP(t, serve.DevIdPConfig{})
	b := h.browser()
	b.mustLogin()
	ctx := context.Background()
	s, err := h.kratos.Whoami(ctx, b.cookieHeader(idpPublicURL), "")
	if err != nil {
		t.Fatal(err)
	}
	h.stop()
	checkAll(t, h.kratos, b.cookieHeader(idpPublicURL), s.ID, serve.ErrIdPUnavailable)
	if err := h.kratos.Ready(ctx); !errors.Is(err, serve.ErrIdPUnavailable) {
		t.Errorf("Ready: %v, want ErrIdPUnavailable", err)
	}
}

// checkAll calls Whoami, Session and Revoke and wants err from each.
func checkAll(t *testing.T, k *serve.Kratos, cookie, id string, want error) {
	t.Helper()
	ctx := context.Background()
	if _, err := k.Whoami(ctx, cookie, ""); !errors.Is(err, want) {
		t.Errorf("Whoami: %v, want %v", err, want)
	}
	if _, err := k.Session(ctx, id); !errors.Is(err, want) {
		t.Errorf("Session: %v, want %v", err, want)
	}
	if err := k.Revoke(ctx, id); !errors.Is(err, want) {
		t.Errorf("Revoke: %v, want %v", err, want)
	}
}

const (
	fakeSID    = "0b8e4b2c-7f1a-4d2e-9c3b-5a6f7e8d9c0b"
	fakeCookie = "ory_kratos_session=c2VjcmV0LWNvb2tpZS12YWx1ZS1uZXZlci1pbi1lcnJvcnM"
	fakeToken  = "session-token-never-in-errors"
)

// kratosFake is a tiny stand-in for Kratos that answers every call the
// same way.
type kratosFakeTest struct {
	description string
	handler     http.HandlerFunc
	ctxTimeout  time.Duration
	wantIs      []error // each must match
	wantNot     []error // none may match
	wantText    string  // the error text holds this
}

var kratosFakeTests = []kratosFakeTest{
	{
		description: "500 is an outage",
		handler:     func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) },
		wantIs:      []error{serve.ErrIdPUnavailable},
		wantNot:     []error{serve.ErrNoSession},
		wantText:    "500",
	},
	{
		description: "503 with Kratos's envelope is an outage",
		handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":{"code":503,"status":"Service Unavailable","message":"db down"}}`))
		},
		wantIs: []error{serve.ErrIdPUnavailable},
	},
	{
		description: "429 is an outage too: retry later, never a bypass",
		handler:     func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTooManyRequests) },
		wantIs:      []error{serve.ErrIdPUnavailable},
	},
	{
		description: "a hung IdP times out into an outage",
		handler: func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		},
		ctxTimeout: 50 * time.Millisecond,
		wantIs:     []error{serve.ErrIdPUnavailable, context.DeadlineExceeded},
	},
	{
		description: "403 is no session",
		handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error":{"id":"session_aal2_required","code":403,"status":"Forbidden","message":"aal2"}}`))
		},
		wantIs:   []error{serve.ErrNoSession},
		wantText: "session_aal2_required",
	},
	{
		description: "404 with Kratos's envelope is no session, named by its id",
		handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"id":"session_not_found","code":404,"status":"Not Found","message":"gone"}}`))
		},
		wantIs:   []error{serve.ErrNoSession},
		wantText: "(session_not_found)",
	},
	{
		description: "an error id that is not Kratos's vocabulary stays out of the error",
		handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"id":"Bearer c2VjcmV0","code":401}}`))
		},
		wantIs:   []error{serve.ErrNoSession},
		wantText: "401 Unauthorized",
	},
	{
		description: "an answer that breaks off is an outage",
		handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", "4096")
			_, _ = w.Write([]byte(`{"id":"`))
		},
		wantIs: []error{serve.ErrIdPUnavailable},
	},
	{
		description: "200 with JSON of another shape",
		handler:     kratosFakeSession(`{"id":"` + fakeSID + `","active":"yes","identity":"alice"}`),
		wantNot:     []error{serve.ErrNoSession, serve.ErrIdPUnavailable},
		wantText:    "not a Kratos session",
	},
	{
		description: "400 is neither: a clear error",
		handler:     func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "bad", http.StatusBadRequest) },
		wantNot:     []error{serve.ErrNoSession, serve.ErrIdPUnavailable},
		wantText:    "400",
	},
	{
		description: "a redirect is not followed",
		handler: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://evil.example/steal", http.StatusFound)
		},
		wantNot:  []error{serve.ErrNoSession, serve.ErrIdPUnavailable},
		wantText: "does not redirect",
	},
	{
		description: "200 that is not JSON",
		handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html>login</html>"))
		},
		wantNot: []error{serve.ErrNoSession, serve.ErrIdPUnavailable},
	},
	{
		description: "200 with a session that is not active",
		handler: kratosFakeSession(`{"id":"` + fakeSID + `","active":false,"expires_at":"2999-01-01T00:00:00Z",` +
			`"identity":{"id":"1b8e4b2c-7f1a-4d2e-9c3b-5a6f7e8d9c0b","schema_id":"default","schema_url":"x","traits":{}}}`),
		wantIs: []error{serve.ErrNoSession},
	},
	{
		description: "200 with a session without \"active\" fails closed",
		handler: kratosFakeSession(`{"id":"` + fakeSID + `",` +
			`"identity":{"id":"1b8e4b2c-7f1a-4d2e-9c3b-5a6f7e8d9c0b","schema_id":"default","schema_url":"x","traits":{}}}`),
		wantIs: []error{serve.ErrNoSession},
	},
	{
		description: "200 with an expired session",
		handler: kratosFakeSession(`{"id":"` + fakeSID + `","active":true,"expires_at":"2001-01-01T00:00:00Z",` +
			`"identity":{"id":"1b8e4b2c-7f1a-4d2e-9c3b-5a6f7e8d9c0b","schema_id":"default","schema_url":"x","traits":{}}}`),
		wantIs:   []error{serve.ErrNoSession},
		wantText: "expired",
	},
	{
		description: "200 with a session without an identity",
		handler:     kratosFakeSession(`{"id":"` + fakeSID + `","active":true}`),
		wantNot:     []error{serve.ErrNoSession, serve.ErrIdPUnavailable},
		wantText:    "without an identity",
	},
	{
		description: "an answer past 1 MiB",
		handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"id":"` + strings.Repeat("a", 2<<20) + `"}`))
		},
		wantNot:  []error{serve.ErrNoSession, serve.ErrIdPUnavailable},
		wantText: "more than",
	},
}

func kratosFakeSession(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}
}

func TestKratosFailsClosed(t *testing.T) {
	for _, tc := range kratosFakeTests {
		t.Run(tc.description, func(t *testing.T) {
			net := newIDPLoopback()
			net.serve(t, idpPublicURL, tc.handler)
			net.serve(t, idpAdminURL, tc.handler)
			k, err := serve.NewKratos(idpPublicURL, idpAdminURL, net.client(), serve.WithKratosClock(func() time.Time { return idpEpoch }))
			if err != nil {
				t.Fatal(err)
			}
			calls := []struct {
				name string
				call func(context.Context) error
			}{
				{"whoami", func(ctx context.Context) error { _, err := k.Whoami(ctx, fakeCookie, fakeToken); return err }},
				{"session", func(ctx context.Context) error { _, err := k.Session(ctx, fakeSID); return err }},
			}
			for _, c := range calls {
				ctx := context.Background()
				if tc.ctxTimeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.ctxTimeout)
					defer cancel()
				}
				err := c.call(ctx)
				if err == nil {
					t.Errorf("%s: no error", c.name)
					continue
				}
				for _, want := range tc.wantIs {
					if !errors.Is(err, want) {
						t.Errorf("%s: %v, want %v", c.name, err, want)
					}
				}
				for _, not := range tc.wantNot {
					if errors.Is(err, not) {
						t.Errorf("%s: %v matches %v", c.name, err, not)
					}
				}
				if !strings.Contains(err.Error(), tc.wantText) {
					t.Errorf("%s: %q does not say %q", c.name, err, tc.wantText)
				}
				if strings.Contains(err.Error(), "c2VjcmV0") || strings.Contains(err.Error(), fakeToken) {
					t.Errorf("%s: the error holds the cookie or token: %v", c.name, err)
				}
			}
		})
	}
}

func TestKratosRevoke(t *testing.T) {
	for _, tc := range []struct {
		description string
		status      int
		wantErr     bool
		wantIs      error
	}{
		{"204: revoked", http.StatusNoContent, false, nil},
		{"404: Kratos does not know the session, which is what revoking wants", http.StatusNotFound, false, nil},
		{"401: the admin API refused us, not the user", http.StatusUnauthorized, true, nil},
		{"502: outage", http.StatusBadGateway, true, serve.ErrIdPUnavailable},
	} {
		t.Run(tc.description, func(t *testing.T) {
			var gotPath atomic.Value
			net := newIDPLoopback()
			net.serve(t, idpAdminURL, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotPath.Store(r.Method + " " + r.URL.EscapedPath())
				w.WriteHeader(tc.status)
			}))
			k, err := serve.NewKratos(idpPublicURL, idpAdminURL, net.client())
			if err != nil {
				t.Fatal(err)
			}
			err = k.Revoke(context.Background(), strings.ToUpper(fakeSID))
			if (err != nil) != tc.wantErr || (tc.wantIs != nil && !errors.Is(err, tc.wantIs)) {
				t.Errorf("Revoke: %v", err)
			}
			if errors.Is(err, serve.ErrNoSession) {
				t.Errorf("Revoke: %v is ErrNoSession; a refused admin call is not about the user", err)
			}
			if got := gotPath.Load(); got != "DELETE /admin/sessions/"+fakeSID {
				t.Errorf("request %v, want the lower-case id", got)
			}
		})
	}
}

// Ids that cannot be Kratos session ids never reach a URL path.
func TestKratosRefusesMalformedSessionIDs(t *testing.T) {
	var calls atomic.Int32
	net := newIDPLoopback()
	net.serve(t, idpAdminURL, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusTeapot)
	}))
	k, err := serve.NewKratos(idpPublicURL, idpAdminURL, net.client())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{
		"", "..", "../identities", "a/b", "%2e%2e", fakeSID + "/..", fakeSID + "?expand=x",
		fakeSID[:35] + "/", strings.Replace(fakeSID, "-", "/", 1), strings.Repeat("a", 4096), " " + fakeSID[1:],
	} {
		if _, err := k.Session(context.Background(), id); !errors.Is(err, serve.ErrNoSession) {
			t.Errorf("Session(%q): %v, want ErrNoSession", id, err)
		}
		if err := k.Revoke(context.Background(), id); err == nil {
			t.Errorf("Revoke(%q): no error", id)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("%d calls reached the admin API", n)
	}
}

// The client keeps no cookies between calls, whatever jar its
// http.Client had: one user's whoami must never feed the next user's.
func TestKratosKeepsNoCookies(t *testing.T) {
	h := startDevIdP(t, serve.DevIdPConfig{})
	var (
		mu   sync.Mutex
		seen []string
	)
	net := newIDPLoopback()
	net.serve(t, idpPublicURL, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Cookie"))
		mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "ory_kratos_session", Value: "refreshed", Path: "/"})
		h.idp.Public().ServeHTTP(w, r)
	}))
	hc := net.client()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc.Jar = jar
	k, err := serve.NewKratos(idpPublicURL, "", hc)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = k.Whoami(context.Background(), "a=1", "")
	_, _ = k.Whoami(context.Background(), "b=2", "")
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] != "a=1" || seen[1] != "b=2" {
		t.Errorf("Cookie headers sent: %q", seen)
	}
}

func TestKratosWithoutCredentialsAsksNobody(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) }))
	defer srv.Close()
	k, err := serve.NewKratos(srv.URL, "", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ cookie, token string }{{"", ""}, {"a=1\r\nX-Evil: 1", ""}, {"", "tok\n"}} {
		if _, err := k.Whoami(context.Background(), c.cookie, c.token); !errors.Is(err, serve.ErrNoSession) {
			t.Errorf("Whoami(%q, %q): %v, want ErrNoSession", c.cookie, c.token, err)
		}
	}
	if calls.Load() != 0 {
		t.Errorf("%d calls reached Kratos", calls.Load())
	}
}

func TestKratosReady(t *testing.T) {
	for _, tc := range []struct {
		description string
		status      int
		wantErr     error
	}{
		{"200 is ready", http.StatusOK, nil},
		{"503 is not", http.StatusServiceUnavailable, serve.ErrIdPUnavailable},
		{"404 is not either", http.StatusNotFound, serve.ErrIdPUnavailable},
	} {
		t.Run(tc.description, func(t *testing.T) {
			var path atomic.Value
			net := newIDPLoopback()
			// The public API answers health; on the admin port real
			// Kratos only redirects /health/ready to /admin/health/ready.
			net.serve(t, idpPublicURL, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				path.Store(r.URL.Path)
				w.WriteHeader(tc.status)
			}))
			net.serve(t, idpAdminURL, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/admin"+r.URL.Path, http.StatusTemporaryRedirect)
			}))
			k, err := serve.NewKratos(idpPublicURL, idpAdminURL, net.client())
			if err != nil {
				t.Fatal(err)
			}
			if err := k.Ready(context.Background()); !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Errorf("Ready: %v, want %v", err, tc.wantErr)
			}
			if path.Load() != "/health/ready" {
				t.Errorf("asked %v", path.Load())
			}
		})
	}
}

func TestNewKratosRefusesBadURLs(t *testing.T) {
	for _, tc := range []struct{ public, admin, want string }{
		{"", "", "scheme"},
		{"auth.company.com", "", "scheme"},
		{"ftp://auth.company.com", "", "scheme"},
		{"https://", "", "no host"},
		{"https://user:pw@auth.company.com", "", "user and password"},
		{"https://auth.company.com/?a=b", "", "query"},
		{"https://auth.company.com", "https://admin:secret@kratos-admin", "user and password"},
		{"https://auth.company.com", "kratos-admin:4434", "scheme"},
	} {
		_, err := serve.NewKratos(tc.public, tc.admin, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewKratos(%q, %q) = %v, want an error about %s", tc.public, tc.admin, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("the error repeats a password: %v", err)
		}
	}
	if _, err := serve.NewKratos("https://company.projects.oryapis.com/", "https://kratos-admin.internal:4434/prefix/", nil); err != nil {
		t.Errorf("valid URLs: %v", err)
	}
}
