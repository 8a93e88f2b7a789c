package chain

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ssoctl/ssoctl/pkg/token"
)

// ProbeOptions are what Probe may use beyond the Browser's own state. The
// sandbox gives all of them; a live chain its key when the file holds one
// this process can read, and the IdP's admin API; a chain walked from a
// start URL alone none.
type ProbeOptions struct {
	// Signing mints fresh variants for every receiver: the chain's key (the
	// sandbox's, or the file's secret or key_file). Nil: the variants are
	// built from handoffs intercepted from the signed-in browser, which
	// yields tokens for the first receiver only; expired and foreign_ret,
	// which must change signed claims, are skipped.
	Signing *token.Key
	// Revoke ends an IdP session by id (the sandbox's or Kratos's admin
	// API). Nil skips revoked_session.
	Revoke func(ctx context.Context, sessionID string) error
	// Advance moves the roles' clock (the sandbox's). Nil skips
	// revoked_session unless RecheckInterval is at most MaxRecheckWait, in
	// which case the probe waits it out for real.
	Advance func(time.Duration)
	// RecheckInterval is how long the receivers trust their cookie before
	// asking the IdP again (the chain's longest recheck_interval).
	RecheckInterval time.Duration
	// OIDCClients are relying parties' credentials: for each client of
	// the walk's authorization requests named here, code_replay plays the
	// client, checks its ID token (SSO505) and redeems its code twice
	// (SSO504). Without them code_replay does not run.
	OIDCClients []OIDCClient
	// LogoutURL is where logout_csrf follows a link from another site to:
	// a chain's logout URL (oauth2-proxy's /oauth2/sign_out, say). "" is
	// the Chain's issuer /logout; without a Chain the probe is skipped.
	LogoutURL string
	// Repeat is how many times replay sends each handoff and
	// revoked_session asks each /auth, each time on a new connection,
	// until one is accepted; 0 is DefaultProbeRepeat. A receiver runs as
	// several instances behind a load balancer: when they do not share one
	// store, each accepts a token once and only the instance a revocation
	// reached refuses the session, so one request proves nothing.
	Repeat int
}

// DefaultProbeRepeat is ProbeOptions.Repeat and LogoutOptions.Repeat when
// not given: enough for the two or three instances a receiver commonly
// runs as.
const DefaultProbeRepeat = 3

// The probes, as ProbeResult.Name names them.
const (
	ProbeReplay            = "replay"
	ProbeWrongAudience     = "wrong_audience"
	ProbeTamperedSignature = "tampered_signature"
	ProbeAlgNone           = "alg_none"
	ProbeExpired           = "expired"
	ProbeForeignRet        = "foreign_ret"
	ProbeReturnTo          = "return_to"
	ProbeRevokedSession    = "revoked_session"
	ProbeSessionInstances  = "session_instances"
	ProbeLogoutCSRF        = "logout_csrf"
	// ProbeAll names the one result of a Probe that could not run at all.
	ProbeAll = "all"
)

// ProbeForeignURL is where foreign_ret and return_to point. evil.example
// is reserved (RFC 2606) and must never be dialled: a probe stops before
// any request there and records where it would have gone.
const ProbeForeignURL = "https://evil.example/"

const probeForeignHost = "evil.example"

// MaxRecheckWait is the longest recheck interval revoked_session waits out
// in real time when it cannot move the roles' clock (Advance is nil).
const MaxRecheckWait = 2 * time.Second

// expiredAgo is how long before now an expired probe's token expired:
// beyond any sane leeway.
const expiredAgo = 2 * time.Minute

// returnToParams are the parameter names a login URL takes its
// destination in, in the order they are tried.
var returnToParams = []string{"return_to", "redirect_uri", "next", "continue", "rd", "returnTo", "redirect"}

// Probe attacks the chain the Browser just walked (t, the trace of its
// last walk) with requests a user never makes and an attacker does (DESIGN
// §8 --probe), and expects each refused: a 4xx or 5xx (or a redirect back
// into the login) that sets no session cookie. It appends one ProbeResult
// per probe and receiver to t.Probes and, for every probe a receiver
// accepts, a finding (step 0, the receiver's host) to t.Findings:
//
//   - replay: each handoff of the walk, sent again exactly as the walk sent
//     it (SSO103);
//   - wrong_audience: a fresh token for one receiver sent to each other one
//     (SSO102);
//   - tampered_signature: a fresh token with one signature character
//     changed (SSO104);
//   - alg_none: a fresh token's header and claims with alg "none" and no
//     signature (SSO104);
//   - expired: a token that expired two minutes ago (SSO105);
//   - foreign_ret: a token whose ret is ProbeForeignURL; accepted and sent
//     there is SSO302, accepted and sent elsewhere on the chain is fine;
//   - return_to: the walk's login again, signed in, with return_to pointing
//     off the chain (plain, //, https:, userinfo and backslash spellings);
//     any hop there is SSO302;
//   - session_instances: /auth with the walk's cookies, o.Repeat times,
//     each on a new connection: some 2xx and some 401 or 403 mean
//     instances behind a load balancer that disagree about the session
//     (SSO404); all 2xx is the probe refused;
//   - revoked_session: the walk's IdP session revoked, the receivers'
//     recheck interval passed, then /auth with the walk's cookies must
//     answer 401 or 403 (SSO402);
//   - logout_csrf: the issuer's /logout (with a Chain) or o.LogoutURL,
//     followed from a link on another site in the walk's browser, must not
//     delete a cookie the browser holds (SSO405, a warning: it fails no
//     walk);
//   - redirect_uri_host, redirect_uri_path: first of all, each OpenID
//     Connect authorization request of the walk again, signed in, with its
//     redirect_uri moved to ProbeForeignURL's host or under another path;
//     a code sent there is SSO503 (see probeOIDC); with the client's
//     credentials (o.OIDCClients), code_replay: a code of its own redeemed,
//     its ID token verified (SSO505), and redeemed again (SSO504).
//
// Token probes go out from a browser with no cookies, one request each;
// replay and revoked_session send theirs up to o.Repeat times, each on a
// new connection, and stop at the first acceptance. Nothing a probe does
// follows a redirect off the chain. Fresh tokens are
// minted with o.Signing, for each receiver, after a valid one shows that
// the receiver takes the key's tokens at all (otherwise a refusal would
// prove nothing, and the receiver's variants are skipped); without a key
// they are intercepted from the walk's signed-in browser before it sends
// them. The tokens never reach the trace.
//
// Probe runs only after a walk that reached its end; otherwise it appends
// one skipped ProbeResult that says why. revoked_session runs next to last
// and leaves the walk's session revoked; logout_csrf, last, may leave the
// walk's browser signed out.
func (b *Browser) Probe(ctx context.Context, t *Trace, o ProbeOptions) {
	oidc := false
	if t.Unreachable == "" && len(t.Steps) > 0 {
		oidc = newProber(ctx, b, t, o).probeOIDC()
	}
	if why := b.unfinished(t); why != "" {
		if oidc && len(b.lastHandoffs()) == 0 {
			// An OpenID Connect login without handoffs: its probes ran,
			// and there is no receiver to say anything about.
			return
		}
		t.Probes = append(t.Probes, ProbeResult{Name: ProbeAll, Target: "every receiver", Skipped: why})
		return
	}
	p := newProber(ctx, b, t, o)
	p.replay()
	if o.Signing != nil {
		p.minted()
	} else {
		p.intercepted()
	}
	p.returnTo()
	p.sessionInstances()
	p.revokedSession()
	p.logoutCSRF()
}

