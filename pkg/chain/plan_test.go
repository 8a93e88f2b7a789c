package chain

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// hopLine is a hop in one line, so that a plan reads like the walk it
// describes.
func hopLine(h Hop) string {
	s := fmt.Sprintf("%s %s %s", h.Kind, h.Method, h.To)
	if h.Audience != "" {
		s += " aud=" + h.Audience
	}
	return s
}

func mustLoad(t *testing.T, path string) *Chain {
	t.Helper()
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPlan(t *testing.T) {
	design := mustLoad(t, "testdata/valid/design-example.yaml")
	prod := mustLoad(t, "testdata/valid/kratos-production.yaml")
	relay := mustLoad(t, "testdata/valid/relay.yaml")
	oidc := mustLoad(t, "testdata/valid/oidc.yaml")
	tiny := mustLoad(t, "testdata/valid/dev-minimal.yaml")

	tests := []struct {
		name     string
		chain    *Chain
		returnTo string
		want     []string // hopLine of each hop
	}{
		{
			name:     "hub mode goes back to the issuer after every receiver",
			chain:    design,
			returnTo: "http://dashboard.company3.localhost:8082/reports?q=1",
			want: []string{
				"login GET http://accounts.company.localhost:8080/login?return_to=http%3A%2F%2Fdashboard.company3.localhost%3A8082%2Freports%3Fq%3D1",
				"idp_login GET http://auth.company.localhost:4433/self-service/login/browser?return_to=http%3A%2F%2Faccounts.company.localhost%3A8080%2Fcallback",
				"callback GET http://accounts.company.localhost:8080/callback",
				"handoff GET http://portal.company2.localhost:8081/sso aud=portal",
				"continue GET http://accounts.company.localhost:8080/sso/continue",
				"handoff GET http://dashboard.company3.localhost:8082/sso aud=dashboard",
				"continue GET http://accounts.company.localhost:8080/sso/continue",
				"final GET http://dashboard.company3.localhost:8082/reports?q=1",
			},
		},
		{
			name:     "return_to is used in its canonical form",
			chain:    design,
			returnTo: "HTTP://Accounts.Company.Localhost.:8080",
			want: []string{
				"login GET http://accounts.company.localhost:8080/login?return_to=http%3A%2F%2Faccounts.company.localhost%3A8080%2F",
				"idp_login GET http://auth.company.localhost:4433/self-service/login/browser?return_to=http%3A%2F%2Faccounts.company.localhost%3A8080%2Fcallback",
				"callback GET http://accounts.company.localhost:8080/callback",
				"handoff GET http://portal.company2.localhost:8081/sso aud=portal",
				"continue GET http://accounts.company.localhost:8080/sso/continue",
				"handoff GET http://dashboard.company3.localhost:8082/sso aud=dashboard",
				"continue GET http://accounts.company.localhost:8080/sso/continue",
				"final GET http://accounts.company.localhost:8080/",
			},
		},
		{
			name:  "no return_to ends at the issuer's root",
			chain: tiny,
			want: []string{
				"login GET http://issuer.company.localhost:8080/login",
				"idp_login GET http://idp.company.localhost:4433/self-service/login/browser?return_to=http%3A%2F%2Fissuer.company.localhost%3A8080%2Fcallback",
				"callback GET http://issuer.company.localhost:8080/callback",
				"final GET http://issuer.company.localhost:8080/",
			},
		},
		{
			name:     "shared-cookie receivers are skipped and form_post handoffs are POSTs",
			chain:    prod,
			returnTo: "https://dashboard.company3.com/app/x",
			want: []string{
				"login GET https://accounts.company.com/login?return_to=https%3A%2F%2Fdashboard.company3.com%2Fapp%2Fx",
				"idp_login GET https://auth.company.com/self-service/login/browser?return_to=https%3A%2F%2Faccounts.company.com%2Fcallback",
				"callback GET https://accounts.company.com/callback",
				"handoff POST https://portal.company2.com/sso aud=portal",
				"continue GET https://accounts.company.com/sso/continue",
				"handoff POST https://dashboard.company3.com/sso aud=dashboard",
				"continue GET https://accounts.company.com/sso/continue",
				"final GET https://dashboard.company3.com/app/x",
			},
		},
		{
			name:     "relay mode goes from receiver to receiver",
			chain:    relay,
			returnTo: "http://r3.localhost:9083/done",
			want: []string{
				"login GET http://accounts.relay.localhost:9080/login?return_to=http%3A%2F%2Fr3.localhost%3A9083%2Fdone",
				"idp_login GET http://auth.relay.localhost:4433/self-service/login/browser?return_to=http%3A%2F%2Faccounts.relay.localhost%3A9080%2Fcallback",
				"callback GET http://accounts.relay.localhost:9080/callback",
				"handoff GET http://r1.localhost:9081/sso aud=r1",
				"handoff GET http://r2.localhost:9082/sso aud=r2",
				"handoff GET http://r3.localhost:9083/sso aud=r3",
				"final GET http://r3.localhost:9083/done",
			},
		},
		{
			name:     "an OpenID provider is entered at its issuer URL",
			chain:    oidc,
			returnTo: "https://portal.company2.com/",
			want: []string{
				"login GET https://accounts.company.com/login?return_to=https%3A%2F%2Fportal.company2.com%2F",
				"idp_login GET https://login.example-idp.com/realms/company",
				"callback GET https://accounts.company.com/callback",
				"handoff GET https://portal.company2.com/sso aud=portal",
				"continue GET https://accounts.company.com/sso/continue",
				"final GET https://portal.company2.com/",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hops, err := Plan(tt.chain, tt.returnTo)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range hops {
				got = append(got, hopLine(h))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Plan() hops:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			// Each hop starts where the one before it ended.
			for i := 1; i < len(hops); i++ {
				if hops[i].Kind == HopCallback {
					continue // the IdP's own pages sit between idp_login and callback
				}
				if hops[i].From != hops[i-1].To {
					t.Errorf("hop %d (%s) comes from %q, but hop %d went to %q", i, hops[i].Kind, hops[i].From, i-1, hops[i-1].To)
				}
			}
			if hops[0].From != "" {
				t.Errorf("first hop From = %q, want empty", hops[0].From)
			}
		})
	}
}

func TestPlanDesignExampleMeetsItsExpectation(t *testing.T) {
	c := mustLoad(t, "testdata/valid/design-example.yaml")
	hops, err := Plan(c, c.Expect.FinalURLPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(hops) > c.Expect.MaxHops {
		t.Errorf("plan has %d hops, the example expects at most %d", len(hops), c.Expect.MaxHops)
	}
	if last := hops[len(hops)-1]; last.Kind != HopFinal || !strings.HasPrefix(last.To, c.Expect.FinalURLPrefix) {
		t.Errorf("last hop = %+v, want final at %s", last, c.Expect.FinalURLPrefix)
	}
}

func TestPlanRefuses(t *testing.T) {
	design := mustLoad(t, "testdata/valid/design-example.yaml")
	tests := []struct {
		name     string
		chain    *Chain
		returnTo string
		wantErr  error
	}{
		{name: "nil chain", chain: nil, returnTo: "", wantErr: ErrNoChain},
		{name: "origin outside the allowlist", chain: design, returnTo: "http://evil.localhost:8080/", wantErr: ErrNotAllowed},
		{name: "scheme-relative", chain: design, returnTo: "//evil.com", wantErr: ErrSchemeRelative},
		{name: "userinfo", chain: design, returnTo: "http://portal.company2.localhost:8081@evil.com/", wantErr: ErrUserinfo},
		{name: "encoded newline", chain: design, returnTo: "http://portal.company2.localhost:8081/%0d%0a", wantErr: ErrEncodedControl},
		{name: "bad pattern in a hand-built chain", chain: &Chain{Issuer: Issuer{URL: "https://a.example.com"}, ReturnTo: ReturnTo{Allow: []string{"https://*.com"}}}, returnTo: "https://a.example.com/", wantErr: errWildcardOnSuffix},
		{name: "bad issuer URL in a hand-built chain", chain: &Chain{Issuer: Issuer{URL: "accounts"}}, returnTo: "", wantErr: ErrRelative},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hops, err := Plan(tt.chain, tt.returnTo)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Plan() = %d hops, err %v; want %v", len(hops), err, tt.wantErr)
			}
			if hops != nil {
				t.Errorf("Plan() returned hops with an error: %v", hops)
			}
		})
	}
}

