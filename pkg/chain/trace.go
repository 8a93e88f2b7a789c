package chain

import "time"

// A Trace is one walk through a chain as a browser makes it: every request,
// what it set, the handoff tokens it carried, and what is wrong (findings)
// or not as expected. It holds no token, cookie value or password: URLs
// show a token as <token aud=portal ttl=30s>, cookies by name and
// attributes only.
type Trace struct {
	SchemaVersion int       `json:"schema_version"`
	Chain         string    `json:"chain,omitempty"` // the chain file's name, when walked from one
	Mode          string    `json:"mode"`            // "sandbox", "live" or "start"; Walk writes "live", the caller says otherwise
	Start         string    `json:"start"`           // first URL (redacted)
	Final         string    `json:"final"`           // where the walk ended (redacted)
	FinalStatus   int       `json:"final_status"`
	Started       time.Time `json:"started"`
	ElapsedMS     float64   `json:"elapsed_ms"`
	Steps         []Step    `json:"steps"`
	// Cookies is what the browser holds at the end, by host it would send
	// them to (every host the walk requested).
	Cookies map[string][]CookieInfo `json:"cookies,omitempty"`
	// Findings are all of the walk's and Expect's, once each; a step's
	// Findings repeat those about it.
	Findings     []Finding     `json:"findings"`
	Expectations []Expectation `json:"expectations"`
	Probes       []ProbeResult `json:"probes,omitempty"`
	// Logout is what trace chain --logout saw after the walk; nil without.
	Logout *LogoutResult `json:"logout,omitempty"`
	// Unreachable is the host:port that could not be reached at all, or
	// (with a Chain) the IdP's when a role answered 503 for want of it; the
	// walk stopped there (exit 3).
	Unreachable string `json:"unreachable,omitempty"`
}

// Failed reports whether the trace has an error-level finding or a failed
// expectation.
func (t *Trace) Failed() bool {
	for _, f := range t.Findings {
		if f.Severity == SeverityError {
			return true
		}
	}
	for _, e := range t.Expectations {
		if !e.OK {
			return true
		}
	}
	for _, p := range t.Probes {
		if p.Fails() {
			return true
		}
	}
	return false
}

// Accepted reports whether the probe's attack worked.
func (p ProbeResult) Accepted() bool { return !p.Refused && p.Skipped == "" }

// Fails reports whether the probe fails the trace: accepted, and its
// finding an error (logout_csrf's SSO405 is a warning).
func (p ProbeResult) Fails() bool {
	if !p.Accepted() {
		return false
	}
	for _, k := range FindingKinds() {
		if k.Code == p.Finding {
			return k.Severity == SeverityError
		}
	}
	return true
}

// Step is one request of a walk.
type Step struct {
	N         int     `json:"n"` // 1-based
	Kind      HopKind `json:"kind,omitempty"`
	Method    string  `json:"method"`
	URL       string  `json:"url"` // redacted
	Status    int     `json:"status"`
	AtMS      float64 `json:"at_ms"`      // since the walk started
	ElapsedMS float64 `json:"elapsed_ms"` // this request
	// Location is the redirect target, redacted; empty for non-redirects.
	Location string `json:"location,omitempty"`
	// Form is set when this request submitted a form the previous page
	// held (a login form, a form_post interstitial).
	Form string `json:"form,omitempty"` // "login" or "form_post"
	// Navigation is set when the previous page sent the browser here by
	// itself, without a redirect or a form: "refresh" (a meta refresh or a
	// Refresh header) or "script" (an inline script's location.replace,
	// location.href = …, with the URL written out).
	Navigation string `json:"navigation,omitempty"`
	// ScriptNavigation is set when this step's page moves the browser on
	// by script to a URL the script computes, which the walk, running no
	// JavaScript, cannot follow: the statement, its URL left out
	// ("location.href = …"). The walk stopped here.
	ScriptNavigation string       `json:"script_navigation,omitempty"`
	SetCookies       []CookieInfo `json:"set_cookies,omitempty"`
	// Withheld lists the cookies the browser held for this URL but did
	// not send with this request, for their SameSite attribute.
	Withheld []WithheldCookie `json:"withheld_cookies,omitempty"`
	// Cleared lists the cookies this response's Clear-Site-Data removed
	// from the browser (every cookie of its site).
	Cleared []CookieInfo  `json:"cleared_cookies,omitempty"`
	Token   *TokenSummary `json:"token,omitempty"`
	// OIDC is set when this request is an OpenID Connect authorization
	// request or the answer to one at its redirect_uri.
	OIDC     *OIDCSummary `json:"oidc,omitempty"`
	Findings []Finding    `json:"findings,omitempty"`
	Error    string       `json:"error,omitempty"` // transport error, or a Location no browser can follow; never holds a token
}

