package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve/store"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// Logout (DESIGN §5). The issuer's GET /logout ends the IdP session, clears
// its own cookie, and then does two things at once:
//
//   - front-channel: the browser is walked through every receiver's
//     /logout/frontchannel, which clears that receiver's cookie in this
//     browser and hands back to the issuer's /logout/continue, until it
//     lands on post_logout_redirect;
//   - back-channel: every receiver with backchannel_logout (the default) is
//     sent a logout token by POST /backchannel-logout (OIDC Back-Channel
//     Logout 1.0), server to server, and records the session revoked, so
//     its /auth refuses every copy of the cookie at once, whichever browser
//     holds it and whether or not it ever walks the front-channel.
//
// The front-channel only clears cookies; it revokes nothing, since a
// receiver cannot tell the issuer's state from a forged one and a copy of
// the cookie may live elsewhere. A receiver without back-channel learns of
// the logout at its next IdP re-check (recheck_interval).

// Back-channel delivery: a few tries with doubling waits, well inside a
// logout token's lifetime, in the background so the browser never waits.
const (
	backchannelTries       = 3
	defaultBackchannelWait = 250 * time.Millisecond
	backchannelTimeout     = 5 * time.Second
	logoutStateTTL         = continueStateTTL
	// maxLogoutState bounds the opaque state a receiver passes on.
	maxLogoutState = 2 << 10
)

// issuerLogout is the issuer's logout machinery.
type issuerLogout struct {
	client  *http.Client
	backoff time.Duration
	// deliveries counts the back-channel deliveries under way, so a
	// shutdown can let them finish (Issuer.DrainLogouts).
	deliveries sync.WaitGroup
}

func (is *Issuer) routeLogout(mux *http.ServeMux) {
	is.logout = &issuerLogout{client: is.cfg.BackchannelClient, backoff: is.cfg.BackchannelBackoff}
	if is.logout.client == nil {
		is.logout.client = &http.Client{Timeout: backchannelTimeout}
	}
	if is.logout.backoff <= 0 {
		is.logout.backoff = defaultBackchannelWait
	}
	mux.HandleFunc("GET "+chain.LogoutPath, is.logoutStart)
	mux.HandleFunc("POST "+chain.LogoutPath, is.logoutConfirmed)
	mux.HandleFunc("GET "+chain.LogoutContinuePath, is.logoutContinue)
	refuseOtherMethods(mux, []string{http.MethodGet, http.MethodPost}, chain.LogoutPath)
	refuseOtherMethods(mux, []string{http.MethodGet, http.MethodHead}, chain.LogoutContinuePath)
}

// logoutStart is GET /logout. Another site's link is asked about first
// (logoutconfirm.go).
func (is *Issuer) logoutStart(w http.ResponseWriter, r *http.Request) { is.signOut(w, r, false) }

// logoutConfirmed is POST /logout, the button of the page that asks.
func (is *Issuer) logoutConfirmed(w http.ResponseWriter, r *http.Request) {
	if !postedHere(r, is.origin) {
		refuseLogoutPost(w, r, "issuer")
		return
	}
	is.signOut(w, r, true)
}

