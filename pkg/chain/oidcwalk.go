package chain

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// OpenID Connect in a walk. Any request of a walk may be an authorization
// request (OpenID Connect Core 1.0 §3.1.2.1; RFC 6749 §4.1.1): ssoctl's own
// issuer sends one to an idp.kind oidc provider, and a relying party walked
// with --start sends its own. The walk recognizes them by shape, not by
// role, so it reads providers and relying parties it knows nothing about:
//
//   - an authorization request is a GET (or a form POST, §3.1.2.1) with
//     response_type and client_id;
//   - its answer (a callback) is a request to the redirect_uri that request
//     named, carrying code, error, state or tokens in the query, the
//     fragment or a form_post body (§3.1.2.5, §3.1.2.6; OAuth 2.0 Form
//     Post Response Mode).
//
// A provider that resumes a request (Hydra's login_verifier and
// consent_verifier) sends the browser to the same request again; findings
// are raised once per client and redirect_uri in a walk.

// Hop kinds of OpenID Connect steps.
const (
	HopOIDCAuth     HopKind = "oidc_auth"     // an authorization request to a provider
	HopOIDCCallback HopKind = "oidc_callback" // the provider's answer at the redirect_uri
)

// OIDCSummary.Kind values.
const (
	OIDCAuthorizationRequest = "authorization_request"
	OIDCCallback             = "callback"
	OIDCError                = "error"
)

// PKCE methods (RFC 7636 §4.2).
const (
	PKCEPlain = "plain"
	PKCES256  = "S256"
)

// oidcAuth is an authorization request a walk made, as sent: the
// redirect_uri probe replays it. It lives on the Browser, never in a Trace.
type oidcAuth struct {
	walk, step int
	method     string
	url        *url.URL
	form       url.Values // the POST body; nil for GET
	params     url.Values // query and body together
	clientID   string
	redirect   *url.URL // nil when the request names none (the client's registered one applies)
	// implicit is set when the request asks for tokens in the fragment
	// and SSO506 was raised for it.
	implicit bool
}

// key tells one client's requests apart from another's, and from another
// redirect_uri of the same client.
func (a *oidcAuth) key() string { return a.clientID + "\x00" + a.params.Get("redirect_uri") }

// callbackParams are what mark a request to a redirect_uri as the
// provider's answer.
var callbackParams = []string{"code", "error", "state", "access_token", "id_token"}

// requestParams are a request's query and, for a form POST, its body.
func requestParams(r *request) url.Values {
	v := r.url.Query()
	if r.method == http.MethodPost {
		for k, vs := range r.form {
			v[k] = append(v[k], vs...)
		}
	}
	return v
}

// recognizeOIDC says whether r is an authorization request (then auth is
// set too) or a callback of one the walk made earlier; nil when neither.
func (w *walker) recognizeOIDC(r *request) (*OIDCSummary, *oidcAuth) {
	now := w.b.now()
	v := requestParams(r)
	if v.Get("response_type") != "" && v.Get("client_id") != "" {
		a := &oidcAuth{walk: w.b.walks, method: r.method, url: r.url, form: r.form, params: v, clientID: v.Get("client_id")}
		if ru, err := url.Parse(v.Get("redirect_uri")); err == nil && ru.Host != "" && (ru.Scheme == "http" || ru.Scheme == "https") {
			a.redirect = ru
		}
		return authSummary(v, now), a
	}
	a := w.b.authFor(r.url)
	if a == nil {
		return nil, nil
	}
	for _, src := range []struct {
		in string
		v  url.Values
	}{{"form", r.form}, {"query", r.url.Query()}, {"fragment", fragmentParams(r.url)}} {
		if src.in == "form" && r.method != http.MethodPost {
			continue
		}
		if !slices.ContainsFunc(callbackParams, src.v.Has) {
			continue
		}
		s := &OIDCSummary{Kind: OIDCCallback, ClientID: oidcValue(a.clientID, now), In: src.in,
			State: src.v.Get("state") != "", Code: src.v.Get("code") != ""}
		for _, t := range []string{"access_token", "id_token"} {
			if src.v.Get(t) != "" {
				s.Tokens = append(s.Tokens, t)
			}
		}
		if e := src.v.Get("error"); e != "" {
			s.Kind, s.Error = OIDCError, oidcValue(e, now)
			s.ErrorDescription = oidcValue(src.v.Get("error_description"), now)
		}
		return s, nil
	}
	return nil, nil
}

