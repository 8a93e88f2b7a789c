package serve

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve/store"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// OIDC is the IdentityProvider for any OpenID Connect provider (idp.kind
// oidc; DESIGN §7): the issuer is a relying party that logs the browser in
// with the authorization code flow (PKCE S256, state, nonce), verifies the
// ID token through discovery and the provider's JWKS (go-oidc), and keeps
// what it learnt as a session of its own, keyed by the provider's sid.
//
// The provider's session cookie never reaches the issuer, so Whoami knows
// nobody; Session answers from the sessions the issuer logged in, kept in
// its session store (oidc_store.go: this process's memory, or Redis shared
// by every issuer instance) and re-checked with the provider (refresh
// token, else userinfo) at most every recheck interval. A session the
// store no longer holds (it ended, or a memory store's process restarted)
// is ErrNoSession. A role in another process asks the issuer
// (oidc_sessions.go), or, with no way to ask, gets ErrNoAdminAPI, like a
// Kratos chain without admin_url: it trusts the signed handoff and learns
// no email or role.
//
// The memory store is bounded (OIDCOptions.MaxSessions): at the maximum a
// new login is refused with an error wrapping store.ErrFull rather than
// memory grown; Redis is bounded by its maxmemory.
type OIDC struct {
	issuer       string // the provider's issuer URL, exactly as configured
	clientID     string
	clientSecret string
	redirectURL  string
	scopes       []string
	http         *http.Client
	now          func() time.Time
	recheck      time.Duration

	mu       sync.Mutex
	provider *oidc.Provider // nil until discovery succeeds
	meta     oidcMetadata

	sessions oidcSessionStore // oidc_store.go
	// apart is set in a process without the issuer: the sessions are not
	// this process's to know, so an unknown one is ErrNoAdminAPI (or the
	// issuer's answer), not ErrNoSession.
	apart bool

	refresh singleflight.Group
	// issuerSessions asks the issuer about sessions this process did not
	// log in (a receiver on its own); nil in the issuer's process or when
	// the chain has no shared secret to authenticate with.
	issuerSessions *issuerSessionClient
}

var _ IdentityProvider = (*OIDC)(nil)

// oidcMetadata is what ssoctl reads from discovery beyond go-oidc's
// endpoints.
type oidcMetadata struct {
	EndSession          string   `json:"end_session_endpoint"`
	Revocation          string   `json:"revocation_endpoint"`
	BackchannelLogout   bool     `json:"backchannel_logout_supported"`
	CodeChallengeMethod []string `json:"code_challenge_methods_supported"`
	TokenAuthMethods    []string `json:"token_endpoint_auth_methods_supported"`
}

// OIDCOptions configure NewOIDC.
type OIDCOptions struct {
	// RecheckInterval is how long a session is trusted before the provider
	// is asked again; default one minute.
	RecheckInterval time.Duration
	// MaxSessions bounds the sessions a memory store holds at once; 0 means
	// DefaultMaxOIDCSessions.
	MaxSessions int
}

// DefaultMaxOIDCSessions bounds an issuer's OIDC sessions when
// OIDCOptions leaves it unset. A session holds the provider's ID, access
// and refresh tokens, a few KiB, so this is some hundreds of MiB at most.
const DefaultMaxOIDCSessions = 100_000

// oidcSweepEvery is how often a login sweeps ended sessions out, at most.
const oidcSweepEvery = time.Minute

// ErrOIDCSessionsFull is a login refused because the issuer holds its
// maximum of OIDC sessions, none of which has ended.
var ErrOIDCSessionsFull = fmt.Errorf("%w: the issuer holds its maximum of OIDC sessions", store.ErrFull)

// NewOIDC returns the relying party for c's provider. Discovery happens on
// first use and is retried until it succeeds, so the issuer starts while
// the provider is down and /readyz says so.
func NewOIDC(c *chain.Chain, env Env, o OIDCOptions) (*OIDC, error) {
	env.defaults()
	if c.IdP.Kind != chain.IdPOIDC {
		return nil, fmt.Errorf("idp.kind %q is not oidc", c.IdP.Kind)
	}
	secret := ""
	if !c.IdP.ClientSecret.IsZero() {
		s, err := c.IdP.ClientSecret.Resolve(env.LookupEnv, env.ReadFile)
		if err != nil {
			return nil, fmt.Errorf("idp.client_secret: %w", err)
		}
		secret = string(s)
	}
	scopes := c.IdP.Scopes
	if len(scopes) == 0 {
		scopes = chain.DefaultOIDCScopes
	}
	if o.RecheckInterval <= 0 {
		o.RecheckInterval = time.Minute
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = DefaultMaxOIDCSessions
	}
	p := &OIDC{
		issuer: c.IdP.PublicURL, clientID: c.IdP.ClientID, clientSecret: secret,
		redirectURL: strings.TrimSuffix(c.Issuer.URL, "/") + chain.CallbackPath,
		scopes:      scopes, http: env.HTTPClient, now: env.Now, recheck: o.RecheckInterval,
		sessions: newMemoryOIDCSessions(o.MaxSessions, env.Now()),
	}
	return p, nil
}

