package chain

import (
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
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
			for _, c := range j.setCookieLines(from, set) {
				if c.Rejected != "" {
					t.Fatalf("%s: %s", c.Name, c.Rejected)
				}
			}
			now = now.Add(tt.age)
			n := navigation{method: tt.method}
			if tt.initiator != "" {
				n.initiator = mustURL(tt.initiator)
			}
			got, withheld := j.cookiesFor(mustURL(tt.target), n)
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
	line := "portal_session=1; Path=/; Secure; HttpOnly; SameSite=None"
	j.setCookieLines(u, []string{line})
	if got, _ := j.cookiesFor(u, navigation{method: http.MethodGet}); len(got) != 1 {
		t.Errorf("http://…localhost got %d cookies, want the Secure one", len(got))
	}
	if got := j.names(u); !slices.Equal(got, []string{"portal_session"}) {
		t.Errorf("names %q", got)
	}
	other, _ := url.Parse("http://portal.company2.example:8081/sso")
	j.setCookieLines(other, []string{line})
	if got := j.Cookies(other); len(got) != 0 {
		t.Errorf("plain http got %d cookies, want none (and none stored)", len(got))
	}
}

// Clear-Site-Data "cookies" takes every cookie of the answering host's site
// out of the jar, from a secure context only.
func TestJarClearSiteData(t *testing.T) {
	set := func(j *browserJar, raw, line string) {
		u, _ := url.Parse(raw)
		if c := j.setCookieLines(u, []string{line}); c[0].Rejected != "" {
			t.Fatalf("%s: %s", c[0].Name, c[0].Rejected)
		}
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

// jarStep is one moment of a jarTest: the clock moves on, an answer from
// from sets cookies, and a request to to goes out.
type jarStep struct {
	after    time.Duration // the clock moves on first
	from     string        // the URL whose answer sets set
	set      []string      // Set-Cookie lines, as sent
	rejected []string      // each line's Rejected ("" stored; a substring is enough)
	to       string        // then a request to this URL…
	sends    string        // …carries this Cookie header
}

// What the jar stores and sends, as Chromium does (RFC 6265bis §5.6 to
// §5.8): Set-Cookie lines are read by the browser's algorithm, not by
// net/http's stricter grammar, and the Cookie header is written as a
// browser writes it.
func TestJarReadsSetCookieLikeChromium(t *testing.T) {
	long := strings.Repeat("v", maxCookieSize-1)
	tests := []struct {
		description string
		steps       []jarStep
	}{
		{"attribute names in any case", []jarStep{{
			from: "https://h.example/", set: []string{"a=1; PATH=/app; sEcUrE; HTTPONLY; samesite=STRICT"}, rejected: []string{""},
			to: "https://h.example/app/x", sends: "a=1",
		}, {to: "https://h.example/", sends: ""}, {to: "http://h.example/app/x", sends: ""}}},
		{"Max-Age wins over Expires, in either order", []jarStep{{
			from: "https://h.example/", set: []string{
				"a=1; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
				"b=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=60",
				"c=1; Max-Age=0; Expires=Fri, 01 Jan 2100 00:00:00 GMT",
			}, rejected: []string{"", "", ""},
			to: "https://h.example/", sends: "a=1; b=1",
		}, {after: time.Minute, to: "https://h.example/", sends: ""}}},
		{"a Max-Age that is no number is left out; leading zeros count", []jarStep{{
			from: "https://h.example/", set: []string{"a=1; Max-Age=soon", "b=1; Max-Age=007", "c=1; Max-Age=", "d=1; Max-Age=1e3"},
			rejected: []string{"", "", "", ""}, to: "https://h.example/", sends: "a=1; b=1; c=1; d=1",
		}, {after: 8 * time.Second, to: "https://h.example/", sends: "a=1; c=1; d=1"}}},
		{"zero or negative Max-Age deletes", []jarStep{{
			from: "https://h.example/", set: []string{"a=1", "b=1"}, rejected: []string{"", ""},
		}, {
			from: "https://h.example/", set: []string{"a=; Max-Age=0", "b=; Max-Age=-5"}, rejected: []string{"", ""},
			to: "https://h.example/", sends: "",
		}}},
		{"a Max-Age past the 400-day cap neither overflows nor outlives the cap", []jarStep{{
			from: "https://h.example/", set: []string{"a=1; Max-Age=99999999999", "b=1; Max-Age=99999999999999999999999"}, rejected: []string{"", ""},
			to: "https://h.example/", sends: "a=1; b=1",
		}, {after: 399 * 24 * time.Hour, to: "https://h.example/", sends: "a=1; b=1"},
			{after: 24 * time.Hour, to: "https://h.example/", sends: ""}}},
		{"Expires in the forms servers write, read by the cookie-date algorithm", []jarStep{{
			from: "https://h.example/", set: []string{"a=1", "b=1", "c=1", "d=1", "e=1"}, rejected: []string{"", "", "", "", ""},
		}, {
			from: "https://h.example/", set: []string{
				"a=; Expires=Thursday, 01-Jan-70 00:00:01 GMT",   // RFC 850
				"b=; expires=Thu, 1 Jan 1970 00:00:00 GMT",       // one-digit day
				"c=; Expires=Thu Jan 01 1970 00:00:00 GMT+0000",  // JavaScript's Date
				"d=; Expires=Thu, 01-Jan-1970 00:00:00 UTC",      // net/http's second layout
				"e=1; Expires=Wednesday, 09-Jan-30 10:18:14 GMT", // two-digit year: 2030, a week on
			}, rejected: []string{"", "", "", "", ""},
			to: "https://h.example/", sends: "e=1",
		}, {after: 8 * 24 * time.Hour, to: "https://h.example/", sends: ""}}},
		{"an Expires no algorithm reads is left out", []jarStep{{
			from: "https://h.example/", set: []string{"a=1; Expires=never", "b=1; Expires=Thu, 32 Jan 2031 00:00:00 GMT"}, rejected: []string{"", ""},
		}, {after: 5000 * 24 * time.Hour, to: "https://h.example/", sends: "a=1; b=1"}}},
		{"Domain with a leading dot, upper case, a trailing dot, a public suffix", []jarStep{{
			from: "https://www.h.example/", set: []string{"a=1; Domain=.H.EXAMPLE", "b=1; Domain=h.example.", "c=1; Domain=example", "d=1; Domain="},
			rejected: []string{"", "malformed", "public suffix", ""},
			to:       "https://other.h.example/", sends: "a=1",
		}, {to: "https://www.h.example/", sends: "a=1; d=1"}}},
		{"Domain on an IP address: host-only when it names the address, leading dot or not", []jarStep{{
			from: "http://192.0.2.1/", set: []string{"a=1; Domain=192.0.2.1", "b=1; Domain=.192.0.2.1", "c=1; Domain=2.1"},
			rejected: []string{"", "", "IP address"},
			to:       "http://192.0.2.1/", sends: "a=1; b=1",
		}}},
		{"the default path is the directory of the URL that set it", []jarStep{{
			from: "https://h.example/a/b/c?x=/y", set: []string{"a=1", "b=1; Path=relative", "c=1; Path="},
			rejected: []string{"", "", ""},
			to:       "https://h.example/a/b", sends: "a=1; b=1; c=1",
		}, {to: "https://h.example/a/bc", sends: ""}, {to: "https://h.example/a", sends: ""}}},
		{"cookies without a name: \"=v\" and \"v\" are one cookie, sent as its value", []jarStep{{
			from: "https://h.example/", set: []string{"=first", "second; Path=/", "=", " ; Secure"},
			rejected: []string{"", "", "malformed", "malformed"},
			to:       "https://h.example/", sends: "second",
		}}},
		{"a cookie without a name may not pass for a prefixed one", []jarStep{{
			from: "https://h.example/", set: []string{"=__Host-sid=1; Secure; Path=/", "=__secure-x; Secure"},
			rejected: []string{"without a name", "without a name"},
			to:       "https://h.example/", sends: "",
		}}},
		{"white space around names, values and attributes is trimmed", []jarStep{{
			from: "https://h.example/", set: []string{" \ta b \t=\t 1 2 \t;  Path = /  ;\tMax-Age = 60 "}, rejected: []string{""},
			to: "https://h.example/x", sends: "a b=1 2",
		}, {after: time.Minute, to: "https://h.example/", sends: ""}}},
		{"values net/http refuses and browsers keep", []jarStep{{
			from: "https://h.example/", set: []string{`j={"x":[1,2]}`, `b=c\d`, `q="quoted"`, "u=\u00e9t\u00e9"},
			rejected: []string{"", "", "", ""},
			to:       "https://h.example/", sends: `j={"x":[1,2]}; b=c\d; q="quoted"; u=` + "\u00e9t\u00e9",
		}}},
		{"name and value together up to 4096 bytes", []jarStep{{
			from: "https://h.example/", set: []string{"a=" + long, "bb=" + long}, rejected: []string{"", "over 4096 bytes"},
			to: "https://h.example/", sends: "a=" + long,
		}}},
		{"the cookie prefixes, matched in any case", []jarStep{{
			from: "https://h.example/", set: []string{"__SECURE-a=1", "__host-b=1; Secure; Path=/", "__Host-c=1; Secure; Path=/; Domain=h.example", "__Host-d=1; Secure"},
			rejected: []string{"__Secure-", "", "__Host-", "__Host-"},
			to:       "https://h.example/", sends: "__host-b=1",
		}}},
		{"Secure only from a secure origin: https, localhost and loopback addresses", []jarStep{
			{from: "http://h.example/", set: []string{"a=1; Secure"}, rejected: []string{"Secure cookie set over http"}},
			{from: "http://localhost:8080/", set: []string{"b=1; Secure"}, rejected: []string{""}, to: "http://localhost/", sends: "b=1"},
			{from: "http://app.localhost/", set: []string{"c=1; Secure"}, rejected: []string{""}, to: "http://app.localhost/", sends: "c=1"},
			{from: "http://127.0.0.1/", set: []string{"d=1; Secure"}, rejected: []string{""}, to: "http://127.0.0.1/", sends: "d=1"},
		}},
		{"Strict Secure Cookies: plain http may not overwrite, shadow or delete a Secure cookie", []jarStep{
			{from: "https://www.h.example/", set: []string{"sid=s; Secure; Path=/", "other=1; Secure; Path=/app"}, rejected: []string{"", ""}},
			{from: "http://www.h.example/", set: []string{"sid=p; Path=/", "sid=p; Path=/app", "sid=p; Domain=h.example; Path=/", "sid=; Max-Age=0", "other=p; Path=/"},
				rejected: []string{"Strict Secure", "Strict Secure", "Strict Secure", "Strict Secure", ""},
				to:       "https://www.h.example/app", sends: "other=1; sid=s; other=p"},
			{from: "http://sub.www.h.example/", set: []string{"sid=p"}, rejected: []string{""}, to: "http://sub.www.h.example/", sends: "sid=p"},
			{from: "https://www.h.example/", set: []string{"sid=; Max-Age=0"}, rejected: []string{""}},
			{from: "http://www.h.example/", set: []string{"sid=p; Path=/"}, rejected: []string{""}, to: "http://www.h.example/", sends: "other=p; sid=p"},
		}},
		{"SameSite values browsers do not know are the default", []jarStep{{
			from: "https://h.example/", set: []string{"a=1; SameSite=Lax", "b=1; SameSite=bogus", "c=1; SameSite", "d=1; SameSite=none"},
			rejected: []string{"", "", "", "SameSite=None without Secure"},
		}}},
		{"longer paths first, then the earlier cookie; a replacement keeps its place", []jarStep{{
			from: "https://h.example/", set: []string{"a=1; Path=/", "b=1; Path=/x/y", "c=1; Path=/x", "d=1; Path=/"}, rejected: []string{"", "", "", ""},
		}, {
			after: time.Second, from: "https://h.example/", set: []string{"a=2; Path=/"}, rejected: []string{""},
			to: "https://h.example/x/y/z", sends: "b=1; c=1; a=2; d=1",
		}}},
		{"an attribute value over 1024 bytes is ignored", []jarStep{{
			from: "https://h.example/a/b", set: []string{"a=1; Path=/" + strings.Repeat("p", maxCookieAttribute)}, rejected: []string{""},
			to: "https://h.example/a/x", sends: "a=1",
		}}},
		{"paths match as they travel, percent-encoded", []jarStep{{
			from: "https://h.example/", set: []string{"a=1; Path=/caf%C3%A9"}, rejected: []string{""},
			to: "https://h.example/caf%C3%A9/menu", sends: "a=1",
		}}},
		{"path-match: the path itself, below it, not a sibling with the same start", []jarStep{{
			from: "https://h.example/", set: []string{"a=1; Path=/x", "b=1; Path=/x/"}, rejected: []string{"", ""},
			to: "https://h.example/x", sends: "a=1",
		}, {to: "https://h.example/x/", sends: "b=1; a=1"}, {to: "https://h.example/xy", sends: ""}, {to: "https://h.example/X", sends: ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
			j := newBrowserJar(func() time.Time { return now })
			for i, st := range tt.steps {
				now = now.Add(st.after)
				if st.from != "" {
					u, err := url.Parse(st.from)
					if err != nil {
						t.Fatal(err)
					}
					infos := j.setCookieLines(u, st.set)
					if len(infos) != len(st.rejected) {
						t.Fatalf("step %d: %d cookies judged, want %d: %+v", i, len(infos), len(st.rejected), infos)
					}
					for k, c := range infos {
						if st.rejected[k] == "" && c.Rejected != "" || !strings.Contains(c.Rejected, st.rejected[k]) {
							t.Errorf("step %d, Set-Cookie %d (%q): rejected %q, want %q", i, k, c.Name, c.Rejected, st.rejected[k])
						}
					}
				}
				if st.to != "" {
					u, err := url.Parse(st.to)
					if err != nil {
						t.Fatal(err)
					}
					send, _ := j.cookiesFor(u, navigation{})
					if got := cookieHeader(send); got != st.sends {
						t.Errorf("step %d: %s gets Cookie: %q, want %q", i, st.to, got, st.sends)
					}
				}
			}
		})
	}
}

// The cookie-date algorithm (RFC 6265bis §5.1.1), as Chromium runs it.
func TestParseCookieDate(t *testing.T) {
	tests := []struct {
		in   string
		want string // RFC 3339; "" when the date does not parse
	}{
		{"Wed, 09 Jun 2021 10:18:14 GMT", "2021-06-09T10:18:14Z"},
		{"Wednesday, 09-Jun-21 10:18:14 GMT", "2021-06-09T10:18:14Z"},
		{"Thu, 01-Jan-1970 00:00:01 GMT", "1970-01-01T00:00:01Z"},
		{"Thu Jan 1 1970 0:0:0 GMT+0000 (Coordinated Universal Time)", "1970-01-01T00:00:00Z"},
		{"1 jan 69 1:2:3", "2069-01-01T01:02:03Z"},
		{"1 jan 70 1:2:3", "1970-01-01T01:02:03Z"},
		{"09 Jun 2021 10:18:14 +0200", "2021-06-09T10:18:14Z"}, // the zone is not read
		{"2021-06-09T10:18:14Z", ""},                           // 2021 is no day, 06 no month
		{"Jun 9 2021", ""},                                     // no time
		{"Feb 30 2021 00:00:00", ""},                           // no such day
		{"Jun 9 2021 24:00:00", ""},
		{"Jun 9 2021 10:60:00", ""},
		{"Jun 32 2021 10:00:00", ""},
		{"Jun 9 2021 100:00:00", ""},
		{"Jan 1 1600 00:00:00", "1600-01-01T00:00:00Z"}, // Chromium keeps it (the RFC would not): a date long past
	}
	for _, tt := range tests {
		got, ok := parseCookieDate(tt.in)
		s := ""
		if ok {
			s = got.Format(time.RFC3339)
		}
		if s != tt.want {
			t.Errorf("parseCookieDate(%q) = %q, want %q", tt.in, s, tt.want)
		}
	}
}

// A line browsers drop is dropped whole, and its reason never quotes it.
func TestParseSetCookieDropsControlCharacters(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, line := range []string{"a=se\x01cret", "a=secret; Path=/\x7f", "a\x00=secret", "a=secret\r\nb=1"} {
		if c, why := parseSetCookie(line, now); c != nil || why == "" || strings.Contains(why, "secret") {
			t.Errorf("parseSetCookie(%q) = %v, %q; want it dropped, saying why without the value", line, c, why)
		}
	}
	if c, why := parseSetCookie("a=1\t2; Path=/", now); c == nil || c.Value != "1\t2" {
		t.Errorf("a tab inside a value is kept: %v, %q", c, why)
	}
}
