package serve

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ssoctl/ssoctl/pkg/chain"
)

// The dev IdP's browser flow is its own and simple: one HTML form, no
// JavaScript, no Kratos flow objects. What a browser does with it (cookie,
// redirects) is what it does with Kratos's.

const (
	// devIdPCSRFTTL is how long a login form stays good.
	devIdPCSRFTTL = 15 * time.Minute
	// devIdPCSRFRenew: a form cookie with less left than this is replaced
	// when the page is shown again, so a form never dies while typed into.
	devIdPCSRFRenew  = 5 * time.Minute
	devIdPMaxForm    = 16 << 10
	devIdPMaxReturn  = 2048
	devIdPWrongLogin = "The email or password is wrong."
)

const devIdPStyle = `body{font:16px/1.5 system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;color:#1d1d1f}
h1{font-size:1.4rem}label{font-weight:600}input{font:inherit;width:100%;box-sizing:border-box;padding:.4rem;margin:.2rem 0 .8rem;border:1px solid #8e8e93;border-radius:6px}
button{padding:.5rem 1.2rem;border-radius:6px;border:1px solid #0a66c2;background:#0a66c2;color:#fff;font:inherit;cursor:pointer}
.error{color:#b00020;font-weight:600}.muted{color:#6e6e73;font-size:.9rem}`

