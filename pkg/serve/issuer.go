package serve

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve/store"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// IssuerConfig wires an Issuer. Chain, IdP, Key and Sealer are required.
type IssuerConfig struct {
	Chain  *chain.Chain
	IdP    IdentityProvider
	Key    *token.Key // signs handoffs; the chain's active key
	JWKS   []byte     // the public key set served at /.well-known/jwks.json; nil for HS256
	Sealer *Sealer    // the issuer's cookie and the hub walk's state
	Now    func() time.Time
	Logger *slog.Logger
	// Metrics counts handoffs; nil counts nothing.
	Metrics *Metrics
	// BackchannelClient delivers logout tokens to the receivers (logout.go);
	// nil is a plain client with a 5s timeout. BackchannelBackoff is the
	// first wait before a retry (default 250ms), doubling after.
	BackchannelClient  *http.Client
	BackchannelBackoff time.Duration
	// Apps may call chain.IntrospectPath (introspect.go); none: every call is 401.
	Apps []IntrospectApp
	// SessionAPIKey lets receivers of an OIDC chain running apart ask
	// about sessions (oidc_sessions.go); nil serves no session API.
	SessionAPIKey []byte
	// PreviousSessionAPIKeys are accepted besides SessionAPIKey: the
	// credentials of token.previous_secrets, while receivers move to the
	// new secret.
	PreviousSessionAPIKeys [][]byte
	// LogoutReplay records the OIDC provider's logout tokens already used,
	// shared by the issuer's instances; nil keeps them in memory.
	LogoutReplay store.ReplayStore
}

// Issuer is the accounts role (DESIGN §5): it sends a browser without a
// session to the identity provider, sets its own cookie when the browser
// comes back, and walks the browser through every receiver with a handoff
// token bound to that receiver. In hub mode the browser returns to
// /sso/continue between hops until it lands on return_to; in relay mode
// the issuer mints only the first hop and each receiver mints the next
// (relay.go).
type Issuer struct {
	cfg       IssuerConfig
	origin    string
	allow     *chain.Allowlist
	receivers []chain.Receiver // the receivers the walk visits, in order
	mux       *http.ServeMux
	// formAction is the chain's origins as CSP sources, for the form_post
	// interstitial.
	formAction string
	faults     chain.IssuerFaults // none outside dev chains (see faults.go)
	// selfService reads Kratos's flows for the /ui pages (kind kratos).
	selfService SelfService
	logout      *issuerLogout // logout.go
	// oidc is the relying party of an idp.kind oidc chain (oidc_issuer.go);
	// nil otherwise.
	oidc *OIDC
	// logoutJTIs are the provider's logout tokens already used.
	logoutJTIs store.ReplayStore
	// sessionAPIKey authenticates receivers at chain.OIDCSessionPath
	// (oidc_sessions.go); nil: the endpoint is not served.
	sessionAPIKey []byte
}

// Walk state and login cookies live minutes at most: long enough for a
// person at a login page or a slow hop, short enough to be useless later.
const (
	loginStateTTL    = 10 * time.Minute
	continueStateTTL = 2 * time.Minute
	loginCookie      = "ssoctl_login"
	stateParam       = "state"
)

