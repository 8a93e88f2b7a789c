package tracecmd

import (
	"time"

	"github.com/ssoctl/ssoctl/pkg/chain"
)

// Hand-made traces of the example chain (examples/local), with a fixed
// clock and fixed timings, so the renderers' golden files never move.

var fixtureStart = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

const (
	issuer    = "http://accounts.company.localhost:8080"
	idp       = "http://auth.company.localhost:4433"
	portal    = "http://portal.company2.localhost:8081"
	dashboard = "http://dashboard.company3.localhost:8082"
	startURL  = issuer + "/login?return_to=http%3A%2F%2Fdashboard.company3.localhost%3A8082%2F"
)

func cookie(name, host, domain string) chain.CookieInfo {
	return chain.CookieInfo{Name: name, Host: host, Domain: domain, Path: "/", HttpOnly: true, SameSite: "Lax", MaxAge: 28800}
}

func handoff(aud, jti string) *chain.TokenSummary {
	return &chain.TokenSummary{
		In: `query "token"`, Alg: "HS256", Typ: "sso-handoff+jwt", Issuer: issuer,
		Audience: []string{aud}, JTIPrefix: jti, Chain: "c0ffee12", Return: dashboard + "/", LifetimeS: 30,
	}
}

// okTrace is a clean sandbox walk: nine steps, every expectation met.
func okTrace() *chain.Trace {
	return &chain.Trace{
		SchemaVersion: chain.TraceSchemaVersion,
		Chain:         "company",
		Mode:          "sandbox",
		Start:         startURL,
		Final:         dashboard + "/",
		FinalStatus:   200,
		Started:       fixtureStart,
		ElapsedMS:     41.7,
		Steps: []chain.Step{
			{N: 1, Kind: chain.HopLogin, Method: "GET", URL: startURL, Status: 303, AtMS: 0, ElapsedMS: 1.2,
				Location: idp + "/self-service/login/browser?return_to=http%3A%2F%2Faccounts.company.localhost%3A8080%2Fcallback"},
			{N: 2, Kind: chain.HopIdPLogin, Method: "GET", URL: idp + "/self-service/login/browser?return_to=http%3A%2F%2Faccounts.company.localhost%3A8080%2Fcallback",
				Status: 200, AtMS: 1.4, ElapsedMS: 0.9,
				SetCookies: []chain.CookieInfo{{Name: "ssoctl_idp_csrf", Host: "auth.company.localhost:4433", Path: "/", HttpOnly: true, SameSite: "Strict"}}},
			{N: 3, Method: "POST", URL: idp + "/self-service/login", Form: "login", Status: 303, AtMS: 2.5, ElapsedMS: 28.3,
				Location:   issuer + "/callback",
				SetCookies: []chain.CookieInfo{cookie("ory_kratos_session", "auth.company.localhost:4433", "company.localhost")}},
			{N: 4, Kind: chain.HopCallback, Method: "GET", URL: issuer + "/callback", Status: 303, AtMS: 31.0, ElapsedMS: 2.1,
				Location:   portal + "/sso?token=<token aud=portal ttl=30s>",
				SetCookies: []chain.CookieInfo{cookie("accounts_session", "accounts.company.localhost:8080", "")}},
			{N: 5, Kind: chain.HopHandoff, Method: "GET", URL: portal + "/sso?token=<token aud=portal ttl=30s>", Status: 303, AtMS: 33.2, ElapsedMS: 1.8,
				Location:   issuer + "/sso/continue?state=s1",
				SetCookies: []chain.CookieInfo{cookie("portal_session", "portal.company2.localhost:8081", "")},
				Token:      handoff("portal", "3f2a9c01")},
			{N: 6, Kind: chain.HopContinue, Method: "GET", URL: issuer + "/sso/continue?state=s1", Status: 303, AtMS: 35.1, ElapsedMS: 0.7,
				Location: dashboard + "/sso?token=<token aud=dashboard ttl=30s>"},
			{N: 7, Kind: chain.HopHandoff, Method: "GET", URL: dashboard + "/sso?token=<token aud=dashboard ttl=30s>", Status: 303, AtMS: 35.9, ElapsedMS: 1.6,
				Location:   issuer + "/sso/continue?state=s2",
				SetCookies: []chain.CookieInfo{cookie("dashboard_session", "dashboard.company3.localhost:8082", "")},
				Token:      handoff("dashboard", "b7e01d44")},
			{N: 8, Kind: chain.HopContinue, Method: "GET", URL: issuer + "/sso/continue?state=s2", Status: 303, AtMS: 37.6, ElapsedMS: 0.6,
				Location: dashboard + "/"},
			{N: 9, Kind: chain.HopFinal, Method: "GET", URL: dashboard + "/", Status: 200, AtMS: 38.3, ElapsedMS: 3.4},
		},
		Cookies: map[string][]chain.CookieInfo{
			"auth.company.localhost:4433":       {cookie("ory_kratos_session", "auth.company.localhost:4433", "company.localhost")},
			"accounts.company.localhost:8080":   {cookie("ory_kratos_session", "auth.company.localhost:4433", "company.localhost"), cookie("accounts_session", "accounts.company.localhost:8080", "")},
			"portal.company2.localhost:8081":    {cookie("portal_session", "portal.company2.localhost:8081", "")},
			"dashboard.company3.localhost:8082": {cookie("dashboard_session", "dashboard.company3.localhost:8082", "")},
		},
		Findings: []chain.Finding{},
		Expectations: []chain.Expectation{
			{Name: "final_url_prefix", Want: dashboard + "/", Got: dashboard + "/", OK: true},
			{Name: "max_hops", Want: "at most 8", Got: "8 (9 requests, less the login form)", OK: true},
			{Name: "auth[portal]", Want: "200", Got: "200", OK: true},
			{Name: "auth[dashboard]", Want: "200", Got: "200", OK: true},
		},
	}
}

