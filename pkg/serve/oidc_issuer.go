package serve

import (
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/ssoctl/ssoctl/pkg/chain"
)

// The issuer as an OpenID Connect relying party (idp.kind oidc): where a
// Kratos chain reads the IdP's session cookie, an OIDC chain sends the
// browser through the provider's authorization endpoint and back to
// /callback with a code. Everything after (the issuer's cookie, the
// handoff walk, logout to the receivers) is the same.

// promptNone is OIDC Core §3.1.2.1 prompt=none: the silent check.
const promptNone = "none"

// currentSession is the IdP session the browser has: for Kratos, what the
// IdP's cookie proves (whoami); for OIDC, the session the issuer's own
// cookie names, re-checked with the provider. No session is ErrNoSession.
func (is *Issuer) currentSession(r *http.Request) (*Session, error) {
	if is.oidc == nil {
		return is.cfg.IdP.Whoami(r.Context(), is.idpCookies(r), "")
	}
	cs, err := is.cfg.Sealer.OpenSessionCookie(r, is.cookie().Name, is.cfg.Now())
	if err != nil {
		return nil, ErrNoSession
	}
	// A session the store does not hold (it ended, or the process
	// restarted) is ErrNoSession: log in again.
	return is.oidc.localSession(r.Context(), cs.SessionID)
}

// oidcAuthorize sends the browser to the provider's authorization
// endpoint. The PKCE verifier stays in the login cookie (Path=/callback,
// HttpOnly); the sealed state carries return_to, the verifier's S256
// challenge (binding state to this browser's cookie), the nonce and the
// prompt.
func (is *Issuer) oidcAuthorize(w http.ResponseWriter, r *http.Request, returnTo, prompt string) {
	now := is.cfg.Now()
	a := newOIDCAuth(prompt, is.walkMaxAuthAge())
	state := is.cfg.Sealer.Seal("state:oidc", now.Add(loginStateTTL), returnTo, challenge(a.Verifier), a.Nonce, prompt)
	target, err := is.oidc.AuthURL(r.Context(), state, a)
	if err != nil {
		if prompt == promptNone {
			is.checkFailed(w, r, returnTo, chain.ErrorUnavailable, "idp_unavailable")
			return
		}
		is.idpDown(w, r, err, returnTo)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: loginCookie, Value: a.Verifier, Path: chain.CallbackPath,
		MaxAge: int(loginStateTTL / time.Second), HttpOnly: true, Secure: is.secure(), SameSite: http.SameSiteLaxMode,
	})
	attrs := []slog.Attr{slog.String("result", "to_idp")}
	if prompt != "" {
		attrs = append(attrs, slog.String("prompt", prompt))
	}
	Annotate(w, attrs...)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// walkMaxAuthAge is the tightest max_auth_age of the receivers a walk
// visits: sent as max_age, so the provider asks for the password when one
// of them would refuse the login anyway.
func (is *Issuer) walkMaxAuthAge() time.Duration {
	var least time.Duration
	for _, rcv := range is.receivers {
		if a := rcv.MaxAuthAge; a > 0 && (least == 0 || a < least) {
			least = a
		}
	}
	return least
}

// silentErrors are the authorization errors that mean "a person would have
// to do something" (OIDC Core §3.1.2.6): a silent check answers them with
// error=login_required.
var silentErrors = map[string]bool{
	"login_required": true, "interaction_required": true, "consent_required": true, "account_selection_required": true,
}

// oauthCode is what an error code from the provider may look like before
// it is shown or logged (RFC 6749 §4.1.2.1: %x20-21 / %x23-5B / %x5D-7E).
var oauthCode = regexp.MustCompile(`^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}$`)

