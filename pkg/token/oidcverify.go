package token

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// ErrProviderUnavailable marks an OpenID provider whose discovery document
// could not be fetched or read. Like ErrKeysUnavailable it is no verdict on
// a token: callers map it to "dependency unreachable".
var ErrProviderUnavailable = errors.New("OpenID provider unavailable")

// ErrProviderIssuerMismatch marks a discovery document whose issuer is not
// the URL it was fetched for (OpenID Connect Discovery 1.0 §4.3): the
// caller named the provider wrongly, often by a trailing slash.
var ErrProviderIssuerMismatch = errors.New("the provider's discovery document names another issuer")

// OIDCProvider is an OpenID provider found by discovery, with its JWK Set
// behind go-oidc's remote key set: keys are fetched on first use, cached
// for the life of the OIDCProvider, and refetched when a token names a key
// the cache lacks. Keep one per provider to keep the cache. It is safe for
// concurrent use.
type OIDCProvider struct {
	issuer     string
	jwksURL    string
	algorithms []string // what the provider advertises and go-oidc verifies
	keys       *oidc.RemoteKeySet
}

// DiscoverOIDC fetches issuer/.well-known/openid-configuration with client
// (OpenID Connect Discovery 1.0 §4) and checks that the document names
// issuer exactly. The issuer and its jwks_uri must be https, except on
// loopback and *.localhost hosts. Errors wrap ErrProviderUnavailable when
// the document cannot be fetched or read, ErrProviderIssuerMismatch when
// it names another issuer.
func DiscoverOIDC(ctx context.Context, issuer string, client *http.Client) (*OIDCProvider, error) {
	if err := checkProviderURL("issuer", issuer); err != nil {
		return nil, err
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	ctx = oidc.ClientContext(ctx, client)
	p, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		var mismatch *oidc.IssuerMismatchError
		if errors.As(err, &mismatch) {
			return nil, fmt.Errorf("%w: fetched for %q, it names %q", ErrProviderIssuerMismatch, mismatch.Provided, mismatch.Discovered)
		}
		return nil, fmt.Errorf("%w: discovery at %s: %v", ErrProviderUnavailable, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", err)
	}
	var meta struct {
		JWKSURL    string   `json:"jwks_uri"`
		Algorithms []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, fmt.Errorf("%w: discovery document: %v", ErrProviderUnavailable, err)
	}
	if meta.JWKSURL == "" {
		return nil, fmt.Errorf("%w: the discovery document has no jwks_uri", ErrProviderUnavailable)
	}
	if err := checkProviderURL("jwks_uri", meta.JWKSURL); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProviderUnavailable, err)
	}
	// go-oidc verifies only asymmetric algorithms; HS256 ID tokens are
	// signed with the client secret, alg none with nothing. Advertising
	// them does not make them verifiable here.
	var algs []string
	for _, a := range meta.Algorithms {
		if oidcAlgorithms[a] {
			algs = append(algs, a)
		}
	}
	if len(algs) == 0 {
		algs = []string{oidc.RS256} // OIDC Discovery §3: RS256 is the default
	}
	return &OIDCProvider{
		issuer:     issuer,
		jwksURL:    meta.JWKSURL,
		algorithms: algs,
		// The key set's context carries the client for every later fetch.
		keys: oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), client), meta.JWKSURL),
	}, nil
}

// oidcAlgorithms are the algorithms go-oidc verifies with a provider's
// published keys.
var oidcAlgorithms = map[string]bool{
	oidc.RS256: true, oidc.RS384: true, oidc.RS512: true,
	oidc.ES256: true, oidc.ES384: true, oidc.ES512: true,
	oidc.PS256: true, oidc.PS384: true, oidc.PS512: true,
	oidc.EdDSA: true,
}

func checkProviderURL(what, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%s %q is not an absolute URL", what, raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if IsLoopbackHost(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%s %q is plain http; an OpenID provider must be https (http is allowed only for loopback and *.localhost)", what, raw)
	}
	return fmt.Errorf("%s %q must be https", what, raw)
}

// Issuer is the provider's issuer identifier, as ID tokens must carry it.
func (p *OIDCProvider) Issuer() string { return p.issuer }

