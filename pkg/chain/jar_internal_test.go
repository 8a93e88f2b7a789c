package chain

import (
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"testing"
	"time"
)

// The SameSite rules the walk applies, case by case: what a browser sends
// with one navigation. internal/e2e's TestChromiumSameSite walks the same
// kinds of navigation in a real Chromium.
func TestJarSameSite(t *testing.T) {
	mustURL := func(s string) *url.URL {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	set := []string{
		"strict=1; Path=/; SameSite=Strict",
		"lax=1; Path=/; SameSite=Lax",
		"unset=1; Path=/",
		"none=1; Path=/; SameSite=None; Secure",
		// Two cookies named sid reach /app: the Go jar sends the longer
		// path first, and each keeps its own SameSite.
		"sid=root; Path=/; SameSite=Lax",
		"sid=app; Path=/app; SameSite=Strict",
	}
	tests := []struct {
		name      string
		initiator string // "" typed
		method    string
		target    string
		age       time.Duration // since the cookies were set
		send      []string      // name=value, in the jar's order
		withheld  []string      // name: reason
	}{
		{
			name: "typed in the address bar: everything", target: "https://a.company.com/app/x",
			send: []string{"sid=app", "strict=1", "lax=1", "unset=1", "none=1", "sid=root"},
		},
		{
			name: "a form on a sibling host is same-site", initiator: "https://login.company.com/form", method: "POST", target: "https://a.company.com/",
			send: []string{"strict=1", "lax=1", "unset=1", "none=1", "sid=root"},
		},
		{
			name: "the same domain over another scheme is another site", initiator: "http://login.company.com/form", method: "GET", target: "https://a.company.com/",
			send:     []string{"lax=1", "unset=1", "none=1", "sid=root"},
			withheld: []string{"strict: SameSite=Strict on a cross-site GET from http://company.com"},
		},
		{
			name: "a cross-site GET keeps back Strict only", initiator: "https://shop.example/page", method: "GET", target: "https://a.company.com/app/x",
			send:     []string{"lax=1", "unset=1", "none=1", "sid=root"},
			withheld: []string{"sid: SameSite=Strict on a cross-site GET from shop.example", "strict: SameSite=Strict on a cross-site GET from shop.example"},
		},
		{
			name: "a cross-site POST in the first two minutes also keeps back Lax", initiator: "https://shop.example/page", method: "POST", target: "https://a.company.com/",
			age:      time.Minute,
			send:     []string{"unset=1", "none=1"},
			withheld: []string{"lax: SameSite=Lax on a cross-site POST from shop.example", "sid: SameSite=Lax on a cross-site POST from shop.example", "strict: SameSite=Strict on a cross-site POST from shop.example"},
		},
		{
			name: "after two minutes, a cookie without SameSite is Lax too", initiator: "https://shop.example/page", method: "POST", target: "https://a.company.com/",
			age:  2 * time.Minute,
			send: []string{"none=1"},
			withheld: []string{"lax: SameSite=Lax on a cross-site POST from shop.example", "sid: SameSite=Lax on a cross-site POST from shop.example",
				"strict: SameSite=Strict on a cross-site POST from shop.example",
				"unset: no SameSite (Lax in Chromium) on a cross-site POST from shop.example, 2m0s after it was set"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
			j := newBrowserJar(func() time.Time { return now })
			from := mustURL("https://a.company.com/app/set")
			var cs []*http.Cookie
			for _, line := range set {
				c, err := http.ParseSetCookie(line)
				if err != nil {
					t.Fatal(err)
				}
				cs = append(cs, c)
			}
			j.SetCookies(from, cs)
			now = now.Add(tt.age)
			n := navigation{method: tt.method}
			if tt.initiator != "" {
				n.initiator = mustURL(tt.initiator)
			}
			var withheld []WithheldCookie
			got := j.forNavigation(n, &withheld).Cookies(mustURL(tt.target))
			var send, held []string
			for _, c := range got {
				send = append(send, c.Name+"="+c.Value)
			}
			for _, c := range withheld {
				if c.Host != "a.company.com" {
					t.Errorf("%s: host %q", c.Name, c.Host)
				}
				held = append(held, c.Name+": "+c.Reason)
			}
			slices.Sort(held)
			if !reflect.DeepEqual(send, tt.send) {
				t.Errorf("sent %q, want %q", send, tt.send)
			}
			if !reflect.DeepEqual(held, tt.withheld) {
				t.Errorf("withheld %q, want %q", held, tt.withheld)
			}
		})
	}
}

// Browsers treat http://localhost and *.localhost as a secure context and
// send Secure cookies there (so does the Go jar); a
// navigation's view of the jar must keep that.
func TestJarSendsSecureCookiesToLocalhost(t *testing.T) {
	j := newBrowserJar(time.Now)
	u, _ := url.Parse("http://portal.company2.localhost:8081/sso")
	c, _ := http.ParseSetCookie("portal_session=1; Path=/; Secure; HttpOnly; SameSite=None")
	j.SetCookies(u, []*http.Cookie{c})
	var withheld []WithheldCookie
	if got := j.forNavigation(navigation{method: http.MethodGet}, &withheld).Cookies(u); len(got) != 1 {
		t.Errorf("http://…localhost got %d cookies, want the Secure one", len(got))
	}
	if got := j.names(u); !slices.Equal(got, []string{"portal_session"}) {
		t.Errorf("names %q", got)
	}
	other, _ := url.Parse("http://portal.company2.example:8081/sso")
	j.SetCookies(other, []*http.Cookie{c})
	if got := j.Cookies(other); len(got) != 0 {
		t.Errorf("plain http got %d cookies, want none (and none stored)", len(got))
	}
}

// Clear-Site-Data "cookies" takes every cookie of the answering host's site
// out of the jar, from a secure context only.
func TestJarClearSiteData(t *testing.T) {
	set := func(j *browserJar, raw, line string) {
		u, _ := url.Parse(raw)
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatal(err)
		}
		j.SetCookies(u, []*http.Cookie{c})
	}
	fill := func() *browserJar {
		j := newBrowserJar(time.Now)
		set(j, "https://a.company.com/", "a=1; Path=/")
		set(j, "https://a.company.com/deep/x", "deep=1; Path=/deep")
		set(j, "https://c.company.com/", "c=1; Path=/")
		set(j, "https://c.company.com/", "wide=1; Path=/; Domain=company.com")
		set(j, "https://b.other.com/", "b=1; Path=/")
		set(j, "http://x.company.localhost/", "x=1; Path=/")
		return j
	}
	names := func(j *browserJar, raw string) []string {
		u, _ := url.Parse(raw)
		var out []string
		for _, c := range j.Cookies(u) {
			out = append(out, c.Name)
		}
		slices.Sort(out)
		return out
	}
	h := http.Header{"Clear-Site-Data": {`"cache", "cookies"`}}
	for _, tt := range []struct {
		from    string
		header  http.Header
		cleared []string
	}{
		{"https://sub.company.com/logout", h, []string{"a", "c", "deep", "wide"}},
		{"https://sub.company.com/logout", http.Header{"Clear-Site-Data": {`"*"`}}, []string{"a", "c", "deep", "wide"}},
		{"https://sub.company.com/logout", http.Header{"Clear-Site-Data": {`cookies`}}, nil}, // not a quoted string
		{"https://sub.company.com/logout", http.Header{"Clear-Site-Data": {`"storage"`}}, nil},
		{"http://sub.company.com/logout", h, nil}, // not a secure context
		{"http://y.company.localhost/logout", h, []string{"x"}},
	} {
		j := fill()
		u, _ := url.Parse(tt.from)
		var got []string
		for _, c := range j.clearSiteData(u, tt.header) {
			got = append(got, c.Name)
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.cleared) {
			t.Errorf("%s %v: cleared %q, want %q", tt.from, tt.header, got, tt.cleared)
		}
		if len(tt.cleared) > 0 && tt.cleared[0] == "a" {
			if left := names(j, "https://a.company.com/deep/x"); len(left) != 0 {
				t.Errorf("a.company.com still sends %q", left)
			}
			if left := names(j, "https://b.other.com/"); !slices.Equal(left, []string{"b"}) {
				t.Errorf("another site lost its cookies: %q", left)
			}
		}
	}
}
