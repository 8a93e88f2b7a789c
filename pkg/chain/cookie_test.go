package chain_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/ssoctl/ssoctl/pkg/chain"
)

// jarTest is one response setting cookies, read like net/http/cookiejar's
// own tests: where it came from, what it set, what a browser keeps, and
// what the trace says about it.
type jarTest struct {
	description string
	fromURL     string
	setCookies  []string
	rejected    []string // Rejected of each Set-Cookie, in order; "" stored (a substring is enough)
	held        []string // what the jar then sends to fromURL's host
	codes       []string // findings
}

var jarTests = []jarTest{
	{
		description: "A host-only session cookie with every flag.",
		fromURL:     "https://www.example.co.uk/",
		setCookies:  []string{"sid=1; Path=/; Secure; HttpOnly; SameSite=Lax"},
		rejected:    []string{""},
		held:        []string{"sid from www.example.co.uk Path=/ Secure HttpOnly SameSite=Lax"},
	},
	{
		description: "Domain is the registrable domain: every host under it gets the cookie.",
		fromURL:     "https://www.example.co.uk/",
		setCookies:  []string{"session=1; Domain=.Example.co.uk; Path=/; Secure; HttpOnly; SameSite=Lax"},
		rejected:    []string{""},
		held:        []string{"session from www.example.co.uk Domain=example.co.uk Path=/ Secure HttpOnly SameSite=Lax"},
		codes:       []string{"SSO201(warning)"},
	},
	{
		description: "Domain is a public suffix of the ICANN section.",
		fromURL:     "https://www.example.co.uk/",
		setCookies:  []string{"session=1; Domain=co.uk; Secure; HttpOnly; SameSite=Lax"},
		rejected:    []string{"Domain=co.uk is a public suffix"},
		codes:       []string{"SSO201"},
	},
	{
		description: "Domain is a public suffix of the private section.",
		fromURL:     "https://me.github.io/",
		setCookies:  []string{"session=1; Domain=github.io; Secure; HttpOnly; SameSite=Lax"},
		rejected:    []string{"Domain=github.io is a public suffix"},
		codes:       []string{"SSO201"},
	},
	{
		description: "Domain is another site.",
		fromURL:     "https://www.example.co.uk/",
		setCookies:  []string{"session=1; Domain=other.example; Secure; HttpOnly; SameSite=Lax"},
		rejected:    []string{"does not cover the host www.example.co.uk"},
		codes:       []string{"SSO201"},
	},
	{
		description: "A session cookie over https with no flags at all.",
		fromURL:     "https://www.example.co.uk/",
		setCookies:  []string{"auth_token=1; Path=/"},
		rejected:    []string{""},
		held:        []string{"auth_token from www.example.co.uk Path=/"},
		codes:       []string{"SSO202"},
	},
	{
		description: "A cookie whose name says nothing about sessions is not judged by its flags.",
		fromURL:     "https://www.example.co.uk/",
		setCookies:  []string{"theme=dark; Path=/", "csrf_token=1; Path=/; Secure; SameSite=Strict"},
		rejected:    []string{"", ""},
		held:        []string{"csrf_token from www.example.co.uk Path=/ Secure SameSite=Strict", "theme from www.example.co.uk Path=/"},
	},
	{
		description: "A session cookie sent along with every other site's requests.",
		fromURL:     "https://www.example.co.uk/",
		setCookies:  []string{"sid=1; Path=/; Secure; HttpOnly; SameSite=None"},
		rejected:    []string{""},
		held:        []string{"sid from www.example.co.uk Path=/ Secure HttpOnly SameSite=None"},
		codes:       []string{"SSO202"},
	},
	{
		description: "A Secure cookie from plain http: browsers refuse it.",
		fromURL:     "http://www.example.co.uk/",
		setCookies:  []string{"sid=1; Secure; HttpOnly; SameSite=Lax"},
		rejected:    []string{"Secure cookie set over http"},
		codes:       []string{"SSO202"},
	},
	{
		description: "A Secure cookie from http on a .localhost host: localhost is a secure origin to browsers.",
		fromURL:     "http://app.localhost:8080/",
		setCookies:  []string{"sid=1; Secure; HttpOnly; SameSite=Lax"},
		rejected:    []string{""},
		held:        []string{"sid from app.localhost Path=/ Secure HttpOnly SameSite=Lax"},
	},
	{
		description: "SameSite=None without Secure.",
		fromURL:     "https://www.example.co.uk/",
		setCookies:  []string{"sid=1; HttpOnly; SameSite=None"},
		rejected:    []string{"SameSite=None without Secure"},
		codes:       []string{"SSO202"},
	},
	{
		description: "Prefixed cookies that break their prefix's rules.",
		fromURL:     "https://www.example.co.uk/",
		setCookies: []string{
			"__Host-sid=1; Secure; HttpOnly; SameSite=Lax; Path=/; Domain=example.co.uk",
			"__Secure-sid=1; HttpOnly; SameSite=Lax",
			"__Host-ok=1; Secure; HttpOnly; SameSite=Lax; Path=/",
		},
		rejected: []string{"a __Host- cookie must be", "a __Secure- cookie must be", ""},
		held:     []string{"__Host-ok from www.example.co.uk Path=/ Secure HttpOnly SameSite=Lax"},
		codes:    []string{"SSO202", "SSO202"},
	},
	{
		description: "Deletions are exempt from the flag rules, by Max-Age or by a past Expires.",
		fromURL:     "https://www.example.co.uk/",
		setCookies:  []string{"session=; Max-Age=0", "sid=; Expires=Thu, 01 Jan 1970 00:00:00 GMT"},
		rejected:    []string{"", ""},
	},
	{
		description: "Lines net/http cannot read and browsers keep: no name, a space in a name, quotes in a value.",
		fromURL:     "https://www.example.co.uk/",
		setCookies:  []string{"secretvalue", "bad name=secretvalue; Path=/", `prefs={"a":"secretvalue"}; Path=/`},
		rejected:    []string{"", "", ""},
		held:        []string{" from www.example.co.uk Path=/", "bad name from www.example.co.uk Path=/", "prefs from www.example.co.uk Path=/"},
	},
	{
		description: "A Set-Cookie browsers drop is dropped, and the trace says so by name only.",
		fromURL:     "https://www.example.co.uk/",
		setCookies:  []string{"=; Path=/", "=__Host-secretvalue; Secure; Path=/"},
		rejected:    []string{"malformed", "without a name"},
		codes:       []string{"SSO203", "SSO203"},
	},
	{
		description: "Without a Path, a cookie is scoped to the directory of the URL that set it.",
		fromURL:     "https://www.example.co.uk/app/set",
		setCookies:  []string{"sid=1; Secure; HttpOnly; SameSite=Lax"},
		rejected:    []string{""},
		held:        []string{"sid from www.example.co.uk Path=/app Secure HttpOnly SameSite=Lax"},
	},
}

