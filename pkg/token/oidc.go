package token

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Kind is what sort of JWT a token looks like from its header and claims.
// It is a guess for people debugging a chain, never a verdict: anyone can
// write a token that looks like anything.
type Kind string

// The kinds KindOf tells apart.
const (
	KindHandoff     Kind = "handoff"      // typ sso-handoff+jwt, or nothing that says otherwise
	KindLogout      Kind = "logout_token" // typ logout+jwt
	KindIDToken     Kind = "id_token"     // OpenID Connect Core 1.0 §2
	KindAccessToken Kind = "access_token" // RFC 9068 JWT access token
)

// String says the kind in words.
func (k Kind) String() string {
	switch k {
	case KindLogout:
		return "logout token"
	case KindIDToken:
		return "ID token"
	case KindAccessToken:
		return "JWT access token"
	}
	return "handoff token"
}

// AccessTokenType is the explicit type of a JWT access token (RFC 9068 §2.1).
const AccessTokenType = "at+jwt"

// Reasons that apply to ID tokens and JWT access tokens only. They are
// documented in docs/oidc-tokens.md.
var (
	ErrSubMissing      = newReason("sub_missing", "no sub claim; an ID token or access token names its subject")
	ErrClientIDMissing = newReason("client_id_missing", "no client_id claim; a JWT access token names the client it was issued to (RFC 9068 §2.2)")
	ErrAzpMissing      = newReason("azp_missing", "aud names several audiences and there is no azp to say which one the token was issued to")
	ErrAzpMismatch     = newReason("azp_mismatch", "azp names another client; the ID token was issued to someone else")
	ErrNonceMissing    = newReason("nonce_missing", "a nonce was expected and the ID token carries none")
	ErrNonceMismatch   = newReason("nonce_mismatch", "nonce differs from the one sent in the authentication request")
	ErrAuthTimeMissing = newReason("auth_time_missing", "a maximum authentication age was asked for and the ID token has no auth_time")
	ErrAuthTimeTooOld  = newReason("auth_time_too_old", "the user authenticated longer ago than the maximum age allows")
)

// LongOIDCLifetime is the lifetime over which Inspect warns about an ID
// token or access token: they usually live minutes to an hour, and one that
// lives for a day or more is a bearer credential that outlasts most sessions.
const LongOIDCLifetime = 24 * time.Hour

// OIDCClaims are the claims of an ID token (OIDC Core §2, §5.1) and a JWT
// access token (RFC 9068 §2.2) beyond those Claims holds. Zero values mean
// absent.
type OIDCClaims struct {
	AuthorizedParty string      `json:"azp,omitempty"`
	Nonce           string      `json:"nonce,omitempty"`
	AuthTime        NumericDate `json:"auth_time,omitzero"`
	ACR             string      `json:"acr,omitempty"`
	AMR             []string    `json:"amr,omitempty"`
	Email           string      `json:"email,omitempty"`
	EmailVerified   *bool       `json:"email_verified,omitempty"`
	ClientID        string      `json:"client_id,omitempty"`
	// Scope is RFC 9068's space-separated scope string, or the scp array
	// some providers (Ory Hydra, Okta) send instead, joined with spaces.
	Scope string `json:"-"`
}

// oidcClaimNames are the members decodeOIDCClaims reads from Claims.Extra.
var oidcClaimNames = []string{"azp", "nonce", "auth_time", "acr", "amr", "email", "email_verified", "client_id", "scope", "scp"}

// decodeOIDCClaims reads the OIDC members from c.Extra one by one, so a
// mistyped one is named as claim_invalid and the others are still read.
func decodeOIDCClaims(c *Claims) (OIDCClaims, []*Failure) {
	var o OIDCClaims
	var fs []*Failure
	for _, name := range oidcClaimNames {
		raw, ok := c.Extra[name]
		if !ok {
			continue
		}
		var err error
		switch name {
		case "scope":
			err = json.Unmarshal(raw, &o.Scope)
		case "scp":
			var scp []string
			if err = json.Unmarshal(raw, &scp); err == nil && o.Scope == "" {
				o.Scope = strings.Join(scp, " ")
			}
		default:
			obj, _ := json.Marshal(map[string]jsontext.Value{name: raw})
			err = json.Unmarshal(obj, &o)
		}
		if err != nil {
			fs = append(fs, &Failure{Reason: ErrClaimInvalid, Detail: fmt.Sprintf("claim %q: %s", name, claimDetail(err)), claim: name})
		}
	}
	return o, fs
}