// NewIssuer checks cfg and returns the issuer's handler.
func NewIssuer(cfg IssuerConfig) (*Issuer, error) {
	switch {
	case cfg.Chain == nil:
		return nil, errors.New("issuer: no chain")
	case cfg.IdP == nil:
		return nil, errors.New("issuer: no identity provider")
	case cfg.Key == nil || !cfg.Key.CanSign():
		return nil, errors.New("issuer: no signing key")
	case cfg.Sealer == nil:
		return nil, errors.New("issuer: no sealing key")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	allow, err := cfg.Chain.Allowlist()
	if err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	is := &Issuer{cfg: cfg, origin: strings.TrimSuffix(cfg.Chain.Issuer.URL, "/"), allow: allow,
		formAction: chainFormAction(cfg.Chain),
		faults:     cfg.Chain.IssuerFaults()}
	warnFaults(cfg.Logger, is.faults.OpenReturnTo || is.faults.LoopOnCallback || is.faults.LogoutWithoutAsking)
	is.receivers = cfg.Chain.Walked()
	is.oidc, _ = cfg.IdP.(*OIDC)
	if is.logoutJTIs = cfg.LogoutReplay; is.oidc != nil && is.logoutJTIs == nil {
		is.logoutJTIs = store.NewMemoryReplay(store.MemoryOptions{Now: cfg.Now})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", is.landing)
	mux.HandleFunc("GET "+chain.LoginPath, is.login)
	mux.HandleFunc("GET "+chain.CallbackPath, is.callback)
	mux.HandleFunc("GET "+chain.ContinuePath, is.continueWalk)
	mux.HandleFunc("GET "+chain.CheckPath, is.check) // check.go
	is.routeSelfService(mux)
	is.routeLogout(mux)
	if is.oidc != nil {
		mux.HandleFunc("POST "+chain.OIDCBackchannelLogoutPath, is.oidcBackchannelLogout) // oidc_issuer.go
		mux.HandleFunc("GET "+chain.OIDCFrontchannelLogoutPath, is.oidcFrontchannelLogout)
		refuseOtherMethods(mux, []string{http.MethodPost}, chain.OIDCBackchannelLogoutPath)
		refuseOtherMethods(mux, []string{http.MethodGet}, chain.OIDCFrontchannelLogoutPath) // HEAD would end sessions
		if is.sessionAPIKey = cfg.SessionAPIKey; is.sessionAPIKey != nil {
			mux.HandleFunc("POST "+chain.OIDCSessionPath, is.oidcSessionAPI) // oidc_sessions.go
			refuseOtherMethods(mux, []string{http.MethodPost}, chain.OIDCSessionPath)
		}
	}
	refuseOtherMethods(mux, []string{http.MethodGet, http.MethodHead},
		chain.LoginPath, chain.CallbackPath, chain.ContinuePath, chain.CheckPath)
	is.routeIntrospect(mux) // introspect.go
	if cfg.JWKS != nil {
		mux.HandleFunc("GET /.well-known/jwks.json", is.jwks)
	}
	is.mux = mux
	return is, nil
}

func (is *Issuer) ServeHTTP(w http.ResponseWriter, r *http.Request) { is.mux.ServeHTTP(w, r) }

func (is *Issuer) cookie() chain.Cookie { return is.cfg.Chain.Issuer.Cookie }

func (is *Issuer) secure() bool { return strings.HasPrefix(is.origin, "https://") }

// login starts a login: return_to is checked before anything else happens,
// then a usable IdP session starts the walk and its absence sends the
// browser to the IdP.
func (is *Issuer) login(w http.ResponseWriter, r *http.Request) {
	returnTo, ok := is.returnTo(w, r)
	if !ok || is.promptLogin(w, r, returnTo) { // freshness.go
		return
	}
	sess, err := is.currentSession(r) // oidc_issuer.go
	switch {
	case err == nil:
		is.startWalk(w, r, sess, returnTo)
	case errors.Is(err, ErrNoSession):
		is.toIdP(w, r, returnTo)
	default:
		is.idpDown(w, r, err, returnTo)
	}
}

// returnTo checks the request's return_to against the allowlist; none, or
// an empty one, means the issuer's own root. A refusal is answered here,
// before any redirect.
func (is *Issuer) returnTo(w http.ResponseWriter, r *http.Request) (string, bool) {
	raw, err := singleValue(r.URL.Query(), chain.ReturnToParam)
	if err == nil && raw == "" {
		return is.origin + "/", true
	}
	var u *url.URL
	if err == nil {
		u, err = is.allow.Allow(raw)
		if err != nil && is.faults.OpenReturnTo {
			// fault (dev only): open_return_to takes any http(s) URL that
			// parses, allowlist or not.
			u, err = chain.ParseReturnTo(raw)
		}
	}
	if err != nil {
		msg := "The page you would land on after signing in is not on this chain's return_to allowlist, so the sign-in stopped here instead of sending you there."
		if errors.Is(err, errRepeatedParam) {
			msg = "The sign-in link names more than one page to land on after signing in, so the sign-in stopped here instead of picking one."
		}
		Annotate(w, slog.String("result", "refused"), slog.String("reason", "return_to_refused"))
		writeError(w, r, errorPage{
			Status:  http.StatusBadRequest,
			Title:   "This sign-in link is not allowed",
			Message: msg,
			Reasons: []pageReason{{Code: "return_to_refused", Message: err.Error()}},
			Role:    "issuer",
		})
		return "", false
	}
	return u.String(), true
}

// errRepeatedParam is a query parameter given more than once.
var errRepeatedParam = errors.New("given more than once")

// singleValue returns the value of the query parameter name, "" when it is
// absent, and an error wrapping errRepeatedParam when it is there more
// than once: net/url reads the first copy, PHP and Rails the last, so a
// proxy, a WAF or the app that built the link could vet another value than
// the one used here. OAuth 2.0 forbids repeating a parameter for that
// reason (RFC 6749 §3.1). The error never repeats the values.
func singleValue(q url.Values, name string) (string, error) {
	switch v := q[name]; len(v) {
	case 0:
		return "", nil
	case 1:
		return v[0], nil
	default:
		return "", fmt.Errorf("%s %w (%d times in the URL); send it once", name, errRepeatedParam, len(v))
	}
}

// toIdP sends the browser to the IdP's login with a sealed state that
// brings the return_to back, bound to this browser by a short-lived cookie.
func (is *Issuer) toIdP(w http.ResponseWriter, r *http.Request, returnTo string) {
	is.sendToIdP(w, r, returnTo, false)
}

// sendToIdP is toIdP; refresh asks the IdP for the password even when its
// session exists (Kratos's refresh=true, for prompt=login).
func (is *Issuer) sendToIdP(w http.ResponseWriter, r *http.Request, returnTo string, refresh bool) {
	if is.oidc != nil {
		prompt := ""
		if refresh {
			prompt = chain.PromptLogin
		}
		is.oidcAuthorize(w, r, returnTo, prompt)
		return
	}
	now := is.cfg.Now()
	nonce := token.NewID()
	state := is.cfg.Sealer.Seal("state:login", now.Add(loginStateTTL), returnTo, nonce)
	http.SetCookie(w, &http.Cookie{
		Name: loginCookie, Value: nonce, Path: chain.CallbackPath,
		MaxAge: int(loginStateTTL / time.Second), HttpOnly: true, Secure: is.secure(), SameSite: http.SameSiteLaxMode,
	})
	q := url.Values{"return_to": {is.origin + chain.CallbackPath + "?" + url.Values{stateParam: {state}}.Encode()}}
	attrs := []slog.Attr{slog.String("result", "to_idp")}
	if refresh {
		q.Set(chain.KratosRefreshParam, "true")
		attrs = append(attrs, slog.String("prompt", chain.PromptLogin))
	}
	Annotate(w, attrs...)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, is.idpURL(chain.KratosLoginPath, q), http.StatusSeeOther)
}

// callback is where the IdP sends the browser after a login. The IdP's
// session cookie (on the parent domain) comes with it; whoami turns it into
// a session.
func (is *Issuer) callback(w http.ResponseWriter, r *http.Request) {
	if is.oidc != nil {
		is.oidcCallback(w, r)
		return
	}
	now := is.cfg.Now()
	f, _, err := is.cfg.Sealer.Open("state:login", r.URL.Query().Get(stateParam), now, 2)
	nonce, cerr := r.Cookie(loginCookie)
	if err != nil || cerr != nil || nonce.Value != f[1] {
		reason := "login_state_invalid"
		if errors.Is(err, ErrSealExpired) {
			reason = "login_state_expired"
		}
		is.startOver(w, r, reason, "This sign-in cannot be finished",
			"The sign-in state is missing, expired, or belongs to another browser. Start again from the beginning.",
			"the state parameter and the login cookie must both come from a sign-in this browser started less than 10 minutes ago")
		return
	}
	returnTo := f[0]
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: chain.CallbackPath, MaxAge: -1, HttpOnly: true, Secure: is.secure(), SameSite: http.SameSiteLaxMode})
	sess, err := is.cfg.IdP.Whoami(r.Context(), is.idpCookies(r), "")
	switch {
	case errors.Is(err, ErrNoSession) && is.faults.LoopOnCallback:
		// fault (dev only): loop_on_callback sends the browser back to the
		// IdP, which sends it straight back here: a redirect loop.
		is.toIdP(w, r, returnTo)
	case errors.Is(err, ErrNoSession):
		// Sending the browser back to the IdP would loop: it just logged
		// in there. The IdP's cookie does not reach this host.
		Annotate(w, slog.String("result", "refused"), slog.String("reason", "idp_session_not_visible"))
		writeError(w, r, errorPage{
			Status:  http.StatusUnauthorized,
			Title:   "Signed in at the identity provider, but the session does not reach this site",
			Message: "The identity provider sent you back without a session this site can see. Its session cookie must be set on a domain that covers " + hostOf(is.origin) + " (Kratos: session.cookie.domain).",
			Reasons: []pageReason{{Code: "idp_session_not_visible", Message: err.Error()}},
			Role:    "issuer",
		})
	case err != nil:
		is.idpDown(w, r, err, returnTo)
	default:
		is.startWalk(w, r, sess, returnTo)
	}
}