// signOut checks post_logout_redirect before anything changes, asks when
// another site started the logout and the person has not confirmed, then
// revokes, clears, notifies and starts the front-channel walk.
func (is *Issuer) signOut(w http.ResponseWriter, r *http.Request, confirmed bool) {
	w.Header().Set("Cache-Control", "no-store")
	post, ok := is.postLogoutRedirect(w, r)
	if !ok {
		return
	}
	// fault (dev only): logout_without_asking signs out for any link.
	ask := !confirmed && !startedHere(r) && !is.faults.LogoutWithoutAsking
	if ask && r.URL.Query().Get(chain.SessionHintParam) == "" {
		// Asked at once: a link on any page costs no session lookup.
		writeConfirmLogout(w, r, is.formAction, hostOf(is.origin))
		return
	}
	now := is.cfg.Now()
	var sid, sub string
	if cs, err := is.cfg.Sealer.OpenSessionCookie(r, is.cookie().Name, now); err == nil {
		sid, sub = cs.SessionID, cs.Subject
	}
	if sid == "" {
		// No issuer cookie (another tab logged out, or it expired): the IdP
		// session the browser still holds is the one to end.
		if sess, err := is.currentSession(r); err == nil {
			sid, sub = sess.ID, sess.IdentityID
		}
	}
	if ask && !hintMatches(r, sid) {
		writeConfirmLogout(w, r, is.formAction, hostOf(is.origin))
		return
	}
	result := "no_session"
	hint := ""
	if is.oidc != nil && sid != "" {
		hint = is.oidc.IDTokenHint(r.Context(), sid) // before Revoke forgets it
	}
	if sid != "" {
		result = "revoked"
		if err := is.cfg.IdP.Revoke(r.Context(), sid); err != nil {
			// The local logout goes on: cookies are cleared and the
			// back-channel revokes the session at every receiver.
			result = "idp_revoke_failed"
			is.cfg.Logger.Warn("logout: revoking the IdP session failed; cookies are cleared and receivers told anyway", "err", err)
		}
		is.notifyReceivers(sid, sub)
	}
	ck := is.cookie()
	http.SetCookie(w, &http.Cookie{Name: ck.Name, Value: "", Path: "/", Domain: ck.Domain, MaxAge: -1,
		HttpOnly: true, Secure: is.secure(), SameSite: http.SameSiteLaxMode})
	Annotate(w, slog.String("result", result))
	if is.oidcEndSession(w, r, hint, post) { // the provider first, then the receivers
		return
	}
	is.logoutHop(w, r, post, 0)
}

// postLogoutRedirect checks post_logout_redirect against the return_to
// allowlist; none means the issuer's root. A refusal changes nothing.
func (is *Issuer) postLogoutRedirect(w http.ResponseWriter, r *http.Request) (string, bool) {
	raw, err := singleValue(r.URL.Query(), chain.PostLogoutRedirectParam) // issuer.go
	if err == nil && raw == "" {
		return is.origin + "/", true
	}
	var u *url.URL
	if err == nil {
		u, err = is.allow.Allow(raw)
	}
	if err != nil {
		msg := "The page you would land on after signing out is not on this chain's return_to allowlist, so nothing was signed out and you were not sent there."
		if errors.Is(err, errRepeatedParam) {
			msg = "The sign-out link names more than one page to land on after signing out, so nothing was signed out and you were not sent to either."
		}
		Annotate(w, slog.String("result", "refused"), slog.String("reason", "post_logout_redirect_refused"))
		writeError(w, r, errorPage{
			Status:  http.StatusBadRequest,
			Title:   "This sign-out link is not allowed",
			Message: msg,
			Reasons: []pageReason{{Code: "post_logout_redirect_refused", Message: err.Error()}},
			Role:    "issuer",
		})
		return "", false
	}
	return u.String(), true
}

// logoutHop sends the browser to receiver next's front-channel endpoint,
// or to post when every receiver has been visited.
func (is *Issuer) logoutHop(w http.ResponseWriter, r *http.Request, post string, next int) {
	if next >= len(is.receivers) {
		http.Redirect(w, r, post, http.StatusSeeOther)
		return
	}
	state := is.cfg.Sealer.Seal("state:logout", is.cfg.Now().Add(logoutStateTTL), post, strconv.Itoa(next+1))
	rcv := is.receivers[next]
	http.Redirect(w, r, strings.TrimSuffix(rcv.URL, "/")+chain.FrontchannelLogoutPath+"?"+url.Values{stateParam: {state}}.Encode(), http.StatusSeeOther)
}

