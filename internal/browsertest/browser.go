// Package browsertest is a minimal browser for ssoctl's tests: an RFC 6265
// cookie jar with the public suffix list, redirects followed one at a time
// and recorded, forms submitted, and a loopback network that maps a chain's
// host names onto local listeners without DNS. trace chain's walk engine
// will supersede it.
package browsertest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/publicsuffix"
)

// Net maps the chain's host:port names onto httptest listeners, so
// "portal.company2.localhost:8081" reaches the portal handler without DNS
// and each name stays its own cookie host (bare 127.0.0.1 would put every
// "domain" in one cookie jar entry and hide the bugs ssoctl exists to find).
type Net struct {
	// Localhost sends unmapped *.localhost names to 127.0.0.1, as browsers
	// do, for walks against a real `ssoctl serve dev`.
	Localhost bool

	mu         sync.Mutex
	hosts      map[string]string // "host:port" → listener address
	down       map[string]bool
	transports []*http.Transport
}

func NewNet() *Net {
	return &Net{hosts: map[string]string{}, down: map[string]bool{}}
}

// Serve starts h behind the origin's host:port and returns a stop function.
func (n *Net) Serve(t testing.TB, origin string, h http.Handler) *httptest.Server {
	t.Helper()
	u, err := url.Parse(origin)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	n.mu.Lock()
	n.hosts[u.Host] = srv.Listener.Addr().String()
	n.mu.Unlock()
	return srv
}

// Map sends origin's host:port to addr, a listener started elsewhere (a
// subprocess, say).
func (n *Net) Map(origin, addr string) {
	u, _ := url.Parse(origin)
	n.mu.Lock()
	n.hosts[u.Host] = addr
	n.mu.Unlock()
}

// SetDown makes dials to origin fail, as if the host were down.
func (n *Net) SetDown(origin string, down bool) {
	u, _ := url.Parse(origin)
	n.mu.Lock()
	n.down[u.Host] = down
	transports := append([]*http.Transport(nil), n.transports...)
	n.mu.Unlock()
	for _, tr := range transports {
		tr.CloseIdleConnections()
	}
}

// Dial is an http.Transport DialContext for the net.
func (n *Net) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	n.mu.Lock()
	target, ok := n.hosts[addr]
	down := n.down[addr]
	n.mu.Unlock()
	if !ok && n.Localhost {
		if host, port, err := net.SplitHostPort(addr); err == nil && (host == "localhost" || strings.HasSuffix(host, ".localhost")) {
			target, ok = net.JoinHostPort("127.0.0.1", port), true
		}
	}
	if !ok {
		return nil, fmt.Errorf("browsertest: no listener for %s (tests never use real DNS)", addr)
	}
	if down {
		return nil, fmt.Errorf("browsertest: %s is down", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, target)
}

// Client returns an HTTP client that dials through the net. Connections
// are kept alive, as a real client's are; SetDown closes the idle ones, so
// a host that goes down is unreachable at once.
func (n *Net) Client() *http.Client {
	tr := &http.Transport{DialContext: n.Dial, MaxIdleConnsPerHost: 16}
	n.mu.Lock()
	n.transports = append(n.transports, tr)
	n.mu.Unlock()
	return &http.Client{Transport: tr}
}

// Browser is a minimal browser for the tests: an RFC 6265 jar with the
// public suffix list, redirects followed one at a time and recorded, and
// forms (the dev IdP's login page, the form_post interstitial) submitted.
type Browser struct {
	t        testing.TB
	client   *http.Client
	jar      *cookiejar.Jar
	Email    string // filled into login forms
	Password string // filled into login forms; empty: a login form stops the walk
}

// Hop is one request of a walk.
type Hop struct {
	Method string
	URL    string
	Status int
}

func New(t testing.TB, n *Net) *Browser {
	jar, err := cookiejar.New(&cookiejar.Options{PublicSuffixList: publicsuffix.List})
	if err != nil {
		t.Fatal(err)
	}
	c := n.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Browser{t: t, client: c, jar: jar}
}

// Page is where a walk stopped.
type Page struct {
	URL    string
	Status int
	Body   string
	Hops   []Hop
}

// Visit requests rawURL and follows redirects and forms until a page that
// is neither, at most 25 steps.
func (b *Browser) Visit(rawURL string) Page {
	b.t.Helper()
	method, target, form := http.MethodGet, rawURL, url.Values(nil)
	var hops []Hop
	for range 25 {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, target, body)
		if err != nil {
			b.t.Fatalf("request %s %s: %v", method, target, err)
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := b.client.Do(req)
		if err != nil {
			b.t.Fatalf("%s %s: %v", method, target, err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		hops = append(hops, Hop{Method: method, URL: target, Status: resp.StatusCode})
		if loc := resp.Header.Get("Location"); resp.StatusCode >= 300 && resp.StatusCode < 400 && loc != "" {
			next, err := req.URL.Parse(loc)
			if err != nil {
				b.t.Fatalf("bad Location %q: %v", loc, err)
			}
			method, target, form = http.MethodGet, next.String(), nil
			continue
		}
		if resp.StatusCode == http.StatusOK {
			if action, values, ok := b.fillForm(req.URL, string(data)); ok {
				method, target, form = http.MethodPost, action, values
				continue
			}
		}
		return Page{URL: target, Status: resp.StatusCode, Body: string(data), Hops: hops}
	}
	b.t.Fatalf("more than 25 steps from %s: %v", rawURL, hops)
	return Page{}
}

// fillForm finds the page's POST form and fills it: hidden inputs as given,
// email and password fields from the browser's credentials. A login form is
// submitted only when the browser has credentials.
func (b *Browser) fillForm(base *url.URL, body string) (string, url.Values, bool) {
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		return "", nil, false
	}
	var form *html.Node
	var find func(*html.Node)
	find = func(n *html.Node) {
		if form == nil && n.Type == html.ElementNode && n.Data == "form" && strings.EqualFold(attr(n, "method"), "post") {
			form = n
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			find(c)
		}
	}
	find(doc)
	if form == nil {
		return "", nil, false
	}
	values := url.Values{}
	login := false
	var walkInputs func(*html.Node)
	walkInputs = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "input" {
			name, typ := attr(n, "name"), strings.ToLower(attr(n, "type"))
			switch {
			case typ == "password":
				login = true
				values.Set(name, b.Password)
			case typ == "email" || name == "email" || name == "identifier":
				values.Set(name, b.Email)
			case name != "":
				values.Set(name, attr(n, "value"))
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walkInputs(c)
		}
	}
	walkInputs(form)
	if login && b.Password == "" {
		return "", nil, false
	}
	action, err := base.Parse(attr(form, "action"))
	if err != nil {
		return "", nil, false
	}
	return action.String(), values, true
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// Get requests rawURL once, without following anything.
func (b *Browser) Get(rawURL string) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.client.Get(rawURL)
	if err != nil {
		b.t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

// Do sends req with the browser's cookies, following nothing.
func (b *Browser) Do(req *http.Request) (*http.Response, error) {
	resp, err := b.client.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

// Jar is the browser's cookie jar.
func (b *Browser) Jar() *cookiejar.Jar { return b.jar }

// Cookies lists the names of the cookies the jar would send to rawURL.
func (b *Browser) Cookies(rawURL string) []string {
	u, _ := url.Parse(rawURL)
	var names []string
	for _, c := range b.jar.Cookies(u) {
		names = append(names, c.Name)
	}
	return names
}
