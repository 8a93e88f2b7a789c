package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/ssoctl/ssoctl/pkg/chain"
)

// ErrBadUpstream is wrapped by every error ParseUpstream returns.
var ErrBadUpstream = errors.New("bad upstream URL")

// ParseUpstream checks the URL of the app a receiver proxies: absolute,
// http or https, with a host, and no user:password@, query or fragment. A
// path is a prefix the proxied paths are joined to. The error never quotes
// raw, which could hold a password.
func ParseUpstream(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return nil, fmt.Errorf("%w: empty; write an absolute URL like http://127.0.0.1:3000", ErrBadUpstream)
	case err != nil:
		return nil, fmt.Errorf("%w: not an absolute http or https URL; write it like http://127.0.0.1:3000", ErrBadUpstream)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%w: not an absolute http or https URL; write it like http://127.0.0.1:3000", ErrBadUpstream)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%w: no host; write it like http://127.0.0.1:3000", ErrBadUpstream)
	case u.User != nil:
		return nil, fmt.Errorf("%w: has a user:password@ part; remove it (the app behind a receiver trusts the identity headers instead)", ErrBadUpstream)
	case u.RawQuery != "" || u.ForceQuery:
		return nil, fmt.Errorf("%w: has a query; remove it", ErrBadUpstream)
	case u.Fragment != "":
		return nil, fmt.Errorf("%w: has a fragment; remove it", ErrBadUpstream)
	}
	return u, nil
}

// ownPaths are the receiver's own endpoints, whatever the method: a request
// for one of them that its route does not take (PUT /sso, POST /whoami) is
// answered here, never proxied, so the app cannot be reached under a name
// a user trusts to be the receiver's. Anything under /sso/ and /logout/ is
// reserved for the receiver too.
var ownPaths = map[string]bool{
	chain.SSOPath: true, "/auth": true, "/whoami": true, "/logout": true,
	chain.BackchannelLogoutPath: true, // reserved even where back-channel logout is off
	"/healthz":                  true, "/readyz": true, "/metrics": true,
}

func ownPath(p string) bool {
	return ownPaths[p] || strings.HasPrefix(p, chain.SSOPath+"/") || strings.HasPrefix(p, "/logout/")
}

// pageDefaultHeaders are the Observe defaults that suit the receiver's own
// pages but would break an app's (a CSP of default-src 'none' blocks its
// scripts and styles); a proxied response carries the app's own choice.
var pageDefaultHeaders = [...]string{"Content-Security-Policy", "X-Frame-Options", "Referrer-Policy"}

// upstreamHandler reverse-proxies every request that is not the
// receiver's own to target (DESIGN §6), for signed-in browsers only.
//
//   - Signed in means what /auth means: a valid cookie, a session not
//     revoked, and an IdP check within the recheck interval.
//   - Signed out: a GET or HEAD navigation is sent to log in at the issuer
//     (return_to is this URL when the allowlist takes it, else the
//     receiver's root); anything else, including a script's fetch
//     (Sec-Fetch-Mode other than navigate), gets 401. The IdP or a store
//     not answering gets 503: fail closed.
//   - The app gets X-Auth-Subject, -Session, -Email and -Role from the
//     session, and no header the client sent whose name starts with
//     X-Auth- or X-Auth_ in any case (so an app may trust them); the
//     Connection header's hop-by-hop list is applied before they are set,
//     so a client cannot name them there to have them dropped.
//   - The receiver's own cookie is taken out of the Cookie header; the
//     app's cookies pass.
//   - X-Forwarded-For is the receiver's client (a client-sent one is
//     dropped); X-Forwarded-Host and -Proto are the receiver's public URL.
//   - The app down or failing: a 502 page, the error in the log only.
func (rc *Receiver) upstreamHandler(target *url.URL, transport http.RoundTripper) http.Handler {
	proto := "http"
	if rc.secure() {
		proto = "https"
	}
	fwdHost := strings.TrimPrefix(strings.TrimPrefix(rc.origin, "https://"), "http://") // host[:port], as the browser wrote it
	host := hostOf(rc.origin)
	cookieName := rc.self.Cookie.Name
	p := &httputil.ReverseProxy{
		Transport: transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			pr.Out.Header.Set("X-Forwarded-Host", fwdHost)
			pr.Out.Header.Set("X-Forwarded-Proto", proto)
			stripIdentityHeaders(pr.Out.Header)
			withoutCookie(pr.Out.Header, cookieName)
			if cs, ok := pr.In.Context().Value(proxiedSessionKey{}).(*CookieSession); ok {
				setIdentityHeaders(pr.Out.Header, cs, make([]string, len(identityHeaders)))
			}
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// The address of the app is the operator's to know, not the
			// user's; the page says only which side failed.
			rc.cfg.Logger.Warn("upstream unavailable", "err", err)
			Annotate(w, slog.String("result", "upstream_unavailable"))
			for _, k := range pageDefaultHeaders {
				w.Header().Del(k)
			}
			writeError(w, r, errorPage{
				Status: http.StatusBadGateway, Title: "The app behind " + host + " is not answering",
				Message:  "You are signed in, but the application this site serves did not answer. Try again in a moment.",
				Reasons:  []pageReason{{Code: "upstream_unavailable", Message: "the upstream application could not be reached"}},
				RetryURL: rc.origin + "/", Role: rc.self.Name + " (receiver)",
			})
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ownPath(r.URL.Path) {
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		cs, err := rc.session(r)
		switch {
		case err == nil:
		case errors.Is(err, errNotSignedIn), errors.Is(err, errRevoked):
			Annotate(w, slog.String("result", "unauthorized"), slog.String("reason", err.Error()))
			rc.signInFirst(w, r, errors.Is(err, errAuthTooOld))
			return
		default:
			rc.cfg.Logger.Warn("upstream: session check unavailable", "err", err)
			Annotate(w, slog.String("result", "unavailable"))
			writeError(w, r, errorPage{
				Status: http.StatusServiceUnavailable, Title: "Sign-in is unavailable right now",
				Message:  "A service this site depends on did not answer, so it cannot tell who you are. Try again in a moment.",
				Reasons:  []pageReason{{Code: "session_check_unavailable", Message: "a dependency could not be reached"}},
				RetryURL: rc.origin + r.URL.RequestURI(), Role: rc.self.Name + " (receiver)",
			})
			return
		}
		for _, k := range pageDefaultHeaders {
			w.Header()[k] = nil // Observe sends none; the app's own pass through
		}
		r = r.WithContext(contextWithProxiedSession(r.Context(), cs))
		p.ServeHTTP(w, r)
	})
}

