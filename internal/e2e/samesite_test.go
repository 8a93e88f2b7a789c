package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ssoctl/ssoctl/pkg/chain"
)

// cookieLab is a server for every host of the SameSite test: /set stores
// one cookie of each SameSite kind, /page is a page whose script submits a
// form at once (GET or POST, with the next hop in hidden fields), /redirect
// answers 302 to its "to" field, and /check records the names of the
// cookies it got under its "id" field.
type cookieLab struct {
	mu  sync.Mutex
	got map[string][]string // id → cookie names, sorted
}

func (l *cookieLab) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		for _, c := range []string{
			"strict=1; Path=/; SameSite=Strict",
			"lax=1; Path=/; SameSite=Lax",
			"unset=1; Path=/",
			"none=1; Path=/; SameSite=None; Secure",
			// Storage rules, compared on the way: prefixes on a
			// loopback host over http, the 4 KiB limit.
			"__Host-h=1; Path=/; Secure; SameSite=Lax",
			"__Secure-s=1; Path=/; Secure; SameSite=Lax",
			"__Host-nopath=1; Path=/app; Secure; SameSite=Lax",
			"fits=" + strings.Repeat("v", 4096-len("fits")) + "; Path=/; SameSite=Lax",
			"over=" + strings.Repeat("v", 4097-len("over")) + "; Path=/; SameSite=Lax",
		} {
			w.Header().Add("Set-Cookie", c)
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<p>set</p>")
	})
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		to := r.FormValue("action") + "?" + url.Values{"id": {r.FormValue("id")}, "to": {r.FormValue("to")}}.Encode()
		switch r.FormValue("method") {
		case "REFRESH":
			fmt.Fprintf(w, `<!doctype html><meta http-equiv="refresh" content="0;url=%s"><p>moving on</p>`, html.EscapeString(to))
			return
		case "REFRESH-COMMA":
			fmt.Fprintf(w, `<!doctype html><meta http-equiv="refresh" content="0, URL='%s'"><p>moving on</p>`, html.EscapeString(to))
			return
		case "SCRIPT":
			// As Google's SetSID pages write it: in a function called on
			// the spot, with the URL's slashes and ampersands escaped.
			js := strings.NewReplacer("/", `\x2F`, "&", `\x26`, "=", `\x3d`).Replace(to)
			fmt.Fprintf(w, `<!doctype html><p>moving on</p><script>(function(){window.location.replace("%s");})();</script>`, js)
			return
		case "REFRESH-HEADER":
			// The header, on a page that is not HTML.
			w.Header().Set("Refresh", "0; url="+to)
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprint(w, "moving on")
			return
		}
		fmt.Fprintf(w, `<!doctype html><form method="%s" action="%s"><input type="hidden" name="id" value="%s"><input type="hidden" name="to" value="%s"></form><script>document.forms[0].submit()</script>`,
			html.EscapeString(r.FormValue("method")), html.EscapeString(r.FormValue("action")),
			html.EscapeString(r.FormValue("id")), html.EscapeString(r.FormValue("to")))
	})
	mux.HandleFunc("/clear", func(w http.ResponseWriter, r *http.Request) {
		// Clear-Site-Data and a new cookie for the whole site on one
		// answer: Chromium stores the cookie, then clears it with the rest.
		w.Header().Set("Clear-Site-Data", r.FormValue("v"))
		w.Header().Add("Set-Cookie", "fresh=1; Path=/; Domain="+r.FormValue("domain"))
		http.Redirect(w, r, r.FormValue("to"), http.StatusFound)
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.FormValue("to"), http.StatusFound)
	})
	mux.HandleFunc("/redirect307", func(w http.ResponseWriter, r *http.Request) {
		to := r.URL.Query().Get("to") // the body, kept by a 307, has the form's own
		if to == "" {
			to = r.FormValue("to")
		}
		http.Redirect(w, r, to, http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/check", func(w http.ResponseWriter, r *http.Request) {
		var names []string
		for _, c := range r.Cookies() {
			names = append(names, c.Name)
		}
		slices.Sort(names)
		// Fetch Metadata, Origin and Referer ride along: the walk sends
		// what Chromium does.
		for _, h := range []string{"Sec-Fetch-Site", "Sec-Fetch-Mode", "Sec-Fetch-Dest", "Sec-Fetch-User", "Origin", "Referer"} {
			// Each browser has its own lab, on its own ports.
			names = append(names, h+"="+portRE.ReplaceAllString(r.Header.Get(h), ":PORT"))
		}
		id := r.URL.Query().Get("id") // a 307 keeps the form's own (empty) id in the body
		if id == "" {
			id = r.FormValue("id")
		}
		l.mu.Lock()
		l.got[id] = names
		l.mu.Unlock()
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<p>checked</p>")
	})
	return mux
}

