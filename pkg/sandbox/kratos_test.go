package sandbox_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/kratostest"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/sandbox"
	"github.com/ssoctl/ssoctl/pkg/serve"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// These tests run examples/kratos/chain.yaml against a real Ory Kratos
// v1.3.1 (scripts/kratos.sh builds and starts it): the issuer and
// receivers in process, Kratos on its own loopback ports, the trace
// engine's cookie-jar browser walking it by the chain's host names.

const (
	kratosExample = "../../examples/kratos/chain.yaml"
	kratosUser    = "alice@example.com"
	kratosPass    = "correct horse battery staple 7"
)

// kratosChain starts a Kratos for the example chain and returns the chain
// pointed at it (the example's fixed ports replaced by Kratos's free ones).
func kratosChain(t *testing.T) (*chain.Chain, *kratostest.Kratos) {
	t.Helper()
	base := loadChain(t, kratosExample)
	k := kratostest.Start(t, kratostest.Options{
		Host:         "auth.company.localhost",
		UIURL:        base.Issuer.URL,
		ReturnURLs:   base.ReturnTo.Allow,
		CookieDomain: base.IdP.CookieDomain,
	})
	raw, err := os.ReadFile(kratosExample)
	if err != nil {
		t.Fatal(err)
	}
	yaml := strings.NewReplacer(base.IdP.PublicURL, k.PublicURL, base.IdP.AdminURL, k.AdminURL).Replace(string(raw))
	path := filepath.Join(t.TempDir(), "chain.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return loadChain(t, path), k
}

// kratosWalk logs in through Kratos's browser flow, rendered by the
// issuer, and walks the chain to its last receiver.
func kratosWalk(t *testing.T, sb *sandbox.Sandbox, password string) (*chain.Browser, *chain.Trace) {
	t.Helper()
	b, err := chain.NewBrowser(chain.BrowserOptions{Dialer: sb.Dialer(), Chain: sb.Chain(), User: kratosUser, Password: password, Now: sb.Now})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := b.Walk(context.Background(), chain.StartURL(sb.Chain()))
	if err != nil {
		t.Fatal(err)
	}
	return b, tr
}

func stepsOf(tr *chain.Trace) []string {
	var out []string
	for _, s := range tr.Steps {
		u := s.URL
		if i := strings.IndexByte(u, '?'); i >= 0 {
			u = u[:i]
		}
		out = append(out, s.Method+" "+u+" "+http.StatusText(s.Status))
	}
	return out
}

func TestKratos_loginWalksTheChain(t *testing.T) {
	t.Parallel()
	c, k := kratosChain(t)
	id := k.CreateIdentity(t, kratosUser, kratosPass, "admin")
	sb := start(t, c, serve.Env{})

	b, tr := kratosWalk(t, sb, kratosPass)
	b.Expect(context.Background(), tr, c.Expect)
	kratosHost := k.PublicURL
	want := []string{
		"GET http://accounts.company.localhost:8080/login See Other",
		"GET " + kratosHost + "/self-service/login/browser See Other",
		"GET http://accounts.company.localhost:8080/ui/login OK",
		"POST " + kratosHost + "/self-service/login See Other",
		"GET http://accounts.company.localhost:8080/callback See Other",
		"GET http://portal.company2.localhost:8081/sso See Other",
		"GET http://accounts.company.localhost:8080/sso/continue See Other",
		"GET http://dashboard.company3.localhost:8082/sso See Other",
		"GET http://accounts.company.localhost:8080/sso/continue See Other",
		"GET http://dashboard.company3.localhost:8082/ OK",
	}
	if got := stepsOf(tr); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("hops:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if tr.Failed() || len(tr.Findings) > 0 {
		t.Errorf("walk failed: findings %v\n%s", tr.Findings, k.Log())
	}
	for _, x := range tr.Expectations {
		if !x.OK {
			t.Errorf("expectation %s: want %s, got %s", x.Name, x.Want, x.Got)
		}
	}
	// The identity's email and metadata_public.role reach every receiver's
	// forward auth.
	sessions := k.Sessions(t, id)
	if len(sessions) != 1 {
		t.Fatalf("Kratos holds %d sessions for the identity, want 1", len(sessions))
	}
	for _, r := range c.Receivers {
		resp, err := b.Get(context.Background(), r.URL+"/auth")
		if err != nil {
			t.Fatal(err)
		}
		h := resp.Header
		if resp.StatusCode != http.StatusOK || h.Get("X-Auth-Email") != kratosUser || h.Get("X-Auth-Role") != "admin" ||
			h.Get("X-Auth-Subject") != id || h.Get("X-Auth-Session") != sessions[0] {
			t.Errorf("%s /auth: %d email %q role %q subject %q session %q", r.Name, resp.StatusCode,
				h.Get("X-Auth-Email"), h.Get("X-Auth-Role"), h.Get("X-Auth-Subject"), h.Get("X-Auth-Session"))
		}
	}

	// Every hostile handoff is refused by receivers that re-check with
	// this Kratos, revocation through its admin API included.
	b.Probe(context.Background(), tr, chain.ProbeOptions{
		Signing: sb.Keys().Signing, Revoke: sb.IdP().Revoke, Advance: sb.Advance,
		RecheckInterval: 30 * time.Second,
	})
	if len(tr.Probes) != 18 {
		t.Errorf("%d probes, want 18", len(tr.Probes))
	}
	for _, p := range tr.Probes {
		if !p.Refused || p.Skipped != "" {
			t.Errorf("probe %s on %s: refused %v, skipped %q: %s", p.Name, p.Target, p.Refused, p.Skipped, p.Detail)
		}
	}
}

// The role is the identity's metadata_public.role, which a real Kratos
// returns both from whoami and from the admin API's session lookup (the
// receivers' re-check), with nothing in the traits.
func TestKratos_roleFromMetadataPublic(t *testing.T) {
	t.Parallel()
	c, k := kratosChain(t)
	id := k.CreateIdentity(t, kratosUser, kratosPass, "admin")
	sb := start(t, c, serve.Env{})
	token, sid := k.Login(t, kratosUser, kratosPass)
	ctx := context.Background()
	idp := sb.IdP()
	calls := []struct {
		name string
		get  func() (*serve.Session, error)
	}{
		{"whoami by session token", func() (*serve.Session, error) { return idp.Whoami(ctx, "", token) }},
		{"admin session by id", func() (*serve.Session, error) { return idp.Session(ctx, sid) }},
	}
	if r, ok := idp.(serve.AdminMetadataReader); ok {
		calls = append(calls, struct {
			name string
			get  func() (*serve.Session, error)
		}{"admin session with the identity", func() (*serve.Session, error) { return r.SessionWithAdminMetadata(ctx, sid) }})
	}
	for _, call := range calls {
		s, err := call.get()
		if err != nil {
			t.Errorf("%s: %v\n%s", call.name, err, k.Log())
			continue
		}
		if s.ID != sid || s.IdentityID != id || s.Email != kratosUser || s.Role != "admin" {
			t.Errorf("%s: session %s identity %s email %q role %q, want %s %s %s admin", call.name, s.ID, s.IdentityID, s.Email, s.Role, sid, id, kratosUser)
		}
		if _, ok := s.Traits["role"]; ok {
			t.Errorf("%s: traits %v carry a role", call.name, s.Traits)
		}
	}
}

// Mallory signs herself up through Kratos's public self-service
// registration as an admin, as the identity schema once allowed: Kratos
// refuses traits.role, and the account she can make carries no role to
// any receiver.
func TestKratos_selfServiceCannotSetRole(t *testing.T) {
	t.Parallel()
	c, k := kratosChain(t)
	sb := start(t, c, serve.Env{})
	code, id, refusal := k.Register(t, kratosPass, map[string]any{"email": kratosUser, "role": "admin"})
	if code != http.StatusBadRequest || id != "" {
		t.Fatalf("registration with traits.role: %d, identity %q, want 400 and none", code, id)
	}
	if !strings.Contains(refusal, "additionalProperties") {
		t.Errorf("the refusal does not name the schema's additionalProperties: %s", refusal)
	}
	code, id, refusal = k.Register(t, kratosPass, map[string]any{"email": kratosUser})
	if code != http.StatusOK || id == "" {
		t.Fatalf("registration with the email only: %d %s", code, refusal)
	}

	b, tr := kratosWalk(t, sb, kratosPass)
	if tr.Failed() {
		t.Fatalf("walk failed: %v\n%s", tr.Findings, strings.Join(stepsOf(tr), "\n"))
	}
	for _, r := range c.Receivers {
		resp, err := b.Get(context.Background(), r.URL+"/auth")
		if err != nil {
			t.Fatal(err)
		}
		h := resp.Header
		if resp.StatusCode != http.StatusOK || h.Get("X-Auth-Email") != kratosUser || h.Get("X-Auth-Subject") != id {
			t.Errorf("%s /auth: %d email %q subject %q, want 200 for %s", r.Name, resp.StatusCode, h.Get("X-Auth-Email"), h.Get("X-Auth-Subject"), id)
		}
		if v := h.Values("X-Auth-Role"); len(v) > 0 {
			t.Errorf("%s /auth: X-Auth-Role %q for a self-registered user, want none", r.Name, v)
		}
	}
}

// A wrong password stops at the issuer's page with Kratos's message; the
// walk does not get past it, and no receiver signs the browser in.
func TestKratos_wrongPassword(t *testing.T) {
	t.Parallel()
	c, k := kratosChain(t)
	k.CreateIdentity(t, kratosUser, kratosPass, "")
	sb := start(t, c, serve.Env{})
	b, tr := kratosWalk(t, sb, "not the password")
	last := tr.Steps[len(tr.Steps)-1]
	if !strings.Contains(last.URL, "/ui/login") || last.Status != http.StatusOK {
		t.Errorf("walk ended at %s %d, want the issuer's /ui/login again:\n%s", last.URL, last.Status, strings.Join(stepsOf(tr), "\n"))
	}
	for _, r := range c.Receivers {
		resp, err := b.Get(context.Background(), r.URL+"/auth")
		if err != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s /auth after a failed login: %v %v", r.Name, resp.StatusCode, err)
		}
	}
}

