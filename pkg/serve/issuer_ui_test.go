package serve_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/ssoctl/ssoctl/internal/browsertest"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve"
)

// The issuer's /ui pages against a fake Kratos public API: the shapes and
// failures a real Kratos cannot be made to produce on demand (a foreign
// form action, hostile texts, odd node types, 5xx). The real flow, end to
// end, is in pkg/sandbox's Kratos tests.

const flowID = "0b5b0d1e-7f3a-4d0e-9c43-2f0b8f6d8a11"

func kratosChainYAML() string {
	return strings.Replace(strings.Replace(localChain, "kind: dev", "kind: kratos", 1),
		"  users:\n    - {email: alice@example.com, password: wonderland, role: admin}\n", "", 1)
}

// fakeKratos answers the flow endpoints with what its fields say.
type fakeKratos struct {
	mu      sync.Mutex
	status  int
	body    any
	cookies []string // Cookie headers it was sent
	calls   int
}

func (f *fakeKratos) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.cookies = append(f.cookies, r.Header.Get("Cookie"))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.status)
	_ = json.NewEncoder(w).Encode(f.body)
}

func loginFlow(action string, nodes ...map[string]any) map[string]any {
	return map[string]any{
		"id": flowID, "type": "browser", "expires_at": "2099-01-01T00:00:00Z", "issued_at": "2020-01-01T00:00:00Z",
		"request_url": idpPublic + "/self-service/login/browser", "state": "choose_method",
		"return_to": issuerURL + "/callback?state=abc",
		"ui": map[string]any{"action": action, "method": "POST", "nodes": nodes,
			"messages": []any{map[string]any{"id": 4000006, "type": "error", "text": `The provided credentials are invalid <script>alert(1)</script>`}}},
	}
}

func inputNode(group, name, typ, value, label string) map[string]any {
	n := map[string]any{"type": "input", "group": group, "messages": []any{},
		"attributes": map[string]any{"node_type": "input", "name": name, "type": typ, "value": value, "disabled": false},
		"meta":       map[string]any{}}
	if label != "" {
		n["meta"] = map[string]any{"label": map[string]any{"id": 1, "type": "info", "text": label}}
	}
	return n
}

func passwordNodes() []map[string]any {
	return []map[string]any{
		inputNode("default", "csrf_token", "hidden", "csrf-value-from-kratos", ""),
		inputNode("default", "identifier", "text", "", "E-Mail"),
		inputNode("password", "password", "password", "", "Password"),
		inputNode("password", "method", "submit", "password", "Sign in"),
	}
}

type uiChain struct {
	net    *browsertest.Net
	kratos *fakeKratos
	client *http.Client
}

