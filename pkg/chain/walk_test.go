package chain_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/testenv"
	"github.com/ssoctl/ssoctl/pkg/chain"
)

// hops renders a trace's steps as "kind METHOD origin+path form", one
// line each, for comparing walks without their one-time values.
func hops(t *chain.Trace) []string {
	var out []string
	for _, st := range t.Steps {
		u, err := url.Parse(st.URL)
		line := fmt.Sprintf("%s %s %s", st.Kind, st.Method, st.URL)
		if err == nil {
			line = fmt.Sprintf("%s %s %s://%s%s", st.Kind, st.Method, u.Scheme, u.Host, u.Path)
		}
		if st.Form != "" {
			line += " (" + st.Form + ")"
		}
		out = append(out, fmt.Sprintf("%d %s", st.Status, line))
	}
	return out
}

func codes(fs []chain.Finding) []string {
	var out []string
	for _, f := range fs {
		c := f.Code
		if f.Severity == chain.SeverityWarning {
			c += "(warning)"
		}
		out = append(out, c)
	}
	return out
}

func traceJSON(t testing.TB, tr *chain.Trace) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(tr); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// secretsAbsent fails when the JSON of a trace holds a token, a cookie
// value or a password.
func secretsAbsent(t *testing.T, tr *chain.Trace, secrets ...string) {
	t.Helper()
	js := traceJSON(t, tr)
	if jwt := testenv.JWT.FindString(js); jwt != "" {
		t.Errorf("the trace holds a token (%.20s…):\n%s", jwt, js)
	}
	for _, s := range secrets {
		if strings.Contains(js, s) {
			t.Errorf("the trace holds %q:\n%s", s, js)
		}
	}
}

