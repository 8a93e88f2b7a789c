package token

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Defaults of the handoff profile (DESIGN §4).
const (
	DefaultLeeway      = 5 * time.Second
	DefaultMaxLifetime = 30 * time.Second
	DefaultTTL         = 30 * time.Second
)

// ReplayStore enforces single use of a jti. Receivers keep one; pkg/serve
// provides bounded in-memory and Redis implementations.
type ReplayStore interface {
	// Consume records jti as used until the given time, when the token can
	// no longer verify anyway and the record may be dropped. It reports
	// false, with no error, when jti was already used.
	Consume(ctx context.Context, jti string, until time.Time) (fresh bool, err error)
}

// IssuedReplayStore is a ReplayStore that can lose its records (a Redis
// restarted without persistence) and so weighs when a token was issued:
// ConsumeIssued fails, with an error, for a token issued before the store
// last lost its records, whose jti may have been consumed and forgotten.
// The Verifier passes the token's iat less its leeway.
type IssuedReplayStore interface {
	ReplayStore
	ConsumeIssued(ctx context.Context, jti string, issued, until time.Time) (fresh bool, err error)
}

// Verifier runs every check of the handoff profile. It is safe for
// concurrent use; a receiver builds one and keeps it.
type Verifier struct {
	keys        KeySource
	issuer      string
	alsoIssuers []string // WithIssuers
	audience    string
	leeway      time.Duration
	maxLifetime time.Duration
	now         func() time.Time
	replay      ReplayStore
	checkReturn func(string) error
	// typ is the explicit type the header must carry: Type for handoffs,
	// LogoutType for logout tokens, so neither is ever taken for the other.
	typ string
	// logout adds the checks of OIDC Back-Channel Logout 1.0 §2.6: the
	// events member present, nonce absent.
	logout bool
}

// VerifyOption configures a Verifier.
type VerifyOption func(*Verifier)

// WithLeeway allows for clock skew between minter and verifier when checking
// exp, nbf and iat. The default is DefaultLeeway.
func WithLeeway(d time.Duration) VerifyOption { return func(v *Verifier) { v.leeway = d } }

// WithMaxLifetime refuses tokens whose exp - iat exceeds d, whatever the
// minter chose. The default is DefaultMaxLifetime.
func WithMaxLifetime(d time.Duration) VerifyOption {
	return func(v *Verifier) { v.maxLifetime = d }
}

// WithTimeFunc sets the clock. The primary use-case for this is testing.
func WithTimeFunc(now func() time.Time) VerifyOption { return func(v *Verifier) { v.now = now } }

// WithReplayStore makes Verify consume the jti of an otherwise valid token,
// refusing it with ErrReplayed when it was seen before. A token that fails
// any other check never touches the store, so a bad token changes nothing.
func WithReplayStore(s ReplayStore) VerifyOption { return func(v *Verifier) { v.replay = s } }

// WithReturnCheck adds a policy for the ret claim (the chain's return
// allowlist). check runs after ret passed CheckReturnURL; an error refuses
// the token with ErrReturnNotAllowed and the error's text as detail.
func WithReturnCheck(check func(ret string) error) VerifyOption {
	return func(v *Verifier) { v.checkReturn = check }
}

// WithIssuers also accepts tokens whose iss is one of more, besides the
// issuer given to NewVerifier. A relay receiver (DESIGN §5) takes handoffs
// from the issuer and from the receiver before it. Every name added is a
// party that holds a signing key; the issuer check says who minted a token,
// it does not stop a key holder from claiming another's name.
func WithIssuers(more ...string) VerifyOption {
	return func(v *Verifier) { v.alsoIssuers = append(v.alsoIssuers, more...) }
}

// NewVerifier returns a Verifier for tokens minted by issuer for audience.
// Both are required: a verifier that does not know whom it is for accepts
// tokens meant for someone else (RFC 8725 §3.9).
func NewVerifier(keys KeySource, issuer, audience string, opts ...VerifyOption) (*Verifier, error) {
	if keys == nil {
		return nil, errors.New("no verification keys")
	}
	if issuer == "" {
		return nil, errors.New("expected issuer is required")
	}
	if audience == "" {
		return nil, errors.New("expected audience is required")
	}
	v := &Verifier{
		keys:        keys,
		issuer:      issuer,
		audience:    audience,
		leeway:      DefaultLeeway,
		maxLifetime: DefaultMaxLifetime,
		now:         time.Now,
		typ:         Type,
	}
	for _, o := range opts {
		o(v)
	}
	if v.leeway < 0 || v.maxLifetime <= 0 {
		return nil, errors.New("leeway must not be negative and max lifetime must be positive")
	}
	return v, nil
}

// forbiddenHeaders carry or point to key material, or mark a JWE; a handoff
// verifier takes keys only from its own configuration (RFC 8725 §3.10).
var forbiddenHeaders = []string{"jku", "jwk", "x5u", "x5c", "enc", "zip"}

