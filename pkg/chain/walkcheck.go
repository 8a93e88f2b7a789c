package chain

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/ssoctl/ssoctl/pkg/token"
)

// originRole is what an origin is in a chain.
type originRole int

const (
	roleNone originRole = iota
	roleIssuer
	roleReceiver
	roleIdP
)

// roleMap tells a Chain's origins apart. Its zero value knows no roles.
type roleMap struct {
	issuer    string
	idp       []string             // public and admin origins
	idpURL    *url.URL             // the public URL
	receivers map[string]*Receiver // by origin
}

func newRoleMap(c *Chain) roleMap {
	m := roleMap{receivers: map[string]*Receiver{}}
	if u, err := url.Parse(c.Issuer.URL); err == nil && u.Host != "" {
		m.issuer = originOf(u)
	}
	idp := []string{c.IdP.PublicURL, c.IdP.AdminURL}
	if hl := c.IdP.HydraLogin; hl != nil {
		// The login and consent pages a dev OIDC chain serves for Hydra are
		// the IdP's login as a browser meets it: the walk signs in there.
		idp = append(idp, hl.URL)
	}
	for _, raw := range idp {
		if u, err := url.Parse(raw); err == nil && u.Host != "" {
			m.idp = append(m.idp, originOf(u))
			if m.idpURL == nil {
				m.idpURL = u
			}
		}
	}
	for i := range c.Receivers {
		if u, err := url.Parse(c.Receivers[i].URL); err == nil && u.Host != "" {
			m.receivers[originOf(u)] = &c.Receivers[i]
		}
	}
	return m
}

// of says what u's origin is, and which receiver.
func (m roleMap) of(u *url.URL) (originRole, *Receiver) {
	o := originOf(u)
	switch {
	case m.issuer != "" && o == m.issuer:
		return roleIssuer, nil
	case slices.Contains(m.idp, o):
		return roleIdP, nil
	}
	if r, ok := m.receivers[o]; ok {
		return roleReceiver, r
	}
	return roleNone, nil
}

func (m roleMap) isIdP(u *url.URL) bool { r, _ := m.of(u); return r == roleIdP }

// isIssuerEndpoint reports whether u is the issuer's /login, /callback or
// /sso/continue.
func (m roleMap) isIssuerEndpoint(u *url.URL) bool {
	if u == nil {
		return false
	}
	if r, _ := m.of(u); r != roleIssuer {
		return false
	}
	switch u.Path {
	case LoginPath, CallbackPath, ContinuePath:
		return true
	}
	return false
}

// idpHost is the IdP's public host:port, "" without a Chain.
func (m roleMap) idpHost() string {
	if m.idpURL == nil {
		return ""
	}
	return m.idpURL.Host
}

func (m roleMap) idpHostname() string {
	if m.idpURL == nil {
		return ""
	}
	return cookieHost(m.idpURL)
}

// summarize decodes a carried token without a key for Step.Token, and
// keeps the inspection on c for the findings.
func summarize(c *carriedToken, now time.Time) *TokenSummary {
	s := &TokenSummary{In: c.where()}
	in, err := token.Inspect(c.raw, now)
	if err != nil {
		var inv *token.InvalidError
		if errors.As(err, &inv) {
			s.Warnings = inv.Codes()
		}
		return s
	}
	c.insp = in
	t := in.Token
	s.Alg, s.Kid, s.Typ = t.Header.Alg, t.Header.Kid, t.Header.Typ
	s.Issuer, s.Chain = t.Claims.Issuer, t.Claims.Chain
	s.Audience = []string(t.Claims.Audience)
	if jti := t.Claims.ID; jti != "" {
		s.JTIPrefix = prefixRunes(jti, 6) + "…"
	}
	if t.Claims.Return != "" {
		s.Return = redactURL(t.Claims.Return, now)
	}
	s.LifetimeS = int64(t.Claims.Lifetime() / time.Second)
	for _, w := range in.Warnings {
		if !slices.Contains(s.Warnings, w.Reason.Code) {
			s.Warnings = append(s.Warnings, w.Reason.Code)
		}
	}
	return s
}

func prefixRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// maxLifetime is the longest handoff lifetime the walk accepts without a
// finding: expect.max_token_lifetime, else DESIGN §4's 30 s. Not the
// chain's token.max_ttl: a chain that raises max_ttl with its ttl still
// hands out long-lived bearer tokens, which is what SSO101 is about.
func (b *Browser) maxLifetime() time.Duration {
	if b.chain != nil && b.chain.Expect.MaxTokenLifetime > 0 {
		return b.chain.Expect.MaxTokenLifetime
	}
	return DefaultTokenTTL
}

// ownFindingCodes are Inspect warnings with a finding of their own; the
// rest go into SSO106.
var ownFindingCodes = map[string]bool{
	token.ErrAudMissing.Code: true, token.ErrAudienceNotSingle.Code: true,
	token.ErrLifetimeTooLong.Code: true, token.ErrExpMissing.Code: true, token.ErrAlgNone.Code: true,
}

