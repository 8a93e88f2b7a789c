package tracecmd_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/kratostest"
	"github.com/ssoctl/ssoctl/internal/testenv"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/sandbox"
	"github.com/ssoctl/ssoctl/pkg/serve"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// Log hygiene (DESIGN §11: "never a token or a cookie value"). Each
// scenario stands a chain up in a sandbox whose roles all log, at debug
// level, into one buffer, and puts a recording reverse proxy on each role's
// URL port, so the browser (chain.Browser, or `trace chain` itself) reaches
// the roles through it. Everything secret the proxies see on the wire (every
// cookie value, every token, csrf token, password and Basic credential, in
// requests, redirects and pages) plus the chain's own secrets must then be
// absent from the logs, and from trace's output, in any of the encodings a
// careless log line would use.

// hygieneScenario is one chain and what is done with it.
type hygieneScenario struct {
	description string
	file        string              // example chain file, re-ported onto free ports
	edit        func(string) string // changes to the chain file's text; nil keeps it
	run         func(t *testing.T, h *hygiene)
}

func TestLogHygiene(t *testing.T) {
	if testing.Short() {
		t.Skip("walks several sandboxes")
	}
	scenarios := []hygieneScenario{
		{
			// walk, /auth, every probe (replay, expired, tampered
			// signature, wrong audience, alg none, foreign ret, return_to
			// tricks, revoked session), logout with back-channel, the
			// silent check, a wrong password, tokens in refused return_to
			// and tampered cookies
			description: "hub",
			file:        exampleChain,
			run: func(t *testing.T, h *hygiene) {
				b := h.walkProbeLogout(t)
				h.silentCheck(t, b)
				h.wrongPassword(t)
				h.tokensInReturnTo(t)
			},
		},
		{
			description: "hub form_post",
			file:        exampleChain,
			edit: func(s string) string {
				return strings.Replace(s, "  alg: HS256\n", "  alg: HS256\n  transport: form_post\n", 1)
			},
			run: func(t *testing.T, h *hygiene) { h.walkProbeLogout(t) },
		},
		{
			description: "relay",
			file:        "../../../../examples/relay/chain.yaml",
			run:         func(t *testing.T, h *hygiene) { h.walkProbeLogout(t) },
		},
		{
			description: "step-up max_auth_age",
			file:        exampleChain,
			edit: func(s string) string {
				return strings.Replace(s, "    cookie: {name: portal_session, ttl: 8h}\n", "    cookie: {name: portal_session, ttl: 8h}\n    max_auth_age: 1m\n", 1)
			},
			run: func(t *testing.T, h *hygiene) { h.stepUp(t) },
		},
		{
			description: "introspection by a shared-cookie app",
			file:        exampleChain,
			edit: func(s string) string {
				s = strings.Replace(s, "  cookie: {name: accounts_session, ttl: 8h}\n", "  cookie: {name: accounts_session, ttl: 8h, domain: company.localhost}\n", 1)
				s = strings.Replace(s, "return_to:\n", "  - {name: wiki, url: \"http://wiki.company.localhost:8080\", shared_cookie: true}\napps:\n  - name: wiki\n    key: wiki-app\n    secret: "+wikiSecret+"\n    permissions: [wiki:read]\nreturn_to:\n", 1)
				return s
			},
			run: func(t *testing.T, h *hygiene) { h.introspect(t) },
		},
		{
			description: "trace chain live --probe --logout",
			file:        exampleChain,
			run:         func(t *testing.T, h *hygiene) { h.traceCommand(t) },
		},
	}
	total := 0
	for _, sc := range scenarios {
		t.Run(sc.description, func(t *testing.T) {
			h := startHygiene(t, sc.file, sc.edit)
			sc.run(t, h)
			total += h.check(t)
		})
	}
	t.Logf("%d distinct secrets checked across %d scenarios", total, len(scenarios))
}

