package chain

import (
	"cmp"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/publicsuffix"
)

// browserJar is net/http/cookiejar with the public suffix list, plus the
// rules browsers apply when storing a cookie that the Go jar does not
// (Secure only from secure origins, SameSite=None only with Secure, the
// __Secure- and __Host- prefixes, the 4 KiB limit). It also remembers each
// stored cookie's attributes, which the Go jar never gives back. The walk's
// client and the probes share it, so every response anyone reads through
// the Browser updates the same state.
type browserJar struct {
	jar *cookiejar.Jar
	now func() time.Time

	mu sync.Mutex
	// attrs holds the attributes of every cookie stored, keyed like the Go
	// jar keys its entries, so that a replacement or a deletion lands on
	// the same entry.
	attrs map[cookieKey]storedCookie
	seq   uint64
}

// cookieKey is how RFC 6265 §5.3 step 11 tells cookies apart: name,
// domain (the host itself for host-only cookies) and path.
type cookieKey struct{ domain, path, name string }

// reaches reports whether a cookie stored under key (host-only or not)
// goes to host (RFC 6265 §5.4 step 1, the host half).
func (key cookieKey) reaches(host string, hostOnly bool) bool {
	if hostOnly {
		return host == key.domain
	}
	return domainMatch(host, key.domain)
}

type storedCookie struct {
	info     CookieInfo
	hostOnly bool
	// created is when the cookie was first stored; a replacement keeps
	// it (RFC 6265 §5.3 step 11.3). Chromium's two-minute allowance for
	// cookies without SameSite counts from it.
	created time.Time
	// seq orders cookies stored at the same instant as the Go jar does.
	seq uint64
	// expires is when the cookie goes; zero for a session cookie.
	expires time.Time
}

func newBrowserJar(now func() time.Time) *browserJar {
	// cookiejar.New fails only on options it does not get here.
	jar, _ := cookiejar.New(&cookiejar.Options{PublicSuffixList: publicsuffix.List})
	return &browserJar{jar: jar, now: now, attrs: map[cookieKey]storedCookie{}}
}

// SetCookies implements http.CookieJar: it stores what a browser would.
func (j *browserJar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	now := j.now()
	keep := make([]*http.Cookie, 0, len(cookies))
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, c := range cookies {
		info, key, hostOnly := judgeCookie(u, c, now)
		switch {
		case info.Rejected != "":
			continue
		case info.Deleted:
			delete(j.attrs, key)
		default:
			sc := storedCookie{info: info, hostOnly: hostOnly, created: now, expires: info.Expires}
			if c.MaxAge > 0 {
				sc.expires = now.Add(time.Duration(c.MaxAge) * time.Second)
			}
			if old, ok := j.attrs[key]; ok {
				sc.created, sc.seq = old.created, old.seq
			} else {
				j.seq++
				sc.seq = j.seq
			}
			j.attrs[key] = sc
		}
		keep = append(keep, c)
	}
	if len(keep) > 0 {
		j.jar.SetCookies(u, keep)
	}
}

// Cookies implements http.CookieJar: every cookie for u, as for a request
// the user started (a same-site one). Navigations ask forNavigation.
func (j *browserJar) Cookies(u *url.URL) []*http.Cookie { return j.jar.Cookies(u) }

// navigation is what a browser's SameSite decision looks at for one
// top-level request (RFC 6265bis §5.2 and §5.8.3): the document that
// started it and the method. A redirect keeps the navigation's initiator,
// and the sites the redirects passed through do not count: that is what
// Chromium does (internal/e2e's TestChromiumSameSite holds the walk to it).
type navigation struct {
	initiator *url.URL // nil: the user (the address bar, a bookmark), always same-site
	method    string
}

// laxAllowingUnsafe is how long Chromium still sends a new cookie without
// a SameSite attribute with a cross-site top-level POST ("Lax+POST").
const laxAllowingUnsafe = 2 * time.Minute

// crossSite says how the navigation is cross-site to target ("" when it is
// same-site): the initiator's registrable domain or scheme differs from
// target's ("schemeful same-site": Chromium counts https://company.com and
// http://company.com as two sites).
func (n navigation) crossSite(target *url.URL) string {
	if n.initiator == nil {
		return ""
	}
	if sameSite(n.initiator, target) {
		return ""
	}
	from := registrableDomain(cookieHost(n.initiator))
	if !strings.EqualFold(n.initiator.Scheme, target.Scheme) {
		from = strings.ToLower(n.initiator.Scheme) + "://" + from
	}
	method := n.method
	if method == "" {
		method = http.MethodGet
	}
	return "a cross-site " + method + " from " + from
}