// tokenFindings checks a handoff the walk carried (to receiver rcv, when
// the Chain names it): lifetime (SSO101), audience (SSO102), alg none
// (SSO104), and the rest of the profile (SSO106).
func (w *walker) tokenFindings(n int, host string, c *carriedToken, rcv *Receiver) {
	now := w.b.now()
	in := c.insp
	if in == nil {
		codes := "it does not decode"
		if st := w.t.Steps[n-1].Token; st != nil && len(st.Warnings) > 0 {
			codes = strings.Join(st.Warnings, ", ")
		}
		w.add(FindingRiskyToken.New(n, host, "the token in %s cannot be read as a handoff: %s", c.where(), codes))
		return
	}
	cl := &in.Token.Claims
	limit := w.b.maxLifetime()
	switch life := cl.Lifetime(); {
	case cl.Expiry.IsZero():
		w.add(FindingLifetimeOverMax.New(n, host, "the token in %s has no exp: it never expires", c.where()))
	case cl.IssuedAt.IsZero() && cl.Expiry.Sub(now) > limit:
		w.add(FindingLifetimeOverMax.New(n, host, "the token in %s has no iat and is good for another %s; at most %s is expected",
			c.where(), shortDuration(cl.Expiry.Sub(now)), shortDuration(limit)))
	case life > limit:
		w.add(FindingLifetimeOverMax.New(n, host, "the token in %s lives %s (exp - iat); at most %s is expected",
			c.where(), shortDuration(life), shortDuration(limit)))
	}
	switch aud := cl.Audience; {
	case len(aud) == 0:
		w.add(FindingAudience.New(n, host, "the token in %s has no aud: every receiver that trusts the issuer would take it", c.where()))
	case len(aud) > 1:
		w.add(FindingAudience.New(n, host, "the token in %s names %d audiences (%s): it is good at each of them",
			c.where(), len(aud), placeholderSafe(strings.Join(aud, ","))))
	case rcv != nil && aud[0] != rcv.Name && aud[0] != strings.TrimSuffix(rcv.URL, "/"):
		w.add(FindingAudience.New(n, host, "the token in %s was minted for %q but sent to the receiver %s",
			c.where(), placeholderSafe(aud[0]), rcv.Name))
	}
	w.relayFinding(n, host, cl, rcv)
	if in.Has(token.ErrAlgNone) {
		w.add(FindingForgeryAccepted.New(n, host, "the token in %s is unsigned (alg %q): anyone can mint one", c.where(), placeholderSafe(in.Token.Header.Alg)))
	}
	var other []string
	for _, f := range in.Warnings {
		if code := f.Reason.Code; !ownFindingCodes[code] && !slices.Contains(other, code) {
			other = append(other, code)
		}
	}
	if len(other) > 0 {
		w.add(FindingRiskyToken.New(n, host, "the token in %s: %s", c.where(), strings.Join(other, ", ")))
	}
}

// relayFinding notes a handoff minted by a receiver rather than the
// issuer (SSO107): its iss is a receiver of the chain file, or, with no
// chain file, an origin the walk already handed a token to. That is relay
// mode: each receiver holds a signing key.
func (w *walker) relayFinding(n int, host string, cl *token.Claims, rcv *Receiver) {
	u, err := url.Parse(cl.Issuer)
	if err != nil || u.Host == "" {
		return
	}
	by := ""
	if role, r := w.b.roles.of(u); role == roleReceiver {
		by = r.Name
	} else if role == roleNone {
		iss := originOf(u)
		for _, h := range w.b.handoffs {
			if h.walk == w.b.walks && h.step < n && h.origin == iss {
				by = u.Host
				break
			}
		}
	}
	if by == "" {
		return
	}
	to := host
	if rcv != nil {
		to = rcv.Name
	}
	if st := w.t.Steps[n-1].Token; st != nil {
		st.MintedBy = by
	}
	w.add(FindingRelayMint.New(n, host, "%s minted the handoff for %s itself (iss %s), so it holds a key that the other receivers accept",
		placeholderSafe(by), placeholderSafe(to), placeholderSafe(cl.Issuer)))
}

// broader reports whether a cookie Domain d reaches more hosts than than:
// than is a host under d.
func broader(d, than string) bool { return d != than && domainMatch(than, d) }