// KindOf says what sort of token t looks like, and why. Explicit types
// decide first (sso-handoff+jwt, logout+jwt, at+jwt). A token typed JWT or
// untyped is an ID token when it carries nonce, auth_time or azp (claims
// only ID tokens have), an access token when it carries client_id or scope
// (RFC 9068 §2.2), and an ID token when it is typed JWT and names iss, sub
// and aud. Anything else is judged as a handoff, as Inspect always has.
func KindOf(t *Token) (Kind, string) {
	typ := t.Header.Typ
	switch {
	case typeMatches(typ, Type):
		return KindHandoff, fmt.Sprintf("typ %s", Type)
	case typeMatches(typ, LogoutType):
		return KindLogout, fmt.Sprintf("typ %s", LogoutType)
	case typeMatches(typ, AccessTokenType):
		return KindAccessToken, fmt.Sprintf("typ %s (RFC 9068)", AccessTokenType)
	case typ != "" && !typeMatches(typ, "JWT"):
		return KindHandoff, ""
	}
	c := &t.Claims
	typed := "no typ"
	if typ != "" {
		typed = "typ JWT"
	}
	if has := presentClaims(c, "nonce", "auth_time", "azp"); len(has) > 0 {
		return KindIDToken, fmt.Sprintf("%s with %s", typed, strings.Join(has, ", "))
	}
	if has := presentClaims(c, "client_id", "scope", "scp"); len(has) > 0 {
		return KindAccessToken, fmt.Sprintf("%s with %s", typed, strings.Join(has, ", "))
	}
	if typ != "" && c.Issuer != "" && c.Subject != "" && len(c.Audience) > 0 {
		return KindIDToken, "typ JWT with iss, sub and aud"
	}
	return KindHandoff, ""
}

func presentClaims(c *Claims, names ...string) []string {
	var has []string
	for _, n := range names {
		if _, ok := c.Extra[n]; ok {
			has = append(has, n)
		}
	}
	return has
}

// OIDCInspection is what InspectOIDC saw in an ID token or JWT access
// token, without any key. Nothing in it is verified.
type OIDCInspection struct {
	Token    *Token
	Kind     Kind   // KindIDToken or KindAccessToken
	Why      string // what made it look like one, e.g. "typ at+jwt (RFC 9068)"
	OIDC     OIDCClaims
	Warnings []*Failure
}

// InspectOIDC decodes raw without a key as an ID token or JWT access token
// (kind, or KindOf's guess when kind is empty) and lists what is risky
// about it: alg none, key-bearing headers, crit, a typ that belongs to
// another kind of token, missing iss/sub/aud/exp/iat (and client_id for an
// access token), several audiences without azp (OIDC Core §2), a lifetime
// of LongOIDCLifetime or more, and whether it is expired or not yet valid
// at now. Oversized tokens are no warning: ID tokens are not bound by the
// handoff's 8 KiB. A token that cannot be decoded is an *InvalidError.
func InspectOIDC(raw string, now time.Time, kind Kind) (*OIDCInspection, error) {
	t, fs := parse(raw, true)
	if t == nil {
		return nil, fs.err()
	}
	fs = slices.DeleteFunc(fs, func(f *Failure) bool { return f.Reason == ErrTooLarge })
	guess, why := KindOf(t)
	switch {
	case kind == "":
		kind = guess
	case kind != guess:
		why = "as asked"
	}
	if kind != KindIDToken && kind != KindAccessToken {
		return nil, fmt.Errorf("the token looks like a %s, not an ID token or access token", kind)
	}
	o, claimFailures := decodeOIDCClaims(&t.Claims)
	fs = append(fs, claimFailures...)
	checkOIDCHeader(&t.Header, kind, &fs, true)
	p := oidcPolicy{kind: kind, now: now, maxLifetime: LongOIDCLifetime, warnAzp: true}
	p.check(&t.Claims, &o, &fs)
	return &OIDCInspection{Token: t, Kind: kind, Why: why, OIDC: o, Warnings: fs}, nil
}

// checkOIDCHeader runs the header checks that need no key. The typ of an ID
// token is JWT or absent; a JWT access token must say at+jwt (RFC 9068 §4),
// so neither is taken for the other. Key-bearing headers are reported only
// when inspecting: a verifier takes keys from the provider's JWKS alone
// and never looks at them.
func checkOIDCHeader(h *Header, kind Kind, fs *failures, inspecting bool) {
	if isAlgNone(h.Alg) {
		fs.add(ErrAlgNone, fmt.Sprintf("alg is %q: the token claims to need no signature", h.Alg))
	}
	if inspecting {
		if bad := presentHeaders(h); len(bad) > 0 {
			fs.add(ErrHeaderNotAllowed, fmt.Sprintf("header has %s; a verifier must take keys only from the provider's JWKS", strings.Join(bad, ", ")))
		}
		if h.Crit != nil {
			fs.add(ErrCritUnsupported, fmt.Sprintf("crit is %s; a verifier that does not implement the extensions must refuse the token (RFC 7515 §4.1.11)", string(h.Crit)))
		}
	}
	switch kind {
	case KindAccessToken:
		switch {
		case h.Typ == "":
			fs.add(ErrTypMissing, fmt.Sprintf("no typ header; a JWT access token carries typ %q (RFC 9068 §2.1)", AccessTokenType))
		case !typeMatches(h.Typ, AccessTokenType):
			fs.add(ErrTypMismatch, fmt.Sprintf("typ is %q, want %q (RFC 9068 §4): this is some other kind of JWT", h.Typ, AccessTokenType))
		}
	default:
		if h.Typ != "" && !typeMatches(h.Typ, "JWT") {
			fs.add(ErrTypMismatch, fmt.Sprintf("typ is %q; an ID token is typed JWT or not at all: this is some other kind of JWT", h.Typ))
		}
	}
	if h.Kid != "" {
		if err := checkKeyID(h.Kid); err != nil {
			fs.add(ErrKidInvalid, err.Error())
		}
	}
}

