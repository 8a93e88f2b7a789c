package chain

import "time"

// Logout endpoints and parameters (DESIGN §5): the issuer's /logout ends
// the session everywhere, front-channel through the browser and
// back-channel server to server.
const (
	LogoutPath             = "/logout"              // issuer: logs out everywhere; receiver: sends the browser to the issuer's
	LogoutContinuePath     = "/logout/continue"     // issuer: a receiver hands the front-channel walk back here
	FrontchannelLogoutPath = "/logout/frontchannel" // receiver: clears its cookie, then back to LogoutContinuePath
	BackchannelLogoutPath  = "/backchannel-logout"  // receiver: POST logout_token=… (OIDC Back-Channel Logout 1.0)
	// OIDCBackchannelLogoutPath is the issuer's back-channel logout
	// endpoint for an OpenID provider (idp.kind oidc): register it as the
	// client's backchannel_logout_uri.
	OIDCBackchannelLogoutPath = "/oidc/backchannel-logout"
	// OIDCFrontchannelLogoutPath is the issuer's front-channel logout page
	// for an OpenID provider: register it as the client's
	// frontchannel_logout_uri, with the session required.
	OIDCFrontchannelLogoutPath = "/oidc/frontchannel-logout"
	// OIDCSessionPath is where a receiver in a process of its own asks the
	// issuer of an OIDC chain about a session (pkg/serve oidc_sessions.go).
	OIDCSessionPath         = "/oidc/session"
	PostLogoutRedirectParam = "post_logout_redirect" // query parameter on LogoutPath
	// SessionHintParam is a query parameter on the issuer's LogoutPath: a
	// receiver that starts a logout names the session it is ending
	// (a digest of its id, pkg/serve), which a link from another site
	// cannot, so the issuer signs out without asking.
	SessionHintParam = "session_hint"
	LogoutTokenParam = "logout_token" // form field on BackchannelLogoutPath
)

// DefaultLogoutDeadline is how soon after the logout walk trace chain
// --logout expects every receiver's /auth to answer 401: long enough for
// a back-channel delivery and its retries, far shorter than any
// recheck_interval (at least 1s, 1m by default), so a receiver that
// learns of the logout only at its next IdP re-check fails (SSO403).
const DefaultLogoutDeadline = 3 * time.Second

// Backchannel reports whether the issuer's logout tells this receiver
// server to server: a served receiver whose backchannel_logout is not
// false.
func (r *Receiver) Backchannel() bool {
	return !r.SharedCookie && (r.BackchannelLogout == nil || *r.BackchannelLogout)
}
