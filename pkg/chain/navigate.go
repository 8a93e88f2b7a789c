package chain

import (
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// specialSchemes are the WHATWG URL Standard's special schemes, whose URLs
// browsers parse with the backslash and slash rules below.
var specialSchemes = map[string]bool{"http": true, "https": true, "ws": true, "wss": true, "ftp": true}

var schemePrefix = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
})

// resolveLocation resolves a redirect's Location against the URL that
// answered, as Fetch does: resolveURL, and a Location without a fragment
// keeps the request's (Fetch's HTTP-redirect fetch step 13, RFC 9110
// §10.2.2).
func resolveLocation(base *url.URL, ref string) (*url.URL, error) {
	next, err := resolveURL(base, ref)
	if err != nil {
		return nil, err
	}
	if specialSchemes[next.Scheme] && !strings.Contains(ref, "#") {
		next.Fragment, next.RawFragment = base.Fragment, base.RawFragment
	}
	return next, nil
}

// resolveURL parses ref (a Location, a form action, a refresh's or a
// script's URL, <base href>) relative to base the way a browser does, not
// the way net/url does. The two disagree on exactly the shapes open
// redirects are built from: a browser reads "/\evil.example" and
// "///evil.example" as the host evil.example, "https:evil.example" (another
// scheme than the base's) as https://evil.example, and "https://%65vil.example"
// as evil.example, where net/url sees paths on the same host or nothing it
// can parse. The walk follows what the browser would, so a hop is judged
// where it really lands (WHATWG URL Standard, basic URL parser): the host
// percent-decoded, in lower case, IDNA to punycode, an IPv4 address in any
// of its spellings as a dotted quad; the default port left out; "%2e"
// segments resolved like "."; the query percent-encoded as it travels.
// What the standard fails on (a bad port, a space in the host) is an
// error.
func resolveURL(base *url.URL, ref string) (*url.URL, error) {
	ref = strings.Trim(ref, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f ")
	ref = strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(ref)
	cut := len(ref)
	if i := strings.IndexAny(ref, "?#"); i >= 0 {
		cut = i
	}
	head, tail := ref[:cut], ref[cut:]
	scheme, prefix := strings.ToLower(base.Scheme), ""
	if m := schemePrefix().FindString(head); m != "" {
		scheme = strings.ToLower(strings.TrimSuffix(m, ":"))
		if !specialSchemes[scheme] {
			return url.Parse(ref)
		}
		head = strings.ReplaceAll(head[len(m):], `\`, "/")
		if scheme != strings.ToLower(base.Scheme) || strings.HasPrefix(head, "//") {
			head, prefix = "//"+head, scheme+":"
		} // else the same scheme without "//": a relative reference (https:foo)
	} else {
		head = strings.ReplaceAll(head, `\`, "/")
	}
	path := head
	if rest, ok := strings.CutPrefix(head, "//"); ok {
		// Browsers skip every extra slash before a special URL's
		// authority.
		rest = strings.TrimLeft(rest, "/")
		end := strings.IndexByte(rest, '/')
		if end < 0 {
			end = len(rest)
		}
		auth, err := browserAuthority(rest[:end], scheme)
		if err != nil {
			return nil, err
		}
		prefix += "//" + auth
		path = rest[end:]
	}
	u, err := url.Parse(prefix + dotSegments(path) + tail)
	if err != nil {
		return nil, err
	}
	next := base.ResolveReference(u)
	next.RawQuery = encodeQuery(next.RawQuery)
	// The fragment is ref's alone: net/url keeps base's for a reference
	// with an empty path and fragment.
	next.Fragment, next.RawFragment = u.Fragment, u.RawFragment
	return next, nil
}

// dotSegments spells the segments of path that a browser reads as "." or
// ".." ("%2e", ".%2E" and the like) as those, for net/url to resolve.
func dotSegments(path string) string {
	if !strings.Contains(path, "%") {
		return path
	}
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		switch strings.ToLower(seg) {
		case "%2e":
			segs[i] = "."
		case ".%2e", "%2e.", "%2e%2e":
			segs[i] = ".."
		}
	}
	return strings.Join(segs, "/")
}

// encodeQuery percent-encodes a special URL's query as browsers send it
// (the special-query percent-encode set): controls, space, ", #, ', <, >
// and every byte beyond ASCII; escapes already there stay.
func encodeQuery(q string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c <= ' ' || c > '~' || strings.IndexByte("\"#'<>", c) >= 0 {
			if b.Len() == 0 {
				b.WriteString(q[:i])
			}
			b.Write([]byte{'%', hex[c>>4], hex[c&15]})
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return q
	}
	return b.String()
}

// browserAuthority is a special URL's authority as a browser keeps it:
// userinfo as written, the host by browserHost, the port in decimal and
// left out when it is the scheme's default.
func browserAuthority(auth, scheme string) (string, error) {
	userinfo := ""
	if i := strings.LastIndexByte(auth, '@'); i >= 0 {
		userinfo, auth = auth[:i+1], auth[i+1:]
	}
	host, port := auth, ""
	if strings.HasPrefix(auth, "[") {
		end := strings.IndexByte(auth, ']')
		if end < 0 {
			return "", errors.New("an IPv6 address without its closing bracket")
		}
		host = auth[:end+1]
		switch rest := auth[end+1:]; {
		case strings.HasPrefix(rest, ":"):
			port = rest[1:]
		case rest != "":
			return "", errors.New("characters after an IPv6 address")
		}
	} else if i := strings.IndexByte(auth, ':'); i >= 0 {
		host, port = auth[:i], auth[i+1:]
	}
	h, err := browserHost(host)
	if err != nil {
		return "", err
	}
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || strings.Trim(port, "0123456789") != "" {
			return "", errors.New("a port that is not a number from 0 to 65535")
		}
		port = strconv.FormatUint(n, 10)
		if defaultPorts[scheme] == port {
			port = ""
		}
	}
	if port != "" {
		h += ":" + port
	}
	return userinfo + h, nil
}

var defaultPorts = map[string]string{"http": "80", "https": "443", "ws": "80", "wss": "443", "ftp": "21"}

// browserIDNA is the WHATWG URL Standard's domain to ASCII (UTS #46, not
// transitional, without the STD3 rules, so "_" stays allowed).
var browserIDNA = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.Transitional(false), idna.StrictDomainName(false), idna.CheckHyphens(false))

// browserHost is the WHATWG host parser for special URLs: an IPv6 address
// in brackets, in its short form; else the host percent-decoded, to ASCII
// by IDNA (lower case, punycode), refused when it holds a forbidden code
// point, and read as an IPv4 address (in any of the spellings the standard
// allows: 0x7f.1, 2130706433) when its last label is a number.
func browserHost(h string) (string, error) {
	if strings.HasPrefix(h, "[") {
		a, err := netip.ParseAddr(strings.TrimSuffix(h[1:], "]"))
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", errors.New("an IPv6 host that is no IPv6 address")
		}
		return "[" + a.String() + "]", nil
	}
	d, err := url.PathUnescape(h)
	if err != nil || !utf8.ValidString(d) {
		return "", errors.New("a host that does not percent-decode to UTF-8")
	}
	if isASCII(d) && !strings.Contains(strings.ToLower(d), "xn--") {
		d = strings.ToLower(d)
	} else if d, err = browserIDNA.ToASCII(d); err != nil {
		// Not idna's error, which quotes the host.
		return "", errors.New("a host that is not a valid internationalized name (UTS #46)")
	}
	if d == "" {
		return "", errors.New("an empty host")
	}
	for i := 0; i < len(d); i++ {
		if c := d[i]; c <= ' ' || c == 0x7f || strings.IndexByte("#%/:<>?@[\\]^|", c) >= 0 {
			return "", errors.New("a character browsers forbid in a host")
		}
	}
	labels := strings.Split(strings.TrimSuffix(d, "."), ".")
	if !endsInNumber(labels[len(labels)-1]) {
		return d, nil
	}
	return browserIPv4(labels)
}

// browserIPv4 is the WHATWG IPv4 parser: up to four numbers, each decimal,
// octal (a leading 0) or hex (0x), the last filling the bytes left.
func browserIPv4(parts []string) (string, error) {
	bad := errors.New("a host that ends in a number but is no IPv4 address")
	if len(parts) > 4 {
		return "", bad
	}
	var addr uint64
	for i, p := range parts {
		base := 10
		switch {
		case strings.HasPrefix(p, "0x"), strings.HasPrefix(p, "0X"):
			base, p = 16, p[2:]
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
		}
		n := uint64(0)
		if p != "" {
			var err error
			if n, err = strconv.ParseUint(p, base, 32); err != nil {
				return "", bad
			}
		}
		if i < len(parts)-1 {
			if n > 255 {
				return "", bad
			}
			addr |= n << (8 * (3 - i))
			continue
		}
		if n >= 1<<(8*(4-i)) {
			return "", bad
		}
		addr |= n
	}
	return netip.AddrFrom4([4]byte{byte(addr >> 24), byte(addr >> 16), byte(addr >> 8), byte(addr)}).String(), nil
}

// originOf is scheme://host[:port] with the default port left out and the
// host in lower case, as chain files write origins.
func originOf(u *url.URL) string {
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	port := u.Port()
	if u.Scheme == "http" && port == "80" || u.Scheme == "https" && port == "443" {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	return strings.ToLower(u.Scheme) + "://" + host
}

// Referrer policies (W3C Referrer Policy). The default is what current
// browsers use when a page sets none.
const defaultReferrerPolicy = "strict-origin-when-cross-origin"

var referrerPolicies = map[string]bool{
	"no-referrer": true, "no-referrer-when-downgrade": true, "same-origin": true, "origin": true,
	"strict-origin": true, "origin-when-cross-origin": true, "strict-origin-when-cross-origin": true, "unsafe-url": true,
}

// referrerPolicyToken reads a Referrer-Policy header (the last policy the
// browser knows wins) or, with meta, a <meta name=referrer> content, which
// also takes the legacy keywords.
func referrerPolicyToken(v string, meta bool) string {
	pol := ""
	for _, t := range strings.Split(v, ",") {
		t = strings.ToLower(strings.TrimSpace(t))
		if meta {
			switch t {
			case "never":
				t = "no-referrer"
			case "default":
				t = "strict-origin-when-cross-origin"
			case "always":
				t = "unsafe-url"
			case "origin-when-crossorigin":
				t = "origin-when-cross-origin"
			}
		}
		if referrerPolicies[t] {
			pol = t
		}
	}
	return pol
}

// pagePolicy is the referrer policy a page runs under: its meta element,
// else its header, else "" (the browser's default).
func pagePolicy(h http.Header, p *page) string {
	if p != nil && p.referrer != "" {
		return p.referrer
	}
	return referrerPolicyToken(strings.Join(h.Values("Referrer-Policy"), ","), false)
}

// keepsURLFromThirdParties reports whether a page under policy sends at
// most its origin to other origins, so a token in its path or query stays
// on the site.
func keepsURLFromThirdParties(policy string) bool {
	switch policy {
	case "no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin", "origin", "origin-when-cross-origin":
		return true
	}
	return false
}

// referer is the Referer header a navigation from src to target carries
// under policy ("" for the browser default), per W3C Referrer Policy §8.3.
func referer(src, target *url.URL, policy string) string {
	if src == nil || src.Scheme != "http" && src.Scheme != "https" {
		return ""
	}
	if policy == "" {
		policy = defaultReferrerPolicy
	}
	full := *src
	full.User, full.Fragment, full.RawFragment = nil, "", ""
	origin := originOf(src) + "/"
	same := originOf(src) == originOf(target)
	downgrade := src.Scheme == "https" && target.Scheme != "https"
	switch policy {
	case "no-referrer":
		return ""
	case "no-referrer-when-downgrade":
		if downgrade {
			return ""
		}
		return full.String()
	case "same-origin":
		if same {
			return full.String()
		}
		return ""
	case "origin":
		return origin
	case "strict-origin":
		if downgrade {
			return ""
		}
		return origin
	case "origin-when-cross-origin":
		if same {
			return full.String()
		}
		return origin
	case "unsafe-url":
		return full.String()
	}
	switch { // strict-origin-when-cross-origin
	case same:
		return full.String()
	case downgrade:
		return ""
	}
	return origin
}
