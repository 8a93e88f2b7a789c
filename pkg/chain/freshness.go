package chain

import "time"

// MinMaxAuthAge and MaxMaxAuthAge bound receivers[].max_auth_age: under a
// minute the user could not finish a login and a walk before it ran out
// again; over 30 days it asks for nothing a session's own lifetime does not.
const (
	MinMaxAuthAge = time.Minute
	MaxMaxAuthAge = 30 * 24 * time.Hour
)

// maxAuthAge checks how old a receiver lets a session's IdP login be. Left
// out (zero and not given) means any age.
func (v *validator) maxAuthAge(path string, d time.Duration) {
	switch {
	case v.bad[path]:
	case d == 0 && !v.given(path):
	case d < MinMaxAuthAge:
		v.errorf(path, "use "+fmtDuration(MinMaxAuthAge)+" or more, or leave it out to accept a login of any age", "%s %s is under %s: a user could not log in and reach the receiver before the login is too old again", path, fmtDuration(d), fmtDuration(MinMaxAuthAge))
	case d > MaxMaxAuthAge:
		v.errorf(path, "use "+fmtDuration(MaxMaxAuthAge)+" (30 days) or less, or leave it out to accept a login of any age", "%s %s is over %s", path, fmtDuration(d), fmtDuration(MaxMaxAuthAge))
	case v.c.IdP.AdminURL == "" && !v.badUnder("idp"):
		// Without the admin API the receiver cannot look the session up,
		// so it never learns authenticated_at and could only refuse.
		v.errorf(path, "add idp.admin_url, or remove max_auth_age", "%s needs idp.admin_url: a receiver reads the session's authenticated_at through the IdP's admin API", path)
	}
}