// withholds is why a browser keeps a cookie stored with sameSite (and
// created at created) from a cross-site navigation (cross, as crossSite
// says), or "" when it sends it. Strict goes to same-site requests only;
// Lax and, in Chromium, a cookie without SameSite also to cross-site
// top-level GETs, and the latter to top-level POSTs in its first two
// minutes.
func (n navigation) withholds(sameSite, cross string, created, now time.Time) string {
	if cross == "" {
		return ""
	}
	safe := n.method == "" || n.method == http.MethodGet || n.method == http.MethodHead
	switch sameSite {
	case "Strict":
		return "SameSite=Strict on " + cross
	case "Lax":
		if !safe {
			return "SameSite=Lax on " + cross
		}
	case "":
		if !safe && now.Sub(created) >= laxAllowingUnsafe {
			return "no SameSite (Lax in Chromium) on " + cross + ", " + laxAllowingUnsafe.String() + " after it was set"
		}
	}
	return ""
}

// forNavigation is the jar as one navigation sees it: it sends what a
// browser sends with n and adds to withheld each cookie it keeps back.
func (j *browserJar) forNavigation(n navigation, withheld *[]WithheldCookie) http.CookieJar {
	return navJar{j: j, n: n, withheld: withheld}
}

type navJar struct {
	j        *browserJar
	n        navigation
	withheld *[]WithheldCookie
}

func (nj navJar) SetCookies(u *url.URL, cookies []*http.Cookie) { nj.j.SetCookies(u, cookies) }

func (nj navJar) Cookies(u *url.URL) []*http.Cookie {
	send, withheld := nj.j.cookiesFor(u, nj.n)
	*nj.withheld = append(*nj.withheld, withheld...)
	return send
}

// cookiesFor is what the jar sends to u with navigation n, and what it
// keeps back for SameSite.
func (j *browserJar) cookiesFor(u *url.URL, n navigation) (send []*http.Cookie, withheld []WithheldCookie) {
	all := j.jar.Cookies(u)
	cross := n.crossSite(u)
	if cross == "" || len(all) == 0 {
		return all, nil
	}
	now := j.now()
	// The Go jar gives values without attributes, ordered by path length
	// (longest first), then by when each was first stored. The stored
	// attributes that reach u, in that order, line up with them by name.
	host, path := cookieHost(u), u.Path
	if path == "" {
		path = "/"
	}
	byName := map[string][]storedCookie{}
	j.mu.Lock()
	for key, sc := range j.attrs {
		if !key.reaches(host, sc.hostOnly) || !pathMatch(path, key.path) || !sc.expires.IsZero() && !sc.expires.After(now) {
			continue
		}
		byName[key.name] = append(byName[key.name], sc)
	}
	j.mu.Unlock()
	for _, scs := range byName {
		slices.SortFunc(scs, func(a, b storedCookie) int {
			return cmp.Or(cmp.Compare(len(b.info.Path), len(a.info.Path)), cmp.Compare(a.seq, b.seq))
		})
	}
	for _, c := range all {
		scs := byName[c.Name]
		if len(scs) == 0 {
			send = append(send, c) // attributes unknown: as the Go jar says
			continue
		}
		sc := scs[0]
		byName[c.Name] = scs[1:]
		if why := n.withholds(sc.info.SameSite, cross, sc.created, now); why != "" {
			withheld = append(withheld, WithheldCookie{Name: c.Name, Host: sc.info.Host, SameSite: sc.info.SameSite, Reason: why})
			continue
		}
		send = append(send, c)
	}
	return send, withheld
}

// clearSiteData applies a response's Clear-Site-Data header (W3C Clear
// Site Data) to the jar: "cookies" or "*", from a secure context (https,
// or a loopback host), removes every cookie of the response host's site,
// its registrable domain with every host under it, as Chromium does. It
// returns what it removed (sorted like sentTo), nil for any other header.
// Cookies the same response sets go too: Chromium clears after storing
// them (measured; internal/e2e's TestChromiumSameSite).
func (j *browserJar) clearSiteData(u *url.URL, h http.Header) []CookieInfo {
	if !secureContext(u) || !clearsCookies(h.Values("Clear-Site-Data")) {
		return nil
	}
	site := registrableDomain(cookieHost(u))
	var out []CookieInfo
	j.mu.Lock()
	defer j.mu.Unlock()
	for key, sc := range j.attrs {
		if !domainMatch(key.domain, site) {
			continue
		}
		delete(j.attrs, key)
		out = append(out, sc.info)
		c := &http.Cookie{Name: key.name, Path: key.path, MaxAge: -1}
		if !sc.hostOnly {
			c.Domain = key.domain
		}
		j.jar.SetCookies(&url.URL{Scheme: "https", Host: key.domain, Path: key.path}, []*http.Cookie{c})
	}
	sortCookieInfos(out)
	return out
}

