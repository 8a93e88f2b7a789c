package chain

import "fmt"

// FindingKind is one entry of the findings catalog: a stable code, what is
// wrong in a line, how bad it is, and the fix. Codes never change meaning
// once released; docs/findings.md documents each.
type FindingKind struct {
	Code     string
	Title    string
	Severity Severity
	Fix      string
}

// The catalog. SSO1xx tokens, SSO2xx cookies, SSO3xx redirects, SSO4xx the
// IdP and sessions.
var (
	FindingLifetimeOverMax = &FindingKind{"SSO101", "handoff token lives longer than the maximum", SeverityError,
		"mint handoffs with a lifetime of at most 30 s (token.ttl); a long-lived handoff is a bearer credential"}
	FindingAudience = &FindingKind{"SSO102", "handoff token has no audience, or a receiver accepts one minted for another", SeverityError,
		"mint every handoff for exactly one receiver (aud) and make each receiver verify aud equals its own name"}
	FindingReplayAccepted = &FindingKind{"SSO103", "a receiver accepted a replayed handoff", SeverityError,
		"consume each jti in a replay store (shared across instances) before setting the cookie"}
	FindingForgeryAccepted = &FindingKind{"SSO104", `a receiver accepted an unsigned (alg "none") or tampered token`, SeverityError,
		"verify the signature with the algorithm pinned by the key, never the token's alg"}
	FindingExpiredAccepted = &FindingKind{"SSO105", "a receiver accepted an expired handoff", SeverityError,
		"require exp and refuse tokens past exp + a small leeway"}
	FindingRiskyToken = &FindingKind{"SSO106", "a handoff token is missing parts of the profile (typ, jti, sid, …)", SeverityWarning,
		"mint with typ sso-handoff+jwt, jti, sid, iat and exp (see docs/token-profile.md)"}
	FindingRelayMint = &FindingKind{"SSO107", "a receiver minted a handoff (relay mode): every receiver can sign anyone in at every other", SeverityWarning,
		"use mode: hub with an asymmetric token.alg (EdDSA, ES256 or RS256), where only the issuer holds a signing key and receivers hold the public key; if relay must stay, treat every receiver's host as able to sign in any user anywhere on the chain, and keep token.ttl short"}
	FindingCookieDomain = &FindingKind{"SSO201", "cookie domain is too broad or a public suffix", SeverityError,
		"leave Domain unset (host-only) unless siblings must share the cookie, and never set it to a public suffix"}
	FindingCookieFlags = &FindingKind{"SSO202", "session cookie lacks Secure, HttpOnly or SameSite", SeverityError,
		"set HttpOnly, SameSite=Lax (or Strict) and, on https, Secure on every session cookie"}
	FindingCookieMissing = &FindingKind{"SSO203", "a cookie was not set where it was expected", SeverityError,
		"check the receiver's /sso answer and cookie settings; a handoff it refused sets nothing"}
	FindingRedirectLoop = &FindingKind{"SSO301", "redirect loop", SeverityError,
		"make each hop move forward: a receiver must not send the browser back to a hop it came from, and the IdP's session cookie must reach the issuer"}
	FindingOpenRedirect = &FindingKind{"SSO302", "open redirect through return_to or ret", SeverityError,
		"check return_to and ret against an allowlist of the chain's origins before any redirect"}
	FindingTokenReferer = &FindingKind{"SSO303", "a token in a URL can reach a third party through Referer", SeverityError,
		"send Referrer-Policy: no-referrer on pages whose URL holds a token, or carry tokens by form_post"}
	FindingIdPUnreachable = &FindingKind{"SSO401", "identity provider unreachable", SeverityError,
		"check that the IdP answers at idp.public_url (and admin_url) from where the roles run"}
	FindingNoRecheck = &FindingKind{"SSO402", "a receiver kept a revoked session signed in past its re-check interval", SeverityError,
		"re-check the IdP session at most every recheck_interval and refuse it once revoked"}
	FindingSignedInAfterLogout = &FindingKind{"SSO403", "receiver still signed in after logout", SeverityError,
		"give the receiver a back-channel logout endpoint (backchannel_logout: true, the default) and revoke the logout token's sid at once; the front-channel clears one browser's cookie and the IdP re-check comes a recheck_interval late"}
)

// FindingKinds lists the catalog in code order, for documentation and
// tests.
func FindingKinds() []*FindingKind {
	return []*FindingKind{
		FindingLifetimeOverMax, FindingAudience, FindingReplayAccepted, FindingForgeryAccepted,
		FindingExpiredAccepted, FindingRiskyToken, FindingRelayMint,
		FindingCookieDomain, FindingCookieFlags, FindingCookieMissing,
		FindingRedirectLoop, FindingOpenRedirect, FindingTokenReferer,
		FindingIdPUnreachable, FindingNoRecheck, FindingSignedInAfterLogout,
	}
}

// New makes a finding of this kind about one step (0: the walk as a whole)
// and host.
func (k *FindingKind) New(step int, host, format string, args ...any) Finding {
	return Finding{
		Code: k.Code, Severity: k.Severity, Title: k.Title, Fix: k.Fix,
		Detail: fmt.Sprintf(format, args...), Step: step, Host: host,
	}
}