func (p *OIDC) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, p.http)
}

// discover returns the provider, running discovery if it has not yet
// succeeded. A failure is ErrIdPUnavailable.
func (p *OIDC) discover(ctx context.Context) (*oidc.Provider, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.provider != nil {
		return p.provider, nil
	}
	prov, err := oidc.NewProvider(p.ctx(ctx), p.issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: discovery at %s: %v", ErrIdPUnavailable, p.issuer, err)
	}
	var meta oidcMetadata
	if err := prov.Claims(&meta); err != nil {
		return nil, fmt.Errorf("%w: discovery at %s: %v", ErrIdPUnavailable, p.issuer, err)
	}
	p.provider, p.meta = prov, meta
	return prov, nil
}

func (p *OIDC) config(prov *oidc.Provider) *oauth2.Config {
	ep := prov.Endpoint()
	p.mu.Lock()
	ep.AuthStyle = p.authStyle()
	p.mu.Unlock()
	return &oauth2.Config{
		ClientID: p.clientID, ClientSecret: p.clientSecret, RedirectURL: p.redirectURL,
		Endpoint: ep, Scopes: p.scopes,
	}
}

// authStyle is how the client authenticates at the token endpoint, from
// discovery rather than by trial: x/oauth2 left to guess sends a refused
// request twice, the second time with the secret in the body. Without a
// secret (a public client, "none") the client_id goes in the body. Else
// HTTP Basic (client_secret_basic), the default when discovery lists no
// methods (OpenID Connect Discovery 1.0 §3), unless the provider lists
// only client_secret_post. Callers hold p.mu.
func (p *OIDC) authStyle() oauth2.AuthStyle {
	methods := p.meta.TokenAuthMethods
	switch {
	case p.clientSecret == "":
		return oauth2.AuthStyleInParams
	case len(methods) == 0 || contains(methods, "client_secret_basic"):
		return oauth2.AuthStyleInHeader
	case contains(methods, "client_secret_post"):
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}

// oidcAuth is one authorization request: what the browser carries to the
// provider and what must come back.
type oidcAuth struct {
	Verifier string // PKCE code_verifier: kept in the login cookie, never in a URL
	Nonce    string
	Prompt   string        // "", "login" or "none"
	MaxAge   time.Duration // > 0 asks for a login no older (max_age); with Prompt login, 0 is sent
}

// newOIDCAuth makes a fresh verifier and nonce.
func newOIDCAuth(prompt string, maxAge time.Duration) oidcAuth {
	return oidcAuth{Verifier: oauth2.GenerateVerifier(), Nonce: token.NewID(), Prompt: prompt, MaxAge: maxAge}
}

// challenge is the S256 code_challenge of v (RFC 7636 §4.2).
func challenge(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// AuthURL is the provider's authorization endpoint for a, with state.
func (p *OIDC) AuthURL(ctx context.Context, state string, a oidcAuth) (string, error) {
	prov, err := p.discover(ctx)
	if err != nil {
		return "", err
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(a.Verifier), oauth2.SetAuthURLParam("nonce", a.Nonce)}
	if a.Prompt != "" {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", a.Prompt))
	}
	switch {
	case a.Prompt == chain.PromptLogin:
		opts = append(opts, oauth2.SetAuthURLParam("max_age", "0"))
	case a.MaxAge > 0:
		opts = append(opts, oauth2.SetAuthURLParam("max_age", fmt.Sprint(int64(a.MaxAge/time.Second))))
	}
	return p.config(prov).AuthCodeURL(state, opts...), nil
}

// idClaims are the ID token claims ssoctl uses.
type idClaims struct {
	SID      string `json:"sid"`
	Email    string `json:"email"`
	Role     string `json:"role"`
	AuthTime int64  `json:"auth_time"`
}

// ErrOIDCLogin is a login the provider finished that the relying party
// refuses: a code it would not exchange, an ID token that does not verify.
var ErrOIDCLogin = errors.New("the OpenID provider's answer was refused")

// Exchange redeems code with the PKCE verifier, verifies the ID token
// (signature through the provider's JWKS, iss, aud, exp, and nonce), and
// keeps the login as a session.
func (p *OIDC) Exchange(ctx context.Context, code string, a oidcAuth, ttl time.Duration) (*Session, error) {
	prov, err := p.discover(ctx)
	if err != nil {
		return nil, err
	}
	// A place is reserved before the code is redeemed: a full issuer, or
	// one whose Redis is down, refuses the login without using up the
	// provider's code.
	if err := p.sessions.reserve(ctx, p.now()); err != nil {
		return nil, storeFailure(err)
	}
	placeUsed := false
	defer func() {
		if !placeUsed {
			p.sessions.release()
		}
	}()
	tok, err := p.config(prov).Exchange(p.ctx(ctx), code, oauth2.VerifierOption(a.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			return nil, fmt.Errorf("%w: code exchange: %s", ErrOIDCLogin, oauthErrorText(re))
		}
		return nil, fmt.Errorf("%w: code exchange: %w", ErrIdPUnavailable, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, fmt.Errorf("%w: the token response has no id_token (is openid among the scopes?)", ErrOIDCLogin)
	}
	idt, err := prov.Verifier(&oidc.Config{ClientID: p.clientID, Now: p.now}).Verify(p.ctx(ctx), raw)
	if err != nil {
		return nil, fmt.Errorf("%w: id_token: %v", ErrOIDCLogin, err)
	}
	if idt.Nonce != a.Nonce {
		return nil, fmt.Errorf("%w: id_token nonce does not match the one this login sent", ErrOIDCLogin)
	}
	if len(idt.Audience) > 1 && !contains(idt.Audience, p.clientID) {
		return nil, fmt.Errorf("%w: id_token audience %q", ErrOIDCLogin, idt.Audience)
	}
	var cl idClaims
	if err := idt.Claims(&cl); err != nil {
		return nil, fmt.Errorf("%w: id_token claims: %v", ErrOIDCLogin, err)
	}
	var traits map[string]any
	_ = idt.Claims(&traits)
	now := p.now()
	rec := &oidcRecord{IDToken: raw, Token: tok, Checked: now, Providers: cl.SID}
	rec.Sess = Session{
		ID: cl.SID, IdentityID: idt.Subject, Email: cl.Email, Role: cl.Role, Traits: traits,
		Active: true, ExpiresAt: now.Add(ttl),
	}
	if cl.AuthTime > 0 {
		rec.Sess.AuthenticatedAt = time.Unix(cl.AuthTime, 0).UTC()
	}
	if !usableID(rec.Sess.ID) {
		// No usable provider sid: a session id of the relying party's own.
		rec.Sess.ID = token.NewID()
	}
	// A login again into the same provider session (same sid) replaces
	// the one held, in its place.
	if err := p.sessions.put(ctx, rec); err != nil {
		return nil, storeFailure(err)
	}
	placeUsed = true
	out := rec.Sess
	return &out, nil
}

// storeFailure is an error of the session store as the roles answer it:
// a full store stays ErrOIDCSessionsFull (503 session_store_full); one
// that cannot be reached is ErrIdPUnavailable (503), as the sessions are
// the IdP's side of the chain.
func storeFailure(err error) error {
	if err == nil || errors.Is(err, ErrOIDCSessionsFull) {
		return err
	}
	return fmt.Errorf("%w: the issuer's OIDC session store: %w", ErrIdPUnavailable, err)
}

// usableID reports whether a provider's sid can travel as the handoff's
// sid: 1 to 256 visible ASCII characters.
func usableID(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

func oauthErrorText(re *oauth2.RetrieveError) string {
	if re.ErrorCode != "" {
		if re.ErrorDescription != "" {
			return re.ErrorCode + ": " + re.ErrorDescription
		}
		return re.ErrorCode
	}
	return fmt.Sprintf("HTTP %d", re.Response.StatusCode)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Whoami knows nobody: the provider's session cookie is on the provider's
// host, and the issuer's own cookie names a session for Session.
func (p *OIDC) Whoami(context.Context, string, string) (*Session, error) { return nil, ErrNoSession }

// Session returns a session the issuer logged in (localSession), or,
// in a receiver running apart from the issuer, the issuer's answer for it
// (oidc_sessions.go). In a process apart from the issuer with no way to
// ask, an unknown session id is ErrNoAdminAPI: the caller trusts the
// signed handoff.
func (p *OIDC) Session(ctx context.Context, id string) (*Session, error) {
	s, err := p.localSession(ctx, id)
	if errors.Is(err, ErrNoAdminAPI) && p.issuerSessions != nil {
		return p.issuerSessions.session(ctx, id)
	}
	return s, err
}

// localSession returns a session this issuer logged in (this process, or
// with Redis any instance), re-checked with the provider when the last
// check is older than the recheck interval: a refresh-token grant when
// there is a refresh token, else userinfo with the access token while it
// lasts. The provider refusing either ends the session. A session id the
// store does not hold is ErrNoSession in the issuer's process (it ended
// and was swept out, or the process restarted) and ErrNoAdminAPI apart
// from it.
func (p *OIDC) localSession(ctx context.Context, id string) (*Session, error) {
	rec, err := p.sessions.get(ctx, id)
	switch {
	case err != nil:
		return nil, storeFailure(err)
	case rec == nil && p.apart:
		return nil, ErrNoAdminAPI
	case rec == nil || !rec.Sess.Usable(p.now()):
		return nil, ErrNoSession
	}
	if p.now().Sub(rec.Checked) >= p.recheck {
		v, err, _ := p.refresh.Do(id, func() (any, error) { return p.recheckSession(ctx, rec) })
		if err != nil {
			return nil, err
		}
		rec = v.(*oidcRecord)
	}
	out := rec.Sess
	return &out, nil
}

// recheckWait is how long a request waits for another issuer instance's
// re-check of the same session before it gives up with 503.
const recheckWait = 5 * time.Second

// recheckSession asks the provider whether the session read as rec still
// stands, and returns it as stored afterwards. One instance at a time asks
// (the store's lock): a provider that rotates refresh tokens takes each
// one once, and may revoke the whole grant when it sees one again.
// Another instance's request waits for that answer instead.
func (p *OIDC) recheckSession(ctx context.Context, rec *oidcRecord) (*oidcRecord, error) {
	id := rec.Sess.ID
	held, unlock, ok, err := p.sessions.lock(ctx, id)
	if err != nil {
		return nil, storeFailure(err)
	}
	if !ok {
		return p.awaitRecheck(ctx, rec)
	}
	defer unlock()
	// Another instance may have finished a re-check since rec was read.
	cur, err := p.current(ctx, id)
	if err != nil || p.now().Sub(cur.Checked) < p.recheck {
		return cur, err
	}
	// The provider is asked under the lock's own deadline; what it answers
	// is stored under ctx (compare-and-set), even once the lock lapsed.
	next, err := p.askProvider(held, cur.Token)
	if errors.Is(err, ErrNoSession) {
		if _, err := p.sessions.remove(ctx, cur); err != nil {
			return nil, storeFailure(err)
		}
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	upd := *cur
	upd.Token, upd.Checked, upd.sealed = next, p.now(), nil
	swapped, err := p.sessions.swap(ctx, cur, &upd)
	switch {
	case err != nil:
		return nil, storeFailure(err)
	case swapped:
		return &upd, nil
	}
	// Ended (or logged in again) while the provider was asked: the store
	// has the answer.
	return p.current(ctx, id)
}

// current reads the session under id as it stands: ErrNoSession when the
// store holds none or it expired, a store failure as storeFailure says.
func (p *OIDC) current(ctx context.Context, id string) (*oidcRecord, error) {
	rec, err := p.sessions.get(ctx, id)
	switch {
	case err != nil:
		return nil, storeFailure(err)
	case rec == nil || !rec.Sess.Usable(p.now()):
		return nil, ErrNoSession
	}
	return rec, nil
}

// awaitRecheck waits for another instance's re-check of rec to land.
func (p *OIDC) awaitRecheck(ctx context.Context, rec *oidcRecord) (*oidcRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, recheckWait)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: another issuer instance is re-checking the session with the provider", ErrIdPUnavailable)
		case <-tick.C:
		}
		cur, err := p.current(ctx, rec.Sess.ID)
		if err != nil || cur.Checked.After(rec.Checked) || p.now().Sub(cur.Checked) < p.recheck {
			return cur, err
		}
	}
}

// askProvider asks the provider whether a session's grant still stands
// and returns the tokens to keep: ErrNoSession when the provider refuses,
// ErrIdPUnavailable when it cannot say.
func (p *OIDC) askProvider(ctx context.Context, tok *oauth2.Token) (*oauth2.Token, error) {
	prov, err := p.discover(ctx)
	if err != nil {
		return nil, err
	}
	var next *oauth2.Token
	switch {
	case tok != nil && tok.RefreshToken != "":
		stale := *tok
		stale.Expiry = time.Unix(1, 0) // force the grant: the question is whether the provider still says yes
		next, err = p.config(prov).TokenSource(p.ctx(ctx), &stale).Token()
	case tok != nil && tok.AccessToken != "" && (tok.Expiry.IsZero() || p.now().Before(tok.Expiry)):
		_, err = prov.UserInfo(p.ctx(ctx), oauth2.StaticTokenSource(tok))
		next = tok
	default:
		// Nothing to ask with: trust the login until the session ends.
		next = tok
	}
	if err != nil {
		var re *oauth2.RetrieveError
		// go-oidc reports a userinfo refusal as "401 Unauthorized: …".
		refused := errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 ||
			strings.HasPrefix(err.Error(), "401 ") || strings.HasPrefix(err.Error(), "403 ")
		if refused {
			return nil, ErrNoSession
		}
		return nil, fmt.Errorf("%w: %w", ErrIdPUnavailable, err)
	}
	return next, nil
}

// end removes a session from the store while still says it is the one
// to end, and returns what it removed (nil: nothing). rec is the session
// under id as the caller read it, or nil to read it here; one that
// changed before the removal (a re-check landed) is read again.
func (p *OIDC) end(ctx context.Context, id string, rec *oidcRecord, still func(*oidcRecord) bool) (*oidcRecord, error) {
	for range 3 {
		if rec == nil {
			var err error
			if rec, err = p.sessions.get(ctx, id); err != nil {
				return nil, storeFailure(err)
			}
		}
		if rec == nil || !still(rec) {
			return nil, nil
		}
		removed, err := p.sessions.remove(ctx, rec)
		if err != nil {
			return nil, storeFailure(err)
		}
		if removed {
			return rec, nil
		}
		rec = nil
	}
	return nil, fmt.Errorf("%w: the session kept changing while it was ended", ErrIdPUnavailable)
}

// Revoke ends a session here and, when the provider has a revocation
// endpoint (RFC 7009), revokes its refresh token there too, best effort:
// the provider's own session ends with RP-initiated logout in the
// browser (EndSessionURL).
func (p *OIDC) Revoke(ctx context.Context, id string) error {
	rec, err := p.end(ctx, id, nil, func(*oidcRecord) bool { return true })
	if err != nil || rec == nil {
		return err
	}
	tok := rec.Token
	p.mu.Lock()
	endpoint := p.meta.Revocation
	p.mu.Unlock()
	if endpoint == "" || tok == nil || tok.RefreshToken == "" {
		return nil
	}
	form := strings.NewReader("token=" + url.QueryEscape(tok.RefreshToken) + "&token_type_hint=refresh_token")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, form)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(p.clientID), url.QueryEscape(p.clientSecret))
	resp, err := p.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: token revocation: %w", ErrIdPUnavailable, err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("token revocation at the provider: HTTP %d", resp.StatusCode)
	}
	return nil
}

