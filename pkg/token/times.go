package token

import (
	"fmt"
	"strings"
	"time"
)

// timePolicy is what exp, iat, nbf and the lifetime are checked against,
// with the words that differ between handoffs and OIDC tokens.
type timePolicy struct {
	now         time.Time
	leeway      time.Duration
	maxLifetime time.Duration // 0: no limit
	noun        string        // what must expire: "handoff", "ID token"
	iatMissing  string        // the detail for a missing iat
	clock       string        // whose clock an iat in the future blames
}

// checkTimes adds the failures of the time claims to fs, in the order exp,
// iat, nbf, lifetime. missing reports an absent claim unless it was
// already reported as mistyped.
func checkTimes(c *Claims, p timePolicy, missing func(name string, r *Reason, detail string), fs *failures) {
	now, leeway := p.now, p.leeway
	switch {
	case c.Expiry.IsZero():
		missing("exp", ErrExpMissing, fmt.Sprintf("no exp claim; every %s must expire", p.noun))
	case !now.Before(c.Expiry.Add(leeway)): // RFC 7519 §4.1.4: now must be before exp
		fs.add(ErrExpired, fmt.Sprintf("expired %s ago at %s (leeway %s)", roundAgo(now.Sub(c.Expiry.Time)), c.Expiry.UTC().Format(time.RFC3339), leeway))
	}
	switch {
	case c.IssuedAt.IsZero():
		missing("iat", ErrIatMissing, p.iatMissing)
	case c.IssuedAt.After(now.Add(leeway)):
		fs.add(ErrIssuedInFuture, fmt.Sprintf("iat is %s in the future (leeway %s); check the %s's clock", roundAgo(c.IssuedAt.Sub(now)), leeway, p.clock))
	}
	if !c.NotBefore.IsZero() && c.NotBefore.After(now.Add(leeway)) {
		fs.add(ErrNotYetValid, fmt.Sprintf("nbf is %s in the future (leeway %s)", roundAgo(c.NotBefore.Sub(now)), leeway))
	}
	if !c.Expiry.IsZero() && !c.IssuedAt.IsZero() {
		switch life := c.Lifetime(); {
		case life <= 0:
			fs.add(ErrLifetimeInvalid, fmt.Sprintf("exp %s is not after iat %s", c.Expiry.UTC().Format(time.RFC3339), c.IssuedAt.UTC().Format(time.RFC3339)))
		case p.maxLifetime > 0 && life > p.maxLifetime:
			fs.add(ErrLifetimeTooLong, fmt.Sprintf("lifetime is %s; at most %s is accepted", FormatLifetime(life), FormatSetting(p.maxLifetime)))
		}
	}
}

// FormatSetting renders a duration the way a chain file or a flag writes
// it: "72h", "1h30m", "2m", "30s" (time.Duration's form without its
// trailing zero units). Limits in messages use it, so they point at the
// setting.
func FormatSetting(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
