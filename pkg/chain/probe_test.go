package chain_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// strictTransport dials only the hosts d maps, and fails the test on any
// other: above all evil.example, where foreign_ret and return_to point and
// which no probe may ever contact, whatever a server says.
func strictTransport(t *testing.T, d *chain.Dialer) http.RoundTripper {
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, _ := net.SplitHostPort(addr)
			_, mapped := d.Map[strings.ToLower(addr)]
			if !mapped || strings.HasSuffix(strings.ToLower(host), "evil.example") {
				t.Errorf("dialled %s, which no role of the chain serves", addr)
				return nil, fmt.Errorf("test: %s is not to be dialled", addr)
			}
			return d.DialContext(ctx, network, addr)
		},
	}
}

// probeBrowser is a Browser for sb whose every dial is checked.
func (sb *sandbox) probeBrowser(t *testing.T) *chain.Browser {
	t.Helper()
	b, err := chain.NewBrowser(chain.BrowserOptions{Transport: strictTransport(t, sb.dialer), Chain: sb.chain, Now: sb.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// probeOptions is everything the sandbox can give the probes, as trace
// chain --sandbox gives it.
func (sb *sandbox) probeOptions() chain.ProbeOptions {
	var recheck time.Duration
	for _, r := range sb.chain.Receivers {
		recheck = max(recheck, r.RecheckInterval)
	}
	return chain.ProbeOptions{
		Signing:         sb.roles.Keys.Signing,
		Revoke:          sb.roles.IdP.Revoke,
		Advance:         sb.clock.Advance,
		RecheckInterval: recheck,
	}
}

// walkAndProbe walks sb's chain, checks its expectations and probes it, as
// trace chain --sandbox --probe does.
func walkAndProbe(t *testing.T, sb *sandbox, o chain.ProbeOptions) *chain.Trace {
	t.Helper()
	b := sb.probeBrowser(t)
	tr := walk(t, b, chain.StartURL(sb.chain))
	b.Expect(context.Background(), tr, sb.chain.Expect)
	b.Probe(context.Background(), tr, o)
	return tr
}

// probeLines renders each probe result as "name target outcome".
func probeLines(tr *chain.Trace) []string {
	var out []string
	for _, p := range tr.Probes {
		var what string
		switch {
		case p.Skipped != "":
			what = "skipped"
		case p.Refused:
			what = fmt.Sprintf("refused %d", p.Status)
		default:
			what = fmt.Sprintf("ACCEPTED %d %s", p.Status, p.Finding)
		}
		out = append(out, p.Name+" "+p.Target+" "+what)
	}
	return out
}

// errorCodes are the distinct codes of a trace's error findings, sorted.
func errorCodes(tr *chain.Trace) []string {
	var out []string
	for _, f := range tr.Findings {
		if f.Severity == chain.SeverityError && !slices.Contains(out, f.Code) {
			out = append(out, f.Code)
		}
	}
	slices.Sort(out)
	return out
}

// everyProbeRefused is what a chain of ssoctl's own roles must answer.
var everyProbeRefused = []string{
	"replay portal refused 401",
	"replay dashboard refused 401",
	"wrong_audience portal refused 401",
	"wrong_audience dashboard refused 401",
	"tampered_signature portal refused 401",
	"tampered_signature dashboard refused 401",
	"alg_none portal refused 401",
	"alg_none dashboard refused 401",
	"expired portal refused 401",
	"expired dashboard refused 401",
	"foreign_ret portal refused 401",
	"foreign_ret dashboard refused 401",
	"return_to accounts.company.localhost:8080 refused 400",
	"session_instances portal refused 200",
	"session_instances dashboard refused 200",
	"revoked_session portal refused 401",
	"revoked_session dashboard refused 401",
	"logout_csrf accounts.company.localhost:8080 refused 200",
}

// ssoctl's own chain refuses every probe: examples/local's file, and the
// DESIGN §12 chain with either transport.
func TestProbeRefusedByACleanChain(t *testing.T) {
	t.Parallel()
	local, err := os.ReadFile(filepath.Join("..", "..", "examples", "local", "chain.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		description string
		yaml        string
	}{
		{"examples/local/chain.yaml", string(local)},
		{"the DESIGN §12 chain, tokens in the query", designChain},
		{"the DESIGN §12 chain, tokens by form_post", withTransport(designChain, "form_post")},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			t.Parallel()
			sb := standUp(t, tt.yaml)
			tr := walkAndProbe(t, sb, sb.probeOptions())
			equalLists(t, "probes", probeLines(tr), everyProbeRefused)
			if len(tr.Findings) != 0 || tr.Failed() {
				t.Errorf("findings %v, failed %v", codes(tr.Findings), tr.Failed())
			}
			for _, p := range tr.Probes {
				if p.Detail == "" || p.Finding != "" || strings.Contains(p.Location, "evil.example") {
					t.Errorf("probe %+v", p)
				}
			}
			secretsAbsent(t, tr, "wonderland")
		})
	}
}

// faultChain is the DESIGN §12 chain with a faults block.
func faultChain(faults string) string {
	return designChain + "faults:\n" + faults
}

// Each broken example, walked, checked and probed, has exactly its own
// error code; and each receiver fault a chain can switch on is found by
// the probe made for it, so every probe's accepting path is proven.
func TestProbeFindsEachFault(t *testing.T) {
	t.Parallel()
	example := func(name string) string {
		data, err := os.ReadFile(filepath.Join("..", "..", "examples", "broken", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	tests := []struct {
		description string
		yaml        string
		wantCodes   []string // the distinct error codes of the trace
		accepted    []string // the probes not refused
	}{
		{
			description: "long-lived-token.yaml: the walk sees 5-minute tokens; every probe is refused",
			yaml:        example("long-lived-token.yaml"),
			wantCodes:   []string{"SSO101"},
		},
		{
			description: "skips-audience.yaml: dashboard takes portal's token",
			yaml:        example("skips-audience.yaml"),
			wantCodes:   []string{"SSO102"},
			accepted:    []string{"wrong_audience dashboard ACCEPTED 303 SSO102"},
		},
		{
			description: "broad-cookie-domain.yaml: the walk sees the cookie; every probe is refused",
			yaml:        example("broad-cookie-domain.yaml"),
			wantCodes:   []string{"SSO201"},
		},
		{
			description: "open-return-to.yaml: the issuer signs the user in and sends them to evil.example",
			yaml:        example("open-return-to.yaml"),
			wantCodes:   []string{"SSO302"},
			accepted:    []string{"return_to accounts.company.localhost:8080 ACCEPTED 303 SSO302"},
		},
		{
			description: "redirect-loop.yaml: the walk never finishes, so nothing is probed, and the loop is the only finding",
			yaml:        example("redirect-loop.yaml"),
			wantCodes:   []string{"SSO301"},
			accepted:    nil,
		},
		{
			description: "portal takes a replayed handoff",
			yaml:        faultChain("  receivers:\n    portal: {ignore: [token_replayed]}\n"),
			wantCodes:   []string{"SSO103"},
			accepted:    []string{"replay portal ACCEPTED 303 SSO103"},
		},
		{
			description: "dashboard takes a token whose signature does not verify",
			yaml:        faultChain("  receivers:\n    dashboard: {ignore: [signature_invalid]}\n"),
			wantCodes:   []string{"SSO104"},
			accepted:    []string{"tampered_signature dashboard ACCEPTED 303 SSO104"},
		},
		{
			description: "portal takes an unsigned token",
			yaml:        faultChain("  receivers:\n    portal: {ignore: [alg_none]}\n"),
			wantCodes:   []string{"SSO104"},
			accepted:    []string{"alg_none portal ACCEPTED 303 SSO104"},
		},
		{
			description: "dashboard takes an expired token",
			yaml:        faultChain("  receivers:\n    dashboard: {ignore: [token_expired]}\n"),
			wantCodes:   []string{"SSO105"},
			accepted:    []string{"expired dashboard ACCEPTED 303 SSO105"},
		},
		{
			description: "portal follows a token's ret off the chain",
			yaml:        faultChain("  receivers:\n    portal: {ignore: [ret_not_allowed]}\n"),
			wantCodes:   []string{"SSO302"},
			accepted:    []string{"foreign_ret portal ACCEPTED 303 SSO302"},
		},
		{
			description: "dashboard never asks the IdP again",
			yaml:        faultChain("  receivers:\n    dashboard: {skip_idp_recheck: true}\n"),
			wantCodes:   []string{"SSO402"},
			accepted:    []string{"revoked_session dashboard ACCEPTED 200 SSO402"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			t.Parallel()
			sb := standUp(t, tt.yaml)
			tr := walkAndProbe(t, sb, sb.probeOptions())
			equalLists(t, "error codes", errorCodes(tr), tt.wantCodes)
			var accepted []string
			for _, line := range probeLines(tr) {
				if strings.Contains(line, " ACCEPTED ") {
					accepted = append(accepted, line)
				}
			}
			equalLists(t, "accepted probes", accepted, tt.accepted)
			if !tr.Failed() {
				t.Error("the trace does not fail")
			}
			for _, f := range tr.Findings {
				if f.Step == 0 && f.Host == "" {
					t.Errorf("a probe's finding names no host: %+v", f)
				}
			}
			for _, p := range tr.Probes {
				if p.Finding != "" && !slices.ContainsFunc(tr.Findings, func(f chain.Finding) bool {
					return f.Code == p.Finding && f.Step == 0 && strings.HasPrefix(f.Detail, p.Name+": ")
				}) {
					t.Errorf("probe %s %s raised %s, but no finding names it", p.Name, p.Target, p.Finding)
				}
			}
			if strings.Contains(tt.description, "redirect-loop") {
				if len(tr.Probes) != 1 || tr.Probes[0].Skipped == "" || !strings.Contains(tr.Probes[0].Skipped, "SSO301") {
					t.Errorf("probes after a failed walk: %+v", tr.Probes)
				}
			}
			secretsAbsent(t, tr, "wonderland")
		})
	}
}

// A chain whose issuer signs out for a link on any site is told so, as a
// warning that fails no walk; the probe follows the logout through the
// receivers' front-channel and counts the cookies it deleted.
func TestProbeLogoutCSRF(t *testing.T) {
	t.Parallel()
	sb := standUp(t, faultChain("  issuer: {logout_without_asking: true}\n"))
	tr := walkAndProbe(t, sb, sb.probeOptions())
	var lines []string
	for _, line := range probeLines(tr) {
		if strings.HasPrefix(line, chain.ProbeLogoutCSRF+" ") {
			lines = append(lines, line)
		}
	}
	equalLists(t, "logout_csrf", lines, []string{"logout_csrf accounts.company.localhost:8080 ACCEPTED 303 SSO405"})
	equalLists(t, "findings", codes(tr.Findings), []string{"SSO405(warning)"})
	f := tr.Findings[0]
	if f.Severity != chain.SeverityWarning || f.Host != "accounts.company.localhost" ||
		!strings.Contains(f.Detail, "accounts_session") || !strings.Contains(f.Detail, "portal_session") || !strings.Contains(f.Detail, "dashboard_session") {
		t.Errorf("finding %+v; want a warning naming the issuer's and both receivers' cookies", f)
	}
	if tr.Failed() {
		t.Error("a warning's probe failed the trace")
	}
}

// A logout that signs out with Clear-Site-Data rather than by deleting
// each cookie is found too, and the finding says how the cookie went.
func TestProbeLogoutCSRFByClearSiteData(t *testing.T) {
	t.Parallel()
	sb := standUp(t, faultChain("  issuer: {logout_without_asking: true}\n"))
	issuer := sb.roles.Issuer
	sb.serve(sb.chain.Issuer.URL, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == chain.LogoutPath {
			w = clearingSiteData{w}
		}
		issuer.ServeHTTP(w, r)
	}))
	tr := walkAndProbe(t, sb, sb.probeOptions())
	p := tr.Probes[len(tr.Probes)-1]
	if p.Name != chain.ProbeLogoutCSRF || p.Finding != "SSO405" {
		t.Fatalf("last probe %+v, want logout_csrf accepted (SSO405)", p)
	}
	for _, want := range []string{"accounts_session (Clear-Site-Data)", "portal_session", "dashboard_session"} {
		if !strings.Contains(p.Detail, want) {
			t.Errorf("logout_csrf detail %q lacks %q", p.Detail, want)
		}
	}
	if strings.Contains(p.Detail, "portal_session (Clear-Site-Data)") {
		t.Errorf("logout_csrf detail %q: the issuer's Clear-Site-Data took a cookie of another site", p.Detail)
	}
}

// clearingSiteData answers with Clear-Site-Data: "cookies" in place of
// the cookies the handler deletes, as some sign-out endpoints do.
type clearingSiteData struct{ http.ResponseWriter }

func (c clearingSiteData) WriteHeader(code int) {
	c.Header().Del("Set-Cookie")
	c.Header().Set("Clear-Site-Data", `"cookies"`)
	c.ResponseWriter.WriteHeader(code)
}

// A sign-in that checks one copy of a repeated return_to and follows the
// other is an open redirect the single spellings never show: the probe
// gives the parameter twice, an allowed value beside evil.example, in
// both orders.
func TestProbeReturnToGivenTwice(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		check, use  func([]string) string
		wantFinding bool
	}{
		{"checks the first, follows the last", func(v []string) string { return v[0] }, func(v []string) string { return v[len(v)-1] }, true},
		{"checks the last, follows the first", func(v []string) string { return v[len(v)-1] }, func(v []string) string { return v[0] }, true},
		{"refuses a repeat", nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const app = "http://app.shop.localhost:8000/"
			key, err := token.NewHMACKey("", []byte("shop-test-secret-0123456789abcdef"))
			if err != nil {
				t.Fatal(err)
			}
			clock := newClock()
			mux := http.NewServeMux()
			mux.HandleFunc("GET /signin", func(w http.ResponseWriter, r *http.Request) {
				v := r.URL.Query()["next"]
				if len(v) == 0 || len(v) > 1 && tc.check == nil {
					http.Error(w, "bad next", http.StatusBadRequest)
					return
				}
				check, use := v[0], v[0]
				if tc.check != nil {
					check, use = tc.check(v), tc.use(v)
				}
				if !strings.HasPrefix(check, app) {
					http.Error(w, "next is not allowed", http.StatusBadRequest)
					return
				}
				// A handoff to the app, which then sends the browser on.
				tok, _, err := token.Mint(key, token.MintOptions{Issuer: "http://login.shop.localhost:8000", Audience: "app",
					Subject: "u", SessionID: "s", Now: clock.Now})
				if err != nil {
					t.Error(err)
				}
				http.Redirect(w, r, app+"sso?"+url.Values{"token": {tok}, "to": {use}}.Encode(), http.StatusFound)
			})
			mux.HandleFunc("GET /sso", func(w http.ResponseWriter, r *http.Request) {
				http.SetCookie(w, &http.Cookie{Name: "app_session", Value: "1", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
				http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
			})
			mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {})
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			d := &chain.Dialer{Strict: true, Map: map[string]string{
				"login.shop.localhost:8000": srv.Listener.Addr().String(),
				"app.shop.localhost:8000":   srv.Listener.Addr().String(),
			}}
			b, err := chain.NewBrowser(chain.BrowserOptions{Transport: strictTransport(t, d), Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			tr := walk(t, b, "http://login.shop.localhost:8000/signin?next="+url.QueryEscape(app))
			b.Probe(context.Background(), tr, chain.ProbeOptions{})
			i := slices.IndexFunc(tr.Probes, func(p chain.ProbeResult) bool { return p.Name == chain.ProbeReturnTo })
			if i < 0 {
				t.Fatalf("no return_to probe: %v", probeLines(tr))
			}
			p := tr.Probes[i]
			switch {
			case tc.wantFinding && (p.Finding != "SSO302" || !strings.Contains(p.Detail, "next given twice")):
				t.Errorf("return_to probe %+v; want SSO302 for next given twice", p)
			case !tc.wantFinding && (!p.Refused || !strings.Contains(p.Detail, "alone or beside an allowed one")):
				t.Errorf("return_to probe %+v; want it refused", p)
			}
		})
	}
}

// Without a chain file, the logout URL given is probed: the hand-built
// acme chain's /logout signs out for a link on any site.
func TestProbeLogoutCSRFAtAGivenURL(t *testing.T) {
	t.Parallel()
	a := startAcme(t, acmeFaults{})
	b, err := chain.NewBrowser(chain.BrowserOptions{Transport: strictTransport(t, a.dialer), User: acmeUser, Password: acmePass, Now: a.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := b.Walk(context.Background(), acmeStart())
	if err != nil {
		t.Fatal(err)
	}
	b.Probe(context.Background(), tr, chain.ProbeOptions{LogoutURL: acmeIssuer + "/logout"})
	last := tr.Probes[len(tr.Probes)-1]
	if last.Name != chain.ProbeLogoutCSRF || last.Finding != "SSO405" || last.Target != "login.acme.example:8000" || !strings.Contains(last.Detail, "acme_sid") {
		t.Errorf("logout_csrf %+v; want SSO405 naming acme_sid", last)
	}
	for _, bad := range []string{"/logout", "https://evil.example/logout"} {
		tr, err := b.Walk(context.Background(), acmeStart())
		if err != nil {
			t.Fatal(err)
		}
		b.Probe(context.Background(), tr, chain.ProbeOptions{LogoutURL: bad})
		if last := tr.Probes[len(tr.Probes)-1]; last.Name != chain.ProbeLogoutCSRF || last.Skipped == "" {
			t.Errorf("logout_csrf at %q: %+v, want skipped", bad, last)
		}
	}
}

// Where a probe was sent off the chain, the trace says where and the probe
// did not go there.
func TestProbeRecordsWhereItWouldHaveGone(t *testing.T) {
	t.Parallel()
	sb := standUp(t, faultChain("  receivers:\n    portal: {ignore: [ret_not_allowed]}\n  issuer: {open_return_to: true}\n"))
	tr := walkAndProbe(t, sb, sb.probeOptions())
	for _, name := range []string{"foreign_ret", "return_to"} {
		i := slices.IndexFunc(tr.Probes, func(p chain.ProbeResult) bool { return p.Name == name && p.Finding != "" })
		if i < 0 {
			t.Fatalf("no accepted %s probe: %v", name, probeLines(tr))
		}
		if p := tr.Probes[i]; p.Location != chain.ProbeForeignURL || !strings.Contains(p.Detail, "did not follow") {
			t.Errorf("%s: %+v", name, p)
		}
	}
}

// Without the chain's key, the token variants come from handoffs
// intercepted from the signed-in browser: tokens for the first receiver
// only. Those that must change signed claims are skipped, saying why.
func TestProbeOwnChainWithoutAKey(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"query", "form_post"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			sb := standUp(t, withTransport(designChain, transport))
			o := sb.probeOptions()
			o.Signing = nil
			tr := walkAndProbe(t, sb, o)
			equalLists(t, "probes", probeLines(tr), []string{
				"replay portal refused 401",
				"replay dashboard refused 401",
				"wrong_audience portal skipped",
				"wrong_audience dashboard refused 401",
				"tampered_signature portal refused 401",
				"tampered_signature dashboard skipped",
				"alg_none portal refused 401",
				"alg_none dashboard skipped",
				"expired portal skipped",
				"expired dashboard skipped",
				"foreign_ret portal skipped",
				"foreign_ret dashboard skipped",
				"return_to accounts.company.localhost:8080 refused 400",
				"session_instances portal refused 200",
				"session_instances dashboard refused 200",
				"revoked_session portal refused 401",
				"revoked_session dashboard refused 401",
				"logout_csrf accounts.company.localhost:8080 refused 200",
			})
			for _, p := range tr.Probes {
				if p.Skipped != "" && !strings.Contains(p.Skipped, "key") {
					t.Errorf("%s %s skipped without naming the key: %s", p.Name, p.Target, p.Skipped)
				}
			}
			if tr.Failed() || len(tr.Findings) != 0 {
				t.Errorf("findings %v", codes(tr.Findings))
			}
			secretsAbsent(t, tr)
		})
	}
}

// Intercepted tokens are fresh: a receiver that takes forgeries is caught
// without the key too.
func TestProbeInterceptedForgeryAccepted(t *testing.T) {
	t.Parallel()
	sb := standUp(t, faultChain("  receivers:\n    portal: {ignore: [alg_none]}\n"))
	o := sb.probeOptions()
	o.Signing = nil
	tr := walkAndProbe(t, sb, o)
	equalLists(t, "error codes", errorCodes(tr), []string{"SSO104"})
	if i := slices.Index(probeLines(tr), "alg_none portal ACCEPTED 303 SSO104"); i < 0 {
		t.Errorf("probes: %v", probeLines(tr))
	}
}

// A key the receivers do not take (another secret than the chain's): a
// valid token minted with it is refused too, so its variants prove
// nothing and are skipped instead of counted as refused.
func TestProbeWithAKeyTheReceiversRefuse(t *testing.T) {
	t.Parallel()
	sb := standUp(t, designChain)
	other, err := token.NewHMACKey("", []byte("not-the-chain-secret-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	o := sb.probeOptions()
	o.Signing = other
	tr := walkAndProbe(t, sb, o)
	for _, p := range tr.Probes {
		switch p.Name {
		case "replay", "return_to", "session_instances", "revoked_session", "logout_csrf":
			if !p.Refused {
				t.Errorf("%s %s: %+v", p.Name, p.Target, p)
			}
		default:
			if !strings.Contains(p.Skipped, "refused a valid token minted with the given key too (401)") {
				t.Errorf("%s %s: %+v", p.Name, p.Target, p)
			}
		}
	}
	if tr.Failed() {
		t.Errorf("findings %v", codes(tr.Findings))
	}
}

// revoked_session needs the IdP's admin API and, unless the interval is
// tiny, the roles' clock.
func TestProbeRevokedSessionNeeds(t *testing.T) {
	t.Parallel()
	sb := standUp(t, designChain)
	tests := []struct {
		description string
		edit        func(o *chain.ProbeOptions)
		want        string
	}{
		{"no way to revoke", func(o *chain.ProbeOptions) { o.Revoke = nil }, "admin API"},
		{"no clock to move past a minute", func(o *chain.ProbeOptions) { o.Advance = nil }, "recheck_interval (1m0s)"},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			t.Parallel()
			o := sb.probeOptions()
			tt.edit(&o)
			b := sb.probeBrowser(t)
			tr := walk(t, b, chain.StartURL(sb.chain))
			b.Probe(context.Background(), tr, o)
			for _, p := range tr.Probes {
				if p.Name == "revoked_session" && !strings.Contains(p.Skipped, tt.want) {
					t.Errorf("%s: %+v", p.Target, p)
				}
			}
		})
	}
}

// acme is not ssoctl and gives no key: replay and the forgeries that an
// intercepted token allows run, and find what acme gets wrong (no replay
// store, unsigned tokens accepted); the rest say why they cannot run.
func TestProbeAcme(t *testing.T) {
	t.Parallel()
	const (
		app1 = "app1.shop.example:8002"
		app2 = "app2.blog.example:8003"
	)
	tests := []struct {
		description string
		withChain   bool
		want        []string
	}{
		{
			description: "without the chain file: receivers are the hosts the walk handed tokens to",
			want: []string{
				"replay " + app1 + " ACCEPTED 200 SSO103",
				"replay " + app2 + " ACCEPTED 303 SSO103",
				"wrong_audience " + app1 + " skipped",
				"wrong_audience " + app2 + " refused 401",
				"tampered_signature " + app1 + " refused 401",
				"tampered_signature " + app2 + " skipped",
				"alg_none " + app1 + " ACCEPTED 200 SSO104",
				"alg_none " + app2 + " skipped",
				"expired " + app1 + " skipped",
				"expired " + app2 + " skipped",
				"foreign_ret " + app1 + " skipped",
				"foreign_ret " + app2 + " skipped",
				"return_to login.acme.example:8000 skipped",
				"session_instances " + app1 + " refused 200",
				"session_instances " + app2 + " refused 200",
				"revoked_session " + app1 + " skipped",
				"revoked_session " + app2 + " skipped",
				"logout_csrf the issuer skipped",
			},
		},
		{
			description: "with the chain file: receivers by name, and return_to is added to the login",
			withChain:   true,
			want: []string{
				"replay app1 ACCEPTED 200 SSO103",
				"replay app2 ACCEPTED 303 SSO103",
				"wrong_audience app1 skipped",
				"wrong_audience app2 refused 401",
				"tampered_signature app1 refused 401",
				"tampered_signature app2 skipped",
				"alg_none app1 ACCEPTED 200 SSO104",
				"alg_none app2 skipped",
				"expired app1 skipped",
				"expired app2 skipped",
				"foreign_ret app1 skipped",
				"foreign_ret app2 skipped",
				"return_to login.acme.example:8000 refused 302",
				"session_instances app1 refused 200",
				"session_instances app2 refused 200",
				"revoked_session app1 skipped",
				"revoked_session app2 skipped",
				"logout_csrf login.acme.example:8000 ACCEPTED 302 SSO405",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			t.Parallel()
			a := startAcme(t, acmeFaults{})
			var c *chain.Chain
			if tt.withChain {
				c = a.chain()
			}
			b, err := chain.NewBrowser(chain.BrowserOptions{Transport: strictTransport(t, a.dialer), Chain: c, User: acmeUser, Password: acmePass, Now: a.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			tr := walk(t, b, acmeStart())
			b.Probe(context.Background(), tr, chain.ProbeOptions{})
			equalLists(t, "probes", probeLines(tr), tt.want)
			equalLists(t, "error codes", errorCodes(tr), []string{"SSO103", "SSO104"})
			for _, p := range tr.Probes {
				switch {
				case p.Skipped != "" && (p.Name == "expired" || p.Name == "foreign_ret"):
					if !strings.Contains(p.Skipped, "chain's key") {
						t.Errorf("%s %s: %s", p.Name, p.Target, p.Skipped)
					}
				case p.Skipped != "" && p.Name == "return_to":
					if !strings.Contains(p.Skipped, "return_to-like parameter") {
						t.Errorf("return_to: %s", p.Skipped)
					}
				case p.Skipped != "" && p.Name == "revoked_session":
					if !strings.Contains(p.Skipped, "admin API") {
						t.Errorf("revoked_session: %s", p.Skipped)
					}
				}
			}
			secretsAbsent(t, tr, acmePass, "issuer-session-1", "app1-session-7", "app2-session-7", "idp_sess=")
		})
	}
}

// A walk that did not reach its end is not probed: one result says why,
// and nothing is added to the findings.
func TestProbeAfterAFailedWalk(t *testing.T) {
	t.Parallel()
	a := startAcme(t, acmeFaults{refuse: true})
	b, err := chain.NewBrowser(chain.BrowserOptions{Transport: strictTransport(t, a.dialer), User: acmeUser, Password: acmePass, Now: a.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tr := walk(t, b, acmeStart())
	before := len(tr.Findings)
	b.Probe(context.Background(), tr, chain.ProbeOptions{})
	if len(tr.Probes) != 1 || tr.Probes[0].Name != "all" || !strings.Contains(tr.Probes[0].Skipped, "ended at") ||
		!strings.Contains(tr.Probes[0].Skipped, "401") || len(tr.Findings) != before {
		t.Errorf("probes %+v, findings %v", tr.Probes, codes(tr.Findings))
	}
}