// sortCookieInfos orders cookies by name, path, domain and the host that
// set them, for stable listings.
func sortCookieInfos(cs []CookieInfo) {
	slices.SortFunc(cs, func(a, b CookieInfo) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Path, b.Path), cmp.Compare(a.Domain, b.Domain), cmp.Compare(a.Host, b.Host))
	})
}

// clearsCookies reports whether Clear-Site-Data values name "cookies" or
// "*": quoted strings, comma-separated, others ignored.
func clearsCookies(values []string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			switch strings.TrimSpace(t) {
			case `"cookies"`, `"*"`:
				return true
			}
		}
	}
	return false
}

// pathMatch is RFC 6265 §5.1.4's path-match.
func pathMatch(reqPath, cookiePath string) bool {
	if reqPath == cookiePath {
		return true
	}
	if !strings.HasPrefix(reqPath, cookiePath) {
		return false
	}
	return strings.HasSuffix(cookiePath, "/") || reqPath[len(cookiePath)] == '/'
}

// sentTo lists, without values, the cookies the jar sends to origin (any
// path a stored cookie is scoped to), sorted by name and path.
func (j *browserJar) sentTo(origin *url.URL) []CookieInfo {
	host := cookieHost(origin)
	j.mu.Lock()
	var candidates []storedCookie
	for key, sc := range j.attrs {
		if key.reaches(host, sc.hostOnly) {
			candidates = append(candidates, sc)
		}
	}
	j.mu.Unlock()
	var out []CookieInfo
	for _, sc := range candidates {
		// The Go jar decides (expiry, Secure over http); the attributes
		// only describe what it holds.
		u := *origin
		u.Path, u.RawQuery, u.Fragment = sc.info.Path, "", ""
		if slices.ContainsFunc(j.jar.Cookies(&u), func(c *http.Cookie) bool { return c.Name == sc.info.Name }) {
			out = append(out, sc.info)
		}
	}
	sortCookieInfos(out)
	return out
}

