package chain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ssoctl/ssoctl/pkg/token"
)

// BrowserOptions configure NewBrowser.
type BrowserOptions struct {
	// Dialer connects to hosts; nil is &Dialer{} (*.localhost is loopback,
	// everything else is dialled normally).
	Dialer *Dialer
	// Chain, when given, names hop kinds, tells the walk which origins are
	// the issuer, the receivers and the IdP (for findings), and provides
	// login credentials and expectations.
	Chain *Chain
	// User and Password fill login forms. With a Chain and no User, the
	// chain's first dev user (idp.users[0]) is used when its password
	// resolves; a User of the chain's without a Password takes that user's.
	User     string
	Password string
	// Now is the clock for timestamps and token checks; nil is time.Now.
	// Durations are measured with the monotonic clock.
	Now func() time.Time
	// MaxSteps bounds the requests of one walk; 0 is 30, or with a Chain
	// of many receivers three per receiver and 12 more (a handoff, a hop
	// back to the issuer, a page now and then, and the login).
	MaxSteps int
	// Timeout bounds each request, body included; 0 is 10s.
	Timeout time.Duration
	// Transport overrides the HTTP transport (tests); nil builds an
	// http.Transport that dials through Dialer and ignores proxy settings.
	Transport http.RoundTripper
}

// Defaults of BrowserOptions.
const (
	DefaultMaxSteps    = 30
	DefaultStepTimeout = 10 * time.Second
)

// maxBody is how much of a page the walk reads; login pages and
// interstitials are a few KiB.
const maxBody = 1 << 20

// userAgent names the walk to the servers it visits while still reading as
// a browser to those that sniff for one.
const userAgent = "Mozilla/5.0 (compatible; ssoctl-trace/1)"

// Browser is a browser in a box for trace chain (DESIGN §8): an RFC 6265
// cookie jar with the public suffix list and the storage rules browsers add
// to it, redirects followed one at a time as a browser resolves them, HTML
// forms submitted, and every request recorded, redacted, in a Trace. It
// follows only what the servers say, so it walks chains ssoctl does not
// serve as well as its own.
//
// A Browser keeps its cookies between walks, like a real one. It is not
// safe for concurrent walks.
type Browser struct {
	chain    *Chain
	user     string
	password string
	now      func() time.Time
	maxSteps int
	timeout  time.Duration

	// jar holds the cookies of every walk and probe, with their attributes.
	jar *browserJar
	// client sends every request through the Dialer with jar's cookies
	// (jarTransport over rt) and never follows a redirect by itself;
	// probes use it too. rt is the transport alone, without the jar.
	client *http.Client
	rt     http.RoundTripper
	// roles tells the chain's origins apart; empty without a Chain.
	roles roleMap
	// allow is the chain's return_to allowlist; nil without a Chain.
	allow *Allowlist
	// handoffs is every handoff token a walk carried, in order, with how it
	// travelled, for the probe step to replay and tamper with. The raw
	// tokens live only here, never in a Trace.
	handoffs []handoff
	// visited is an origin for every host any walk requested, by cookie
	// host, to ask the jar what it would send there.
	visited map[string]*url.URL
	// final is where the last walk ended, unredacted, for expectations.
	final *url.URL
	// start is where the last walk began, unredacted: probes start logins
	// there again.
	start *url.URL
	// walks counts walks, to tell handoffs of different walks apart.
	walks int
	// loginOrigin is where the credentials were first submitted; without a
	// Chain they go nowhere else.
	loginOrigin string
	// authRequests is every OpenID Connect authorization request a walk
	// made, as sent, for callbacks to be matched with and the redirect_uri
	// probe to replay. Never in a Trace.
	authRequests []oidcAuth
}

// handoff is one handoff token the walk carried to a receiver, as sent.
type handoff struct {
	raw      string     // the token itself
	in       string     // "query", "fragment", "form" or "path"
	param    string     // the parameter or field that carried it; "" for path
	method   string     // GET, or POST for a form_post
	url      *url.URL   // the request URL as sent, fragment included (holds the token unless it came by form)
	form     url.Values // the POST body, token included; nil for GET
	from     string     // the Origin header it carried (a form post's); "" for none
	origin   string     // the receiver's origin, scheme://host[:port]
	receiver string     // the receiver's name in the Chain; "" without a Chain or off it
	walk     int        // which walk of this Browser (1-based)
	step     int        // the step's N in that walk's Trace
	status   int        // what the receiver answered
	location *url.URL   // where it sent the browser next; nil when it did not redirect
	cookies  []string   // names of the cookies it set (not deletions)
}