func walk(t *testing.T, b *chain.Browser, start string) *chain.Trace {
	t.Helper()
	tr, err := b.Walk(context.Background(), start)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// cookieLine renders a held cookie with its attributes.
func cookieLine(c chain.CookieInfo) string {
	s := c.Name + " from " + c.Host
	if c.Domain != "" {
		s += " Domain=" + c.Domain
	}
	s += " Path=" + c.Path
	if c.Secure {
		s += " Secure"
	}
	if c.HttpOnly {
		s += " HttpOnly"
	}
	if c.SameSite != "" {
		s += " SameSite=" + c.SameSite
	}
	if c.MaxAge != 0 {
		s += fmt.Sprintf(" Max-Age=%d", c.MaxAge)
	}
	return s
}

func heldCookies(tr *chain.Trace) map[string][]string {
	out := map[string][]string{}
	for host, cs := range tr.Cookies {
		for _, c := range cs {
			out[host] = append(out[host], cookieLine(c))
		}
	}
	return out
}

func equalLists(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// The DESIGN §12 chain, served by ssoctl's own roles, walked by transport.
func TestWalkDesignChain(t *testing.T) {
	const (
		issuer    = "http://accounts.company.localhost:8080"
		idp       = "http://auth.company.localhost:4433"
		portal    = "http://portal.company2.localhost:8081"
		dashboard = "http://dashboard.company3.localhost:8082"
	)
	tests := []struct {
		transport string
		wantHops  []string
	}{
		{
			transport: "query",
			wantHops: []string{
				"303 login GET " + issuer + "/login",
				"200 idp_login GET " + idp + "/self-service/login/browser",
				"303 idp_login POST " + idp + "/self-service/login (login)",
				"303 callback GET " + issuer + "/callback",
				"303 handoff GET " + portal + "/sso",
				"303 continue GET " + issuer + "/sso/continue",
				"303 handoff GET " + dashboard + "/sso",
				"303 continue GET " + issuer + "/sso/continue",
				"200 final GET " + dashboard + "/",
			},
		},
		{
			transport: "form_post",
			wantHops: []string{
				"303 login GET " + issuer + "/login",
				"200 idp_login GET " + idp + "/self-service/login/browser",
				"303 idp_login POST " + idp + "/self-service/login (login)",
				"200 callback GET " + issuer + "/callback",
				"303 handoff POST " + portal + "/sso (form_post)",
				"200 continue GET " + issuer + "/sso/continue",
				"303 handoff POST " + dashboard + "/sso (form_post)",
				"303 continue GET " + issuer + "/sso/continue",
				"200 final GET " + dashboard + "/",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.transport, func(t *testing.T) {
			sb := standUp(t, withTransport(designChain, tt.transport))
			b := sb.browser(nil)
			tr := walk(t, b, chain.StartURL(sb.chain))
			b.Expect(context.Background(), tr, sb.chain.Expect)

			equalLists(t, "hops", hops(tr), tt.wantHops)
			if len(tr.Findings) != 0 {
				t.Errorf("findings on a clean chain: %+v", tr.Findings)
			}
			for _, x := range tr.Expectations {
				if !x.OK {
					t.Errorf("expectation %s: want %s, got %s", x.Name, x.Want, x.Got)
				}
			}
			if len(tr.Expectations) != 8 || tr.Failed() {
				t.Errorf("%d expectations, failed=%v: %+v", len(tr.Expectations), tr.Failed(), tr.Expectations)
			}
			if tr.Final != dashboard+"/" || tr.FinalStatus != 200 || tr.Unreachable != "" {
				t.Errorf("ended at %s (%d), unreachable %q", tr.Final, tr.FinalStatus, tr.Unreachable)
			}
			in := `query "token"`
			if tt.transport == "form_post" {
				in = `form "token"`
			}
			var auds []string
			for _, st := range tr.Steps {
				if st.Token == nil {
					continue
				}
				tok := st.Token
				auds = append(auds, strings.Join(tok.Audience, ","))
				if tok.In != in || tok.Alg != "HS256" || tok.Typ != "sso-handoff+jwt" || tok.Issuer != issuer ||
					tok.LifetimeS != 30 || !strings.HasSuffix(tok.JTIPrefix, "…") || len([]rune(tok.JTIPrefix)) != 7 ||
					!strings.HasPrefix(tok.Return, issuer+"/sso/continue?state=") || len(tok.Warnings) != 0 {
					t.Errorf("step %d token: %+v", st.N, tok)
				}
				if st.Kind != chain.HopHandoff {
					t.Errorf("step %d carries a token but is %q", st.N, st.Kind)
				}
			}
			equalLists(t, "token audiences", auds, []string{"portal", "dashboard"})

			equalLists(t, "held by accounts", heldCookies(tr)["accounts.company.localhost"], []string{
				"accounts_session from accounts.company.localhost Path=/ HttpOnly SameSite=Lax Max-Age=28800",
				"ory_kratos_session from auth.company.localhost Domain=company.localhost Path=/ HttpOnly SameSite=Lax Max-Age=86400",
			})
			equalLists(t, "held by the IdP", heldCookies(tr)["auth.company.localhost"], []string{
				"ory_kratos_session from auth.company.localhost Domain=company.localhost Path=/ HttpOnly SameSite=Lax Max-Age=86400",
			})
			equalLists(t, "held by portal", heldCookies(tr)["portal.company2.localhost"], []string{
				"portal_session from portal.company2.localhost Path=/ HttpOnly SameSite=Lax Max-Age=28800",
			})
			equalLists(t, "held by dashboard", heldCookies(tr)["dashboard.company3.localhost"], []string{
				"dashboard_session from dashboard.company3.localhost Path=/ HttpOnly SameSite=Lax Max-Age=28800",
			})
			if n := len(tr.Cookies); n != 4 {
				t.Errorf("cookies held for %d hosts, want 4: %v", n, heldCookies(tr))
			}
			// The CSRF cookie of the login form, cleared by the login.
			if got := tr.Steps[2].SetCookies; len(got) != 2 || got[1].Name != "ssoctl_idp_csrf" || !got[1].Deleted {
				t.Errorf("the login's Set-Cookies: %+v", got)
			}
			secretsAbsent(t, tr, "wonderland")
		})
	}
}

// A browser without credentials stops where a person would type.
func TestWalkStopsAtTheLoginFormWithoutCredentials(t *testing.T) {
	sb := standUp(t, designChain)
	noUsers := *sb.chain
	noUsers.IdP.Users = nil
	tr := walk(t, sb.browser(&noUsers), chain.StartURL(sb.chain))
	equalLists(t, "hops", hops(tr), []string{
		"303 login GET " + designIssuer + "/login",
		"200 idp_login GET " + designIdP + "/self-service/login/browser",
	})
	if !strings.HasPrefix(tr.Final, designIdP+"/self-service/login/browser?") || tr.FinalStatus != 200 || len(tr.Findings) != 0 {
		t.Errorf("ended at %s (%d) with findings %v", tr.Final, tr.FinalStatus, codes(tr.Findings))
	}
}

// The dev IdP's listeners are gone. A new browser is sent there and
// cannot connect; a browser with an IdP session meets the issuer failing
// closed with a 503 that names the IdP. Either way the IdP is unreachable.
func TestWalkIdPDown(t *testing.T) {
	sb := standUp(t, designChain)
	signedIn := sb.browser(nil)
	if tr := walk(t, signedIn, chain.StartURL(sb.chain)); tr.Failed() || tr.Final != designDashboard+"/" {
		t.Fatalf("first walk: %s %v", tr.Final, codes(tr.Findings))
	}
	sb.srv[designIdP].Close()
	sb.srv[designIdPAdmin].Close()

	b := sb.browser(nil)
	tr := walk(t, b, chain.StartURL(sb.chain))
	b.Expect(context.Background(), tr, sb.chain.Expect)
	equalLists(t, "hops", hops(tr), []string{
		"303 login GET " + designIssuer + "/login",
		"0 idp_login GET " + designIdP + "/self-service/login/browser",
	})
	equalLists(t, "findings", codes(tr.Findings), []string{"SSO401"})
	if tr.Unreachable != "auth.company.localhost:4433" || !tr.Failed() || !strings.Contains(tr.Steps[1].Error, "auth.company.localhost:4433") {
		t.Errorf("unreachable %q, failed %v, error %q", tr.Unreachable, tr.Failed(), tr.Steps[1].Error)
	}

	tr = walk(t, signedIn, chain.StartURL(sb.chain))
	equalLists(t, "hops", hops(tr), []string{"503 login GET " + designIssuer + "/login"})
	equalLists(t, "findings", codes(tr.Findings), []string{"SSO401"})
	if tr.Unreachable != "auth.company.localhost:4433" || !tr.Failed() {
		t.Errorf("unreachable %q, failed %v", tr.Unreachable, tr.Failed())
	}
}

// Credentials the IdP refuses bring its form back; the walk does not submit
// it again and again.
func TestWalkStopsWhenTheLoginIsRefused(t *testing.T) {
	a := startAcme(t, acmeFaults{})
	tr := walk(t, a.browser(a.chain(), acmeUser, "wrong"), acmeStart())
	equalLists(t, "hops", hops(tr), []string{
		"302 login GET " + acmeIssuer + "/signin",
		"200 idp_login GET " + acmeIdP + "/idp/authorize",
		"200 idp_login POST " + acmeIdP + "/idp/login (login)",
	})
	// A user without a password gets no further than the form.
	tr = walk(t, a.browser(a.chain(), acmeUser, ""), acmeStart())
	if len(tr.Steps) != 2 || tr.FinalStatus != 200 {
		t.Errorf("without a password: %v", hops(tr))
	}
}

// A walk of acme (a chain ssoctl does not serve) straight to an IdP that
// does not answer: the dial fails and the walk stops there.
func TestWalkIdPUnreachableByDial(t *testing.T) {
	a := startAcme(t, acmeFaults{})
	a.srv[acmeIdP].Close()
	tr := walk(t, a.browser(a.chain(), acmeUser, acmePass), acmeStart())
	equalLists(t, "hops", hops(tr), []string{
		"302 login GET " + acmeIssuer + "/signin",
		"0 idp_login GET " + acmeIdP + "/idp/authorize",
	})
	equalLists(t, "findings", codes(tr.Findings), []string{"SSO401"})
	if tr.Unreachable != "id.acme.example:8001" || tr.Steps[1].Error == "" {
		t.Errorf("unreachable %q, error %q", tr.Unreachable, tr.Steps[1].Error)
	}
	// Without a chain, the walk cannot tell the IdP from any host: the
	// host is unreachable (exit 3), with no finding.
	tr = walk(t, a.browser(nil, acmeUser, acmePass), acmeStart())
	if len(tr.Findings) != 0 || tr.Unreachable != "id.acme.example:8001" {
		t.Errorf("without a chain: findings %v, unreachable %q", codes(tr.Findings), tr.Unreachable)
	}
}

// An unreachable receiver: the error names the host, never the token the
// request carried.
func TestWalkUnreachableReceiverKeepsTheTokenOutOfTheError(t *testing.T) {
	a := startAcme(t, acmeFaults{})
	a.srv[acmeApp1].Close()
	tr := walk(t, a.browser(nil, acmeUser, acmePass), acmeStart())
	last := tr.Steps[len(tr.Steps)-1]
	if tr.Unreachable != "app1.shop.example:8002" || !strings.Contains(last.Error, "app1.shop.example:8002") || last.Token == nil {
		t.Errorf("unreachable %q, last step %+v", tr.Unreachable, last)
	}
	secretsAbsent(t, tr)
}

// acmeTest is one walk of acme, read like a story: what is broken, whether
// the browser knows the chain, and what the trace must say.
type acmeTest struct {
	description string
	faults      acmeFaults
	withChain   bool
	wantCodes   []string // the trace's findings, in order
	wantFinal   string   // "" is acmeFinal
	check       func(t *testing.T, tr *chain.Trace)
}

var acmeTests = []acmeTest{
	{
		description: "A clean walk, without the chain file: only what the servers say.",
		check: func(t *testing.T, tr *chain.Trace) {
			equalLists(t, "hops", hops(tr), []string{
				"302  GET " + acmeIssuer + "/signin",
				"200  GET " + acmeIdP + "/idp/authorize",
				"302  POST " + acmeIdP + "/idp/login (login)",
				"302  GET " + acmeIssuer + "/cb",
				"200 handoff GET " + acmeApp1 + "/session/accept",
				"303 handoff POST " + acmeApp2 + "/handoff (form_post)",
				"200  GET " + acmeApp2 + "/home",
			})
		},
	},
	{
		description: "A clean walk with the chain file: hops get their kinds from roles and order.",
		withChain:   true,
		check: func(t *testing.T, tr *chain.Trace) {
			equalLists(t, "hops", hops(tr), []string{
				"302 login GET " + acmeIssuer + "/signin",
				"200 idp_login GET " + acmeIdP + "/idp/authorize",
				"302 idp_login POST " + acmeIdP + "/idp/login (login)",
				"302 callback GET " + acmeIssuer + "/cb",
				"200 handoff GET " + acmeApp1 + "/session/accept",
				"303 handoff POST " + acmeApp2 + "/handoff (form_post)",
				"200 final GET " + acmeApp2 + "/home",
			})
			equalLists(t, "token places", []string{tr.Steps[4].Token.In, tr.Steps[5].Token.In}, []string{`query "jwt"`, `form "assertion"`})
		},
	},
	{
		description: "app1 also sets a cookie for Domain=example, a public suffix: browsers drop it.",
		faults:      acmeFaults{publicSuffix: true},
		wantCodes:   []string{"SSO201"},
		check: func(t *testing.T, tr *chain.Trace) {
			sc := tr.Steps[4].SetCookies
			if len(sc) != 2 || sc[1].Name != "shop_pref" || !strings.Contains(sc[1].Rejected, "public suffix") {
				t.Errorf("Set-Cookies at app1: %+v", sc)
			}
			for _, c := range tr.Cookies["app1.shop.example"] {
				if c.Name == "shop_pref" {
					t.Error("the jar holds a cookie for a public suffix")
				}
			}
		},
	},
	{
		description: "app1 sets its session cookie for its whole registrable domain; no chain file says it must not.",
		faults:      acmeFaults{registrableDomain: true},
		wantCodes:   []string{"SSO201(warning)"},
	},
	{
		description: "The same, with the chain file: a receiver has no sibling to share a cookie with.",
		faults:      acmeFaults{registrableDomain: true},
		withChain:   true,
		wantCodes:   []string{"SSO201"},
	},
	{
		description: "app2's session cookie can be read by scripts.",
		faults:      acmeFaults{noHttpOnly: true},
		wantCodes:   []string{"SSO202"},
	},
	{
		description: "app1 shows a page while the token sits in its URL, with no Referrer-Policy.",
		faults:      acmeFaults{noReferrerPolicy: true},
		wantCodes:   []string{"SSO303"},
		check: func(t *testing.T, tr *chain.Trace) {
			if fs := tr.Steps[4].Findings; len(fs) != 1 || fs[0].Step != 5 || fs[0].Host != "app1.shop.example" {
				t.Errorf("step 5 findings: %+v", fs)
			}
		},
	},
	{
		description: "The issuer mints handoffs that live an hour.",
		faults:      acmeFaults{ttl: time.Hour},
		wantCodes:   []string{"SSO101"},
		check: func(t *testing.T, tr *chain.Trace) {
			if !strings.Contains(tr.Steps[3].Location, "<token aud=app1 ttl=1h>") || tr.Steps[4].Token.LifetimeS != 3600 {
				t.Errorf("location %s, token %+v", tr.Steps[3].Location, tr.Steps[4].Token)
			}
		},
	},
	{
		description: "The issuer mints handoffs without an audience.",
		faults:      acmeFaults{noAud: true},
		wantCodes:   []string{"SSO102"},
	},
	{
		description: "The issuer mints app1's handoff for app2, and app1 takes it; only the chain file can tell.",
		faults:      acmeFaults{audience: "app2"},
		withChain:   true,
		wantCodes:   []string{"SSO102"},
	},
	{
		description: "The issuer's handoff is unsigned, and app1 takes it.",
		faults:      acmeFaults{algNone: true},
		wantCodes:   []string{"SSO104"},
	},
	{
		description: "The issuer's handoff has no typ.",
		faults:      acmeFaults{noTyp: true},
		wantCodes:   []string{"SSO106(warning)"},
	},
	{
		description: "app2's /home and /home2 send the browser to each other.",
		faults:      acmeFaults{loop: true},
		wantCodes:   []string{"SSO301"},
		wantFinal:   acmeApp2 + "/home",
		check: func(t *testing.T, tr *chain.Trace) {
			// /home for the third time, and not /home2 again.
			if n := len(tr.Steps); n != 11 || tr.Findings[0].Step != 11 {
				t.Errorf("%d steps, want 11: %v; %+v", n, hops(tr), tr.Findings)
			}
		},
	},
	{
		description: "The issuer's session cookie is SameSite=Strict: the walk, typed at the issuer, gets through, but a sign-in from an app's link would not carry it.",
		faults:      acmeFaults{strictIssuer: true},
		withChain:   true,
		wantCodes:   []string{"SSO204(warning)"},
		check: func(t *testing.T, tr *chain.Trace) {
			if f := tr.Findings[0]; f.Step != 4 || f.Host != "login.acme.example" || !strings.Contains(f.Detail, "acme_sid") {
				t.Errorf("finding: %+v", f)
			}
			for _, s := range tr.Steps {
				if len(s.Withheld) > 0 {
					t.Errorf("step %d withheld %+v; the walk's navigations are same-site to the issuer", s.N, s.Withheld)
				}
			}
		},
	},
	{
		description: "app2's session cookie is SameSite=Strict: the page after the form_post is a cross-site GET, the browser does not send it, and app2 sends the browser round again.",
		faults:      acmeFaults{strictApp2: true},
		wantCodes:   []string{"SSO204(warning)", "SSO301"},
		wantFinal:   acmeApp1 + "/session/accept?jwt=<token aud=app1 ttl=30s>",
		check: func(t *testing.T, tr *chain.Trace) {
			home := tr.Steps[6]
			want := []chain.WithheldCookie{{Name: "app2_session", Host: "app2.blog.example", SameSite: "Strict",
				Reason: "SameSite=Strict on a cross-site GET from shop.example"}}
			if home.URL != acmeFinal || !reflect.DeepEqual(home.Withheld, want) {
				t.Errorf("step 7 %s withheld %+v, want %+v", home.URL, home.Withheld, want)
			}
			if f := tr.Findings[0]; f.Step != 7 || !strings.Contains(f.Detail, "app2_session was not sent to "+acmeApp2) {
				t.Errorf("first finding: %+v", f)
			}
			// The issuer's Lax cookie goes with the cross-site GET back
			// to /signin: no second login.
			if s := tr.Steps[7]; s.URL != acmeStart() || len(s.Withheld) != 0 || s.Location == "" || !strings.HasPrefix(s.Location, acmeApp1) {
				t.Errorf("step 8: %+v", s)
			}
		},
	},
	{
		description: "app2 sends the browser to a foreign site; without the chain file it is just where the walk ends.",
		faults:      acmeFaults{foreignRedirect: true},
		wantFinal:   acmeEvil + "/",
	},
	{
		description: "The same, with the chain file: an open redirect, and the walk does not go there.",
		faults:      acmeFaults{foreignRedirect: true},
		withChain:   true,
		wantCodes:   []string{"SSO302"},
		wantFinal:   acmeApp2 + "/handoff",
	},
	{
		description: "app1's form_post page posts app2's token to a foreign site: the walk does not submit it.",
		faults:      acmeFaults{postToEvil: true},
		withChain:   true,
		wantCodes:   []string{"SSO302"},
		wantFinal:   acmeApp1 + "/session/accept?jwt=<token aud=app1 ttl=30s>",
	},
	{
		description: `app2 redirects to "/\evil.example:8009/": a path to net/url, another site to a browser.`,
		faults:      acmeFaults{backslashRedirect: true},
		withChain:   true,
		wantCodes:   []string{"SSO302"},
		wantFinal:   acmeApp2 + "/handoff",
		check: func(t *testing.T, tr *chain.Trace) {
			if got := tr.Steps[5].Location; got != acmeEvil+"/" {
				t.Errorf("Location read as %s, want %s/", got, acmeEvil)
			}
		},
	},
	{
		description: "The same without the chain file: the walk goes where a browser goes.",
		faults:      acmeFaults{backslashRedirect: true},
		wantFinal:   acmeEvil + "/",
	},
	{
		description: "After the login, a look-alike login form on another site: the password goes only where it went first.",
		faults:      acmeFaults{phish: true},
		wantFinal:   acmeEvil + "/login",
		check: func(t *testing.T, tr *chain.Trace) {
			if last := tr.Steps[len(tr.Steps)-1]; last.Method != http.MethodGet || last.Status != 200 {
				t.Errorf("the walk went on from the look-alike form: %v", hops(tr))
			}
		},
	},
	{
		description: "The issuer hands off in the fragment: the token never reaches app1's server.",
		faults:      acmeFaults{tokenInFragment: true},
		wantFinal:   acmeApp1 + "/session/accept#jwt=<token aud=app1 ttl=30s>",
		check: func(t *testing.T, tr *chain.Trace) {
			if tok := tr.Steps[4].Token; tok == nil || tok.In != `fragment "jwt"` {
				t.Errorf("step 5 token: %+v", tok)
			}
		},
	},
}

func TestWalkAcme(t *testing.T) {
	for _, tt := range acmeTests {
		t.Run(tt.description, func(t *testing.T) {
			a := startAcme(t, tt.faults)
			var c *chain.Chain
			if tt.withChain {
				c = a.chain()
			}
			tr := walk(t, a.browser(c, acmeUser, acmePass), acmeStart())
			equalLists(t, "findings", codes(tr.Findings), tt.wantCodes)
			want := tt.wantFinal
			if want == "" {
				want = acmeFinal
			}
			if tr.Final != want {
				t.Errorf("ended at %s (%d), want %s; hops:\n%s", tr.Final, tr.FinalStatus, want, strings.Join(hops(tr), "\n"))
			}
			for _, f := range tr.Findings {
				if f.Title == "" || f.Fix == "" || f.Detail == "" {
					t.Errorf("finding without title, detail or fix: %+v", f)
				}
			}
			if tt.check != nil {
				tt.check(t, tr)
			}
			secretsAbsent(t, tr, acmePass, "issuer-session-1", "app1-session-7", "app2-session-7", "idp_sess=")
		})
	}
}

// The chains of examples/broken each show their fault in the walk, or (for
// the faults only a probe meets) walk clean, as docs/findings.md says.
func TestWalkFindsTheBrokenExamples(t *testing.T) {
	tests := []struct {
		file string
		want []string // codes the walk must report; nil: none at all
	}{
		{"long-lived-token.yaml", []string{"SSO101"}},
		{"broad-cookie-domain.yaml", []string{"SSO201"}},
		{"redirect-loop.yaml", []string{"SSO301"}},
		{"skips-audience.yaml", nil},
		{"open-return-to.yaml", nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("..", "..", "examples", "broken", tt.file))
			if err != nil {
				t.Skipf("no example: %v", err)
			}
			sb := standUp(t, string(data))
			b := sb.browser(nil)
			tr := walk(t, b, chain.StartURL(sb.chain))
			b.Expect(context.Background(), tr, sb.chain.Expect)
			got := codes(tr.Findings)
			for _, c := range tt.want {
				if !slices.Contains(got, c) {
					t.Errorf("findings %v lack %s", got, c)
				}
			}
			if tt.want == nil && (len(got) > 0 || tr.Failed()) {
				t.Errorf("findings %v, expectations %v", got, expectations(tr))
			}
		})
	}
}

func TestStartURL(t *testing.T) {
	design, err := chain.Parse("chain.yaml", []byte(designChain))
	if err != nil {
		t.Fatal(err)
	}
	noExpect := *design
	noExpect.Expect = chain.Expect{}
	sharedOnly := noExpect
	sharedOnly.Receivers = []chain.Receiver{{Name: "wiki", URL: "http://wiki.company.localhost:8080", SharedCookie: true}}
	lastShared := noExpect
	lastShared.Receivers = append(slices.Clone(noExpect.Receivers), sharedOnly.Receivers...)
	login := designIssuer + "/login?return_to="
	tests := []struct {
		description string
		c           *chain.Chain
		want        string
	}{
		{"expect.final_url_prefix is where the walk must end", design, login + url.QueryEscape(designDashboard+"/")},
		{"else the last receiver that takes a handoff", &noExpect, login + url.QueryEscape(designDashboard+"/")},
		{"shared-cookie receivers take no handoff", &lastShared, login + url.QueryEscape(designDashboard+"/")},
		{"with none, the issuer itself", &sharedOnly, login + url.QueryEscape(designIssuer+"/")},
	}
	for _, tt := range tests {
		if got := chain.StartURL(tt.c); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.description, got, tt.want)
		}
	}
}