// startWalk sets the issuer's own cookie and sends the browser to the first
// receiver, or straight to return_to when no receiver needs a hop.
func (is *Issuer) startWalk(w http.ResponseWriter, r *http.Request, sess *Session, returnTo string) {
	now := is.cfg.Now()
	if !sess.Usable(now) {
		is.toIdP(w, r, returnTo)
		return
	}
	ck := is.cookie()
	expires := now.Add(ck.TTL)
	if !sess.ExpiresAt.IsZero() && sess.ExpiresAt.Before(expires) {
		expires = sess.ExpiresAt
	}
	value := is.cfg.Sealer.SealSession(ck.Name, CookieSession{
		SessionID: sess.ID, Subject: sess.IdentityID, Email: sess.Email, Role: sess.Role,
		AuthenticatedAt: sess.AuthenticatedAt, Expires: expires,
	})
	http.SetCookie(w, &http.Cookie{
		Name: ck.Name, Value: value, Path: "/", Domain: ck.Domain, Expires: expires,
		MaxAge: int(expires.Sub(now) / time.Second), HttpOnly: true, Secure: is.secure(), SameSite: http.SameSiteLaxMode,
	})
	is.hop(w, r, walk{chn: token.NewID(), sid: sess.ID, sub: sess.IdentityID, returnTo: returnTo, next: 0})
}