// Verify checks raw against every rule of the profile and returns the token.
// On failure the error is an *InvalidError listing every failed check; the
// Token is returned too whenever raw could be decoded, so callers can show
// what it says. Errors wrapping ErrKeysUnavailable or
// ErrReplayStoreUnavailable mean the verdict could not be reached; the token
// must be refused (fail closed) but is not known to be bad.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Token, error) {
	t, fs := parse(raw, false)
	if t == nil {
		return nil, fs.err()
	}
	if err := v.checkHeader(ctx, t, &fs); err != nil {
		return t, err
	}
	v.checkClaims(t, &fs)
	if v.logout {
		checkLogoutClaims(&t.Claims, &fs)
	}
	if len(fs) == 0 && v.replay != nil {
		until := t.Claims.Expiry.Add(v.leeway)
		var fresh bool
		var err error
		if rs, ok := v.replay.(IssuedReplayStore); ok {
			fresh, err = rs.ConsumeIssued(ctx, t.Claims.ID, t.Claims.IssuedAt.Add(-v.leeway), until)
		} else {
			fresh, err = v.replay.Consume(ctx, t.Claims.ID, until)
		}
		if err != nil {
			return t, fmt.Errorf("%w: %w", ErrReplayStoreUnavailable, err)
		}
		if !fresh {
			fs.add(ErrReplayed, fmt.Sprintf("jti %q was already used", shortID(t.Claims.ID)))
		}
	}
	return t, fs.err()
}

// checkHeader runs the header and signature checks. It returns an error only
// when the key source is unavailable.
func (v *Verifier) checkHeader(ctx context.Context, t *Token, fs *failures) error {
	h := &t.Header
	if !checkHeaderShape(h, v.typ, fs) {
		return nil
	}
	key, err := v.keys.VerificationKey(ctx, h.Kid)
	if err != nil {
		var f *Failure
		if errors.As(err, &f) {
			*fs = append(*fs, f)
			return nil
		}
		if errors.Is(err, ErrKeysUnavailable) {
			return err
		}
		return fmt.Errorf("%w: %v", ErrKeysUnavailable, err)
	}
	if isAlgNone(h.Alg) {
		return nil
	}
	if Algorithm(h.Alg) != key.alg {
		fs.add(ErrAlgNotAllowed, fmt.Sprintf("alg is %q but key %q is pinned to %s", h.Alg, key.id, key.alg))
		return nil
	}
	if !key.verify(t.signingInput, t.Signature) {
		fs.add(ErrSignatureInvalid, fmt.Sprintf("signature does not verify with %s key %q", key.alg, key.id))
	}
	return nil
}

func isAlgNone(alg string) bool { return strings.EqualFold(alg, "none") }

// checkHeaderShape runs the header checks that need no key; want is the
// typ the token must carry. It reports whether the kid is safe to look up.
func checkHeaderShape(h *Header, want string, fs *failures) bool {
	if isAlgNone(h.Alg) {
		fs.add(ErrAlgNone, fmt.Sprintf("alg is %q: the token claims to need no signature", h.Alg))
	}
	if bad := presentHeaders(h); len(bad) > 0 {
		fs.add(ErrHeaderNotAllowed, fmt.Sprintf("header has %s; keys come only from the verifier's configuration", strings.Join(bad, ", ")))
	}
	if h.Crit != nil {
		fs.add(ErrCritUnsupported, fmt.Sprintf("crit is %s; no JWS extensions are implemented, so the token must be refused (RFC 7515 §4.1.11)", string(h.Crit)))
	}
	switch {
	case h.Typ == "":
		fs.add(ErrTypMissing, fmt.Sprintf("no typ header; a %s carries typ %q", typeName(want), want))
	case !typeMatches(h.Typ, want):
		fs.add(ErrTypMismatch, fmt.Sprintf("typ is %q, want %q: this is some other kind of JWT", h.Typ, want))
	}
	if h.Kid != "" {
		if err := checkKeyID(h.Kid); err != nil {
			fs.add(ErrKidInvalid, err.Error())
			return false
		}
	}
	return true
}

func presentHeaders(h *Header) []string {
	var bad []string
	for _, name := range forbiddenHeaders {
		if _, ok := h.Extra[name]; ok {
			bad = append(bad, name)
		}
	}
	return bad
}

// typeMatches compares typ with want as RFC 7515 §4.1.9 says:
// case-insensitively, with an optional "application/" prefix.
func typeMatches(typ, want string) bool {
	if len(typ) > len("application/") && strings.EqualFold(typ[:len("application/")], "application/") {
		typ = typ[len("application/"):]
	}
	return strings.EqualFold(typ, want)
}

// typeName says in words what kind of token typ is.
func typeName(typ string) string {
	if typ == LogoutType {
		return "logout token"
	}
	return "handoff"
}

