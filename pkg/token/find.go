package token

import (
	"bytes"
	"encoding/base64"
	stdjson "encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Found is a token Find located, and where.
type Found struct {
	Token string
	Where string // e.g. `query parameter "token"`, `form field "token"`, "text"
}

// tokenParams are the parameter names handoffs and OIDC flows put tokens in,
// searched first and in this order; any other parameter holding a
// JWT-shaped value is found after them.
var tokenParams = []string{"token", "sso_token", "handoff", "jwt", "logout_token", "id_token", "access_token"}

var jwtShape = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*`)
})

// Find locates compact JWTs in what a user pastes: a bare token, a redirect
// URL (query and fragment parameters), an application/x-www-form-urlencoded
// body (a form_post), or any text such as an HTML interstitial page or a log
// line. Known parameter names come first; a value counts only if its first
// segment decodes to a JSON object, so ordinary dotted strings are ignored.
func Find(input string) []Found {
	s := strings.TrimSpace(input)
	if s == "" {
		return nil
	}
	if isJWTShaped(s) {
		return []Found{{Token: s, Where: "argument"}}
	}
	if u, err := url.Parse(s); err == nil && !strings.ContainsAny(s, " \t\r\n<>\"") && (u.Scheme != "" || strings.HasPrefix(s, "/") || strings.ContainsAny(s, "?#")) {
		var out []Found
		out = append(out, fromValues(u.Query(), "query parameter")...)
		if u.Fragment != "" {
			if frag, err := url.ParseQuery(u.Fragment); err == nil {
				out = append(out, fromValues(frag, "fragment parameter")...)
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	if !strings.ContainsAny(s, " \t\r\n<>\"") && strings.Contains(s, "=") {
		if form, err := url.ParseQuery(s); err == nil {
			if out := fromValues(form, "form field"); len(out) > 0 {
				return out
			}
		}
	}
	var out []Found
	seen := map[string]bool{}
	for _, m := range jwtShape().FindAllString(s, -1) {
		if isJWTShaped(m) && !seen[m] {
			seen[m] = true
			out = append(out, Found{Token: m, Where: "text"})
		}
	}
	return out
}

func fromValues(v url.Values, kind string) []Found {
	var out []Found
	taken := map[string]bool{}
	add := func(name string) {
		for _, val := range v[name] {
			if isJWTShaped(val) {
				out = append(out, Found{Token: val, Where: fmt.Sprintf("%s %q", kind, name)})
			}
		}
		taken[name] = true
	}
	for _, name := range tokenParams {
		add(name)
	}
	var rest []string
	for name := range v {
		if !taken[name] {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	for _, name := range rest {
		add(name)
	}
	return out
}

// LooksLikeJWT reports whether s is a compact JWT: three base64url segments
// whose first decodes to a JSON object. A host name such as example.co.uk
// has the dots and the alphabet, and "example" even decodes to a '{'
// byte, so the header must be valid JSON as well.
func LooksLikeJWT(s string) bool { return isJWTShaped(s) }

func isJWTShaped(s string) bool {
	if strings.Count(s, ".") != 2 || badCharIndex(s) >= 0 {
		return false
	}
	head := s[:strings.IndexByte(s, '.')]
	if len(head) < 4 {
		return false
	}
	// Not strict: a token with non-canonical trailing bits is still found,
	// and Inspect then says what is wrong with it.
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return false
	}
	return bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("{")) && stdjson.Valid(b)
}
