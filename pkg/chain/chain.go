package chain

import (
	"time"

	"github.com/ssoctl/ssoctl/pkg/token"
)

// Version is the only chain file version this package reads.
const Version = 1

// Chain is one chain file v1, with defaults applied and validated. URL
// fields hold canonical origins (see doc.go).
type Chain struct {
	// File is the name the chain was parsed under, used in problem text.
	File string `yaml:"-"`

	Version   int        `yaml:"version"`
	Name      string     `yaml:"name"`
	Dev       bool       `yaml:"dev"` // allows http, inline secrets and generated keys; never in production
	IdP       IdP        `yaml:"idp"`
	Issuer    Issuer     `yaml:"issuer"`
	Token     Token      `yaml:"token"`
	Mode      Mode       `yaml:"mode"`
	Receivers []Receiver `yaml:"receivers"`
	ReturnTo  ReturnTo   `yaml:"return_to"`
	Store     Store      `yaml:"store"`
	Expect    Expect     `yaml:"expect"`
	// Faults make the roles misbehave on purpose, so that trace has broken
	// chains to find (examples/broken); dev chains only.
	Faults Faults `yaml:"faults"`
	// Apps may ask the issuer about its cookie at IntrospectPath (apps.go).
	Apps []App `yaml:"apps"`

	// Warnings are the problems the chain runs with; lint shows them.
	Warnings []Problem `yaml:"-"`
}

// IdPKind names the identity provider the issuer logs users in with.
type IdPKind string

const (
	IdPDev    IdPKind = "dev"    // the embedded development IdP (ssoctl serve idp)
	IdPKratos IdPKind = "kratos" // Ory Kratos, self-hosted or Ory Network
	IdPOIDC   IdPKind = "oidc"   // any OpenID Connect provider; the issuer is a relying party
)

// DefaultOIDCScopes are the scopes an OIDC chain asks for by default:
// openid for the ID token, email and profile for the identity headers.
var DefaultOIDCScopes = []string{"openid", "email", "profile"}

// IdP is the identity provider block.
type IdP struct {
	Kind IdPKind `yaml:"kind"`
	// PublicURL is where browsers reach the IdP: the dev IdP's or Kratos's
	// public API, or the OpenID provider's issuer URL (discovery starts there).
	PublicURL string `yaml:"public_url"`
	// AdminURL is Kratos's admin API; with it the roles re-check a session by
	// id. Optional.
	AdminURL string `yaml:"admin_url"`
	// Listen is where the dev IdP serves its public API (kind dev only).
	Listen string `yaml:"listen"`
	// AdminListen is where the dev IdP serves its admin API, when AdminURL
	// has an origin of its own (kind dev only).
	AdminListen string `yaml:"admin_listen"`
	// CookieDomain is the Domain of the IdP's session cookie, so that the
	// issuer on a sibling host receives it: Kratos's session.cookie.domain,
	// and what the dev IdP sets. Kind dev defaults it to the IdP host's
	// registrable domain; for Kratos it is only checked, when given.
	CookieDomain string `yaml:"cookie_domain"`
	// ClientID and ClientSecret register the issuer with an OpenID provider
	// (kind oidc only).
	ClientID     string    `yaml:"client_id"`
	ClientSecret SecretRef `yaml:"client_secret"`
	// Scopes the issuer asks the provider for (kind oidc only); default
	// DefaultOIDCScopes. Add offline_access for a refresh token, which lets
	// the issuer re-check the login after the access token expires.
	Scopes []string `yaml:"scopes"`
	// HydraLogin runs the dev IdP's users as Ory Hydra's login, consent and
	// logout provider (kind oidc with dev: true only), so an OIDC chain on
	// Hydra runs on one machine; Users are then its accounts.
	HydraLogin *HydraLogin `yaml:"hydra_login"`
	// Users are the dev IdP's accounts (kind dev only).
	Users []User `yaml:"users"`
}

// HydraLogin is where ssoctl serves Hydra's login, consent and logout
// pages (urls.login, urls.consent and urls.logout in Hydra's config are
// URL + /hydra/login, /hydra/consent and /hydra/logout) and how it reaches
// Hydra's admin API.
type HydraLogin struct {
	URL      string `yaml:"url"`
	Listen   string `yaml:"listen"`
	AdminURL string `yaml:"admin_url"`
}