func TestWalkJudgesCookiesLikeABrowser(t *testing.T) {
	for _, tt := range jarTests {
		t.Run(tt.description, func(t *testing.T) {
			from, _ := url.Parse(tt.fromURL)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for _, line := range tt.setCookies {
					w.Header().Add("Set-Cookie", line)
				}
				w.Header().Set("Content-Type", "text/plain")
			})
			srv := httptest.NewUnstartedServer(h)
			if from.Scheme == "https" {
				srv.StartTLS()
			} else {
				srv.Start()
			}
			t.Cleanup(srv.Close)
			host := from.Host
			if from.Port() == "" {
				host += map[string]string{"http": ":80", "https": ":443"}[from.Scheme]
			}
			d := &chain.Dialer{Map: map[string]string{host: srv.Listener.Addr().String()}, Strict: true}
			b, err := chain.NewBrowser(chain.BrowserOptions{Dialer: d, Now: newClock().Now, Transport: &http.Transport{
				DialContext:     d.DialContext,
				TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // httptest's certificate names example.com
			}})
			if err != nil {
				t.Fatal(err)
			}
			tr := walk(t, b, tt.fromURL)
			sc := tr.Steps[0].SetCookies
			if len(sc) != len(tt.rejected) {
				t.Fatalf("%d Set-Cookies recorded, want %d: %+v", len(sc), len(tt.rejected), sc)
			}
			for i, c := range sc {
				if tt.rejected[i] == "" && c.Rejected != "" || !strings.Contains(c.Rejected, tt.rejected[i]) {
					t.Errorf("Set-Cookie %d (%s): rejected %q, want %q", i, c.Name, c.Rejected, tt.rejected[i])
				}
			}
			equalLists(t, "held", heldCookies(tr)[from.Hostname()], tt.held)
			equalLists(t, "findings", codes(tr.Findings), tt.codes)
			secretsAbsent(t, tr, "secretvalue")
		})
	}
}

// The walk sends back what it stored as a browser writes it: a cookie
// without a name as its value alone, values byte for byte.
func TestWalkSendsCookiesLikeABrowser(t *testing.T) {
	var got string
	mux := http.NewServeMux()
	mux.HandleFunc("GET /start", func(w http.ResponseWriter, r *http.Request) {
		for _, line := range []string{"nameless", `prefs={"a":[1,2]}`, `q="quoted"`, "s=1; Expires=Thursday, 01-Jan-70 00:00:01 GMT"} {
			w.Header().Add("Set-Cookie", line)
		}
		http.Redirect(w, r, "/next", http.StatusFound)
	})
	mux.HandleFunc("GET /next", func(w http.ResponseWriter, r *http.Request) { got = r.Header.Get("Cookie") })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	d := &chain.Dialer{Map: map[string]string{"app.example:80": srv.Listener.Addr().String()}, Strict: true}
	b, err := chain.NewBrowser(chain.BrowserOptions{Dialer: d, Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	walk(t, b, "http://app.example/start")
	want := `nameless; prefs={"a":[1,2]}; q="quoted"`
	if got != want {
		t.Errorf("Cookie: %s\nwant:   %s", got, want)
	}
	// Requests after the walk (Get, the probes, the expectations' checks)
	// send the same bytes, and log nothing: net/http's own cookie writer
	// would drop the braces' quotes and log each byte it dropped.
	var logged bytes.Buffer
	log.SetOutput(&logged)
	t.Cleanup(func() { log.SetOutput(os.Stderr) })
	got = ""
	if _, err := b.Get(context.Background(), "http://app.example/next"); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("Get's Cookie: %s\nwant:        %s", got, want)
	}
	if logged.Len() > 0 {
		t.Errorf("sending the cookies logged %q", logged.String())
	}
}
