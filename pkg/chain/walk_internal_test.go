package chain

import (
	"context"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/pkg/token"
)

var walkNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// mintFor mints a handoff for aud with the given lifetime.
func mintFor(t testing.TB, aud string, ttl time.Duration, ret string) string {
	t.Helper()
	key, err := token.NewHMACKey("", []byte("internal-test-secret-0123456789ab"))
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := token.Mint(key, token.MintOptions{
		Issuer: "https://accounts.company.com", Audience: aud, Subject: "u", SessionID: "s",
		TTL: ttl, Return: ret, Now: func() time.Time { return walkNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestTokenShaped(t *testing.T) {
	tok := mintFor(t, "portal", 30*time.Second, "")
	tests := []struct {
		in   string
		want bool
	}{
		{tok, true},
		{"eyJhbGciOiJub25lIn0.eyJhdWQiOiJ4In0.", true}, // alg none, no signature
		{"example.co.uk", false},                       // "example" decodes to "{" and noise
		{"www.example.com", false},
		{"a.b.c", false},
		{tok + ".extra", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := tokenShaped(tt.in); got != tt.want {
			t.Errorf("tokenShaped(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	portal := mintFor(t, "portal", 30*time.Second, "")
	long := mintFor(t, "dashboard", time.Hour, "")
	nested := mintFor(t, "portal", 30*time.Second, "https://accounts.company.com/sso/continue?token="+long)
	tests := []struct {
		description string
		in, want    string
	}{
		{"a token in the query",
			"https://portal.company2.com/sso?token=" + portal,
			"https://portal.company2.com/sso?token=<token aud=portal ttl=30s>"},
		{"a token in the fragment, with state kept",
			"https://app.example/cb#id_token=" + long + "&state=abc",
			"https://app.example/cb#id_token=<token aud=dashboard ttl=1h>&state=abc"},
		{"a token inside a URL inside a parameter",
			"https://accounts.company.com/login?return_to=" + url.QueryEscape("https://portal.company2.com/sso?token="+portal),
			"https://accounts.company.com/login?return_to=https%3A%2F%2Fportal.company2.com%2Fsso%3Ftoken%3D<token aud=portal ttl=30s>"},
		{"a token whose ret holds another token",
			"https://portal.company2.com/sso?token=" + nested,
			"https://portal.company2.com/sso?token=<token aud=portal ttl=30s>"},
		{"a token in the path",
			"https://portal.company2.com/sso/" + portal + "/done",
			"https://portal.company2.com/sso/<token aud=portal ttl=30s>/done"},
		{"passwords and secrets, any case, - for _",
			"https://idp.example/login?user=bob&Password=hunter2&client-secret=s3&code=xyz&state=st",
			"https://idp.example/login?user=bob&Password=<redacted>&client-secret=<redacted>&code=<redacted>&state=st"},
		{"an opaque bearer token under a token name",
			"https://app.example/cb?access_token=ory_st_abcdef&session_token=x",
			"https://app.example/cb?access_token=<token>&session_token=<token>"},
		{"userinfo",
			"https://ops:pw@portal.company2.com/path/a@b.c?x=1",
			"https://(redacted)@portal.company2.com/path/a@b.c?x=1"},
		{"an email address in a path is not userinfo",
			"https://idp.example/users/a@b.c",
			"https://idp.example/users/a@b.c"},
		{"host names that look like tokens to a loose check stay",
			"https://www.example.co.uk/home?next=https://example.co.uk/",
			"https://www.example.co.uk/home?next=https://example.co.uk/"},
		{"an undecodable token is <token>",
			"https://x.example/?t=eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln",
			"https://x.example/?t=<token>"},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			if got := redactURL(tt.in, walkNow); got != tt.want {
				t.Errorf("redactURL:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestResolveLocation(t *testing.T) {
	base, _ := url.Parse("https://portal.company2.com/sso?token=x#frag")
	tests := []struct {
		loc, want string
	}{
		{"/next", "https://portal.company2.com/next#frag"},
		{"next", "https://portal.company2.com/next#frag"},
		{"https://accounts.company.com/x#f2", "https://accounts.company.com/x#f2"},
		{"/\\evil.example/", "https://evil.example/#frag"},
		{"\\\\evil.example/", "https://evil.example/#frag"},
		{"///evil.example/", "https://evil.example/#frag"},
		{"https:evil.example", "https://portal.company2.com/evil.example#frag"}, // same scheme, no slashes: relative
		{"http:evil.example/", "http://evil.example/#frag"},                     // another special scheme: an authority
		{"http:/\\evil.example/", "http://evil.example/#frag"},
		{" \t/next\n ", "https://portal.company2.com/next#frag"},
		{"/a\\b?x=\\", "https://portal.company2.com/a/b?x=\\#frag"},
		{"myapp://callback?code=1", "myapp://callback?code=1"},
		{"?x", "https://portal.company2.com/sso?x#frag"},
		{"HTTPS://%61ccounts.company.COM:443/x", "https://accounts.company.com/x#frag"},
	}
	for _, tt := range tests {
		u, err := resolveLocation(base, tt.loc)
		if err != nil || u.String() != tt.want {
			t.Errorf("resolveLocation(%q) = %v, %v; want %s", tt.loc, u, err, tt.want)
		}
	}
}

// URLs as the WHATWG URL Standard parses them relative to a page: what a
// browser requests for a Location, a form action, a refresh or a script's
// navigation, host and path normalized, and failure where it fails.
func TestResolveURL(t *testing.T) {
	base, _ := url.Parse("https://portal.company2.com/a/b?token=x#frag")
	tests := []struct {
		ref, want string // want "" for a URL that fails to parse
	}{
		{"?x", "https://portal.company2.com/a/b?x"},
		{"", "https://portal.company2.com/a/b?token=x"},
		{"c#f2", "https://portal.company2.com/a/c#f2"},
		{"/a/%2e%2e/c", "https://portal.company2.com/c"},
		{"/a/.%2E/c/%2e", "https://portal.company2.com/c/"},
		{"../../../x", "https://portal.company2.com/x"},
		{"HTTPS://Portal.Example:443/x", "https://portal.example/x"},
		{"//HOST.example:443/y", "https://host.example/y"},
		{"http://h.example:80/", "http://h.example/"},
		{"https://h.example:0443/", "https://h.example/"},
		{"https://h.example:080/", "https://h.example:80/"},
		{"https://h.example:/", "https://h.example/"},
		{"https://%65vil.Example/", "https://evil.example/"},
		{"https://b\u00fccher.example/x?q=\u00e9", "https://xn--bcher-kva.example/x?q=%C3%A9"},
		{"https://XN--BCHER-KVA.example/", "https://xn--bcher-kva.example/"},
		{"https://\uff45vil.example/", "https://evil.example/"},
		{"/next page?x=a b&y=\"<'>", "https://portal.company2.com/next%20page?x=a%20b&y=%22%3C%27%3E"},
		{"https://0x7f.1/", "https://127.0.0.1/"},
		{"https://2130706433/", "https://127.0.0.1/"},
		{"https://0X7F.1/", "https://127.0.0.1/"},
		{"https://[0:0::1]:8443/", "https://[::1]:8443/"},
		{"https://a.example./", "https://a.example./"},
		{"https://under_score.example/", "https://under_score.example/"},
		{"https://host:99999/", ""},
		{"https://host:8o/", ""},
		{"https://exa mple.com/", ""},
		{"https://exa%20mple.com/", ""},
		{"https://a<b.example/", ""},
		{"http://[::1/", ""},
		{"https:///", ""},
		{"https://1.2.3.4.5/", ""},
		{"https://256.0.0.1/", ""},
	}
	for _, tt := range tests {
		u, err := resolveURL(base, tt.ref)
		got := ""
		if err == nil {
			got = u.String()
		}
		if got != tt.want {
			t.Errorf("resolveURL(%q) = %q (%v); want %q", tt.ref, got, err, tt.want)
		}
	}
}

func TestReferer(t *testing.T) {
	src, _ := url.Parse("https://portal.company2.com/sso?token=t#f")
	same, _ := url.Parse("https://portal.company2.com/next")
	other, _ := url.Parse("https://cdn.example/x.js")
	plain, _ := url.Parse("http://cdn.example/x.js")
	full := "https://portal.company2.com/sso?token=t"
	origin := "https://portal.company2.com/"
	tests := []struct {
		policy              string
		same, other, downgr string
	}{
		{"", full, origin, ""},
		{"no-referrer", "", "", ""},
		{"no-referrer-when-downgrade", full, full, ""},
		{"same-origin", full, "", ""},
		{"origin", origin, origin, origin},
		{"strict-origin", origin, origin, ""},
		{"origin-when-cross-origin", full, origin, origin},
		{"unsafe-url", full, full, full},
	}
	for _, tt := range tests {
		got := [3]string{referer(src, same, tt.policy), referer(src, other, tt.policy), referer(src, plain, tt.policy)}
		if want := [3]string{tt.same, tt.other, tt.downgr}; got != want {
			t.Errorf("policy %q: %q, want %q", tt.policy, got, want)
		}
	}
	if got := referrerPolicyToken("no-referrer, unknown-policy, strict-origin", false); got != "strict-origin" {
		t.Errorf("the last known policy wins: %q", got)
	}
	if got := referrerPolicyToken("never", true); got != "no-referrer" {
		t.Errorf("legacy meta keyword: %q", got)
	}
}

// The Browser keeps, for the probe step, every handoff it carried: the
// raw token and exactly how it travelled.
func TestWalkKeepsHandoffsForProbes(t *testing.T) {
	var tok string
	mux := http.NewServeMux()
	mux.HandleFunc("GET /start", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://portal.company2.localhost:8081/sso?token="+tok, http.StatusSeeOther)
	})
	mux.HandleFunc("GET /sso", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "portal_session", Value: "v", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tok = mintFor(t, "portal", 30*time.Second, "http://portal.company2.localhost:8081/")
	d := &Dialer{Strict: true, Map: map[string]string{
		"accounts.company.localhost:8080": srv.Listener.Addr().String(),
		"portal.company2.localhost:8081":  srv.Listener.Addr().String(),
	}}
	b, err := NewBrowser(BrowserOptions{Dialer: d, Now: func() time.Time { return walkNow }})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := b.Walk(context.Background(), "http://accounts.company.localhost:8080/start")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.handoffs) != 1 {
		t.Fatalf("%d handoffs kept: %+v", len(b.handoffs), b.handoffs)
	}
	h := b.handoffs[0]
	if h.raw != tok || h.in != "query" || h.param != "token" || h.method != http.MethodGet || h.form != nil ||
		h.url.Query().Get("token") != tok || h.origin != "http://portal.company2.localhost:8081" || h.receiver != "" ||
		h.walk != 1 || h.step != 2 || h.status != http.StatusSeeOther || h.location.String() != "http://portal.company2.localhost:8081/" ||
		len(h.cookies) != 1 || h.cookies[0] != "portal_session" {
		t.Errorf("handoff kept: %+v", h)
	}
	if strings.Contains(tr.Steps[1].URL, tok) {
		t.Error("the trace holds the token")
	}
	// The jar is the probes' too.
	u, _ := url.Parse("http://portal.company2.localhost:8081/auth")
	jt, ok := b.client.Transport.(jarTransport)
	if !ok || jt.jar != b.jar {
		t.Fatalf("the client's transport %T does not send the walk's jar", b.client.Transport)
	}
	if cs := jt.jar.Cookies(u); len(cs) != 1 || cs[0].Name != "portal_session" {
		t.Errorf("the client's jar sends %v", cs)
	}
}

// What the walk does with a page's forms, by what the page holds.
func TestFormKinds(t *testing.T) {
	tok := mintFor(t, "portal", 30*time.Second, "")
	tests := []struct {
		description string
		html        string
		kind        string // of the first form the walk would submit; "" none
		values      string // url-encoded, with user bob@x and password pw
	}{
		{"a login form, with a named submit button (Kratos reads it)",
			`<form method="POST" action="/login"><input type="hidden" name="csrf_token" value="c"><input name="identifier"><input type="password" name="password"><button type="submit" name="method" value="password">Sign in</button></form>`,
			FormLogin, "csrf_token=c&identifier=bob%40x&method=password&password=pw"},
		{"an identifier-first step",
			`<form method="post"><input name="username" autocomplete="username"><input type="submit" value="Next"></form>`,
			FormLogin, "username=bob%40x"},
		{"a newsletter form with an email field is left alone",
			`<form method="post" action="/subscribe"><input type="email" name="email"><button>Subscribe</button></form>`,
			"", ""},
		{"a search form is left alone",
			`<form action="/search"><input name="q"></form>`,
			"", ""},
		{"the form_post interstitial: a hidden token",
			`<form method="post" action="https://portal.company2.com/sso"><input type="hidden" name="token" value="` + tok + `"></form>`,
			FormPost, "token=" + tok},
		{"an auto-submitted form without a token (SAML-style)",
			`<body onload="document.forms[0].submit()"><form method="post" action="/acs"><input type="hidden" name="RelayState" value="r"><input type="checkbox" name="x" value="1"><input type="checkbox" name="y" checked></form></body>`,
			FormPost, "RelayState=r&y=on"},
		{"the button pressed is the first submit button, named or not",
			`<form method="post"><input type="password" name="password"><button type="submit">Sign in</button><button name="action" value="cancel">Cancel</button></form>`,
			FormLogin, "password=pw"},
		{"a disabled button is never pressed",
			`<form method="post"><input type="password" name="password"><button name="action" value="a" disabled>A</button><input type="submit" name="action" value="b"></form>`,
			FormLogin, "action=b&password=pw"},
		{"a button of a type browsers do not know submits",
			`<form method="post"><input name="username" autocomplete="username"><button type="Bogus" name="go" value="1">Next</button></form>`,
			FormLogin, "go=1&username=bob%40x"},
		{"an image button sends where it was clicked",
			`<form method="post"><input type="password" name="password"><input type="image" name="go" value="ignored" src="go.png"></form>`,
			FormLogin, "go.x=0&go.y=0&password=pw"},
		{"a form a script submits sends no button",
			`<form method="post" action="/acs"><input type="hidden" name="t" value="` + tok + `"><button name="go" value="1">Continue</button></form><script>document.forms[0].submit()</script>`,
			FormPost, "t=" + tok},
		{"a submit() in a click handler leaves the form alone",
			`<form method="post" action="/x"><input type="hidden" name="a" value="1"></form><script>document.getElementById("b").addEventListener("click", function () { document.forms[0].submit() })</script>`,
			"", ""},
		{"a JSON data block is not a script",
			`<form method="post" action="/x"><input type="hidden" name="a" value="1"></form><script type="application/json">{"js": "document.forms[0].submit()"}</script>`,
			"", ""},
		{"requestSubmit() as the page loads submits",
			`<form method="post" action="/x"><input type="hidden" name="a" value="1"></form><script>window.addEventListener("load", () => document.forms[0].requestSubmit())</script>`,
			FormPost, "a=1"},
		{"a submit() in a timer submits",
			`<form method="post" action="/x"><input type="hidden" name="a" value="1"></form><script>setTimeout(function () { document.forms[0] . submit () }, 0)</script>`,
			FormPost, "a=1"},
		{"disabled fields, textareas and selects",
			`<form method="post"><input type="hidden" name="t" value="` + tok + `"><input name="off" value="1" disabled><textarea name="note">hi</textarea><select name="s"><option value="a">A<option value="b" selected>B</select></form>`,
			FormPost, "note=hi&s=b&t=" + tok},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			p := parsePage([]byte(tt.html))
			kind, values := "", ""
			for i := range p.forms {
				if k := p.forms[i].kind(p.autoSubmit); k != "" {
					kind, values = k, p.forms[i].values("bob@x", "pw", p.autoSubmit && k != FormLogin).Encode()
					break
				}
			}
			if kind != tt.kind || values != tt.values {
				t.Errorf("kind %q values %s; want %q %s", kind, values, tt.kind, tt.values)
			}
		})
	}
}

func TestPageMeta(t *testing.T) {
	p := parsePage([]byte(`<head><meta name="referrer" content="no-referrer"><meta http-equiv="refresh" content="0; url='/next'"><base href="https://cdn.example/"></head>`))
	if p.referrer != "no-referrer" || !p.hasRefresh || p.refresh != "/next" || p.base != "https://cdn.example/" {
		t.Errorf("%+v", p)
	}
}

// Refresh declarations as the HTML Standard's shared declarative refresh
// steps read them (meta content and the Refresh header alike): the delay,
// the URL ("" reloads the page) and whether the declaration is valid at
// all (a valid one is the page's refresh, however slow).
func TestParseRefresh(t *testing.T) {
	const invalid = -1
	tests := []struct {
		in     string
		delay  int
		target string
	}{
		{"0; url=/next", 0, "/next"},
		{"0;URL=/next", 0, "/next"},
		{"1, url = '/next?a=b'", 1, "/next?a=b"},
		{`0; url="/q"x`, 0, "/q"},
		{"0;/next", 0, "/next"},
		{"0 /next", 0, "/next"},
		{"0, '/next'", 0, "/next"},
		{"  0.5; url=/next ", 0, "/next"},
		{".5;url=/next", 0, "/next"},
		{"1.9;url=/next", 1, "/next"},
		{"0; urlx", 0, "urlx"},
		{"0; url /next", 0, "url /next"},
		{"0", 0, ""},
		{"0; url=", 0, ""},
		{"2; url=/slow", 2, "/slow"},
		{"99999999999999999999;/x", math.MaxInt, "/x"},
		{"; url=/next", invalid, ""},
		{"0x; url=/next", invalid, ""},
		{"-1; url=/next", invalid, ""},
		{"", invalid, ""},
	}
	for _, tt := range tests {
		delay, target, ok := parseRefresh(tt.in)
		if ok != (tt.delay != invalid) || ok && (delay != tt.delay || target != tt.target) {
			t.Errorf("parseRefresh(%q) = %d, %q, %v; want %d, %q", tt.in, delay, target, ok, tt.delay, tt.target)
		}
	}
}

// A page's first valid refresh declaration is its refresh, and the
// Refresh header comes before any: a later one is ignored, even when the
// first is too slow for the walk to follow, or reloads the page.
func TestRefreshFirstDeclarationWins(t *testing.T) {
	tests := []struct {
		description, header, page, want string // want "" no refresh followed
	}{
		{"a meta refresh", "", `<meta http-equiv="refresh" content="0; url=/a">`, "http://app.example/a"},
		{"a slow one first", "", `<meta http-equiv="refresh" content="30; url=/slow"><meta http-equiv="refresh" content="0; url=/a">`, ""},
		{"a reload first", "", `<meta http-equiv="refresh" content="0"><meta http-equiv="refresh" content="0; url=/a">`, ""},
		{"an invalid one first", "", `<meta http-equiv="refresh" content="soon"><meta http-equiv="refresh" content="0; url=/a">`, "http://app.example/a"},
		{"the header first", "0; url=/h", `<meta http-equiv="refresh" content="0; url=/a">`, "http://app.example/h"},
		{"a slow header first", "30; url=/h", `<meta http-equiv="refresh" content="0; url=/a">`, ""},
		{"an invalid header", "soon", `<meta http-equiv="refresh" content="0; url=/a">`, "http://app.example/a"},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			u, _ := url.Parse("http://app.example/page")
			resp := &http.Response{Header: http.Header{}}
			if tt.header != "" {
				resp.Header.Set("Refresh", tt.header)
			}
			got := ""
			if next := refreshNext(&request{url: u}, resp, parsePage([]byte(tt.page)), u, ""); next != nil {
				got = next.url.String()
			}
			if got != tt.want {
				t.Errorf("refresh to %q, want %q", got, tt.want)
			}
		})
	}
}

// Only a redirect keeps the fragment of the URL it answered (Fetch); a
// page's refresh, form or script navigates to its own URL, resolved
// against the page's base URL (HTML).
func TestWalkFragmentOnlyThroughRedirects(t *testing.T) {
	mux := http.NewServeMux()
	page := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, body)
		}
	}
	mux.HandleFunc("GET /redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/done", http.StatusFound) })
	mux.HandleFunc("GET /refresh", page(`<meta http-equiv="refresh" content="0; url=done">`))
	mux.HandleFunc("GET /form", page(`<body onload="document.forms[0].submit()"><form method="post" action="done"><input type="hidden" name="a" value="1"></form>`))
	mux.HandleFunc("GET /script", page(`<script>location.replace("done")</script>`))
	mux.HandleFunc("GET /base", page(`<base href="/sub/"><meta http-equiv="refresh" content="0; url=done">`))
	mux.HandleFunc("/", page(`<p>done</p>`))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, tt := range []struct{ start, second string }{
		{"http://app.example/redirect#frag", "http://app.example/done#frag"},
		{"http://app.example/refresh#frag", "http://app.example/done"},
		{"http://app.example/form#frag", "http://app.example/done"},
		{"http://app.example/script#frag", "http://app.example/done"},
		{"http://app.example/base#frag", "http://app.example/sub/done"},
	} {
		d := &Dialer{Strict: true, Map: map[string]string{"app.example:80": srv.Listener.Addr().String()}}
		b, err := NewBrowser(BrowserOptions{Dialer: d, Now: func() time.Time { return walkNow }})
		if err != nil {
			t.Fatal(err)
		}
		tr, err := b.Walk(context.Background(), tt.start)
		if err != nil {
			t.Fatal(err)
		}
		if len(tr.Steps) < 2 || tr.Steps[1].URL != tt.second {
			var urls []string
			for _, st := range tr.Steps {
				urls = append(urls, st.URL)
			}
			t.Errorf("%s: steps %q; want the second at %s", tt.start, urls, tt.second)
		}
	}
}

// A form is posted in the encoding its enctype names (HTML's form
// submission algorithm): urlencoded by default and for values browsers do
// not know, multipart/form-data, text/plain.
func TestWalkPostsFormsByEnctype(t *testing.T) {
	for _, tt := range []struct{ enctype, want string }{
		{"", "application/x-www-form-urlencoded"},
		{"bogus", "application/x-www-form-urlencoded"},
		{"Multipart/Form-Data", "multipart/form-data"},
		{"text/plain", "text/plain"},
	} {
		var got, fields string
		mux := http.NewServeMux()
		mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<form method="post" action="/acs" enctype="%s"><input type="hidden" name="a" value="1 2"><input type="hidden" name="b" value="&amp;"></form><script>document.forms[0].submit()</script>`, tt.enctype)
		})
		mux.HandleFunc("POST /acs", func(w http.ResponseWriter, r *http.Request) {
			got, _, _ = mime.ParseMediaType(r.Header.Get("Content-Type"))
			switch got {
			case "text/plain":
				body, _ := io.ReadAll(r.Body)
				fields = string(body)
			case "multipart/form-data":
				_ = r.ParseMultipartForm(1 << 20)
				fields = url.Values(r.MultipartForm.Value).Encode()
			default:
				_ = r.ParseForm()
				fields = r.PostForm.Encode()
			}
		})
		srv := httptest.NewServer(mux)
		d := &Dialer{Strict: true, Map: map[string]string{"app.example:80": srv.Listener.Addr().String()}}
		b, err := NewBrowser(BrowserOptions{Dialer: d, Now: func() time.Time { return walkNow }})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Walk(context.Background(), "http://app.example/"); err != nil {
			t.Fatal(err)
		}
		srv.Close()
		want := "a=1+2&b=%26"
		if tt.want == "text/plain" {
			want = "a=1 2\r\nb=&\r\n"
		}
		if got != tt.want || fields != want {
			t.Errorf("enctype %q: posted %s %q; want %s %q", tt.enctype, got, fields, tt.want, want)
		}
	}
}
