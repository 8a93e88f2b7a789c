package serve

import (
	"net/http"
	"time"
)

// refreshLogin finishes a login typed by a browser that already holds a
// usable session of the same user (a refresh=true flow, as Kratos's
// step-up): like Kratos it keeps the session and its id, and moves its
// authenticated_at to now, so receivers that were waiting on a fresh login
// accept it. It reports whether it answered.
func (d *DevIdP) refreshLogin(w http.ResponseWriter, r *http.Request, user *devIdPUser, now time.Time, returnTo string) bool {
	s, ok := d.sessionFromRequest(r)
	if !ok || s.user != user {
		return false
	}
	if _, ok := d.sessions.reauthenticate(s.id, now); !ok {
		return false
	}
	d.clearCookie(w, d.csrfCookie, "", http.SameSiteStrictMode)
	d.log.Info("dev idp login", "result", "ok", "identity", user.id, "session", s.id, "refresh", true)
	devIdPRedirect(w, returnTo)
	return true
}

// reauthenticate sets a usable session's authenticated_at to now.
func (st *devIdPSessions) reauthenticate(id string, now time.Time) (devIdPSession, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.byID[id]
	if !ok || !s.usable(now) {
		return devIdPSession{}, false
	}
	s.authAt = now.UTC()
	return *s, true
}