// User is one account of the dev IdP.
type User struct {
	Email    string         `yaml:"email"`
	Password SecretRef      `yaml:"password"` // inline only with dev: true
	Role     string         `yaml:"role"`     // served as the identity's metadata_public.role, which users cannot edit
	Traits   map[string]any `yaml:"traits"`   // Kratos-style identity traits
	// MetadataAdmin is the identity's Kratos metadata_admin: what an admin
	// set, which the user can neither read nor change, unlike traits.
	// metadata_admin.permissions.<app> grants an app's permissions at
	// /sso/introspect (docs/introspect.md).
	MetadataAdmin map[string]any `yaml:"metadata_admin"`
}

// Issuer is the accounts role: it logs users in and signs handoff tokens.
type Issuer struct {
	URL    string `yaml:"url"`
	Listen string `yaml:"listen"`
	Cookie Cookie `yaml:"cookie"`
}

// Cookie is a role's session cookie.
type Cookie struct {
	Name string        `yaml:"name"`
	TTL  time.Duration `yaml:"ttl"`
	// Domain is the cookie's Domain attribute, without a leading dot; empty
	// means host-only (RFC 6265 §5.3 step 6), which is the safe default.
	Domain string `yaml:"domain"`
	// Secret is the key the role signs its cookie with. HS256 chains may
	// leave it out (it is derived from token.secret), and so may dev chains;
	// EdDSA, ES256 and RS256 chains outside dev need it.
	Secret SecretRef `yaml:"secret"`
	// PreviousSecrets are keys this role's cookies were sealed with before
	// Secret: cookies they sealed still open, new ones are sealed with
	// Secret, so the key is rotated without signing anyone out. Only with
	// Secret; at most MaxPreviousSecrets.
	PreviousSecrets []SecretRef `yaml:"previous_secrets"`
}

// MaxPreviousSecrets bounds previous_secrets: each one is another key a
// value that does not open is tried with. A rotation needs one.
const MaxPreviousSecrets = 4

// Alg is a handoff-token signing algorithm: pkg/token's, so the chain file
// and the verifier can never disagree on what is supported.
type Alg = token.Algorithm

// The algorithms, as pkg/token names them.
const (
	HS256 = token.HS256 // shared secret
	EdDSA = token.EdDSA // Ed25519 (RFC 8037)
	ES256 = token.ES256 // ECDSA P-256
	RS256 = token.RS256 // RSA PKCS #1 v1.5
)

// Transport says how a handoff token travels to a receiver.
type Transport string

const (
	// TransportQuery puts the token in the /sso URL's query (a redirect).
	TransportQuery Transport = "query"
	// TransportFormPost carries it in an auto-submitted POST form, so it never
	// lands in address bars, history, Referer headers or access logs.
	TransportFormPost Transport = "form_post"
)

// Token is the handoff-token profile the chain uses.
type Token struct {
	Alg Alg `yaml:"alg"`
	// Secret is the HS256 key. With dev: true and no secret, the roles may
	// generate one (in one process only).
	Secret SecretRef `yaml:"secret"`
	// PreviousSecrets are HS256 keys that verify but never mint: tokens
	// signed with them, and cookies and state sealed with keys derived
	// from them, are still accepted while every instance moves to Secret.
	PreviousSecrets []SecretRef `yaml:"previous_secrets"`
	// KeyFile is the issuer's private key (PEM) for EdDSA, ES256 and RS256.
	KeyFile string `yaml:"key_file"`
	// JWKSURL is where receivers fetch the issuer's public keys.
	JWKSURL string `yaml:"jwks_url"`
	// TTL is the lifetime the issuer gives each token.
	TTL time.Duration `yaml:"ttl"`
	// MaxTTL is the longest lifetime a receiver accepts (DESIGN §4); TTL may
	// not exceed it.
	MaxTTL time.Duration `yaml:"max_ttl"`
	// Leeway is the clock skew allowed when checking exp, iat and nbf.
	Leeway    time.Duration `yaml:"leeway"`
	Transport Transport     `yaml:"transport"`
}

// Mode is the chain's topology (DESIGN §5).
type Mode string

