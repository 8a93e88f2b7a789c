package serve_test

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/browsertest"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// Each fault hook is tested both ways: on when the chain file switches it
// on, and absent from the same chain without it.

// withFaults is localChain with a faults block ("" for none).
func withFaults(faults string) string {
	if faults == "" {
		return localChain
	}
	return localChain + "faults:\n" + faults
}

// step is one request of a walk followed one redirect at a time.
type step struct {
	url      string
	status   int
	location string
}

// servedOrigins are the origins startChain serves; a redirect anywhere
// else is recorded and not followed.
var servedOrigins = []string{issuerURL, portalURL, dashboardURL, idpPublic, idpAdmin}

// follow requests start with b and follows redirects, at most limit
// requests, without submitting forms. It stops at an answer that is not a
// redirect, or at a redirect off the chain, which it records with status 0.
func follow(b *browsertest.Browser, start string, limit int) []step {
	var steps []step
	target := start
	for range limit {
		u, err := url.Parse(target)
		if err != nil || !slices.Contains(servedOrigins, u.Scheme+"://"+u.Host) {
			return append(steps, step{url: target})
		}
		resp, _ := b.Get(target)
		s := step{url: target, status: resp.StatusCode, location: resp.Header.Get("Location")}
		steps = append(steps, s)
		if s.location == "" || resp.StatusCode < 300 || resp.StatusCode > 399 {
			return steps
		}
		next, err := u.Parse(s.location)
		if err != nil {
			return steps
		}
		target = next.String()
	}
	return steps
}

func stepURLs(steps []step) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.url
	}
	return out
}

func TestFaultIgnoreAcceptsWhatVerifyRefused(t *testing.T) {
	t.Parallel()
	type presentation struct {
		to         string // receiver origin
		wantStatus int
		wantReason string // in the refusal page; "" for an accepted handoff
	}
	tests := []struct {
		description string
		faults      string
		// token: "fresh" is an unused handoff minted for portal; "used" is
		// the /sso URL alice's own walk already used at portal.
		token    string
		presents []presentation
	}{
		{
			description: "Without faults dashboard refuses portal's token.",
			token:       "fresh",
			presents:    []presentation{{dashboardURL, http.StatusUnauthorized, "audience_mismatch"}},
		},
		{
			description: "Ignoring audience_mismatch, dashboard takes portal's token once; the jti is still single use.",
			faults:      "  receivers:\n    dashboard: {ignore: [audience_mismatch]}\n",
			token:       "fresh",
			presents: []presentation{
				{dashboardURL, http.StatusSeeOther, ""},
				{dashboardURL, http.StatusUnauthorized, "token_replayed"},
			},
		},
		{
			description: "Ignoring audience_mismatch and token_replayed, dashboard takes it again and again.",
			faults:      "  receivers:\n    dashboard: {ignore: [audience_mismatch, token_replayed]}\n",
			token:       "fresh",
			presents: []presentation{
				{dashboardURL, http.StatusSeeOther, ""},
				{dashboardURL, http.StatusSeeOther, ""},
			},
		},
		{
			description: "A fault on portal changes nothing at dashboard.",
			faults:      "  receivers:\n    portal: {ignore: [audience_mismatch]}\n",
			token:       "fresh",
			presents:    []presentation{{dashboardURL, http.StatusUnauthorized, "audience_mismatch"}},
		},
		{
			description: "Without faults a replayed handoff is refused.",
			token:       "used",
			presents:    []presentation{{portalURL, http.StatusUnauthorized, "token_replayed"}},
		},
		{
			description: "Ignoring token_replayed, the replay goes through.",
			faults:      "  receivers:\n    portal: {ignore: [token_replayed]}\n",
			token:       "used",
			presents:    []presentation{{portalURL, http.StatusSeeOther, ""}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			t.Parallel()
			rc := startChain(t, withFaults(tt.faults))
			alice := rc.alice()
			used := rc.handoffURL(alice, portalURL)
			fresh := rc.captureUnused(alice, portalURL)
			for i, p := range tt.presents {
				target := used
				if tt.token == "fresh" {
					target = ssoURL(p.to, fresh)
				}
				b := browsertest.New(t, rc.net)
				resp, body := b.Get(target)
				if resp.StatusCode != p.wantStatus || !strings.Contains(body, p.wantReason) {
					t.Errorf("presentation %d to %s = %d, want %d %s", i+1, p.to, resp.StatusCode, p.wantStatus, p.wantReason)
				}
				accepted := resp.StatusCode == http.StatusSeeOther
				if got := len(b.Cookies(p.to)) > 0; got != accepted {
					t.Errorf("presentation %d: cookies %v after status %d", i+1, b.Cookies(p.to), resp.StatusCode)
				}
				if accepted && !strings.HasPrefix(resp.Header.Get("Location"), issuerURL+chain.ContinuePath) {
					t.Errorf("presentation %d: accepted handoff went on to %q, want the issuer's %s", i+1, resp.Header.Get("Location"), chain.ContinuePath)
				}
			}
		})
	}
}

