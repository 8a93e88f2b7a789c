package chain

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Reasons a URL is refused. Allow and the chain validation wrap them in a
// *URLError, so errors.Is matches the reason.
var (
	ErrTooLong        = errors.New("URL longer than 2048 bytes")
	ErrEmptyURL       = errors.New("empty URL")
	ErrInvalidUTF8    = errors.New("invalid UTF-8")
	ErrControlChar    = errors.New("control or invisible character")
	ErrEncodedControl = errors.New("percent-encoded control character")
	ErrBadPercent     = errors.New("malformed percent-encoding")
	ErrBackslash      = errors.New("backslash, which browsers read as a slash")
	ErrSpace          = errors.New("unencoded space")
	ErrRelative       = errors.New("relative URL")
	ErrSchemeRelative = errors.New("scheme-relative URL (//host), which keeps the attacker's choice of host")
	ErrScheme         = errors.New("scheme is not http or https")
	ErrNoSlashes      = errors.New("scheme not followed by \"//\"")
	ErrUserinfo       = errors.New("userinfo (user@) before the host")
	ErrHost           = errHost
	ErrPort           = errors.New("invalid port")
	ErrUnsafePath     = errors.New("unsafe path")
	ErrNotAllowed     = errors.New("not allowed by return_to.allow")
)

// maxURLLength bounds every URL this package reads; browsers and servers cap
// Location and query lengths too, and a cap keeps the checks cheap.
const maxURLLength = 2048

// URLError says why a URL was refused. Detail says where or what; it never
// repeats the input, which may come from an attacker or hold a password.
type URLError struct {
	Reason error
	Detail string
}

// Error returns the reason and the detail, one line.
func (e *URLError) Error() string {
	if e.Detail == "" {
		return e.Reason.Error()
	}
	return e.Reason.Error() + ": " + e.Detail
}

// Unwrap returns the reason, so errors.Is(err, ErrUserinfo) works.
func (e *URLError) Unwrap() error { return e.Reason }

func urlErr(reason error, format string, args ...any) *URLError {
	return &URLError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// urlParts is an absolute http(s) URL split the way a WHATWG-conforming
// browser splits it, with the authority in canonical form.
type urlParts struct {
	scheme   string // "http" or "https"
	wildcard bool   // host had a leading "*." (patterns only)
	host     string // canonical, without the "*."
	port     string // decimal, "" when it is the scheme's default
	rest     string // everything from the first '/', '?' or '#' after the authority
}

func (p urlParts) hostPort() string {
	h := p.host
	if p.wildcard {
		h = "*." + h
	}
	if p.port == "" {
		return h
	}
	return h + ":" + p.port
}

func (p urlParts) origin() string { return p.scheme + "://" + p.hostPort() }

// parseAbsolute splits raw into scheme, authority and the rest, refusing
// everything where Go's net/url and a browser could disagree about the
// host. wildcard allows a leading "*." label (return_to patterns).
func parseAbsolute(raw string, wildcard bool) (urlParts, error) {
	var p urlParts
	if raw == "" {
		return p, &URLError{Reason: ErrEmptyURL}
	}
	if len(raw) > maxURLLength {
		return p, urlErr(ErrTooLong, "%d bytes", len(raw))
	}
	if err := checkChars(raw); err != nil {
		return p, err
	}
	if err := checkPercent(raw); err != nil {
		return p, err
	}
	if strings.HasPrefix(raw, "//") {
		return p, &URLError{Reason: ErrSchemeRelative}
	}
	scheme, after, ok := splitScheme(raw)
	if !ok {
		return p, &URLError{Reason: ErrRelative}
	}
	if strings.Contains(scheme, ".") {
		// host.example.com:8080 – a host and port without a scheme.
		return p, urlErr(ErrRelative, "no scheme before the host")
	}
	p.scheme = strings.ToLower(scheme)
	if p.scheme != "http" && p.scheme != "https" {
		if !strings.HasPrefix(after, "//") {
			// Not named: in ops:pw@host the "scheme" is a user name, and in
			// javascript:… it is an attacker's.
			return p, &URLError{Reason: ErrScheme}
		}
		return p, urlErr(ErrScheme, "%q", p.scheme)
	}
	if !strings.HasPrefix(after, "//") {
		// https:evil.com and https:/evil.com: browsers treat both as
		// https://evil.com, net/url as a path.
		return p, urlErr(ErrNoSlashes, "write %s://host", p.scheme)
	}
	after = after[2:]
	if strings.HasPrefix(after, "/") {
		return p, urlErr(ErrHost, "more than two slashes after %s:, which browsers skip to reach another host", p.scheme)
	}
	end := strings.IndexAny(after, "/?#")
	if end < 0 {
		end = len(after)
	}
	authority, rest := after[:end], after[end:]
	if strings.Contains(authority, "@") {
		return p, &URLError{Reason: ErrUserinfo}
	}
	host, port, err := splitHostPort(authority)
	if err != nil {
		return p, err
	}
	if wildcard && strings.HasPrefix(host, "*.") {
		p.wildcard = true
		host = host[2:]
	}
	if strings.Contains(host, "*") {
		return p, urlErr(ErrHost, "\"*\" is allowed only as the whole first label of a return_to pattern")
	}
	if p.host, err = canonicalHost(host); err != nil {
		return p, &URLError{Reason: ErrHost, Detail: strings.TrimPrefix(err.Error(), errHost.Error()+": ")}
	}
	if p.port, err = canonicalPort(p.scheme, port); err != nil {
		return p, err
	}
	p.rest = rest
	return p, nil
}

// checkChars refuses bytes that browsers strip or reinterpret (tab and
// newline are removed by the WHATWG parser, so "java\nscript:" runs), and
// characters that hide in logs and address bars.
func checkChars(raw string) error {
	for i, r := range raw {
		switch {
		case r == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(raw[i:]); size == 1 {
				return urlErr(ErrInvalidUTF8, "at byte %d", i)
			}
		case r < 0x20 || r == 0x7f:
			return urlErr(ErrControlChar, "%U at byte %d", r, i)
		case r == '\\':
			return urlErr(ErrBackslash, "at byte %d", i)
		case r == ' ':
			return urlErr(ErrSpace, "at byte %d; percent-encode it as %%20", i)
		case r >= 0x80 && (unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) || unicode.IsSpace(r)):
			return urlErr(ErrControlChar, "%U at byte %d", r, i)
		}
	}
	return nil
}

