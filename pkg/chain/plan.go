package chain

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Endpoint paths and parameters the roles serve and the plan walks. They
// live here so that pkg/serve, trace and the plan cannot drift apart.
const (
	LoginPath        = "/login"                      // issuer: starts a login; takes return_to
	CallbackPath     = "/callback"                   // issuer: where the IdP sends the browser back
	ContinuePath     = "/sso/continue"               // issuer (hub): a receiver hands the browser back here
	SSOPath          = "/sso"                        // receiver: takes a handoff token
	ReturnToParam    = "return_to"                   // query parameter on LoginPath
	TokenParam       = "token"                       // query parameter or form field on SSOPath
	KratosLoginPath  = "/self-service/login/browser" // Kratos (and the dev IdP): starts a browser login flow
	kratosReturnToQS = "return_to"

	// With idp.kind kratos the issuer renders Kratos's self-service flows
	// as its own pages; Kratos's selfservice.flows.*.ui_url point here.
	UILoginPath            = "/ui/login"                          // issuer: a Kratos login flow's form (?flow=)
	UIRegistrationPath     = "/ui/registration"                   // issuer: a Kratos registration flow's form (?flow=)
	UIErrorPath            = "/ui/error"                          // issuer: a Kratos flow's error (?id=)
	KratosRegistrationPath = "/self-service/registration/browser" // Kratos: starts a browser registration flow

	// Silent check and step-up (pkg/serve check.go, freshness.go).
	CheckPath          = "/sso/check"              // issuer: a walk if signed in, else back to return_to with error=login_required; never a login page
	PromptParam        = "prompt"                  // query parameter on LoginPath; PromptLogin forces a fresh IdP login
	PromptLogin        = "login"                   // OIDC Core §3.1.2.1 prompt=login
	ErrorParam         = "error"                   // added to return_to by CheckPath: ErrorLoginRequired or ErrorUnavailable
	ErrorLoginRequired = "login_required"          // OIDC Core §3.1.2.6
	ErrorUnavailable   = "temporarily_unavailable" // RFC 6749 §4.1.2.1
	KratosRefreshParam = "refresh"                 // on KratosLoginPath: "true" asks for the password even with a session
)

// HopKind says what a hop is for.
type HopKind string

const (
	HopLogin    HopKind = "login"     // the browser opens the issuer's /login
	HopIdPLogin HopKind = "idp_login" // the issuer sends the browser to the IdP
	HopCallback HopKind = "callback"  // the IdP sends it back to the issuer
	HopHandoff  HopKind = "handoff"   // a handoff token goes to a receiver's /sso
	HopContinue HopKind = "continue"  // a receiver hands back to the issuer (hub mode)
	HopFinal    HopKind = "final"     // the browser lands on return_to
)

// Hop is one request the browser makes on a first login (no sessions yet).
// It is data for trace and lint to compare a real walk against; no token
// values appear in it.
type Hop struct {
	Kind HopKind
	// From is the URL whose response sends the browser here; "" for the
	// first hop. For the callback it is the IdP's public URL: which IdP page
	// redirects depends on the IdP, and the walk records the real one.
	From string
	// To is the URL the browser requests, without the token.
	To string
	// Method is GET, or POST for a handoff with token.transport form_post.
	Method string
	// Audience is the receiver the handoff token is bound to (its aud);
	// "" for other hops.
	Audience string
}

// ErrNoChain is returned by Plan for a nil chain.
var ErrNoChain = errors.New("plan: no chain")

// Plan returns the hops a browser without sessions takes through c, from
// the issuer's /login to returnTo. returnTo is checked against the chain's
// allowlist first; an empty returnTo ends at the issuer's root.
// Shared-cookie receivers get no hop: the issuer's parent-domain cookie
// already reaches them.
func Plan(c *Chain, returnTo string) ([]Hop, error) {
	if c == nil {
		return nil, ErrNoChain
	}
	issuer := strings.TrimSuffix(c.Issuer.URL, "/")
	if _, err := parseAbsolute(issuer, false); err != nil {
		return nil, fmt.Errorf("plan: issuer.url: %w", err)
	}
	final := issuer + "/"
	if returnTo != "" {
		allow, err := c.Allowlist()
		if err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
		u, err := allow.Allow(returnTo)
		if err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
		final = u.String()
	}

	login := issuer + LoginPath
	if returnTo != "" {
		login += "?" + url.Values{ReturnToParam: {final}}.Encode()
	}
	callback := issuer + CallbackPath
	hops := []Hop{
		{Kind: HopLogin, To: login, Method: http.MethodGet},
		{Kind: HopIdPLogin, From: login, To: idpLoginURL(c, callback), Method: http.MethodGet},
		{Kind: HopCallback, From: strings.TrimSuffix(c.IdP.PublicURL, "/"), To: callback, Method: http.MethodGet},
	}
	method := http.MethodGet
	if c.Token.Transport == TransportFormPost {
		method = http.MethodPost
	}
	from := callback
	for _, r := range c.Walked() {
		sso := strings.TrimSuffix(r.URL, "/") + SSOPath
		hops = append(hops, Hop{Kind: HopHandoff, From: from, To: sso, Method: method, Audience: r.Name})
		from = sso
		if c.Mode != ModeRelay {
			cont := issuer + ContinuePath
			hops = append(hops, Hop{Kind: HopContinue, From: sso, To: cont, Method: http.MethodGet})
			from = cont
		}
	}
	hops = append(hops, Hop{Kind: HopFinal, From: from, To: final, Method: http.MethodGet})
	return hops, nil
}

// idpLoginURL is where the issuer sends a browser without a session. For
// OpenID providers it is the provider's issuer URL: the authorization
// endpoint comes from discovery, which a plan does not do.
func idpLoginURL(c *Chain, callback string) string {
	base := strings.TrimSuffix(c.IdP.PublicURL, "/")
	if c.IdP.Kind == IdPOIDC {
		return base
	}
	return base + KratosLoginPath + "?" + url.Values{kratosReturnToQS: {callback}}.Encode()
}