// A receiver that ignores ret_not_allowed sends the browser wherever the
// token's ret says: the open redirect trace's foreign_ret probe looks for.
func TestFaultIgnoreRetNotAllowedRedirectsOffTheChain(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		description  string
		faults       string
		wantStatus   int
		wantLocation string
	}{
		{"Without faults.", "", http.StatusUnauthorized, ""},
		{"Ignoring ret_not_allowed.", "  receivers:\n    portal: {ignore: [ret_not_allowed]}\n", http.StatusSeeOther, "https://evil.example/next"},
	} {
		t.Run(tt.description, func(t *testing.T) {
			t.Parallel()
			rc := startChain(t, withFaults(tt.faults))
			fresh := rc.captureUnused(rc.alice(), portalURL)
			foreign := mintFor(rc, fresh, func(o *token.MintOptions) { o.Return = "https://evil.example/next" })
			resp, _ := browsertest.New(t, rc.net).Get(ssoURL(portalURL, foreign))
			if resp.StatusCode != tt.wantStatus || resp.Header.Get("Location") != tt.wantLocation {
				t.Errorf("= %d Location %q, want %d %q", resp.StatusCode, resp.Header.Get("Location"), tt.wantStatus, tt.wantLocation)
			}
		})
	}
}

func TestFaultSkipIdPRecheckKeepsRevokedSessionsSignedIn(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		description string
		faults      string
		wantAfter   int // portal's /auth once the recheck interval has passed
	}{
		{"Without faults portal re-checks and signs the revoked session out.", "", http.StatusUnauthorized},
		{"With skip_idp_recheck portal never asks again.", "  receivers:\n    portal: {skip_idp_recheck: true}\n", http.StatusOK},
		{"skip_idp_recheck on dashboard leaves portal's re-check alone.", "  receivers:\n    dashboard: {skip_idp_recheck: true}\n", http.StatusUnauthorized},
	} {
		t.Run(tt.description, func(t *testing.T) {
			t.Parallel()
			rc := startChain(t, withFaults(tt.faults))
			b := rc.alice()
			if p := b.Visit(loginURL(dashboardURL + "/")); p.URL != dashboardURL+"/" {
				t.Fatalf("login ended at %s", p.URL)
			}
			rc.revoke(rc.captureUnused(b, portalURL))
			rc.clock.Advance(2 * time.Minute)
			if got := authStatus(b, portalURL); got != tt.wantAfter {
				t.Errorf("portal /auth after revocation and the recheck interval = %d, want %d", got, tt.wantAfter)
			}
		})
	}
}

