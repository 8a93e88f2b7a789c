package chain

import (
	"cmp"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/publicsuffix"
)

// browserJar is net/http/cookiejar with the public suffix list, plus the
// rules browsers apply when storing a cookie that the Go jar does not
// (Secure only from secure origins, Strict Secure Cookies, SameSite=None
// only with Secure, the __Secure- and __Host- prefixes, the 4 KiB limit,
// the 400-day cap), Set-Cookie read as browsers read it (parseSetCookie)
// and expiry by the injected clock. It also remembers each
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

// jarTransport sends each request with the cookies jar holds for its URL
// and stores what the answer sets, both as a browser does (cookieHeader,
// setCookieLines), for the requests a person would start: probes, Get,
// the expectations' checks. net/http's own Jar handling would write the
// Cookie header by its stricter rules, dropping bytes of values browsers
// keep, and log each drop, a piece of a cookie's value, to the standard
// logger. A Cookie header the request has already is kept, the jar's
// cookies after it.
type jarTransport struct {
	next http.RoundTripper
	jar  *browserJar
}

func (t jarTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if cs := t.jar.Cookies(req.URL); len(cs) > 0 {
		line := cookieHeader(cs)
		if had := req.Header.Get("Cookie"); had != "" {
			line = had + "; " + line
		}
		req = req.Clone(req.Context())
		req.Header.Set("Cookie", line)
	}
	resp, err := t.next.RoundTrip(req)
	if err == nil {
		t.jar.setCookieLines(req.URL, resp.Header.Values("Set-Cookie"))
	}
	return resp, err
}

// setCookieLines stores what a browser keeps of the Set-Cookie lines of an
// answer from u, and says what it made of each line, in order (never a
// value).
func (j *browserJar) setCookieLines(u *url.URL, lines []string) []CookieInfo {
	now := j.now()
	out := make([]CookieInfo, 0, len(lines))
	for _, line := range lines {
		c, why := parseSetCookie(line, now)
		if why != "" {
			out = append(out, malformedCookie(u, line, why))
			continue
		}
		out = append(out, j.store(u, []*http.Cookie{c}, now)...)
	}
	return out
}