// NewBrowser builds a Browser. It fails only when a Chain's allowlist does
// not parse (Parse and Load never return such a chain).
func NewBrowser(o BrowserOptions) (*Browser, error) {
	b := &Browser{
		chain: o.Chain, user: o.User, password: o.Password, now: o.Now,
		maxSteps: o.MaxSteps, timeout: o.Timeout, visited: map[string]*url.URL{},
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.maxSteps <= 0 {
		b.maxSteps = DefaultMaxSteps
		if o.Chain != nil {
			b.maxSteps = max(b.maxSteps, 12+3*len(o.Chain.Receivers))
		}
	}
	if b.timeout <= 0 {
		b.timeout = DefaultStepTimeout
	}
	if c := o.Chain; c != nil {
		allow, err := c.Allowlist()
		if err != nil {
			return nil, fmt.Errorf("trace: %w", err)
		}
		b.allow = allow
		b.roles = newRoleMap(c)
		b.user, b.password = chainCredentials(c, o.User, o.Password)
	}
	rt := o.Transport
	if rt == nil {
		d := o.Dialer
		if d == nil {
			d = &Dialer{}
		}
		rt = &http.Transport{
			// A proxy would dial the chain's names itself and bypass the
			// mapping: a trace goes where the Dialer says.
			Proxy:                 nil,
			DialContext:           d.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       30 * time.Second,
			TLSHandshakeTimeout:   b.timeout,
			ExpectContinueTimeout: time.Second,
		}
	}
	b.jar = newBrowserJar(b.now)
	b.rt = rt
	b.client = &http.Client{
		Transport:     jarTransport{next: rt, jar: b.jar},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return b, nil
}

// chainCredentials picks the login: the given user and password, else the
// chain's dev user with the same email (or its first one) and the password
// its file gives, when that resolves.
func chainCredentials(c *Chain, user, password string) (string, string) {
	if password != "" && user != "" || len(c.IdP.Users) == 0 {
		return user, password
	}
	pick := c.IdP.Users[0]
	if user != "" {
		found := false
		for _, u := range c.IdP.Users {
			if strings.EqualFold(u.Email, user) {
				pick, found = u, true
				break
			}
		}
		if !found {
			return user, password
		}
	}
	if password != "" {
		return pick.Email, password
	}
	secret, err := pick.Password.Resolve(os.LookupEnv, os.ReadFile)
	if err != nil {
		return user, ""
	}
	return pick.Email, string(secret)
}

// StartURL is where a walk of c begins: the issuer's /login with return_to
// set to expect.final_url_prefix, else to the origin of the last receiver
// that takes a handoff (shared-cookie receivers take none), else to the
// issuer itself.
func StartURL(c *Chain) string {
	issuer := strings.TrimSuffix(c.Issuer.URL, "/")
	ret := c.Expect.FinalURLPrefix
	if ret == "" {
		ret = issuer + "/"
		for _, r := range c.Receivers {
			if !r.SharedCookie {
				ret = strings.TrimSuffix(r.URL, "/") + "/"
			}
		}
	}
	return issuer + LoginPath + "?" + url.Values{ReturnToParam: {ret}}.Encode()
}

// request is the next navigation of a walk.
type request struct {
	method string
	url    *url.URL
	form   url.Values // the body of a POST
	// enctype is how form is encoded (htmlForm.enctype).
	enctype string
	kind    string // Step.Form: FormLogin, FormPost or ""
	// refSrc and refPolicy give the Referer: the document that started
	// this navigation and the policy in force, which a redirect answer may
	// change (W3C Referrer Policy §8.1).
	refSrc    *url.URL
	refPolicy string
	// referrer is the Referer this request sent (send sets it), which a
	// redirect carries on: Fetch works the referrer out again from what it
	// was, so a URL cut to its origin stays cut, and "" stays none.
	referrer string
	// origin is the Origin header of a form submission.
	origin string
	// redirects counts the redirects this navigation has followed to get
	// here; a page, a form or a refresh starts a new navigation at 0.
	redirects int
	// crossed is how far from the initiator the URLs this navigation was
	// redirected through lay: "", "same-site" or "cross-site" (Fetch
	// Metadata counts every one). user is set when a person started it
	// (typed the address, submitted a login form), not a page's script.
	crossed string
	user    bool
	// via is how a page sent the browser on without a form or a redirect:
	// NavRefresh or NavScript (Step.Navigation).
	via string
}

// maxRedirects is how many redirects in a row a browser follows: Chromium
// fails the navigation at the 20th (ERR_TOO_MANY_REDIRECTS; measured),
// Firefox after the 20th.
const maxRedirects = 19

// walker is one walk in progress.
type walker struct {
	b     *Browser
	t     *Trace
	began time.Time       // monotonic
	seen  map[string]bool // findings already in the trace
	hosts map[string]bool // hosts this walk requested, for Trace.Cookies
	// transitions counts (previous request → request) pairs with one-time
	// values stripped, for loop detection.
	transitions map[string]int
	prevRole    originRole
	sawHandoff  bool
	logins      int
	lastLogin   string // signature of the last login form submitted
	// client overrides b.client for probes that must not share the jar;
	// nil for walks.
	client *http.Client
}

// Walk opens start and follows redirects and forms to the end, recording
// every step. It returns an error only for a cancelled context (with the
// trace so far) or a bad start URL; an unreachable host is recorded
// (Trace.Unreachable, SSO401 when it is the chain's IdP) and stops the walk.
func (b *Browser) Walk(ctx context.Context, start string) (*Trace, error) {
	u, err := url.Parse(start)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("trace: the start URL %q is not an absolute http or https URL; give one like https://accounts.company.com/login", redactURL(start, b.now()))
	}
	b.walks++
	b.start = u
	w := &walker{
		b: b, began: time.Now(), seen: map[string]bool{}, hosts: map[string]bool{}, transitions: map[string]int{},
		t: &Trace{
			SchemaVersion: TraceSchemaVersion, Mode: "live", Start: redactURL(start, b.now()),
			Started: b.now(), Steps: []Step{}, Findings: []Finding{}, Expectations: []Expectation{},
		},
	}
	if b.chain != nil {
		w.t.Chain = b.chain.Name
	}
	next := &request{method: http.MethodGet, url: u, user: true}
	var last *url.URL
	for next != nil {
		if len(w.t.Steps) >= b.maxSteps {
			w.add(FindingRedirectLoop.New(len(w.t.Steps), next.url.Hostname(),
				"the walk stopped after %d requests and was still being sent on, to %s", b.maxSteps, redactURL(next.url.String(), b.now())))
			break
		}
		if err := ctx.Err(); err != nil {
			w.finish(last)
			return w.t, err
		}
		last = next.url
		next, err = w.step(ctx, next)
		if err != nil {
			w.finish(last)
			return w.t, err
		}
	}
	w.finish(last)
	return w.t, nil
}

// exchange is one answer, read as far as the walk needs.
type exchange struct {
	resp *http.Response
	body []byte // HTML pages and 503 answers only
	html bool
	page *page
	// withheld is what the jar kept back from the request for SameSite.
	withheld []WithheldCookie
	// cleared is what the answer's Clear-Site-Data took out of the jar.
	cleared []CookieInfo
	// setCookies is what the browser made of each Set-Cookie line.
	setCookies []CookieInfo
}

// step makes one request, records it, and returns the next one (nil: the
// walk is over). The error is the context's, when it was cancelled.
func (w *walker) step(ctx context.Context, r *request) (*request, error) {
	b := w.b
	now := b.now()
	st := Step{
		N: len(w.t.Steps) + 1, Method: r.method, URL: redactURL(r.url.String(), now), Form: r.kind, Navigation: r.via,
		AtMS: ms(time.Since(w.began)),
	}
	host := cookieHost(r.url)
	w.hosts[host] = true
	if _, ok := b.visited[host]; !ok {
		o, _ := url.Parse(originOf(r.url))
		b.visited[host] = o
	}
	carried := findRequestToken(r)
	role, rcv := b.roles.of(r.url)
	st.Kind = w.kind(r, role, carried != nil)
	if carried != nil {
		st.Token = summarize(carried, now)
	}
	oidc, auth := w.recognizeOIDC(r)
	if oidc != nil {
		// Whatever the chain calls this origin, the request is an OpenID
		// Connect step, and a token it carries is the provider's, not a
		// handoff.
		st.OIDC, st.Kind = oidc, HopOIDCCallback
		if auth != nil {
			st.Kind = HopOIDCAuth
		}
	}

	began := time.Now()
	x, err := w.send(ctx, r)
	st.ElapsedMS = ms(time.Since(began))
	if err != nil {
		if ctx.Err() != nil {
			w.t.Steps = append(w.t.Steps, st)
			return nil, ctx.Err()
		}
		st.Error = transportError(r, err, now)
		w.t.Steps = append(w.t.Steps, st)
		w.t.Unreachable = r.url.Host
		if b.roles.isIdP(r.url) {
			w.add(FindingIdPUnreachable.New(st.N, host, "%s did not answer: %s", r.url.Host, st.Error))
		}
		w.prevRole = role
		return nil, nil
	}
	resp := x.resp
	st.Status = resp.StatusCode
	st.Withheld, st.Cleared = x.withheld, x.cleared
	st.SetCookies = x.setCookies
	var next *request
	var loc *url.URL
	if isRedirect(resp.StatusCode) && resp.Header.Get("Location") != "" {
		loc, err = resolveLocation(r.url, resp.Header.Get("Location"))
		if err != nil {
			st.Location = redactURL(resp.Header.Get("Location"), now)
			st.Error = "the Location header is not a URL a browser can follow"
		} else {
			st.Location = redactURL(loc.String(), now)
		}
	}
	w.t.Steps = append(w.t.Steps, st)
	if auth != nil {
		auth.step = st.N
		w.oidcFindings(st.N, host, auth)
		b.authRequests = append(b.authRequests, *auth)
	}
	if loc != nil {
		w.fragmentTokenFinding(st.N, host, loc)
	}

	if carried != nil && st.Kind == HopHandoff {
		w.sawHandoff = true
		h := handoff{
			raw: carried.raw, in: carried.in, param: carried.param, method: r.method, url: r.url, form: r.form,
			from: r.origin, origin: originOf(r.url), walk: b.walks, step: st.N, status: resp.StatusCode, location: loc,
		}
		if rcv != nil {
			h.receiver = rcv.Name
		}
		for _, c := range st.SetCookies {
			if c.Rejected == "" && !c.Deleted {
				h.cookies = append(h.cookies, c.Name)
			}
		}
		b.handoffs = append(b.handoffs, h)
		w.tokenFindings(st.N, host, carried, rcv)
	}
	w.withheldFindings(st.N, r, role, st.Withheld)
	for _, c := range st.SetCookies {
		w.cookieFindings(st.N, r.url, role, c)
	}
	if carried != nil && carried.inURL() && !isRedirect(resp.StatusCode) && x.html &&
		!keepsURLFromThirdParties(pagePolicy(resp.Header, x.page)) {
		w.add(FindingTokenReferer.New(st.N, host,
			"%s answered %d with a page while its URL holds a token (%s), and the page sets no Referrer-Policy that keeps the URL on the site: every link, image or script on it can send the token to another site",
			st.URL, resp.StatusCode, carried.where()))
	}
	if resp.StatusCode == http.StatusServiceUnavailable && w.mentionsIdP(x.body) {
		idpHost := b.roles.idpHost()
		w.add(FindingIdPUnreachable.New(st.N, host,
			"%s answered 503 and says the identity provider is unavailable", r.url.Host))
		w.t.Unreachable = idpHost
	}
	w.prevRole = role

	switch {
	case loc != nil:
		next = w.redirect(r, resp, loc)
		if next != nil && next.redirects > maxRedirects {
			w.add(FindingTooManyRedirects.New(st.N, host,
				"%s sends the browser on with the %dth redirect in a row since the last page (%s): Chromium stops there with ERR_TOO_MANY_REDIRECTS, so the walk does too",
				originOf(r.url), next.redirects, w.navigationStart(next.redirects)))
			return nil, nil
		}
	case resp.StatusCode >= 200 && resp.StatusCode < 300 && x.page != nil:
		next = w.pageNext(r, resp, x.page)
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		next = refreshNext(r, resp, nil, r.url, pagePolicy(resp.Header, nil))
	}
	if next != nil && !w.follows(st.N, r, next) {
		return nil, nil
	}
	return next, nil
}

// fetchSite is the Sec-Fetch-Site of r (W3C Fetch Metadata): "none" for a
// navigation the user started in the browser, else how far from its
// initiator the farthest URL it went through lies, r's own included.
func fetchSite(r *request) string {
	if r.refSrc == nil {
		return "none"
	}
	switch {
	case r.crossed == "cross-site" || !sameSite(r.refSrc, r.url):
		return "cross-site"
	case r.crossed == "same-site" || originOf(r.refSrc) != originOf(r.url):
		return "same-site"
	}
	return "same-origin"
}

// sameSite reports whether a and b are one site: the same scheme and
// registrable domain.
func sameSite(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && registrableDomain(cookieHost(a)) == registrableDomain(cookieHost(b))
}

// navigationStart names the step where the navigation that has now
// followed redirects redirects began, for a finding's detail.
func (w *walker) navigationStart(redirects int) string {
	n := len(w.t.Steps) - redirects + 1
	if n < 1 || n > len(w.t.Steps) {
		return "the start"
	}
	s := w.t.Steps[n-1]
	return fmt.Sprintf("step %d, %s %s", s.N, s.Method, s.URL)
}

// send makes the request with browser headers and reads what the walk
// needs of the answer.
func (w *walker) send(ctx context.Context, r *request) (*exchange, error) {
	ctx, cancel := context.WithTimeout(ctx, w.b.timeout)
	defer cancel()
	target := *r.url
	target.Fragment, target.RawFragment = "", ""
	var body io.Reader
	contentType := ""
	if r.method == http.MethodPost && r.form != nil {
		var b string
		b, contentType = encodeForm(r.form, r.enctype)
		body = strings.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target.String(), body)
	if err != nil {
		return nil, err
	}
	h := req.Header
	h.Set("User-Agent", userAgent)
	h.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	h.Set("Accept-Language", "en")
	if body != nil {
		h.Set("Content-Type", contentType)
	}
	if r.origin != "" {
		h.Set("Origin", r.origin)
	}
	src := r.refSrc
	if r.redirects > 0 { // carried on from the request redirected here
		src = nil
		if r.referrer != "" {
			src, _ = url.Parse(r.referrer)
		}
	}
	r.referrer = referer(src, r.url, r.refPolicy)
	if r.referrer != "" {
		h.Set("Referer", r.referrer)
	}
	if secureContext(r.url) {
		// Fetch Metadata, which Chromium sends to secure contexts only.
		h.Set("Sec-Fetch-Site", fetchSite(r))
		h.Set("Sec-Fetch-Mode", "navigate")
		h.Set("Sec-Fetch-Dest", "document")
		if r.user {
			h.Set("Sec-Fetch-User", "?1")
		}
	}
	client := w.b.client
	if w.client != nil {
		client = w.client
	}
	var withheld []WithheldCookie
	jt, inJar := client.Transport.(jarTransport)
	inJar = inJar && jt.jar == w.b.jar
	if inJar {
		// Every request of a walk is a top-level navigation: the jar
		// sends what a browser sends with it, SameSite applied, where
		// jarTransport would send every cookie, as for a request the user
		// started.
		var send []*http.Cookie
		send, withheld = w.b.jar.cookiesFor(r.url, navigation{initiator: r.refSrc, method: r.method})
		if len(send) > 0 {
			h.Set("Cookie", cookieHeader(send))
		}
		nav := *client
		nav.Transport = jt.next
		client = &nav
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	x := &exchange{resp: resp, withheld: withheld}
	if inJar {
		x.setCookies = w.b.jar.setCookieLines(r.url, resp.Header.Values("Set-Cookie"))
		x.cleared = w.b.jar.clearSiteData(r.url, resp.Header)
	} else {
		x.setCookies = parseSetCookies(r.url, resp.Header, w.b.now())
	}
	x.html = isHTML(resp.Header.Get("Content-Type"))
	if x.html && !isRedirect(resp.StatusCode) || resp.StatusCode == http.StatusServiceUnavailable {
		x.body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
		if err != nil {
			return nil, err
		}
		if resp.Header.Get("Content-Type") == "" {
			x.html = isHTML(http.DetectContentType(x.body))
		}
		if x.html {
			x.page = parsePage(x.body)
		}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	return x, nil
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

func isHTML(contentType string) bool {
	if contentType == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "text/html" || mt == "application/xhtml+xml")
}

// redirect is the request a browser makes after a 3xx: 301 and 302 turn a
// POST into a GET, 303 turns everything but HEAD into a GET, 307 and 308
// keep method and body (RFC 9110 §15.4 and what browsers do).
func (w *walker) redirect(r *request, resp *http.Response, loc *url.URL) *request {
	if loc.Scheme != "http" && loc.Scheme != "https" {
		// An app scheme or javascript: the walk cannot go on, and a
		// browser would leave the web here.
		return nil
	}
	next := &request{method: r.method, url: loc, form: r.form, enctype: r.enctype, refSrc: r.refSrc, refPolicy: r.refPolicy, redirects: r.redirects + 1,
		crossed: fetchSite(r), user: r.user, referrer: r.referrer}
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound:
		if r.method == http.MethodPost {
			next.method, next.form = http.MethodGet, nil
		}
	case http.StatusSeeOther:
		if r.method != http.MethodHead {
			next.method, next.form = http.MethodGet, nil
		}
	}
	if pol := referrerPolicyToken(strings.Join(resp.Header.Values("Referrer-Policy"), ","), false); pol != "" {
		next.refPolicy = pol
	}
	if next.method == http.MethodPost && r.origin != "" {
		next.origin = r.origin
		if originOf(loc) != originOf(r.url) {
			// A form POST redirected across origins carries a null Origin.
			next.origin = "null"
		}
	}
	return next
}

// pageNext decides what a browser does on a page: submit its login form
// (with credentials), submit a form_post interstitial, follow a meta
// refresh, or stop.
func (w *walker) pageNext(r *request, resp *http.Response, p *page) *request {
	base := r.url
	if p.base != "" {
		if u, err := resolveURL(r.url, p.base); err == nil {
			base = u
		}
	}
	policy := pagePolicy(resp.Header, p)
	for i := range p.forms {
		f := &p.forms[i]
		kind := f.kind(p.autoSubmit)
		if kind == "" {
			continue
		}
		action, err := resolveURL(base, f.action)
		if f.action == "" {
			action, err = r.url, nil
		}
		if err != nil || action.Scheme != "http" && action.Scheme != "https" {
			return nil
		}
		if kind == FormLogin {
			if !f.canFill(w.b.user, w.b.password) || w.logins >= maxLoginPosts || w.lastLogin == f.signature()+"|"+originOf(r.url) ||
				!w.mayLogIn(r.url, action) {
				// Where a person would type, the same form back after a
				// login (the credentials were refused), or a form the
				// credentials are not for.
				return nil
			}
			w.logins++
			w.lastLogin = f.signature() + "|" + originOf(r.url)
			w.b.loginOrigin = originOf(action)
		}
		values := f.values(w.b.user, w.b.password, p.autoSubmit && kind != FormLogin)
		next := &request{method: f.method, url: action, kind: kind, refSrc: r.url, refPolicy: policy, user: kind == FormLogin}
		if f.method == http.MethodPost {
			next.form, next.enctype = values, f.enctype
			next.origin = originOf(r.url)
		} else {
			u := *action
			u.RawQuery = values.Encode()
			next.url = &u
		}
		return next
	}
	// An inline script runs while the page is parsed, before a refresh,
	// which waits for the page to load.
	if p.script != nil {
		if p.script.target != "" {
			if u, err := resolveURL(base, p.script.target); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
				return &request{method: http.MethodGet, url: u, refSrc: r.url, refPolicy: policy, via: NavScript}
			}
		}
		if next := refreshNext(r, resp, p, base, policy); next != nil {
			return next
		}
		w.t.Steps[len(w.t.Steps)-1].ScriptNavigation = p.script.how
		return nil
	}
	return refreshNext(r, resp, p, base, policy)
}

// refreshNext is where a declarative refresh of at most maxRefreshDelay
// sends the browser from the page r fetched: a valid Refresh header, which
// the browser reads before the page and which wins, else the page's first
// valid meta refresh (p nil: a page that is not HTML has none). Nil: no
// refresh, a slower one (a page a person reads first), or a reload.
func refreshNext(r *request, resp *http.Response, p *page, base *url.URL, policy string) *request {
	delay, target, ok := parseRefresh(resp.Header.Get("Refresh"))
	from := r.url
	if !ok && p != nil && p.hasRefresh {
		delay, target, from = p.refreshDelay, p.refresh, base
	}
	if target == "" || delay > maxRefreshDelay {
		return nil
	}
	if u, err := resolveURL(from, target); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		return &request{method: http.MethodGet, url: u, refSrc: r.url, refPolicy: policy, via: NavRefresh}
	}
	return nil
}

