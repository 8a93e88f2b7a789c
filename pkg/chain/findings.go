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
// IdP and sessions, SSO5xx OpenID Connect.
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
	FindingCookieWithheld = &FindingKind{"SSO204", "a session cookie is kept from a step of the chain by its SameSite attribute", SeverityWarning,
		"give session cookies SameSite=Lax: a chain's hops are cross-site navigations (a sign-in started from a receiver's page, the page after a form_post), and browsers send a Strict cookie with none of them"}
	FindingRedirectLoop = &FindingKind{"SSO301", "redirect loop", SeverityError,
		"make each hop move forward: a receiver must not send the browser back to a hop it came from, and the IdP's session cookie must reach the issuer"}
	FindingOpenRedirect = &FindingKind{"SSO302", "open redirect through return_to or ret", SeverityError,
		"check return_to and ret against an allowlist of the chain's origins before any redirect"}
	FindingTokenReferer = &FindingKind{"SSO303", "a token in a URL can reach a third party through Referer", SeverityError,
		"send Referrer-Policy: no-referrer on pages whose URL holds a token, or carry tokens by form_post"}
	FindingTooManyRedirects = &FindingKind{"SSO304", "more redirects in a row than browsers follow", SeverityError,
		"keep every navigation under 20 redirects: answer a page that moves on by itself (a meta refresh) every few hops, as ssoctl's issuer does every six receivers, or hand off by form_post, whose interstitial pages each start a new count"}
	FindingIdPUnreachable = &FindingKind{"SSO401", "identity provider unreachable", SeverityError,
		"check that the IdP answers at idp.public_url (and admin_url) from where the roles run"}
	FindingNoRecheck = &FindingKind{"SSO402", "a receiver kept a revoked session signed in past its re-check interval", SeverityError,
		"re-check the IdP session at most every recheck_interval and refuse it once revoked"}
	FindingSignedInAfterLogout = &FindingKind{"SSO403", "receiver still signed in after logout", SeverityError,
		"give the receiver a back-channel logout endpoint (backchannel_logout: true, the default) and revoke the logout token's sid at once; the front-channel clears one browser's cookie and the IdP re-check comes a recheck_interval late"}
	FindingSplitSession = &FindingKind{"SSO404", "a receiver's instances disagree about the session: some sign it in, others do not", SeverityError,
		"give every instance of a receiver the same cookie key (cookie.secret, or token.secret it derives from) and the same stores (store: {redis: …}), so that whichever instance a load balancer picks reads the cookie another set; while changing a key, list the old one in previous_secrets on every instance"}
	FindingLogoutCSRF = &FindingKind{"SSO405", "a link from another site signs the user out (logout CSRF)", SeverityWarning,
		"answer a GET of the logout URL that another site started (Sec-Fetch-Site cross-site or same-site) with a page that asks, and sign out at once only on a POST from your own page, a navigation the user started (Sec-Fetch-Site none or same-origin) or a request that proves it knows the session (OIDC's id_token_hint, ssoctl's session_hint)"}
	FindingOIDCNoState = &FindingKind{"SSO501", "an OpenID Connect authorization request has no state", SeverityError,
		"send a fresh, unguessable state with every authorization request, bind it to the browser (a cookie) and refuse a callback whose state does not match"}
	FindingOIDCNoPKCE = &FindingKind{"SSO502", "an authorization code request has no PKCE, or uses the plain method", SeverityError,
		"send code_challenge with code_challenge_method=S256 (RFC 7636) and the verifier with the code, and make the provider require PKCE for the client"}
	FindingOIDCRedirectURI = &FindingKind{"SSO503", "the provider accepted a changed redirect_uri", SeverityError,
		"register the client's exact redirect URIs at the provider and make it compare redirect_uri with them exactly, never by prefix or origin"}
	FindingOIDCCodeReplay = &FindingKind{"SSO504", "the provider redeemed an authorization code twice", SeverityError,
		"make the provider refuse a code the second time it is presented (RFC 6749 §4.1.2), and revoke the tokens issued for it"}
	FindingOIDCIDToken = &FindingKind{"SSO505", "an ID token fails verification (alg, iss, aud, nonce or exp)", SeverityError,
		"sign ID tokens with an asymmetric algorithm the discovery document announces, with iss the issuer, aud the client, the request's nonce and a near exp; relying parties must check every one"}
	FindingOIDCFragmentTokens = &FindingKind{"SSO506", "tokens travel in a URL fragment (implicit or hybrid flow)", SeverityError,
		"use the authorization code flow (response_type=code) with PKCE, or response_mode=form_post, so that no token sits in a URL"}
)

// FindingKinds lists the catalog in code order, for documentation and
// tests.
func FindingKinds() []*FindingKind {
	return []*FindingKind{
		FindingLifetimeOverMax, FindingAudience, FindingReplayAccepted, FindingForgeryAccepted,
		FindingExpiredAccepted, FindingRiskyToken, FindingRelayMint,
		FindingCookieDomain, FindingCookieFlags, FindingCookieMissing, FindingCookieWithheld,
		FindingRedirectLoop, FindingOpenRedirect, FindingTokenReferer, FindingTooManyRedirects,
		FindingIdPUnreachable, FindingNoRecheck, FindingSignedInAfterLogout, FindingSplitSession, FindingLogoutCSRF,
		FindingOIDCNoState, FindingOIDCNoPKCE, FindingOIDCRedirectURI, FindingOIDCCodeReplay, FindingOIDCIDToken,
		FindingOIDCFragmentTokens,
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