// failedTrace is a walk through a broken chain: dashboard takes portal's
// token, a cookie without HttpOnly, a cookie kept back for SameSite, one
// cleared by Clear-Site-Data, a hop reached by a page's script and a last
// page whose script the walk cannot follow, a failed expectation, and
// probes that were refused, accepted and skipped.
func failedTrace() *chain.Trace {
	t := okTrace()
	t.Mode = "live"
	t.ElapsedMS = 52.4
	t.Steps[6].Token = handoff("portal", "3f2a9c01")
	t.Steps[6].URL = dashboard + "/sso?token=<token aud=portal ttl=30s>"
	t.Steps[5].Location = t.Steps[6].URL
	t.Steps[4].SetCookies[0].HttpOnly = false
	t.Steps[8].Withheld = []chain.WithheldCookie{{Name: "dashboard_prefs", Host: "dashboard.company3.localhost:8082", SameSite: "Strict",
		Reason: "SameSite=Strict on a cross-site GET from company.localhost"}}
	t.Steps[7].Cleared = []chain.CookieInfo{cookie("accounts_theme", "accounts.company.localhost:8080", "")}
	t.Steps[7].Status, t.Steps[7].Location = 200, ""
	t.Steps[8].Navigation = chain.NavScript
	t.Steps[8].ScriptNavigation = "window.location.href = …"
	t.Cookies["portal.company2.localhost:8081"][0].HttpOnly = false
	aud := chain.FindingAudience.New(7, "dashboard.company3.localhost:8082", "dashboard accepted a handoff minted for portal (aud=portal) and set dashboard_session")
	flags := chain.FindingCookieFlags.New(5, "portal.company2.localhost:8081", "portal_session is set without HttpOnly")
	risky := chain.FindingRiskyToken.New(5, "portal.company2.localhost:8081", "the handoff has no sid")
	t.Steps[6].Findings = []chain.Finding{aud}
	t.Steps[4].Findings = []chain.Finding{flags, risky}
	t.Findings = []chain.Finding{flags, risky, aud}
	t.Expectations[1] = chain.Expectation{Name: "max_hops", Want: "at most 7", Got: "8 (9 requests, less the login form)", OK: false}
	t.Expectations = append(t.Expectations, chain.Expectation{Name: "cookies[portal.company2.localhost:8081]", Want: "portal_session", Got: "portal_session", OK: true})
	t.Probes = []chain.ProbeResult{
		{Name: "replay", Target: "portal", Status: 401, Attempts: 3, Refused: true},
		{Name: "replay", Target: "dashboard", Status: 303, Attempts: 2, Finding: "SSO103"},
		{Name: "wrong_audience", Target: "dashboard", Status: 303, Refused: false, Finding: "SSO102"},
		{Name: "alg_none", Target: "portal", Status: 401, Refused: true},
		{Name: "session_instances", Target: "portal", Status: 401, Attempts: 3, Finding: "SSO404"},
		{Name: "session_instances", Target: "dashboard", Status: 200, Attempts: 3, Refused: true},
		{Name: "revoked_session", Target: "portal", Skipped: "a live chain's clock cannot be moved past the recheck interval"},
		{Name: "logout_csrf", Target: "accounts.company.localhost:8080", Status: 303, Finding: "SSO405",
			Detail: "logout_csrf: GET http://accounts.company.localhost:8080/logout from a link on another site (Sec-Fetch-Site cross-site) deleted accounts_session: any page can sign its visitors out of the chain"},
	}
	return t
}

// exampleReceivers are the example chain's receivers by name.
var exampleReceivers = map[string]string{"portal": "portal.company2.localhost:8081", "dashboard": "dashboard.company3.localhost:8082"}

// unreachableTrace is a live walk whose portal is down.
func unreachableTrace() *chain.Trace {
	t := okTrace()
	t.Mode = "live"
	t.Steps = t.Steps[:5]
	t.Steps[4].Status = 0
	t.Steps[4].SetCookies = nil
	t.Steps[4].Location = ""
	t.Steps[4].Token = handoff("portal", "3f2a9c01")
	t.Steps[4].Error = "dial tcp 127.0.0.1:8081: connect: connection refused"
	t.Final = portal + "/sso?token=<token aud=portal ttl=30s>"
	t.FinalStatus = 0
	t.ElapsedMS = 33.9
	t.Cookies = map[string][]chain.CookieInfo{
		"accounts.company.localhost:8080": {cookie("accounts_session", "accounts.company.localhost:8080", "")},
	}
	t.Expectations = nil
	t.Unreachable = "portal.company2.localhost:8081"
	return t
}

// hostileTrace holds what a hostile server could send back: terminal
// escapes, markup and Mermaid syntax in a URL, a cookie name and a finding.
func hostileTrace() *chain.Trace {
	t := okTrace()
	t.Chain = "evil\x1b]0;owned\a"
	t.Steps = t.Steps[:1]
	t.Steps[0].URL = "http://evil.example/\x1b[2J<script>#;]]>&\"'"
	t.Steps[0].SetCookies = []chain.CookieInfo{{Name: "x\x1b[31m", Host: "evil.example"}}
	t.Findings = []chain.Finding{chain.FindingOpenRedirect.New(1, "evil.example", "went to ]]><!-- \x1b[2J\nsecond line; #1 <b>")}
	t.Expectations = []chain.Expectation{{Name: "final_url_prefix", Want: "http://a/", Got: "http://evil.example/\x00", OK: false}}
	return t
}
