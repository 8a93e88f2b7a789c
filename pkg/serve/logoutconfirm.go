package serve

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"log/slog"
	"net/http"

	"github.com/ssoctl/ssoctl/pkg/chain"
)

// Logout by a link from another site. GET /logout must stay a GET: a
// receiver starts logout with a redirect, and apps link to it. But a GET
// that signs out everywhere lets any page sign its visitors out (logout
// CSRF): a link, or a script that navigates the top-level window, sends
// SameSite=Lax cookies along. So a browser's GET /logout signs out at
// once only when the browser says a person started it here: typed,
// bookmarked or followed from a page of this origin (Sec-Fetch-Site
// none or same-origin, W3C Fetch Metadata), or, at the issuer, when it
// carries the session hint a receiver's logout adds. Anything else (a
// link on another site, even a sibling subdomain) gets a page that asks,
// whose button POSTs back to this origin; the POST is taken only from a
// page of this origin. A client that sends no Fetch Metadata (curl, a
// browser from before 2023, a plain-http host that is not loopback,
// where browsers send none) is answered as before, since nothing tells
// a link from another site apart there. OpenID Connect RP-Initiated
// Logout asks the same way: a request without an id_token_hint should be
// confirmed by the user.

// startedHere reports whether the browser says a person started r here:
// typed or bookmarked, or from a page of this origin; or sends no Fetch
// Metadata at all.
func startedHere(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "none", "same-origin":
		return true
	}
	return false
}

// postedHere reports whether a POST came from a page of origin: what the
// browser says in Sec-Fetch-Site, else in Origin; a request with neither
// is not a browser's form from another site.
func postedHere(r *http.Request, origin string) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	o := r.Header.Get("Origin")
	return o == "" || o == origin
}

// sessionHint is what a receiver's logout tells the issuer about the
// session it ends: a digest of the session id, which both hold and a page
// on another site does not, and which says nothing of the id itself.
func sessionHint(sessionID string) string {
	sum := sha256.Sum256([]byte("ssoctl logout session hint\x00" + sessionID))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// hintMatches reports whether r carries the session hint of sessionID.
func hintMatches(r *http.Request, sessionID string) bool {
	got := r.URL.Query().Get(chain.SessionHintParam)
	return sessionID != "" && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sessionHint(sessionID))) == 1
}

// confirmLogoutPage asks before signing out, for a logout another site
// started.
type confirmLogoutPage struct {
	Action  string // this URL, which the button POSTs to
	Service string // "accounts.company.com", what the person signs out of
}

// writeConfirmLogout answers a logout another site started with a page
// that asks, and changes nothing. Its form may post to this origin and
// whatever the logout then redirects through (formAction: 'self' and the
// chain's origins, since browsers check form-action on every redirect
// after a submission).
func writeConfirmLogout(w http.ResponseWriter, r *http.Request, formAction, service string) {
	Annotate(w, slog.String("result", "confirm"))
	writePageUnder(w, pageCSPWith(formAction), "logout_confirm", confirmLogoutPage{Action: r.URL.RequestURI(), Service: service})
}

// refuseLogoutPost answers a POST /logout from another site's page.
func refuseLogoutPost(w http.ResponseWriter, r *http.Request, role string) {
	Annotate(w, slog.String("result", "refused"), slog.String("reason", "logout_cross_site"))
	writeError(w, r, errorPage{
		Status:  http.StatusForbidden,
		Title:   "Sign-out refused",
		Message: "This sign-out was sent from a page on another site, so nothing was signed out. To sign out, use the app's own sign-out link.",
		Reasons: []pageReason{{Code: "logout_cross_site", Message: "POST /logout is taken only from a page of this origin (Sec-Fetch-Site same-origin, or an Origin header naming it)"}},
		Role:    role,
	})
}
