package tracecmd_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	client "github.com/ory/client-go"

	"github.com/ssoctl/ssoctl/internal/hydratest"
	"github.com/ssoctl/ssoctl/pkg/chain"
)

// TestStart_hydra walks the OpenID Connect login of two small relying
// parties against a real Ory Hydra with `trace chain --start`: the login
// page of a login app (filled with --user and --password-env), Hydra's
// resumed authorization requests, and the code back at the redirect_uri.
//
//   - rp-pkce sends PKCE S256, state and nonce: the OIDC hops show, with
//     no finding, and Hydra refuses both redirect_uri probes; given the
//     client's secret (--client-secret-file), code_replay redeems a code,
//     verifies its ID token, and Hydra refuses the same code the second
//     time.
//   - rp-bare sends neither PKCE nor state, to a client Hydra does not
//     enforce PKCE for (its default): SSO501 and SSO502, and Hydra's own
//     answer, which refuses a request without a state (invalid_state).
func TestStart_hydra(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	// One listener, three names: the Dialer sends *.localhost to loopback,
	// and each name keeps its own cookies, as in a browser.
	loginURL := "http://login.company.localhost:" + port
	rps := map[string]string{
		"rp-pkce": "http://rp-pkce.company2.localhost:" + port,
		"rp-bare": "http://rp-bare.company3.localhost:" + port,
	}
	h := hydratest.Start(t, hydratest.Options{
		Host:       "hydra.company.localhost",
		LoginURL:   loginURL + "/login",
		ConsentURL: loginURL + "/consent",
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("hydra's log:\n%s", h.Log())
		}
	})
	app := &loginApp{t: t, api: h.OAuth2API(), rps: map[string]*relyingParty{}}
	creds := map[string][]string{} // --client-id and --client-secret-file, by relying party
	for name, origin := range rps {
		id, secret := h.CreateClient(t, hydratest.Client{Name: name, RedirectURIs: []string{origin + "/callback"}, Scope: "openid email"})
		params := url.Values{
			"response_type": {"code"}, "client_id": {id}, "redirect_uri": {origin + "/callback"}, "scope": {"openid email"},
		}
		if name == "rp-pkce" {
			params.Set("state", "state-value-0123456789")
			params.Set("nonce", "nonce-value-0123456789")
			params.Set("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
			params.Set("code_challenge_method", "S256")
		}
		file := filepath.Join(t.TempDir(), "secret")
		if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		creds[name] = []string{"--client-id", id, "--client-secret-file", file}
		u, _ := url.Parse(origin)
		app.rps[u.Hostname()] = &relyingParty{authorize: h.PublicURL() + "/oauth2/auth", params: params}
	}
	srv.Config.Handler = app
	srv.Start()

	tests := []struct {
		rp       string
		args     []string
		code     int
		findings []string
		last     chain.OIDCSummary // the callback
		probes   int
	}{
		{
			rp: "rp-pkce", args: []string{"--probe"}, code: 0,
			last:   chain.OIDCSummary{Kind: chain.OIDCCallback, In: "query", Code: true, State: true},
			probes: 3,
		},
		{
			rp: "rp-bare", code: 1, findings: []string{"SSO501", "SSO502"},
			last: chain.OIDCSummary{Kind: chain.OIDCError, In: "query", Error: "invalid_state"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.rp, func(t *testing.T) {
			args := append([]string{"-o", "json", "trace", "chain", "--start", rps[tt.rp] + "/login",
				"--user", "alice@example.com", "--password-env", "TRACE_PW"}, tt.args...)
			if tt.probes > 0 {
				args = append(args, creds[tt.rp]...)
			}
			r := run(t, "", args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", r.code, tt.code, r.stdout, r.stderr)
			}
			// chain.Severity does not unmarshal; the test reads what it needs.
			var tr struct {
				Steps []struct {
					Kind        chain.HopKind
					Method, URL string
					OIDC        *chain.OIDCSummary
				}
				Findings []struct{ Code string }
				Probes   []chain.ProbeResult
			}
			if err := json.Unmarshal([]byte(r.stdout), &tr); err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, s := range tr.Steps {
				kinds = append(kinds, fmt.Sprintf("%s %s %s", s.Kind, s.Method, hostPathOf(s.URL)))
			}
			hydra := strings.TrimPrefix(h.PublicURL(), "http://")
			login := strings.TrimPrefix(loginURL, "http://")
			rp := strings.TrimPrefix(rps[tt.rp], "http://")
			want := []string{
				" GET " + rp + "/login",
				"oidc_auth GET " + hydra + "/oauth2/auth",
			}
			if tt.last.Kind != chain.OIDCError {
				want = append(want,
					" GET "+login+"/login",
					" POST "+login+"/login",
					"oidc_auth GET "+hydra+"/oauth2/auth",
					" GET "+login+"/consent",
					"oidc_auth GET "+hydra+"/oauth2/auth",
				)
			}
			want = append(want, "oidc_callback GET "+rp+"/callback")
			if !slices.Equal(kinds, want) {
				t.Errorf("hops:\n  %s\nwant:\n  %s", strings.Join(kinds, "\n  "), strings.Join(want, "\n  "))
			}
			var got []string
			for _, f := range tr.Findings {
				got = append(got, f.Code)
			}
			if !slices.Equal(got, tt.findings) {
				t.Errorf("findings %v, want %v", got, tt.findings)
			}
			auth := tr.Steps[1].OIDC
			if auth == nil || auth.Kind != chain.OIDCAuthorizationRequest || auth.State != (tt.rp == "rp-pkce") ||
				(auth.CodeChallengeMethod == "S256") != (tt.rp == "rp-pkce") || auth.RedirectURI != rps[tt.rp]+"/callback" {
				t.Errorf("authorization request: %+v", auth)
			}
			last := tr.Steps[len(tr.Steps)-1].OIDC
			if last == nil {
				t.Fatal("the last step is no callback")
			}
			tt.last.ClientID = auth.ClientID
			last.ErrorDescription = ""
			if !equalSummary(*last, tt.last) {
				t.Errorf("callback %+v, want %+v", *last, tt.last)
			}
			if len(tr.Probes) != tt.probes {
				t.Errorf("probes %+v", tr.Probes)
			}
			for _, p := range tr.Probes {
				want := hydra + "/oauth2/fallbacks/error answered"
				if p.Name == chain.ProbeCodeReplay {
					// The second exchange of one code.
					want = "then the same code again: refused (400 invalid_grant)"
					if p.Token == nil || p.Token.Alg != "RS256" || len(p.Token.Audience) != 1 || p.Token.Issuer != h.PublicURL() {
						t.Errorf("code_replay's ID token: %+v", p.Token)
					}
				}
				if !p.Refused || p.Target != hydra || !strings.Contains(p.Detail, want) {
					t.Errorf("probe %+v: Hydra must refuse it (%s)", p, want)
				}
			}
			if strings.Contains(r.stdout, "state-value-0123456789") && strings.Contains(string(mustJSON(t, auth)), "state-value") {
				t.Error("the oidc record holds the state")
			}
		})
	}
}

func equalSummary(a, b chain.OIDCSummary) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hostPathOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Host + u.Path
}