// unfinished says why the last walk cannot be probed: it did not reach its
// end, or carried no handoff. "" when it can.
func (b *Browser) unfinished(t *Trace) string {
	n := len(t.Steps)
	if n == 0 || b.start == nil {
		return "the walk made no request, so there is nothing to probe"
	}
	if t.Unreachable != "" {
		return fmt.Sprintf("the walk did not finish: %s was unreachable", t.Unreachable)
	}
	for _, f := range t.Findings {
		if f.Code == FindingRedirectLoop.Code {
			return "the walk did not finish: it went round a redirect loop (" + f.Code + ")"
		}
	}
	last := t.Steps[n-1]
	switch {
	case last.Error != "":
		return "the walk did not finish: " + last.Error
	case last.Status < 200 || last.Status > 299:
		return fmt.Sprintf("the walk did not finish: it ended at %s with %d", last.URL, last.Status)
	case b.chain != nil && last.Kind != HopFinal:
		return fmt.Sprintf("the walk did not finish: it ended at %s (%s), not past the chain's last hop", last.URL, last.Kind)
	case len(b.lastHandoffs()) == 0:
		return "the walk carried no handoff token, so there is nothing to probe with"
	}
	return ""
}

// lastHandoffs are the handoffs of the Browser's last walk.
func (b *Browser) lastHandoffs() []handoff {
	var out []handoff
	for _, h := range b.handoffs {
		if h.walk == b.walks {
			out = append(out, h)
		}
	}
	return out
}

// prober is one Probe in progress.
type prober struct {
	ctx context.Context
	b   *Browser
	t   *Trace
	o   ProbeOptions
	// bare sends every token probe as a fresh browser would: through the
	// Browser's transport, with no cookie jar, following no redirect.
	bare *http.Client
	// fresh is bare, and signedIn the Browser's own client, each sending
	// every request on a new connection: the probes that repeat.
	fresh, signedIn *http.Client
	handoffs        []handoff // the last walk's
	targets         []*target // the receivers, in the chain's (or the walk's) order
	// claims are those of the walk's first handoff that decodes: the
	// session (sid, sub), issuer and chn fresh tokens carry. Nil when none
	// decodes.
	claims   *token.Claims
	lifetime time.Duration // that token's, for fresh ones; DefaultTokenTTL when unknown
	// loginOrigins are where the walk went before its first handoff (the
	// issuer and the IdP), for chains walked without a Chain.
	loginOrigins map[string]bool
	seen         map[string]bool // findings already added
}

// target is one receiver the probes go to.
type target struct {
	name   string // the receiver's name, or host:port without a Chain
	host   string // its cookie host, for findings
	origin string
	cookie string // its session cookie's name; "" unknown (any cookie counts)
	aud    string // the audience its handoffs name
	ret    string // ret for tokens minted for it: its root, unless the allowlist refuses that
	// via is the walk's (first) handoff to it, whose shape fresh tokens
	// take; nil when the walk handed nothing to it.
	via *handoff
	// controlled is set once a valid minted token was sent; unusable then
	// says why minted variants prove nothing here ("" when they do).
	controlled bool
	unusable   string
}

