package chain

import (
	"fmt"
	"net"
	"net/url"
	"time"
)

// Defaults for values a chain file may leave out.
const (
	DefaultTokenTTL  = 30 * time.Second // DESIGN §4: handoff tokens live ≤ 30 s
	DefaultLeeway    = 5 * time.Second
	DefaultCookieTTL = 8 * time.Hour // a working day
	// HardMaxTokenTTL is the most max_ttl may be raised to: a handoff token
	// that lives longer is a bearer credential, not a handoff.
	HardMaxTokenTTL = 5 * time.Minute
)

// applyDefaults fills every value the file left out. It is the only place
// defaults are set; given reports whether the file set a field (so an
// explicit "leeway: 0s" stays 0).
func applyDefaults(c *Chain, given func(path string) bool) {
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
		if !r.SharedCookie && r.Name != "" {
			defaultCookie(&r.Cookie, r.Name, given(fmt.Sprintf("receivers[%d].cookie.ttl", i)))
		}
	}
	if c.Store.Memory == nil && c.Store.Redis == nil {
		c.Store.Memory = &MemoryStore{}
	}
	if c.Dev {
		// Dev chains listen on loopback at the URL's port, so a laptop never
		// serves the chain to its network by accident.
		defaultListen(&c.Issuer.Listen, c.Issuer.URL)
		for i := range c.Receivers {
			defaultListen(&c.Receivers[i].Listen, c.Receivers[i].URL)
		}
		if c.IdP.Kind == IdPDev {
			defaultListen(&c.IdP.Listen, c.IdP.PublicURL)
		}
	}
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

// defaultListen sets listen to 127.0.0.1:<port> when rawURL names a port.
func defaultListen(listen *string, rawURL string) {
	if *listen != "" {
		return
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Port() == "" {
		return
	}
	*listen = net.JoinHostPort("127.0.0.1", u.Port())
}