// JWKSURL is where the provider publishes its keys.
func (p *OIDCProvider) JWKSURL() string { return p.jwksURL }

// Algorithms are the signing algorithms accepted for this provider's
// tokens: those it advertises that can be verified with published keys.
func (p *OIDCProvider) Algorithms() []string { return slices.Clone(p.algorithms) }

// OIDCConfig is what an ID token or JWT access token is checked against.
type OIDCConfig struct {
	// Audience is the client id (for an ID token) or the resource server's
	// identifier (for an access token) that aud must contain. Required.
	Audience string
	// AccessToken verifies a JWT access token (RFC 9068) instead of an ID
	// token: typ at+jwt, client_id and jti required; nonce and azp are not
	// looked at.
	AccessToken bool
	// Nonce, when set, must equal the token's nonce (OIDC Core §3.1.3.7).
	Nonce string
	// MaxAge, when set, requires auth_time no longer ago than this
	// (the max_age request parameter, OIDC Core §3.1.2.1).
	MaxAge time.Duration
	// Leeway allows for clock skew on exp, iat, nbf and auth_time.
	Leeway time.Duration
	// MaxLifetime, when set, refuses tokens whose exp - iat is longer.
	MaxLifetime time.Duration
	// Now is the clock; time.Now when nil. The primary use-case for this
	// is testing.
	Now func() time.Time
}

// OIDCVerifier checks ID tokens or JWT access tokens from one provider.
type OIDCVerifier struct {
	p   *OIDCProvider
	cfg OIDCConfig
}

