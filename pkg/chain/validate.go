package chain

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/ssoctl/ssoctl/pkg/token"
)

// validator checks a decoded, defaulted chain and places each problem at the
// key or value it is about.
type validator struct {
	c        *Chain
	pos      map[string]position
	bad      map[string]bool
	problems []Problem
	allow    *Allowlist // nil when a pattern is bad
	// listenFrom maps each listen address applyDefaults filled in to the
	// URL field whose port it took.
	listenFrom map[string]string
}

// given reports whether the file set path to a value of the right shape.
func (v *validator) given(path string) bool {
	p, ok := v.pos[path]
	return ok && !p.null && !v.bad[path]
}

// at returns the position of path's value, or, for a field the file left
// out, of the nearest key above it.
func (v *validator) at(path string) (line, col int) {
	if p, ok := v.pos[path]; ok {
		return p.line, p.col
	}
	for path != "" {
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			path = ""
		} else {
			path = path[:i]
		}
		if p, ok := v.pos[path]; ok {
			return p.keyLine, p.keyCol
		}
	}
	return 1, 1
}

func (v *validator) add(sev Severity, path, fix, format string, args ...any) {
	v.addAt(path, sev, path, fix, format, args...)
}

// addAt reports a problem about path placed at where, for a field the file
// does not hold but another field set (a listen defaulted from a URL).
func (v *validator) addAt(where string, sev Severity, path, fix, format string, args ...any) {
	line, col := v.at(where)
	v.problems = append(v.problems, Problem{Line: line, Col: col, Path: path, Message: fmt.Sprintf(format, args...), Fix: fix, Severity: sev})
}

func (v *validator) errorf(path, fix, format string, args ...any) {
	v.add(SeverityError, path, fix, format, args...)
}

func (v *validator) warnf(path, fix, format string, args ...any) {
	v.add(SeverityWarning, path, fix, format, args...)
}

// badUnder reports whether path or a field above it had the wrong shape or
// a misspelt key, which has been reported already.
func (v *validator) badUnder(path string) bool {
	for {
		if v.bad[path] {
			return true
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return false
		}
		path = path[:i]
	}
}

// missing reports a required field, unless it was there with the wrong
// shape or under a misspelt key (already reported).
func (v *validator) missing(path, fix string) {
	if v.badUnder(path) {
		return
	}
	if p, ok := v.pos[path]; ok && !p.null {
		v.errorf(path, fix, "%s is empty", path)
		return
	}
	v.errorf(path, fix, "%s is missing", path)
}

func (v *validator) validate() {
	c := v.c
	if v.bad["dev"] {
		// The dev error is reported; checking the rest as a dev chain keeps
		// it from echoing as an http or inline-secret error on every URL.
		c.Dev = true
	}
	v.version()
	v.name()
	idp, idpOK := v.idp()
	issuer, issuerOK := v.originURL("issuer.url", &c.Issuer.URL, "add issuer.url, the accounts app's origin, like https://accounts.company.com")
	v.idpCookieDomain(idp, idpOK, issuer, issuerOK)
	v.listen("issuer.listen", c.Issuer.Listen)
	v.cookie("issuer.cookie", &c.Issuer.Cookie, issuer, issuerOK)
	v.token()
	v.mode()
	receivers := v.receivers(issuerOK)
	v.redirectRun(receivers)
	v.cookieSecrets()
	v.previousSecrets("issuer.cookie.secret", c.Issuer.Cookie.Secret, c.Issuer.Cookie.PreviousSecrets, "a cookie key")
	for i, r := range c.Receivers {
		v.previousSecrets(fmt.Sprintf("receivers[%d].cookie.secret", i), r.Cookie.Secret, r.Cookie.PreviousSecrets, "a cookie key")
	}
	v.collisions(issuer, issuerOK, receivers)
	v.returnTo(issuer, issuerOK, receivers)
	v.store()
	v.expect()
	v.faults()
	v.apps() // apps.go
}

func (v *validator) version() {
	switch {
	case !v.given("version"):
		v.missing("version", "add version: 1 as the first line")
	case v.c.Version != Version:
		v.errorf("version", "this ssoctl reads version: 1", "unsupported chain file version %d", v.c.Version)
	}
}

var chainNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`) })

func (v *validator) name() {
	switch {
	case !v.given("name") || v.c.Name == "":
		v.missing("name", "add name: <chain name>; it tags every log line and metric")
	case !chainNameRE().MatchString(v.c.Name):
		v.errorf("name", "use letters, digits, '.', '_' or '-', at most 63 characters", "name %s is not one word", quote(v.c.Name))
	}
}

// Rules for the kinds of URL a chain file holds.
type urlRule int

const (
	originOnly  urlRule = iota // a role ssoctl serves: scheme://host[:port]
	withPath                   // an external endpoint: a path prefix is fine
	withPathAny                // like withPath, and http is only a warning (internal admin APIs)
	upstream                   // like withPath; http is fine on loopback, a warning elsewhere outside dev
)

// originURL checks a role URL and rewrites it in canonical form.
func (v *validator) originURL(path string, raw *string, fixMissing string) (urlParts, bool) {
	return v.checkURL(path, raw, originOnly, fixMissing)
}

func (v *validator) checkURL(path string, raw *string, rule urlRule, fixMissing string) (urlParts, bool) {
	if *raw == "" {
		if fixMissing != "" {
			v.missing(path, fixMissing)
		}
		return urlParts{}, false
	}
	parts, err := parseAbsolute(*raw, false)
	if err != nil {
		// The value is not repeated: it may hold a password (user:pass@).
		fix := "write an absolute URL like https://host.example.com"
		if errors.Is(err, ErrUserinfo) {
			fix = "remove the user:password@ part; secrets go in {env: NAME} or {file: PATH}"
		}
		v.errorf(path, fix, "%s is not a usable URL: %v", path, err)
		return parts, false
	}
	if parts.scheme == "http" && !v.c.Dev {
		switch {
		case rule == upstream && loopbackHost(parts.host):
		case rule == upstream:
			v.warnf(path, "use https, or run the app on the receiver's host (127.0.0.1) or a private network", "%s uses http: the identity headers and the app's traffic cross the network in clear", path)
		case rule == withPathAny:
			v.warnf(path, "use https, or keep the admin API on a private network", "%s uses http: the admin API carries session ids in clear", path)
		default:
			v.errorf(path, "use https, or set dev: true for local development", "%s %s uses http, which only dev chains may", path, parts.origin())
			return parts, false
		}
	}
	switch {
	case strings.Contains(parts.rest, "?"):
		v.errorf(path, "remove the query", "%s must not have a query", path)
		return parts, false
	case strings.Contains(parts.rest, "#"):
		v.errorf(path, "remove the fragment", "%s must not have a fragment", path)
		return parts, false
	case rule == originOnly && parts.rest != "" && parts.rest != "/":
		v.errorf(path, "remove the path: ssoctl serves each role's endpoints at the root of its origin", "%s must be an origin (scheme://host[:port]), got path %s", path, quote(parts.rest))
		return parts, false
	}
	if err := checkPath(parts.rest); err != nil {
		v.errorf(path, "write the path without dot segments or escaped slashes", "%s: %v", path, err)
		return parts, false
	}
	*raw = parts.origin() + strings.TrimSuffix(parts.rest, "/")
	return parts, true
}

// listen checks a host:port listen address.
func (v *validator) listen(path, addr string) {
	if addr == "" {
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.errorf(path, "write it like 127.0.0.1:8080 or :8080", "%s %s is not host:port", path, quote(addr))
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strings.Trim(port, "0123456789") != "" {
		v.errorf(path, "use a port from 1 to 65535", "%s port %s is not a port number", path, quote(port))
		return
	}
	if host == "" {
		return
	}
	if _, err := netip.ParseAddr(host); err == nil {
		if strings.Contains(host, "%") {
			v.errorf(path, "listen on the address without a zone", "%s has an IPv6 zone", path)
		}
		return
	}
	if _, err := canonicalHost(host); err != nil {
		v.errorf(path, "use an IP address, localhost, or a host name", "%s host: %v", path, err)
	}
}

// cookieNameRE is an RFC 6265 §4.1.1 cookie-name (an RFC 2616 token).
var cookieNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile("^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$") })

// cookie checks a role's cookie against its host (roleOK false when the
// role URL was bad, so only the host-independent checks run).
func (v *validator) cookie(path string, ck *Cookie, role urlParts, roleOK bool) {
	name := path + ".name"
	switch {
	case ck.Name == "":
		// Only when the role's name is missing too, which is reported.
	case !cookieNameRE().MatchString(ck.Name):
		v.errorf(name, "use letters, digits, '_' or '-'", "%s %s has characters cookies do not allow (RFC 6265 §4.1.1)", name, quote(ck.Name))
	case strings.HasPrefix(ck.Name, "__Host-") && ck.Domain != "":
		v.errorf(path+".domain", "remove domain, or drop the __Host- prefix", "%s: a __Host- cookie must be host-only, so it cannot have a domain", path)
	}
	v.secret(path+".secret", &ck.Secret)
	if ck.Secret.hasInline && len(ck.Secret.inline) < token.MinHMACSecret && v.c.Dev {
		v.errorf(path+".secret", "use at least 32 random bytes", "%s.secret is %d bytes; a cookie key needs at least 32", path, len(ck.Secret.inline))
	}
	ttl := path + ".ttl"
	if v.given(ttl) && ck.TTL == 0 {
		v.errorf(ttl, "leave ttl out for the default 8h", "%s must be more than 0", ttl)
	} else if ck.TTL%time.Second != 0 {
		v.errorf(ttl, "round it to whole seconds", "%s %s is not whole seconds; Max-Age counts seconds", ttl, fmtDuration(ck.TTL))
	}
	if ck.Domain == "" {
		return
	}
	dpath := path + ".domain"
	d, err := canonicalHost(strings.TrimPrefix(ck.Domain, "."))
	if err != nil {
		v.errorf(dpath, "write a domain like company.com", "%s %s: %v", dpath, quote(ck.Domain), err)
		return
	}
	ck.Domain = d
	if hostIsIP(d) {
		v.errorf(dpath, "remove domain: cookies on an IP address are host-only", "%s %q is an IP address", dpath, d)
		return
	}
	if isPublicSuffix(d) {
		v.errorf(dpath, "use the registrable domain, like company."+d+", or leave domain out for a host-only cookie", "%s %q is a public suffix; browsers refuse cookies for it", dpath, d)
		return
	}
	if roleOK && !domainMatch(role.host, d) {
		v.errorf(dpath, fmt.Sprintf("use %q or one of its parent domains", role.host), "%s %q does not domain-match the role's host %q (RFC 6265 §5.1.3); browsers ignore the cookie", dpath, d, role.host)
	}
}

var envNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`) })

// secret checks a secret reference; inline values are allowed only with
// dev: true and dropped otherwise. Messages never show what the field
// holds: not the value, and not an env "name" that fails the name rule,
// which is most often the value pasted where the name goes.
func (v *validator) secret(path string, s *SecretRef) {
	switch {
	case s.hasInline && !v.c.Dev:
		s.forgetInline()
		v.errorf(path, "use {env: NAME} or {file: PATH}", "%s is written inline; inline secrets need dev: true", path)
	case s.hasInline:
	case s.Env != "" && s.File != "":
		v.errorf(path, "keep one of them", "%s has both env and file", path)
	case s.Env != "" && !envNameRE().MatchString(s.Env):
		v.errorf(path+".env", envNameFix("SSO_SECRET", "the secret"), "%s.env is not an environment variable name", path)
	case s.Env == "" && s.File == "" && v.given(path):
		// given is false when the decoder reported the field already
		// (secret: {valu: x}), so one typo is one problem.
		v.errorf(path, "set env: NAME or file: PATH", "%s names no source", path)
	}
}

// reported reports whether an error about path has been reported.
func (v *validator) reported(path string) bool {
	return slices.ContainsFunc(v.problems, func(p Problem) bool { return p.Path == path && p.Severity == SeverityError })
}

// previousSecrets checks the previous_secrets beside the secret at
// secretPath (current): each is written like it and is another source,
// and there is a current secret for new values. what names the key in a
// length message ("HS256", "a cookie key").
func (v *validator) previousSecrets(secretPath string, current SecretRef, prev []SecretRef, what string) {
	if len(prev) == 0 {
		return
	}
	path := strings.TrimSuffix(secretPath, "secret") + "previous_secrets"
	if len(prev) > MaxPreviousSecrets {
		v.errorf(path, fmt.Sprintf("keep at most %d: a rotation needs only the key being retired", MaxPreviousSecrets), "%s lists %d secrets", path, len(prev))
	}
	if current.IsZero() && !v.badUnder(secretPath) && !v.reported(secretPath) {
		v.errorf(path, "set "+secretPath+" to the new key, and list the old one here", "%s needs %s: previous secrets only open what they sealed before; the current one seals and signs", path, secretPath)
	}
	sources := map[string]string{}
	if src := current.source(); src != "" {
		sources[src] = secretPath
	}
	for i := range prev {
		p := fmt.Sprintf("%s[%d]", path, i)
		s := &prev[i]
		v.secret(p, s)
		switch {
		case v.badUnder(p):
		case s.IsZero() && !v.given(p): // secret() reports a given one
			v.errorf(p, "set env: NAME or file: PATH", "%s names no source", p)
		case s.hasInline && len(s.inline) < token.MinHMACSecret && v.c.Dev:
			v.errorf(p, "use at least 32 random bytes", "%s is %d bytes; %s needs at least 32", p, len(s.inline), what)
		}
		if src := s.source(); src != "" {
			if first, dup := sources[src]; dup {
				v.errorf(p, "list each retired key once, and never the current one", "%s names the same source as %s", p, first)
			} else {
				sources[src] = p
			}
		}
	}
}