func newProber(ctx context.Context, b *Browser, t *Trace, o ProbeOptions) *prober {
	if o.Repeat <= 0 {
		o.Repeat = DefaultProbeRepeat
	}
	fresh, signedIn := *b.client, *b.client
	fresh.Transport = newConnections{b.rt}
	signedIn.Transport = jarTransport{next: fresh.Transport, jar: b.jar}
	p := &prober{
		ctx: ctx, b: b, t: t, o: o,
		bare: &http.Client{
			Transport:     b.rt,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		fresh:        &fresh,
		signedIn:     &signedIn,
		handoffs:     b.lastHandoffs(),
		loginOrigins: map[string]bool{},
		seen:         map[string]bool{},
		lifetime:     DefaultTokenTTL,
	}
	for _, f := range t.Findings {
		p.seen[f.Code+"\x00"+f.Host+"\x00"+f.Detail] = true
	}
	now := b.now()
	for _, h := range p.handoffs {
		in, err := token.Inspect(h.raw, now)
		if err != nil || in.Token.Claims.SessionID == "" && in.Token.Claims.Subject == "" {
			continue
		}
		c := in.Token.Claims
		p.claims = &c
		if life := c.Lifetime(); life >= time.Second {
			p.lifetime = life
		}
		break
	}
	for _, st := range t.Steps {
		if st.Kind == HopHandoff || st.Token != nil {
			break
		}
		p.loginOrigins[stepOrigin(st.URL)] = true
	}
	p.targets = p.findTargets()
	return p
}

// findTargets lists the receivers: with a Chain, every receiver that takes
// a handoff; without one, every origin the walk handed a token to.
func (p *prober) findTargets() []*target {
	var out []*target
	if c := p.b.chain; c != nil {
		for i := range c.Receivers {
			r := &c.Receivers[i]
			u, err := url.Parse(r.URL)
			if r.SharedCookie || err != nil || u.Host == "" {
				continue
			}
			tg := &target{name: r.Name, host: cookieHost(u), origin: originOf(u), cookie: r.Cookie.Name, aud: r.Name}
			for j := range p.handoffs {
				if h := &p.handoffs[j]; h.receiver == r.Name || h.origin == tg.origin {
					tg.via = h
					break
				}
			}
			out = append(out, p.finishTarget(tg))
		}
		return out
	}
	for j := range p.handoffs {
		h := &p.handoffs[j]
		if slices.ContainsFunc(out, func(tg *target) bool { return tg.origin == h.origin }) {
			continue
		}
		out = append(out, p.finishTarget(&target{name: h.url.Host, host: cookieHost(h.url), origin: h.origin, via: h}))
	}
	return out
}

// finishTarget fills the audience and ret that tokens for tg carry.
func (p *prober) finishTarget(tg *target) *target {
	var walked *token.Claims
	if tg.via != nil {
		if in, err := token.Inspect(tg.via.raw, p.b.now()); err == nil {
			walked = &in.Token.Claims
		}
	}
	if walked != nil && len(walked.Audience) == 1 {
		tg.aud = walked.Audience[0]
	}
	if tg.aud == "" {
		tg.aud = tg.name
	}
	tg.ret = tg.origin + "/"
	if p.b.allow != nil && walked != nil && walked.Return != "" {
		if _, err := p.b.allow.Allow(tg.ret); err != nil {
			// The chain's allowlist does not list the receiver itself: use
			// the ret the issuer gave it, which the receiver took.
			tg.ret = walked.Return
		}
	}
	return tg
}

// targetAt is the target at u's origin, nil when none.
func (p *prober) targetAt(u *url.URL) *target {
	o := originOf(u)
	for _, tg := range p.targets {
		if tg.origin == o {
			return tg
		}
	}
	return nil
}

// targetFor is the target a handoff went to, or one made up for it when
// it went elsewhere (an allowlisted origin that is not a receiver).
func (p *prober) targetFor(h *handoff) *target {
	if tg := p.targetAt(h.url); tg != nil {
		return tg
	}
	return &target{name: h.url.Host, host: cookieHost(h.url), origin: h.origin}
}

// result appends r to the trace.
func (p *prober) result(r ProbeResult) { p.t.Probes = append(p.t.Probes, r) }

// skip appends a result for a probe that could not run.
func (p *prober) skip(name, targetName, why string) {
	p.result(ProbeResult{Name: name, Target: targetName, Skipped: why})
}

// add appends a finding once, as the walk does.
func (p *prober) add(f Finding) {
	key := f.Code + "\x00" + f.Host + "\x00" + f.Detail
	if p.seen[key] {
		return
	}
	p.seen[key] = true
	p.t.Findings = append(p.t.Findings, f)
}

// walker is a throwaway walker for probe requests: client nil uses the
// walk's jar (a signed-in browser), p.bare none.
func (p *prober) walker(client *http.Client) *walker {
	return &walker{
		b: p.b, client: client, t: &Trace{}, began: time.Now(),
		seen: map[string]bool{}, hosts: map[string]bool{}, transitions: map[string]int{},
	}
}

// errForeign stops a request to ProbeForeignURL's host, which must never
// be dialled whatever a server says.
var errForeign = errors.New("probe: refusing to contact " + probeForeignHost)

// send makes one request through w and resolves where its answer sends
// the browser.
func (p *prober) send(w *walker, r *request) (*exchange, *url.URL, error) {
	if isForeign(r.url) {
		return nil, nil, errForeign
	}
	x, err := w.send(p.ctx, r)
	if err != nil {
		return nil, nil, err
	}
	var loc *url.URL
	if isRedirect(x.resp.StatusCode) && x.resp.Header.Get("Location") != "" {
		loc, _ = resolveLocation(r.url, x.resp.Header.Get("Location"))
	}
	return x, loc, nil
}

func isForeign(u *url.URL) bool {
	h := cookieHost(u)
	return h == probeForeignHost || strings.HasSuffix(h, "."+probeForeignHost)
}

// nextRequest is where a browser goes after x: the redirect, or what the
// page submits or refreshes to (a form_post interstitial); nil when it
// stays.
func nextRequest(w *walker, r *request, x *exchange, loc *url.URL) *request {
	switch {
	case loc != nil:
		return w.redirect(r, x.resp, loc)
	case x.resp.StatusCode >= 200 && x.resp.StatusCode < 300 && x.page != nil:
		return w.pageNext(r, x.resp, x.page)
	}
	return nil
}

// onChain reports whether a probe may go to u: with a Chain, a role of it
// or an origin return_to.allow allows; without one, a host the walk went
// to. Never ProbeForeignURL's host.
func (p *prober) onChain(u *url.URL) bool {
	if isForeign(u) {
		return false
	}
	if p.b.chain != nil {
		return (&walker{b: p.b}).onChain(u)
	}
	_, ok := p.b.visited[cookieHost(u)]
	return ok
}

// intoLogin reports whether a redirect to u sends the browser back into
// the chain's login: the issuer or the IdP (with a Chain), or where the
// walk went before its first handoff (without one).
func (p *prober) intoLogin(u *url.URL) bool {
	if p.b.chain != nil {
		r, _ := p.b.roles.of(u)
		return r == roleIssuer || r == roleIdP
	}
	return p.loginOrigins[originOf(u)]
}

// answer is what a receiver made of a token probe.
type answer struct {
	status   int
	loc      *url.URL
	cookie   string // the session cookie it set; "" none
	accepted bool
}

// judge reads a receiver's answer to a token: accepted unless it is a
// 4xx/5xx or a redirect back into the login, and always when it sets a
// session cookie: the receiver's own (with a Chain), or any cookie that is
// not a deletion (without one).
func (p *prober) judge(tg *target, x *exchange, loc *url.URL) answer {
	a := answer{status: x.resp.StatusCode, loc: loc}
	now := p.b.now()
	for _, line := range x.resp.Header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil || c.Value == "" || c.MaxAge < 0 || !c.Expires.IsZero() && !c.Expires.After(now) {
			continue
		}
		if tg.cookie == "" || c.Name == tg.cookie {
			a.cookie = c.Name
			break
		}
	}
	a.accepted = a.cookie != "" || a.status < 400 && !(loc != nil && p.intoLogin(loc))
	return a
}

// describe renders an answer for a Detail: "303 → http://…/, set
// portal_session".
func (p *prober) describe(a answer) string {
	s := fmt.Sprint(a.status)
	if a.loc != nil {
		s += " → " + redactURL(a.loc.String(), p.b.now())
	}
	if a.cookie != "" {
		s += ", set " + a.cookie
	}
	return s
}

func (p *prober) location(a answer) string {
	if a.loc == nil {
		return ""
	}
	return redactURL(a.loc.String(), p.b.now())
}

// withToken is the request h made, carrying raw instead of its token.
// It says why not when the token travelled where a server never sees it.
func withToken(h *handoff, raw string) (*request, string) {
	u := *h.url
	r := &request{method: h.method, url: &u, origin: h.from}
	switch h.in {
	case "fragment":
		return nil, "its handoff carries the token in the URL fragment, which never reaches the server"
	case "form":
		f := url.Values{}
		for k, v := range h.form {
			f[k] = slices.Clone(v)
		}
		f.Set(h.param, raw)
		r.form = f
	case "path":
		u.Path = strings.Replace(u.Path, h.raw, raw, 1)
		u.RawPath = ""
	default: // query
		if strings.Contains(u.RawQuery, h.raw) {
			u.RawQuery = strings.Replace(u.RawQuery, h.raw, raw, 1)
		} else {
			q := u.Query()
			q.Set(h.param, raw)
			u.RawQuery = q.Encode()
		}
	}
	u.Fragment, u.RawFragment = "", ""
	return r, ""
}

