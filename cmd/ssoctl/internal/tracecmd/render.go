package tracecmd

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/ssoctl/ssoctl/pkg/chain"
)

// What every renderer shares: URL shortening, cookie and token labels, the
// findings of a trace in one list, and the verdict.

// maxHostPath is where hostPath starts to shorten.
const maxHostPath = 72

// splitURL cuts a (redacted) URL into host[:port], path and query without
// parsing it as a URL: a redacted URL holds "<token aud=portal ttl=30s>",
// which is for people, not for url.Parse.
func splitURL(raw string) (host, path, query string) {
	rest := raw
	if _, after, ok := strings.Cut(raw, "://"); ok {
		rest = after
	}
	rest, _, _ = strings.Cut(rest, "#")
	i := strings.IndexAny(rest, "/?")
	if i < 0 {
		return rest, "/", ""
	}
	host, rest = rest[:i], rest[i:]
	path, query, _ = strings.Cut(rest, "?")
	if path == "" {
		path = "/"
	}
	return host, path, query
}

// queryKeys shortens a query to its parameter names: "return_to=…&x=…".
// Values are in the JSON document; in a table they only take room.
func queryKeys(query string) string {
	if query == "" {
		return ""
	}
	var keys []string
	for part := range strings.SplitSeq(query, "&") {
		k, _, hasValue := strings.Cut(part, "=")
		if hasValue {
			k += "=…"
		}
		keys = append(keys, k)
	}
	return strings.Join(keys, "&")
}

// requestTarget is the path with the query shortened to its names:
// "/sso?token=…".
func requestTarget(raw string) string {
	_, path, query := splitURL(raw)
	if q := queryKeys(query); q != "" {
		return path + "?" + q
	}
	return path
}

// hostPath is a URL for a table cell: no scheme, the query shortened to
// its names, and a long path shortened by its middle segments, then cut:
// "accounts.company.localhost:8080/login?return_to=…",
// "auth.example.com/self-service/…/browser?return_to=…".
func hostPath(raw string) string {
	host, path, query := splitURL(raw)
	if q := queryKeys(query); q != "" {
		query = "?" + q
	}
	segs := strings.Split(path, "/")
	for len(host)+len(path)+len(query) > maxHostPath && len(segs) > 3 {
		// Keep the first and last segments, drop the one after the first,
		// and mark the gap once.
		if segs[2] == "…" {
			segs = append(segs[:2], segs[3:]...)
			if len(segs) <= 3 {
				break
			}
		}
		segs[2] = "…"
		path = strings.Join(segs, "/")
	}
	s := host + path + query
	if n := utf8.RuneCountInString(s); n > maxHostPath {
		r := []rune(s)
		s = string(r[:maxHostPath-1]) + "…"
	}
	return s
}