const (
	// ModeHub: only the issuer signs; every receiver hands back to the
	// issuer's /sso/continue.
	ModeHub Mode = "hub"
	// ModeRelay: receivers share the HMAC secret and mint the next hop's
	// token themselves.
	ModeRelay Mode = "relay"
)

// Receiver is one app domain that takes part in the chain.
type Receiver struct {
	// Name is the token audience and the receiver's name in logs; a DNS label.
	Name   string `yaml:"name"`
	URL    string `yaml:"url"`
	Listen string `yaml:"listen"`
	Cookie Cookie `yaml:"cookie"`
	// SharedCookie receivers sit under the issuer cookie's domain: the walk
	// skips them and they validate the parent-domain cookie server to server.
	// ssoctl does not serve them, so they have no listen, cookie or
	// recheck_interval.
	SharedCookie bool `yaml:"shared_cookie"`
	// RecheckInterval is how long the receiver trusts its cookie before it
	// asks the IdP again whether the session is still valid.
	RecheckInterval time.Duration `yaml:"recheck_interval"`
	// Upstream is the app the receiver reverse-proxies for signed-in
	// browsers (DESIGN §6): an absolute http or https URL, optionally with a
	// path prefix. Empty: the receiver serves only its own endpoints and
	// apps use forward auth at /auth.
	Upstream string `yaml:"upstream"`
	// BackchannelLogout says whether the issuer's logout POSTs a logout
	// token to this receiver's /backchannel-logout (default true). Off, the
	// receiver learns of a logout only from the browser (front-channel) or
	// at its next IdP re-check; trace chain --logout reports SSO403 for it.
	BackchannelLogout *bool `yaml:"backchannel_logout"`
	// MaxAuthAge, when set, is how long ago the user may have typed their
	// password at the IdP (the session's authenticated_at) for this
	// receiver to accept the session; older sends them to log in again
	// (step-up). Zero: any age.
	MaxAuthAge time.Duration `yaml:"max_auth_age"`
}

// ReturnTo is where a login may end.
type ReturnTo struct {
	// Allow holds the patterns NewAllowlist reads.
	Allow []string `yaml:"allow"`
}

// Store picks where the roles' server-side state lives (the receivers'
// replay and revocation stores; an OIDC issuer's provider sessions and
// used logout tokens); exactly one of the fields is set.
type Store struct {
	Memory *MemoryStore `yaml:"memory"`
	Redis  *RedisStore  `yaml:"redis"`
}

// MemoryStore keeps that state in the process: one instance per role.
// Each store is bounded, and a full one refuses what would grow it with
// 503 rather than take more memory.
type MemoryStore struct {
	// MaxEntries bounds each of a receiver's stores, its used jtis and the
	// sessions revoked, and the issuer's used OIDC logout tokens; 0 means
	// 1,000,000 (about 70 MB of jtis at the most).
	MaxEntries int `yaml:"max_entries"`
	// MaxSessions bounds the provider sessions an OIDC chain's issuer
	// holds; 0 means 100,000 (a few KiB each). Past it a login is refused
	// with 503 session_store_full.
	MaxSessions int `yaml:"max_sessions"`
}

// RedisStore shares that state between a role's instances.
type RedisStore struct {
	// URLEnv names the environment variable holding the Redis URL, which can
	// carry a password and so never sits in the file.
	URLEnv string `yaml:"url_env"`
	// URLFile is a file holding the Redis URL instead (a mounted secret);
	// relative to the chain file. Exactly one of URLEnv and URLFile.
	URLFile string `yaml:"url_file"`
}

// Expect holds what trace chain checks after a walk; zero values are not
// checked.
type Expect struct {
	FinalURLPrefix   string              `yaml:"final_url_prefix"`
	MaxHops          int                 `yaml:"max_hops"`
	Cookies          []CookieExpectation `yaml:"cookies"`
	MaxTokenLifetime time.Duration       `yaml:"max_token_lifetime"`
	MaxTotalTime     time.Duration       `yaml:"max_total_time"`
}

// CookieExpectation says which cookies the browser must hold for a host
// after the walk. In YAML, expect.cookies maps a host to a list of names.
type CookieExpectation struct {
	Domain string
	Names  []string
}