// authFor is the last authorization request of this walk whose
// redirect_uri is u's origin and path.
func (b *Browser) authFor(u *url.URL) *oidcAuth {
	for i := len(b.authRequests) - 1; i >= 0; i-- {
		a := &b.authRequests[i]
		if a.walk == b.walks && a.redirect != nil && sameEndpoint(a.redirect, u) {
			return a
		}
	}
	return nil
}

// sameEndpoint reports whether a and b are the same origin and path, as a
// redirect_uri is compared (query and fragment aside).
func sameEndpoint(a, b *url.URL) bool {
	pa, pb := a.EscapedPath(), b.EscapedPath()
	if pa == "" {
		pa = "/"
	}
	if pb == "" {
		pb = "/"
	}
	return originOf(a) == originOf(b) && pa == pb
}

func fragmentParams(u *url.URL) url.Values {
	if u.Fragment == "" || !strings.Contains(u.Fragment, "=") {
		return nil
	}
	v, err := url.ParseQuery(u.Fragment)
	if err != nil {
		return nil
	}
	return v
}

// authSummary describes an authorization request's parameters.
func authSummary(v url.Values, now time.Time) *OIDCSummary {
	s := &OIDCSummary{
		Kind:         OIDCAuthorizationRequest,
		ClientID:     oidcValue(v.Get("client_id"), now),
		ResponseType: oidcValue(v.Get("response_type"), now),
		ResponseMode: oidcValue(v.Get("response_mode"), now),
		State:        v.Get("state") != "",
		Nonce:        v.Get("nonce") != "",
		Prompt:       oidcValue(v.Get("prompt"), now),
		MaxAge:       oidcValue(v.Get("max_age"), now),
	}
	for _, sc := range strings.Fields(v.Get("scope")) {
		s.Scope = append(s.Scope, oidcValue(sc, now))
	}
	s.CodeChallengeMethod = pkceMethod(v)
	if ru := v.Get("redirect_uri"); ru != "" {
		s.RedirectURI = hideOneTimeValues(redactURL(ru, now))
	}
	return s
}

// pkceMethod is the request's PKCE method: "" without a code_challenge,
// else its code_challenge_method, which defaults to plain (RFC 7636 §4.3).
func pkceMethod(v url.Values) string {
	if v.Get("code_challenge") == "" {
		return ""
	}
	if m := v.Get("code_challenge_method"); m != "" {
		return m
	}
	return PKCEPlain
}

// oidcValue is a parameter value fit for a trace: tokens redacted, and cut
// short (it comes from whoever built the URL).
func oidcValue(s string, now time.Time) string {
	const max = 200
	if len(s) > max {
		s = s[:max] + "…"
	}
	return redactText(s, now)
}

// hideOneTimeValues shows a redacted URL's code and state as present only.
func hideOneTimeValues(raw string) string {
	rest, frag, hasFrag := strings.Cut(raw, "#")
	base, query, hasQuery := strings.Cut(rest, "?")
	hide := func(q string) string {
		parts := strings.Split(q, "&")
		for i, p := range parts {
			if k, v, ok := strings.Cut(p, "="); ok && v != "" && (k == "code" || k == "state") {
				parts[i] = k + "=<" + k + ">"
			}
		}
		return strings.Join(parts, "&")
	}
	out := base
	if hasQuery {
		out += "?" + hide(query)
	}
	if hasFrag {
		out += "#" + hide(frag)
	}
	return out
}

// responseTypes splits response_type into its space-separated values.
func responseTypes(rt string) []string { return strings.Fields(rt) }

// fragmentDelivery reports whether a request with these parameters gets
// tokens back in a URL: response_type names token or id_token (implicit or
// hybrid flow), whose default response mode is the fragment, and
// response_mode is not form_post. (response_mode=query, which the specs
// forbid for tokens, would put them in the query: a URL still.)
func fragmentDelivery(v url.Values) bool {
	rts := responseTypes(v.Get("response_type"))
	if !slices.Contains(rts, "token") && !slices.Contains(rts, "id_token") {
		return false
	}
	return v.Get("response_mode") != "form_post"
}