func TestFaultOpenReturnTo(t *testing.T) {
	t.Parallel()
	const open = "  issuer: {open_return_to: true}\n"
	t.Run("A signed-in user is walked through the chain and handed to evil.example.", func(t *testing.T) {
		t.Parallel()
		rc := startChain(t, withFaults(open))
		b := rc.alice()
		if p := b.Visit(loginURL(portalURL + "/")); p.URL != portalURL+"/" {
			t.Fatalf("login ended at %s", p.URL)
		}
		steps := follow(b, loginURL("https://evil.example/landing?x=1"), 12)
		last := steps[len(steps)-1]
		if last.url != "https://evil.example/landing?x=1" {
			t.Errorf("walk ended at %s, want evil.example: %v", last.url, stepURLs(steps))
		}
		for _, origin := range []string{portalURL, dashboardURL} {
			if !slices.ContainsFunc(steps, func(s step) bool { return strings.HasPrefix(s.url, origin+chain.SSOPath) }) {
				t.Errorf("the walk skipped %s: %v", origin, stepURLs(steps))
			}
		}
	})
	t.Run("The URL is still parsed: the shapes of DESIGN §9 stay refused.", func(t *testing.T) {
		t.Parallel()
		rc := startChain(t, withFaults(open))
		for _, rt := range []string{"//evil.example/", "https:evil.example", "http://portal.company2.localhost:8081@evil.example/", `http://accounts.company.localhost:8080\@evil.example/`, "javascript:alert(1)"} {
			resp, body := rc.alice().Get(loginURL(rt))
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(body, "return_to_refused") {
				t.Errorf("return_to %q = %d Location %q, want 400 return_to_refused", rt, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
	})
	t.Run("Without faults the issuer refuses evil.example.", func(t *testing.T) {
		t.Parallel()
		rc := startChain(t, localChain)
		resp, body := rc.alice().Get(loginURL("https://evil.example/"))
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "return_to_refused") {
			t.Errorf("= %d, want 400 return_to_refused", resp.StatusCode)
		}
	})
}

func TestFaultLoopOnCallback(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		description string
		faults      string
		wantStatus  int
		wantIdP     bool // redirected to the IdP's login
		wantReason  string
	}{
		{"Without faults a callback with no IdP session stops at an error page.", "", http.StatusUnauthorized, false, "idp_session_not_visible"},
		{"With loop_on_callback it goes back to the IdP.", "  issuer: {loop_on_callback: true}\n", http.StatusSeeOther, true, ""},
	} {
		t.Run(tt.description, func(t *testing.T) {
			t.Parallel()
			rc := startChain(t, withFaults(tt.faults))
			// A browser that never signs in at the IdP: the issuer sends it
			// there, and it comes straight back to the callback.
			b := browsertest.New(t, rc.net)
			resp, _ := b.Get(loginURL(portalURL + "/"))
			toIdP, err := url.Parse(resp.Header.Get("Location"))
			if err != nil || !strings.HasPrefix(toIdP.String(), idpPublic+chain.KratosLoginPath) {
				t.Fatalf("login = %d to %q, want the IdP", resp.StatusCode, resp.Header.Get("Location"))
			}
			resp, body := b.Get(toIdP.Query().Get("return_to"))
			loc := resp.Header.Get("Location")
			if resp.StatusCode != tt.wantStatus || strings.HasPrefix(loc, idpPublic+chain.KratosLoginPath) != tt.wantIdP || !strings.Contains(body, tt.wantReason) {
				t.Errorf("callback = %d Location %q, want %d (to the IdP: %v) %s", resp.StatusCode, loc, tt.wantStatus, tt.wantIdP, tt.wantReason)
			}
		})
	}
}

// TestBrokenExamples runs each chain file of examples/broken in process and
// shows its fault from a browser, as trace chain will find it.
func TestBrokenExamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		show func(t *testing.T, rc *runningChain)
	}{
		{
			file: "long-lived-token.yaml",
			show: func(t *testing.T, rc *runningChain) {
				fresh := rc.captureUnused(rc.alice(), portalURL)
				parsed, err := token.Parse(fresh)
				if err != nil {
					t.Fatal(err)
				}
				if got := parsed.Claims.Lifetime(); got != 5*time.Minute {
					t.Errorf("handoff lifetime %s, want 5m", got)
				}
				rc.clock.Advance(2 * time.Minute)
				if resp, _ := browsertest.New(t, rc.net).Get(ssoURL(portalURL, fresh)); resp.StatusCode != http.StatusSeeOther {
					t.Errorf("portal refused a 2-minute-old handoff (%d); the example should show it accepted", resp.StatusCode)
				}
			},
		},
		{
			file: "skips-audience.yaml",
			show: func(t *testing.T, rc *runningChain) {
				fresh := rc.captureUnused(rc.alice(), portalURL)
				b := browsertest.New(t, rc.net)
				if resp, _ := b.Get(ssoURL(dashboardURL, fresh)); resp.StatusCode != http.StatusSeeOther || !slices.Contains(b.Cookies(dashboardURL), "dashboard_session") {
					t.Errorf("dashboard = %d with cookies %v, want portal's token accepted", resp.StatusCode, b.Cookies(dashboardURL))
				}
			},
		},
		{
			file: "broad-cookie-domain.yaml",
			show: func(t *testing.T, rc *runningChain) {
				b := rc.alice()
				if p := b.Visit(loginURL(dashboardURL + "/")); p.URL != dashboardURL+"/" {
					t.Fatalf("login ended at %s", p.URL)
				}
				if got := b.Cookies("http://any-app.company2.localhost/"); !slices.Contains(got, "portal_session") {
					t.Errorf("another host under company2.localhost gets cookies %v, want portal_session", got)
				}
			},
		},
		{
			file: "open-return-to.yaml",
			show: func(t *testing.T, rc *runningChain) {
				b := rc.alice()
				if p := b.Visit(loginURL(portalURL + "/")); p.URL != portalURL+"/" {
					t.Fatalf("login ended at %s", p.URL)
				}
				steps := follow(b, loginURL("https://evil.example/"), 12)
				if last := steps[len(steps)-1]; last.url != "https://evil.example/" {
					t.Errorf("walk ended at %s, want https://evil.example/", last.url)
				}
			},
		},
		{
			file: "redirect-loop.yaml",
			show: func(t *testing.T, rc *runningChain) {
				b := rc.alice()
				// Signed in at the IdP, on its own host only.
				if p := b.Visit(idpPublic + chain.KratosLoginPath + "?" + url.Values{"return_to": {issuerURL + "/"}}.Encode()); p.URL != issuerURL+"/" {
					t.Fatalf("IdP login ended at %s", p.URL)
				}
				steps := follow(b, loginURL(dashboardURL+"/"), 20)
				callbacks := 0
				for _, s := range steps {
					if strings.HasPrefix(s.url, issuerURL+chain.CallbackPath) {
						callbacks++
					}
				}
				if len(steps) != 20 || callbacks < 5 {
					t.Errorf("%d steps with %d callbacks, want a loop through /callback: %v", len(steps), callbacks, stepURLs(steps))
				}
			},
		},
	}
	files, err := filepath.Glob("../../examples/broken/*.yaml")
	if err != nil || len(files) != len(tests) {
		t.Fatalf("examples/broken has %d chain files, the test shows %d: %v", len(files), len(tests), err)
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join("../../examples/broken", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			tt.show(t, startChain(t, string(data)))
		})
	}
}