// envNameFix says what an environment variable name looks like, for a
// field that holds one.
func envNameFix(example, what string) string {
	return "write the variable's name, like " + example + ": letters, digits and '_', not starting with a digit; " + what + " itself goes in the variable"
}

// idp checks the identity provider block and returns the public URL of a
// dev IdP or Kratos, whose session cookie the issuer must receive.
func (v *validator) idp() (public urlParts, publicOK bool) {
	c, p := v.c, &v.c.IdP
	switch p.Kind {
	case "":
		if !v.bad["idp.kind"] {
			v.missing("idp.kind", "set idp.kind: dev, kratos or oidc")
		}
		return
	case IdPDev, IdPKratos, IdPOIDC:
	default:
		fix := "use dev, kratos or oidc"
		for _, k := range []IdPKind{IdPDev, IdPKratos, IdPOIDC} {
			if strings.EqualFold(string(k), string(p.Kind)) {
				fix = fmt.Sprintf("did you mean %s? Kinds are lower case", k)
			}
		}
		v.errorf("idp.kind", fix, "idp.kind %s is not supported", quote(string(p.Kind)))
		return
	}
	notFor := func(path, fix string, set bool) {
		if set {
			v.errorf(path, fix, "%s does not apply to idp.kind %s", path, p.Kind)
		}
	}
	switch p.Kind {
	case IdPDev:
		public, publicOK = v.originURL("idp.public_url", &p.PublicURL, "add idp.public_url, where the dev IdP serves, like http://auth.company.localhost:4433")
		_, adminOK := v.checkURL("idp.admin_url", &p.AdminURL, withPathAny, "")
		v.listen("idp.listen", p.Listen)
		v.listen("idp.admin_listen", p.AdminListen)
		switch {
		case p.AdminListen == "":
		case p.AdminURL == "" && !v.badUnder("idp.admin_url"):
			v.errorf("idp.admin_listen", "add idp.admin_url, where the roles reach the admin API, or remove admin_listen", "idp.admin_listen needs idp.admin_url")
		case adminOK && publicOK && adminOnPublic(*p):
			v.errorf("idp.admin_listen", "remove admin_listen, or give idp.admin_url a port of its own", "idp.admin_listen does not apply: idp.admin_url has idp.public_url's origin, so the dev IdP serves its admin API on idp.listen")
		}
		if !c.Dev {
			v.warnf("idp.kind", "use kind: kratos or oidc in production, or set dev: true", "the dev IdP keeps its users in the chain file; it is meant for development")
		}
		if len(p.Users) == 0 {
			v.missing("idp.users", "add at least one user, like {email: alice@example.com, password: wonderland}")
		}
		v.users()
	case IdPKratos:
		public, publicOK = v.checkURL("idp.public_url", &p.PublicURL, withPath, "add idp.public_url, Kratos's public API, like https://auth.company.com")
		v.checkURL("idp.admin_url", &p.AdminURL, withPathAny, "")
		notFor("idp.users", "create the users in Kratos", len(p.Users) > 0)
		notFor("idp.listen", "remove it; ssoctl does not run Kratos", p.Listen != "")
		notFor("idp.admin_listen", "remove it; ssoctl does not run Kratos", p.AdminListen != "")
	case IdPOIDC:
		v.checkURL("idp.public_url", &p.PublicURL, withPath, "add idp.public_url, the provider's issuer URL (discovery starts there)")
		notFor("idp.admin_url", "remove it; OpenID providers have no Kratos admin API", p.AdminURL != "")
		v.hydraLogin()
		notFor("idp.listen", "remove it; ssoctl does not run the provider", p.Listen != "")
		notFor("idp.admin_listen", "remove it; ssoctl does not run the provider", p.AdminListen != "")
		notFor("idp.cookie_domain", "remove it; the issuer keeps its own session with an OpenID provider", p.CookieDomain != "")
		if p.ClientID == "" {
			v.missing("idp.client_id", "add the client id the provider issued for the issuer")
		}
		v.secret("idp.client_secret", &p.ClientSecret)
		if len(p.Scopes) > 0 && !slices.Contains(p.Scopes, "openid") {
			v.errorf("idp.scopes", "add openid to idp.scopes", "idp.scopes %q lacks openid: without it the provider returns no ID token", p.Scopes)
		}
	}
	if p.Kind != IdPOIDC {
		notFor("idp.hydra_login", "remove it", p.HydraLogin != nil)
		notFor("idp.client_id", "remove it", p.ClientID != "")
		notFor("idp.client_secret", "remove it", !p.ClientSecret.IsZero())
		notFor("idp.scopes", "remove it", len(p.Scopes) > 0)
	}
	return public, publicOK
}

// hydraLogin checks an OIDC chain's idp.hydra_login: development only,
// with the users it signs in; without it the provider has the users.
func (v *validator) hydraLogin() {
	p := &v.c.IdP
	h := p.HydraLogin
	if h == nil {
		if len(p.Users) > 0 {
			v.errorf("idp.users", "create the users at the provider, or add idp.hydra_login to have ssoctl sign them in for Ory Hydra", "idp.users does not apply to idp.kind oidc without idp.hydra_login")
		}
		return
	}
	if !v.c.Dev {
		v.errorf("idp.hydra_login", "set dev: true, or remove hydra_login and run a login provider of your own", "idp.hydra_login is for development chains: its users and passwords live in the chain file")
	}
	v.originURL("idp.hydra_login.url", &h.URL, "add idp.hydra_login.url, where browsers reach the login pages, like http://127.0.0.1:4455")
	v.checkURL("idp.hydra_login.admin_url", &h.AdminURL, withPathAny, "add idp.hydra_login.admin_url, Hydra's admin API, like http://127.0.0.1:4445")
	v.listen("idp.hydra_login.listen", h.Listen)
	if len(p.Users) == 0 {
		v.missing("idp.users", "add at least one user for the login pages, like {email: alice@example.com, password: wonderland}")
	}
	v.users()
}