// oidcFindings checks an authorization request the walk made (step n, on
// host): state (SSO501), PKCE (SSO502) and tokens in the fragment
// (SSO506). A request the walk already saw for the same client and
// redirect_uri (a provider resuming it) is checked once.
func (w *walker) oidcFindings(n int, host string, a *oidcAuth) {
	for _, prev := range w.b.authRequests {
		if prev.walk == a.walk && prev.step != n && prev.key() == a.key() {
			a.implicit = prev.implicit
			return
		}
	}
	v := a.params
	client := placeholderSafe(a.clientID)
	if v.Get("state") == "" {
		w.add(FindingOIDCNoState.New(n, host,
			"the authorization request of client %s sends no state: its redirect_uri cannot tell a code it asked for from one an attacker sends it, which signs the user in to the attacker's account (login CSRF, RFC 6749 §10.12)", client))
	}
	if slices.Contains(responseTypes(v.Get("response_type")), "code") {
		switch pkceMethod(v) {
		case "":
			w.add(FindingOIDCNoPKCE.New(n, host,
				"the authorization request of client %s sends no code_challenge (PKCE, RFC 7636): whoever intercepts the code can redeem it", client))
		case PKCEPlain:
			w.add(FindingOIDCNoPKCE.New(n, host,
				"the authorization request of client %s uses code_challenge_method plain: the challenge is the verifier itself, so whoever sees the request can redeem the code", client))
		}
	}
	if fragmentDelivery(v) {
		a.implicit = true
		w.add(FindingOIDCFragmentTokens.New(n, host,
			"the authorization request of client %s asks for response_type=%s: the provider sends the tokens back in the URL fragment, where browser history, scripts on the page and extensions can read them",
			client, placeholderSafe(v.Get("response_type"))))
	}
}

// fragmentTokenFinding raises SSO506 at step n when the provider's answer
// (a Location to loc, the redirect_uri of an authorization request that did
// not already raise it) puts tokens in the fragment.
func (w *walker) fragmentTokenFinding(n int, host string, loc *url.URL) {
	a := w.b.authFor(loc)
	if a == nil || a.implicit {
		return
	}
	v := fragmentParams(loc)
	var names []string
	for _, t := range []string{"access_token", "id_token"} {
		if v.Get(t) != "" {
			names = append(names, t)
		}
	}
	if len(names) == 0 {
		return
	}
	a.implicit = true
	w.add(FindingOIDCFragmentTokens.New(n, host,
		"%s sends %s to the redirect_uri of client %s in the URL fragment, where browser history, scripts on the page and extensions can read them",
		host, strings.Join(names, " and "), placeholderSafe(a.clientID)))
}

// ProbeRedirectURIHost and ProbeRedirectURIPath are the redirect_uri
// probes: the walk's authorization request again, its redirect_uri moved
// to ProbeForeignURL's host, or to another path under the registered one.
const (
	ProbeRedirectURIHost = "redirect_uri_host"
	ProbeRedirectURIPath = "redirect_uri_path"
)

// probeOIDC sends each authorization request of the last walk (one per
// client and redirect_uri) again from the signed-in browser with its
// redirect_uri changed, and expects the provider to refuse it (SSO503). It
// reports whether the walk made any authorization request.
func (p *prober) probeOIDC() bool {
	b := p.b
	var auths []*oidcAuth
	seen := map[string]bool{}
	for i := range b.authRequests {
		a := &b.authRequests[i]
		if a.walk != b.walks || seen[a.key()] {
			continue
		}
		seen[a.key()] = true
		auths = append(auths, a)
	}
	for _, a := range auths {
		if a.redirect == nil {
			for _, name := range []string{ProbeRedirectURIHost, ProbeRedirectURIPath} {
				p.skip(name, a.url.Host, "the authorization request of client "+placeholderSafe(a.clientID)+" names no redirect_uri to change")
			}
			continue
		}
		foreign, _ := url.Parse(ProbeForeignURL + "callback")
		other := *a.redirect
		other.RawQuery, other.Fragment, other.RawFragment = "", "", ""
		other.Path = strings.TrimSuffix(other.Path, "/") + "/ssoctl-probe"
		other.RawPath = ""
		p.redirectURI(ProbeRedirectURIHost, a, foreign)
		p.redirectURI(ProbeRedirectURIPath, a, &other)
	}
	for _, a := range auths {
		for _, c := range p.o.OIDCClients {
			if c.ID == a.clientID {
				p.codeExchange(a, c)
				break
			}
		}
	}
	return len(auths) > 0
}