// checkPercent refuses malformed escapes and escaped control characters,
// also when escaped twice (%250d), since some hop down the line may decode
// again before writing a header or a log line.
func checkPercent(raw string) error {
	s := raw
	for round := 0; round < 3 && strings.Contains(s, "%"); round++ {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			if s[i] != '%' {
				b.WriteByte(s[i])
				continue
			}
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				if round == 0 {
					return urlErr(ErrBadPercent, "at byte %d", i)
				}
				b.WriteByte(s[i]) // a literal %, escaped once as %25
				continue
			}
			c := unhex(s[i+1])<<4 | unhex(s[i+2])
			if c < 0x20 || c == 0x7f {
				return urlErr(ErrEncodedControl, "%%%02X", c)
			}
			b.WriteByte(c)
			i += 2
		}
		s = b.String()
	}
	return nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// splitScheme returns the scheme (RFC 3986 §3.1) and what follows the colon.
func splitScheme(raw string) (scheme, after string, ok bool) {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.':
			if i == 0 {
				return "", "", false
			}
		case c == ':':
			if i == 0 {
				return "", "", false
			}
			return raw[:i], raw[i+1:], true
		default:
			return "", "", false
		}
	}
	return "", "", false
}

// splitHostPort splits an authority without userinfo. An empty port after a
// colon counts as no port, as in WHATWG.
func splitHostPort(authority string) (host, port string, err error) {
	if strings.HasPrefix(authority, "[") {
		end := strings.Index(authority, "]")
		if end < 0 {
			return "", "", urlErr(ErrHost, "IPv6 literal without closing bracket")
		}
		host, tail := authority[:end+1], authority[end+1:]
		switch {
		case tail == "":
			return host, "", nil
		case tail[0] == ':':
			return host, tail[1:], nil
		}
		return "", "", urlErr(ErrHost, "characters after the IPv6 literal")
	}
	host, port, _ = strings.Cut(authority, ":")
	return host, port, nil
}

// canonicalPort returns port as a plain decimal, or "" for none or the
// scheme's default, so :443, :0443 and nothing compare equal for https.
func canonicalPort(scheme, port string) (string, error) {
	if port == "" {
		return "", nil
	}
	// The port is not repeated: in https://ops:pa/ss@host, which browsers
	// end at the '/', it is the start of a password.
	if len(port) > 5 || strings.Trim(port, "0123456789") != "" {
		return "", urlErr(ErrPort, "not a number from 1 to 65535")
	}
	n, _ := strconv.Atoi(port)
	if n < 1 || n > 65535 {
		return "", urlErr(ErrPort, "not a number from 1 to 65535")
	}
	if scheme == "http" && n == 80 || scheme == "https" && n == 443 {
		return "", nil
	}
	return strconv.Itoa(n), nil
}

// parseRest parses the path, query and fragment behind a canonical origin.
func parseRest(p urlParts) (*url.URL, error) {
	u, err := url.Parse(p.origin() + p.rest)
	if err != nil {
		// Unreachable for input that passed parseAbsolute; kept so that a
		// net/url change fails closed.
		return nil, urlErr(ErrUnsafePath, "net/url refused it")
	}
	if u.Path == "" {
		u.Path = "/"
		u.RawPath = ""
	}
	if err := checkPath(u.EscapedPath()); err != nil {
		return nil, err
	}
	return u, nil
}

// checkPath refuses paths that a server or a later relative redirect could
// read differently from the prefix check: dot segments (also escaped; WHATWG
// resolves %2e too), escaped slashes and backslashes, and a leading "//",
// which a relative redirect would read as another host.
func checkPath(escaped string) error {
	if strings.HasPrefix(escaped, "//") {
		return urlErr(ErrUnsafePath, "path starts with \"//\"")
	}
	lower := strings.ToLower(escaped)
	if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") {
		return urlErr(ErrUnsafePath, "escaped slash or backslash (%%2F, %%5C) in the path")
	}
	for _, seg := range strings.Split(lower, "/") {
		seg = strings.ReplaceAll(seg, "%2e", ".")
		if seg == "." || seg == ".." {
			return urlErr(ErrUnsafePath, "dot segment %q in the path", seg)
		}
	}
	return nil
}