func TestWalkErrors(t *testing.T) {
	a := startAcme(t, acmeFaults{})
	b := a.browser(nil, acmeUser, acmePass)
	for _, start := range []string{"", "/signin", "ftp://login.acme.example/", "login.acme.example:8000/signin", "http:///x"} {
		if tr, err := b.Walk(context.Background(), start); err == nil || tr != nil {
			t.Errorf("Walk(%q) = %v, %v; want an error and no trace", start, tr, err)
		}
	}
	_, err := b.Walk(context.Background(), "http://[x.example/?token="+a.sign(map[string]any{"alg": "none"}, map[string]any{"aud": "x"}))
	if err == nil || strings.Contains(err.Error(), "eyJ") {
		t.Errorf("a bad start URL with a token: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tr, err := b.Walk(ctx, acmeStart())
	if !errors.Is(err, context.Canceled) || tr == nil || len(tr.Steps) != 0 {
		t.Errorf("a cancelled walk: %v, %v", tr, err)
	}
}

// A walk that is still being redirected at its step limit is a loop too,
// whatever its URLs.
func TestWalkStepLimit(t *testing.T) {
	a := startAcme(t, acmeFaults{loop: true})
	b, err := chain.NewBrowser(chain.BrowserOptions{Dialer: a.dialer, User: acmeUser, Password: acmePass, Now: a.clock.Now, MaxSteps: 5})
	if err != nil {
		t.Fatal(err)
	}
	tr := walk(t, b, acmeStart())
	equalLists(t, "findings", codes(tr.Findings), []string{"SSO301"})
	if len(tr.Steps) != 5 || !strings.Contains(tr.Findings[0].Detail, "after 5 requests") {
		t.Errorf("%d steps; %+v", len(tr.Steps), tr.Findings)
	}
}

// Chromium follows 19 redirects in a row and fails the navigation at the
// 20th (measured: ERR_TOO_MANY_REDIRECTS); so does the walk, with SSO304.
// A page in between starts a new count.
func TestWalkStopsWhereBrowsersStopRedirecting(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hop", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if n > 0 {
			http.Redirect(w, r, "/hop?n="+strconv.Itoa(n-1)+"&then="+url.QueryEscape(r.URL.Query().Get("then")), http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		if then := r.URL.Query().Get("then"); then != "" {
			fmt.Fprintf(w, `<meta http-equiv="refresh" content="0;url=/hop?n=%s">`, then)
			return
		}
		fmt.Fprint(w, "<p>arrived</p>")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	d := &chain.Dialer{Map: map[string]string{"hops.example:80": srv.Listener.Addr().String()}, Strict: true}
	for _, tt := range []struct {
		start string
		steps int
		codes []string
	}{
		{"/hop?n=19", 20, nil},
		{"/hop?n=20", 20, []string{"SSO304"}},
		{"/hop?n=19&then=19", 40, nil}, // the refresh page starts a new navigation
	} {
		b, err := chain.NewBrowser(chain.BrowserOptions{Dialer: d, MaxSteps: 50})
		if err != nil {
			t.Fatal(err)
		}
		tr := walk(t, b, "http://hops.example"+tt.start)
		equalLists(t, tt.start+" findings", codes(tr.Findings), tt.codes)
		if len(tr.Steps) != tt.steps {
			t.Errorf("%s: %d steps, want %d", tt.start, len(tr.Steps), tt.steps)
		}
		if len(tt.codes) > 0 {
			f := tr.Findings[0]
			if f.Step != 20 || !strings.Contains(f.Detail, "20th redirect in a row") || !strings.Contains(f.Detail, "step 1, GET http://hops.example/hop?n=20") {
				t.Errorf("%s: %+v", tt.start, f)
			}
		}
	}
}

// Tokens, passwords and userinfo never reach a trace, wherever they were:
// query, fragment, a token's ret, a Location, a URL nested in a parameter.
func TestWalkRedacts(t *testing.T) {
	a := startAcme(t, acmeFaults{})
	tok := a.sign(map[string]any{"alg": "HS256", "typ": "sso-handoff+jwt"}, a.claims("app1", acmeApp1+"/next?token="+a.sign(map[string]any{"alg": "HS256"}, a.claims("app2", "", 0)), 0))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /a", func(w http.ResponseWriter, r *http.Request) {
		next := "http://ops:s3cr3t@app1.shop.example:8002/b?password=hunter2&state=st-1&code=c-1&return_to=" + url.QueryEscape(acmeApp1+"/c?token="+tok) + "#id_token=" + tok
		http.Redirect(w, r, next, http.StatusFound)
	})
	mux.HandleFunc("GET /b", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/c?token="+tok, http.StatusFound)
	})
	mux.HandleFunc("GET /c", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Referrer-Policy", "strict-origin-when-cross-origin")
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<p>done</p>")
	})
	a.serve("http://app1.shop.example:8002", mux) // replaces app1
	tr := walk(t, a.browser(nil, "", ""), acmeApp1+"/a")
	secretsAbsent(t, tr, "s3cr3t", "hunter2")
	placeholder := "<token aud=app1 ttl=30s>"
	wantB := "http://(redacted)@app1.shop.example:8002/b?password=<redacted>&state=st-1&code=<redacted>&return_to=" +
		url.QueryEscape(acmeApp1+"/c?token=") + placeholder + "#id_token=" + placeholder
	if got := tr.Steps[0].Location; got != wantB {
		t.Errorf("Location:\n got %s\nwant %s", got, wantB)
	}
	if got := tr.Steps[1].URL; got != wantB {
		t.Errorf("URL:\n got %s\nwant %s", got, wantB)
	}
	if tok := tr.Steps[2].Token; tok == nil || tok.Return != acmeApp1+"/next?token=<token aud=app2 ttl=30s>" {
		t.Errorf("the token's ret: %+v", tok)
	}
	// The next redirect is relative: it keeps the userinfo (as browsers
	// do) and the fragment (RFC 9110 §10.2.2).
	if got := tr.Steps[2].URL; got != "http://(redacted)@app1.shop.example:8002/c?token="+placeholder+"#id_token="+placeholder {
		t.Errorf("step 3 URL %s", got)
	}
	if len(tr.Findings) != 0 {
		t.Errorf("findings: %+v", tr.Findings)
	}
}