// CookieInfo is a cookie as parsed from Set-Cookie (or held by the jar),
// never with its value.
type CookieInfo struct {
	Name     string    `json:"name"`
	Host     string    `json:"host"`             // the host that set it
	Domain   string    `json:"domain,omitempty"` // Domain attribute; empty means host-only
	Path     string    `json:"path,omitempty"`
	Secure   bool      `json:"secure"`
	HttpOnly bool      `json:"http_only"`
	SameSite string    `json:"same_site,omitempty"` // Lax, Strict, None or "" (unset)
	Expires  time.Time `json:"expires,omitzero"`
	MaxAge   int       `json:"max_age,omitzero"`
	Deleted  bool      `json:"deleted,omitzero"` // an expired cookie that clears one
	// Rejected says why a browser would not store it (a Domain the host
	// does not domain-match, a public suffix, Secure from plain http,
	// SameSite=None without Secure, a broken __Host- or __Secure- prefix,
	// a malformed line); empty when stored.
	Rejected string `json:"rejected,omitempty"`
}

// WithheldCookie is a cookie the browser held for a request's URL but kept
// back from it, because the request was cross-site and the cookie's
// SameSite attribute says so (RFC 6265bis §5.8.3, as Chromium applies it).
// Never its value.
type WithheldCookie struct {
	Name     string `json:"name"`
	Host     string `json:"host"`                // the host that set it
	SameSite string `json:"same_site,omitempty"` // Strict, Lax or "" (unset: Lax in Chromium)
	Reason   string `json:"reason"`              // "SameSite=Strict on a cross-site GET from company.com"
}

// TokenSummary describes a handoff token a request carried, decoded without
// a key; never the token itself.
type TokenSummary struct {
	In        string   `json:"in"` // `query "token"`, `form "token"`
	Alg       string   `json:"alg"`
	Kid       string   `json:"kid,omitempty"`
	Typ       string   `json:"typ,omitempty"`
	Issuer    string   `json:"iss,omitempty"`
	Audience  []string `json:"aud,omitempty"`
	JTIPrefix string   `json:"jti_prefix,omitempty"`
	Chain     string   `json:"chn,omitempty"`
	Return    string   `json:"ret,omitempty"`       // redacted like URLs
	LifetimeS int64    `json:"lifetime_s,omitzero"` // exp - iat, seconds
	Warnings  []string `json:"warnings,omitempty"`  // pkg/token reason codes from Inspect
	// MintedBy names the receiver that minted this handoff when it was not
	// the issuer (relay mode, SSO107): its name in the chain file, or its
	// host when the walk has no chain file.
	MintedBy string `json:"minted_by,omitempty"`
}

