package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/ssoctl/ssoctl/pkg/chain"
)

// browserLogin is one login through a chain in a real browser.
type browserLogin struct {
	// Chain is the chain file, a template for startChain: {{port "name"}}
	// is a free loopback port. Host names stay under .localhost.
	Chain string
	// Data fills the template's other fields (nil: none).
	Data any
	// User and Password are typed into the IdP's login form: the dev IdP's
	// (email, password), or a Kratos flow's as the issuer renders it
	// (identifier, password).
	User, Password string
	// BeforeLogin runs once the chain's roles listen and before the browser
	// opens: a chain whose IdP is a real Kratos starts it here, on the
	// ports the template picked (startChain leaves them free).
	BeforeLogin func(t *testing.T, c *runningChain)
}

// loginResult is what the browser saw.
type loginResult struct {
	Chain    *runningChain
	LoginURL string // the page with the login form (token-free)
	// LoginScreenshot is the login form before it is filled in, PNG.
	LoginScreenshot string
	Landed          string // where the login ended: the start URL's return_to
	Hops            []hop  // every document request from /login to the landing, tokens redacted
	Domains         []domainResult
	Console         []consoleEntry
	// Browser is the signed-in browser, for a test to go on with (log
	// out, say); it closes with the test.
	Browser *browser
}

// domainResult is one role's origin, visited after the login.
type domainResult struct {
	Role       string // "issuer" or a receiver's name
	URL        string // its landing page
	Status     int64
	SignedIn   bool
	Text       string   // the landing page's visible text
	Cookies    []string // the browser's cookies for the origin: name and flags, never a value
	AuthStatus int64    // GET /auth (receivers only)
	AuthEmail  string   // /auth's X-Auth-Email
	Screenshot string   // the landing page, PNG
}