// A page that moves on by an inline script is followed as Chromium
// follows it, when the script writes the URL out and runs as the page
// loads; one whose URL the script computes stops the walk and says so.
func TestWalkFollowsScriptNavigation(t *testing.T) {
	type seen struct{ site, user, referer string }
	var mu sync.Mutex
	landed := map[string]seen{}
	page := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<!doctype html>"+body)
		}
	}
	a := http.NewServeMux()
	a.HandleFunc("GET /start", page(`<p>Redirecting…</p><script>(function(){window.location.replace("http:\x2F\x2Fb.example\x2Fland?id=start");})();</script>`))
	a.HandleFunc("GET /relative", page(`<base href="http://b.example/"><script>location.href = 'land?id=relative'</script>`))
	a.HandleFunc("GET /both", page(`<meta http-equiv="refresh" content="0;url=http://b.example/land?id=refresh"><script>location.replace("http://b.example/land?id=both")</script>`))
	a.HandleFunc("GET /refresh", page(`<meta http-equiv="refresh" content="0;url=http://b.example/land?id=refresh">`))
	a.HandleFunc("GET /computed", page(`<script>var next = new URLSearchParams(location.search).get("next"); location.href = "/go?to=" + next;</script>`))
	a.HandleFunc("GET /click", page(`<a id=go href="http://b.example/land?id=click">Continue</a><script>document.getElementById("go").addEventListener("click", function(){ location.replace("http://b.example/land?id=click") })</script>`))
	b := http.NewServeMux()
	b.HandleFunc("GET /land", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		landed[r.URL.Query().Get("id")] = seen{r.Header.Get("Sec-Fetch-Site"), r.Header.Get("Sec-Fetch-User"), r.Header.Get("Referer")}
		mu.Unlock()
		fmt.Fprint(w, "landed")
	})
	srvA, srvB := httptest.NewServer(a), httptest.NewServer(b)
	t.Cleanup(srvA.Close)
	t.Cleanup(srvB.Close)
	d := &chain.Dialer{Map: map[string]string{"a.example:80": srvA.Listener.Addr().String(), "b.example:80": srvB.Listener.Addr().String()}, Strict: true}
	for _, tt := range []struct {
		path       string
		navigation string // Step.Navigation of step 2; "" no step 2
		id         string // the id b.example saw
		stopped    string // Step.ScriptNavigation of step 1
	}{
		{path: "/start", navigation: chain.NavScript, id: "start"},
		{path: "/relative", navigation: chain.NavScript, id: "relative"},
		{path: "/both", navigation: chain.NavScript, id: "both"}, // the script runs before the page has loaded
		{path: "/refresh", navigation: chain.NavRefresh, id: "refresh"},
		{path: "/computed", stopped: "location.href = …"},
		{path: "/click"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			br, err := chain.NewBrowser(chain.BrowserOptions{Dialer: d})
			if err != nil {
				t.Fatal(err)
			}
			tr := walk(t, br, "http://a.example"+tt.path)
			if got := tr.Steps[0].ScriptNavigation; got != tt.stopped {
				t.Errorf("step 1 script_navigation %q, want %q", got, tt.stopped)
			}
			if tt.navigation == "" {
				if len(tr.Steps) != 1 {
					t.Errorf("%d steps, want the walk to stop at the page: %v", len(tr.Steps), tr.Steps)
				}
				return
			}
			if len(tr.Steps) != 2 || tr.Steps[1].Navigation != tt.navigation || !strings.HasSuffix(tr.Steps[1].URL, "id="+tt.id) {
				t.Fatalf("steps %+v, want a second to ?id=%s by %s", tr.Steps, tt.id, tt.navigation)
			}
			mu.Lock()
			got := landed[tt.id]
			mu.Unlock()
			// What Chromium sends on a navigation a page starts without
			// the user: the page's origin as Referer, and no Fetch
			// Metadata to a plain-http host that is not loopback
			// (internal/e2e holds the walk to Chromium's headers on
			// *.localhost, where they are sent).
			if want := (seen{"", "", "http://a.example/"}); got != want {
				t.Errorf("b.example saw %+v, want %+v", got, want)
			}
		})
	}
}
