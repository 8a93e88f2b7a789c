package e2e

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ssoctl/ssoctl/internal/kratostest"
	"github.com/ssoctl/ssoctl/internal/testenv"
)

// kratosChain is devChain with a real Ory Kratos as the IdP: the issuer
// renders Kratos's login flow at /ui/login, and Kratos's CSRF and session
// cookies are on company.localhost so the issuer receives them.
var kratosChain = strings.NewReplacer(
	"  kind: dev\n", "  kind: kratos\n  cookie_domain: company.localhost\n",
	`{{port "idp"}}`, `{{port "kratos"}}`,
	`{{port "idp-admin"}}`, `{{port "kratos-admin"}}`,
	"  users:\n    - {email: alice@example.com, password: wonderland}\n", "",
).Replace(devChain)

const kratosPassword = "kratos-e2e-password-not-secret"

// The chain on a real Kratos v1.3.1, in Chromium: Kratos's browser login
// flow shown by the issuer, one login, signed in on three root domains;
// then `ssoctl trace chain --idp-url` walks the same chain and must take
// the same hops the browser took.
func TestBrowser_kratosChain(t *testing.T) {
	t.Parallel()
	if strings.Contains(kratosChain, "kind: dev") || !strings.Contains(kratosChain, `{{port "kratos"}}`) {
		t.Fatal("kratosChain: devChain changed shape; update the replacements")
	}
	var k *kratostest.Kratos
	res := loginInBrowser(t, browserLogin{
		Chain: kratosChain, User: "alice@example.com", Password: kratosPassword,
		BeforeLogin: func(t *testing.T, c *runningChain) {
			k = kratostest.Start(t, kratostest.Options{
				Host: "auth.company.localhost", UIURL: c.Issuer.URL, ReturnURLs: c.ReturnTo.Allow,
				CookieDomain: c.IdP.CookieDomain, PublicPort: portOf(t, c.IdP.PublicURL), AdminPort: portOf(t, c.IdP.AdminURL),
			})
			k.CreateIdentity(t, "alice@example.com", kratosPassword, "admin")
		},
	})
	if !strings.Contains(res.LoginURL, "/ui/login?flow=") {
		t.Errorf("the login form was at %s, want the issuer's /ui/login", res.LoginURL)
	}

	logoutInBrowser(t, res)

	// The browser's hops, as trace prints them: method, URL without its
	// query, status.
	var browserHops []string
	for _, h := range res.Hops {
		u, _, _ := strings.Cut(h.URL, "?")
		browserHops = append(browserHops, h.Method+" "+u+" "+strconv.FormatInt(h.Status, 10))
	}
	bin := ssoctlBinary(t)
	cmd := exec.Command(bin, "-o", "json", "trace", "chain", "-f", res.Chain.File,
		"--idp-url", k.PublicURL, "--idp-admin-url", k.AdminURL,
		"--user", "alice@example.com", "--password-env", "E2E_PW")
	cmd.Env = append(os.Environ(), "E2E_PW="+kratosPassword, "NO_COLOR=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("trace chain: %v\n%s", err, out)
	}
	if strings.Contains(string(out), kratosPassword) {
		t.Error("trace chain printed the password")
	}
	var tr struct {
		Steps []struct {
			Method string `json:"method"`
			URL    string `json:"url"`
			Status int    `json:"status"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(out, &tr); err != nil {
		t.Fatalf("trace chain -o json: %v\n%s", err, out)
	}
	var traceHops []string
	for _, s := range tr.Steps {
		u, _, _ := strings.Cut(s.URL, "?")
		traceHops = append(traceHops, s.Method+" "+u+" "+strconv.Itoa(s.Status))
	}
	if len(traceHops) != 10 || strings.Join(traceHops, "\n") != strings.Join(browserHops, "\n") {
		t.Errorf("trace chain's hops:\n%s\nthe browser's:\n%s", strings.Join(traceHops, "\n"), strings.Join(browserHops, "\n"))
	}
}

func portOf(t *testing.T, raw string) int {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatalf("%s has no port", raw)
	}
	return p
}

var ssoctlBuild struct {
	once sync.Once
	path string
	out  []byte
	err  error
}

// ssoctlBinary builds the CLI once per test process.
func ssoctlBinary(t *testing.T) string {
	t.Helper()
	ssoctlBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "ssoctl-e2e-")
		if err != nil {
			ssoctlBuild.err = err
			return
		}
		ssoctlBuild.path = filepath.Join(dir, "ssoctl")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", ssoctlBuild.path, "./cmd/ssoctl")
		cmd.Dir = testenv.RepoRoot(t)
		ssoctlBuild.out, ssoctlBuild.err = cmd.CombinedOutput()
	})
	if ssoctlBuild.err != nil {
		t.Fatalf("go build ./cmd/ssoctl: %v\n%s", ssoctlBuild.err, ssoctlBuild.out)
	}
	return ssoctlBuild.path
}

// logoutInBrowser opens the issuer's /logout in the signed-in browser and
// checks that every domain is signed out afterwards: each landing page
// says so and each receiver's /auth answers 401.
func logoutInBrowser(t *testing.T, res loginResult) {
	t.Helper()
	b, c := res.Browser, res.Chain
	issuer := strings.TrimSuffix(c.Issuer.URL, "/")
	if _, err := chromedp.RunResponse(b.ctx, chromedp.Navigate(issuer+"/logout")); err != nil {
		t.Fatalf("open %s/logout: %v\n%s", issuer, err, b.report())
	}
	// The navigation may load a page that moves on by itself (a long
	// chain's resume page) before it lands: wait for the landing.
	var landed string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err := chromedp.Run(b.ctx, chromedp.Location(&landed)); err != nil {
			t.Fatal(err)
		}
		if landed == issuer+"/" || time.Now().After(deadline) {
			break
		}
	}
	if landed != issuer+"/" {
		t.Errorf("logout landed on %s, want %s/", redactURL(landed), issuer)
	}
	checkSignedOut(t, res)
}

// checkSignedOut opens every role's landing page in the browser that
// logged out, and every receiver's /auth: none may say the user is signed
// in.
func checkSignedOut(t *testing.T, res loginResult) {
	t.Helper()
	b, c := res.Browser, res.Chain
	issuer := strings.TrimSuffix(c.Issuer.URL, "/")
	dir := outputDir(t)
	check := func(role, origin string, receiver bool) {
		t.Helper()
		resp, err := chromedp.RunResponse(b.ctx, chromedp.Navigate(origin+"/"))
		if err != nil {
			t.Fatalf("%s: open %s/: %v", role, origin, err)
		}
		var text string
		if err := chromedp.Run(b.ctx, chromedp.Evaluate(`document.body.innerText`, &text)); err != nil {
			t.Fatal(err)
		}
		shot := b.screenshot(dir, "signed-out-"+role)
		if resp.Status != 200 || !strings.Contains(text, "Not signed in") {
			t.Errorf("%s after logout: %d\n%s", role, resp.Status, text)
		}
		if receiver {
			// Chromium turns a top-level 401 without a body into a load
			// error; the status is in the network events the browser
			// records (the page's CSP rightly forbids a fetch).
			before := len(b.Hops())
			_, _ = chromedp.RunResponse(b.ctx, chromedp.Navigate(origin+"/auth"))
			var status int64
			for _, h := range b.Hops()[before:] {
				if h.URL == origin+"/auth" && h.Status != 0 {
					status = h.Status
				}
			}
			if status != 401 {
				t.Errorf("%s: /auth after logout = %d, want 401", role, status)
			}
		}
		t.Logf("%s: signed out; screenshot %s", role, shot)
	}
	for _, r := range c.Receivers {
		check(r.Name, strings.TrimSuffix(r.URL, "/"), true)
	}
	check("issuer", issuer, false)
}