// hostname is host:port without the port.
func hostname(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// hopName is a step in one line: "3 GET portal.company2.localhost:8081/sso".
func hopName(s chain.Step) string {
	host, path, _ := splitURL(s.URL)
	return fmt.Sprintf("%d %s %s%s", s.N, s.Method, host, path)
}

// cookieLabel is a Set-Cookie without its value: "portal_session HttpOnly
// Lax host-only", "ory_kratos_session Domain=company.localhost",
// "csrf deleted".
// withheldLabel is a cookie the browser kept back from a request: "app2_session
// NOT SENT: SameSite=Strict on a cross-site GET from shop.example".
func withheldLabel(c chain.WithheldCookie) string {
	return c.Name + " NOT SENT: " + c.Reason
}

// withheldShort is the same for the hop table's cookie column:
// "app2_session NOT SENT (SameSite=Strict)".
func withheldShort(c chain.WithheldCookie) string {
	ss := c.SameSite
	if ss == "" {
		ss = "unset"
	}
	return c.Name + " NOT SENT (SameSite=" + ss + ")"
}

// clearedLabel is a cookie an answer's Clear-Site-Data removed:
// "portal_session from portal.company2.com CLEARED (Clear-Site-Data)".
func clearedLabel(c chain.CookieInfo) string {
	return c.Name + " from " + c.Host + " CLEARED (Clear-Site-Data)"
}

func cookieLabel(c chain.CookieInfo) string {
	parts := []string{c.Name}
	if c.Secure {
		parts = append(parts, "Secure")
	}
	if c.HttpOnly {
		parts = append(parts, "HttpOnly")
	}
	if c.SameSite != "" {
		parts = append(parts, c.SameSite)
	}
	if c.Domain == "" {
		parts = append(parts, "host-only")
	} else {
		parts = append(parts, "Domain="+c.Domain)
	}
	if c.Path != "" && c.Path != "/" {
		parts = append(parts, "Path="+c.Path)
	}
	if c.Deleted {
		parts = append(parts, "deleted")
	}
	if c.Rejected != "" {
		parts = append(parts, "REJECTED: "+c.Rejected)
	}
	return strings.Join(parts, " ")
}

// tokenLabel is a handoff token in a few words: "aud=portal ttl=30s
// jti=3f2a9c…".
func tokenLabel(t *chain.TokenSummary) string {
	if t == nil {
		return ""
	}
	aud := "(none)"
	if len(t.Audience) > 0 {
		aud = strings.Join(t.Audience, ",")
	}
	parts := []string{"aud=" + aud}
	if t.LifetimeS > 0 {
		parts = append(parts, "ttl="+strconv.FormatInt(t.LifetimeS, 10)+"s")
	}
	if t.JTIPrefix != "" {
		parts = append(parts, "jti="+strings.TrimSuffix(t.JTIPrefix, "…")+"…")
	}
	if t.MintedBy != "" {
		parts = append(parts, "by="+t.MintedBy)
	}
	if strings.HasPrefix(t.In, "form") {
		parts = append(parts, "(form_post)")
	}
	return strings.Join(parts, " ")
}

// kindLabel is the step's kind, with the form it submitted.
// oidcLabel describes an OpenID Connect step in a line: for an
// authorization request "client=ssoctl scope=openid,email pkce=S256 state
// nonce", for a callback what came back and where ("code state (query)").
// Absent state, nonce or PKCE show by their absence, and pkce=none.
func oidcLabel(o *chain.OIDCSummary) string {
	if o == nil {
		return ""
	}
	var parts []string
	if o.Kind == chain.OIDCAuthorizationRequest {
		parts = append(parts, "client="+o.ClientID)
		if len(o.Scope) > 0 {
			parts = append(parts, "scope="+strings.Join(o.Scope, ","))
		}
		if o.ResponseType != "code" {
			parts = append(parts, "response_type="+strings.ReplaceAll(o.ResponseType, " ", "+"))
		}
		if o.ResponseMode != "" {
			parts = append(parts, "mode="+o.ResponseMode)
		}
		pkce := o.CodeChallengeMethod
		if pkce == "" {
			pkce = "none"
		}
		parts = append(parts, "pkce="+pkce)
		if o.State {
			parts = append(parts, "state")
		}
		if o.Nonce {
			parts = append(parts, "nonce")
		}
		if o.Prompt != "" {
			parts = append(parts, "prompt="+o.Prompt)
		}
		if o.MaxAge != "" {
			parts = append(parts, "max_age="+o.MaxAge)
		}
		return strings.Join(parts, " ")
	}
	if o.Error != "" {
		parts = append(parts, "error="+o.Error)
	}
	if o.Code {
		parts = append(parts, "code")
	}
	parts = append(parts, o.Tokens...)
	if o.State {
		parts = append(parts, "state")
	}
	if o.In != "" {
		parts = append(parts, "("+o.In+")")
	}
	return strings.Join(parts, " ")
}

// stepTokenLabel is the TOKEN column: the OpenID Connect step and the
// token the request carried, either or both.
func stepTokenLabel(s chain.Step) string {
	var parts []string
	if l := oidcLabel(s.OIDC); l != "" {
		parts = append(parts, l)
	}
	if l := tokenLabel(s.Token); l != "" {
		parts = append(parts, l)
	}
	return strings.Join(parts, "; ")
}

func kindLabel(s chain.Step) string {
	k := string(s.Kind)
	how := ""
	switch {
	case s.Form != "":
		how = s.Form + " form"
	case s.Navigation != "":
		how = "by " + s.Navigation
	}
	switch {
	case how == "":
		return k
	case k == "":
		return how
	}
	return k + " (" + how + ")"
}

// scriptStopNote says why the walk stopped at a page that moves on by
// script.
func scriptStopNote(s chain.Step) string {
	return "the page moves on by script (" + s.ScriptNavigation + ") to a URL the script computes; trace runs no JavaScript, so the walk stopped here (walk on from where the browser goes next with --start URL)"
}

// ms formats milliseconds for people: "0.8", "12.3", "1204".
func ms(v float64) string {
	if v >= 1000 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// seconds formats milliseconds as JUnit's time attribute.
func seconds(v float64) string { return strconv.FormatFloat(v/1000, 'f', 3, 64) }

// findings is every finding of t once, in step order: the trace's list
// and what only the steps hold.
func findings(t *chain.Trace) []chain.Finding {
	type key struct {
		code, host, detail string
		step               int
	}
	seen := map[key]bool{}
	var out []chain.Finding
	add := func(f chain.Finding) {
		k := key{f.Code, f.Host, f.Detail, f.Step}
		if !seen[k] {
			seen[k] = true
			out = append(out, f)
		}
	}
	for _, f := range t.Findings {
		add(f)
	}
	for _, s := range t.Steps {
		for _, f := range s.Findings {
			if f.Step == 0 {
				f.Step = s.N
			}
			add(f)
		}
	}
	slices.SortStableFunc(out, func(a, b chain.Finding) int { return a.Step - b.Step })
	return out
}

// stepFindings are the findings about step n.
func stepFindings(all []chain.Finding, n int) []chain.Finding {
	var out []chain.Finding
	for _, f := range all {
		if f.Step == n {
			out = append(out, f)
		}
	}
	return out
}

// tally counts what the verdict says.
type tally struct {
	errors, warnings        int
	expectations, expFailed int
	probes, accepted, skip  int
	// warned counts accepted probes whose finding is a warning: they fail
	// no walk.
	warned int
}

func count(t *chain.Trace, all []chain.Finding) tally {
	var n tally
	for _, f := range all {
		if f.Severity == chain.SeverityError {
			n.errors++
		} else {
			n.warnings++
		}
	}
	for _, e := range t.Expectations {
		n.expectations++
		if !e.OK {
			n.expFailed++
		}
	}
	for _, p := range t.Probes {
		n.probes++
		switch {
		case p.Skipped != "":
			n.skip++
		case p.Fails():
			n.accepted++
		case p.Accepted():
			n.warned++
		}
	}
	return n
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// scrub replaces anything shaped like a compact JWT (base64url JSON
// header "eyJ…", two dots) with <token>. The trace holds no token by
// design; this keeps one that a hostile or unusual server put where the
// walk did not expect it (a page title, an error string) out of CI logs.
func scrub(b []byte) []byte {
	return jwtShape().ReplaceAll(b, []byte("<token>"))
}

var jwtShape = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*`)
})