// walk is the hub's progress through the receivers, carried between hops in
// a sealed state parameter.
type walk struct {
	chn, sid, sub, returnTo string
	next                    int
}

// hop sends the browser to receiver w.next with a handoff, or to return_to
// when every receiver has been visited.
func (is *Issuer) hop(w http.ResponseWriter, r *http.Request, wk walk) {
	w.Header().Set("Cache-Control", "no-store")
	if wk.next >= len(is.receivers) {
		Annotate(w, slog.String("chn", wk.chn), slog.String("result", "done"))
		http.Redirect(w, r, wk.returnTo, http.StatusSeeOther)
		return
	}
	now := is.cfg.Now()
	rcv := is.receivers[wk.next]
	// Relay mode: the first receiver hands on to the next itself, and the
	// last sends the browser to return_to; the issuer is not visited again.
	ret := wk.returnTo
	if is.cfg.Chain.Mode != chain.ModeRelay {
		state := is.cfg.Sealer.Seal("state:continue", now.Add(continueStateTTL),
			wk.chn, wk.sid, wk.sub, wk.returnTo, strconv.Itoa(wk.next+1))
		ret = is.origin + chain.ContinuePath + "?" + url.Values{stateParam: {state}}.Encode()
	}
	tok, _, err := token.Mint(is.cfg.Key, token.MintOptions{
		Issuer: is.origin, Audience: rcv.Name, Subject: wk.sub, SessionID: wk.sid,
		TTL: is.cfg.Chain.Token.TTL, Chain: wk.chn, Return: ret, Now: is.cfg.Now,
	})
	if err != nil {
		is.cfg.Logger.Error("minting a handoff failed", "chn", wk.chn, "aud", rcv.Name, "err", err)
		writeError(w, r, errorPage{Status: http.StatusInternalServerError, Title: "Sign-in failed", Message: "The issuer could not mint a handoff token.", Role: "issuer"})
		return
	}
	Annotate(w, slog.String("chn", wk.chn), slog.String("aud", rcv.Name), slog.String("result", "minted"))
	if is.cfg.Metrics != nil {
		is.cfg.Metrics.Handoff("issuer", "minted", "")
	}
	sso := strings.TrimSuffix(rcv.URL, "/") + chain.SSOPath
	if is.cfg.Chain.Token.Transport == chain.TransportFormPost {
		writeInterstitial(w, sso, strings.TrimSuffix(rcv.URL, "/"), is.formAction, tok)
		return
	}
	http.Redirect(w, r, sso+"?"+url.Values{chain.TokenParam: {tok}}.Encode(), http.StatusSeeOther)
}

