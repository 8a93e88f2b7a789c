package chain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Expect checks the end state of the Browser's last walk, t, against e
// (expect: from the chain file, merged with flags by the caller) and
// appends one Expectation per check to t.Expectations; zero fields are not
// checked. With a Chain it also asks every receiver that takes a handoff
// whether the browser is signed in there (GET /auth with the jar's
// cookies must answer 200), and expects each receiver's cookie in the jar;
// a missing one is also an SSO203 finding.
func (b *Browser) Expect(ctx context.Context, t *Trace, e Expect) {
	add := func(x Expectation) { t.Expectations = append(t.Expectations, x) }
	if e.FinalURLPrefix != "" {
		final := t.Final
		if b.final != nil {
			final = b.final.String()
		}
		got := t.Final
		if got == "" {
			got = "no request was made"
		}
		add(Expectation{Name: "final_url_prefix", Want: e.FinalURLPrefix, Got: got, OK: final != "" && strings.HasPrefix(final, e.FinalURLPrefix)})
	}
	if e.MaxHops > 0 {
		add(expectHops(t, e.MaxHops))
	}
	for _, ce := range b.cookieExpectations(e) {
		add(b.expectCookies(t, ce))
	}
	if e.MaxTokenLifetime > 0 {
		add(expectLifetime(t, e.MaxTokenLifetime))
	}
	if e.MaxTotalTime > 0 {
		got := time.Duration(t.ElapsedMS * float64(time.Millisecond))
		add(Expectation{Name: "max_total_time", Want: "at most " + e.MaxTotalTime.String(), Got: got.Round(time.Millisecond).String(), OK: got <= e.MaxTotalTime})
	}
	if b.chain != nil {
		for _, r := range b.chain.Receivers {
			if !r.SharedCookie {
				add(b.expectAuth(ctx, r))
			}
		}
	}
}

// receiverCookie is the cookie a receiver sets on its own host.
type receiverCookie struct {
	receiver *Receiver
	host     string
}

// cookieExpectations is e.cookies plus, with a Chain, each handoff
// receiver's own cookie on its host (merged into the host's entry when e
// names that host).
func (b *Browser) cookieExpectations(e Expect) []CookieExpectation {
	out := make([]CookieExpectation, 0, len(e.Cookies))
	for _, ce := range e.Cookies {
		out = append(out, CookieExpectation{Domain: strings.ToLower(ce.Domain), Names: slices.Clone(ce.Names)})
	}
	for _, rc := range b.receiverCookies() {
		i := slices.IndexFunc(out, func(ce CookieExpectation) bool { return ce.Domain == rc.host })
		if i < 0 {
			out = append(out, CookieExpectation{Domain: rc.host})
			i = len(out) - 1
		}
		if !slices.Contains(out[i].Names, rc.receiver.Cookie.Name) {
			out[i].Names = append(out[i].Names, rc.receiver.Cookie.Name)
		}
	}
	return out
}

func (b *Browser) receiverCookies() []receiverCookie {
	if b.chain == nil {
		return nil
	}
	var out []receiverCookie
	for i := range b.chain.Receivers {
		r := &b.chain.Receivers[i]
		u, err := url.Parse(r.URL)
		if r.SharedCookie || r.Cookie.Name == "" || err != nil || u.Host == "" {
			continue
		}
		out = append(out, receiverCookie{receiver: r, host: cookieHost(u)})
	}
	return out
}

// expectCookies checks that the jar sends each named cookie to a host, and
// raises SSO203 for a receiver's own cookie that is missing.
func (b *Browser) expectCookies(t *Trace, ce CookieExpectation) Expectation {
	has := b.jar.names(b.originFor(ce.Domain))
	var missing []string
	for _, n := range ce.Names {
		if !slices.Contains(has, n) {
			missing = append(missing, n)
		}
	}
	got := "none"
	if len(has) > 0 {
		got = strings.Join(has, ", ")
	}
	if len(missing) > 0 && len(has) > 0 {
		got = "missing " + strings.Join(missing, ", ") + "; has " + got
	}
	for _, rc := range b.receiverCookies() {
		if rc.host == ce.Domain && slices.Contains(missing, rc.receiver.Cookie.Name) {
			b.cookieMissing(t, rc)
		}
	}
	return Expectation{Name: "cookies[" + ce.Domain + "]", Want: strings.Join(ce.Names, ", "), Got: got, OK: len(missing) == 0}
}