// Revoking the session in Kratos ends it on every receiver once the
// re-check interval has passed, and the next handoff for it is refused.
func TestKratos_revokedSession(t *testing.T) {
	t.Parallel()
	c, k := kratosChain(t)
	id := k.CreateIdentity(t, kratosUser, kratosPass, "member")
	sb := start(t, c, serve.Env{})
	b, tr := kratosWalk(t, sb, kratosPass)
	if tr.Failed() {
		t.Fatalf("walk failed: %v", tr.Findings)
	}
	sid := k.Sessions(t, id)[0]
	k.RevokeSessions(t, id)

	// Within the interval the receivers trust their cookie…
	for _, r := range c.Receivers {
		if resp, err := b.Get(context.Background(), r.URL+"/auth"); err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("%s /auth right after the revocation: %v %v, want 200 until the re-check", r.Name, resp.StatusCode, err)
		}
	}
	// …and past it they ask Kratos, which no longer knows the session.
	sb.Advance(31 * time.Second)
	for _, r := range c.Receivers {
		if resp, err := b.Get(context.Background(), r.URL+"/auth"); err != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s /auth after the re-check interval: %v %v, want 401", r.Name, resp.StatusCode, err)
		}
	}
	// A handoff minted for the revoked session is refused at /sso.
	tok := mintHandoff(t, sb, "portal", id, sid)
	resp, err := b.Get(context.Background(), c.Receivers[0].URL+chain.SSOPath+"?token="+tok)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) > 0 {
		t.Errorf("handoff for a revoked session: %v %v, cookies %d", resp.StatusCode, err, len(resp.Cookies()))
	}
}

