package chain

import (
	"fmt"
	"net"
	"net/url"
	"time"

	"golang.org/x/net/publicsuffix"
)

// Defaults for values a chain file may leave out.
const (
	DefaultTokenTTL  = 30 * time.Second // DESIGN §4: handoff tokens live ≤ 30 s
	DefaultLeeway    = 5 * time.Second
	DefaultCookieTTL = 8 * time.Hour // a working day
	// HardMaxTokenTTL is the most max_ttl may be raised to: a handoff token
	// that lives longer is a bearer credential, not a handoff.
	HardMaxTokenTTL = 5 * time.Minute
	// DefaultRecheckInterval is how long a receiver trusts its cookie before
	// asking the IdP again. Back-channel logout revokes at once; the
	// re-check catches a session the IdP ended some other way.
	DefaultRecheckInterval = time.Minute
	// MinRecheckInterval and MaxRecheckInterval bound recheck_interval:
	// below a second every request becomes an IdP call; above an hour a
	// session the IdP ended stays good at the receiver too long.
	MinRecheckInterval = time.Second
	MaxRecheckInterval = time.Hour
)

// applyDefaults fills every value the file left out. It is the only place
// defaults are set; given reports whether the file set a field (so an
// explicit "leeway: 0s" stays 0). It returns the listen addresses it
// defaulted, each with the URL field its port came from, so that a
// collision can say so.
func applyDefaults(c *Chain, given func(path string) bool) (listenFrom map[string]string) {
	if c.Mode == "" {
		c.Mode = ModeHub
	}
	t := &c.Token
	if t.Alg == "" {
		t.Alg = HS256
	}
	if !given("token.ttl") {
		t.TTL = DefaultTokenTTL
	}
	if !given("token.max_ttl") {
		// Raising ttl does not raise the receivers' limit: that takes an
		// explicit max_ttl, so a longer lifetime is always a decision.
		t.MaxTTL = DefaultTokenTTL
	}
	if !given("token.leeway") {
		t.Leeway = min(DefaultLeeway, t.TTL)
	}
	if t.Transport == "" {
		t.Transport = TransportQuery
	}
	defaultCookie(&c.Issuer.Cookie, "issuer", given("issuer.cookie.ttl"))
	for i := range c.Receivers {
		r := &c.Receivers[i]
		if r.SharedCookie {
			continue
		}
		if r.Name != "" {
			defaultCookie(&r.Cookie, r.Name, given(fmt.Sprintf("receivers[%d].cookie.ttl", i)))
		}
		if !given(fmt.Sprintf("receivers[%d].recheck_interval", i)) {
			r.RecheckInterval = DefaultRecheckInterval
		}
	}
	if c.Store.Memory == nil && c.Store.Redis == nil {
		c.Store.Memory = &MemoryStore{}
	}
	if c.IdP.Kind == IdPDev && c.IdP.CookieDomain == "" {
		c.IdP.CookieDomain = devIdPCookieDomain(c.IdP.PublicURL, c.Issuer.URL)
	}
	listenFrom = map[string]string{}
	if c.Dev {
		// Dev chains listen on loopback at the URL's port, so a laptop never
		// serves the chain to its network by accident.
		listen := func(path string, addr *string, urlPath, rawURL string) {
			if defaultListen(addr, rawURL) {
				listenFrom[path] = urlPath
			}
		}
		listen("issuer.listen", &c.Issuer.Listen, "issuer.url", c.Issuer.URL)
		for i := range c.Receivers {
			// ssoctl does not serve shared-cookie receivers: the app behind
			// one reads the issuer's parent-domain cookie itself.
			if !c.Receivers[i].SharedCookie {
				base := fmt.Sprintf("receivers[%d]", i)
				listen(base+".listen", &c.Receivers[i].Listen, base+".url", c.Receivers[i].URL)
			}
		}
		if c.IdP.Kind == IdPDev {
			listen("idp.listen", &c.IdP.Listen, "idp.public_url", c.IdP.PublicURL)
			if c.IdP.AdminURL != "" && !adminOnPublic(c.IdP) {
				listen("idp.admin_listen", &c.IdP.AdminListen, "idp.admin_url", c.IdP.AdminURL)
			}
		}
	}
	return listenFrom
}

// defaultCookie names a role's cookie "<role>_session" and gives it a
// working day's lifetime.
func defaultCookie(ck *Cookie, role string, ttlGiven bool) {
	if ck.Name == "" {
		ck.Name = role + "_session"
	}
	if !ttlGiven {
		ck.TTL = DefaultCookieTTL
	}
}

// defaultListen sets listen to 127.0.0.1:<port> when it is empty and rawURL
// names a port, and reports whether it did.
func defaultListen(listen *string, rawURL string) bool {
	if *listen != "" {
		return false
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Port() == "" {
		return false
	}
	*listen = net.JoinHostPort("127.0.0.1", u.Port())
	return true
}

// adminOnPublic reports whether the dev IdP's admin_url has its public_url's
// origin, so that the admin API is served on the public listener.
func adminOnPublic(p IdP) bool {
	pub, err1 := parseAbsolute(p.PublicURL, false)
	adm, err2 := parseAbsolute(p.AdminURL, false)
	return err1 == nil && err2 == nil && pub.origin() == adm.origin()
}

// devIdPCookieDomain is the dev IdP's default cookie domain: the registrable
// domain of its host (RFC 6265 cookies cannot go wider), when the issuer's
// host is under it. Otherwise "": validation then says why the issuer can
// never see the IdP's session.
func devIdPCookieDomain(publicURL, issuerURL string) string {
	idp, err1 := parseAbsolute(publicURL, false)
	iss, err2 := parseAbsolute(issuerURL, false)
	if err1 != nil || err2 != nil || hostIsIP(idp.host) {
		return ""
	}
	d, err := publicsuffix.EffectiveTLDPlusOne(idp.host)
	if err != nil || !domainMatch(iss.host, d) {
		return ""
	}
	return d
}