// receiversPerRun is how many receivers a sign-in or a front-channel
// logout passes in one run of redirects. Browsers fail a navigation at its
// 20th redirect in a row (Chromium: ERR_TOO_MANY_REDIRECTS; trace's
// SSO304), and each receiver costs two (its endpoint, then the issuer's
// continue), on top of the few that start the run. After this many the
// issuer answers once with a page that moves on by itself (writeResume),
// which starts a new run, and the walk carries on with resumeParam set.
const receiversPerRun = 6

// resumeParam marks a continue request that comes from the resume page,
// so it goes on instead of pausing again. It only skips a pause.
const resumeParam = "resume"

// pauses reports whether a walk about to visit receiver next (of total),
// by redirects, answers with a resume page first.
func pauses(r *http.Request, next, total int) bool {
	return next > 0 && next < total && next%receiversPerRun == 0 && r.URL.Query().Get(resumeParam) != "1"
}

// resumeURL is r's own URL with resumeParam set.
func resumeURL(origin string, r *http.Request) string {
	q := r.URL.Query()
	q.Set(resumeParam, "1")
	return origin + r.URL.Path + "?" + q.Encode()
}

// continueWalk is where a receiver hands the browser back in hub mode. The
// state must be this issuer's, unexpired, and for the session the browser's
// issuer cookie holds, so a state cannot move a walk into another browser.
func (is *Issuer) continueWalk(w http.ResponseWriter, r *http.Request) {
	now := is.cfg.Now()
	f, _, err := is.cfg.Sealer.Open("state:continue", r.URL.Query().Get(stateParam), now, 5)
	var cs *CookieSession
	if err == nil {
		cs, _ = is.cfg.Sealer.OpenSessionCookie(r, is.cookie().Name, now)
	}
	next, nerr := 0, error(nil)
	if err == nil {
		next, nerr = strconv.Atoi(f[4])
	}
	if err != nil || cs == nil || cs.SessionID != f[1] || nerr != nil || next < 1 || next > len(is.receivers) {
		reason := "walk_state_invalid"
		switch {
		case errors.Is(err, ErrSealExpired):
			reason = "walk_state_expired"
		case err == nil && cs == nil:
			reason = "issuer_cookie_missing"
		}
		is.startOver(w, r, reason, "This sign-in cannot continue",
			"The sign-in's progress state is missing, expired, or belongs to another browser session.",
			"a receiver hands back to the issuer with the state the issuer gave it, in the browser that started the sign-in, within 2 minutes")
		return
	}
	if is.cfg.Chain.Token.Transport != chain.TransportFormPost && pauses(r, next, len(is.receivers)) {
		// With form_post every handoff is a page already.
		Annotate(w, slog.String("chn", f[0]), slog.String("result", "paused"))
		writeResume(w, resumePage{Title: "Signing you in…", URL: resumeURL(is.origin, r), Done: next, Total: len(is.receivers)})
		return
	}
	is.hop(w, r, walk{chn: f[0], sid: f[1], sub: f[2], returnTo: f[3], next: next})
}

// refuseOtherMethods answers a request to one of paths whose method has no
// route with 405 and the Allow header (RFC 9110 §15.5.6), like the mux
// would, and also names the reason in the request's log line, which the
// mux's own answer leaves blank. A path with a method in its pattern wins
// over these catch-alls, so allow must list exactly the methods routed.
//
// A "GET" route also answers HEAD. When allow leaves HEAD out, HEAD is
// refused too: a GET that changes state (a handoff spends its token, a
// logout ends the session) must not run for a link checker's or a mail
// scanner's HEAD.
func refuseOtherMethods(mux *http.ServeMux, allow []string, paths ...string) {
	value := strings.Join(allow, ", ")
	refuse := func(w http.ResponseWriter, r *http.Request) {
		Annotate(w, slog.String("result", "refused"), slog.String("reason", "method_not_allowed"))
		w.Header().Set("Allow", value)
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
	}
	for _, p := range paths {
		mux.HandleFunc(p, refuse)
		if !slices.Contains(allow, http.MethodHead) {
			mux.HandleFunc(http.MethodHead+" "+p, refuse)
		}
	}
}

