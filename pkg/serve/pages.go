package serve

import (
	"crypto/rand"
	"encoding/base64"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/ssoctl/ssoctl/pkg/chain"
)

// The roles' pages are small and self-contained: no external assets, no
// JavaScript except the interstitial's one-line auto-submit, which runs
// under a per-response CSP nonce.

const pageStyle = `body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1d1d1f}
h1{font-size:1.4rem}code,.code{font:14px ui-monospace,monospace;background:#f2f2f4;padding:.1rem .3rem;border-radius:4px}
.muted{color:#6e6e73;font-size:.9rem}ul{padding-left:1.2rem}a.button,button{display:inline-block;padding:.5rem 1rem;border-radius:6px;border:1px solid #0a66c2;background:#0a66c2;color:#fff;text-decoration:none;font:inherit;cursor:pointer}`

var pages = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("pages").Parse(`
{{define "head"}}<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer"><title>{{.}}</title><style>` + pageStyle + `</style></head><body>{{end}}

{{define "error"}}{{template "head" .Title}}
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
{{if .Reasons}}<ul>{{range .Reasons}}<li><span class="code">{{.Code}}</span> {{.Message}}</li>{{end}}</ul>{{end}}
{{if .RetryURL}}<p><a class="button" href="{{.RetryURL}}">{{if .RetryLabel}}{{.RetryLabel}}{{else}}Try again{{end}}</a></p>{{end}}
<p class="muted">{{.Role}} · HTTP {{.Status}}{{if .RequestID}} · request id <span class="code">{{.RequestID}}</span>{{end}}</p>
</body></html>{{end}}

{{define "interstitial"}}{{template "head" "Signing you in…"}}
<h1>Signing you in…</h1>
<form method="post" action="{{.Action}}">
<input type="hidden" name="token" value="{{.Token}}">
<noscript><p>JavaScript is off: continue by hand.</p><button type="submit">Continue to {{.Target}}</button></noscript>
</form>
<script nonce="{{.Nonce}}">document.forms[0].submit()</script>
</body></html>{{end}}

{{define "resume"}}<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer"><meta http-equiv="refresh" content="0;url={{.URL}}"><title>{{.Title}}</title><style>` + pageStyle + `</style></head><body>
<h1>{{.Title}}</h1>
<p>{{.Done}} of {{.Total}} apps so far.</p>
<p><a class="button" href="{{.URL}}">Continue</a></p>
</body></html>{{end}}

{{define "logout_confirm"}}{{template "head" "Sign out?"}}
<h1>Sign out?</h1>
<p>A page on another site sent you here to sign out of <strong>{{.Service}}</strong>, and of every app you signed in to through it.</p>
<form method="post" action="{{.Action}}"><button type="submit">Sign out</button></form>
<p class="muted">If you did not mean to sign out, close this page: nothing has changed.</p>
</body></html>{{end}}

{{define "landing"}}{{template "head" .Title}}
<h1>{{.Title}}</h1>
{{if .SignedIn}}<p>Signed in as <strong>{{.Who}}</strong>{{if .UserRole}} ({{.UserRole}}){{end}}.</p>
<p class="muted">IdP session <span class="code">{{.Session}}</span>, this cookie until {{.Until}}.</p>
{{else}}<p>Not signed in here.</p>{{if .LoginURL}}<p><a class="button" href="{{.LoginURL}}">Sign in</a></p>{{end}}{{end}}
<p class="muted">{{.Service}} · ssoctl</p>
</body></html>{{end}}
`))
})

// errorPage is what a person sees when a step of the chain refuses: the
// reason in words and codes and the request id to quote, never a stack
// trace or a silent redirect.
type errorPage struct {
	Status     int
	Title      string
	Message    string
	Reasons    []pageReason
	RetryURL   string
	RetryLabel string
	Role       string
	RequestID  string
}

type pageReason struct{ Code, Message string }

// pageCSP lets a page use its inline style and nothing else.
var pageCSP = pageCSPWith("'self'")

// pageCSPWith is pageCSP with forms allowed to post to formAction.
func pageCSPWith(formAction string) string {
	return "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action " + formAction + "; frame-ancestors 'none'"
}

func writeError(w http.ResponseWriter, r *http.Request, p errorPage) {
	p.RequestID = RequestID(w)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Cache-Control", "no-store")
	if p.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "5")
	}
	w.WriteHeader(p.Status)
	_ = pages().ExecuteTemplate(w, "error", p)
}

type interstitialPage struct {
	Action string
	Token  string
	Target string
	Nonce  string
}

// chainFormAction is the CSP form-action of a page whose form starts a
// redirect through the chain: 'self' and chainOrigins.
func chainFormAction(c *chain.Chain) string {
	return strings.Join(append([]string{"'self'"}, chainOrigins(c)...), " ")
}

// chainOrigins lists, as CSP sources, every origin a chain's redirects may
// pass through: its roles and its return_to patterns (a pattern's "*."
// host is a valid CSP wildcard). A form whose submission starts such a
// redirect chain needs them all in form-action, since browsers check
// form-action on every redirect after the submission, not only the first
// request.
func chainOrigins(c *chain.Chain) []string {
	seen := map[string]bool{}
	var out []string
	add := func(raw string) {
		o := raw
		if i := strings.Index(o, "://"); i >= 0 {
			if j := strings.IndexAny(o[i+3:], "/?#"); j >= 0 {
				o = o[:i+3+j]
			}
		}
		if o != "" && !seen[o] && !strings.ContainsAny(o, " ;,'") {
			seen[o] = true
			out = append(out, o)
		}
	}
	add(c.Issuer.URL)
	add(c.IdP.PublicURL)
	for _, r := range c.Receivers {
		add(r.URL)
	}
	for _, p := range c.ReturnTo.Allow {
		add(p)
	}
	sort.Strings(out)
	return out
}

// writeInterstitial carries a token by auto-submitted POST (form_post), so
// it never lands in an address bar, history, a Referer or an access log.
// formAction holds the chain's origins: the receiver the form posts to
// redirects on through the chain.
func writeInterstitial(w http.ResponseWriter, action, target, formAction, tok string) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	nonce := base64.RawStdEncoding.EncodeToString(b[:])
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-"+nonce+"'; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(http.StatusOK)
	_ = pages().ExecuteTemplate(w, "interstitial", interstitialPage{Action: action, Token: tok, Target: target, Nonce: nonce})
}

// resumePage moves a long walk through the receivers on by itself (a meta
// refresh, no script): being a page, not a redirect, it starts the
// browser's count of redirects in a row again (see receiversPerRun).
type resumePage struct {
	Title       string
	URL         string
	Done, Total int
}

func writeResume(w http.ResponseWriter, p resumePage) { writePage(w, "resume", p) }

// landingPage shows who is signed in on one role, for people clicking
// through a chain by hand.
type landingPage struct {
	Title    string
	Service  string // the role: "portal (receiver)"
	SignedIn bool
	Who      string
	UserRole string
	Session  string
	Until    string
	LoginURL string
}

func writeLanding(w http.ResponseWriter, p landingPage) { writePage(w, "landing", p) }

// writePage answers 200 with the named template under pageCSP, never
// cached.
func writePage(w http.ResponseWriter, name string, data any) { writePageUnder(w, pageCSP, name, data) }

// writePageUnder is writePage under the policy csp.
func writePageUnder(w http.ResponseWriter, csp, name string, data any) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", csp)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_ = pages().ExecuteTemplate(w, name, data)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