func startUIChain(t *testing.T, yaml string) *uiChain {
	t.Helper()
	c, err := chain.Parse("chain.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	u := &uiChain{net: browsertest.NewNet(), kratos: &fakeKratos{status: 200}}
	u.net.Serve(t, idpPublic, u.kratos)
	roles, err := serve.NewRoles(c, serve.Env{HTTPClient: u.net.Client()}, serve.RoleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u.net.Serve(t, issuerURL, roles.Issuer)
	u.client = u.net.Client()
	u.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return u
}

func (u *uiChain) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, issuerURL+path, nil)
	req.Header.Set("Cookie", "csrf_token_abc=kratos-csrf; accounts_session=issuer-own; other=x")
	resp, err := u.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestIssuerUI_rendersKratosLoginFlow(t *testing.T) {
	u := startUIChain(t, kratosChainYAML())
	u.kratos.body = loginFlow(idpPublic+"/self-service/login?flow="+flowID,
		append(passwordNodes(),
			inputNode("oidc", "provider", "submit", "github", "Sign in with GitHub"),
			inputNode("password", "traits.odd", "javascript:alert(1)", "", ""))...)
	resp, page := u.get(t, chain.UILoginPath+"?flow="+flowID)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d\n%s", resp.StatusCode, page)
	}
	for _, want := range []string{
		`<form method="POST" action="` + idpPublic + `/self-service/login?flow=` + flowID + `">`,
		`<input type="hidden" name="csrf_token" value="csrf-value-from-kratos">`,
		`<label for="f-identifier">E-Mail</label>`,
		`<input id="f-identifier" name="identifier" type="text">`,
		`<input id="f-password" name="password" type="password">`,
		`<button type="submit" name="method" value="password">Sign in</button>`,
		`The provided credentials are invalid &lt;script&gt;alert(1)&lt;/script&gt;`,
		`<input id="f-traits-odd" name="traits.odd" type="text">`,
		`the identity provider's other methods (oidc) are not shown`,
		`After this you go back to accounts.company.localhost:8080.`,
		`href="` + idpPublic + `/self-service/registration/browser?return_to=` + url.QueryEscape(issuerURL+"/callback?state=abc") + `"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s\n%s", want, page)
		}
	}
	if strings.Contains(page, "github") || strings.Contains(page, "<script>") {
		t.Errorf("page shows what it must not:\n%s", page)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, o := range []string{idpPublic, issuerURL, portalURL, dashboardURL} {
		if !strings.Contains(csp, "form-action 'self' ") || !strings.Contains(csp, o) {
			t.Errorf("CSP %q lacks %s in form-action", csp, o)
		}
	}
	if got := u.kratos.cookies[0]; got != "csrf_token_abc=kratos-csrf; other=x" {
		t.Errorf("Kratos was sent Cookie %q; want the browser's minus the issuer's own", got)
	}
}

func TestIssuerUI_answers(t *testing.T) {
	gone := func(id, redirect string) map[string]any {
		e := map[string]any{"id": id, "code": 410, "status": "Gone", "message": "gone"}
		if redirect != "" {
			e["details"] = map[string]any{"redirect_to": redirect}
		}
		return map[string]any{"error": e}
	}
	tests := []struct {
		description string
		path        string
		status      int
		body        any
		want        int
		location    string // prefix
		contains    string
		noCall      bool
	}{
		{description: "no flow id: a login starts at the issuer's /login", path: chain.UILoginPath,
			want: 303, location: issuerURL + "/login", noCall: true},
		{description: "no flow id: a registration starts at Kratos", path: chain.UIRegistrationPath,
			want: 303, location: idpPublic + "/self-service/registration/browser?return_to=", noCall: true},
		{description: "a flow id that is not a UUID never reaches Kratos", path: chain.UILoginPath + "?flow=../../admin",
			want: 410, contains: "flow_gone", noCall: true},
		{description: "an expired flow restarts where Kratos says, on its own origin", path: chain.UILoginPath + "?flow=" + flowID,
			status: 410, body: gone("self_service_flow_expired", idpPublic+"/self-service/login/browser?return_to=x"),
			want: 303, location: idpPublic + "/self-service/login/browser?return_to=x"},
		{description: "a restart URL off the IdP's origin is not followed", path: chain.UILoginPath + "?flow=" + flowID,
			status: 410, body: gone("self_service_flow_expired", "https://evil.example/"),
			want: 410, contains: "self_service_flow_expired"},
		{description: "a CSRF refusal explains the cookie domain", path: chain.UILoginPath + "?flow=" + flowID,
			status: 403, body: gone("security_csrf_violation", ""),
			want: 410, contains: "cookies.domain must cover accounts.company.localhost"},
		{description: "a form that posts off the IdP is refused", path: chain.UILoginPath + "?flow=" + flowID,
			body: loginFlow("https://evil.example/collect", passwordNodes()...),
			want: 502, contains: "flow_action_foreign"},
		{description: "Kratos failing is a 503 with a retry, never a form", path: chain.UILoginPath + "?flow=" + flowID,
			status: 500, body: map[string]any{"error": map[string]any{"code": 500, "message": "db down"}},
			want: 503, contains: "idp_unavailable"},
		{description: "a registration flow renders its traits", path: chain.UIRegistrationPath + "?flow=" + flowID,
			body: loginFlow(idpPublic+"/self-service/registration?flow="+flowID, inputNode("password", "traits.email", "email", "", "E-Mail")),
			want: 200, contains: `<input id="f-traits-email" name="traits.email" type="email">`},
		{description: "a flow error shows Kratos's reason, escaped", path: chain.UIErrorPath + "?id=" + flowID,
			body: map[string]any{"id": flowID, "error": map[string]any{"code": 500, "reason": "<b>no</b> such thing"}},
			want: 200, contains: "&lt;b&gt;no&lt;/b&gt; such thing"},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			u := startUIChain(t, kratosChainYAML())
			u.kratos.status, u.kratos.body = 200, tt.body
			if tt.status != 0 {
				u.kratos.status = tt.status
			}
			resp, page := u.get(t, tt.path)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tt.want, page)
			}
			if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, tt.location) || (tt.location == "") != (loc == "") {
				t.Errorf("Location %q, want %q", loc, tt.location)
			}
			if !strings.Contains(page, tt.contains) {
				t.Errorf("page lacks %q\n%s", tt.contains, page)
			}
			if tt.noCall && u.kratos.calls != 0 {
				t.Errorf("%d calls reached Kratos", u.kratos.calls)
			}
		})
	}
}

// A dev-IdP chain has no /ui pages: the dev IdP serves its own form.
func TestIssuerUI_onlyForKratos(t *testing.T) {
	u := startUIChain(t, localChain)
	if resp, _ := u.get(t, chain.UILoginPath+"?flow="+flowID); resp.StatusCode != http.StatusNotFound {
		t.Errorf("dev chain /ui/login: %d, want 404", resp.StatusCode)
	}
}