// TestLogHygiene_kratos: the same rule with a real Ory Kratos as the IdP
// (its session cookie, its csrf tokens, its session tokens): walk, probes,
// logout, a wrong password, and a session token where a cookie goes.
func TestLogHygiene_kratos(t *testing.T) {
	const (
		file     = "../../../../examples/kratos/chain.yaml"
		user     = "alice@example.com"
		password = "correct horse battery staple 7"
	)
	base, err := chain.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	k := kratostest.Start(t, kratostest.Options{
		Host: "auth.company.localhost", UIURL: base.Issuer.URL,
		ReturnURLs: base.ReturnTo.Allow, CookieDomain: base.IdP.CookieDomain,
	})
	k.CreateIdentity(t, user, password, "admin")
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "chain.yaml")
	text := strings.NewReplacer(base.IdP.PublicURL, k.PublicURL, base.IdP.AdminURL, k.AdminURL).Replace(string(raw))
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := chain.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	h := newHygiene(t, c, path)
	h.direct, h.user, h.password = true, user, password
	h.wire.add("secret kratos password", password)
	h.walkProbeLogout(t)
	h.wrongPassword(t)

	// A Kratos session token (API flow) sent where the receivers expect
	// their cookie and where the issuer expects Kratos's.
	st, _ := k.Login(t, user, password)
	h.wire.add("token kratos session_token", st)
	client := &http.Client{Transport: &http.Transport{DialContext: h.sb.Dialer().DialContext}}
	for _, u := range []string{c.Receivers[0].URL + "/auth", c.Issuer.URL + chain.LoginPath} {
		for _, hdr := range [][2]string{{"Cookie", "ory_kratos_session=" + st}, {"X-Session-Token", st}, {"Authorization", "Bearer " + st}} {
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			req.Header.Set(hdr[0], hdr[1])
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	h.check(t)
}

// TestLogHygiene_traceSandbox: `trace chain --sandbox`, whose roles run in
// the command and whose wire the test cannot see, shows no token (nothing
// JWT-shaped) and neither of the chain's secrets in any output format.
func TestLogHygiene_traceSandbox(t *testing.T) {
	for _, args := range [][]string{
		{"trace", "chain", "-f", exampleChain, "--sandbox", "--probe", "--logout"},
		{"-o", "json", "trace", "chain", "-f", exampleChain, "--sandbox", "--probe", "--logout"},
		{"trace", "chain", "-f", exampleChain, "--sandbox", "--probe", "-o", "junit"},
		{"trace", "chain", "-f", exampleChain, "--sandbox", "-o", "mermaid"},
	} {
		r := run(t, "", args...) // run checks the secrets and "eyJ"
		if r.code != 0 {
			t.Errorf("%v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
		if jwt := jwtsIn(r.stdout + r.stderr); len(jwt) > 0 {
			t.Errorf("%v: output holds %d JWT-shaped values", args, len(jwt))
		}
	}
}

// TestLeakCheck_findsEachEncoding: the check is able to fail.
func TestLeakCheck_findsEachEncoding(t *testing.T) {
	secret := "AAAAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBB.x/y+z"
	for _, logs := range []string{
		"msg=x v=" + secret,
		"msg=x v=" + url.QueryEscape(secret),
		"msg=x v=" + url.PathEscape(secret),
		"msg=x seg=BBBBBBBBBBBBBBBBBBBBBBBBBBBB",
	} {
		if len(leaks(logs, map[string]string{secret: "test"})) == 0 {
			t.Errorf("no leak found in %q", logs)
		}
	}
	if got := leaks("msg=ok chn=BBBB", map[string]string{secret: "test"}); len(got) != 0 {
		t.Errorf("false leak: %v", got)
	}
	tok, _, err := token.Mint(mustKey(t), token.MintOptions{Issuer: "http://a.localhost", Audience: "p", Subject: "s", SessionID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(jwtsIn("url=/sso?token="+tok)) != 1 {
		t.Error("jwtsIn misses a token")
	}
}

const wikiSecret = "wiki-app-secret-for-the-log-hygiene-test-0123456789"

// hygiene is one running scenario: the sandbox, its proxies, the logs and
// what the wire carried.
type hygiene struct {
	file  string
	chain *chain.Chain
	sb    *sandbox.Sandbox
	logs  *testenv.Buffer
	wire  *wire
	// direct: no proxies; the browser's transport records (Kratos, whose
	// ports are its own).
	direct bool
	// user and password sign in where the chain file has no dev user.
	user, password string
	// held are onFreePorts' listeners, by port, for the proxies.
	held map[string]net.Listener
}

func startHygiene(t *testing.T, example string, edit func(string) string) *hygiene {
	t.Helper()
	raw, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	text, held := onFreePorts(t, string(raw))
	if edit != nil {
		text = edit(text)
	}
	file := filepath.Join(t.TempDir(), "chain.yaml")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := chain.Load(file)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	h := newHygiene(t, c, file)
	h.held = held
	h.proxy(t, "idp", c.IdP.PublicURL)
	if c.IdP.AdminURL != "" && hostOf(c.IdP.AdminURL) != hostOf(c.IdP.PublicURL) {
		h.proxy(t, "idp admin", c.IdP.AdminURL)
	}
	h.proxy(t, "issuer", c.Issuer.URL)
	for _, r := range c.Receivers {
		if !r.SharedCookie {
			h.proxy(t, r.Name, r.URL)
		}
	}
	return h
}

// newHygiene starts c in a sandbox whose roles log into h.logs at debug
// level, with c's own secrets already on h.wire.
func newHygiene(t *testing.T, c *chain.Chain, file string) *hygiene {
	t.Helper()
	logs := &testenv.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sb, err := sandbox.Start(ctx, c, serve.Env{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	h := &hygiene{file: file, chain: c, sb: sb, logs: logs, wire: &wire{values: map[string]string{}}}
	// The chain's own secrets, which never travel to a browser.
	for _, u := range c.IdP.Users {
		h.wire.add("secret idp.users password", mustResolve(t, u.Password))
	}
	if !c.Token.Secret.IsZero() {
		h.wire.add("secret token.secret", mustResolve(t, c.Token.Secret))
	}
	for _, a := range c.Apps {
		h.wire.add("secret apps secret", mustResolve(t, a.Secret))
	}
	return h
}

func mustResolve(t *testing.T, ref chain.SecretRef) string {
	t.Helper()
	s, err := ref.Resolve(os.LookupEnv, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(s)
}

// onFreePorts moves every port of a *.localhost URL or 127.0.0.1
// address in text to a free loopback port, and returns the listeners it
// took for them, by port, still open: the proxies serve on them, so no
// other test can take a port between choosing it and serving on it. The
// listeners close when the test ends.
func onFreePorts(t *testing.T, text string) (string, map[string]net.Listener) {
	t.Helper()
	re := regexp.MustCompile(`(localhost|127\.0\.0\.1):(\d+)`)
	ports := map[string]string{}
	held := map[string]net.Listener{}
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		if _, ok := ports[m[2]]; !ok {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
			ports[m[2]], held[port] = port, ln
		}
	}
	return re.ReplaceAllStringFunc(text, func(s string) string {
		m := re.FindStringSubmatch(s)
		return m[1] + ":" + ports[m[2]]
	}), held
}

func hostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return u.Host
}

// proxy serves rawURL's port on 127.0.0.1, on the listener onFreePorts
// took for it, and forwards to role's sandbox listener, recording what
// passes.
func (h *hygiene) proxy(t *testing.T, role, rawURL string) {
	t.Helper()
	addr, ok := h.sb.Addr(role)
	if !ok {
		t.Fatalf("the sandbox serves no %s", role)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, ok := h.held[u.Port()]
	if !ok {
		t.Fatalf("%s: no listener was taken for port %s", role, u.Port())
	}
	delete(h.held, u.Port()) // one server per listener
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(&url.URL{Scheme: "http", Host: addr})
			pr.Out.Host = pr.In.Host
		},
		ModifyResponse: func(resp *http.Response) error {
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(body))
			h.wire.response(resp, body)
			return err
		},
		ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError),
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.wire.request(r, body)
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// browser signs in as the chain's first dev user unless password says
// otherwise; it dials only *.localhost, which is the proxies.
func (h *hygiene) browser(t *testing.T, password string) *chain.Browser {
	t.Helper()
	o := chain.BrowserOptions{Dialer: &chain.Dialer{Strict: true}, Chain: h.chain, Now: h.sb.Now}
	if h.direct {
		// No proxies: the browser records its own wire.
		o.Transport = &recorder{wire: h.wire, base: &http.Transport{DialContext: h.sb.Dialer().DialContext}}
	}
	o.User, o.Password = h.user, h.password
	if password != "" {
		if o.User == "" {
			o.User = h.chain.IdP.Users[0].Email
		}
		o.Password = password
	}
	b, err := chain.NewBrowser(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (h *hygiene) walk(t *testing.T, b *chain.Browser) *chain.Trace {
	t.Helper()
	tr, err := b.Walk(context.Background(), chain.StartURL(h.chain))
	if err != nil || tr.Failed() {
		t.Fatalf("walk: %v %+v", err, tr)
	}
	return tr
}

// walkProbeLogout is trace chain --sandbox --probe --logout, with the
// sandbox's key, clock and IdP.
func (h *hygiene) walkProbeLogout(t *testing.T) *chain.Browser {
	t.Helper()
	ctx := context.Background()
	b := h.browser(t, "")
	tr := h.walk(t, b)
	b.Expect(ctx, tr, h.chain.Expect)
	var recheck time.Duration
	for _, r := range h.chain.Receivers {
		recheck = max(recheck, r.RecheckInterval)
	}
	b.Probe(ctx, tr, chain.ProbeOptions{Signing: h.sb.Keys().Signing, Revoke: h.sb.IdP().Revoke, Advance: h.sb.Advance, RecheckInterval: recheck})
	for _, p := range tr.Probes {
		if !p.Refused && p.Skipped == "" {
			t.Errorf("probe %s on %s was not refused: %s", p.Name, p.Target, p.Detail)
		}
	}
	if len(tr.Probes) < 6 {
		t.Errorf("%d probes ran, want every kind", len(tr.Probes))
	}
	h.walk(t, b) // the revoked_session probe ended the session
	if err := b.Logout(ctx, tr, chain.LogoutOptions{Deadline: 3 * time.Second, Advance: h.sb.Advance}); err != nil {
		t.Fatal(err)
	}
	for _, r := range tr.Logout.Receivers {
		if !r.SignedOut {
			t.Errorf("logout: %s still signed in (%d)", r.Name, r.Status)
		}
	}
	return b
}

// silentCheck asks /sso/check with and without a session.
func (h *hygiene) silentCheck(t *testing.T, signedIn *chain.Browser) {
	t.Helper()
	ctx := context.Background()
	check := strings.TrimSuffix(h.chain.Issuer.URL, "/") + chain.CheckPath + "?" + url.Values{chain.ReturnToParam: {h.chain.Expect.FinalURLPrefix}}.Encode()
	h.walk(t, signedIn)
	for _, b := range []*chain.Browser{signedIn, h.browser(t, "")} {
		resp, err := b.Get(ctx, check)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
}

// wrongPassword: a refused login must not log the password typed.
func (h *hygiene) wrongPassword(t *testing.T) {
	t.Helper()
	const pw = "wrong-password-typed-by-someone-9f8e7d"
	h.wire.add("secret wrong password", pw)
	b := h.browser(t, pw)
	tr, err := b.Walk(context.Background(), chain.StartURL(h.chain))
	if err != nil {
		t.Fatal(err)
	}
	b.Expect(context.Background(), tr, h.chain.Expect) // lands where it should?
	if !tr.Failed() {
		t.Error("a wrong password signed in")
	}
}

// tokensInReturnTo: a refused return_to (or a path) that carries a token
// the walk used, at the issuer, the IdP and a receiver. What is refused is
// logged, and must be logged without the token.
func (h *hygiene) tokensInReturnTo(t *testing.T) {
	t.Helper()
	var tok string
	for v, where := range h.wire.snapshot() {
		if strings.HasPrefix(where, "token ") && strings.Count(v, ".") == 2 {
			tok = v
			break
		}
	}
	if tok == "" {
		t.Fatal("no token on the wire")
	}
	evil := "https://evil.example/sso?token=" + tok
	portal := strings.TrimSuffix(h.chain.Receivers[0].URL, "/")
	b := h.browser(t, "")
	for _, u := range []string{
		strings.TrimSuffix(h.chain.Issuer.URL, "/") + chain.LoginPath + "?" + url.Values{chain.ReturnToParam: {evil}}.Encode(),
		strings.TrimSuffix(h.chain.Issuer.URL, "/") + chain.CheckPath + "?" + url.Values{chain.ReturnToParam: {evil}}.Encode(),
		strings.TrimSuffix(h.chain.IdP.PublicURL, "/") + "/self-service/login/browser?" + url.Values{chain.ReturnToParam: {evil}}.Encode(),
		strings.TrimSuffix(h.chain.IdP.PublicURL, "/") + "/self-service/login/browser?" + url.Values{chain.ReturnToParam: {portal + "/x?token=" + tok}}.Encode(),
		portal + chain.SSOPath + "?" + url.Values{chain.TokenParam: {tok}, chain.ReturnToParam: {evil}}.Encode(),
		portal + "/" + tok,
		portal + "/auth?token=" + tok,
		portal + chain.LogoutPath + "?" + url.Values{chain.ReturnToParam: {evil}}.Encode(),
		strings.TrimSuffix(h.chain.Issuer.URL, "/") + chain.LogoutPath + "?" + url.Values{"post_logout_redirect_uri": {evil}, chain.ReturnToParam: {evil}}.Encode(),
	} {
		resp, err := b.Get(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	// Cookies the walk was given, tampered with, truncated, or sent under
	// another name, in a query or in a path: what a receiver refuses, it
	// logs, and must log without the value.
	client := &http.Client{Transport: &http.Transport{DialContext: (&chain.Dialer{Strict: true}).DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for v, where := range h.wire.snapshot() {
		if !strings.HasPrefix(where, "set-cookie ") {
			continue
		}
		name := strings.TrimPrefix(where, "set-cookie ")
		for _, r := range h.chain.Receivers {
			for _, c := range []struct{ path, cookie string }{
				{"/auth", name + "=" + tamperValue(v)},
				{"/auth", name + "=" + v[:len(v)-3]},
				{"/auth", name + "=" + v + "x"},
				{"/auth", "portal_session=" + v + "; dashboard_session=" + v},
				{"/whoami", name + "=" + tamperValue(v)},
				{"/auth?session=" + url.QueryEscape(v), ""},
				{"/" + url.PathEscape(v), ""},
			} {
				req, _ := http.NewRequest(http.MethodGet, strings.TrimSuffix(r.URL, "/")+c.path, nil)
				if c.cookie != "" {
					req.Header.Set("Cookie", c.cookie)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
		}
	}
}

// stepUp: portal wants a login younger than max_auth_age; once the clock
// passes it, a new walk goes through the IdP's login again (prompt=login).
func (h *hygiene) stepUp(t *testing.T) {
	t.Helper()
	b := h.browser(t, "")
	h.walk(t, b)
	h.sb.Advance(2 * time.Minute)
	tr := h.walk(t, b)
	if !slices.ContainsFunc(tr.Steps, func(s chain.Step) bool { return s.Method == http.MethodPost }) {
		t.Error("past max_auth_age the walk did not sign in again")
	}
}

// introspect: the wiki app asks about the issuer's cookie, with its
// credentials in Basic, in the body, and wrong.
func (h *hygiene) introspect(t *testing.T) {
	t.Helper()
	b := h.browser(t, "")
	h.walk(t, b)
	var cookie string
	for v, where := range h.wire.snapshot() {
		if where == "set-cookie accounts_session" {
			cookie = v
		}
	}
	if cookie == "" {
		t.Fatal("no accounts_session cookie on the wire")
	}
	client := &http.Client{Transport: &http.Transport{DialContext: (&chain.Dialer{Strict: true}).DialContext}}
	endpoint := strings.TrimSuffix(h.chain.Issuer.URL, "/") + "/sso/introspect"
	for _, c := range []struct {
		user, pass string
		body       map[string]string
		want       int
	}{
		{user: "wiki-app", pass: wikiSecret, body: map[string]string{"cookie": cookie}, want: http.StatusOK},
		{body: map[string]string{"key": "wiki-app", "secret": wikiSecret, "cookie": cookie}, want: http.StatusOK},
		{user: "wiki-app", pass: "not-the-wiki-secret-but-still-a-secret-123", body: map[string]string{"cookie": cookie}, want: http.StatusUnauthorized},
		{user: wikiSecret, pass: wikiSecret, body: map[string]string{"cookie": cookie}, want: http.StatusUnauthorized}, // a secret pasted as the key
		{user: "wiki-app", pass: wikiSecret, body: map[string]string{"cookie": tamperValue(cookie)}, want: http.StatusOK},
	} {
		j, _ := json.Marshal(c.body)
		req, _ := http.NewRequest(http.MethodPost, endpoint, bytes.NewReader(j))
		req.Header.Set("Content-Type", "application/json")
		if c.user != "" {
			req.SetBasicAuth(c.user, c.pass)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("introspect %v: %d, want %d: %s", c.user != "", resp.StatusCode, c.want, out)
		}
	}
}

// traceCommand runs `trace chain` live against the proxies: its browser's
// wire is recorded like the test's own, so its output can be held to the
// same rule as the logs.
func (h *hygiene) traceCommand(t *testing.T) {
	t.Helper()
	for _, args := range [][]string{
		{"trace", "chain", "-f", h.file, "--probe", "--logout"},
		{"-o", "json", "trace", "chain", "-f", h.file, "--probe", "--logout"},
	} {
		r := run(t, "", args...)
		if r.code != 0 {
			t.Errorf("%v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
		if jwt := jwtsIn(r.stdout + r.stderr); len(jwt) > 0 {
			t.Errorf("%v: output holds %d JWT-shaped values", args, len(jwt))
		}
		for _, l := range leaks(r.stdout+r.stderr, h.wire.snapshot()) {
			t.Errorf("%v: output holds %s", args, l)
		}
	}
}

// check fails the test for every wire secret in the logs and every
// JWT-shaped value there, and returns how many secrets it checked.
func (h *hygiene) check(t *testing.T) int {
	t.Helper()
	logs := h.logs.String()
	secrets := h.wire.snapshot()
	if !strings.Contains(logs, "msg=request") {
		t.Fatalf("no request lines were logged:\n%s", logs)
	}
	kinds := map[string]int{}
	for _, where := range secrets {
		kinds[strings.Fields(where)[0]]++
	}
	if kinds["set-cookie"] == 0 || kinds["token"] == 0 {
		t.Errorf("the wire gave no cookie or no token to look for (%v): the proxies saw nothing?", kinds)
	}
	for _, l := range leaks(logs, secrets) {
		t.Errorf("logs hold %s", l)
	}
	for _, j := range jwtsIn(logs) {
		t.Errorf("logs hold a JWT: %.40s…", j)
	}
	if t.Failed() {
		t.Logf("logs:\n%s", logs)
	}
	t.Logf("%d secrets checked (%v) against %d log lines", len(secrets), kinds, strings.Count(logs, "\n"))
	return len(secrets)
}

// longSegment is a base64url run longer than 16 characters: a part of a
// token or cookie that identifies it on its own.
var longSegment = regexp.MustCompile(`[A-Za-z0-9_-]{17,}`)

// leaks names each secret found in text, raw, query- or path-escaped, or
// by one of its base64url segments longer than 16 characters.
func leaks(text string, secrets map[string]string) []string {
	var out []string
	for s, where := range secrets {
		forms := []string{s, url.QueryEscape(s), url.PathEscape(s), html.EscapeString(s)}
		for _, seg := range longSegment.FindAllString(s, -1) {
			forms = append(forms, seg)
		}
		for _, f := range forms {
			if strings.Contains(text, f) {
				out = append(out, fmt.Sprintf("%s (%.12s…, as %.24s…)", where, s, f))
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

var jwtRun = regexp.MustCompile(`[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*`)

// jwtsIn returns every compact JWT in text.
func jwtsIn(text string) []string {
	var out []string
	for _, m := range jwtRun.FindAllString(text, -1) {
		for i := range strings.IndexByte(m, '.') {
			if token.LooksLikeJWT(m[i:]) {
				out = append(out, m[i:])
				break
			}
		}
	}
	return out
}

// wire is every secret value the proxies saw, with where it was seen.
type wire struct {
	mu     sync.Mutex
	values map[string]string
}

// minSecret is the shortest value worth looking for: shorter ones (a
// cleared cookie, "1") match text by chance.
const minSecret = 12

func (w *wire) add(where, v string) {
	// The chain's own secrets are looked for however short.
	if len(v) < minSecret && !strings.HasPrefix(where, "secret ") || v == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.values[v]; !ok {
		w.values[v] = where
	}
}

func (w *wire) snapshot() map[string]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.values)
}

// secretParams are query and form fields whose values are secrets.
var secretParams = map[string]bool{
	"token": true, "logout_token": true, "csrf_token": true, "password": true,
	"secret": true, "code": true, "session_token": true, "id_token": true, "access_token": true, "cookie": true,
}

func (w *wire) params(where string, v url.Values) {
	for k, vs := range v {
		for _, x := range vs {
			if secretParams[k] {
				w.add(kindOf(k)+" "+where+" "+k, x)
			}
			w.jwts(where+" "+k, x)
		}
	}
}

func kindOf(param string) string {
	if strings.HasSuffix(param, "token") && param != "csrf_token" {
		return "token"
	}
	return "param"
}

func (w *wire) jwts(where, text string) {
	for _, j := range jwtsIn(text) {
		w.add("token "+where, j)
	}
}

var hiddenInput = regexp.MustCompile(`name="(token|logout_token|csrf_token)"[^>]*?value="([^"]*)"|value="([^"]*)"[^>]*?name="(token|logout_token|csrf_token)"`)

func (w *wire) request(r *http.Request, body []byte) {
	w.params("query", r.URL.Query())
	for _, c := range r.Cookies() {
		w.add("cookie "+c.Name, c.Value)
	}
	if a := r.Header.Get("Authorization"); a != "" {
		w.add("authorization", a)
		if user, pass, ok := r.BasicAuth(); ok {
			w.add("basic user", user)
			w.add("basic password", pass)
			w.add("basic", base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
		}
	}
	switch ct := r.Header.Get("Content-Type"); {
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
		if v, err := url.ParseQuery(string(body)); err == nil {
			w.params("form", v)
		}
	case strings.HasPrefix(ct, "application/json"):
		var m map[string]any
		if json.Unmarshal(body, &m) == nil {
			for k, v := range m {
				if s, ok := v.(string); ok && secretParams[k] {
					w.add("param json "+k, s)
				}
			}
		}
	}
	w.jwts("request body", string(body))
}

func (w *wire) response(resp *http.Response, body []byte) {
	for _, c := range resp.Cookies() {
		w.add("set-cookie "+c.Name, c.Value)
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		if u, err := url.Parse(loc); err == nil {
			w.params("location", u.Query())
		}
		w.jwts("location", loc)
	}
	for _, m := range hiddenInput.FindAllStringSubmatch(string(body), -1) {
		name, value := m[1], m[2]
		if name == "" {
			name, value = m[4], m[3]
		}
		w.add(kindOf(name)+" page "+name, html.UnescapeString(value))
	}
	w.jwts("page", string(body))
}

// recorder is a RoundTripper that puts what it carries on a wire.
type recorder struct {
	wire *wire
	base http.RoundTripper
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	r.wire.request(req, body)
	resp, err := r.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	rb, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(rb))
	r.wire.response(resp, rb)
	return resp, err
}

func tamperValue(v string) string {
	b := []byte(v)
	i := len(b) / 2
	b[i] ^= 1
	return string(b)
}

func mustKey(t *testing.T) *token.Key {
	t.Helper()
	k, err := token.NewHMACKey("", []byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}