// shape is how tokens travel to tg: as the walk's handoff to it did, or,
// with a Chain and no such handoff, as the chain's transport says.
func (p *prober) shape(tg *target) (*handoff, string) {
	if tg.via != nil {
		return tg.via, ""
	}
	c := p.b.chain
	if c == nil {
		return nil, "the walk handed no token to it"
	}
	u, _ := url.Parse(tg.origin + SSOPath)
	h := &handoff{in: "query", param: TokenParam, method: http.MethodGet, url: u, origin: tg.origin}
	if c.Token.Transport == TransportFormPost {
		h.in, h.method, h.form, h.from = "form", http.MethodPost, url.Values{}, p.b.roles.issuer
	}
	return h, ""
}

// sendToken sends raw to tg the way h carried tokens, from a browser with
// no cookies, and records the probe: refused, or accepted with finding
// kind, whose detail says "<name>: <receiver> accepted <what>". repeat > 0
// sends it up to repeat times, each on a new connection, until one is
// accepted (replay: the instances behind a load balancer must share their
// store); 0 sends it once, over the Browser's connections.
func (p *prober) sendToken(name string, tg *target, h *handoff, raw string, kind *FindingKind, what string, repeat int) {
	r, why := withToken(h, raw)
	if why != "" {
		p.skip(name, tg.name, why)
		return
	}
	client, n := p.bare, 1
	if repeat > 0 {
		client, n = p.fresh, repeat
	}
	var a answer
	var refused []int // the statuses of the attempts refused before a
	for i := range n {
		x, loc, err := p.send(p.walker(client), r)
		if err != nil {
			p.skip(name, tg.name, attemptFailed(i, n, refusals(refused))+"the request failed: "+transportError(r, err, p.b.now()))
			return
		}
		if a = p.judge(tg, x, loc); a.accepted {
			break
		}
		refused = append(refused, a.status)
	}
	res := ProbeResult{Name: name, Target: tg.name, Status: a.status, Location: p.location(a), Refused: !a.accepted}
	if repeat > 0 {
		res.Attempts = len(refused)
		if a.accepted {
			res.Attempts++
		}
	}
	if name == ProbeForeignRet {
		// The receiver may take the token as long as it does not send the
		// browser where ret says.
		switch {
		case a.loc != nil && !p.onChain(a.loc):
			res.Refused = false
		case a.accepted:
			res.Refused = true
			res.Detail = fmt.Sprintf("%s took the token but did not follow its ret: %s", tg.name, p.describe(a))
		}
	}
	switch {
	case !res.Refused:
		res.Finding = kind.Code
		res.Detail = fmt.Sprintf("%s: %s accepted %s: it answered %s", name, tg.name, what, p.describe(a))
		if name == ProbeForeignRet {
			res.Detail = fmt.Sprintf("%s: %s accepted %s and sent the browser there (%s); the probe did not follow", name, tg.name, what, p.describe(a))
		}
		if len(refused) > 0 {
			res.Detail = fmt.Sprintf("%s: %s accepted %s on attempt %d, after %s: it answered %s; %s",
				name, tg.name, what, res.Attempts, refusals(refused), p.describe(a), notShared("one replay store"))
		}
		p.add(kind.New(0, tg.host, "%s", res.Detail))
	case res.Detail == "" && n > 1:
		res.Detail = fmt.Sprintf("sent %s, %d times, each on a new connection: %s", what, n, p.describe(a))
	case res.Detail == "":
		res.Detail = fmt.Sprintf("sent %s: %s", what, p.describe(a))
	}
	p.result(res)
}

// refusals renders the statuses of refused attempts: "1 refusal (401)",
// "2 refusals (401, 401)".
func refusals(statuses []int) string {
	word := "refusals"
	if len(statuses) == 1 {
		word = "refusal"
	}
	return fmt.Sprintf("%d %s (%s)", len(statuses), word, statusList(statuses))
}

// statusList renders statuses as "401, 401".
func statusList(statuses []int) string {
	s := make([]string, len(statuses))
	for i, st := range statuses {
		s[i] = strconv.Itoa(st)
	}
	return strings.Join(s, ", ")
}

// attemptFailed prefixes why attempt i (0-based) of n failed after the
// earlier ones, which before describes ("1 refusal (401)"); "" for a first
// attempt.
func attemptFailed(i, n int, before string) string {
	if i == 0 {
		return ""
	}
	return fmt.Sprintf("attempt %d of %d, after %s: ", i+1, n, before)
}

// authSignedIn and authSignedOut read a forward-auth answer: a 2xx signs
// the session in; a 401 or 403, or a redirect to a login, does not.
// Anything else says neither.
func authSignedIn(status int) bool { return status >= 200 && status <= 299 }

func authSignedOut(status int) bool {
	return status == http.StatusUnauthorized || status == http.StatusForbidden || isRedirect(status)
}

// notShared names the likely cause of a refusal followed by an acceptance
// when every attempt went on a new connection: instances of the receiver
// that keep what (a replay store, revocations) each to themselves.
func notShared(what string) string {
	return "each attempt went on a new connection, so this is likely several instances behind a load balancer that do not share " + what +
		" (store: {redis: …} in the chain file; see docs/stores.md)"
}

// newConnections sends each request through rt on a connection of its own:
// it drops rt's idle connections first and has the connection closed after
// the answer. A load balancer that picks an instance per connection (L4)
// then picks again for every attempt, where a kept-alive connection would
// take each one to the instance that answered the first.
type newConnections struct{ rt http.RoundTripper }