// startOver refuses a step whose state cannot be trusted (400) and offers a
// fresh sign-in.
func (is *Issuer) startOver(w http.ResponseWriter, r *http.Request, reason, title, msg, detail string) {
	Annotate(w, slog.String("result", "refused"), slog.String("reason", reason))
	writeError(w, r, errorPage{
		Status: http.StatusBadRequest, Title: title, Message: msg,
		Reasons:  []pageReason{{Code: reason, Message: detail}},
		RetryURL: is.origin + chain.LoginPath, RetryLabel: "Sign in again", Role: "issuer",
	})
}

// idpDown answers a sign-in the IdP, or the store the issuer keeps its
// sessions in, could not serve right now: 503, a page naming which, and a
// log line.
func (is *Issuer) idpDown(w http.ResponseWriter, r *http.Request, err error, returnTo string) {
	reason := unavailableReason(err) // receiver.go
	what, detail := "identity provider unavailable", "the identity provider could not be reached"
	msg := "The identity provider did not answer. Nothing was changed; try again in a moment."
	switch reason {
	case "store_unavailable":
		what, detail = "session store unavailable", "the issuer's session store could not be reached"
		msg = "The sign-in service could not reach its session store. Nothing was changed; try again in a moment."
	case "idp_timeout":
		detail = "the identity provider did not answer in time"
	}
	is.cfg.Logger.Warn(what, "reason", reason, "err", err)
	is.unavailable(w, r, reason, detail, msg, returnTo)
}

// unavailable answers a sign-in that cannot go on right now with 503 and
// a page that offers to start it again, returning to returnTo.
func (is *Issuer) unavailable(w http.ResponseWriter, r *http.Request, reason, detail, msg, returnTo string) {
	Annotate(w, slog.String("result", "unavailable"), slog.String("reason", reason))
	writeError(w, r, errorPage{
		Status:   http.StatusServiceUnavailable,
		Title:    "Sign-in is unavailable right now",
		Message:  msg,
		Reasons:  []pageReason{{Code: reason, Message: detail}},
		RetryURL: is.loginURL(returnTo),
		Role:     "issuer",
	})
}

// loginURL is the issuer's /login, ending back at returnTo.
func (is *Issuer) loginURL(returnTo string) string {
	return is.origin + chain.LoginPath + "?" + url.Values{chain.ReturnToParam: {returnTo}}.Encode()
}

// idpCookies is the Cookie header to forward to the IdP's whoami: the
// browser's cookies minus the issuer's own, which are none of its business.
func (is *Issuer) idpCookies(r *http.Request) string {
	var keep []string
	for _, c := range r.Cookies() {
		if c.Name == is.cookie().Name || c.Name == loginCookie {
			continue
		}
		keep = append(keep, c.Name+"="+c.Value)
	}
	return strings.Join(keep, "; ")
}

func (is *Issuer) landing(w http.ResponseWriter, r *http.Request) {
	p := landingPage{Title: is.cfg.Chain.Name + " accounts", Service: "issuer", LoginURL: is.origin + chain.LoginPath}
	if cs, err := is.cfg.Sealer.OpenSessionCookie(r, is.cookie().Name, is.cfg.Now()); err == nil {
		p.SignedIn, p.Who, p.UserRole, p.Session, p.Until = true, firstNonEmpty(cs.Email, cs.Subject), cs.Role, cs.SessionID, cs.Expires.Format(time.RFC3339)
	}
	writeLanding(w, p)
}

func (is *Issuer) jwks(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/jwk-set+json")
	h.Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(is.cfg.JWKS)
}

func hostOf(origin string) string {
	if u, err := url.Parse(origin); err == nil {
		return u.Hostname()
	}
	return origin
}