// loginInBrowser serves l.Chain, opens the issuer's /login in headless
// Chromium with return_to set as chain.StartURL sets it
// (expect.final_url_prefix, else the last receiver's landing page), signs
// in on the IdP's form as l.User, and waits until the browser lands on
// return_to. Then, in the same browser, it opens every role's landing
// page, checks that it says l.User is signed in, that the browser holds the
// role's HttpOnly cookie, and screenshots it, and checks that every
// receiver's forward-auth endpoint answers 200 for l.User. Any
// Content-Security-Policy violation on the way fails the test.
func loginInBrowser(t *testing.T, l browserLogin) (res loginResult) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test: skipped in -short mode")
	}
	chromiumPath(t) // skip (or fail, in CI) before serving anything
	c := startChain(t, l.Chain, l.Data)
	if l.BeforeLogin != nil {
		l.BeforeLogin(t, c)
	}
	start := chain.StartURL(c.Chain)
	su, err := url.Parse(start)
	if err != nil {
		t.Fatal(err)
	}
	returnTo := su.Query().Get(chain.ReturnToParam)
	b := newBrowser(t, c.Hosts())
	res = loginResult{Chain: c, Landed: returnTo, Browser: b}
	defer func() {
		res.Console = b.Console()
		for _, e := range res.Console {
			if e.CSP() {
				t.Errorf("Content-Security-Policy violation: %s", e)
			} else if e.Level == "error" || e.Level == "warning" {
				t.Logf("console: %s", e)
			}
		}
	}()

	// The issuer sends a browser without a session to the IdP, which
	// shows a login form (the dev IdP's own, or a Kratos flow on the
	// issuer's /ui/login).
	const (
		password   = `input[type="password"]`
		identifier = `input[name="identifier"]:not([type="hidden"]), input[name="email"]:not([type="hidden"])`
		// The form's submit button: Kratos wants the one that names the
		// method (name=method value=password), the dev IdP has one.
		submit = `(() => { const f = document.querySelector('input[type="password"]').form;` +
			` return f.querySelector('[type="submit"][name="method"][value="password"]') || f.querySelector('[type="submit"]') })()`
	)
	if err := chromedp.Run(b.ctx,
		chromedp.Navigate(start),
		chromedp.WaitVisible(password, chromedp.ByQuery),
		chromedp.Location(&res.LoginURL),
	); err != nil {
		t.Fatalf("open %s and wait for a login form: %v\n%s", start, err, b.report())
	}
	res.LoginURL = redactURL(res.LoginURL)
	dir := outputDir(t)
	res.LoginScreenshot = b.screenshot(dir, "login")
	t.Logf("login form at %s; screenshot %s", res.LoginURL, res.LoginScreenshot)
	b.mu.Lock()
	before := len(b.navigated)
	b.mu.Unlock()
	// A second step of an identifier-first flow shows the password alone.
	var askIdentifier bool
	if err := chromedp.Run(b.ctx, chromedp.Evaluate(`document.querySelector('`+identifier+`') !== null`, &askIdentifier)); err != nil {
		t.Fatal(err)
	}
	var fill []chromedp.Action
	if askIdentifier {
		fill = append(fill, chromedp.Clear(identifier, chromedp.ByQuery), chromedp.SendKeys(identifier, l.User, chromedp.ByQuery))
	}
	fill = append(fill,
		chromedp.SendKeys(password, l.Password, chromedp.ByQuery),
		chromedp.Click(submit, chromedp.ByJSPath),
	)
	if err := chromedp.Run(b.ctx, fill...); err != nil {
		t.Fatalf("fill and submit the login form: %v\n%s", err, b.report())
	}
	// The chain ends on return_to, or stops early on a refusal: an error
	// status, a failed request, or a CSP violation (a blocked form or
	// redirect leaves the browser where it was).
	b.waitFor("the login to land on "+returnTo, func() bool {
		if n := len(b.navigated); n > before && b.navigated[n-1] == returnTo && b.loaded {
			return true
		}
		for _, h := range b.hops {
			if h.Status >= 400 || h.Error != "" {
				return true
			}
		}
		for _, e := range b.console {
			if e.CSP() {
				return true
			}
		}
		return false
	})
	res.Hops = b.Hops()
	var landed string
	if err := chromedp.Run(b.ctx, chromedp.Location(&landed)); err != nil {
		t.Fatal(err)
	}
	if landed != returnTo {
		t.Fatalf("the login stopped at %s, want %s\n%s", redactURL(landed), returnTo, b.report())
	}
	for _, h := range res.Hops {
		t.Logf("hop: %s", h)
	}

	visit := func(role, origin, cookie string, receiver bool) domainResult {
		t.Helper()
		d := domainResult{Role: role, URL: origin + "/"}
		resp, err := chromedp.RunResponse(b.ctx, chromedp.Navigate(d.URL))
		if err != nil {
			t.Fatalf("%s: open %s: %v\n%s", role, d.URL, err, b.report())
		}
		d.Status = resp.Status
		var cookies []*network.Cookie
		if err := chromedp.Run(b.ctx,
			// Evaluate, not Text: a DOM query right after a navigation
			// can hold a node id the new document has already replaced.
			chromedp.Evaluate(`document.body.innerText`, &d.Text),
			chromedp.ActionFunc(func(ctx context.Context) error {
				var err error
				cookies, err = network.GetCookies().WithURLs([]string{d.URL}).Do(ctx)
				return err
			}),
		); err != nil {
			t.Fatalf("%s: read %s: %v", role, d.URL, err)
		}
		own := false
		for _, ck := range cookies {
			d.Cookies = append(d.Cookies, cookieFlags(ck))
			own = own || ck.Name == cookie && ck.HTTPOnly
		}
		if !own {
			t.Errorf("%s: the browser holds no HttpOnly %s cookie for %s: %v", role, cookie, d.URL, d.Cookies)
		}
		d.Screenshot = b.screenshot(dir, role)
		d.SignedIn = strings.Contains(d.Text, "Signed in as "+l.User) && !strings.Contains(d.Text, "Not signed in")
		if d.Status != 200 || !d.SignedIn {
			t.Errorf("%s: %s answered %d and does not say %s is signed in:\n%s", role, d.URL, d.Status, l.User, d.Text)
		}
		if !receiver {
			t.Logf("%s: %s %d, signed in %t, cookies %v; screenshot %s", role, d.URL, d.Status, d.SignedIn, d.Cookies, d.Screenshot)
			return d
		}
		// Forward auth, as a proxy in front of the app would ask it, with
		// the cookies this browser holds.
		auth := origin + "/auth"
		resp, err = chromedp.RunResponse(b.ctx, chromedp.Navigate(auth))
		if err != nil {
			t.Fatalf("%s: open %s: %v", role, auth, err)
		}
		d.AuthStatus, d.AuthEmail = resp.Status, header(resp.Headers, "X-Auth-Email")
		if d.AuthStatus != 200 || d.AuthEmail != l.User {
			t.Errorf("%s: %s = %d with X-Auth-Email %q, want 200 and %q", role, auth, d.AuthStatus, d.AuthEmail, l.User)
		}
		t.Logf("%s: %s %d, signed in %t, cookies %v, /auth %d; screenshot %s", role, d.URL, d.Status, d.SignedIn, d.Cookies, d.AuthStatus, d.Screenshot)
		return d
	}
	for _, r := range c.Receivers {
		if !r.SharedCookie {
			res.Domains = append(res.Domains, visit(r.Name, originOf(r.URL), r.Cookie.Name, true))
		}
	}
	res.Domains = append(res.Domains, visit("issuer", originOf(c.Issuer.URL), c.Issuer.Cookie.Name, false))
	return res
}