// cookieFindings checks one Set-Cookie of a response from u, set by an
// origin in role: where it reaches (SSO201) and its flags (SSO202).
// Deletions are left alone: they clear a cookie, whatever its flags.
func (w *walker) cookieFindings(n int, u *url.URL, r originRole, c CookieInfo) {
	if c.Deleted && c.Rejected == "" {
		return
	}
	host := c.Host
	switch {
	case c.Rejected == "":
	case strings.HasPrefix(c.Rejected, "Domain="):
		w.add(FindingCookieDomain.New(n, host, "%s from %s is refused by browsers: %s", c.Name, host, c.Rejected))
		return
	case strings.HasPrefix(c.Rejected, "malformed"), strings.Contains(c.Rejected, "bytes"), strings.Contains(c.Rejected, "Strict Secure Cookies"),
		strings.HasPrefix(c.Rejected, "a cookie without a name"):
		w.add(FindingCookieMissing.New(n, host, "%s from %s is never stored: %s", c.Name, host, c.Rejected))
		return
	default:
		w.add(FindingCookieFlags.New(n, host, "%s from %s is refused by browsers: %s", c.Name, host, c.Rejected))
		return
	}
	if c.Deleted {
		return
	}
	if d := c.Domain; d != "" {
		w.cookieDomainFinding(n, r, c)
	}
	sessionCookie := sessionLike(c.Name)
	if w.b.chain != nil && (r == roleIssuer || r == roleReceiver) {
		sessionCookie = true
	}
	if !sessionCookie {
		return
	}
	var lacks []string
	if u.Scheme == "https" && !c.Secure {
		lacks = append(lacks, "Secure")
	}
	if !c.HttpOnly {
		lacks = append(lacks, "HttpOnly (scripts can read it)")
	}
	switch c.SameSite {
	case "":
		lacks = append(lacks, "SameSite (browsers differ on the default)")
	case "None":
		lacks = append(lacks, "SameSite=Lax or Strict (None sends it with every other site's requests)")
	}
	if len(lacks) > 0 {
		w.add(FindingCookieFlags.New(n, host, "%s set by %s lacks %s", c.Name, host, strings.Join(lacks, ", ")))
	}
	if c.SameSite == "Strict" && w.b.chain != nil && (r == roleIssuer || r == roleIdP) {
		// The walk starts at the issuer as if typed, so it never meets
		// what a person following a receiver's "sign in" link does.
		w.add(FindingCookieWithheld.New(n, host,
			"%s set by %s is SameSite=Strict: a sign-in that starts from a link on a receiver's site (another site) does not send it, so a person already signed in there is asked to sign in again",
			c.Name, host))
	}
}

// withheldFindings reports a session cookie that a navigation of the walk
// did not send for its SameSite attribute (SSO204). A top-level GET keeps
// back Strict cookies only. A cross-site POST (a form_post) keeps back Lax
// ones too, by design, so only a Strict one counts there: the page the
// POST redirects to is a cross-site GET as well.
func (w *walker) withheldFindings(n int, r *request, role originRole, withheld []WithheldCookie) {
	for _, c := range withheld {
		session := sessionLike(c.Name) || w.b.chain != nil && (role == roleIssuer || role == roleReceiver)
		if !session || c.SameSite != "Strict" || w.seen["withheld\x00"+c.Host+"\x00"+c.Name] {
			continue
		}
		w.seen["withheld\x00"+c.Host+"\x00"+c.Name] = true // once per cookie: a loop repeats it
		w.add(FindingCookieWithheld.New(n, cookieHost(r.url), "%s was not sent to %s: %s, so %s sees no session here",
			c.Name, originOf(r.url), c.Reason, cookieHost(r.url)))
	}
}

// cookieDomainFinding judges a stored cookie's Domain attribute.
func (w *walker) cookieDomainFinding(n int, r originRole, c CookieInfo) {
	d, host := c.Domain, c.Host
	if ps, _ := publicsuffix.PublicSuffix(d); ps == d {
		w.add(FindingCookieDomain.New(n, host, "%s has Domain=%s, a public suffix (stored host-only only because the host is that suffix)", c.Name, d))
		return
	}
	ch := w.b.chain
	switch {
	case ch != nil && r == roleReceiver:
		w.add(FindingCookieDomain.New(n, host, "%s has Domain=%s: it reaches every host under %s, and a receiver sits on its own root domain with no sibling to share it with",
			c.Name, d, d))
	case ch != nil && (r == roleIssuer || r == roleIdP):
		issuerHost := ""
		if u, err := url.Parse(ch.Issuer.URL); err == nil {
			issuerHost = cookieHost(u)
		}
		allowed, field := ch.Issuer.Cookie.Domain, "issuer.cookie.domain"
		if r == roleIdP {
			allowed, field = ch.IdP.CookieDomain, "idp.cookie_domain"
		}
		switch reg := registrableDomain(issuerHost); {
		case issuerHost != "" && broader(d, reg):
			w.add(FindingCookieDomain.New(n, host, "%s has Domain=%s, wider than the issuer's registrable domain %s", c.Name, d, reg))
		case allowed != "" && broader(d, allowed):
			w.add(FindingCookieDomain.New(n, host, "%s has Domain=%s, wider than %s (%s): it reaches hosts outside the chain", c.Name, d, field, allowed))
		case allowed == "" && r == roleIssuer:
			f := FindingCookieDomain.New(n, host, "%s has Domain=%s while %s is unset (host-only): it reaches every host under %s", c.Name, d, field, d)
			f.Severity = SeverityWarning
			w.add(f)
		}
	case d == registrableDomain(host):
		f := FindingCookieDomain.New(n, host, "%s has Domain=%s: it reaches every host under the registrable domain %s", c.Name, d, d)
		f.Severity = SeverityWarning
		w.add(f)
	}
}