// logoutContinue is where a receiver hands the front-channel walk back.
func (is *Issuer) logoutContinue(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	f, _, err := is.cfg.Sealer.Open("state:logout", r.URL.Query().Get(stateParam), is.cfg.Now(), 2)
	next, nerr := 0, error(nil)
	if err == nil {
		next, nerr = strconv.Atoi(f[1])
	}
	// next 0 comes back from the OpenID provider's end_session_endpoint
	// (oidcEndSession): the walk has not visited a receiver yet.
	if err != nil || nerr != nil || next < 0 || next > len(is.receivers) {
		// The sign-out itself happened at /logout; only the walk's
		// progress is lost. Land on the issuer.
		Annotate(w, slog.String("result", "refused"), slog.String("reason", "logout_state_invalid"))
		http.Redirect(w, r, is.origin+"/", http.StatusSeeOther)
		return
	}
	if pauses(r, next, len(is.receivers)) {
		Annotate(w, slog.String("result", "paused"))
		writeResume(w, resumePage{Title: "Signing you out…", URL: resumeURL(is.origin, r), Done: next, Total: len(is.receivers)})
		return
	}
	is.logoutHop(w, r, f[0], next)
}

// notifyReceivers delivers a logout token to every receiver with
// back-channel logout, each in its own goroutine.
func (is *Issuer) notifyReceivers(sid, sub string) {
	for _, rcv := range is.receivers {
		if !rcv.Backchannel() {
			continue
		}
		is.logout.deliveries.Go(func() { is.deliverLogout(rcv, sid, sub) })
	}
}