// cookieMissing adds SSO203 for a receiver that did not sign the browser
// in, at the handoff that should have (or the walk as a whole). A walk cut
// short by a redirect loop or an unreachable host never reached the
// receiver: its cause is already a finding (SSO301, SSO401) and the failed
// cookie expectation records the effect, so a second finding would only
// point away from the cause.
func (b *Browser) cookieMissing(t *Trace, rc receiverCookie) {
	step, why := 0, "the walk never handed off to it"
	for _, h := range slices.Backward(b.handoffs) {
		if h.walk == b.walks && h.receiver == rc.receiver.Name {
			step, why = h.step, fmt.Sprintf("its answer to the handoff at step %d was %d", h.step, h.status)
			break
		}
	}
	if step == 0 && cutShort(t) {
		return
	}
	f := FindingCookieMissing.New(step, rc.host, "after the walk the browser holds no %s for %s (receiver %s): %s",
		rc.receiver.Cookie.Name, rc.host, rc.receiver.Name, why)
	for _, have := range t.Findings {
		if have.Code == f.Code && have.Host == f.Host && have.Detail == f.Detail {
			return
		}
	}
	t.Findings = append(t.Findings, f)
	if step > 0 && step <= len(t.Steps) {
		t.Steps[step-1].Findings = append(t.Steps[step-1].Findings, f)
	}
}

// cutShort reports whether the walk stopped on a finding that explains
// everything after it: a redirect loop or an unreachable host.
func cutShort(t *Trace) bool {
	if t.Unreachable != "" {
		return true
	}
	return slices.ContainsFunc(t.Findings, func(f Finding) bool {
		return f.Code == FindingRedirectLoop.Code || f.Code == FindingIdPUnreachable.Code
	})
}

// originFor is an origin on host to ask the jar about: the one the walk
// used, else the chain's, else https on the default port.
func (b *Browser) originFor(host string) *url.URL {
	if u, ok := b.visited[host]; ok {
		return u
	}
	if b.chain != nil {
		urls := []string{b.chain.Issuer.URL, b.chain.IdP.PublicURL}
		for _, r := range b.chain.Receivers {
			urls = append(urls, r.URL)
		}
		for _, raw := range urls {
			if u, err := url.Parse(raw); err == nil && cookieHost(u) == host {
				o, _ := url.Parse(originOf(u))
				return o
			}
		}
	}
	return &url.URL{Scheme: "https", Host: host, Path: "/"}
}

// expectHops counts the walk's hops: its requests, less the login forms
// submitted. Typing a password is not a hop of the chain, and without
// that DESIGN §12's max_hops: 8 would fail on its own chain, whose first
// login takes nine requests (the dev IdP's form is one GET and one POST);
// so the count matches the hops Plan lists.
func expectHops(t *Trace, max int) Expectation {
	logins := 0
	for _, st := range t.Steps {
		if st.Form == FormLogin {
			logins++
		}
	}
	hops := len(t.Steps) - logins
	got := fmt.Sprint(hops)
	switch logins {
	case 0:
	case 1:
		got += fmt.Sprintf(" (%d requests, less the login form)", len(t.Steps))
	default:
		got += fmt.Sprintf(" (%d requests, less %d login forms)", len(t.Steps), logins)
	}
	return Expectation{Name: "max_hops", Want: fmt.Sprintf("at most %d", max), Got: got, OK: hops <= max}
}

// expectLifetime checks every token the walk carried.
func expectLifetime(t *Trace, max time.Duration) Expectation {
	x := Expectation{Name: "max_token_lifetime", Want: "at most " + shortDuration(max), Got: "no tokens were carried", OK: true}
	var longest time.Duration
	at := 0
	for _, st := range t.Steps {
		if st.Token == nil {
			continue
		}
		life := time.Duration(st.Token.LifetimeS) * time.Second
		if life == 0 {
			x.Got, x.OK = fmt.Sprintf("a token with no lifetime (no exp or iat) at step %d", st.N), false
			return x
		}
		if life > longest {
			longest, at = life, st.N
		}
	}
	if at > 0 {
		x.Got, x.OK = fmt.Sprintf("%s (longest, at step %d)", shortDuration(longest), at), longest <= max
	}
	return x
}

// expectAuth asks a receiver's forward-auth endpoint whether the jar's
// cookies sign the browser in there.
func (b *Browser) expectAuth(ctx context.Context, r Receiver) Expectation {
	target := strings.TrimSuffix(r.URL, "/") + "/auth"
	x := Expectation{Name: "auth[" + r.Name + "]", Want: "200 from " + target}
	resp, err := b.Get(ctx, target)
	switch {
	case errors.Is(err, errNotURL):
		x.Got = "not a URL"
		return x
	case err != nil:
		x.Got = "unreachable: " + err.Error()
		return x
	}
	x.Got = fmt.Sprint(resp.StatusCode)
	if loc := resp.Header.Get("Location"); loc != "" {
		x.Got += " → " + redactURL(loc, b.now())
	}
	x.OK = resp.StatusCode == http.StatusOK
	return x
}

// errNotURL is Get's error for a target that is not a URL.
var errNotURL = errors.New("not a URL")

// Get asks target with the cookies the Browser holds, as the browser would
// after its walk, and follows no redirect: for a caller that needs what a
// role answered (forward auth's X-Auth-* headers, say). The body is read,
// at most 1 MiB of it, and closed; the response keeps its headers.
func (b *Browser) Get(ctx context.Context, target string) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, fmt.Errorf("trace: %q: %w", redactURL(target, b.now()), errNotURL)
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, errors.New(transportError(&request{method: http.MethodGet, url: req.URL}, err, b.now()))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	return resp, nil
}