// store keeps cookies set by an answer from u as a browser does, and
// returns what it made of each.
func (j *browserJar) store(u *url.URL, cookies []*http.Cookie, now time.Time) []CookieInfo {
	infos := make([]CookieInfo, 0, len(cookies))
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, c := range cookies {
		info, key, hostOnly := judgeCookie(u, c, now)
		if info.Rejected == "" && !secureContext(u) && j.shadowsSecure(key, hostOnly, now) {
			info.Rejected = "a Secure cookie of that name reaches this host and path, and plain http may not overwrite, shadow or delete it (Strict Secure Cookies)"
		}
		infos = append(infos, info)
		switch {
		case info.Rejected != "":
			continue
		case info.Deleted:
			delete(j.attrs, key)
			j.forget(key, hostOnly)
			continue
		}
		sc := storedCookie{info: info, hostOnly: hostOnly, created: now, expires: expiresAt(c, now)}
		if old, ok := j.attrs[key]; ok {
			sc.created, sc.seq = old.created, old.seq
		} else {
			j.seq++
			sc.seq = j.seq
		}
		j.attrs[key] = sc
		// The Go jar holds every cookie as a session cookie: it would
		// judge expiry by the wall clock, and the jar's clock is j.now
		// (expire). Domain and Path are the ones decided here.
		gc := &http.Cookie{Name: c.Name, Value: c.Value, Quoted: c.Quoted, Path: key.path,
			Secure: c.Secure, HttpOnly: c.HttpOnly, SameSite: c.SameSite}
		if v, ok := strings.CutPrefix(c.Value, `"`); ok && len(v) > 0 && !c.Quoted {
			if inner, ok := strings.CutSuffix(v, `"`); ok && !strings.ContainsAny(inner, `"\`) {
				// net/http's writer keeps the quotes only this way.
				gc.Value, gc.Quoted = inner, true
			}
		}
		if !hostOnly {
			gc.Domain = key.domain
		}
		j.jar.SetCookies(jarURL(u), []*http.Cookie{gc})
	}
	return infos
}

// shadowsSecure reports whether a cookie that is not Secure, stored under
// key from an origin that is not secure, would overwrite or shadow a
// Secure one: one of the same name whose domain and the new one's match
// either way, and whose path the new one's path-matches ("Strict Secure
// Cookies", RFC 6265bis §5.7 step 16). As in Chromium, a host-only cookie
// domain-matches its own host only. j.mu is held.
func (j *browserJar) shadowsSecure(key cookieKey, hostOnly bool, now time.Time) bool {
	for k, sc := range j.attrs {
		if k.name != key.name || !sc.info.Secure || sc.expired(now) {
			continue
		}
		if (k.reaches(key.domain, sc.hostOnly) || key.reaches(k.domain, hostOnly)) && pathMatch(key.path, k.path) {
			return true
		}
	}
	return false
}

func (sc storedCookie) expired(now time.Time) bool {
	return !sc.expires.IsZero() && !sc.expires.After(now)
}

// expire drops every cookie whose time has come by the jar's clock.
func (j *browserJar) expire(now time.Time) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for key, sc := range j.attrs {
		if sc.expired(now) {
			delete(j.attrs, key)
			j.forget(key, sc.hostOnly)
		}
	}
}

// forget takes the cookie stored under key out of the Go jar. j.mu is
// held.
func (j *browserJar) forget(key cookieKey, hostOnly bool) {
	c := &http.Cookie{Name: key.name, Path: key.path, MaxAge: -1}
	if !hostOnly {
		c.Domain = key.domain
	}
	host := key.domain
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	j.jar.SetCookies(&url.URL{Scheme: "https", Host: host, Path: key.path}, []*http.Cookie{c})
}

// jarURL is u as the Go jar must see it: browsers match cookie paths
// against the path as it travels, percent-encoded (RFC 6265bis §5.1.4),
// where the Go jar reads url.URL.Path, which is decoded.
func jarURL(u *url.URL) *url.URL {
	v := *u
	v.Path, v.RawPath = u.EscapedPath(), ""
	return &v
}

// Cookies is every cookie for u, as for a request the user started (a
// same-site one). Navigations ask cookiesFor.
func (j *browserJar) Cookies(u *url.URL) []*http.Cookie {
	j.expire(j.now())
	return j.jar.Cookies(jarURL(u))
}

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

// cookiesFor is what the jar sends to u with navigation n, and what it
// keeps back for SameSite.
func (j *browserJar) cookiesFor(u *url.URL, n navigation) (send []*http.Cookie, withheld []WithheldCookie) {
	all := j.Cookies(u)
	cross := n.crossSite(u)
	if cross == "" || len(all) == 0 {
		return all, nil
	}
	now := j.now()
	// The Go jar gives values without attributes, ordered by path length
	// (longest first), then by when each was first stored. The stored
	// attributes that reach u, in that order, line up with them by name.
	host, path := cookieHost(u), u.EscapedPath()
	if path == "" {
		path = "/"
	}
	byName := map[string][]storedCookie{}
	j.mu.Lock()
	for key, sc := range j.attrs {
		if !key.reaches(host, sc.hostOnly) || !pathMatch(path, key.path) {
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
		j.forget(key, sc.hostOnly)
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
	j.expire(j.now())
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
		if slices.ContainsFunc(j.jar.Cookies(jarURL(&u)), func(c *http.Cookie) bool { return c.Name == sc.info.Name }) {
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
	u.Path, u.RawPath = "/", ""
	for _, c := range j.Cookies(&u) {
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
// (RFC 6265bis §5.6 and §5.7, SameSite=None requires Secure in Chromium).
// "Strict Secure Cookies" needs the cookies already stored: the jar's
// store applies it.
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
	switch {
	case why != "":
		info.Rejected = why
	case c.Secure && !secureOrigin:
		info.Rejected = "Secure cookie set over http: browsers only let https (or localhost) set Secure cookies"
	case c.SameSite == http.SameSiteNoneMode && !c.Secure:
		info.Rejected = "SameSite=None without Secure: browsers refuse it"
	case hasPrefixFold(c.Name, "__secure-") && (!c.Secure || !secureOrigin):
		info.Rejected = "a __Secure- cookie must be Secure and set over https"
	case hasPrefixFold(c.Name, "__host-") && (!c.Secure || !secureOrigin || c.Domain != "" || c.Path != "/"):
		info.Rejected = "a __Host- cookie must be Secure, set over https, with Path=/ and no Domain"
	case c.Name == "" && (hasPrefixFold(c.Value, "__secure-") || hasPrefixFold(c.Value, "__host-")):
		// Sent as its value alone, it would read as a prefixed cookie
		// (RFC 6265bis §5.7 step 22).
		info.Rejected = "a cookie without a name whose value starts with __Secure- or __Host-: browsers refuse it"
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
		// The leading dot goes first (RFC 6265bis §5.6.3), as in Chromium.
		if !strings.EqualFold(host, strings.TrimPrefix(attr, ".")) {
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

// parseSetCookies reads every Set-Cookie line of a response from u as a
// browser reads it, including the ones net/http would drop, so that the
// trace shows them. It judges each line alone: the walk's own answers are
// judged by the jar that stores them (setCookieLines), which also knows
// the cookies already there.
func parseSetCookies(u *url.URL, h http.Header, now time.Time) []CookieInfo {
	var out []CookieInfo
	for _, line := range h.Values("Set-Cookie") {
		c, why := parseSetCookie(line, now)
		if why != "" {
			out = append(out, malformedCookie(u, line, why))
			continue
		}
		info, _, _ := judgeCookie(u, c, now)
		out = append(out, info)
	}
	return out
}

// malformedCookie describes a Set-Cookie line from u that browsers drop
// whole, by its name at most.
func malformedCookie(u *url.URL, line, why string) CookieInfo {
	name := "(unnamed)"
	if nv, _, _ := strings.Cut(line, ";"); strings.Contains(nv, "=") {
		n, _, _ := strings.Cut(nv, "=")
		name = safeCookieName(n)
	}
	return CookieInfo{Name: name, Host: cookieHost(u), Rejected: "malformed Set-Cookie (" + why + "): browsers drop it"}
}

// maxCookieAttribute is the longest attribute value browsers read; they
// ignore a longer attribute (RFC 6265bis §5.6).
const maxCookieAttribute = 1024

// maxCookieAge is how far ahead browsers let a cookie expire, whatever
// Expires or Max-Age say (RFC 6265bis §5.6.1, Chromium since 104).
const maxCookieAge = 400 * 24 * time.Hour

// parseSetCookie reads one Set-Cookie line as browsers do, by RFC 6265bis
// §5.6 as Chromium runs it, not by net/http's ParseSetCookie: that one
// follows the grammar servers are to write (RFC 6265 §4) and drops what
// browsers keep, such as a cookie without a name ("=v" or just "v"), a
// space in a name, a quote, backslash or UTF-8 in a value, or an Expires
// in any but two of the forms servers use. It returns the cookie (Raw the
// line, the value as sent, quotes and all) or why browsers drop the whole
// line, which never quotes it.
func parseSetCookie(line string, now time.Time) (*http.Cookie, string) {
	for i := 0; i < len(line); i++ {
		if b := line[i]; b < 0x20 && b != '\t' || b == 0x7f {
			return nil, "a control character"
		}
	}
	nv, attrs, _ := strings.Cut(line, ";")
	name, value, ok := strings.Cut(nv, "=")
	if !ok {
		name, value = "", nv
	}
	c := &http.Cookie{Name: trimWSP(name), Value: trimWSP(value), Raw: line}
	if c.Name == "" && c.Value == "" {
		return nil, "no name and no value"
	}
	for _, av := range strings.Split(attrs, ";") {
		k, v, _ := strings.Cut(av, "=")
		k, v = lowerASCII(trimWSP(k)), trimWSP(v)
		if len(v) > maxCookieAttribute {
			continue
		}
		switch k {
		case "expires":
			if t, ok := parseCookieDate(v); ok {
				c.Expires, c.RawExpires = t, v
			}
		case "max-age":
			if secs, ok := parseMaxAge(v); ok {
				c.MaxAge = secs
			}
		case "domain":
			if v != "" {
				c.Domain = v
			}
		case "path":
			c.Path = ""
			if strings.HasPrefix(v, "/") {
				c.Path = v
			}
		case "secure":
			c.Secure = true
		case "httponly":
			c.HttpOnly = true
		case "samesite":
			switch lowerASCII(v) {
			case "lax":
				c.SameSite = http.SameSiteLaxMode
			case "strict":
				c.SameSite = http.SameSiteStrictMode
			case "none":
				c.SameSite = http.SameSiteNoneMode
			default:
				c.SameSite = http.SameSiteDefaultMode
			}
		case "partitioned":
			c.Partitioned = true
		}
	}
	if limit := now.Add(maxCookieAge); c.Expires.After(limit) {
		c.Expires = limit
	}
	return c, ""
}

// parseMaxAge reads a Max-Age value as Chromium does (base::StringToInt64:
// an optional sign and digits, leading zeros allowed, a number too large
// for 64 bits saturating): seconds, at most maxCookieAge, or -1 for zero
// or less, a deletion. ok is false for anything else, which browsers
// ignore.
func parseMaxAge(v string) (secs int, ok bool) {
	digits, neg := strings.CutPrefix(v, "-")
	if !neg {
		digits = strings.TrimPrefix(v, "+")
	}
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	limit := int64(maxCookieAge / time.Second)
	n, err := strconv.ParseInt(digits, 10, 64)
	switch {
	case neg || err == nil && n == 0:
		return -1, true
	case err != nil || n > limit:
		n = limit
	}
	return int(n), true
}

// expiresAt is when a stored cookie expires by Max-Age (which wins) or
// Expires, within maxCookieAge; zero for a session cookie.
func expiresAt(c *http.Cookie, now time.Time) time.Time {
	limit := now.Add(maxCookieAge)
	switch {
	case c.MaxAge > 0 && int64(c.MaxAge) < int64(maxCookieAge/time.Second):
		return now.Add(time.Duration(c.MaxAge) * time.Second)
	case c.MaxAge > 0:
		return limit
	case c.Expires.After(limit):
		return limit
	}
	return c.Expires
}

// parseCookieDate is the cookie-date algorithm of RFC 6265bis §5.1.1, which
// browsers read Expires with: the time, day, month and year are the first
// tokens of their shapes, in any order, among any delimiters; two-digit
// years are 1970 to 2069 and the zone is always UTC. Unlike the RFC and
// like Chromium, a year before 1601 is a date long past, not an error.
func parseCookieDate(s string) (time.Time, bool) {
	var hour, minute, sec, day, month, year int
	var foundTime, foundDay, foundMonth, foundYear bool
	for _, tok := range strings.FieldsFunc(s, isDateDelimiter) {
		switch {
		case !foundTime && parseCookieTime(tok, &hour, &minute, &sec):
			foundTime = true
		case !foundDay && leadingDigits(tok, 1, 2, &day):
			foundDay = true
		case !foundMonth && len(tok) >= 3 && strings.Contains("jan feb mar apr may jun jul aug sep oct nov dec ", lowerASCII(tok[:3])+" "):
			month = strings.Index("jan feb mar apr may jun jul aug sep oct nov dec ", lowerASCII(tok[:3]))/4 + 1
			foundMonth = true
		case !foundYear && leadingDigits(tok, 2, 4, &year):
			foundYear = true
		}
	}
	switch {
	case year >= 70 && year <= 99:
		year += 1900
	case year >= 0 && year <= 69:
		year += 2000
	}
	if !foundTime || !foundDay || !foundMonth || !foundYear || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
	if t.Day() != day {
		return time.Time{}, false // 30 February
	}
	return t, true
}

// isDateDelimiter is the delimiter of RFC 6265bis §5.1.1.
func isDateDelimiter(r rune) bool {
	return r == '\t' || r >= 0x20 && r <= 0x2f || r >= 0x3b && r <= 0x40 || r >= 0x5b && r <= 0x60 || r >= 0x7b && r <= 0x7e
}

// leadingDigits reads the min to max digits tok starts with, when no
// further digit follows them, into n.
func leadingDigits(tok string, min, max int, n *int) bool {
	k := 0
	for k < len(tok) && tok[k] >= '0' && tok[k] <= '9' {
		k++
	}
	if k < min || k > max {
		return false
	}
	*n, _ = strconv.Atoi(tok[:k])
	return true
}

// parseCookieTime reads the time production of RFC 6265bis §5.1.1:
// hh:mm:ss, each one or two digits, then nothing or a non-digit.
func parseCookieTime(tok string, h, m, s *int) bool {
	parts := strings.SplitN(tok, ":", 3)
	if len(parts) != 3 {
		return false
	}
	var v [3]int
	for i, p := range parts {
		k := 0
		for k < len(p) && p[k] >= '0' && p[k] <= '9' {
			k++
		}
		if k < 1 || k > 2 || i < 2 && k != len(p) {
			return false
		}
		v[i], _ = strconv.Atoi(p[:k])
	}
	*h, *m, *s = v[0], v[1], v[2]
	return true
}

// cookieHeader writes the Cookie header of cookies as browsers do (RFC
// 6265bis §5.8.3): name=value pairs joined by "; ", a cookie without a
// name as its value alone, every value as it was set. net/http's writer
// would send "=v" for the one and drop bytes of the other.
func cookieHeader(cs []*http.Cookie) string {
	var b strings.Builder
	for i, c := range cs {
		if i > 0 {
			b.WriteString("; ")
		}
		if c.Name != "" {
			b.WriteString(c.Name + "=")
		}
		if c.Quoted {
			b.WriteString(`"` + c.Value + `"`)
		} else {
			b.WriteString(c.Value)
		}
	}
	return b.String()
}

func trimWSP(s string) string { return strings.Trim(s, " \t") }

// lowerASCII lower-cases ASCII letters only: attribute names are matched
// byte for byte, without Unicode folding (which would read "ſecure" as
// "secure").
func lowerASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

func hasPrefixFold(s, lowerPrefix string) bool {
	return len(s) >= len(lowerPrefix) && lowerASCII(s[:len(lowerPrefix)]) == lowerPrefix
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
	if s == "" || !isASCII(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
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