// DrainLogouts waits until every back-channel logout delivery under way
// has ended (delivered, refused or given up), or ctx is done. A process
// that stops right after its listeners close would otherwise drop the
// deliveries a last /logout started, and those receivers would keep the
// session until their IdP re-check.
func (is *Issuer) DrainLogouts(ctx context.Context) error {
	if is == nil || is.logout == nil {
		return nil
	}
	done := make(chan struct{})
	go func() {
		is.logout.deliveries.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// deliverLogout POSTs a fresh logout token to rcv, retrying a failure
// (transport error, 5xx, 429) with doubling waits, and reports the outcome
// in the log and in ssoctl_backchannel_logouts_total. A 4xx other than 429
// is final: the receiver refused the token, and another one would fare no
// better.
func (is *Issuer) deliverLogout(rcv chain.Receiver, sid, sub string) {
	target := strings.TrimSuffix(rcv.URL, "/") + chain.BackchannelLogoutPath
	log := is.cfg.Logger.With("aud", rcv.Name)
	wait := is.logout.backoff
	var last string
	for try := 1; try <= backchannelTries; try++ {
		if try > 1 {
			time.Sleep(wait)
			wait *= 2
		}
		status, err := is.postLogout(rcv, target, sid, sub)
		switch {
		case err == nil && status >= 200 && status <= 299:
			log.Info("back-channel logout delivered", "try", try)
			is.cfg.Metrics.BackchannelLogout(rcv.Name, "delivered")
			return
		case err == nil && status >= 400 && status <= 499 && status != http.StatusTooManyRequests:
			log.Error("back-channel logout refused by the receiver", "status", status)
			is.cfg.Metrics.BackchannelLogout(rcv.Name, "refused")
			return
		case err != nil:
			last = err.Error()
		default:
			last = "status " + strconv.Itoa(status)
		}
		log.Warn("back-channel logout failed", "try", try, "of", backchannelTries, "err", last)
		if try < backchannelTries {
			is.cfg.Metrics.BackchannelLogout(rcv.Name, "retried")
		}
	}
	log.Error("back-channel logout given up; the receiver keeps the session until its IdP re-check", "tries", backchannelTries, "err", last)
	is.cfg.Metrics.BackchannelLogout(rcv.Name, "failed")
}

func (is *Issuer) postLogout(rcv chain.Receiver, target, sid, sub string) (int, error) {
	tok, _, err := token.MintLogout(is.cfg.Key, token.LogoutOptions{
		Issuer: is.origin, Audience: rcv.Name, Subject: sub, SessionID: sid,
		TTL: is.cfg.Chain.Token.TTL, Now: is.cfg.Now,
	})
	if err != nil {
		return 0, fmt.Errorf("minting the logout token: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), backchannelTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target,
		strings.NewReader(url.Values{chain.LogoutTokenParam: {tok}}.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := is.logout.client.Do(req)
	if err != nil {
		// The URL holds no token; the error text may quote the URL only.
		return 0, errors.New(redactTransportError(err))
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// redactTransportError keeps a transport error's cause, not the request.
func redactTransportError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + " " + ue.URL + ": " + ue.Err.Error()
	}
	return err.Error()
}

// receiverLogout is a receiver's logout machinery.
type receiverLogout struct {
	verifier *token.Verifier // logout tokens; nil without back-channel
}

func (rc *Receiver) routeLogout(mux *http.ServeMux) error {
	rc.logout = &receiverLogout{}
	mux.HandleFunc("GET "+chain.LogoutPath, rc.logoutStart)
	mux.HandleFunc("POST "+chain.LogoutPath, rc.logoutConfirmed)
	mux.HandleFunc("GET "+chain.FrontchannelLogoutPath, rc.logoutFrontchannel)
	refuseOtherMethods(mux, []string{http.MethodGet, http.MethodPost}, chain.LogoutPath)
	refuseOtherMethods(mux, []string{http.MethodGet}, chain.FrontchannelLogoutPath)
	if !rc.self.Backchannel() {
		return nil
	}
	v, err := token.NewLogoutVerifier(rc.cfg.Keys, rc.issuer, rc.self.Name,
		token.WithLeeway(rc.cfg.Chain.Token.Leeway),
		token.WithMaxLifetime(rc.cfg.Chain.Token.MaxTTL),
		token.WithTimeFunc(rc.cfg.Now),
		token.WithReplayStore(rc.cfg.Replay))
	if err != nil {
		return fmt.Errorf("receiver: %w", err)
	}
	rc.logout.verifier = v
	mux.HandleFunc("POST "+chain.BackchannelLogoutPath, rc.backchannelLogout)
	refuseOtherMethods(mux, []string{http.MethodPost}, chain.BackchannelLogoutPath)
	return nil
}

func (rc *Receiver) clearCookie(w http.ResponseWriter) {
	ck := rc.self.Cookie
	http.SetCookie(w, &http.Cookie{Name: ck.Name, Value: "", Path: "/", Domain: ck.Domain, MaxAge: -1,
		HttpOnly: true, Secure: rc.secure(), SameSite: http.SameSiteLaxMode})
}

// logoutStart is a receiver's GET /logout (RP-initiated): it clears this
// cookie and sends the browser to the issuer's /logout, which signs out
// everywhere and lands back on this receiver. Another site's link is
// asked about first (logoutconfirm.go).
func (rc *Receiver) logoutStart(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !startedHere(r) {
		writeConfirmLogout(w, r, rc.formAction, hostOf(rc.origin))
		return
	}
	rc.toIssuerLogout(w, r)
}

// logoutConfirmed is POST /logout, the button of the page that asks.
func (rc *Receiver) logoutConfirmed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !postedHere(r, rc.origin) {
		refuseLogoutPost(w, r, rc.self.Name)
		return
	}
	rc.toIssuerLogout(w, r)
}

// toIssuerLogout clears this cookie and sends the browser to the issuer's
// /logout with the hint of the session the cookie held, which lets the
// issuer sign out without asking again.
func (rc *Receiver) toIssuerLogout(w http.ResponseWriter, r *http.Request) {
	q := url.Values{chain.PostLogoutRedirectParam: {rc.origin + "/"}}
	if cs, err := rc.cfg.Sealer.OpenSessionCookie(r, rc.self.Cookie.Name, rc.cfg.Now()); err == nil {
		q.Set(chain.SessionHintParam, sessionHint(cs.SessionID))
	}
	rc.clearCookie(w)
	Annotate(w, slog.String("result", "to_issuer"))
	http.Redirect(w, r, rc.issuer+chain.LogoutPath+"?"+q.Encode(), http.StatusSeeOther)
}

// logoutFrontchannel clears this browser's cookie and hands the walk back
// to the issuer with the state it came with, which only the issuer can
// open. It revokes nothing (see the package comment on logout).
func (rc *Receiver) logoutFrontchannel(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	rc.clearCookie(w)
	state := r.URL.Query().Get(stateParam)
	if state == "" || len(state) > maxLogoutState {
		Annotate(w, slog.String("result", "cleared"), slog.String("reason", "logout_state_missing"))
		http.Redirect(w, r, rc.origin+"/", http.StatusSeeOther)
		return
	}
	Annotate(w, slog.String("result", "cleared"))
	http.Redirect(w, r, rc.issuer+chain.LogoutContinuePath+"?"+url.Values{stateParam: {state}}.Encode(), http.StatusSeeOther)
}

// backchannelLogout is POST /backchannel-logout (OIDC Back-Channel Logout
// 1.0 §2.5–2.8): a logout token that passes every check revokes its sid in
// the revocation store, so /auth answers 401 for it from now on. Errors are
// answered as the spec says: 400 with a JSON error, no-store.
func (rc *Receiver) backchannelLogout(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, 2*token.MaxSize)
	fail := func(status int, code, desc string) {
		Annotate(w, slog.String("result", "refused"), slog.String("reason", code))
		rc.cfg.Metrics.BackchannelLogout(rc.self.Name, "refused")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "error_description": desc})
	}
	if code, status := formError(r); code != "" { // receiver.go
		fail(status, code, "the form body is too large or malformed")
		return
	}
	raw := r.PostFormValue(chain.LogoutTokenParam)
	if raw == "" {
		fail(http.StatusBadRequest, "logout_token_missing", "no logout_token in the form body")
		return
	}
	tok, err := rc.logout.verifier.Verify(r.Context(), raw)
	var inv *token.InvalidError
	switch {
	case errors.As(err, &inv):
		fail(http.StatusBadRequest, inv.Failures[0].Reason.Code, inv.Failures[0].Reason.Summary)
		return
	case err != nil:
		rc.cfg.Logger.Warn("back-channel logout not completed: dependency unavailable", "err", err)
		Annotate(w, slog.String("result", "unavailable"))
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	sid := tok.Claims.SessionID
	// A cookie for sid lives at most the cookie's TTL from now.
	if err := rc.cfg.Revocations.Revoke(r.Context(), sid, rc.cfg.Now().Add(rc.self.Cookie.TTL)); err != nil {
		rc.cfg.Logger.Warn("back-channel logout not completed: revocation store", "err", fmt.Errorf("%w: %v", store.ErrUnavailable, err))
		Annotate(w, slog.String("result", "unavailable"))
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	rc.checked.forget(sid)
	Annotate(w, slog.String("result", "revoked"))
	rc.cfg.Metrics.BackchannelLogout(rc.self.Name, "revoked")
	w.WriteHeader(http.StatusOK)
}

// backchannelCounts is ssoctl_backchannel_logouts_total's series.
type backchannelCounts = vec[atomic.Uint64]

// BackchannelLogout counts one back-channel logout outcome: on the issuer
// per receiver ("delivered", "retried", "refused", "failed"), on a receiver
// for itself ("revoked", "refused").
func (m *Metrics) BackchannelLogout(receiver, result string) {
	if m == nil {
		return
	}
	m.backchannel.with(labelValues{m.roles.get(receiver), m.results.get(result)}, nil).Add(1)
}

var familyBackchannel = family{name: "ssoctl_backchannel_logouts_total", typ: "counter",
	help:   "Back-channel logout deliveries (issuer) and logout tokens taken (receivers), by receiver and result.",
	labels: []string{"receiver", "result"}}
