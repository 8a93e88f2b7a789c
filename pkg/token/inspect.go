package token

import (
	"time"
)

// Inspection is what Inspect saw in a token, without any key: the decoded
// token and warnings about what would make it risky or unacceptable as a
// handoff. Nothing in it is verified.
type Inspection struct {
	Token    *Token
	Warnings []*Failure // codes shared with Verify's reasons
}

// Inspect decodes raw without a key and lists what is risky about it, for
// people debugging a chain: alg none, key-bearing headers, missing or odd
// typ, missing exp/iat/aud/jti/sid, a lifetime over the default maximum, and
// whether it is expired or not yet valid at now. A logout token (typ
// logout+jwt) is inspected against the logout-token rules. An expired token is not an
// error. It is lenient where Verify is strict only so far as showing the
// token helps: duplicate member names and oversized tokens become warnings,
// but a token that cannot be split and decoded is an *InvalidError.
func Inspect(raw string, now time.Time) (*Inspection, error) {
	t, fs := parse(raw, true)
	if t == nil {
		return nil, fs.err()
	}
	// A logout token (typ logout+jwt) is shown as one: its own typ is
	// not a warning, and the back-channel rules are checked instead.
	want := Type
	if typeMatches(t.Header.Typ, LogoutType) {
		want = LogoutType
	}
	checkHeaderShape(&t.Header, want, &fs)
	checkClaimSet(&t.Claims, claimPolicy{now: now, leeway: 0, maxLifetime: DefaultMaxLifetime}, &fs)
	if want == LogoutType {
		checkLogoutClaims(&t.Claims, &fs)
	}
	return &Inspection{Token: t, Warnings: fs}, nil
}

// Has reports whether a warning with reason r was found.
func (in *Inspection) Has(r *Reason) bool {
	for _, w := range in.Warnings {
		if w.Reason == r {
			return true
		}
	}
	return false
}