func (n newConnections) RoundTrip(req *http.Request) (*http.Response, error) {
	if c, ok := n.rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
	req = req.Clone(req.Context())
	req.Close = true
	return n.rt.RoundTrip(req)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach rt.
func (n newConnections) CloseIdleConnections() {
	if c, ok := n.rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// replay sends every handoff of the walk again, exactly as it was sent,
// from a browser with no cookies: up to Repeat times, each on a new
// connection, so that another instance of the receiver gets it too.
func (p *prober) replay() {
	for i := range p.handoffs {
		h := &p.handoffs[i]
		tg := p.targetFor(h)
		p.sendToken(ProbeReplay, tg, h, h.raw, FindingReplayAccepted,
			fmt.Sprintf("the handoff the walk sent it at step %d, sent again from a browser with no cookies", h.step), p.o.Repeat)
	}
}

// minted runs the token variants with fresh tokens minted with the key.
func (p *prober) minted() {
	if p.claims == nil {
		for _, name := range []string{ProbeWrongAudience, ProbeTamperedSignature, ProbeAlgNone, ProbeExpired, ProbeForeignRet} {
			for _, tg := range p.targets {
				p.skip(name, tg.name, "no handoff of the walk decodes, so there is no session (sid, sub) to mint fresh tokens for")
			}
		}
		return
	}
	variants := []struct {
		name string
		kind *FindingKind
		make func(tg *target) (raw, what string, err error)
	}{
		{ProbeWrongAudience, FindingAudience, func(tg *target) (string, string, error) {
			aud := "ssoctl-probe-other-receiver"
			for _, other := range p.targets {
				if other.aud != tg.aud {
					aud = other.aud
					break
				}
			}
			raw, err := p.mint(aud, tg.ret, 0)
			return raw, "a fresh handoff minted for " + placeholderSafe(aud), err
		}},
		{ProbeTamperedSignature, FindingForgeryAccepted, func(tg *target) (string, string, error) {
			raw, err := p.mint(tg.aud, tg.ret, 0)
			if err == nil {
				raw, err = tamper(raw)
			}
			return raw, "a fresh handoff for it with one character of its signature changed", err
		}},
		{ProbeAlgNone, FindingForgeryAccepted, func(tg *target) (string, string, error) {
			raw, err := p.mint(tg.aud, tg.ret, 0)
			if err == nil {
				raw, err = unsigned(raw)
			}
			return raw, `a fresh handoff for it with alg "none" and no signature`, err
		}},
		{ProbeExpired, FindingExpiredAccepted, func(tg *target) (string, string, error) {
			raw, err := p.mint(tg.aud, tg.ret, expiredAgo)
			return raw, "a handoff for it that expired " + shortDuration(expiredAgo) + " ago", err
		}},
		{ProbeForeignRet, FindingOpenRedirect, func(tg *target) (string, string, error) {
			raw, err := p.mint(tg.aud, ProbeForeignURL, 0)
			return raw, "a fresh handoff for it whose ret is " + ProbeForeignURL, err
		}},
	}
	for _, v := range variants {
		for _, tg := range p.targets {
			h, why := p.shape(tg)
			if why == "" {
				why = p.control(tg, h)
			}
			if why != "" {
				p.skip(v.name, tg.name, why)
				continue
			}
			raw, what, err := v.make(tg)
			if err != nil {
				p.skip(v.name, tg.name, "minting the token failed: "+redactText(err.Error(), p.b.now()))
				continue
			}
			p.sendToken(v.name, tg, h, raw, v.kind, what, 0)
		}
	}
}

// control sends tg one valid token minted with the key, once. A receiver
// that refuses it does not take this key's tokens (another key, another
// issuer), so refusals of variants would prove nothing: it says so.
func (p *prober) control(tg *target, h *handoff) string {
	if tg.controlled {
		return tg.unusable
	}
	tg.controlled = true
	raw, err := p.mint(tg.aud, tg.ret, 0)
	if err != nil {
		tg.unusable = "minting a token for it failed: " + redactText(err.Error(), p.b.now())
		return tg.unusable
	}
	r, why := withToken(h, raw)
	if why != "" {
		tg.unusable = why
		return why
	}
	x, loc, err := p.send(p.walker(p.bare), r)
	if err != nil {
		tg.unusable = "a valid token could not be sent to it: " + transportError(r, err, p.b.now())
		return tg.unusable
	}
	if a := p.judge(tg, x, loc); !a.accepted {
		tg.unusable = fmt.Sprintf("it refused a valid token minted with the given key too (%s): it does not take this key's tokens, so a refusal would prove nothing",
			p.describe(a))
	}
	return tg.unusable
}

// mint signs a token for aud with the walk's session, issuer and chn and a
// fresh jti. expired > 0 makes it one that expired that long ago, with the
// walk's lifetime (so that only its expiry is wrong).
func (p *prober) mint(aud, ret string, expired time.Duration) (string, error) {
	c := p.claims
	now := p.b.now()
	if expired == 0 {
		raw, _, err := token.Mint(p.o.Signing, token.MintOptions{
			Issuer: c.Issuer, Audience: aud, Subject: c.Subject, SessionID: c.SessionID,
			TTL: p.lifetime, Chain: c.Chain, Return: ret, Now: p.b.now,
		})
		return raw, err
	}
	exp := token.NewNumericDate(now.Add(-expired))
	return token.Sign(p.o.Signing, &token.Claims{
		Issuer: c.Issuer, Audience: token.Audience{aud}, Subject: c.Subject, SessionID: c.SessionID,
		ID: token.NewID(), IssuedAt: token.NumericDate{Time: exp.Add(-p.lifetime)}, Expiry: exp, Chain: c.Chain, Return: ret,
	})
}

// tamper changes one character in the middle of raw's signature, keeping
// it canonical base64url (the last character may carry unused bits).
func tamper(raw string) (string, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 || len(parts[2]) < 2 {
		return "", errors.New("the token has no signature to change")
	}
	sig := []byte(parts[2])
	i := len(sig) / 2
	if sig[i] == 'A' {
		sig[i] = 'B'
	} else {
		sig[i] = 'A'
	}
	return parts[0] + "." + parts[1] + "." + string(sig), nil
}

// unsigned is raw's header with alg "none" and its claims, unsigned.
func unsigned(raw string) (string, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", errors.New("the token is not a compact JWS")
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return "", fmt.Errorf("its header does not decode: %w", err)
	}
	var header map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(hb))
	if err := dec.Decode(&header); err != nil {
		return "", fmt.Errorf("its header is not a JSON object: %w", err)
	}
	header["alg"] = json.RawMessage(`"none"`)
	out, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(out) + "." + parts[1] + ".", nil
}