// redirectURI replays a with redirect_uri changed to to, following the
// provider (and its login, with the walk's cookies and credentials) until
// it sends the browser to to, back to the registered redirect_uri, or to
// an error. Nothing is ever sent to to or to the registered redirect_uri:
// the code stays unredeemed and unseen.
func (p *prober) redirectURI(name string, a *oidcAuth, to *url.URL) {
	now := p.b.now()
	provider := originOf(a.url)
	res := ProbeResult{Name: name, Target: a.url.Host}
	r := &request{method: a.method, url: a.url}
	if a.method == http.MethodPost && a.form != nil && a.form.Has("redirect_uri") {
		f := url.Values{}
		for k, vs := range a.form {
			f[k] = slices.Clone(vs)
		}
		f.Set("redirect_uri", to.String())
		r.form, r.origin = f, "null"
	} else {
		u := *a.url
		q := u.Query()
		q.Set("redirect_uri", to.String())
		u.RawQuery = q.Encode()
		r.url = &u
	}
	sent := fmt.Sprintf("client %s's authorization request again with redirect_uri %s", placeholderSafe(a.clientID), to)
	w := p.walker(nil)
	left := false // the probe went on from the provider to another origin (its login)
	for n := 1; n <= p.b.maxSteps; n++ {
		x, loc, err := p.send(w, r)
		if err != nil {
			res.Skipped = "the provider did not answer: " + transportError(r, err, now)
			p.result(res)
			return
		}
		status := x.resp.StatusCode
		if n == 1 {
			res.Status = status
		}
		if loc != nil && sameEndpoint(loc, to) {
			res.Location = hideOneTimeValues(redactURL(loc.String(), now))
			v := callbackValues(loc)
			if v.Get("code") != "" || v.Get("access_token") != "" || v.Get("id_token") != "" {
				res.Status, res.Finding = status, FindingOIDCRedirectURI.Code
				res.Detail = fmt.Sprintf("sent %s; %s answered %d with a code for it", sent, loc.Host, status)
				p.result(res)
				p.add(FindingOIDCRedirectURI.New(0, cookieHost(a.url),
					"%s accepted redirect_uri %s for client %s, not a URI registered for it, and sent the authorization code there (probe %s)",
					a.url.Host, to, placeholderSafe(a.clientID), name))
				return
			}
			res.Refused = true
			res.Detail = fmt.Sprintf("sent %s; the provider sent no code there, but an error to an unregistered redirect_uri (RFC 6749 §4.1.2.1 says to show it instead)", sent)
			p.result(res)
			return
		}
		if loc != nil && sameEndpoint(loc, a.redirect) {
			res.Refused = true
			res.Location = hideOneTimeValues(redactURL(loc.String(), now))
			res.Detail = fmt.Sprintf("sent %s; the provider answered at the registered redirect_uri instead", sent)
			p.result(res)
			return
		}
		if !left && (status >= 400 || loc == nil && !x.html) {
			res.Refused = true
			res.Status = status
			res.Detail = fmt.Sprintf("sent %s; %s%s answered %d", sent, r.url.Host, r.url.EscapedPath(), status)
			p.result(res)
			return
		}
		next := nextRequest(w, r, x, loc)
		if next == nil || isForeign(next.url) || !p.onChain(next.url) {
			if !left {
				res.Refused = true
				res.Detail = fmt.Sprintf("sent %s; the provider stopped it on its own origin (%s %d, an error page)", sent, r.url.Host, status)
			} else {
				res.Skipped = fmt.Sprintf("the provider took the request on to %s, where the probe stopped (%d) before it answered; it did not refuse the redirect_uri up front", r.url.Host, status)
			}
			if loc != nil {
				res.Location = hideOneTimeValues(redactURL(loc.String(), now))
			}
			p.result(res)
			return
		}
		if originOf(next.url) != provider {
			left = true
		}
		r = next
	}
	res.Skipped = fmt.Sprintf("the provider was still sending the browser on after %d requests", p.b.maxSteps)
	p.result(res)
}

// callbackValues are the query and fragment parameters of a redirect.
func callbackValues(u *url.URL) url.Values {
	v := u.Query()
	for k, vs := range fragmentParams(u) {
		v[k] = append(v[k], vs...)
	}
	return v
}
