package token

import (
	"bytes"
	"fmt"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// LogoutType is the explicit JWT type of a back-channel logout token (OIDC
// Back-Channel Logout 1.0 §2.4 recommends "logout+jwt"). A handoff verifier
// refuses it for its typ, and a logout verifier refuses a handoff, so one
// can never stand in for the other.
const LogoutType = "logout+jwt"

// BackchannelLogoutEvent is the member of the events claim that makes a
// JWT a logout token (OIDC Back-Channel Logout 1.0 §2.4).
const BackchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// LogoutOptions describes one logout token. Issuer, Audience, Subject and
// SessionID are required.
type LogoutOptions struct {
	Issuer    string
	Audience  string // the receiver's name
	Subject   string
	SessionID string
	TTL       time.Duration    // default DefaultTTL
	ID        string           // jti; default NewID()
	Now       func() time.Time // default time.Now
}

// MintLogout signs a logout token with key: header {alg, kid, typ:
// logout+jwt}; claims iss, aud, sub, sid, jti, iat, exp and events with
// the back-channel-logout member, and never a nonce.
func MintLogout(key *Key, o LogoutOptions) (string, *Claims, error) {
	c, err := newClaims(key, o.Issuer, o.Audience, o.Subject, o.SessionID, o.ID, o.TTL, o.Now)
	if err != nil {
		return "", nil, err
	}
	events, err := json.Marshal(map[string]map[string]any{BackchannelLogoutEvent: {}})
	if err != nil {
		return "", nil, err
	}
	c.Extra = map[string]jsontext.Value{"events": events}
	tok, err := signTyped(key, c, LogoutType)
	if err != nil {
		return "", nil, err
	}
	return tok, c, nil
}

// NewLogoutVerifier returns a Verifier for logout tokens minted by issuer
// for audience: every check of a handoff (signature, iss, aud, iat and exp
// with leeway, lifetime, jti single use with WithReplayStore) with typ
// logout+jwt instead of sso-handoff+jwt, plus OIDC Back-Channel Logout 1.0
// §2.6: the events claim holds the back-channel-logout member and there is
// no nonce.
func NewLogoutVerifier(keys KeySource, issuer, audience string, opts ...VerifyOption) (*Verifier, error) {
	v, err := NewVerifier(keys, issuer, audience, opts...)
	if err != nil {
		return nil, err
	}
	v.typ, v.logout = LogoutType, true
	return v, nil
}

// checkLogoutClaims adds the logout-token rules to the claim checks.
func checkLogoutClaims(c *Claims, fs *failures) {
	ev, ok := c.Extra["events"]
	var events map[string]jsontext.Value
	switch {
	case !ok:
		fs.add(ErrEventsMissing, "no events claim")
	case json.Unmarshal(ev, &events) != nil:
		fs.add(ErrEventsMissing, "events is not a JSON object")
	default:
		member, ok := events[BackchannelLogoutEvent]
		if !ok {
			fs.add(ErrEventsMissing, fmt.Sprintf("events has no %q member", BackchannelLogoutEvent))
		} else if m := bytes.TrimSpace(member); len(m) == 0 || m[0] != '{' {
			fs.add(ErrEventsMissing, fmt.Sprintf("events[%q] is not a JSON object", BackchannelLogoutEvent))
		}
	}
	if _, ok := c.Extra["nonce"]; ok {
		fs.add(ErrNoncePresent, "the token has a nonce claim")
	}
}