// oidcCallback finishes an authorization: the state must be this issuer's
// and match the browser's login cookie; a provider error ends a silent
// check with error=login_required and any other login with a page; a code
// is exchanged and its ID token verified before the walk starts.
func (is *Issuer) oidcCallback(w http.ResponseWriter, r *http.Request) {
	now := is.cfg.Now()
	q := r.URL.Query()
	f, _, err := is.cfg.Sealer.Open("state:oidc", q.Get(stateParam), now, 4)
	verifier, cerr := r.Cookie(loginCookie)
	if err != nil || cerr != nil || subtle.ConstantTimeCompare([]byte(challenge(verifier.Value)), []byte(f[1])) != 1 {
		reason := "login_state_invalid"
		if errors.Is(err, ErrSealExpired) {
			reason = "login_state_expired"
		}
		is.startOver(w, r, reason, "This sign-in cannot be finished",
			"The sign-in state is missing, expired, or belongs to another browser. Start again from the beginning.",
			"the state parameter and the login cookie must both come from a sign-in this browser started less than 10 minutes ago")
		return
	}
	returnTo, prompt := f[0], f[3]
	a := oidcAuth{Verifier: verifier.Value, Nonce: f[2], Prompt: prompt}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: chain.CallbackPath, MaxAge: -1, HttpOnly: true, Secure: is.secure(), SameSite: http.SameSiteLaxMode})

	if code := q.Get("error"); code != "" {
		if !oauthCode.MatchString(code) {
			code = "invalid_error_code"
		}
		if prompt == promptNone && silentErrors[code] {
			is.checkFailed(w, r, returnTo, chain.ErrorLoginRequired, code)
			return
		}
		Annotate(w, slog.String("result", "refused"), slog.String("reason", "idp_error"), slog.String("idp_error", code))
		writeError(w, r, errorPage{
			Status: http.StatusUnauthorized, Title: "The identity provider did not sign you in",
			Message:  "The sign-in ended at the identity provider with an error, so nothing was signed in.",
			Reasons:  []pageReason{{Code: "idp_error", Message: "the provider answered error=" + code}},
			RetryURL: is.loginURL(returnTo), RetryLabel: "Sign in again",
			Role: "issuer",
		})
		return
	}
	code := q.Get("code")
	if code == "" {
		is.startOver(w, r, "code_missing", "This sign-in cannot be finished",
			"The identity provider sent the browser back without an authorization code.",
			"the provider answers an authorization request with code and state (RFC 6749 §4.1.2)")
		return
	}
	sess, err := is.oidc.Exchange(r.Context(), code, a, is.cookie().TTL)
	switch {
	case errors.Is(err, ErrOIDCLogin):
		is.cfg.Logger.Warn("OIDC login refused", "err", err)
		Annotate(w, slog.String("result", "refused"), slog.String("reason", "oidc_login_refused"))
		writeError(w, r, errorPage{
			Status: http.StatusUnauthorized, Title: "The sign-in could not be verified",
			Message:  "The identity provider's answer did not pass verification, so nothing was signed in.",
			Reasons:  []pageReason{{Code: "oidc_login_refused", Message: err.Error()}},
			RetryURL: is.loginURL(returnTo), RetryLabel: "Sign in again",
			Role: "issuer",
		})
	case errors.Is(err, ErrOIDCSessionsFull):
		is.cfg.Logger.Error("OIDC login refused: the issuer's session store is full and no session in it has ended; "+
			"sessions end at the issuer cookie's ttl, at logout and when the provider revokes them", "err", err)
		w.Header().Set("Retry-After", "60")
		is.unavailable(w, r, "session_store_full", "the issuer holds its maximum of OIDC sessions",
			"This sign-in service is at its limit of signed-in sessions. Nothing was changed; try again later.", returnTo)
	case err != nil:
		is.idpDown(w, r, err, returnTo)
	default:
		is.startWalk(w, r, sess, returnTo)
	}
}

