package chain

import (
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
)

// FuzzParse checks that no chain file makes Parse panic, and that a chain
// that loads can be planned.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		if _, err := Plan(c, ""); err != nil {
			t.Fatalf("a chain that loads cannot be planned: %v", err)
		}
	})
}

// FuzzAllow checks that Allow never panics, and that what it allows holds
// the invariants the issuer's /login?return_to= and every receiver's ret
// check rely on (DESIGN §9). The pattern argument is split at newlines
// into several patterns (a newline is refused in a pattern anyway), so one
// input can stand for a whole return_to.allow list.
//
// What Allow returns: an absolute http(s) URL without userinfo or opaque
// part; no CR, LF, backslash or other control character in its text, nor
// after one round of percent-decoding; an origin (scheme, lower-case
// host, an IDN host in punycode, port) that some pattern names, as
// net/url reads it back from String(), which a WHATWG parser reads the
// same way because nothing net/url and a browser disagree about is left;
// and a fixed point: allowing String() again gives String().
func FuzzAllow(f *testing.F) {
	for _, tt := range allowTests {
		f.Add(tt.pattern, tt.input)
	}
	f.Fuzz(func(t *testing.T, pattern, input string) {
		a, err := NewAllowlist(strings.Split(pattern, "\n"))
		if err != nil {
			return
		}
		u, err := a.Allow(input)
		if err != nil {
			if !errors.Is(err, ErrReturnToRefused) {
				t.Fatalf("Allow(%q) refused with %v, which does not wrap ErrReturnToRefused", input, err)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("Allow(%q) error is not one line: %q", input, err)
			}
			return
		}
		s := u.String()
		if u.User != nil || u.Opaque != "" || (u.Scheme != "http" && u.Scheme != "https") {
			t.Fatalf("Allow(%q) = %q: userinfo, opaque or bad scheme", input, s)
		}
		if i := strings.IndexFunc(s, isUnsafeURLRune); i >= 0 {
			t.Fatalf("Allow(%q) = %q: %q at byte %d", input, s, s[i], i)
		}
		if dec, err := url.PathUnescape(s); err == nil {
			if i := strings.IndexFunc(dec, func(r rune) bool { return r < 0x20 || r == 0x7f }); i >= 0 {
				// Some hop may decode before writing a header or a log line.
				t.Fatalf("Allow(%q) = %q: decodes to control character %q", input, s, dec[i])
			}
		}

		// net/url's reading of the text Allow hands to http.Redirect.
		parsed, err := url.Parse(s)
		if err != nil {
			t.Fatalf("Allow(%q) = %q, which net/url cannot parse: %v", input, s, err)
		}
		if parsed.Scheme != u.Scheme || parsed.Host != u.Host || parsed.User != nil || parsed.Opaque != "" {
			t.Fatalf("Allow(%q) = %q, read back as scheme %q host %q user %v", input, s, parsed.Scheme, parsed.Host, parsed.User)
		}
		if h := parsed.Host; h != strings.ToLower(h) || !isASCII(h) || strings.HasSuffix(parsed.Hostname(), ".") || strings.Contains(h, "@") {
			t.Fatalf("Allow(%q) = %q: host %q is not canonical", input, s, h)
		}
		if !originAllowed(a, parsed) {
			t.Fatalf("Allow(%q) = %q, whose origin %s://%s no pattern of %q names", input, s, parsed.Scheme, parsed.Host, a.Patterns())
		}
		if strings.HasPrefix(parsed.EscapedPath(), "//") {
			t.Fatalf("Allow(%q) = %q: its path would read as a host in a relative redirect", input, s)
		}

		again, err := a.Allow(s)
		if err != nil || again.String() != s {
			t.Fatalf("Allow(%q) = %q, but Allow of that = %v, %v", input, s, again, err)
		}
	})
}

// isUnsafeURLRune is what no URL Allow returns may hold: what browsers
// strip (tab, CR, LF), read as a slash (backslash), or hide (other
// control characters).
func isUnsafeURLRune(r rune) bool {
	return r < 0x20 || r == 0x7f || r == '\\' || r == ' ' || unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r)
}

// originAllowed reports whether some pattern of a names u's origin, read
// from net/url's parse of the result and compared with each pattern's
// canonical scheme, host and port: a wildcard stands for exactly one label
// and never for an IP address.
func originAllowed(a *Allowlist, u *url.URL) bool {
	port := u.Port()
	if u.Scheme == "http" && port == "80" || u.Scheme == "https" && port == "443" {
		port = ""
	}
	host := u.Hostname()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	for _, p := range a.patterns {
		if p.parts.scheme != u.Scheme || p.parts.port != port {
			continue
		}
		if !p.parts.wildcard {
			if host == p.parts.host {
				return true
			}
			continue
		}
		label, ok := strings.CutSuffix(host, "."+p.parts.host)
		if ok && label != "" && !strings.Contains(label, ".") && net.ParseIP(host) == nil {
			return true
		}
	}
	return false
}