// With Kratos down the roles fail closed (503, never a bypass) and recover
// when it is back.
func TestKratos_downFailsClosed(t *testing.T) {
	t.Parallel()
	c, k := kratosChain(t)
	k.CreateIdentity(t, kratosUser, kratosPass, "")
	sb := start(t, c, serve.Env{})
	b, tr := kratosWalk(t, sb, kratosPass)
	if tr.Failed() {
		t.Fatalf("walk failed: %v", tr.Findings)
	}
	k.Stop(t)
	sb.Advance(31 * time.Second) // the receivers' next /auth must ask Kratos
	for _, r := range c.Receivers {
		if resp, err := b.Get(context.Background(), r.URL+"/auth"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s /auth with Kratos down: %v %v, want 503", r.Name, resp.StatusCode, err)
		}
	}
	if resp, err := b.Get(context.Background(), chain.StartURL(c)); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("issuer /login with Kratos down: %v %v, want 503", resp.StatusCode, err)
	}

	// Back up, with an empty store (dsn: memory): the old session is gone,
	// so the receivers say 401, and a new login walks the chain again.
	k.Restart(t)
	for _, r := range c.Receivers {
		if resp, err := b.Get(context.Background(), r.URL+"/auth"); err != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s /auth after Kratos restarted: %v %v, want 401", r.Name, resp.StatusCode, err)
		}
	}
	k.CreateIdentity(t, kratosUser, kratosPass, "")
	_, tr = kratosWalk(t, sb, kratosPass)
	if tr.Failed() || !strings.HasPrefix(tr.Final, c.Expect.FinalURLPrefix) {
		t.Errorf("walk after Kratos came back: final %s, findings %v", tr.Final, tr.Findings)
	}
}

// mintHandoff signs a handoff as the issuer would, for a session of the
// test's choosing.
func mintHandoff(t *testing.T, sb *sandbox.Sandbox, aud, sub, sid string) string {
	t.Helper()
	c := sb.Chain()
	tok, _, err := token.Mint(sb.Keys().Signing, token.MintOptions{
		Issuer: strings.TrimSuffix(c.Issuer.URL, "/"), Audience: aud, Subject: sub, SessionID: sid,
		TTL: c.Token.TTL, Return: strings.TrimSuffix(c.Issuer.URL, "/") + "/", Now: sb.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