// oidcEndSession sends the browser, after a logout here, to the
// provider's end_session_endpoint (RP-Initiated Logout 1.0) with the ID
// token as hint; the provider comes back to /logout/continue with the
// sealed state of the front-channel walk, which then visits every
// receiver. It reports false when there is no endpoint or no hint, and
// the caller walks the receivers at once.
func (is *Issuer) oidcEndSession(w http.ResponseWriter, r *http.Request, hint, post string) bool {
	if is.oidc == nil || hint == "" {
		return false
	}
	endpoint := is.oidc.EndSessionEndpoint(r.Context())
	if endpoint == "" {
		return false
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	state := is.cfg.Sealer.Seal("state:logout", is.cfg.Now().Add(logoutStateTTL), post, "0")
	q := u.Query()
	q.Set("id_token_hint", hint)
	q.Set("client_id", is.oidc.clientID)
	q.Set("post_logout_redirect_uri", is.origin+chain.LogoutContinuePath)
	q.Set("state", state)
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
	return true
}

// oidcBackchannelLogout is POST /oidc/backchannel-logout: the provider's
// logout token (OIDC Back-Channel Logout 1.0 §2.5) ends the sessions it
// names here and, through the chain's own back-channel, at every receiver.
// A refusal is 400 with an OAuth error body (§2.8) and changes nothing.
func (is *Issuer) oidcBackchannelLogout(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	fail := func(status int, code, reason string, err error) {
		is.cfg.Logger.Warn("OIDC back-channel logout refused", "reason", reason, "err", err)
		Annotate(w, slog.String("result", "refused"), slog.String("reason", reason))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"error":"` + code + `"}`))
	}
	if reason, status := formError(r); reason != "" { // receiver.go
		fail(status, "invalid_request", reason, errors.New("the form body is too large or malformed"))
		return
	}
	raw := r.PostFormValue("logout_token")
	if raw == "" {
		fail(http.StatusBadRequest, "invalid_request", "logout_token_missing", errors.New("no logout_token"))
		return
	}
	sid, sub, err := is.oidc.VerifyLogoutToken(r.Context(), raw, func(jti string, until time.Time) (bool, error) {
		return is.logoutJTIs.Consume(r.Context(), jti, until)
	})
	switch {
	case errors.Is(err, ErrLogoutToken):
		fail(http.StatusBadRequest, "invalid_request", "logout_token_invalid", err)
		return
	case err != nil:
		// The provider's keys could not be fetched, or the store of used
		// logout tokens failed.
		fail(http.StatusServiceUnavailable, "temporarily_unavailable", unavailableReason(err), err)
		return
	}
	ended, err := is.oidc.EndSessions(r.Context(), sid, sub)
	for _, s := range ended {
		is.notifyReceivers(s.ID, s.IdentityID)
	}
	if err != nil {
		// The provider may send the logout again; what was ended stays so.
		fail(http.StatusServiceUnavailable, "temporarily_unavailable", "store_unavailable", err)
		return
	}
	Annotate(w, slog.String("result", "revoked"), slog.Int("sessions", len(ended)))
	w.WriteHeader(http.StatusOK)
}

// oidcFrontchannelLogout is GET /oidc/frontchannel-logout?iss=&sid= (OIDC
// Front-Channel Logout 1.0 §2): the provider's logout page loads it in an
// iframe. The browser sends no cookie there (SameSite=Lax stays off
// cross-site frames), so the session is found by the provider's sid,
// after iss is checked to be this chain's provider; it ends here and at
// every receiver through the back-channel. The answer is an empty page the
// provider's origin may frame, and a sid that names nothing changes
// nothing.
func (is *Issuer) oidcFrontchannelLogout(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors "+devIdPOrigin(is.oidc.issuer))
	q := r.URL.Query()
	iss, sid := q.Get("iss"), q.Get("sid")
	if iss != is.oidc.issuer || !usableID(sid) {
		// Front-Channel Logout 1.0 §3: the RP must check iss when given.
		Annotate(w, slog.String("result", "refused"), slog.String("reason", "frontchannel_logout_invalid"))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	ended, err := is.oidc.EndSessions(r.Context(), sid, "")
	for _, s := range ended {
		is.notifyReceivers(s.ID, s.IdentityID)
	}
	if err != nil {
		is.cfg.Logger.Warn("OIDC front-channel logout not completed: session store", "err", err)
		Annotate(w, slog.String("result", "unavailable"), slog.String("reason", "store_unavailable"))
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	Annotate(w, slog.String("result", "revoked"), slog.Int("sessions", len(ended)))
	w.WriteHeader(http.StatusOK)
}