// intercepted runs the token variants without a key: each takes a fresh
// handoff from the walk's signed-in browser, which the issuer mints for
// its first receiver only.
func (p *prober) intercepted() {
	const needsKey = "needs a token minted with the chain's key, and none was given (--sandbox, or token.secret or token.key_file in the chain file)"
	first, _, _, why := p.intercept()
	for _, tg := range p.targets {
		switch {
		case why != "":
			p.skip(ProbeWrongAudience, tg.name, why)
		case tg == first:
			p.skip(ProbeWrongAudience, tg.name, "without the chain's key only "+first.name+"'s own handoff can be intercepted, so there is no other receiver's token to send it; "+needsKey)
		default:
			h, shapeWhy := p.shape(tg)
			if shapeWhy != "" {
				p.skip(ProbeWrongAudience, tg.name, shapeWhy)
				continue
			}
			p.interceptAnd(ProbeWrongAudience, tg, func(from *target, _ *handoff, raw string) {
				p.sendToken(ProbeWrongAudience, tg, h, raw, FindingAudience,
					fmt.Sprintf("a fresh handoff the issuer minted for %s (aud %q)", from.name, placeholderSafe(from.aud)), 0)
			})
		}
	}
	forged := []struct {
		name  string
		what  string
		forge func(string) (string, error)
	}{
		{ProbeTamperedSignature, "a fresh handoff for it with one character of its signature changed", tamper},
		{ProbeAlgNone, `a fresh handoff for it with alg "none" and no signature`, unsigned},
	}
	for _, f := range forged {
		for _, tg := range p.targets {
			switch {
			case why != "":
				p.skip(f.name, tg.name, why)
			case tg != first:
				p.skip(f.name, tg.name, "without the chain's key only "+first.name+"'s handoff can be intercepted; "+needsKey)
			default:
				p.interceptAnd(f.name, tg, func(_ *target, h *handoff, raw string) {
					forgedRaw, err := f.forge(raw)
					if err != nil {
						p.skip(f.name, tg.name, "the intercepted token cannot be forged: "+err.Error())
						return
					}
					p.sendToken(f.name, tg, h, forgedRaw, FindingForgeryAccepted, f.what, 0)
				})
			}
		}
	}
	for _, name := range []string{ProbeExpired, ProbeForeignRet} {
		for _, tg := range p.targets {
			p.skip(name, tg.name, needsKey)
		}
	}
}

// interceptAnd intercepts a fresh handoff and hands it to use, or records
// why it could not.
func (p *prober) interceptAnd(name string, tg *target, use func(from *target, h *handoff, raw string)) {
	from, h, raw, why := p.intercept()
	if why != "" {
		p.skip(name, tg.name, why)
		return
	}
	use(from, h, raw)
}

// intercept opens the walk's start URL again with the walk's cookies and
// follows the chain until a request would carry a token to a receiver,
// which it does not send: the token in it is fresh. It returns the
// receiver, the request as a handoff shape, and the token, or why none
// came.
func (p *prober) intercept() (*target, *handoff, string, string) {
	w := p.walker(nil)
	r := &request{method: http.MethodGet, url: p.b.start}
	now := p.b.now()
	for range p.b.maxSteps {
		if c := findRequestToken(r); c != nil {
			if tg := p.targetAt(r.url); tg != nil {
				h := &handoff{raw: c.raw, in: c.in, param: c.param, method: r.method, url: r.url, form: r.form, from: r.origin, origin: tg.origin}
				return tg, h, c.raw, ""
			}
		}
		if !p.onChain(r.url) {
			return nil, nil, "", "a fresh login from the walk's browser left the chain for " + redactURL(r.url.String(), now) + " before handing off"
		}
		x, loc, err := p.send(w, r)
		if err != nil {
			return nil, nil, "", "intercepting a fresh handoff failed: " + transportError(r, err, now)
		}
		next := nextRequest(w, r, x, loc)
		if next == nil {
			return nil, nil, "", fmt.Sprintf("a fresh login from the walk's browser ended at %s (%d) without handing a token to a receiver, so there is none to intercept",
				redactURL(r.url.String(), now), x.resp.StatusCode)
		}
		r = next
	}
	return nil, nil, "", fmt.Sprintf("a fresh login from the walk's browser took more than %d requests without handing off", p.b.maxSteps)
}