// devIdPStyleSource lets the one inline style run under a CSP that allows
// nothing else.
var devIdPStyleSource = func() string {
	sum := sha256.Sum256([]byte(devIdPStyle))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

var devIdPPages = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("devidp").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>{{.Title}} · {{.Name}}</title><style>` + devIdPStyle + `</style></head>
<body><main>
<h1>{{.Title}}</h1>
{{if .Error}}<p class="error" role="alert" id="devidp-error">{{.Error}}</p>
{{end}}{{if .Message}}<p>{{.Message}}</p>
{{end}}{{if .Login}}<form method="post" action="{{if .Action}}{{.Action}}{{else}}/self-service/login{{end}}"{{if .Error}} aria-describedby="devidp-error"{{end}}>
<input type="hidden" name="csrf_token" value="{{.CSRF}}">
{{if .Challenge}}<input type="hidden" name="login_challenge" value="{{.Challenge}}">
{{end}}{{if .ReturnTo}}<input type="hidden" name="return_to" value="{{.ReturnTo}}">
{{end}}<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required value="{{.Email}}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
{{if .ReturnHost}}<p class="muted">After signing in you go back to {{.ReturnHost}}.</p>
{{end}}{{end}}{{if .LinkURL}}<p><a href="{{.LinkURL}}">{{.LinkText}}</a></p>
{{end}}<p class="muted">{{.Name}} · ssoctl development identity provider</p>
</main></body></html>
`))
})

// devIdPPage is one page of the dev IdP.
type devIdPPage struct {
	Status     int
	Title      string
	Name       string
	Error      string
	Message    string
	Login      bool
	CSRF       string
	ReturnTo   string
	ReturnHost string
	Email      string
	LinkURL    string
	LinkText   string
	Action     string // the form's target; default /self-service/login
	Challenge  string // Hydra's login_challenge (devidp_hydra.go)
}

// devIdPSecurityHeaders go on every answer. formAction adds an origin to
// form-action: browsers apply form-action to the redirect that follows a
// form submission too, and a login ends in a redirect to return_to.
func devIdPSecurityHeaders(h http.Header, formAction string) {
	fa := "'self'"
	if formAction != "" {
		fa += " " + formAction
	}
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src "+devIdPStyleSource+"; form-action "+fa+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
}

func (d *DevIdP) render(w http.ResponseWriter, p devIdPPage) {
	fa := d.formAction
	if fa == "" {
		fa = devIdPOrigin(p.ReturnTo)
	}
	d.renderAllowing(w, p, fa)
}

// renderAllowing renders p with formAction as the CSP form-action origins
// besides 'self'.
func (d *DevIdP) renderAllowing(w http.ResponseWriter, p devIdPPage, fa string) {
	p.Name = d.name
	var buf bytes.Buffer
	if err := devIdPPages().Execute(&buf, p); err != nil {
		d.log.Error("dev idp page", "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	devIdPSecurityHeaders(w.Header(), fa)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(p.Status)
	_, _ = w.Write(buf.Bytes())
}

// loginPage is GET /self-service/login/browser?return_to=URL. return_to
// is checked before anything else: a refused one gets a 400 page, no form
// and no cookie. A browser with a usable session goes straight back.
func (d *DevIdP) loginPage(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		devIdPMethodNotAllowed(w, "GET")
		return
	}
	returnTo, err := d.returnTo(r.URL.Query()["return_to"])
	if err != nil {
		d.refuseReturnTo(w, err)
		return
	}
	// refresh=true (Kratos's step-up) asks for the password even so.
	if _, ok := d.sessionFromRequest(r); ok && r.URL.Query().Get(chain.KratosRefreshParam) != "true" {
		devIdPRedirect(w, returnTo)
		return
	}
	d.render(w, d.loginForm(w, r, returnTo, "", "", http.StatusOK))
}

// login is POST /self-service/login.
func (d *DevIdP) login(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		devIdPMethodNotAllowed(w, "POST")
		return
	}
	if err := d.crossOrigin.Check(r); err != nil {
		d.log.Info("dev idp login", "result", "refused", "reason", "cross-origin post")
		d.render(w, devIdPPage{Status: http.StatusForbidden, Title: "Sign-in refused",
			Error:   "This sign-in form was posted from another site.",
			LinkURL: devIdPLoginBrowser, LinkText: "Open the sign-in page"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, devIdPMaxForm)
	if err := r.ParseForm(); err != nil {
		d.render(w, devIdPPage{Status: http.StatusBadRequest, Title: "Sign-in refused",
			Error: "The sign-in form could not be read.", LinkURL: devIdPLoginBrowser, LinkText: "Open the sign-in page"})
		return
	}
	returnTo, err := d.returnTo(r.PostForm["return_to"])
	if err != nil {
		d.refuseReturnTo(w, err)
		return
	}
	if !d.csrfValid(r, r.PostForm.Get("csrf_token")) {
		d.log.Info("dev idp login", "result", "refused", "reason", "csrf")
		d.render(w, devIdPPage{Status: http.StatusForbidden, Title: "Sign-in form expired",
			Error:   "This sign-in form has expired or did not come from this page.",
			Message: "Load the sign-in page again and sign in from there.",
			LinkURL: devIdPLoginURL(returnTo), LinkText: "Open the sign-in page", ReturnTo: returnTo})
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	user := d.authenticate(strings.ToLower(email), r.PostForm.Get("password"))
	if user == nil {
		d.log.Info("dev idp login", "result", "refused", "reason", "wrong email or password")
		d.render(w, d.loginForm(w, r, returnTo, email, devIdPWrongLogin, http.StatusUnauthorized))
		return
	}
	now := d.now()
	if d.refreshLogin(w, r, user, now, returnTo) {
		return
	}
	token, s, err := d.sessions.create(user, now, d.ttl)
	if err != nil {
		d.log.Warn("dev idp login", "result", "refused", "reason", "session store full")
		w.Header().Set("Retry-After", "60")
		d.render(w, devIdPPage{Status: http.StatusServiceUnavailable, Title: "Try again later",
			Error: "The identity provider holds too many sessions to start another one."})
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: d.cookieName, Value: token, Path: "/", Domain: d.cookieDomain,
		MaxAge: int(d.ttl / time.Second), HttpOnly: true, Secure: d.secure, SameSite: http.SameSiteLaxMode,
	})
	d.clearCookie(w, d.csrfCookie, "", http.SameSiteStrictMode)
	d.log.Info("dev idp login", "result", "ok", "identity", user.id, "session", s.id)
	devIdPRedirect(w, returnTo)
}

// logout is GET /self-service/logout/browser?return_to=URL: it revokes the
// browser's session, clears the cookie and sends the browser on.
func (d *DevIdP) logout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		devIdPMethodNotAllowed(w, "GET")
		return
	}
	returnTo, err := d.returnTo(r.URL.Query()["return_to"])
	if err != nil {
		d.refuseReturnTo(w, err)
		return
	}
	for _, c := range r.CookiesNamed(d.cookieName) {
		if id, ok := d.sessions.revokeToken(c.Value); ok {
			d.log.Info("dev idp session revoked", "session", id, "by", "logout")
		}
	}
	d.clearCookie(w, d.cookieName, d.cookieDomain, http.SameSiteLaxMode)
	devIdPRedirect(w, returnTo)
}

// home is GET /: who this browser is signed in as. It has no form, so
// nothing on it can be submitted by mistake.
func (d *DevIdP) home(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		devIdPMethodNotAllowed(w, "GET")
		return
	}
	s, ok := d.sessionFromRequest(r)
	if !ok {
		d.render(w, devIdPPage{Status: http.StatusOK, Title: "Not signed in",
			LinkURL: devIdPLoginBrowser, LinkText: "Sign in"})
		return
	}
	who := s.user.email
	if role, _ := s.user.metadataPublic["role"].(string); role != "" {
		who += " (" + role + ")"
	}
	d.render(w, devIdPPage{Status: http.StatusOK, Title: "Signed in",
		Message: "Signed in as " + who + "; session " + s.id + " until " + s.expiresAt.Format(time.RFC3339) + ".",
		LinkURL: devIdPLogoutPath, LinkText: "Sign out"})
}

// loginForm is the login page, with a form token bound to the CSRF cookie.
func (d *DevIdP) loginForm(w http.ResponseWriter, r *http.Request, returnTo, email, problem string, status int) devIdPPage {
	p := devIdPPage{Status: status, Title: "Sign in", Login: true, CSRF: d.csrfToken(w, r),
		ReturnTo: returnTo, Email: email, Error: problem}
	if u, err := url.Parse(returnTo); err == nil && returnTo != "" {
		p.ReturnHost = u.Host
	}
	return p
}

// authenticate returns the user whose email and password these are. It
// always runs bcrypt, against a dummy hash for an unknown email, so the
// answer takes as long whichever part is wrong.
func (d *DevIdP) authenticate(email, password string) *devIdPUser {
	u := d.users[email]
	hash := d.dummyHash
	if u != nil {
		hash = u.hash
	}
	pw := []byte(password)
	tooLong := len(pw) > 72
	if tooLong {
		// bcrypt reads 72 bytes; the rest must not be ignored silently.
		pw = pw[:72]
	}
	err := bcrypt.CompareHashAndPassword(hash, pw)
	if u == nil || tooLong || len(pw) == 0 || err != nil {
		return nil
	}
	return u
}

func (d *DevIdP) refuseReturnTo(w http.ResponseWriter, err error) {
	d.log.Info("dev idp return_to refused", "error", err.Error())
	d.render(w, devIdPPage{Status: http.StatusBadRequest, Title: "This sign-in link is not allowed",
		Error:   "return_to refused: " + err.Error(),
		Message: "The identity provider sends browsers back only to addresses the chain allows (return_to.allow in the chain file). Start the sign-in again from the application."})
}

// returnTo checks the return_to values of a request: none, or exactly one
// that passes both the IdP's own checks and the chain's allowlist.
func (d *DevIdP) returnTo(values []string) (string, error) {
	switch {
	case len(values) == 0 || len(values) == 1 && values[0] == "":
		return "", nil
	case len(values) > 1:
		return "", errors.New("more than one return_to")
	}
	raw := values[0]
	if err := devIdPReturnShape(raw); err != nil {
		return "", err
	}
	if d.allow == nil {
		return "", errors.New("this identity provider has no return_to allowlist")
	}
	if err := d.allow(raw); err != nil {
		return "", err
	}
	return raw, nil
}

// devIdPReturnShape refuses, whatever the allowlist says, a return_to a
// browser could read differently than a server: relative or
// scheme-relative URLs (//evil), userinfo, backslashes, spaces, control
// and non-ASCII characters. The errors never repeat the URL.
func devIdPReturnShape(raw string) error {
	if len(raw) > devIdPMaxReturn {
		return errors.New("return_to is longer than 2048 bytes")
	}
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '\\':
			return errors.New("return_to holds a backslash, which browsers read as a slash")
		case c <= ' ' || c >= 0x7f:
			return errors.New("return_to holds a space, a control or a non-ASCII character; percent-encode it")
		}
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("return_to is not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("return_to must be an absolute http or https URL")
	case u.User != nil:
		return errors.New("return_to carries userinfo (user@host), which hides the real host")
	case u.Opaque != "" || u.Host == "" || devIdPOrigin(raw) == "":
		return errors.New("return_to has no valid host")
	}
	return nil
}

// devIdPOrigin is raw's scheme://host[:port] for a CSP source, or "" when
// raw has none or the host holds anything a CSP could misread.
func devIdPOrigin(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	for _, c := range u.Host {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && !strings.ContainsRune(".-:[]", c) {
			return ""
		}
	}
	return u.Scheme + "://" + u.Host
}

func devIdPLoginURL(returnTo string) string {
	if returnTo == "" {
		return devIdPLoginBrowser
	}
	return devIdPLoginBrowser + "?" + url.Values{"return_to": {returnTo}}.Encode()
}

// devIdPRedirect sends a 303 to target, which the caller has checked. The
// Location header is set directly: http.Redirect would rewrite a target
// it takes for a relative path.
func devIdPRedirect(w http.ResponseWriter, target string) {
	if target == "" {
		target = "/"
	}
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusSeeOther)
}

func (d *DevIdP) clearCookie(w http.ResponseWriter, name, domain string, site http.SameSite) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", Domain: domain, MaxAge: -1,
		HttpOnly: true, Secure: d.secure, SameSite: site})
}

// The CSRF cookie holds a random value and its expiry; the form carries an
// HMAC of that value under a key only this process has. A form token is
// good only with the cookie it was made for, and only until the expiry.

func (d *DevIdP) csrfToken(w http.ResponseWriter, r *http.Request) string {
	now := d.now()
	if v, exp, ok := d.csrfCookieValue(r, now); ok && exp.Sub(now) > devIdPCSRFRenew {
		return d.csrfMAC(v)
	}
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	exp := now.Add(devIdPCSRFTTL)
	v := base64.RawURLEncoding.EncodeToString(raw[:]) + "." + strconv.FormatInt(exp.Unix(), 10)
	http.SetCookie(w, &http.Cookie{Name: d.csrfCookie, Value: v, Path: "/", MaxAge: int(devIdPCSRFTTL / time.Second),
		HttpOnly: true, Secure: d.secure, SameSite: http.SameSiteStrictMode})
	return d.csrfMAC(v)
}

func (d *DevIdP) csrfValid(r *http.Request, token string) bool {
	if token == "" {
		return false
	}
	v, _, ok := d.csrfCookieValue(r, d.now())
	return ok && hmac.Equal([]byte(token), []byte(d.csrfMAC(v)))
}

// csrfCookieValue returns the request's unexpired CSRF cookie value.
func (d *DevIdP) csrfCookieValue(r *http.Request, now time.Time) (string, time.Time, bool) {
	for _, c := range r.CookiesNamed(d.csrfCookie) {
		rnd, expText, ok := strings.Cut(c.Value, ".")
		if !ok || len(rnd) != 22 {
			continue
		}
		sec, err := strconv.ParseInt(expText, 10, 64)
		if err != nil {
			continue
		}
		if exp := time.Unix(sec, 0); now.Before(exp) && exp.Sub(now) <= devIdPCSRFTTL {
			return c.Value, exp, true
		}
	}
	return "", time.Time{}, false
}

func (d *DevIdP) csrfMAC(value string) string {
	m := hmac.New(sha256.New, d.csrfKey)
	m.Write([]byte("ssoctl dev idp csrf\x00"))
	m.Write([]byte(value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