// names lists the names of the cookies sent to origin, sorted, without
// repeats.
func (j *browserJar) names(origin *url.URL) []string {
	var out []string
	for _, c := range j.sentTo(origin) {
		out = append(out, c.Name)
	}
	u := *origin
	u.Path = "/"
	for _, c := range j.jar.Cookies(&u) {
		out = append(out, c.Name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// cookieHost is the host a cookie is matched against: lower case, no port,
// no trailing dot, IPv6 without brackets.
func cookieHost(u *url.URL) string {
	return strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
}

// secureContext reports whether a browser treats a page at u as a secure
// context: https, or http on a loopback host.
func secureContext(u *url.URL) bool {
	return u.Scheme == "https" || isLoopbackHost(cookieHost(u))
}

// isLoopbackHost reports whether browsers treat host as a secure context
// although it is reached over http (localhost, *.localhost, loopback IPs).
func isLoopbackHost(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// maxCookieSize is what browsers store of one cookie (name plus value),
// RFC 6265bis §5.6 and every current browser.
const maxCookieSize = 4096

// judgeCookie reads one cookie set by a response from u: its attributes as
// a CookieInfo (never the value), the jar key it lands on, whether it is
// host-only, and in Rejected why a browser would not store it. The Domain
// rules are RFC 6265 §5.3 steps 4 to 6, as net/http/cookiejar applies them
// with the public suffix list; the others are what current browsers add
// (RFC 6265bis §5.6, "Strict Secure Cookies", SameSite=None requires
// Secure in Chromium).
func judgeCookie(u *url.URL, c *http.Cookie, now time.Time) (info CookieInfo, key cookieKey, hostOnly bool) {
	host := cookieHost(u)
	info = CookieInfo{
		Name: c.Name, Host: host, Secure: c.Secure, HttpOnly: c.HttpOnly,
		SameSite: sameSiteName(c.SameSite), MaxAge: c.MaxAge,
	}
	if !c.Expires.IsZero() {
		info.Expires = c.Expires.UTC()
	}
	info.Path = c.Path
	if info.Path == "" || info.Path[0] != '/' {
		info.Path = defaultCookiePath(u.EscapedPath())
	}
	info.Deleted = c.MaxAge < 0 || c.MaxAge == 0 && !c.Expires.IsZero() && !c.Expires.After(now)

	domain, hostOnly, why := cookieDomain(host, c.Domain)
	info.Domain = strings.ToLower(strings.TrimPrefix(c.Domain, "."))
	key = cookieKey{domain: domain, path: info.Path, name: c.Name}
	secureOrigin := secureContext(u)
	name := strings.ToLower(c.Name)
	switch {
	case why != "":
		info.Rejected = why
	case c.Secure && !secureOrigin:
		info.Rejected = "Secure cookie set over http: browsers only let https (or localhost) set Secure cookies"
	case c.SameSite == http.SameSiteNoneMode && !c.Secure:
		info.Rejected = "SameSite=None without Secure: browsers refuse it"
	case strings.HasPrefix(name, "__secure-") && (!c.Secure || !secureOrigin):
		info.Rejected = "a __Secure- cookie must be Secure and set over https"
	case strings.HasPrefix(name, "__host-") && (!c.Secure || !secureOrigin || c.Domain != "" || c.Path != "/"):
		info.Rejected = "a __Host- cookie must be Secure, set over https, with Path=/ and no Domain"
	case len(c.Name)+len(c.Value) > maxCookieSize:
		info.Rejected = fmt.Sprintf("name and value are over %d bytes: browsers drop it", maxCookieSize)
	}
	return info, key, hostOnly
}

// cookieDomain is RFC 6265 §5.3 steps 4 to 6 as net/http/cookiejar does
// them: the domain a cookie is stored under, whether it is host-only, and
// why it is refused ("" when it is not).
func cookieDomain(host, attr string) (domain string, hostOnly bool, why string) {
	if attr == "" {
		return host, true, ""
	}
	if ip := net.ParseIP(host); ip != nil {
		if !strings.EqualFold(host, attr) {
			return "", false, fmt.Sprintf("Domain=%s on a cookie from the IP address %s", attr, host)
		}
		return host, true, ""
	}
	d := strings.TrimPrefix(attr, ".")
	if d == "" || d[0] == '.' || d[len(d)-1] == '.' || !isASCII(d) {
		return "", false, fmt.Sprintf("Domain=%s is malformed", attr)
	}
	d = strings.ToLower(d)
	if ps, _ := publicsuffix.PublicSuffix(d); ps == d {
		if d == host {
			// The one case where a Domain attribute makes a host-only
			// cookie (§5.3 step 5).
			return host, true, ""
		}
		return "", false, fmt.Sprintf("Domain=%s is a public suffix: browsers refuse it", d)
	}
	if !domainMatch(host, d) {
		return "", false, fmt.Sprintf("Domain=%s does not cover the host %s that set it", d, host)
	}
	return d, false, ""
}

// defaultCookiePath is RFC 6265 §5.1.4.
func defaultCookiePath(p string) string {
	if p == "" || p[0] != '/' {
		return "/"
	}
	i := strings.LastIndexByte(p, '/')
	if i == 0 {
		return "/"
	}
	return p[:i]
}

func sameSiteName(s http.SameSite) string {
	switch s {
	case http.SameSiteLaxMode:
		return "Lax"
	case http.SameSiteStrictMode:
		return "Strict"
	case http.SameSiteNoneMode:
		return "None"
	}
	return ""
}

// parseSetCookies reads every Set-Cookie line of a response from u,
// including the ones net/http would drop as malformed, so that the trace
// shows them.
func parseSetCookies(u *url.URL, h http.Header, now time.Time) []CookieInfo {
	var out []CookieInfo
	for _, line := range h.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			name, _, _ := strings.Cut(line, "=")
			out = append(out, CookieInfo{
				Name: safeCookieName(name), Host: cookieHost(u),
				Rejected: "malformed Set-Cookie (" + err.Error() + "): browsers drop it",
			})
			continue
		}
		info, _, _ := judgeCookie(u, c, now)
		out = append(out, info)
	}
	return out
}

// safeCookieName shows the name part of a malformed Set-Cookie line
// without anything that could be its value.
func safeCookieName(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, ";, \t"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	if s == "" || !isASCII(s) {
		return "(unnamed)"
	}
	return s
}

// sessionLike reports whether a cookie's name says it holds a session,
// for cookies whose role the walk cannot tell. CSRF cookies are left out:
// double-submit schemes make them readable by design.
func sessionLike(name string) bool {
	n := strings.ToLower(name)
	if strings.Contains(n, "csrf") || strings.Contains(n, "xsrf") {
		return false
	}
	for _, s := range []string{"session", "sess", "auth", "token", "login"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return n == "sid" || strings.HasSuffix(n, "_sid") || strings.HasSuffix(n, ".sid") || strings.HasSuffix(n, "-sid") ||
		strings.HasPrefix(n, "ory_")
}
