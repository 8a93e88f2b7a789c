package chain_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/pkg/chain"
)

func expectations(tr *chain.Trace) []string {
	var out []string
	for _, x := range tr.Expectations {
		mark := "ok"
		if !x.OK {
			mark = "FAIL"
		}
		out = append(out, fmt.Sprintf("%s %s: want %s, got %s", mark, x.Name, x.Want, x.Got))
	}
	return out
}

// expectTest is a walk of acme (with its chain file) and the expectations
// checked after it.
type expectTest struct {
	description string
	faults      acmeFaults
	expect      chain.Expect
	want        []string
	wantCodes   []string
}

var expectTests = []expectTest{
	{
		description: "Everything as expected; the receivers' cookies and /auth are always checked.",
		expect: chain.Expect{
			FinalURLPrefix: acmeFinal, MaxHops: 7, MaxTokenLifetime: 30 * time.Second,
			Cookies: []chain.CookieExpectation{{Domain: "login.acme.example", Names: []string{"acme_sid"}}, {Domain: "app2.blog.example", Names: []string{"app2_session"}}},
		},
		want: []string{
			"ok final_url_prefix: want " + acmeFinal + ", got " + acmeFinal,
			"ok max_hops: want at most 7, got 6 (7 requests, less the login form)",
			"ok cookies[login.acme.example]: want acme_sid, got acme_sid",
			"ok cookies[app2.blog.example]: want app2_session, got app2_session",
			"ok cookies[app1.shop.example]: want app1_session, got app1_session",
			"ok max_token_lifetime: want at most 30s, got 30s (longest, at step 5)",
			"ok auth[app1]: want 200 from " + acmeApp1 + "/auth, got 200",
			"ok auth[app2]: want 200 from " + acmeApp2 + "/auth, got 200",
		},
	},
	{
		description: "A walk longer than allowed, ending elsewhere, with an hour-long token and a cookie nobody sets.",
		faults:      acmeFaults{ttl: time.Hour},
		expect: chain.Expect{
			FinalURLPrefix: acmeApp1 + "/", MaxHops: 3, MaxTokenLifetime: 10 * time.Second,
			Cookies: []chain.CookieExpectation{{Domain: "login.acme.example", Names: []string{"acme_sid", "remember_me"}}},
		},
		want: []string{
			"FAIL final_url_prefix: want " + acmeApp1 + "/, got " + acmeFinal,
			"FAIL max_hops: want at most 3, got 6 (7 requests, less the login form)",
			"FAIL cookies[login.acme.example]: want acme_sid, remember_me, got missing remember_me; has acme_sid",
			"ok cookies[app1.shop.example]: want app1_session, got app1_session",
			"ok cookies[app2.blog.example]: want app2_session, got app2_session",
			"FAIL max_token_lifetime: want at most 10s, got 1h (longest, at step 5)",
			"ok auth[app1]: want 200 from " + acmeApp1 + "/auth, got 200",
			"ok auth[app2]: want 200 from " + acmeApp2 + "/auth, got 200",
		},
		wantCodes: []string{"SSO101"},
	},
	{
		description: "app1 refuses its handoff: the walk ends there, and neither receiver signed the browser in.",
		faults:      acmeFaults{refuse: true},
		want: []string{
			"FAIL cookies[app1.shop.example]: want app1_session, got none",
			"FAIL cookies[app2.blog.example]: want app2_session, got none",
			"FAIL auth[app1]: want 200 from " + acmeApp1 + "/auth, got 401",
			"FAIL auth[app2]: want 200 from " + acmeApp2 + "/auth, got 401",
		},
		wantCodes: []string{"SSO203", "SSO203"},
	},
}

func TestExpect(t *testing.T) {
	for _, tt := range expectTests {
		t.Run(tt.description, func(t *testing.T) {
			a := startAcme(t, tt.faults)
			b := a.browser(a.chain(), acmeUser, acmePass)
			tr := walk(t, b, acmeStart())
			b.Expect(context.Background(), tr, tt.expect)
			equalLists(t, "expectations", expectations(tr), tt.want)
			equalLists(t, "findings", codes(tr.Findings), tt.wantCodes)
			failed := len(tt.wantCodes) > 0
			for _, w := range tt.want {
				failed = failed || w[:4] == "FAIL"
			}
			if tr.Failed() != failed {
				t.Errorf("Failed() = %v", tr.Failed())
			}
		})
	}
}

// SSO203 points at the handoff the receiver refused.
func TestExpectCookieMissingNamesTheHandoff(t *testing.T) {
	a := startAcme(t, acmeFaults{refuse: true})
	b := a.browser(a.chain(), acmeUser, acmePass)
	tr := walk(t, b, acmeStart())
	b.Expect(context.Background(), tr, chain.Expect{})
	want := []string{
		"5 app1.shop.example after the walk the browser holds no app1_session for app1.shop.example (receiver app1): its answer to the handoff at step 5 was 401",
		"0 app2.blog.example after the walk the browser holds no app2_session for app2.blog.example (receiver app2): the walk never handed off to it",
	}
	var got []string
	for _, f := range tr.Findings {
		got = append(got, fmt.Sprintf("%d %s %s", f.Step, f.Host, f.Detail))
	}
	equalLists(t, "SSO203 findings", got, want)
	if fs := tr.Steps[4].Findings; len(fs) != 1 || fs[0].Code != "SSO203" {
		t.Errorf("step 5 findings: %+v", fs)
	}
}

// Without a chain, only what e names is checked.
func TestExpectWithoutAChain(t *testing.T) {
	a := startAcme(t, acmeFaults{})
	b := a.browser(nil, acmeUser, acmePass)
	tr := walk(t, b, acmeStart())
	b.Expect(context.Background(), tr, chain.Expect{MaxTotalTime: time.Nanosecond, Cookies: []chain.CookieExpectation{{Domain: "id.acme.example", Names: []string{"idp_sess"}}}})
	if len(tr.Expectations) != 2 || !tr.Expectations[0].OK || tr.Expectations[1].OK || tr.Expectations[1].Name != "max_total_time" {
		t.Errorf("expectations: %v", expectations(tr))
	}
}