// Verifier returns a verifier for tokens from p for cfg.Audience.
func (p *OIDCProvider) Verifier(cfg OIDCConfig) (*OIDCVerifier, error) {
	if cfg.Audience == "" {
		return nil, errors.New("the expected audience (the client id) is required")
	}
	if cfg.AccessToken && cfg.Nonce != "" {
		return nil, errors.New("a nonce belongs to ID tokens; access tokens carry none")
	}
	if cfg.Leeway < 0 || cfg.MaxAge < 0 || cfg.MaxLifetime < 0 {
		return nil, errors.New("leeway, max age and max lifetime must not be negative")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &OIDCVerifier{p: p, cfg: cfg}, nil
}

// Verify checks raw and returns it decoded with its OIDC claims. The
// signature, the algorithm (one the provider advertises; never none, never
// HMAC) and the keys are go-oidc's: it fetches and caches the provider's
// JWK Set and runs its own iss, aud and exp checks, and a token it refuses
// is never accepted here. Its checks stop at the first failure and know no
// leeway, so the claims are also checked here, every failure listed: iss
// equal to the provider's issuer; aud containing the audience; exp, iat and
// nbf with leeway; sub; azp, when present, equal to the client id; nonce
// and auth_time when configured; typ JWT or absent for an ID token, at+jwt
// plus client_id and jti for an access token. On failure the error is an
// *InvalidError; the Token is returned whenever raw could be decoded. An
// error wrapping ErrKeysUnavailable means the JWK Set could not be fetched
// and there is no verdict.
func (v *OIDCVerifier) Verify(ctx context.Context, raw string) (*Token, *OIDCClaims, error) {
	t, fs := parse(raw, true)
	if t == nil {
		return nil, nil, fs.err()
	}
	fs = slices.DeleteFunc(fs, func(f *Failure) bool { return f.Reason == ErrTooLarge })
	kind := KindIDToken
	if v.cfg.AccessToken {
		kind = KindAccessToken
	}
	o, claimFailures := decodeOIDCClaims(&t.Claims)
	fs = append(fs, claimFailures...)
	checkOIDCHeader(&t.Header, kind, &fs, false)
	now := v.cfg.Now()
	var goClaim *Failure
	switch {
	case isAlgNone(t.Header.Alg):
		// Reported above; there is no signature to check.
	case !slices.Contains(v.p.algorithms, t.Header.Alg):
		detail := fmt.Sprintf("alg is %q; the provider's tokens are signed with %s", t.Header.Alg, strings.Join(v.p.algorithms, ", "))
		if strings.HasPrefix(strings.ToUpper(t.Header.Alg), "HS") {
			detail += " (an HMAC token is signed with the client secret, not a published key)"
		}
		fs.add(ErrAlgNotAllowed, detail)
	default:
		sig, claim, err := v.goOIDC(ctx, raw, now)
		if err != nil {
			return t, &o, err
		}
		fs = append(fs, sig...)
		goClaim = claim
	}
	oidcPolicy{
		kind: kind, now: now, leeway: v.cfg.Leeway, maxLifetime: v.cfg.MaxLifetime,
		issuer: v.p.issuer, audience: v.cfg.Audience, nonce: v.cfg.Nonce, maxAge: v.cfg.MaxAge,
	}.check(&t.Claims, &o, &fs)
	// go-oidc's claim failure counts too, unless the checks here found it.
	if goClaim != nil && !slices.ContainsFunc(fs, func(f *Failure) bool { return f.Reason == goClaim.Reason }) {
		fs = append(fs, goClaim)
	}
	return t, &o, fs.err()
}

// goOIDC runs go-oidc's verification of raw: signature with the provider's
// keys, then iss, aud and exp, stopping at the first failure. It returns
// the signature failures and the claim failure apart, since the claims are
// also checked, more fully, by oidcPolicy.
func (v *OIDCVerifier) goOIDC(ctx context.Context, raw string, now time.Time) (sig []*Failure, claim *Failure, err error) {
	keys := &keySetProbe{inner: v.p.keys}
	verifier := oidc.NewVerifier(v.p.issuer, keys, &oidc.Config{
		ClientID:             v.cfg.Audience,
		SupportedSigningAlgs: v.p.algorithms,
		// go-oidc calls a token expired when exp is before now; shifting
		// its clock back by the leeway makes it agree with the check here.
		Now: func() time.Time { return now.Add(-v.cfg.Leeway) },
	})
	_, verr := verifier.Verify(ctx, raw)
	if verr == nil {
		return nil, nil, nil
	}
	var expired *oidc.TokenExpiredError
	switch {
	case keys.fetchErr != nil:
		return nil, nil, fmt.Errorf("%w: fetching %s: %v", ErrKeysUnavailable, v.p.jwksURL, keys.fetchErr)
	case keys.verifyErr != nil:
		return []*Failure{{Reason: ErrSignatureInvalid, Detail: fmt.Sprintf("no key in the provider's JWK Set verifies it (kid %q): a key the set lacks, or an altered token", t0Kid(raw))}}, nil, nil
	case !keys.verified:
		// go-jose refused the JWS before any key was tried.
		return []*Failure{{Reason: ErrMalformed, Detail: verr.Error()}}, nil, nil
	case errors.As(verr, &expired):
		return nil, &Failure{Reason: ErrExpired, Detail: verr.Error()}, nil
	case strings.Contains(verr.Error(), "different provider"):
		return nil, &Failure{Reason: ErrIssuerMismatch, Detail: verr.Error()}, nil
	case strings.Contains(verr.Error(), "expected audience"):
		return nil, &Failure{Reason: ErrAudienceMismatch, Detail: verr.Error()}, nil
	}
	return nil, &Failure{Reason: ErrClaimInvalid, Detail: verr.Error()}, nil
}

// t0Kid is the kid of raw, for messages; "" when there is none.
func t0Kid(raw string) string {
	t, _ := parse(raw, true)
	if t == nil {
		return ""
	}
	return t.Header.Kid
}

// keySetProbe passes signature checks through to go-oidc's remote key set
// and remembers how they went, so a JWK Set that cannot be fetched (no
// verdict, exit 3) is told apart from a signature no key verifies.
type keySetProbe struct {
	inner *oidc.RemoteKeySet

	mu        sync.Mutex
	verified  bool
	verifyErr error
	fetchErr  error
}

func (k *keySetProbe) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := k.inner.VerifySignature(ctx, jwt)
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case err == nil:
		k.verified = true
	// go-oidc (v3.21) prefixes a failed fetch of the key set so; the
	// provider-down tests pin it.
	case strings.HasPrefix(err.Error(), "fetching keys"):
		k.fetchErr = err
	default:
		k.verifyErr = err
	}
	return payload, err
}

func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