func TestRelayNeighbours(t *testing.T) {
	relay := mustLoad(t, "testdata/valid/relay.yaml")
	names := func(r *Receiver) string {
		if r == nil {
			return "-"
		}
		return r.Name
	}
	for _, tc := range []struct{ name, prev, next string }{
		{"r1", "-", "r2"}, {"r2", "r1", "r3"}, {"r3", "r2", "-"}, {"nobody", "-", "-"},
	} {
		prev, next := relay.RelayNeighbours(tc.name)
		if names(prev) != tc.prev || names(next) != tc.next {
			t.Errorf("%s: prev %s next %s, want %s and %s", tc.name, names(prev), names(next), tc.prev, tc.next)
		}
	}
	// A shared_cookie receiver is not on the walk, so relay passes over it.
	relay.Receivers[1].SharedCookie = true
	if prev, next := relay.RelayNeighbours("r1"); prev != nil || names(next) != "r3" {
		t.Errorf("r1 with r2 shared_cookie: prev %s next %s, want - and r3", names(prev), names(next))
	}
	if prev, _ := relay.RelayNeighbours("r3"); names(prev) != "r1" {
		t.Errorf("r3 with r2 shared_cookie: prev %s, want r1", names(prev))
	}
	relay.Mode = ModeHub
	if prev, next := relay.RelayNeighbours("r1"); prev != nil || next != nil {
		t.Error("hub mode has relay neighbours")
	}
}