// idpCookieDomain checks that the IdP's session cookie reaches the issuer,
// which asks the IdP who the user is with that cookie (whoami). The cookie
// goes to the issuer when its Domain domain-matches the issuer's host, or,
// host-only, when both share one host (cookies ignore ports).
func (v *validator) idpCookieDomain(idp urlParts, idpOK bool, issuer urlParts, issuerOK bool) {
	p := &v.c.IdP
	const path = "idp.cookie_domain"
	if p.Kind != IdPDev && p.Kind != IdPKratos {
		return
	}
	if p.CookieDomain == "" {
		// Kratos: lint does not know session.cookie.domain unless told.
		// Dev: no default was possible; say why.
		if p.Kind == IdPDev && idpOK && issuerOK && idp.host != issuer.host {
			v.devIdPUnreachable(idp, issuer)
		}
		return
	}
	d, err := canonicalHost(strings.TrimPrefix(p.CookieDomain, "."))
	if err != nil {
		v.errorf(path, "write a domain like company.com", "%s %s: %v", path, quote(p.CookieDomain), err)
		return
	}
	p.CookieDomain = d
	shared := "the registrable domain the IdP and the issuer share, like company.com"
	if idpOK && !hostIsIP(idp.host) {
		if rd, err := publicsuffix.EffectiveTLDPlusOne(idp.host); err == nil {
			shared = rd
		}
	}
	switch {
	case hostIsIP(d):
		v.errorf(path, "remove it, and serve the IdP and the issuer on one host: a cookie on an IP address is host-only", "%s %q is an IP address", path, d)
	case isPublicSuffix(d):
		v.errorf(path, "use "+shared, "%s %q is a public suffix; browsers refuse cookies for it", path, d)
	case idpOK && !domainMatch(idp.host, d):
		v.errorf(path, "use "+shared+", a parent domain of the IdP's host", "%s %q does not domain-match the IdP's host %q (RFC 6265 §5.1.3), so browsers refuse the IdP's cookie", path, d, idp.host)
	case issuerOK && !domainMatch(issuer.host, d) && v.c.IssuerFaults().LoopOnCallback:
		// The one chain that wants this: it shows the redirect loop such a
		// cookie makes once the issuer misbehaves (examples/broken).
		v.warnf(path, "use a parent domain of both hosts, like "+shared, "%s %q does not domain-match the issuer's host %q (RFC 6265 §5.1.3): the issuer never receives the IdP's session cookie, and faults.issuer.loop_on_callback turns that into a redirect loop", path, d, issuer.host)
	case issuerOK && !domainMatch(issuer.host, d):
		v.errorf(path, "use a parent domain of both hosts, like "+shared, "%s %q does not domain-match the issuer's host %q (RFC 6265 §5.1.3): the issuer never receives the IdP's session cookie", path, d, issuer.host)
	}
}

// devIdPUnreachable reports a dev IdP whose session cookie can never reach
// the issuer: the issuer is not under the IdP's registrable domain, the
// widest Domain the IdP can set a cookie on.
func (v *validator) devIdPUnreachable(idp, issuer urlParts) {
	fix := "put the IdP and the issuer under one registrable domain, like auth.company.localhost and accounts.company.localhost (each name.localhost is a registrable domain of its own)"
	rd, err := publicsuffix.EffectiveTLDPlusOne(idp.host)
	if hostIsIP(idp.host) || err != nil {
		v.errorf("idp.public_url", fix, "the dev IdP's host %q has no registrable domain, so its session cookie is host-only and never reaches the issuer at %q, which logs users in with it", idp.host, issuer.host)
		return
	}
	v.errorf("idp.public_url", fix, "the issuer's host %q is not under the dev IdP's registrable domain %q, so the IdP's session cookie never reaches the issuer, which logs users in with it", issuer.host, rd)
}

// isPublicSuffix reports whether d is on the public suffix list (or is a
// single label such as localhost, which the list's default rule covers).
func isPublicSuffix(d string) bool {
	ps, _ := publicsuffix.PublicSuffix(d)
	return ps == d
}

func (v *validator) users() {
	seen := map[string]int{}
	for i := range v.c.IdP.Users {
		u := &v.c.IdP.Users[i]
		base := fmt.Sprintf("idp.users[%d]", i)
		if u.Email == "" {
			v.missing(base+".email", "add email: name@example.com")
		} else if a, err := mail.ParseAddress(u.Email); err != nil || a.Address != u.Email || a.Name != "" {
			v.errorf(base+".email", "write a bare address like alice@example.com", "%s.email %s is not an email address", base, quote(u.Email))
		} else if first, dup := seen[strings.ToLower(u.Email)]; dup {
			v.errorf(base+".email", "give each user their own address", "%s.email %s is already used by idp.users[%d]", base, quote(u.Email), first)
		} else {
			seen[strings.ToLower(u.Email)] = i
		}
		if u.Password.IsZero() && !v.given(base+".password") {
			v.missing(base+".password", "add password: {env: NAME}, or an inline password with dev: true")
		}
		v.secret(base+".password", &u.Password)
		if _, ok := u.Traits["role"]; ok && u.Role != "" {
			v.errorf(base+".role", "keep one of them", "%s sets role both as role and as traits.role", base)
		} else if ok {
			v.warnf(base+".traits", "write role: "+fmt.Sprint(u.Traits["role"])+" beside email instead", "%s.traits.role gives no role: the role is metadata_public.role, which users cannot edit, and traits they can", base)
		}
		// The dev IdP serves both as JSON, as Kratos does.
		for _, f := range []struct {
			key string
			m   map[string]any
		}{{"traits", u.Traits}, {"metadata_admin", u.MetadataAdmin}} {
			if _, err := json.Marshal(f.m); err != nil {
				v.errorf(base+"."+f.key, "use strings, finite numbers, booleans, lists and maps with string keys", "%s.%s is not JSON: %v", base, f.key, err)
			}
		}
	}
}