// claimPolicy is what the claims are checked against. An empty issuer or
// audience skips the comparison (Inspect knows neither).
type claimPolicy struct {
	now         time.Time
	leeway      time.Duration
	maxLifetime time.Duration
	issuer      string
	alsoIssuers []string
	audience    string
	checkReturn func(string) error
}

func (v *Verifier) checkClaims(t *Token, fs *failures) {
	checkClaimSet(&t.Claims, claimPolicy{
		now: v.now(), leeway: v.leeway, maxLifetime: v.maxLifetime,
		issuer: v.issuer, alsoIssuers: v.alsoIssuers, audience: v.audience, checkReturn: v.checkReturn,
	}, fs)
}

func checkClaimSet(c *Claims, p claimPolicy, fs *failures) {
	var invalid []string
	for _, f := range *fs {
		if f.claim != "" {
			invalid = append(invalid, f.claim)
		}
	}
	// A mistyped claim was already reported; do not call it missing too.
	missing := func(name string, r *Reason, detail string) {
		for _, n := range invalid {
			if n == name {
				return
			}
		}
		fs.add(r, detail)
	}
	checkTimes(c, timePolicy{
		now: p.now, leeway: p.leeway, maxLifetime: p.maxLifetime,
		noun: "handoff", iatMissing: "no iat claim; the lifetime cannot be checked",
		clock: "minter",
	}, missing, fs)
	switch {
	case c.Issuer == "":
		missing("iss", ErrIssMissing, "no iss claim")
	case p.issuer != "" && c.Issuer != p.issuer && !slices.Contains(p.alsoIssuers, c.Issuer):
		want := fmt.Sprintf("%q", p.issuer)
		if len(p.alsoIssuers) > 0 {
			want = fmt.Sprintf("one of %q", append([]string{p.issuer}, p.alsoIssuers...))
		}
		fs.add(ErrIssuerMismatch, fmt.Sprintf("iss is %q, want %s", c.Issuer, want))
	}
	switch {
	case len(c.Audience) == 0:
		missing("aud", ErrAudMissing, "no aud claim; a handoff names exactly one receiver")
	case len(c.Audience) > 1:
		fs.add(ErrAudienceNotSingle, fmt.Sprintf("aud names %d audiences %q; a handoff names exactly one receiver", len(c.Audience), []string(c.Audience)))
	case p.audience != "" && c.Audience[0] != p.audience:
		fs.add(ErrAudienceMismatch, fmt.Sprintf("aud is %q, want %q: the token was minted for another receiver", c.Audience[0], p.audience))
	}
	switch {
	case c.ID == "":
		missing("jti", ErrJtiMissing, "no jti claim; replay cannot be detected")
	case len(c.ID) > 256:
		fs.add(ErrClaimInvalid, fmt.Sprintf("jti is %d characters; at most 256 are allowed", len(c.ID)))
	}
	if c.SessionID == "" {
		missing("sid", ErrSidMissing, "no sid claim; the IdP session cannot be re-checked")
	}
	// Identifiers travel on into IdP API paths, identity headers
	// (X-Auth-Subject) and log lines: no control characters, no essays.
	for _, id := range []struct{ name, value string }{
		{"jti", c.ID}, {"sid", c.SessionID}, {"sub", c.Subject}, {"chn", c.Chain},
	} {
		if i := controlIndex(id.value); i >= 0 {
			fs.add(ErrClaimInvalid, fmt.Sprintf("%s has the control character %q at byte %d", id.name, id.value[i], i))
		} else if len(id.value) > maxIdentifier && id.name != "jti" {
			fs.add(ErrClaimInvalid, fmt.Sprintf("%s is %d bytes; at most %d are allowed", id.name, len(id.value), maxIdentifier))
		}
	}
	if c.Return != "" {
		if err := CheckReturnURL(c.Return); err != nil {
			fs.add(ErrReturnInvalid, "ret "+err.Error())
		} else if p.checkReturn != nil {
			if err := p.checkReturn(c.Return); err != nil {
				fs.add(ErrReturnNotAllowed, fmt.Sprintf("ret %q: %v", c.Return, err))
			}
		}
	}
}

// maxIdentifier bounds sid, sub and chn; real ids are UUIDs or similar.
const maxIdentifier = 1024

// controlIndex returns the index of the first ASCII control byte (C0 or
// DEL) in s, or -1.
func controlIndex(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return i
		}
	}
	return -1
}

// FormatLifetime renders a token lifetime for people: Go duration syntax up
// to two days ("30s", "1h0m0s"), whole days beyond, since a handoff that
// lives for days is a finding and its exact nanoseconds are noise.
func FormatLifetime(d time.Duration) string {
	switch {
	case d == math.MaxInt64:
		return "over 292 years"
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int64(d/(24*time.Hour)))
	}
	return d.String()
}

// roundAgo renders a duration for people: whole seconds under an hour,
// whole minutes beyond.
func roundAgo(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	if d < time.Hour {
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

// shortID shows enough of a jti to match log lines without printing it all.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8] + "…"
	}
	return id
}
