package chain

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
)

// specialSchemes are the WHATWG URL Standard's special schemes, whose URLs
// browsers parse with the backslash and slash rules below.
var specialSchemes = map[string]bool{"http": true, "https": true, "ws": true, "wss": true, "ftp": true}

var schemePrefix = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
})

// resolveLocation resolves a Location (or form action, or meta refresh)
// against base the way a browser does, not the way net/url does. The two
// disagree on exactly the shapes open redirects are built from: a browser
// reads "/\evil.example" and "///evil.example" as the host evil.example,
// and "https:evil.example" (another scheme than the base's) as
// https://evil.example, where net/url sees paths on the same host. The
// walk follows what the browser would, so a redirect is judged where it
// really lands (WHATWG URL Standard, basic URL parser).
func resolveLocation(base *url.URL, ref string) (*url.URL, error) {
	ref = strings.Trim(ref, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f ")
	ref = strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(ref)
	cut := len(ref)
	if i := strings.IndexAny(ref, "?#"); i >= 0 {
		cut = i
	}
	head, tail := ref[:cut], ref[cut:]
	if m := schemePrefix().FindString(head); m != "" {
		scheme := strings.ToLower(strings.TrimSuffix(m, ":"))
		if !specialSchemes[scheme] {
			return url.Parse(ref)
		}
		rest := strings.ReplaceAll(head[len(m):], `\`, "/")
		if scheme != base.Scheme || strings.HasPrefix(rest, "//") {
			head = scheme + "://" + strings.TrimLeft(rest, "/")
		} else {
			// Same scheme, no "//": a relative reference (https:foo).
			head = relativeHead(rest)
		}
	} else {
		head = relativeHead(strings.ReplaceAll(head, `\`, "/"))
	}
	u, err := url.Parse(head + tail)
	if err != nil {
		return nil, err
	}
	next := base.ResolveReference(u)
	if next.Fragment == "" && next.RawFragment == "" && !strings.Contains(ref, "#") {
		// RFC 9110 §10.2.2: a redirect without a fragment keeps the
		// original request's.
		next.Fragment, next.RawFragment = base.Fragment, base.RawFragment
	}
	return next, nil
}

// relativeHead turns any run of two or more leading slashes into exactly
// two: browsers skip every extra slash before a special URL's authority.
func relativeHead(h string) string {
	if !strings.HasPrefix(h, "//") {
		return h
	}
	return "//" + strings.TrimLeft(h, "/")
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