func (v *validator) token() {
	t, path := &v.c.Token, "token"
	algOK := true
	switch t.Alg {
	case HS256, EdDSA, ES256, RS256:
	default:
		algOK = false
		fix := "use HS256, EdDSA, ES256 or RS256"
		for _, a := range token.Algorithms {
			if strings.EqualFold(string(a), string(t.Alg)) {
				fix = fmt.Sprintf("did you mean %s? Algorithm names are case-sensitive", a)
			}
		}
		if strings.EqualFold(string(t.Alg), "none") {
			fix = "unsigned tokens are never accepted (RFC 8725 §3.1); use HS256, EdDSA, ES256 or RS256"
		}
		v.errorf("token.alg", fix, "token.alg %s is not supported", quote(string(t.Alg)))
	}
	v.secret("token.secret", &t.Secret)
	switch {
	case !algOK:
	case t.Alg.Symmetric():
		defer v.previousSecrets("token.secret", t.Secret, t.PreviousSecrets, "HS256") // after token.secret's own problems
		if t.KeyFile != "" {
			v.errorf("token.key_file", "use token.secret for HS256, or pick EdDSA, ES256 or RS256", "token.key_file applies to asymmetric algorithms, not HS256")
		}
		if t.JWKSURL != "" {
			v.errorf("token.jwks_url", "use token.secret for HS256, or pick EdDSA, ES256 or RS256", "token.jwks_url applies to asymmetric algorithms, not HS256")
		}
		switch {
		case v.given("token.secret"):
			// secret() above has checked what was written.
			if t.Secret.hasInline && len(t.Secret.inline) < token.MinHMACSecret && v.c.Dev {
				v.errorf("token.secret", "use at least 32 random bytes", "token.secret is %d bytes; HS256 needs at least 32 (RFC 7518 §3.2)", len(t.Secret.inline))
			}
		case v.badUnder("token.secret"):
		case !v.c.Dev:
			v.missing("token.secret", "set secret: {env: NAME} or {file: PATH} holding at least 32 random bytes")
		default:
			v.warnf("token", "set secret: {env: SSO_SECRET} to run the roles as separate processes", "no token.secret: each process generates its own, so only a single-process sandbox can verify tokens")
		}
	default:
		if !t.Secret.IsZero() {
			v.errorf("token.secret", "remove it; "+string(t.Alg)+" uses token.key_file and token.jwks_url", "token.secret applies only to HS256")
		}
		if len(t.PreviousSecrets) > 0 {
			v.errorf("token.previous_secrets", "remove it; to rotate an "+string(t.Alg)+" key, publish the old and the new public key at token.jwks_url until the old one's tokens have expired", "token.previous_secrets applies only to HS256")
		}
		if t.KeyFile == "" && t.JWKSURL == "" {
			v.errorf(path, "set token.key_file (the issuer's private key, PEM) or token.jwks_url (where receivers fetch public keys)", "token.alg %s needs a key", t.Alg)
		}
		v.checkURL("token.jwks_url", &t.JWKSURL, withPath, "")
	}
	v.tokenLifetime()
	switch t.Transport {
	case TransportQuery, TransportFormPost:
	default:
		v.errorf("token.transport", "use query or form_post", "token.transport %s is not supported", quote(string(t.Transport)))
	}
}

func (v *validator) tokenLifetime() {
	t := &v.c.Token
	whole := func(path string, d time.Duration) bool {
		if d%time.Second != 0 {
			v.errorf(path, "round it to whole seconds", "%s %s is not whole seconds; JWT times count seconds", path, fmtDuration(d))
			return false
		}
		return true
	}
	ttlOK := whole("token.ttl", t.TTL) && !v.bad["token.ttl"]
	maxOK := whole("token.max_ttl", t.MaxTTL) && !v.bad["token.max_ttl"]
	leewayOK := whole("token.leeway", t.Leeway) && !v.bad["token.leeway"]
	switch {
	case !maxOK:
	case t.MaxTTL == 0:
		v.errorf("token.max_ttl", "leave it out for the default 30s", "token.max_ttl must be more than 0")
		maxOK = false
	case t.MaxTTL > HardMaxTokenTTL:
		v.errorf("token.max_ttl", "lower it to "+fmtDuration(HardMaxTokenTTL)+" or less", "token.max_ttl %s is over the hard limit %s", fmtDuration(t.MaxTTL), fmtDuration(HardMaxTokenTTL))
		maxOK = false
	}
	switch {
	case !ttlOK:
	case t.TTL == 0:
		v.errorf("token.ttl", "leave ttl out for the default 30s", "token.ttl must be more than 0")
		ttlOK = false
	case t.TTL > HardMaxTokenTTL:
		v.errorf("token.ttl", "keep handoff tokens short: 30s is plenty for a redirect", "token.ttl %s is over the hard limit %s", fmtDuration(t.TTL), fmtDuration(HardMaxTokenTTL))
	case !maxOK:
	case t.TTL > t.MaxTTL && v.given("token.max_ttl"):
		v.errorf("token.ttl", "lower token.ttl, or raise token.max_ttl", "token.ttl %s exceeds token.max_ttl %s", fmtDuration(t.TTL), fmtDuration(t.MaxTTL))
	case t.TTL > t.MaxTTL:
		v.errorf("token.ttl", fmt.Sprintf("lower it, or raise the receivers' limit with token.max_ttl: %s (at most %s)", fmtDuration(t.TTL), fmtDuration(HardMaxTokenTTL)), "token.ttl %s is over the default limit %s", fmtDuration(t.TTL), fmtDuration(DefaultTokenTTL))
	}
	if ttlOK && leewayOK && t.Leeway > t.TTL {
		v.errorf("token.leeway", "lower it: a leeway longer than the lifetime makes expiry meaningless", "token.leeway %s exceeds token.ttl %s", fmtDuration(t.Leeway), fmtDuration(t.TTL))
	}
}

// fmtDuration writes a duration the way a chain file would: 2m, not 2m0s.
func fmtDuration(d time.Duration) string { return token.FormatSetting(d) }

func (v *validator) mode() {
	switch v.c.Mode {
	case ModeHub:
	case ModeRelay:
		if a := v.c.Token.Alg; a != "" && !a.Symmetric() {
			v.errorf("mode", "use mode: hub with "+string(a), "relay mode needs token.alg HS256: each receiver mints the next hop's token with the shared secret")
		}
	default:
		v.errorf("mode", "use hub or relay", "mode %s is not supported", quote(string(v.c.Mode)))
	}
}