// mayLogIn reports whether the credentials may go into a login form on
// page that posts to action. Like a password manager, the walk fills a
// password only where it belongs: with a Chain, on the IdP's or the
// issuer's origin posting there; without one, on a form that posts to its
// own origin, and only ever to the origin that first took them. A walk
// sent to a look-alike login page elsewhere stops there instead.
func (w *walker) mayLogIn(page, action *url.URL) bool {
	if w.b.chain != nil {
		for _, u := range []*url.URL{page, action} {
			if r, _ := w.b.roles.of(u); r != roleIdP && r != roleIssuer {
				return false
			}
		}
		return true
	}
	if originOf(page) != originOf(action) {
		return false
	}
	return w.b.loginOrigin == "" || w.b.loginOrigin == originOf(action)
}

// follows decides whether the walk makes next after the step just
// recorded: it stops on a loop (SSO301) and, with a Chain, before a chain
// role sends the browser to an origin off the chain (SSO302).
func (w *walker) follows(n int, cur, next *request) bool {
	b := w.b
	now := b.now()
	if b.chain != nil && next.kind != FormLogin {
		from, _ := b.roles.of(cur.url)
		if (from == roleIssuer || from == roleReceiver) && !w.onChain(next.url) {
			w.add(FindingOpenRedirect.New(n, cookieHost(cur.url),
				"%s sends the browser to %s, which is neither a role of the chain nor allowed by return_to.allow; the walk stopped before going there",
				originOf(cur.url), redactURL(next.url.String(), now)))
			return false
		}
	}
	pair := loopKey(cur) + " → " + loopKey(next)
	w.transitions[pair]++
	if w.transitions[pair] >= 3 {
		w.add(FindingRedirectLoop.New(n, cookieHost(next.url),
			"the browser was sent to %s %s a third time from the same place; the walk stopped there",
			next.method, redactURL(next.url.String(), now)))
		return false
	}
	return true
}