// oidcPolicy is what the claims of an ID token or access token are checked
// against. Empty fields skip their check (InspectOIDC knows no provider).
type oidcPolicy struct {
	kind        Kind
	now         time.Time
	leeway      time.Duration
	maxLifetime time.Duration // 0: no limit
	issuer      string
	audience    string
	nonce       string
	maxAge      time.Duration // 0: auth_time not checked
	warnAzp     bool          // several audiences without azp: a warning when inspecting
}

func (p oidcPolicy) check(c *Claims, o *OIDCClaims, fs *failures) {
	invalid := map[string]bool{}
	for _, f := range *fs {
		if f.claim != "" {
			invalid[f.claim] = true
		}
	}
	missing := func(name string, r *Reason, detail string) {
		if !invalid[name] {
			fs.add(r, detail)
		}
	}
	what := p.kind.String()
	now, leeway := p.now, p.leeway
	checkTimes(c, timePolicy{
		now: now, leeway: leeway, maxLifetime: p.maxLifetime,
		noun: what, iatMissing: "no iat claim",
		clock: "provider",
	}, missing, fs)
	switch {
	case c.Issuer == "":
		missing("iss", ErrIssMissing, "no iss claim")
	case p.issuer != "" && c.Issuer != p.issuer:
		fs.add(ErrIssuerMismatch, fmt.Sprintf("iss is %q, want %q", c.Issuer, p.issuer))
	}
	if c.Subject == "" {
		missing("sub", ErrSubMissing, "no sub claim")
	}
	switch {
	case len(c.Audience) == 0:
		missing("aud", ErrAudMissing, fmt.Sprintf("no aud claim; every %s names its audience", what))
	case p.audience != "" && !slices.Contains(c.Audience, p.audience):
		fs.add(ErrAudienceMismatch, fmt.Sprintf("aud is %q, want it to contain %q: the token was issued for someone else", []string(c.Audience), p.audience))
	}
	if p.kind == KindIDToken {
		switch {
		case p.warnAzp && len(c.Audience) > 1 && o.AuthorizedParty == "":
			missing("azp", ErrAzpMissing, fmt.Sprintf("aud names %d audiences %q and there is no azp (OIDC Core §2)", len(c.Audience), []string(c.Audience)))
		case p.audience != "" && o.AuthorizedParty != "" && o.AuthorizedParty != p.audience:
			fs.add(ErrAzpMismatch, fmt.Sprintf("azp is %q, want %q (OIDC Core §2)", o.AuthorizedParty, p.audience))
		}
	}
	if p.kind == KindAccessToken {
		if o.ClientID == "" {
			missing("client_id", ErrClientIDMissing, "no client_id claim (RFC 9068 §2.2)")
		}
		if c.ID == "" {
			missing("jti", ErrJtiMissing, "no jti claim (RFC 9068 §2.2)")
		}
	}
	if p.nonce != "" {
		switch {
		case o.Nonce == "":
			missing("nonce", ErrNonceMissing, "the ID token has no nonce claim; a nonce was sent, so one must come back (OIDC Core §3.1.3.7)")
		case !constantTimeEqual(o.Nonce, p.nonce):
			// Neither value is shown: the nonce binds the token to one
			// browser session.
			fs.add(ErrNonceMismatch, fmt.Sprintf("nonce (%d characters) differs from the expected one (%d characters)", len(o.Nonce), len(p.nonce)))
		}
	}
	if p.maxAge > 0 {
		switch {
		case o.AuthTime.IsZero():
			missing("auth_time", ErrAuthTimeMissing, "no auth_time claim; with max_age the provider must send one (OIDC Core §3.1.2.1)")
		case now.Sub(o.AuthTime.Time) > p.maxAge+leeway:
			fs.add(ErrAuthTimeTooOld, fmt.Sprintf("authenticated %s ago at %s; at most %s is allowed (leeway %s)", roundAgo(now.Sub(o.AuthTime.Time)), o.AuthTime.UTC().Format(time.RFC3339), p.maxAge, leeway))
		}
	}
}
