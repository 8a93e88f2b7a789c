package chain

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// ErrReturnToRefused is wrapped by every error Allow returns, so callers
// can tell a refused return_to from other failures with errors.Is.
var ErrReturnToRefused = errors.New("return_to refused")

// Allowlist decides where a login may end (return_to) and where a token's
// ret claim may point. It is built from patterns of the form
//
//	scheme://host[:port][/path/prefix]
//
// where host may start with "*." to match exactly one more DNS label. The
// path prefix matches whole segments: /app matches /app and /app/x but not
// /apple. A pattern without a path matches every path.
type Allowlist struct {
	patterns []allowPattern
}

type allowPattern struct {
	raw   string
	parts urlParts
	path  string // escaped prefix; "/" matches everything
}

// NewAllowlist parses patterns. It reports every bad pattern, joined, each
// with how to fix it; a pattern is quoted with any user:password@ part
// redacted.
func NewAllowlist(patterns []string) (*Allowlist, error) {
	a := &Allowlist{}
	var errs []error
	for i, raw := range patterns {
		p, err := parsePattern(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("return_to pattern %d %s: %w; %s", i+1, quoteURL(raw), err, patternFix(err)))
			continue
		}
		a.patterns = append(a.patterns, p)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return a, nil
}

// Patterns returns the patterns as written.
func (a *Allowlist) Patterns() []string {
	out := make([]string, len(a.patterns))
	for i, p := range a.patterns {
		out[i] = p.raw
	}
	return out
}

// Reasons a pattern is refused, beyond the URL reasons.
var (
	errPatternQuery     = errors.New("a pattern may not have a query or fragment")
	errWildcardIP       = errors.New("\"*.\" cannot precede an IP address")
	errWildcardOnSuffix = errors.New("a wildcard over a public suffix would allow every site under it")
)

// patternFix says how to repair a pattern that parsePattern refused.
func patternFix(err error) string {
	switch {
	case errors.Is(err, ErrRelative), errors.Is(err, ErrSchemeRelative):
		return "write the scheme, like https://*.company.com"
	case errors.Is(err, errWildcardOnSuffix):
		return "name the registrable domain, like https://*.company.com"
	case errors.Is(err, errWildcardIP):
		return "list the address without \"*.\""
	case errors.Is(err, ErrUserinfo):
		return "remove the user:password@ part: a pattern matches origins, and a return_to with userinfo is always refused"
	}
	return "write an origin with an optional path prefix, like https://*.company.com or https://portal.company2.com/app"
}

// parsePattern reads one allowlist pattern.
func parsePattern(raw string) (allowPattern, error) {
	p := allowPattern{raw: raw}
	parts, err := parseAbsolute(raw, true)
	if err != nil {
		return p, err
	}
	if strings.ContainsAny(parts.rest, "?#") {
		return p, errPatternQuery
	}
	if parts.wildcard {
		if hostIsIP(parts.host) {
			return p, errWildcardIP
		}
		if ps, _ := publicsuffix.PublicSuffix(parts.host); ps == parts.host {
			return p, fmt.Errorf("%w: %q is a public suffix", errWildcardOnSuffix, parts.host)
		}
	}
	if err := checkPath(parts.rest); err != nil {
		return p, err
	}
	p.parts = parts
	p.path = parts.rest
	if p.path == "" {
		p.path = "/"
	}
	return p, nil
}

// Allow parses raw as a browser would and returns it in canonical form if
// a pattern allows it. Redirect to the returned URL, not to raw: it is the
// form that was checked. Every refusal wraps ErrReturnToRefused and a reason
// such as ErrUserinfo; the error never repeats raw.
func (a *Allowlist) Allow(raw string) (*url.URL, error) {
	parts, err := parseAbsolute(raw, false)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrReturnToRefused, err)
	}
	u, err := parseRest(parts)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrReturnToRefused, err)
	}
	for _, p := range a.patterns {
		if p.matches(parts, u.EscapedPath()) {
			return u, nil
		}
	}
	return nil, fmt.Errorf("%w: %w", ErrReturnToRefused, urlErr(ErrNotAllowed, "no pattern matches %s%s", parts.origin(), u.EscapedPath()))
}

// coversOrigin reports whether some pattern allows at least one path on the
// given origin; lint uses it to warn about roles no login can return to.
func (a *Allowlist) coversOrigin(o urlParts) bool {
	for _, p := range a.patterns {
		if p.matchesOrigin(o) {
			return true
		}
	}
	return false
}

func (p allowPattern) matches(u urlParts, path string) bool {
	return p.matchesOrigin(u) && pathHasPrefix(path, p.path)
}

func (p allowPattern) matchesOrigin(u urlParts) bool {
	if u.scheme != p.parts.scheme || u.port != p.parts.port {
		return false
	}
	if !p.parts.wildcard {
		return u.host == p.parts.host
	}
	// Exactly one label in front of the parent: never the parent itself,
	// never "evilcompany.com" for *.company.com, never a.b.company.com.
	label, ok := strings.CutSuffix(u.host, "."+p.parts.host)
	return ok && label != "" && !strings.Contains(label, ".") && !hostIsIP(u.host)
}

// pathHasPrefix matches whole path segments.
func pathHasPrefix(path, prefix string) bool {
	if prefix == "/" || path == prefix {
		return true
	}
	if strings.HasSuffix(prefix, "/") {
		return strings.HasPrefix(path, prefix)
	}
	return strings.HasPrefix(path, prefix+"/")
}
