package serve

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ssoctl/ssoctl/pkg/chain"
)

// check is GET /sso/check?return_to=: the prompt=none analogue (OIDC Core
// §3.1.2.1, errors §3.1.2.6). return_to is checked first, as at /login, and
// a refused one gets the same 400 page. A usable IdP session starts the
// same hub walk /login would, ending at return_to; anything else sends the
// browser straight back to return_to with an error parameter, never to a
// login page:
//
//   - error=login_required: no session, or one older than the max_auth_age
//     of a receiver on the walk (which would ask for the password);
//   - error=temporarily_unavailable (RFC 6749 §4.1.2.1): the IdP did not
//     answer. A redirect rather than /login's 503 page, because the caller
//     of a silent check (an iframe, a top-level bounce) needs its control
//     back to decide; it may retry later.
func (is *Issuer) check(w http.ResponseWriter, r *http.Request) {
	returnTo, ok := is.returnTo(w, r)
	if !ok {
		return
	}
	sess, err := is.currentSession(r)
	now := is.cfg.Now()
	switch {
	case is.oidc != nil && errors.Is(err, ErrNoSession):
		// The provider's session is on its own host: ask it without a
		// page (prompt=none); its login_required comes back to /callback.
		is.oidcAuthorize(w, r, returnTo, promptNone)
	case err == nil && sess.Usable(now) && is.freshForWalk(sess, now):
		is.startWalk(w, r, sess, returnTo)
	case err == nil && sess.Usable(now):
		is.checkFailed(w, r, returnTo, chain.ErrorLoginRequired, ReasonAuthTooOld)
	case err == nil || errors.Is(err, ErrNoSession):
		is.checkFailed(w, r, returnTo, chain.ErrorLoginRequired, "no_session")
	default:
		is.cfg.Logger.Warn("identity provider unavailable", "err", err)
		is.checkFailed(w, r, returnTo, chain.ErrorUnavailable, "idp_unavailable")
	}
}

// freshForWalk reports whether every receiver the walk visits would accept
// sess's login time (receivers[].max_auth_age).
func (is *Issuer) freshForWalk(sess *Session, now time.Time) bool {
	for _, rcv := range is.receivers {
		if authTooOld(rcv.MaxAuthAge, sess.AuthenticatedAt, now) {
			return false
		}
	}
	return true
}

// checkFailed sends the browser back to return_to with error=code first
// in its query.
func (is *Issuer) checkFailed(w http.ResponseWriter, r *http.Request, returnTo, code, reason string) {
	target := returnTo
	if u, err := url.Parse(returnTo); err == nil {
		u.RawQuery = withError(u.RawQuery, code)
		target = u.String()
	}
	Annotate(w, slog.String("result", code), slog.String("reason", reason))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// withError is rawQuery with error=code first, in place of any error pair
// it held; every other pair stays as the allowlist approved it. Decoding
// the query and encoding it again (url.Values) would drop the pairs
// net/url cannot parse, such as one with ";" that PHP or Rails apps read,
// and re-encode the rest, so the app would not get back the URL it sent.
func withError(rawQuery, code string) string {
	pairs := []string{chain.ErrorParam + "=" + url.QueryEscape(code)}
	for pair := range strings.SplitSeq(rawQuery, "&") {
		key, _, _ := strings.Cut(pair, "=")
		if k, err := url.QueryUnescape(key); pair == "" || err == nil && k == chain.ErrorParam {
			continue
		}
		pairs = append(pairs, pair)
	}
	return strings.Join(pairs, "&")
}