// redirectRun refuses a relay chain whose sign-in, with handoffs in the
// URL, is more redirects in a row than a browser follows: from the login
// form's POST to the last receiver's page, N+2 for N receivers that take
// a handoff (the callback, each receiver's /sso, the page), and a browser
// signed in at the IdP adds more. Chromium fails the navigation at its
// 20th redirect (maxRedirects, the walk's SSO304). A hub chain's issuer
// breaks the run itself every few receivers (serve's receiversPerRun),
// and a form_post interstitial is a page, which starts a new count.
func (v *validator) redirectRun(receivers []checkedReceiver) {
	c := v.c
	if c.Mode != ModeRelay || c.Token.Transport != TransportQuery && c.Token.Transport != "" {
		return
	}
	n := 0 // of the receivers whose URLs passed: the others have errors of their own
	for _, r := range receivers {
		if !c.Receivers[r.index].SharedCookie {
			n++
		}
	}
	if run := n + 2; run > maxRedirects {
		path := "receivers"
		if v.given("token.transport") {
			path = "token.transport"
		}
		v.errorf(path, "use mode: hub (its issuer breaks the run every few receivers) or token.transport: form_post (each interstitial page starts a new count)",
			"a sign-in through %d receivers in relay mode is %d redirects in a row with token.transport query; browsers stop at 20 (Chromium: ERR_TOO_MANY_REDIRECTS)", n, run)
	}
}