// onChain reports whether u is a role of the chain or allowed by its
// return_to allowlist.
func (w *walker) onChain(u *url.URL) bool {
	if r, _ := w.b.roles.of(u); r != roleNone {
		return true
	}
	if w.b.allow == nil {
		return true
	}
	_, err := w.b.allow.Allow(u.String())
	return err == nil
}

// oneTimeParams change on every pass through a loop; loop detection
// ignores them (and every token), or a loop that mints a fresh state each
// time would never repeat.
var oneTimeParams = map[string]bool{
	"state": true, "nonce": true, "code": true, "flow": true, "session_state": true,
	"code_challenge": true, "request_id": true, "_": true,
	// Ory Hydra's: a new one each time it sends the browser on.
	"login_challenge": true, "consent_challenge": true, "login_verifier": true, "consent_verifier": true,
}

// loopKey is a request with its one-time values stripped, in its own
// query and in URLs nested in parameters (an IdP's return_to carries the
// issuer's state). Loops are counted on pairs of keys, not on keys alone:
// a hub walk passes /sso/continue once per receiver, each time coming from
// another receiver.
func loopKey(r *request) string {
	return r.method + " " + loopURL(r.url, 2)
}

func loopURL(in *url.URL, depth int) string {
	u := *in
	u.Fragment, u.RawFragment = "", ""
	q := u.Query()
	for k, vs := range q {
		if oneTimeParams[strings.ToLower(k)] {
			delete(q, k)
			continue
		}
		for i, v := range vs {
			if tokenShaped(v) {
				delete(q, k)
				break
			}
			if nested, err := url.Parse(v); err == nil && depth > 0 && nested.Host != "" && (nested.Scheme == "http" || nested.Scheme == "https") {
				vs[i] = loopURL(nested, depth-1)
			}
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// kind names a step's hop. With a Chain, the roles' origins and paths say
// it, and for chains with other paths, the order: the first issuer request
// is the login, the one after the IdP the callback, the ones after a
// handoff continues. Without a Chain, a request carrying a JWT is a
// handoff and the rest have no kind.
func (w *walker) kind(r *request, role originRole, carriesToken bool) HopKind {
	if w.b.chain == nil {
		if carriesToken {
			return HopHandoff
		}
		return ""
	}
	first := len(w.t.Steps) == 0
	switch role {
	case roleIdP:
		return HopIdPLogin
	case roleIssuer:
		switch r.url.Path {
		case LoginPath:
			return HopLogin
		case CallbackPath:
			return HopCallback
		case ContinuePath:
			return HopContinue
		case UILoginPath, UIRegistrationPath, UIErrorPath:
			// The issuer showing Kratos's login flow is the IdP's login
			// page, served from the issuer's origin.
			return HopIdPLogin
		}
		switch {
		case w.prevRole == roleIdP:
			return HopCallback
		case w.sawHandoff:
			return HopContinue
		case first:
			return HopLogin
		}
		return ""
	}
	if carriesToken || role == roleReceiver && r.url.Path == SSOPath {
		return HopHandoff
	}
	return ""
}

// finish fills the trace's end state.
func (w *walker) finish(last *url.URL) {
	t := w.t
	t.ElapsedMS = ms(time.Since(w.began))
	if n := len(t.Steps); n > 0 {
		st := &t.Steps[n-1]
		t.Final, t.FinalStatus = st.URL, st.Status
		// A page the walk ends on is where the login landed, unless the
		// IdP, a receiver's handoff or one of the issuer's own endpoints
		// answered it (a login form, an error page).
		if w.b.chain != nil && st.Status >= 200 && st.Status < 300 && st.Kind != HopIdPLogin && st.Kind != HopOIDCAuth && st.Kind != HopHandoff && !w.b.roles.isIssuerEndpoint(last) {
			st.Kind = HopFinal
		}
	}
	w.b.final = last
	t.Cookies = w.b.cookiesByHost(w.hosts)
}

// cookiesByHost is what the jar sends to each of hosts.
func (b *Browser) cookiesByHost(hosts map[string]bool) map[string][]CookieInfo {
	out := map[string][]CookieInfo{}
	for host := range hosts {
		if cs := b.jar.sentTo(b.visited[host]); len(cs) > 0 {
			out[host] = cs
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// add records f on its step (none for step 0, the walk as a whole) and in
// the trace, where it appears once per code, host and detail.
func (w *walker) add(f Finding) {
	if n := f.Step; n > 0 && n <= len(w.t.Steps) {
		w.t.Steps[n-1].Findings = append(w.t.Steps[n-1].Findings, f)
	}
	key := f.Code + "\x00" + f.Host + "\x00" + f.Detail
	if w.seen[key] {
		return
	}
	w.seen[key] = true
	w.t.Findings = append(w.t.Findings, f)
}

// mentionsIdP reports whether a 503 page blames the identity provider:
// ssoctl's reason code, or (with a Chain) the IdP's host, or the words.
func (w *walker) mentionsIdP(body []byte) bool {
	lower := bytes.ToLower(body)
	if bytes.Contains(lower, []byte("idp_unavailable")) || bytes.Contains(lower, []byte("identity provider")) {
		return true
	}
	if h := w.b.roles.idpHostname(); h != "" && bytes.Contains(lower, []byte(h)) {
		return true
	}
	return false
}

// transportError describes a failed request without the URL (which may
// hold a token): net/http's *url.Error repeats it.
func transportError(r *request, err error, now time.Time) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("%s %s: no answer in time", r.method, r.url.Host)
	}
	return redactText(fmt.Sprintf("%s %s: %v", r.method, r.url.Host, err), now)
}

// ms is a duration in milliseconds, to the microsecond.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// carriedToken is the first JWT a request carries and where.
type carriedToken struct {
	raw   string
	in    string // "query", "fragment", "form" or "path"
	param string
	insp  *token.Inspection // what summarize decoded; nil when it could not
}

func (c *carriedToken) inURL() bool { return c.in == "query" || c.in == "path" }

// where says where the token was, as TokenSummary.In does.
func (c *carriedToken) where() string {
	if c.param == "" {
		return c.in
	}
	return fmt.Sprintf("%s %q", c.in, c.param)
}

// findRequestToken finds the JWT a request carries: in a form body first
// (a form_post), then the query and the fragment, then the path. Within
// each, the parameter names tokens usually travel under come first.
func findRequestToken(r *request) *carriedToken {
	if c := tokenIn(r.form, "form"); c != nil {
		return c
	}
	if c := tokenIn(r.url.Query(), "query"); c != nil {
		return c
	}
	if frag, err := url.ParseQuery(r.url.Fragment); err == nil {
		if c := tokenIn(frag, "fragment"); c != nil {
			return c
		}
	} else if tokenShaped(r.url.Fragment) {
		return &carriedToken{raw: r.url.Fragment, in: "fragment"}
	}
	for _, seg := range strings.Split(r.url.EscapedPath(), "/") {
		if tokenShaped(seg) {
			return &carriedToken{raw: seg, in: "path"}
		}
	}
	return nil
}

// firstTokenParams are searched first, in this order (token.Find's).
var firstTokenParams = []string{"token", "sso_token", "handoff", "jwt", "logout_token", "id_token", "access_token"}

func tokenIn(v url.Values, in string) *carriedToken {
	if len(v) == 0 {
		return nil
	}
	rest := make([]string, 0, len(v))
	for name := range v {
		if !slices.Contains(firstTokenParams, name) {
			rest = append(rest, name)
		}
	}
	slices.Sort(rest)
	for _, name := range append(slices.Clone(firstTokenParams), rest...) {
		for _, val := range v[name] {
			if val = strings.TrimSpace(val); tokenShaped(val) {
				return &carriedToken{raw: val, in: in, param: name}
			}
		}
	}
	return nil
}