// Faults are deliberate misbehaviours of the roles, for examples and tests
// of trace chain: each one is a bug ssoctl's roles must never have, made
// switchable so that a chain can show what the bug looks like from a
// browser. Only dev chains may have them (validation refuses the block
// otherwise), and the roles read them through Chain.IssuerFaults and
// Chain.ReceiverFaults, which give nothing outside dev.
type Faults struct {
	Issuer IssuerFaults `yaml:"issuer"`
	// Receivers holds each receiver's faults by its name.
	Receivers FaultyReceivers `yaml:"receivers"`
}

// IssuerFaults are the issuer's deliberate misbehaviours.
type IssuerFaults struct {
	// OpenReturnTo makes /login accept any absolute http or https return_to
	// without consulting return_to.allow: an open redirect (trace: SSO302).
	// The URL is still parsed as the allowlist parses it, so only the
	// allowlist is skipped.
	OpenReturnTo bool `yaml:"open_return_to"`
	// LoopOnCallback makes /callback send a browser whose IdP session it
	// cannot see back to the IdP's login instead of stopping at an error
	// page. When the IdP's session cookie does not reach the issuer the
	// browser bounces between the two forever (trace: SSO301).
	LoopOnCallback bool `yaml:"loop_on_callback"`
	// LogoutWithoutAsking makes GET /logout sign out at once whoever
	// started it, a link on another site included, as ssoctl did before
	// it asked (trace: SSO405).
	LogoutWithoutAsking bool `yaml:"logout_without_asking"`
}

// ReceiverFaults are one receiver's deliberate misbehaviours.
type ReceiverFaults struct {
	// Ignore lists pkg/token reason codes (token.Reasons) that this
	// receiver's /sso accepts a handoff despite: audience_mismatch makes
	// it take tokens minted for other receivers (trace: SSO102),
	// token_replayed replays (SSO103), signature_invalid and alg_none
	// forgeries (SSO104), token_expired stale tokens (SSO105),
	// ret_not_allowed foreign next hops (SSO302).
	Ignore []string `yaml:"ignore"`
	// SkipIdPRecheck makes /auth trust the receiver's cookie for as long as
	// it lasts, never asking the IdP again whether the session is still
	// active (trace: SSO402).
	SkipIdPRecheck bool `yaml:"skip_idp_recheck"`
}

// FaultyReceivers maps receiver names to their faults. In YAML it is a
// mapping from name to ReceiverFaults.
type FaultyReceivers map[string]ReceiverFaults

// IssuerFaults returns the issuer's faults: none unless the chain is a dev
// chain, whatever the struct holds.
func (c *Chain) IssuerFaults() IssuerFaults {
	if !c.Dev {
		return IssuerFaults{}
	}
	return c.Faults.Issuer
}

// ReceiverFaults returns the faults of the receiver with the given name:
// none unless the chain is a dev chain, whatever the struct holds.
func (c *Chain) ReceiverFaults(name string) ReceiverFaults {
	if !c.Dev {
		return ReceiverFaults{}
	}
	return c.Faults.Receivers[name]
}

// Receiver returns the receiver with the given name.
func (c *Chain) Receiver(name string) (*Receiver, bool) {
	for i := range c.Receivers {
		if c.Receivers[i].Name == name {
			return &c.Receivers[i], true
		}
	}
	return nil, false
}

// Walked returns the receivers a login walks through, in file order: all
// but the shared_cookie ones, which read the issuer's cookie instead.
func (c *Chain) Walked() []Receiver {
	var out []Receiver
	for _, r := range c.Receivers {
		if !r.SharedCookie {
			out = append(out, r)
		}
	}
	return out
}

// RelayNeighbours returns, in relay mode, the receivers before and after
// the named one on the walk: who may hand it a handoff besides the issuer,
// and whom it hands on to. Either is nil at the ends of the walk, and both
// are nil in hub mode or for a receiver the walk skips.
func (c *Chain) RelayNeighbours(name string) (prev, next *Receiver) {
	if c.Mode != ModeRelay {
		return nil, nil
	}
	walked := c.Walked()
	for i := range walked {
		if walked[i].Name != name {
			continue
		}
		if i > 0 {
			prev = &walked[i-1]
		}
		if i+1 < len(walked) {
			next = &walked[i+1]
		}
	}
	return prev, next
}

// Allowlist builds the chain's return_to allowlist.
func (c *Chain) Allowlist() (*Allowlist, error) {
	return NewAllowlist(c.ReturnTo.Allow)
}