// signInFirst answers a signed-out request for the app: a browser
// navigating is sent to log in and comes back to the same URL; anything
// else gets 401, since a script or an API client cannot follow a login.
// stepUp (a session older than max_auth_age) asks the IdP for the password
// again even though the session exists.
func (rc *Receiver) signInFirst(w http.ResponseWriter, r *http.Request, stepUp bool) {
	w.Header().Set("Cache-Control", "no-store")
	mode := r.Header.Get("Sec-Fetch-Mode")
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && (mode == "" || mode == "navigate") {
		back := rc.origin + r.URL.RequestURI()
		login := rc.stepUpURL(back)
		if !stepUp {
			login = rc.loginURL()
			if rc.ownAllowed(back) {
				login = rc.issuer + chain.LoginPath + "?" + url.Values{chain.ReturnToParam: {back}}.Encode()
			}
		}
		http.Redirect(w, r, login, http.StatusFound)
		return
	}
	writeError(w, r, errorPage{
		Status: http.StatusUnauthorized, Title: "Not signed in on " + hostOf(rc.origin),
		Message:  "This request needs a signed-in session. Sign in, then try again.",
		Reasons:  []pageReason{{Code: "not_signed_in", Message: "no valid session cookie for this site"}},
		RetryURL: rc.loginURL(), RetryLabel: "Sign in", Role: rc.self.Name + " (receiver)",
	})
}

// stripIdentityHeaders deletes every header a client could pass off as an
// identity header: X-Auth-* in any case, and X-Auth_* too, since CGI-style
// stacks (PHP, Rack, WSGI) map '-' and '_' to the same variable name.
func stripIdentityHeaders(h http.Header) {
	for k := range h {
		n := strings.ReplaceAll(strings.ToLower(k), "_", "-")
		if strings.HasPrefix(n, "x-auth-") {
			delete(h, k)
		}
	}
}

// withoutCookie removes every cookie called name from h's Cookie headers,
// keeping the rest as sent.
func withoutCookie(h http.Header, name string) {
	lines := h["Cookie"]
	if len(lines) == 0 {
		return
	}
	var kept []string
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ";") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			n, _, _ := strings.Cut(part, "=")
			if strings.TrimSpace(n) == name {
				continue
			}
			kept = append(kept, part)
		}
	}
	if len(kept) == 0 {
		h.Del("Cookie")
		return
	}
	h["Cookie"] = []string{strings.Join(kept, "; ")}
}

// proxiedSessionKey carries the checked session from the handler to the
// proxy's Rewrite.
type proxiedSessionKey struct{}

func contextWithProxiedSession(ctx context.Context, cs *CookieSession) context.Context {
	return context.WithValue(ctx, proxiedSessionKey{}, cs)
}