// relyingParty starts an authorization request with fixed parameters at
// /login and shows a page at its /callback; it never redeems the code.
type relyingParty struct {
	authorize string
	params    url.Values
}

// loginApp is Hydra's login and consent app (a login form that takes
// alice's password, a consent that grants what was asked), and, by host
// name, the relying parties.
type loginApp struct {
	t   *testing.T
	api client.OAuth2API
	rps map[string]*relyingParty // by host name
}

func (a *loginApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host, _, _ := net.SplitHostPort(r.Host)
	if rp, ok := a.rps[host]; ok {
		switch r.URL.Path {
		case "/login":
			http.Redirect(w, r, rp.authorize+"?"+rp.params.Encode(), http.StatusFound)
		case "/callback":
			w.Header().Set("Referrer-Policy", "no-referrer")
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<p>signed in</p>")
		default:
			http.NotFound(w, r)
		}
		return
	}
	ctx := r.Context()
	var to string
	switch {
	case r.URL.Path == "/login" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<form method="post" action="/login"><input type="hidden" name="login_challenge" value="%s">
<input name="email" type="email" autocomplete="username"><input name="password" type="password"><button>Sign in</button></form>`,
			html.EscapeString(r.URL.Query().Get("login_challenge")))
		return
	case r.URL.Path == "/login":
		if r.PostFormValue("email") != "alice@example.com" || r.PostFormValue("password") != "env-password-not-shown" {
			http.Error(w, "wrong email or password", http.StatusUnauthorized)
			return
		}
		red, _, err := a.api.AcceptOAuth2LoginRequest(ctx).LoginChallenge(r.PostFormValue("login_challenge")).
			AcceptOAuth2LoginRequest(client.AcceptOAuth2LoginRequest{Subject: "alice", Remember: client.PtrBool(true)}).Execute()
		if err != nil {
			a.fail(w, "accept login", err)
			return
		}
		to = red.RedirectTo
	case r.URL.Path == "/consent":
		cr, _, err := a.api.GetOAuth2ConsentRequest(ctx).ConsentChallenge(r.URL.Query().Get("consent_challenge")).Execute()
		if err != nil {
			a.fail(w, "get consent request", err)
			return
		}
		red, _, err := a.api.AcceptOAuth2ConsentRequest(ctx).ConsentChallenge(cr.Challenge).
			AcceptOAuth2ConsentRequest(client.AcceptOAuth2ConsentRequest{
				GrantScope: cr.RequestedScope, GrantAccessTokenAudience: cr.RequestedAccessTokenAudience,
			}).Execute()
		if err != nil {
			a.fail(w, "accept consent", err)
			return
		}
		to = red.RedirectTo
	default:
		http.NotFound(w, r)
		return
	}
	http.Redirect(w, r, to, http.StatusFound)
}

func (a *loginApp) fail(w http.ResponseWriter, what string, err error) {
	var oe *client.GenericOpenAPIError
	if errors.As(err, &oe) {
		err = errors.New(oe.Error() + ": " + string(oe.Body()))
	}
	a.t.Errorf("login app: %s: %v", what, err)
	http.Error(w, err.Error(), http.StatusInternalServerError)
}
