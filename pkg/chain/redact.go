package chain

import (
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ssoctl/ssoctl/pkg/token"
)

// Redaction in a Trace. A trace is meant to be pasted into tickets and
// chats, so it must hold nothing that signs anyone in:
//
//   - every JWT-shaped value anywhere in a URL (query, fragment, path, and
//     URLs nested in parameters such as return_to or a token's ret) becomes
//     <token aud=portal ttl=30s>, which keeps what one debugs a chain with;
//   - parameters named like a credential (password, client_secret,
//     SAMLResponse, …) become <redacted>, and parameters named like a token
//     (token, id_token, access_token, …) holding something that is not a
//     JWT become <token>: an opaque bearer token is still a bearer token;
//   - an authorization code, a PKCE code_verifier and Hydra's login,
//     consent and logout challenges become <redacted> too: a walk can stop
//     before the relying party redeems the code (a refused callback), and a
//     challenge answers for its flow until it is accepted;
//   - a URL's userinfo becomes (redacted);
//   - state, nonce and flow stay: they are single use and they are what
//     one compares across hops and log lines when a walk goes wrong.
//
// Cookie values and form bodies are never recorded at all.

// jwtCandidate finds what may be a compact JWT inside text; tokenShaped
// then checks each match the way token.Find does.
var jwtCandidate = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*`)
})

// tokenShaped reports whether s is a compact JWT: token.Find's shape
// (three base64url segments, the first starting like a JSON object) and a
// first segment that is all JSON. token.Find's check alone takes host names
// such as example.co.uk for tokens ("example" decodes to "{" and noise),
// which would hide hosts in a trace and invent handoffs.
func tokenShaped(s string) bool { return token.LooksLikeJWT(s) }

// credentialParams are parameter names whose values are secrets, compared
// case-insensitively with '-' read as '_'.
var credentialParams = map[string]bool{
	"password": true, "passwd": true, "pwd": true, "pass": true, "passphrase": true,
	"secret": true, "client_secret": true, "api_key": true, "apikey": true,
	"private_key": true, "credential": true, "credentials": true, "samlresponse": true,
	// OAuth 2.0 and Ory Hydra: an authorization code (or the PKCE verifier
	// that redeems it) is a one-time credential, and a login, consent or
	// logout challenge answers for the flow it names.
	"code": true, "code_verifier": true, "device_code": true,
	"login_challenge": true, "consent_challenge": true, "logout_challenge": true,
}

// tokenParams are parameter names that carry bearer tokens, JWT or not.
var tokenParams = map[string]bool{
	"token": true, "sso_token": true, "handoff": true, "jwt": true, "logout_token": true,
	"id_token": true, "access_token": true, "refresh_token": true, "session_token": true,
	"assertion": true,
}

func paramClass(name string) (credential, bearer bool) {
	n := strings.ReplaceAll(strings.ToLower(name), "-", "_")
	return credentialParams[n], tokenParams[n]
}

// redactURL returns raw fit for a Trace: tokens replaced by placeholders,
// credentials and userinfo hidden (see the rules above). It works on the
// string, not on a re-encoded url.URL, so that what is left is exactly what
// went over the wire.
func redactURL(raw string, now time.Time) string {
	rest, frag, hasFrag := strings.Cut(raw, "#")
	base, query, hasQuery := strings.Cut(rest, "?")
	var b strings.Builder
	b.WriteString(hideUserinfo(base))
	if hasQuery {
		b.WriteByte('?')
		b.WriteString(redactParams(query))
	}
	if hasFrag {
		b.WriteByte('#')
		if strings.Contains(frag, "=") {
			frag = redactParams(frag)
		}
		b.WriteString(frag)
	}
	return redactText(b.String(), now)
}

// hideUserinfo replaces the user:password@ part of a URL's authority with
// "(redacted)". The authority ends at the first '/' or '\' after "//", as
// browsers read it, so an '@' in the path (an email address) stays.
func hideUserinfo(s string) string {
	i := strings.Index(s, "//")
	if i < 0 {
		return s
	}
	start := i + 2
	end := len(s)
	if j := strings.IndexAny(s[start:], "/\\"); j >= 0 {
		end = start + j
	}
	at := strings.LastIndexByte(s[start:end], '@')
	if at < 0 {
		return s
	}
	return s[:start] + "(redacted)" + s[start+at:]
}

// redactParams hides credential values in an a=b&c=d string, keeping its
// encoding.
func redactParams(q string) string {
	parts := strings.Split(q, "&")
	for i, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		if !ok || v == "" {
			continue
		}
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			value = v
		}
		switch cred, bearer := paramClass(name); {
		case cred:
			parts[i] = k + "=<redacted>"
		case bearer && !tokenShaped(value):
			parts[i] = k + "=<token>"
		}
	}
	return strings.Join(parts, "&")
}

// redactText replaces every JWT-shaped run in s with its placeholder.
func redactText(s string, now time.Time) string {
	if !strings.Contains(s, ".") {
		return s
	}
	return jwtCandidate().ReplaceAllStringFunc(s, func(m string) string {
		// A token in a percent-encoded URL inside a parameter follows
		// "%3D", whose "3D" the candidate swallows: try later starts
		// within the first segment too.
		dot := strings.IndexByte(m, '.')
		for i := 0; i < dot; i++ {
			if tokenShaped(m[i:]) {
				return m[:i] + tokenPlaceholder(m[i:], now)
			}
		}
		return m
	})
}

// tokenPlaceholder is what a Trace shows instead of a token:
// <token aud=portal ttl=30s>, with what Inspect can read of it, or <token>.
func tokenPlaceholder(raw string, now time.Time) string {
	in, err := token.Inspect(raw, now)
	if err != nil {
		return "<token>"
	}
	var b strings.Builder
	b.WriteString("<token")
	if aud := in.Token.Claims.Audience; len(aud) > 0 {
		b.WriteString(" aud=")
		for i, a := range aud {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(placeholderSafe(a))
		}
	}
	if life := in.Token.Claims.Lifetime(); life > 0 {
		b.WriteString(" ttl=")
		b.WriteString(shortDuration(life))
	}
	b.WriteByte('>')
	return b.String()
}

// placeholderSafe keeps an audience readable and harmless inside a
// placeholder: it comes from the token, so from whoever minted it.
func placeholderSafe(s string) string {
	const max = 64
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= max {
			b.WriteString("…")
			break
		}
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', strings.ContainsRune("._:/-", r):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// shortDuration renders a token lifetime compactly: 30s, 5m, 1h30m.
func shortDuration(d time.Duration) string {
	if d >= 48*time.Hour {
		return token.FormatLifetime(d)
	}
	return token.FormatSetting(d.Round(time.Second))
}