// cookieFlags describes a cookie without its value: "portal_session
// (HttpOnly, SameSite=Lax)".
func cookieFlags(c *network.Cookie) string {
	var flags []string
	if c.HTTPOnly {
		flags = append(flags, "HttpOnly")
	}
	if c.Secure {
		flags = append(flags, "Secure")
	}
	if c.SameSite != "" {
		flags = append(flags, "SameSite="+c.SameSite.String())
	}
	if !strings.HasPrefix(c.Domain, ".") {
		flags = append(flags, "host-only")
	} else {
		flags = append(flags, "Domain="+c.Domain)
	}
	return c.Name + " (" + strings.Join(flags, ", ") + ")"
}

// header reads a response header case-insensitively, as Chromium reports
// them in the case the server sent.
func header(h network.Headers, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

// The dev chain of examples/local, in Chromium: one login at the dev IdP,
// then signed in on three root domains.
func TestBrowser_devChain(t *testing.T) {
	t.Parallel()
	res := loginInBrowser(t, browserLogin{Chain: devChain, User: "alice@example.com", Password: "wonderland"})
	var sso int
	for _, h := range res.Hops {
		if strings.Contains(h.URL, "/sso?") {
			sso++
		}
	}
	if sso != 2 {
		t.Errorf("the browser passed %d handoffs by query, want 2 (portal, dashboard)", sso)
	}
}

// With token.transport form_post the issuer hands each token over in an
// auto-submitted form whose script runs under a CSP nonce, and the forms'
// form-action must allow every origin the redirects after them pass
// through: only a real browser enforces both.
func TestBrowser_devChainFormPost(t *testing.T) {
	t.Parallel()
	res := loginInBrowser(t, browserLogin{Chain: devChain, Data: map[string]string{"Transport": "form_post"}, User: "alice@example.com", Password: "wonderland"})
	var posts int
	for _, h := range res.Hops {
		if strings.Contains(h.URL, "token=") {
			t.Errorf("a token travelled in a URL with form_post: %s", h)
		}
		if h.Method == "POST" && strings.HasSuffix(strings.SplitN(h.URL, "?", 2)[0], "/sso") {
			posts++
		}
	}
	if posts != 2 {
		t.Errorf("the browser posted %d handoffs, want 2 (portal, dashboard)", posts)
	}
}

// The CSP check above is only as good as the browser's reports: a page
// whose policy refuses its own inline script must show up as a violation.
func TestBrowser_reportsCSPViolations(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("browser test: skipped in -short mode")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><title>csp</title><h1>csp</h1><script>document.title = "ran"</script>`)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	b := newBrowser(t, []string{"csp.company.localhost"})
	page := "http://csp.company.localhost:" + u.Port() + "/"
	if err := chromedp.Run(b.ctx, chromedp.Navigate(page)); err != nil {
		t.Fatal(err)
	}
	b.waitFor("a CSP violation", func() bool {
		for _, e := range b.console {
			if e.CSP() {
				return true
			}
		}
		return false
	})
	for _, e := range b.Console() {
		t.Logf("console: %s", e)
	}
	var title string
	if err := chromedp.Run(b.ctx, chromedp.Title(&title)); err != nil || title != "csp" {
		t.Errorf("title = %q, %v; the inline script ran despite the policy", title, err)
	}
}

// manyReceiversChain is a hub chain with handoffs in the URL and eleven
// receivers, each on a root domain of its own: a sign-in is 2N+2 = 24
// redirects in a row, and the front-channel logout as many, more than
// Chromium follows (it fails the navigation at the 20th).
func manyReceiversChain(n int) string {
	c := strings.Replace(devChain, `  - name: portal
    url: http://portal.company2.localhost:{{port "portal"}}
    cookie: {name: portal_session, ttl: 8h}
  - name: dashboard
    url: http://dashboard.company3.localhost:{{port "dashboard"}}
`, "", 1)
	var recv, allow strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&recv, "  - name: app%d\n    url: http://app%d.site%d.localhost:{{port \"app%d\"}}\n", i, i, i, i)
		fmt.Fprintf(&allow, "    - http://app%d.site%d.localhost:{{port \"app%d\"}}\n", i, i, i)
	}
	c = strings.Replace(c, "receivers:\n", "receivers:\n"+recv.String(), 1)
	c = strings.Replace(c, `    - http://portal.company2.localhost:{{port "portal"}}
    - http://dashboard.company3.localhost:{{port "dashboard"}}
`, allow.String(), 1)
	return c
}

// A hub chain longer than a browser's redirect limit signs in and out in
// Chromium: the issuer answers a page every few receivers (its resume
// page), which starts the count again.
func TestBrowser_manyReceivers(t *testing.T) {
	t.Parallel()
	const n = 11
	res := loginInBrowser(t, browserLogin{Chain: manyReceiversChain(n), User: "alice@example.com", Password: "wonderland"})
	var sso, resumed int
	for _, h := range res.Hops {
		switch {
		case strings.Contains(h.URL, "/sso?"):
			sso++
		case strings.Contains(h.URL, "/sso/continue?") && h.Status == 200:
			resumed++
		}
	}
	if sso != n || resumed != (n-1)/6 {
		t.Errorf("the browser passed %d handoffs and %d resume pages, want %d and %d", sso, resumed, n, (n-1)/6)
	}
	logoutInBrowser(t, res)
}

// A link on another site to a receiver's /logout does not sign anyone out
// by itself (logout CSRF): Chromium shows the receiver's page that asks,
// and nothing has happened until the person presses its button. Then the
// receiver hands the browser to the issuer with its session hint, which
// the issuer takes without asking again, through every receiver's
// front-channel (the form's CSP form-action must allow every origin the
// redirects after it pass, which only a real browser checks).
func TestBrowser_logoutFromAnotherSite(t *testing.T) {
	t.Parallel()
	res := loginInBrowser(t, browserLogin{Chain: devChain, User: "alice@example.com", Password: "wonderland"})
	b, c := res.Browser, res.Chain
	var portal, dashboard string
	for _, r := range c.Receivers {
		switch r.Name {
		case "portal":
			portal = strings.TrimSuffix(r.URL, "/")
		case "dashboard":
			dashboard = r.URL
		}
	}
	// Another site than portal's: a page on a port of its own under
	// dashboard's host name, which the browser's host rules already map
	// (a site is a scheme and a registrable domain; ports do not count).
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><a id="out" href="%s/logout">win a prize</a>`, portal)
	}))
	t.Cleanup(other.Close)
	du, err := url.Parse(dashboard)
	if err != nil {
		t.Fatal(err)
	}
	otherPage := "http://" + du.Hostname() + ":" + strings.TrimPrefix(other.URL[strings.LastIndex(other.URL, ":"):], ":") + "/"

	if err := chromedp.Run(b.ctx, chromedp.Navigate(otherPage)); err != nil {
		t.Fatal(err)
	}
	before := len(b.Hops())
	var text string
	if err := chromedp.Run(b.ctx,
		chromedp.Click("#out", chromedp.ByID),
		chromedp.WaitVisible("button", chromedp.ByQuery),
		chromedp.Evaluate(`document.body.innerText`, &text),
	); err != nil {
		t.Fatalf("follow the link: %v\n%s", err, b.report())
	}
	if !strings.Contains(text, "Sign out?") || !strings.Contains(text, "another site") {
		t.Errorf("the page the link opened says %q, want the question", text)
	}
	for _, h := range b.Hops()[before:] {
		if strings.HasPrefix(h.URL, strings.TrimSuffix(c.Issuer.URL, "/")) {
			t.Errorf("following the link reached the issuer (%s) before anyone confirmed", h)
		}
	}
	shot := b.screenshot(outputDir(t), "logout-confirm")
	t.Logf("the question: %s", shot)

	if err := chromedp.Run(b.ctx, chromedp.Click("button", chromedp.ByQuery)); err != nil {
		t.Fatalf("press Sign out: %v\n%s", err, b.report())
	}
	var landed string
	for deadline := time.Now().Add(10 * time.Second); landed != portal+"/" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err := chromedp.Run(b.ctx, chromedp.Location(&landed)); err != nil {
			t.Fatal(err)
		}
	}
	if landed != portal+"/" {
		t.Fatalf("the confirmed logout landed on %s, want %s/\n%s", redactURL(landed), portal, b.report())
	}
	var asked int
	for _, h := range b.Hops()[before:] {
		if strings.HasPrefix(h.URL, strings.TrimSuffix(c.Issuer.URL, "/")+"/logout?") && h.Status == http.StatusOK {
			asked++
		}
	}
	if asked > 0 {
		t.Errorf("the issuer asked again after the receiver's confirmed logout: %v", b.Hops()[before:])
	}
	for _, e := range b.Console() {
		if e.CSP() {
			t.Errorf("CSP violation: %s", e)
		}
	}
	checkSignedOut(t, res)
}