// IDTokenHint returns the raw ID token of a session, for RP-initiated
// logout; "" when the store does not hold it or cannot be read.
func (p *OIDC) IDTokenHint(ctx context.Context, id string) string {
	rec, err := p.sessions.get(ctx, id)
	if err != nil || rec == nil {
		return ""
	}
	return rec.IDToken
}

// EndSessionEndpoint is the provider's end_session_endpoint (RP-Initiated
// Logout 1.0), "" when it has none or discovery has not succeeded.
func (p *OIDC) EndSessionEndpoint(ctx context.Context) string {
	if _, err := p.discover(ctx); err != nil {
		return ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.meta.EndSession
}

// Ready reports whether discovery succeeds.
func (p *OIDC) Ready(ctx context.Context) error {
	_, err := p.discover(ctx)
	return err
}

// backchannelEvent is the events member a logout token must carry (OIDC
// Back-Channel Logout 1.0 §2.4).
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// logoutClaims are a logout token's claims beyond go-oidc's checks.
type logoutClaims struct {
	Sub    string         `json:"sub"`
	SID    string         `json:"sid"`
	JTI    string         `json:"jti"`
	IAT    int64          `json:"iat"`
	Exp    int64          `json:"exp"`
	Events map[string]any `json:"events"`
	Nonce  *string        `json:"nonce"`
}

// ErrLogoutToken is a logout token that fails a check of OIDC Back-Channel
// Logout 1.0 §2.6; its text says which.
var ErrLogoutToken = errors.New("logout token refused")

// maxLogoutTokenAge bounds how old a logout token's iat may be: it is
// delivered server to server at once, so minutes are plenty.
const maxLogoutTokenAge = 5 * time.Minute

// VerifyLogoutToken checks a logout token as OIDC Back-Channel Logout 1.0
// §2.6 says: signature through the provider's JWKS with its advertised
// algorithms (never none), iss, aud (this client), iat and exp, the events
// member, no nonce, a sid or sub, and a jti not seen before (replay may
// be nil only in tests). It returns the sid and sub it names.
func (p *OIDC) VerifyLogoutToken(ctx context.Context, raw string, replay func(jti string, until time.Time) (bool, error)) (sid, sub string, err error) {
	prov, err := p.discover(ctx)
	if err != nil {
		return "", "", err
	}
	// exp is checked below, not by go-oidc: Back-Channel Logout drafts
	// before 1.0 final had no exp, and Ory Hydra v2.3.0 sends none; iat
	// bounds such a token instead.
	idt, err := prov.Verifier(&oidc.Config{ClientID: p.clientID, Now: p.now, SkipExpiryCheck: true}).Verify(p.ctx(ctx), raw)
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrLogoutToken, err)
	}
	var cl logoutClaims
	if err := idt.Claims(&cl); err != nil {
		return "", "", fmt.Errorf("%w: claims: %v", ErrLogoutToken, err)
	}
	now := p.now()
	switch {
	case cl.Events == nil:
		return "", "", fmt.Errorf("%w: no events claim", ErrLogoutToken)
	case cl.Events[backchannelEvent] == nil:
		return "", "", fmt.Errorf("%w: events lacks %s", ErrLogoutToken, backchannelEvent)
	case cl.Nonce != nil:
		return "", "", fmt.Errorf("%w: a logout token must not carry a nonce", ErrLogoutToken)
	case cl.SID == "" && cl.Sub == "":
		return "", "", fmt.Errorf("%w: neither sid nor sub", ErrLogoutToken)
	case cl.JTI == "":
		return "", "", fmt.Errorf("%w: no jti", ErrLogoutToken)
	case cl.IAT == 0:
		return "", "", fmt.Errorf("%w: no iat", ErrLogoutToken)
	case now.Sub(time.Unix(cl.IAT, 0)) > maxLogoutTokenAge:
		return "", "", fmt.Errorf("%w: iat is more than %s ago", ErrLogoutToken, maxLogoutTokenAge)
	case time.Unix(cl.IAT, 0).Sub(now) > token.DefaultLeeway:
		return "", "", fmt.Errorf("%w: iat is in the future", ErrLogoutToken)
	case cl.Exp != 0 && !now.Before(time.Unix(cl.Exp, 0).Add(token.DefaultLeeway)):
		return "", "", fmt.Errorf("%w: expired", ErrLogoutToken)
	}
	until := time.Unix(cl.IAT, 0).Add(maxLogoutTokenAge)
	if replay != nil {
		fresh, err := replay(cl.JTI, until)
		if err != nil {
			return "", "", fmt.Errorf("%w: replay store: %w", ErrIdPUnavailable, err)
		}
		if !fresh {
			return "", "", fmt.Errorf("%w: jti was already used", ErrLogoutToken)
		}
	}
	return cl.SID, cl.Sub, nil
}

// EndSessions ends, here, every session the provider's logout names: the
// one with its sid, or, with only sub, all of that identity's. It returns
// the sessions it ended, for the receivers' back-channel; an error is the
// store failing, and the sessions it ended before that are returned too.
func (p *OIDC) EndSessions(ctx context.Context, sid, sub string) ([]Session, error) {
	recs, err := p.sessions.matching(ctx, sid, sub)
	if err != nil {
		return nil, storeFailure(err)
	}
	named := func(r *oidcRecord) bool { return r.matches(sid, sub) }
	var out []Session
	for _, rec := range recs {
		ended, err := p.end(ctx, rec.Sess.ID, rec, named)
		if err != nil {
			return out, err
		}
		if ended != nil {
			out = append(out, ended.Sess)
		}
	}
	return out, nil
}