// receiverNameRE is a lower-case DNS label: the name is a token audience,
// a cookie name part and a log field, so it stays plain.
var receiverNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`) })

// checkedReceiver is a receiver whose URL passed validation.
type checkedReceiver struct {
	index int
	parts urlParts
}

func (v *validator) receivers(issuerOK bool) []checkedReceiver {
	c := v.c
	if len(c.Receivers) == 0 && !v.badUnder("receivers") {
		v.warnf("receivers", "add receivers for the other root domains", "no receivers: the chain ends at the issuer")
	}
	var out []checkedReceiver
	names := map[string]int{}
	for i := range c.Receivers {
		r := &c.Receivers[i]
		base := fmt.Sprintf("receivers[%d]", i)
		switch {
		case r.Name == "":
			v.missing(base+".name", "add name: <short name>, like portal; it is the token audience")
		case !receiverNameRE().MatchString(r.Name):
			v.errorf(base+".name", "use lower-case letters, digits and '-', like portal", "receiver name %s is not a DNS label", quote(r.Name))
		case r.Name == "issuer" || r.Name == "idp":
			v.errorf(base+".name", "pick another name", "receiver name %q is reserved for the role of that name", r.Name)
		default:
			if first, dup := names[r.Name]; dup {
				v.errorf(base+".name", "give each receiver its own name; it is the token audience", "receiver name %q is already used by receivers[%d]", r.Name, first)
			} else {
				names[r.Name] = i
			}
		}
		parts, ok := v.originURL(base+".url", &r.URL, "add url, the receiver's origin, like https://portal.company2.com")
		if r.SharedCookie {
			// ssoctl serves no endpoint for it: the app behind it reads the
			// issuer's parent-domain cookie and asks the issuer about it.
			if v.given(base + ".cookie") {
				v.errorf(base+".cookie", "remove cookie: the issuer's parent-domain cookie is its session", "a shared_cookie receiver sets no cookie of its own")
			}
			if r.Listen != "" {
				v.errorf(base+".listen", "remove listen: the app serves itself behind the issuer's parent-domain cookie", "a shared_cookie receiver has no listen: ssoctl does not serve it")
			}
			if v.given(base + ".recheck_interval") {
				v.errorf(base+".recheck_interval", "remove recheck_interval: the issuer's session cookie is its session", "a shared_cookie receiver keeps no cookie to re-check")
			}
			if v.given(base + ".max_auth_age") {
				v.errorf(base+".max_auth_age", "remove max_auth_age: ssoctl does not serve a shared_cookie receiver, so it checks nothing", "a shared_cookie receiver has no max_auth_age")
			}
			if v.given(base + ".backchannel_logout") {
				v.errorf(base+".backchannel_logout", "remove backchannel_logout: the issuer's own cookie is cleared at logout", "a shared_cookie receiver has no back-channel endpoint: ssoctl does not serve it")
			}
			v.sharedCookie(base, parts, ok && issuerOK)
			if r.Upstream != "" {
				v.errorf(base+".upstream", "remove upstream: ssoctl does not serve a shared_cookie receiver, so it proxies nothing", "a shared_cookie receiver has no upstream")
			}
		} else {
			v.upstreamURL(base+".upstream", &r.Upstream)
			v.listen(base+".listen", r.Listen)
			v.cookie(base+".cookie", &r.Cookie, parts, ok)
			v.recheckInterval(base+".recheck_interval", r.RecheckInterval)
			v.maxAuthAge(base+".max_auth_age", r.MaxAuthAge)
		}
		if ok {
			out = append(out, checkedReceiver{index: i, parts: parts})
		}
	}
	return out
}

// recheckInterval checks how long a receiver trusts its cookie between
// IdP checks.
func (v *validator) recheckInterval(path string, d time.Duration) {
	switch {
	case v.bad[path]:
	case d < MinRecheckInterval:
		v.errorf(path, "use "+fmtDuration(MinRecheckInterval)+" or more, or leave it out for the default "+fmtDuration(DefaultRecheckInterval), "%s %s is under %s: every request would wait for the IdP", path, fmtDuration(d), fmtDuration(MinRecheckInterval))
	case d > MaxRecheckInterval:
		v.errorf(path, "use "+fmtDuration(MaxRecheckInterval)+" or less; back-channel logout revokes at once, the re-check catches sessions the IdP ended otherwise", "%s %s is over %s: a session the IdP ended would stay good here that long", path, fmtDuration(d), fmtDuration(MaxRecheckInterval))
	}
}

// cookieSecrets requires a cookie key for every role that sets a cookie
// when nothing can be derived: an EdDSA, ES256 or RS256 chain has no
// shared secret, and only dev chains may generate keys.
func (v *validator) cookieSecrets() {
	c := v.c
	switch c.Token.Alg {
	case EdDSA, ES256, RS256:
	default:
		return
	}
	if c.Dev && c.Store.Redis == nil {
		return
	}
	need := func(path, role string, s SecretRef) {
		if !s.IsZero() || v.given(path) || v.badUnder(path) {
			return
		}
		fix := "set secret: {env: NAME} or {file: PATH} holding at least 32 random bytes, the key " + role + " signs its cookie with"
		if c.Dev {
			// A Redis store is for several instances, which a key made
			// per process splits (SSO404).
			v.warnf(path, fix+", the same for every instance", "%s is missing: with dev: true each process generates its own cookie key, so instances sharing this Redis store cannot read each other's cookies", path)
			return
		}
		v.errorf(path, fix, "%s is missing: with token.alg %s there is no shared secret to derive cookie keys from", path, c.Token.Alg)
	}
	need("issuer.cookie.secret", "the issuer", c.Issuer.Cookie.Secret)
	for i, r := range c.Receivers {
		if !r.SharedCookie {
			need(fmt.Sprintf("receivers[%d].cookie.secret", i), "the receiver", r.Cookie.Secret)
		}
	}
}

// sharedCookie checks that the issuer's cookie reaches a shared_cookie
// receiver: it must be set on a parent domain of the receiver's host, within
// the same registrable domain.
func (v *validator) sharedCookie(base string, r urlParts, ok bool) {
	path := base + ".shared_cookie"
	d := v.c.Issuer.Cookie.Domain
	if d == "" {
		v.errorf(path, "set issuer.cookie.domain to the parent domain both hosts share", "shared_cookie needs issuer.cookie.domain: a host-only issuer cookie never reaches another host")
		return
	}
	if !ok || v.bad["issuer.cookie.domain"] {
		return
	}
	rd, err1 := publicsuffix.EffectiveTLDPlusOne(r.host)
	id, err2 := publicsuffix.EffectiveTLDPlusOne(d)
	if err1 != nil || err2 != nil || rd != id || !domainMatch(r.host, d) {
		v.errorf(path, "set shared_cookie: false to give it a handoff hop", "receiver host %q is not under issuer.cookie.domain %q, so the issuer's cookie never reaches it", r.host, d)
	}
}

// role is a role with a checked origin, for the cross-role checks.
type role struct {
	what  string // "issuer", "receiver portal"
	path  string // "issuer", "receivers[0]"
	parts urlParts
	ck    *Cookie // nil for shared_cookie receivers
}

// collisions checks what roles must not share: origins, listen addresses
// and cookie names on hosts that receive each other's cookies.
func (v *validator) collisions(issuer urlParts, issuerOK bool, receivers []checkedReceiver) {
	c := v.c
	var roles []role
	if issuerOK {
		roles = append(roles, role{"issuer", "issuer", issuer, &c.Issuer.Cookie})
	}
	for _, cr := range receivers {
		r := &c.Receivers[cr.index]
		rl := role{"receiver " + r.Name, fmt.Sprintf("receivers[%d]", cr.index), cr.parts, &r.Cookie}
		if r.SharedCookie {
			rl.ck = nil
		}
		roles = append(roles, rl)
	}
	if c.IdP.Kind == IdPDev {
		if p, err := parseAbsolute(c.IdP.PublicURL, false); err == nil {
			roles = append(roles, role{"the dev IdP", "idp", p, nil})
		}
	}
	// Grouped by origin and by cookie name, so a file with thousands of
	// receivers stays linear.
	origins := map[string]role{}
	byHost := map[string][]role{}        // "name host": roles on that host
	byCookie := map[string][]role{}      // "name registrable-domain": every role
	domainCookies := map[string][]role{} // "name registrable-domain": roles with a Domain cookie
	for _, b := range roles {
		if a, dup := origins[b.parts.origin()]; dup {
			urlPath := b.path + ".url"
			if b.path == "idp" {
				urlPath = "idp.public_url"
			}
			v.errorf(urlPath, "give each role its own host or port", "%s has the same origin %s as %s", b.what, b.parts.origin(), a.what)
			continue
		}
		origins[b.parts.origin()] = b
		if b.ck == nil {
			continue
		}
		if a, clash := cookieClash(b, byHost, domainCookies, byCookie); clash {
			v.errorf(b.path+".cookie.name", "give each role its own cookie name", "cookie %q of %s is also sent to %s, which sets a cookie of the same name; they would overwrite each other (cookies ignore ports)", b.ck.Name, b.what, a.what)
		}
		key := b.ck.Name + " " + registrableDomain(b.parts.host)
		byHost[b.ck.Name+" "+b.parts.host] = append(byHost[b.ck.Name+" "+b.parts.host], b)
		byCookie[key] = append(byCookie[key], b)
		if b.ck.Domain != "" {
			domainCookies[key] = append(domainCookies[key], b)
		}
	}
	v.listenCollisions()
}

// cookieClash finds an earlier role whose cookie has b's name and reaches b's
// host, or which b's cookie reaches. A cookie never leaves its registrable
// domain (its Domain is not a public suffix), so the search stays inside
// one; host-only cookies, the common case, are found by host alone.
func cookieClash(b role, byHost, domainCookies, byCookie map[string][]role) (role, bool) {
	key := b.ck.Name + " " + registrableDomain(b.parts.host)
	if same := byHost[b.ck.Name+" "+b.parts.host]; len(same) > 0 {
		return same[0], true
	}
	for _, a := range domainCookies[key] {
		if cookieReaches(a, b.parts.host) {
			return a, true
		}
	}
	if b.ck.Domain != "" {
		for _, a := range byCookie[key] {
			if cookieReaches(b, a.parts.host) {
				return a, true
			}
		}
	}
	return role{}, false
}

// registrableDomain is host's eTLD+1, or host itself for IP addresses and
// public suffixes.
func registrableDomain(host string) string {
	if hostIsIP(host) {
		return host
	}
	if d, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
		return d
	}
	return host
}

// cookieReaches reports whether r's cookie is sent to host.
func cookieReaches(r role, host string) bool {
	if r.ck.Domain == "" {
		return r.parts.host == host
	}
	return domainMatch(host, r.ck.Domain)
}

// listenCollisions checks that no two listeners ssoctl opens share an
// address. A listen the file did not write, defaulted from a URL's port in
// a dev chain, is named as such, with where it came from.
func (v *validator) listenCollisions() {
	type bound struct{ path, host, port string }
	byPort := map[string][]bound{}
	// describe writes "issuer.listen 127.0.0.1:8080", and for a defaulted
	// listen adds where it came from.
	describe := func(b bound) string {
		s := b.path + " " + net.JoinHostPort(b.host, b.port)
		if from, ok := v.listenFrom[b.path]; ok {
			s += " (defaulted from " + from + ")"
		}
		return s
	}
	add := func(path, addr string) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return
		}
		b := bound{path, host, port}
		for _, a := range byPort[port] {
			if a.host != b.host && !wildcardHost(a.host) && !wildcardHost(b.host) {
				continue
			}
			fix, where := "give each role its own port", path
			if from, ok := v.listenFrom[path]; ok {
				fix, where = "set "+path+", or change the port in "+from+": a dev chain listens on 127.0.0.1 at each URL's port unless listen is set", from
			} else if from, ok := v.listenFrom[a.path]; ok {
				fix = "give " + path + " another port, or set " + a.path + " (or change the port in " + from + "): a dev chain listens on 127.0.0.1 at each URL's port unless listen is set"
			}
			v.addAt(where, SeverityError, path, fix, "%s conflicts with %s", describe(b), describe(a))
			return
		}
		byPort[port] = append(byPort[port], b)
	}
	add("issuer.listen", v.c.Issuer.Listen)
	for i, r := range v.c.Receivers {
		if !r.SharedCookie { // not served; a listen on one is an error already
			add(fmt.Sprintf("receivers[%d].listen", i), r.Listen)
		}
	}
	if v.c.IdP.Kind == IdPDev {
		add("idp.listen", v.c.IdP.Listen)
		add("idp.admin_listen", v.c.IdP.AdminListen)
	}
}

func wildcardHost(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }

func (v *validator) returnTo(issuer urlParts, issuerOK bool, receivers []checkedReceiver) {
	c := v.c
	ok := true
	for i, raw := range c.ReturnTo.Allow {
		path := fmt.Sprintf("return_to.allow[%d]", i)
		p, err := parsePattern(raw)
		if err != nil {
			ok = false
			v.errorf(path, patternFix(err), "return_to pattern %s: %v", quoteURL(raw), err)
			continue
		}
		if p.parts.scheme == "http" && !c.Dev {
			ok = false
			v.errorf(path, "use https, or set dev: true for local development", "return_to pattern %s allows http, which only dev chains may", quoteURL(raw))
		}
	}
	if !ok || v.badUnder("return_to.allow") {
		return
	}
	v.allow, _ = NewAllowlist(c.ReturnTo.Allow)
	if len(c.ReturnTo.Allow) == 0 {
		v.warnf("return_to.allow", "add the origins users start from, like https://portal.company2.com", "return_to.allow is empty: every return_to is refused and logins end at the issuer")
		return
	}
	check := func(path, what string, o urlParts) {
		if !v.allow.coversOrigin(o) {
			v.warnf(path, fmt.Sprintf("add %s to return_to.allow", o.origin()), "no return_to.allow pattern covers %s (%s): logins that start there are refused", what, o.origin())
		}
	}
	if issuerOK {
		check("issuer.url", "the issuer", issuer)
	}
	for _, r := range receivers {
		check(fmt.Sprintf("receivers[%d].url", r.index), "receiver "+c.Receivers[r.index].Name, r.parts)
	}
}

func (v *validator) store() {
	s := v.c.Store
	if s.Memory != nil && s.Redis != nil {
		v.errorf("store", "keep one of them", "store takes one of memory or redis, not both")
		return
	}
	if m := s.Memory; m != nil {
		if m.MaxEntries < 0 {
			v.errorf("store.memory.max_entries", "leave it out for the default, 1000000", "store.memory.max_entries is %d; it bounds each store and cannot be negative", m.MaxEntries)
		}
		switch {
		case m.MaxSessions < 0:
			v.errorf("store.memory.max_sessions", "leave it out for the default, 100000", "store.memory.max_sessions is %d; it bounds the issuer's OIDC sessions and cannot be negative", m.MaxSessions)
		case m.MaxSessions > 0 && v.c.IdP.Kind != IdPOIDC:
			v.warnf("store.memory.max_sessions", "remove it", "store.memory.max_sessions bounds the provider sessions of an idp.kind: oidc issuer; this chain's IdP keeps its own sessions")
		}
	}
	if s.Redis == nil {
		return
	}
	switch {
	case s.Redis.URLEnv != "" && s.Redis.URLFile != "":
		v.errorf("store.redis", "keep one of them", "store.redis takes one of url_env and url_file, not both")
	case s.Redis.URLFile != "":
	case s.Redis.URLEnv == "":
		v.missing("store.redis.url_env", "set url_env: REDIS_URL, the variable holding the Redis URL, or url_file: PATH, a file holding it")
	case !envNameRE().MatchString(s.Redis.URLEnv):
		// Not repeated: most often it is the Redis URL, password and all.
		v.errorf("store.redis.url_env", envNameFix("REDIS_URL", "the Redis URL"), "store.redis.url_env is not an environment variable name")
	}
}

func (v *validator) expect() {
	e := &v.c.Expect
	if e.FinalURLPrefix != "" {
		if _, err := parseAbsolute(e.FinalURLPrefix, false); err != nil {
			v.errorf("expect.final_url_prefix", "write an absolute URL prefix like https://portal.company2.com/", "expect.final_url_prefix is not a usable URL: %v", err)
		} else if v.allow != nil {
			if _, err := v.allow.Allow(e.FinalURLPrefix); errors.Is(err, ErrNotAllowed) {
				v.warnf("expect.final_url_prefix", "add its origin to return_to.allow, or fix the prefix", "expect.final_url_prefix is outside return_to.allow, so no walk can end there")
			}
		}
	}
	if v.given("expect.max_hops") && e.MaxHops < 1 {
		v.errorf("expect.max_hops", "use 1 or more, or leave it out", "expect.max_hops must be at least 1")
	}
	for i := range e.Cookies {
		ce := &e.Cookies[i]
		path := fmt.Sprintf("expect.cookies[%d]", i)
		if h, err := canonicalHost(ce.Domain); err != nil {
			v.errorf(path, "use a host name like portal.company2.com", "expect.cookies host %s: %v", quote(ce.Domain), err)
		} else {
			ce.Domain = h
		}
		if len(ce.Names) == 0 && !v.bad[path+".names"] {
			v.errorf(path+".names", "list the cookie names, like [portal_session]", "expect.cookies for %s lists no cookie names", quote(ce.Domain))
		}
		for _, n := range ce.Names {
			if !cookieNameRE().MatchString(n) {
				v.errorf(path+".names", "use the cookie's exact name", "expect.cookies for %s: %s is not a cookie name", quote(ce.Domain), quote(n))
			}
		}
	}
	for _, d := range []struct {
		path string
		val  time.Duration
	}{{"expect.max_token_lifetime", e.MaxTokenLifetime}, {"expect.max_total_time", e.MaxTotalTime}} {
		if v.given(d.path) && d.val == 0 {
			v.errorf(d.path, "use a positive duration, or leave it out", "%s must be more than 0", d.path)
		}
	}
	if e.MaxTokenLifetime > 0 && e.MaxTokenLifetime < v.c.Token.TTL {
		v.warnf("expect.max_token_lifetime", "raise it to token.ttl or lower token.ttl", "expect.max_token_lifetime %s is below token.ttl %s, so every trace will fail", fmtDuration(e.MaxTokenLifetime), fmtDuration(v.c.Token.TTL))
	}
}

// upstreamURL checks a receiver's upstream: the app it reverse-proxies.
func (v *validator) upstreamURL(path string, raw *string) {
	v.checkURL(path, raw, upstream, "")
}

// loopbackHost reports whether host (as urlParts holds it) is this
// machine: localhost, a *.localhost name or a loopback address.
func loopbackHost(host string) bool {
	h := strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.IsLoopback()
}