// OIDCSummary describes an OpenID Connect (OAuth 2.0) step of a walk: an
// authorization request (OpenID Connect Core 1.0 §3.1.2.1, RFC 6749 §4.1.1)
// or the provider's answer at its redirect_uri (§3.1.2.5, §3.1.2.6). It
// holds no value that signs anyone in or ties a login to a browser: a
// code, a state, a nonce and tokens are reported as present only.
type OIDCSummary struct {
	Kind         string   `json:"kind"` // "authorization_request", "callback" or "error"
	ClientID     string   `json:"client_id,omitempty"`
	Scope        []string `json:"scope,omitempty"`
	ResponseType string   `json:"response_type,omitempty"`
	ResponseMode string   `json:"response_mode,omitempty"`
	// CodeChallengeMethod is the PKCE method (RFC 7636): "" for none,
	// "plain" (also for a code_challenge without a method, §4.3) or "S256".
	CodeChallengeMethod string `json:"code_challenge_method,omitempty"`
	State               bool   `json:"state"`
	Nonce               bool   `json:"nonce,omitzero"`
	Prompt              string `json:"prompt,omitempty"`
	MaxAge              string `json:"max_age,omitempty"`
	RedirectURI         string `json:"redirect_uri,omitempty"` // redacted, its code and state shown as present only
	// In says where a callback carried its parameters: "query",
	// "fragment" or "form".
	In     string   `json:"in,omitempty"`
	Code   bool     `json:"code,omitzero"`
	Tokens []string `json:"tokens,omitempty"` // names of the tokens a callback carried (access_token, id_token)
	// Error and ErrorDescription are an error answer's (RFC 6749 §4.1.2.1).
	Error            string `json:"error,omitempty"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// Finding is one thing wrong with a chain, with a stable code from the
// catalog (FindingKinds).
type Finding struct {
	Code     string   `json:"code"` // SSO101 …
	Severity Severity `json:"severity"`
	Title    string   `json:"title"`
	Detail   string   `json:"detail"`
	Fix      string   `json:"fix"`
	Step     int      `json:"step,omitzero"` // the step it was seen at; 0 for the walk as a whole
	Host     string   `json:"host,omitempty"`
}

// Expectation is one expect: check (from the chain file or flags) and its
// outcome.
type Expectation struct {
	Name string `json:"name"` // "final_url_prefix", "max_hops", "cookies[portal.company2.localhost]", "auth[portal]", …
	Want string `json:"want"`
	Got  string `json:"got"`
	OK   bool   `json:"ok"`
}

// ProbeResult is one hostile request sent to a receiver (or, for
// return_to, the issuer) after the walk, and whether it was refused, as it
// must be. It never holds the token it sent.
type ProbeResult struct {
	Name   string `json:"name"`   // "replay", "expired", "wrong_audience", "tampered_signature", "alg_none", "foreign_ret", "return_to", "revoked_session", "session_instances", "logout_csrf", "redirect_uri_host", "redirect_uri_path", "code_replay"
	Target string `json:"target"` // receiver name (host:port without a chain file), or the issuer's host:port
	Status int    `json:"status"` // what it answered
	// Attempts is how many times a probe of shared state (replay,
	// revoked_session, session_instances) sent its request, each on a new connection, before
	// one was accepted or ProbeOptions.Repeat were refused; 0 for the
	// probes that send one request.
	Attempts int `json:"attempts,omitzero"`
	// Refused reports that the attack failed: a 4xx/5xx (or a redirect back
	// into the login) with no session cookie set and no redirect off the
	// chain. For foreign_ret, a receiver that took the token but sent the
	// browser somewhere on the chain instead of to ret also refused it.
	Refused bool   `json:"refused"`
	Finding string `json:"finding,omitempty"` // the code raised when it was not refused
	Skipped string `json:"skipped,omitempty"` // why it could not run (no key to mint with, …)
	// Location is where the answer sent the browser, redacted; probes
	// never follow a redirect off the chain.
	Location string `json:"location,omitempty"`
	// Detail says in a line what was sent and what came back.
	Detail string `json:"detail,omitempty"`
	// Token is the ID token a code_replay probe got for its first code,
	// decoded without a key (it is verified for SSO505); never the token.
	Token *TokenSummary `json:"token,omitempty"`
}

// TraceSchemaVersion is the version of Trace's JSON shape.
const TraceSchemaVersion = 1
