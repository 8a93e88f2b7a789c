package token

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// maxReturnURL bounds ret values; longer ones are refused. A hub walk's ret
// carries the signed walk state and a return_to of up to 2 KiB.
const maxReturnURL = 4096

// CheckReturnURL checks that s is an absolute http or https URL that every
// URL parser reads the same way: no userinfo, no backslash, no whitespace or
// control characters, and no percent-encoded CR, LF, TAB or NUL anywhere.
// These are the shapes behind open redirects and header injection
// (`//evil`, `https:evil`, `https://good@evil`, `https://good\@evil`,
// `%0d%0aSet-Cookie:`). It does not decide which origins are allowed; that
// is the chain's return allowlist.
func CheckReturnURL(s string) error {
	if len(s) > maxReturnURL {
		return fmt.Errorf("is %d characters; at most %d are allowed", len(s), maxReturnURL)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c <= ' ' || c == 0x7f:
			return fmt.Errorf("contains the control or space character %q at byte %d", c, i)
		case c == '\\':
			return fmt.Errorf("contains a backslash at byte %d; browsers read it as a slash and other parsers do not", i)
		case c == '%' && i+2 < len(s):
			switch strings.ToLower(s[i+1 : i+3]) {
			case "0d", "0a", "09", "00":
				return fmt.Errorf("contains the encoded control character %%%s at byte %d", s[i+1:i+3], i)
			}
		}
	}
	lower := strings.ToLower(s)
	if !strings.HasPrefix(lower, "https://") && !strings.HasPrefix(lower, "http://") {
		return errors.New(`must be an absolute URL starting with "https://" (or "http://" in development)`)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("is not a URL: %v", err)
	}
	switch {
	case u.User != nil:
		return errors.New("has userinfo (user@host); the host after the @ is where a browser goes")
	case u.Host == "" || u.Hostname() == "":
		return errors.New("has no host")
	case strings.ContainsAny(u.Host, "@"):
		return errors.New("has an @ in its host")
	}
	if p := u.Port(); p != "" {
		for _, c := range p {
			if c < '0' || c > '9' {
				return fmt.Errorf("has a non-numeric port %q", p)
			}
		}
	}
	return nil
}