// returnToTricks are the spellings of ProbeForeignURL the return_to probe
// tries: plain, scheme-relative, scheme without slashes, behind userinfo
// (filled with the issuer's host) and with a backslash (DESIGN §9).
func returnToTricks(issuerHost string) []string {
	return []string{
		ProbeForeignURL,
		"//" + probeForeignHost + "/",
		"https:" + probeForeignHost + "/",
		"https://" + issuerHost + "@" + probeForeignHost + "/",
		`/\` + probeForeignHost + "/",
	}
}

// returnTo starts the walk's login again, signed in, with its return_to
// pointing off the chain, and follows the chain; a hop off it to
// ProbeForeignURL's host is SSO302.
func (p *prober) returnTo() {
	start := p.b.start
	issuer := start
	if p.b.chain != nil {
		if u, err := url.Parse(p.b.chain.Issuer.URL); err == nil && u.Host != "" {
			issuer = u
		}
	}
	name := issuer.Host
	q := start.Query()
	param := ""
	for _, n := range returnToParams {
		if q.Has(n) {
			param = n
			break
		}
	}
	if param == "" {
		if p.b.chain == nil {
			p.skip(ProbeReturnTo, name, "the start URL has no return_to-like parameter ("+strings.Join(returnToParams, ", ")+") to point off the chain")
			return
		}
		param = ReturnToParam
	}
	now := p.b.now()
	firstStatus := 0
	attempts := returnToAttempts(param, q.Get(param), originOf(issuer)+"/", cookieHost(issuer), now)
	for i, a := range attempts {
		u := *start
		q := u.Query()
		q[param] = a.values
		u.RawQuery = q.Encode()
		hop, status, from, to, why := p.followLogin(&u)
		if why != "" {
			p.skip(ProbeReturnTo, name, why)
			return
		}
		if i == 0 {
			firstStatus = status
		}
		if to == nil {
			continue
		}
		loc := redactURL(to.String(), now)
		detail := fmt.Sprintf("%s: a login at %s with %s sent the browser to %s at hop %d (%d from %s); the probe did not follow",
			ProbeReturnTo, originOf(start), a.label, loc, hop, status, originOf(from))
		p.add(FindingOpenRedirect.New(0, cookieHost(issuer), "%s", detail))
		p.result(ProbeResult{Name: ProbeReturnTo, Target: name, Status: status, Finding: FindingOpenRedirect.Code, Location: loc, Detail: detail})
		return
	}
	p.result(ProbeResult{Name: ProbeReturnTo, Target: name, Status: firstStatus, Refused: true,
		Detail: fmt.Sprintf("none of %d spellings of %s=%s, alone or beside an allowed one, sent the browser to %s (the first was answered %d)",
			len(attempts), param, ProbeForeignURL, probeForeignHost, firstStatus)})
}

// returnToAttempt is one way the return_to probe points a login off the
// chain: the values of the parameter, and how the finding names them.
type returnToAttempt struct {
	values []string
	label  string
}

// returnToAttempts are the return_to probe's tries: each of returnToTricks
// alone, then the parameter given twice, an allowed value (the start URL's
// own, else the issuer's root) and ProbeForeignURL, in both orders. A
// server that checks one copy and uses the other (Go reads the first, PHP
// and Rails the last, a proxy either) redirects off the chain only then.
// Labels show URLs redacted as of now.
func returnToAttempts(param, own, root, issuerHost string, now time.Time) []returnToAttempt {
	var out []returnToAttempt
	for _, evil := range returnToTricks(issuerHost) {
		out = append(out, returnToAttempt{values: []string{evil}, label: param + "=" + evil})
	}
	if u, err := url.Parse(own); own == "" || err != nil || isForeign(u) {
		own = root
	}
	for _, vs := range [][]string{{own, ProbeForeignURL}, {ProbeForeignURL, own}} {
		out = append(out, returnToAttempt{values: vs,
			label: fmt.Sprintf("%s given twice (%s, then %s)", param, redactURL(vs[0], now), redactURL(vs[1], now))})
	}
	return out
}

// followLogin walks from start with the walk's cookies, within the chain.
// It returns the hop (1-based) that would leave for ProbeForeignURL's host,
// that hop's status, its URL and where it pointed; to is nil when the
// login stayed on the chain (or left it for somewhere else). why says why
// the probe could not run at all.
func (p *prober) followLogin(start *url.URL) (hop, status int, from, to *url.URL, why string) {
	w := p.walker(nil)
	r := &request{method: http.MethodGet, url: start}
	first := 0
	for n := 1; n <= p.b.maxSteps; n++ {
		x, loc, err := p.send(w, r)
		if err != nil {
			if n == 1 {
				return 0, 0, nil, nil, "the login could not be started: " + transportError(r, err, p.b.now())
			}
			return 0, first, nil, nil, ""
		}
		if n == 1 {
			first = x.resp.StatusCode
		}
		next := nextRequest(w, r, x, loc)
		switch {
		case next == nil:
			return 0, first, nil, nil, ""
		case isForeign(next.url):
			return n, x.resp.StatusCode, r.url, next.url, ""
		case !p.onChain(next.url):
			return 0, first, nil, nil, ""
		}
		r = next
	}
	return 0, first, nil, nil, ""
}

// sessionInstances asks each receiver's /auth about the walk's cookies
// Repeat times, each on a new connection, so that a load balancer picks an
// instance again for each: every answer must agree. Some 2xx and some 401
// or 403 (or a redirect to a login) mean instances that cannot read the
// cookie another set, or that keep their own session state: users signed
// out at random, at whichever instance their next connection reaches
// (SSO404). It runs before revoked_session, which ends the session.
func (p *prober) sessionInstances() {
	n := p.o.Repeat
	for _, tg := range p.targets {
		if n < 2 {
			p.skip(ProbeSessionInstances, tg.name, "needs --probe-repeat 2 or more: one request reaches one instance")
			continue
		}
		statuses := make([]int, 0, n)
		in, out := 0, 0
		var failed error
		for range n {
			status, err := p.auth(tg, p.signedIn)
			if err != nil {
				failed = err
				break
			}
			statuses = append(statuses, status)
			switch {
			case authSignedIn(status):
				in++
			case authSignedOut(status):
				out++
			}
		}
		switch {
		case failed != nil:
			p.skip(ProbeSessionInstances, tg.name, attemptFailed(len(statuses), n, "answers "+statusList(statuses))+failed.Error())
		case in > 0 && out > 0:
			detail := fmt.Sprintf("%s: %s's /auth answered %s for the walk's cookie, each on a new connection: some instances behind its load balancer sign the session in and others do not (a cookie key or session store not shared)",
				ProbeSessionInstances, tg.name, statusList(statuses))
			first := slices.IndexFunc(statuses, func(s int) bool { return !authSignedIn(s) })
			p.add(FindingSplitSession.New(0, tg.host, "%s", detail))
			p.result(ProbeResult{Name: ProbeSessionInstances, Target: tg.name, Status: statuses[first], Attempts: n, Finding: FindingSplitSession.Code, Detail: detail})
		case in == n:
			p.result(ProbeResult{Name: ProbeSessionInstances, Target: tg.name, Status: statuses[n-1], Attempts: n, Refused: true,
				Detail: fmt.Sprintf("/auth answered %s for the walk's cookie, each on a new connection: every instance reached signs the session in", statusList(statuses))})
		case out == n:
			p.skip(ProbeSessionInstances, tg.name, fmt.Sprintf("its /auth answered %s: the walk's browser was not signed in there", statusList(statuses)))
		default:
			p.skip(ProbeSessionInstances, tg.name, fmt.Sprintf("its /auth answered %s, which says neither signed in nor not", statusList(statuses)))
		}
	}
}

// revokedSession revokes the walk's IdP session, lets the receivers'
// recheck interval pass, and asks each receiver's /auth about the walk's
// cookies: anything but 401 or 403 (or a redirect to a login) keeps a
// revoked session signed in (SSO402).
func (p *prober) revokedSession() {
	skipAll := func(why string) {
		for _, tg := range p.targets {
			p.skip(ProbeRevokedSession, tg.name, why)
		}
	}
	o := p.o
	wait := o.RecheckInterval + time.Second
	switch {
	case o.Revoke == nil:
		skipAll("needs a way to end the IdP session (the IdP's admin API, idp.admin_url), and none was given")
		return
	case p.claims == nil || p.claims.SessionID == "":
		skipAll("no handoff of the walk names its IdP session (sid)")
		return
	case o.Advance == nil && o.RecheckInterval > MaxRecheckWait:
		skipAll(fmt.Sprintf("needs the receivers' clock moved past their recheck_interval (%s), which only --sandbox can do", o.RecheckInterval))
		return
	}
	signedIn := map[*target]bool{}
	for _, tg := range p.targets {
		status, err := p.auth(tg, nil)
		switch {
		case err != nil:
			p.skip(ProbeRevokedSession, tg.name, err.Error())
		case !authSignedIn(status):
			p.skip(ProbeRevokedSession, tg.name, fmt.Sprintf("its /auth answered %d before the revocation: the walk's browser was not signed in there to begin with", status))
		default:
			signedIn[tg] = true
		}
	}
	if len(signedIn) == 0 {
		return
	}
	if err := o.Revoke(p.ctx, p.claims.SessionID); err != nil {
		for _, tg := range p.targets {
			if signedIn[tg] {
				p.skip(ProbeRevokedSession, tg.name, "revoking the session at the IdP failed: "+redactText(err.Error(), p.b.now()))
			}
		}
		return
	}
	if o.Advance != nil {
		o.Advance(wait)
	} else if err := sleep(p.ctx, wait); err != nil {
		for _, tg := range p.targets {
			if signedIn[tg] {
				p.skip(ProbeRevokedSession, tg.name, "interrupted while waiting out the recheck interval")
			}
		}
		return
	}
	for _, tg := range p.targets {
		if signedIn[tg] {
			p.revokedAt(tg, wait)
		}
	}
}

// revokedAt asks tg's /auth about the revoked session up to Repeat times,
// each on a new connection, and records the first answer that keeps it
// signed in, or the last refusal.
func (p *prober) revokedAt(tg *target, wait time.Duration) {
	n := p.o.Repeat
	var refused []int
	status := 0
	for i := range n {
		var err error
		status, err = p.auth(tg, p.signedIn)
		switch {
		case err != nil:
			p.skip(ProbeRevokedSession, tg.name, attemptFailed(i, n, refusals(refused))+err.Error())
			return
		case authSignedIn(status):
			res := ProbeResult{Name: ProbeRevokedSession, Target: tg.name, Status: status, Attempts: i + 1, Finding: FindingNoRecheck.Code,
				Detail: fmt.Sprintf("%s: %s's /auth still answered %d for the walk's cookie after its IdP session was revoked and %s (recheck_interval and a second) passed",
					ProbeRevokedSession, tg.name, status, wait)}
			if i > 0 {
				res.Detail = fmt.Sprintf("%s: %s's /auth answered %d on attempt %d for the walk's cookie, after %s, once its IdP session was revoked and %s (recheck_interval and a second) passed; %s",
					ProbeRevokedSession, tg.name, status, i+1, refusals(refused), wait, notShared("revocations"))
			}
			p.add(FindingNoRecheck.New(0, tg.host, "%s", res.Detail))
			p.result(res)
			return
		case authSignedOut(status):
			refused = append(refused, status)
		default:
			p.skip(ProbeRevokedSession, tg.name, attemptFailed(i, n, refusals(refused))+
				fmt.Sprintf("its /auth answered %d after the revocation, which says neither signed in nor not", status))
			return
		}
	}
	res := ProbeResult{Name: ProbeRevokedSession, Target: tg.name, Status: status, Attempts: n, Refused: true,
		Detail: fmt.Sprintf("after the IdP session was revoked and %s passed, /auth answered %d", wait, status)}
	if n > 1 {
		res.Detail = fmt.Sprintf("after the IdP session was revoked and %s passed, /auth answered %s, each on a new connection",
			wait, statusList(refused))
	}
	p.result(res)
}

// auth asks tg's forward-auth endpoint about the walk's cookies through
// client: nil is the Browser's own.
func (p *prober) auth(tg *target, client *http.Client) (int, error) {
	u, _ := url.Parse(tg.origin + "/auth")
	r := &request{method: http.MethodGet, url: u}
	x, _, err := p.send(p.walker(client), r)
	if err != nil {
		return 0, errors.New("its /auth could not be asked: " + transportError(r, err, p.b.now()))
	}
	return x.resp.StatusCode, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// stepOrigin is the scheme://host[:port] of a step's (redacted) URL.
func stepOrigin(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	u, err := url.Parse(scheme + "://" + rest)
	if err != nil {
		return ""
	}
	return originOf(u)
}

// maxLogoutSteps bounds the navigation logout_csrf follows from the
// issuer's /logout: the receivers' front-channel, a provider's logout and
// back, and where it lands.
const maxLogoutSteps = 40

// logoutCSRF follows a link from another site to the issuer's /logout in
// the walk's browser, as the browser would follow it (a top-level GET the
// user started on ProbeForeignURL's site, with every cookie SameSite lets
// through), then every redirect and page that moves on by itself while it
// stays on the chain, stopping at a form a person would fill in. A cookie
// the browser held that an answer deletes (or clears with Clear-Site-Data)
// signs the user out at a stranger's request: SSO405. The probe ends the
// session when it is accepted, so it runs last.
func (p *prober) logoutCSRF() {
	raw := p.o.LogoutURL
	switch {
	case raw != "":
	case p.b.chain != nil:
		raw = strings.TrimSuffix(p.b.chain.Issuer.URL, "/") + LogoutPath
	default:
		p.skip(ProbeLogoutCSRF, "the issuer", "needs the chain's logout URL: the chain file (-f FILE) or --probe-logout-url")
		return
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		p.skip(ProbeLogoutCSRF, "the issuer", "the logout URL is not an absolute http or https URL")
		return
	}
	if isForeign(u) {
		p.skip(ProbeLogoutCSRF, u.Host, "the logout URL is on "+probeForeignHost+", which probes never contact")
		return
	}
	target := u.Host
	from, _ := url.Parse(ProbeForeignURL)
	w := p.walker(nil)
	r := &request{method: http.MethodGet, url: u, refSrc: from, refPolicy: defaultReferrerPolicy, user: true}
	now := p.b.now()
	var ended []string
	first := 0
	for range maxLogoutSteps {
		held := p.b.jar.names(r.url)
		x, loc, err := p.send(w, r)
		if err != nil {
			if len(ended) == 0 {
				p.skip(ProbeLogoutCSRF, target, "the logout could not be followed: "+transportError(r, err, now))
				return
			}
			break
		}
		if first == 0 {
			first = x.resp.StatusCode
		}
		for _, c := range parseSetCookies(r.url, x.resp.Header, now) {
			if c.Deleted && slices.Contains(held, c.Name) && !slices.Contains(ended, c.Name) {
				ended = append(ended, c.Name)
			}
		}
		for _, c := range x.cleared { // the jar's record of what Clear-Site-Data took out
			if name := c.Name + " (Clear-Site-Data)"; !slices.Contains(ended, name) {
				ended = append(ended, name)
			}
		}
		next := nextRequest(w, r, x, loc)
		if next == nil || next.kind == FormLogin || !p.onChain(next.url) {
			break
		}
		r = next
	}
	if len(ended) == 0 && (first == http.StatusNotFound || first == http.StatusMethodNotAllowed || first == http.StatusNotImplemented) {
		p.skip(ProbeLogoutCSRF, target, fmt.Sprintf("GET %s answered %d: there is no logout there", redactURL(u.String(), now), first))
		return
	}
	if len(ended) == 0 {
		p.result(ProbeResult{Name: ProbeLogoutCSRF, Target: target, Status: first, Refused: true,
			Detail: fmt.Sprintf("GET %s from a link on another site answered %d and deleted no cookie the browser held", redactURL(u.String(), now), first)})
		return
	}
	detail := fmt.Sprintf("%s: GET %s from a link on another site (Sec-Fetch-Site cross-site) deleted %s: any page can sign its visitors out of the chain",
		ProbeLogoutCSRF, redactURL(u.String(), now), strings.Join(ended, ", "))
	p.add(FindingLogoutCSRF.New(0, cookieHost(u), "%s", detail))
	p.result(ProbeResult{Name: ProbeLogoutCSRF, Target: target, Status: first, Finding: FindingLogoutCSRF.Code, Detail: detail})
}