// portRE matches a URL's port, which differs between the two labs.
var portRE = regexp.MustCompile(`:[0-9]+`)

func (l *cookieLab) result(id string) ([]string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.got[id]
	return v, ok
}

// TestChromiumSameSite holds trace's walk to what Chromium sends: the same
// navigations (typed, redirected, a page's form by GET and by POST, a meta
// refresh, a Refresh header and a script's location.replace, same-site and cross-site, through redirects on other sites,
// from the same domain over https, a sibling's Clear-Site-Data) go once through headless Chromium and
// once through chain.Browser, each against its own copy of the cookieLab
// (over http, and over https for the other-scheme pages), and the cookies
// that reach /check must be the same. The cookies without SameSite are under two minutes old here,
// so Chromium's "Lax+POST" allowance holds for them (TestJarSameSite in
// pkg/chain covers the rest).
func TestChromiumSameSite(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped in -short mode")
	}
	chromiumPath(t)
	hosts := []string{"a.company.localhost", "sub.a.company.localhost", "b.other.localhost"}
	type navigation struct{ id, start string }
	plan := func(port, tlsPort int) []navigation {
		origin := func(host string) string { return fmt.Sprintf("http://%s:%d", host, port) }
		a, sub, b := origin(hosts[0]), origin(hosts[1]), origin(hosts[2])
		subTLS := fmt.Sprintf("https://%s:%d", hosts[1], tlsPort)
		check := func(id string) string { return a + "/check?id=" + id }
		page := func(at, method, action, id, to string) string {
			return at + "/page?" + url.Values{"method": {method}, "action": {action}, "id": {id}, "to": {to}}.Encode()
		}
		redirect := func(at, to string) string { return at + "/redirect?" + url.Values{"to": {to}}.Encode() }
		return []navigation{
			{"typed", check("typed")},
			{"typed-via-other-site", redirect(b, check("typed-via-other-site"))},
			{"typed-out-and-back", redirect(a, redirect(b, check("typed-out-and-back")))},
			{"cross-site-get", page(b, "GET", a+"/check", "cross-site-get", "")},
			{"cross-site-post", page(b, "POST", a+"/check", "cross-site-post", "")},
			{"cross-site-post-redirected", page(b, "POST", a+"/redirect", "", check("cross-site-post-redirected"))},
			{"cross-site-get-redirected-home", page(b, "GET", a+"/redirect", "", check("cross-site-get-redirected-home"))},
			{"same-site-post", page(sub, "POST", a+"/check", "same-site-post", "")},
			{"same-origin-get-out-and-back", page(a, "GET", b+"/redirect", "", check("same-origin-get-out-and-back"))},
			{"cross-site-post-307", page(b, "POST", b+"/redirect307", "", check("cross-site-post-307"))},
			{"same-origin-post-307-away", page(a, "POST", a+"/redirect307", "", b+"/redirect307?to="+url.QueryEscape(check("same-origin-post-307-away")))},
			{"cross-site-refresh", page(b, "REFRESH", a+"/check", "cross-site-refresh", "")},
			{"same-site-refresh", page(sub, "REFRESH", a+"/check", "same-site-refresh", "")},
			{"other-scheme-refresh", page(subTLS, "REFRESH", a+"/check", "other-scheme-refresh", "")},
			{"cross-site-refresh-comma", page(b, "REFRESH-COMMA", a+"/check", "cross-site-refresh-comma", "")},
			{"cross-site-refresh-header", page(b, "REFRESH-HEADER", a+"/check", "cross-site-refresh-header", "")},
			{"same-site-refresh-header", page(sub, "REFRESH-HEADER", a+"/check", "same-site-refresh-header", "")},
			{"cross-site-script", page(b, "SCRIPT", a+"/check", "cross-site-script", "")},
			{"same-site-script", page(sub, "SCRIPT", a+"/check", "same-site-script", "")},
			{"other-scheme-script", page(subTLS, "SCRIPT", a+"/check", "other-scheme-script", "")},
			// Last: they clear what the others need. A sibling host's
			// Clear-Site-Data "cookies" clears its whole site.
			{"clear-cache-only", sub + "/clear?" + url.Values{"v": {`"cache"`}, "domain": {"company.localhost"}, "to": {check("clear-cache-only")}}.Encode()},
			{"clear-cookies", sub + "/clear?" + url.Values{"v": {`"cache", "cookies"`}, "domain": {"company.localhost"}, "to": {check("clear-cookies")}}.Encode()},
		}
	}
	// serve starts the lab over http and over https (httptest's
	// certificate, which neither browser here checks).
	serve := func(l *cookieLab) (port, tlsPort int) {
		srv := httptest.NewServer(l.handler())
		t.Cleanup(srv.Close)
		tlsSrv := httptest.NewTLSServer(l.handler())
		t.Cleanup(tlsSrv.Close)
		return srv.Listener.Addr().(*net.TCPAddr).Port, tlsSrv.Listener.Addr().(*net.TCPAddr).Port
	}

	// Chromium.
	inChromium := &cookieLab{got: map[string][]string{}}
	port, tlsPort := serve(inChromium)
	br := newBrowser(t, hosts, chromedp.Flag("ignore-certificate-errors", true))
	if err := chromedp.Run(br.ctx, chromedp.Navigate(fmt.Sprintf("http://%s:%d/set", hosts[0], port))); err != nil {
		t.Fatal(err)
	}
	chromium := map[string][]string{}
	for _, n := range plan(port, tlsPort) {
		// A page that moves on by itself (a refresh, a script) may leave
		// before its own load finishes, which chromedp reports as an
		// aborted load; what counts is that /check is reached.
		if err := chromedp.Run(br.ctx, chromedp.Navigate(n.start)); err != nil && !strings.Contains(err.Error(), "net::ERR_ABORTED") {
			t.Fatalf("%s: %v\n%s", n.id, err, br.report())
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			if got, ok := inChromium.result(n.id); ok {
				chromium[n.id] = got
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: Chromium never reached /check\n%s", n.id, br.report())
			}
			time.Sleep(20 * time.Millisecond)
		}
		// Let /check's page finish loading, so the next navigation does
		// not abort it, or it the next.
		for settled := false; !settled && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if err := chromedp.Run(br.ctx, chromedp.Evaluate(`location.pathname === "/check" && document.readyState === "complete"`, &settled)); err != nil {
				settled = false
			}
		}
	}

	// The walk.
	inWalk := &cookieLab{got: map[string][]string{}}
	port, tlsPort = serve(inWalk)
	d := &chain.Dialer{Map: map[string]string{}, Strict: true}
	for _, h := range hosts {
		for _, p := range []int{port, tlsPort} {
			d.Map[fmt.Sprintf("%s:%d", h, p)] = fmt.Sprintf("127.0.0.1:%d", p)
		}
	}
	wb, err := chain.NewBrowser(chain.BrowserOptions{Dialer: d, Transport: &http.Transport{
		DialContext:     d.DialContext,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // httptest's certificate
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := wb.Walk(ctx, fmt.Sprintf("http://%s:%d/set", hosts[0], port)); err != nil {
		t.Fatal(err)
	}
	withheld := map[string][]string{}
	for _, n := range plan(port, tlsPort) {
		tr, err := wb.Walk(ctx, n.start)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range tr.Steps {
			for _, c := range s.Withheld {
				withheld[n.id] = append(withheld[n.id], c.Name)
			}
		}
	}

	for _, n := range plan(port, tlsPort) {
		walked, ok := inWalk.result(n.id)
		if !ok {
			t.Errorf("%s: the walk never reached /check", n.id)
			continue
		}
		if !slices.Equal(walked, chromium[n.id]) {
			t.Errorf("%s: the walk sent %q, Chromium %q (withheld %q)", n.id, walked, chromium[n.id], withheld[n.id])
		} else {
			t.Logf("%-32s %s", n.id, strings.Join(walked, ","))
		}
	}
	// The comparison means something only if some navigation kept a
	// cookie back, and the trace says which.
	if got, _ := inWalk.result("clear-cookies"); slices.Contains(got, "strict") || !slices.Contains(got, "Sec-Fetch-Site=none") {
		t.Errorf("after Clear-Site-Data the walk still sent %q", got)
	}
	for id, want := range map[string][]string{
		"cross-site-post":      {"__Host-h", "__Secure-s", "fits", "lax", "strict"},
		"other-scheme-refresh": {"strict"},
	} {
		if got := withheld[id]; !slices.Equal(slices.Sorted(slices.Values(got)), want) {
			t.Errorf("%s: the steps withheld %q, want %q", id, got, want)
		}
	}
}
