package serve

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ssoctl/ssoctl/pkg/chain"
)

// Step-up (receivers[].max_auth_age): a receiver accepts a session only
// while its IdP login (authenticated_at) is younger than max_auth_age. An
// older one is refused at /auth and the upstream proxy like a missing
// cookie, and at /sso by sending the browser to the issuer's /login with
// prompt=login, which asks the IdP for the password again even though the
// session exists (OIDC Core §3.1.2.1 prompt=login; Kratos refresh=true).

// HeaderAuthReason is set on a 401 from /auth when the reason is one the
// app may act on: ReasonAuthTooOld.
const (
	HeaderAuthReason = "X-Auth-Reason"
	ReasonAuthTooOld = "auth_too_old"
)

// stepUpWindow is how long a receiver remembers that it sent a session to
// log in again: if the same session comes back within it still too old,
// the IdP did not re-authenticate (it ignored refresh=true), and sending it
// again would loop; such a loop turns in milliseconds. A person who left
// the password form and tries again later is sent to it again; within the
// window they get a page whose link asks again.
const stepUpWindow = 30 * time.Second

// authTooOldError is a session older than max_auth_age. It is an
// errNotSignedIn, so every caller of Receiver.session treats it as signed
// out, and its text is the log reason.
type authTooOldError struct{}

func (authTooOldError) Error() string        { return ReasonAuthTooOld }
func (authTooOldError) Is(target error) bool { return target == errNotSignedIn }

var errAuthTooOld error = authTooOldError{}

// tooOld reports whether a login at authAt is too old for this receiver
// at now. An unknown time is too old: freshness cannot be shown.
func (rc *Receiver) tooOld(authAt, now time.Time) bool {
	return authTooOld(rc.self.MaxAuthAge, authAt, now)
}

// authTooOld is the max_auth_age rule: with a limit, a login at authAt is
// too old at now when it is older than the limit or its time is unknown.
func authTooOld(limit time.Duration, authAt, now time.Time) bool {
	return limit > 0 && (authAt.IsZero() || now.Sub(authAt) > limit)
}

// stepUps remembers, per IdP session, when this receiver last sent it to
// log in again.
type stepUps struct {
	mu   sync.Mutex
	sent map[string]time.Time
}

// take returns when sid was last sent to log in again and whether that was
// within the window, and forgets it either way.
func (s *stepUps) take(sid string, now time.Time) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.sent[sid]
	delete(s.sent, sid)
	return at, ok && now.Sub(at) < stepUpWindow
}

func (s *stepUps) put(sid string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sent == nil {
		s.sent = map[string]time.Time{}
	}
	if len(s.sent) >= 1024 {
		for k, at := range s.sent {
			if now.Sub(at) >= stepUpWindow {
				delete(s.sent, k)
			}
		}
	}
	s.sent[sid] = now
}

// stepUpURL is the issuer's /login, forcing a fresh IdP login, ending back
// at back: a URL of this receiver the chain allows, else its root.
func (rc *Receiver) stepUpURL(back string) string {
	if !rc.ownAllowed(back) {
		back = rc.origin + "/"
	}
	return rc.issuer + chain.LoginPath + "?" + url.Values{
		chain.ReturnToParam: {back},
		chain.PromptParam:   {chain.PromptLogin},
	}.Encode()
}

// ownAllowed reports whether u is on this receiver's origin and passes the
// chain's return_to allowlist.
func (rc *Receiver) ownAllowed(u string) bool {
	a, err := rc.allow.Allow(u)
	return err == nil && strings.TrimSuffix(a.Scheme+"://"+a.Host, "/") == rc.origin
}

// stepUp runs at /sso once the handoff and the IdP session check out. A
// session whose login is older than max_auth_age sets no cookie: the
// browser goes to log in again, and comes back to ret when the handoff was
// headed for a page of this receiver (a relay's last hop, a deep link),
// else to its root: a hub's ret is the issuer's walk state, which the new
// login replaces. It reports whether it answered.
func (rc *Receiver) stepUp(w http.ResponseWriter, r *http.Request, sess *Session, ret string, now time.Time) bool {
	if !rc.tooOld(sess.AuthenticatedAt, now) {
		rc.stepUps.take(sess.ID, now) // done: forget the step-up
		return false
	}
	Annotate(w, slog.String("result", "refused"), slog.String("reason", ReasonAuthTooOld))
	if rc.cfg.Metrics != nil {
		rc.cfg.Metrics.Handoff(rc.self.Name, "refused", ReasonAuthTooOld)
	}
	page := errorPage{
		Status: http.StatusUnauthorized, Title: "Not signed in on " + hostOf(rc.origin),
		RetryURL: rc.stepUpURL(ret), RetryLabel: "Sign in again", Role: rc.self.Name + " (receiver)",
	}
	switch sent, again := rc.stepUps.take(sess.ID, now); {
	case sess.AuthenticatedAt.IsZero():
		// Without authenticated_at (no admin API) no login can ever be
		// shown fresh; redirecting would loop.
		page.Message = "This site needs a recent sign-in, but the identity provider does not say when you signed in."
		page.Reasons = []pageReason{{Code: "auth_time_unknown", Message: "the IdP session has no authenticated_at; max_auth_age needs idp.admin_url"}}
	case again && !sess.AuthenticatedAt.After(sent):
		page.Message = "This site needs a recent sign-in, and the identity provider sent you back without asking for your password again."
		page.Reasons = []pageReason{{Code: "reauth_not_fresh", Message: "after prompt=login the session's authenticated_at is still older than max_auth_age (" + rc.self.MaxAuthAge.String() + "); the IdP must honour refresh=true"}}
	default:
		rc.stepUps.put(sess.ID, now)
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, rc.stepUpURL(ret), http.StatusSeeOther)
		return true
	}
	writeError(w, r, page)
	return true
}

// promptLogin answers /login?prompt=login: the browser goes to the IdP's
// login even with a session there (refresh=true), so that it comes back
// with a new authenticated_at. It reports whether it answered.
func (is *Issuer) promptLogin(w http.ResponseWriter, r *http.Request, returnTo string) bool {
	if r.URL.Query().Get(chain.PromptParam) != chain.PromptLogin {
		return false
	}
	is.sendToIdP(w, r, returnTo, true)
	return true
}
