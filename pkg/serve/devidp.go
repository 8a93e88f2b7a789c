package serve

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/net/publicsuffix"

	"github.com/ssoctl/ssoctl/pkg/chain"
)

// DevIdPConfig configures the development identity provider.
type DevIdPConfig struct {
	// Name is shown on the login page: the chain's name. Default "ssoctl".
	Name string
	// PublicURL is the IdP's own origin, where browsers reach it.
	PublicURL string
	// Users are the accounts. Passwords are hashed with bcrypt by NewDevIdP
	// and not kept; the caller may clear them afterwards.
	Users []DevUser
	// CookieName is the session cookie's name. Default ory_kratos_session,
	// as Kratos.
	CookieName string
	// CookieDomain is the parent domain the session cookie is set on, so an
	// issuer on a sibling host receives it (Kratos's session.cookie.domain).
	// It must domain-match PublicURL's host (RFC 6265 §5.1.3) and may not
	// be a public suffix. Empty means a host-only cookie.
	CookieDomain string
	// SessionTTL is how long a session lasts. Default 24h.
	SessionTTL time.Duration
	// MaxSessions bounds the sessions held in memory; past it new logins
	// get 503. Default 100,000.
	MaxSessions int
	// PasswordCost is the bcrypt cost. Default bcrypt.DefaultCost; tests
	// use bcrypt.MinCost.
	PasswordCost int
	// AdminOnPublic also serves the admin API from Public(), for a chain
	// whose admin_url is the public origin. Off by default: Kratos keeps the
	// admin API on its own port, and so does the dev IdP.
	AdminOnPublic bool
	// AllowReturn is the chain's return_to allowlist. A login or logout
	// whose return_to it rejects is refused with 400 and no redirect; nil
	// refuses every return_to.
	AllowReturn func(string) error
	// FormAction lists the CSP sources (besides 'self') the login page's
	// form-action allows. Browsers apply form-action to every redirect that
	// follows a form submission, and a login ends in a redirect chain
	// through the whole SSO chain, so this is every origin of the chain.
	// Empty allows the return_to's origin only.
	FormAction []string
	// Secure sets the Secure attribute on the IdP's cookies. It is implied
	// by an https PublicURL.
	Secure bool
	Now    func() time.Time
	Logger *slog.Logger
}

// DevUser is one account of the development IdP.
type DevUser struct {
	Email    string
	Password []byte
	// Role is served as the identity's metadata_public.role, where Kratos
	// keeps what users may read but not change; never as a trait, which a
	// Kratos user can edit.
	Role   string
	Traits map[string]any // further identity traits, as Kratos keeps them
	// MetadataAdmin is the identity's metadata_admin, as Kratos keeps it:
	// the admin API's identity lookup returns it, whoami never does.
	MetadataAdmin map[string]any
}

// DevIdP is the embedded development identity provider (ssoctl serve idp):
// the part of the Ory Kratos API the chain uses, with the same paths and
// JSON, plus a plain login page. Sessions live in memory.
type DevIdP struct {
	name         string
	origin       string
	cookieName   string
	cookieDomain string
	secure       bool
	ttl          time.Duration
	allow        func(string) error
	formAction   string
	now          func() time.Time
	log          *slog.Logger
	users        map[string]*devIdPUser // by lower-case email
	dummyHash    []byte                 // compared against for unknown emails
	csrfKey      []byte
	csrfCookie   string
	crossOrigin  *http.CrossOriginProtection
	sessions     *devIdPSessions
	createdAt    time.Time
	public       http.Handler
	admin        http.Handler
}

type devIdPUser struct {
	id     string
	email  string
	hash   []byte
	traits map[string]any // read-only after construction
	// metadataPublic is read-only after construction, nil when the user has
	// no role; every identity document carries it, as Kratos's do.
	metadataPublic map[string]any
	// metadataAdmin is read-only after construction, nil when the user has
	// none; only GET /admin/identities/{id} returns it.
	metadataAdmin map[string]any
	// identityDoc is the identity document that session answers carry,
	// encoded once: it never changes, and client-go's models encode
	// through maps, which was most of the dev IdP's time per session
	// check.
	identityDoc []byte
}

const (
	devIdPDefaultCookie      = "ory_kratos_session"
	devIdPDefaultTTL         = 24 * time.Hour
	devIdPDefaultMaxSessions = 100_000
	devIdPDefaultName        = "ssoctl"
	// devIdPSchemaURLPath is where Kratos serves the identity schema
	// "default" (base64url of the id).
	devIdPSchemaURLPath = "/schemas/ZGVmYXVsdA"
)

// The Kratos paths the dev IdP serves.
const (
	devIdPWhoamiPath      = "/sessions/whoami"
	devIdPLoginBrowser    = chain.KratosLoginPath
	devIdPLoginPath       = "/self-service/login"
	devIdPLogoutPath      = "/self-service/logout/browser"
	devIdPAdminSessions   = "/admin/sessions/"
	devIdPAdminIdentities = "/admin/identities/"
	devIdPHealthAlivePath = "/health/alive"
	devIdPHealthReadyPath = "/health/ready"
)

// NewDevIdP checks cfg, hashes the passwords and returns the IdP.
func NewDevIdP(cfg DevIdPConfig) (*DevIdP, error) {
	d := &DevIdP{
		name:       cfg.Name,
		cookieName: cfg.CookieName,
		ttl:        cfg.SessionTTL,
		allow:      cfg.AllowReturn,
		formAction: strings.Join(cfg.FormAction, " "),
		now:        cfg.Now,
		log:        cfg.Logger,
		users:      map[string]*devIdPUser{},
		csrfKey:    make([]byte, 32),
	}
	if d.name == "" {
		d.name = devIdPDefaultName
	}
	if d.cookieName == "" {
		d.cookieName = devIdPDefaultCookie
	}
	if d.ttl == 0 {
		d.ttl = devIdPDefaultTTL
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	maxSessions := cfg.MaxSessions
	if maxSessions == 0 {
		maxSessions = devIdPDefaultMaxSessions
	}
	cost := cfg.PasswordCost
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	switch {
	case d.ttl < time.Second:
		return nil, fmt.Errorf("dev idp: session TTL %s is too short; use at least 1s", d.ttl)
	case maxSessions < 0:
		return nil, errors.New("dev idp: MaxSessions may not be negative")
	case cost < bcrypt.MinCost || cost > bcrypt.MaxCost:
		return nil, fmt.Errorf("dev idp: bcrypt cost %d is outside %d..%d", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}

	u, err := devIdPPublicURL(cfg.PublicURL)
	if err != nil {
		return nil, err
	}
	d.origin = u.Scheme + "://" + u.Host
	d.secure = cfg.Secure || u.Scheme == "https"
	if d.cookieDomain, err = devIdPCookieDomain(u.Hostname(), cfg.CookieDomain); err != nil {
		return nil, err
	}
	if err := devIdPCheckCookieName(d.cookieName, d.secure, d.cookieDomain); err != nil {
		return nil, err
	}
	d.csrfCookie = "ssoctl_idp_csrf"
	if d.secure {
		// __Host- cookies cannot be set by a sibling host, so another app
		// under the same parent domain cannot plant a CSRF cookie.
		d.csrfCookie = "__Host-ssoctl_idp_csrf"
	}
	if d.csrfCookie == d.cookieName {
		return nil, fmt.Errorf("dev idp: cookie name %q is reserved for the login form", d.cookieName)
	}

	if len(cfg.Users) == 0 {
		return nil, errors.New("dev idp: no users; add at least one under idp.users")
	}
	for i, cu := range cfg.Users {
		user, err := devIdPNewUser(cu, cost)
		if err != nil {
			return nil, fmt.Errorf("dev idp: user %d: %w", i+1, err)
		}
		if _, dup := d.users[user.email]; dup {
			return nil, fmt.Errorf("dev idp: user %d: %s is listed twice", i+1, cu.Email)
		}
		d.users[user.email] = user
	}
	// Unknown emails are compared against this hash, so a login with an
	// unknown email costs what one with a wrong password costs.
	dummy := make([]byte, 24)
	_, _ = rand.Read(dummy)
	if d.dummyHash, err = bcrypt.GenerateFromPassword(dummy, cost); err != nil {
		return nil, err
	}
	_, _ = rand.Read(d.csrfKey)
	d.crossOrigin = http.NewCrossOriginProtection()
	d.sessions = newDevIdPSessions(maxSessions)
	d.createdAt = d.now().UTC()
	for _, u := range d.users {
		if u.identityDoc, err = json.Marshal(d.identityJSON(u)); err != nil {
			return nil, fmt.Errorf("dev idp: %s: traits that JSON cannot encode: %w", u.email, err)
		}
	}
	d.admin = http.HandlerFunc(d.serveAdmin)
	d.public = http.HandlerFunc(d.servePublic)
	if cfg.AdminOnPublic {
		d.public = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.EscapedPath(), "/admin/") {
				d.serveAdmin(w, r)
				return
			}
			d.servePublic(w, r)
		})
	}
	return d, nil
}

// NewDevIdPFromChain builds the dev IdP a chain file describes (idp.kind:
// dev). Decisions the chain file leaves to it:
//
//   - return_to may go to the issuer's origin (its login callback) and
//     wherever the chain's return_to allowlist allows;
//   - the session cookie goes on the longest parent domain the IdP's host
//     shares with the issuer's that is not a public suffix (company.com
//     for auth.company.com and accounts.company.com), as a Kratos operator
//     sets session.cookie.domain; with no such domain it is host-only;
//   - the admin API shares the public listener only when admin_url has the
//     public URL's origin.
func NewDevIdPFromChain(c *chain.Chain, env Env) (*DevIdP, error) {
	if c.IdP.Kind != chain.IdPDev {
		return nil, fmt.Errorf("dev idp: idp.kind is %q, not dev", c.IdP.Kind)
	}
	env.defaults()
	patterns := append([]string(nil), c.ReturnTo.Allow...)
	if c.Issuer.URL != "" {
		patterns = append(patterns, c.Issuer.URL)
	}
	allow, err := chain.NewAllowlist(patterns)
	if err != nil {
		return nil, fmt.Errorf("dev idp: %w", err)
	}
	cfg := DevIdPConfig{
		Name:      c.Name,
		PublicURL: c.IdP.PublicURL,
		AllowReturn: func(raw string) error {
			_, err := allow.Allow(raw)
			return err
		},
		Now:    env.Now,
		Logger: env.Logger.With("role", "idp"),
	}
	pub, err := url.Parse(c.IdP.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("dev idp: idp.public_url: %w", err)
	}
	cfg.FormAction = chainOrigins(c)
	// pkg/chain defaults and validates it: the registrable domain shared
	// with the issuer, so the issuer's /callback receives the session.
	cfg.CookieDomain = c.IdP.CookieDomain
	if adm, err := url.Parse(c.IdP.AdminURL); err == nil && c.IdP.AdminURL != "" {
		cfg.AdminOnPublic = adm.Scheme == pub.Scheme && strings.EqualFold(adm.Host, pub.Host)
	}
	for i, u := range c.IdP.Users {
		pw, err := u.Password.Resolve(env.LookupEnv, env.ReadFile)
		if err != nil {
			return nil, fmt.Errorf("dev idp: idp.users[%d].password: %w", i, err)
		}
		cfg.Users = append(cfg.Users, DevUser{Email: u.Email, Password: pw, Role: u.Role, Traits: u.Traits, MetadataAdmin: u.MetadataAdmin})
	}
	return NewDevIdP(cfg)
}

// Public returns the handler for the public API: whoami, the browser login
// and logout flows, the health checks and a small status page at /.
func (d *DevIdP) Public() http.Handler { return d.public }

// Admin returns the handler for the admin API: GET and DELETE
// /admin/sessions/{id}, GET /admin/identities/{id} and the health checks.
func (d *DevIdP) Admin() http.Handler { return d.admin }

// CookieDomain is the Domain the session cookie is set on; empty for a
// host-only cookie.
func (d *DevIdP) CookieDomain() string { return d.cookieDomain }

func devIdPPublicURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("dev idp: no public URL; set idp.public_url, like http://auth.company.localhost:4433")
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the input, which may hold a password
		}
		return nil, fmt.Errorf("dev idp: public URL is not a URL: %w", err)
	}
	switch {
	case u.User != nil:
		return nil, errors.New("dev idp: public URL: remove the user and password")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("dev idp: public URL %q: scheme must be http or https", raw)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("dev idp: public URL %q has no host", raw)
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "", u.ForceQuery:
		return nil, fmt.Errorf("dev idp: public URL %q must be an origin, like http://auth.company.localhost:4433", raw)
	}
	u.Host = strings.ToLower(u.Host)
	return u, nil
}

// devIdPCookieDomain checks a cookie Domain against the IdP's host the way
// a browser would (RFC 6265 §5.3 steps 4–6), so a cookie the browser would
// drop is refused at start-up instead.
func devIdPCookieDomain(host, domain string) (string, error) {
	if domain == "" {
		return "", nil
	}
	d := strings.ToLower(strings.TrimPrefix(domain, "."))
	if d == "" || strings.HasSuffix(d, ".") || strings.Contains(d, "..") {
		return "", fmt.Errorf("dev idp: cookie domain %q is not a domain name", domain)
	}
	for _, c := range d {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '.' {
			return "", fmt.Errorf("dev idp: cookie domain %q: write it in ASCII (punycode), without a port", domain)
		}
	}
	if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return "", fmt.Errorf("dev idp: cookie domain %q cannot apply to the IP address %s; leave it empty", domain, host)
	}
	if host != d && !strings.HasSuffix(host, "."+d) {
		return "", fmt.Errorf("dev idp: cookie domain %q does not cover the IdP's host %s (RFC 6265 §5.1.3); use %s or a parent of it", domain, host, host)
	}
	if ps, _ := publicsuffix.PublicSuffix(d); ps == d {
		return "", fmt.Errorf("dev idp: cookie domain %q is a public suffix, which browsers refuse; use the registrable domain, like %s", domain, devIdPRegistrable(host))
	}
	return d, nil
}

func devIdPRegistrable(host string) string {
	if s, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
		return s
	}
	return host
}

func devIdPCheckCookieName(name string, secure bool, domain string) error {
	if err := (&http.Cookie{Name: name, Value: "x"}).Valid(); err != nil {
		return fmt.Errorf("dev idp: cookie name %q: %w", name, err)
	}
	switch {
	case strings.HasPrefix(name, "__Host-") && (!secure || domain != ""):
		return fmt.Errorf("dev idp: a __Host- cookie needs https and no cookie domain")
	case strings.HasPrefix(name, "__Secure-") && !secure:
		return fmt.Errorf("dev idp: a __Secure- cookie needs https")
	}
	return nil
}

func devIdPNewUser(cu DevUser, cost int) (*devIdPUser, error) {
	addr, err := mail.ParseAddress(cu.Email)
	if err != nil || addr.Name != "" || addr.Address != cu.Email {
		return nil, fmt.Errorf("email %q is not a plain address, like alice@example.com", cu.Email)
	}
	if len(cu.Password) == 0 {
		return nil, fmt.Errorf("%s has an empty password; give every user one", cu.Email)
	}
	if len(cu.Password) > 72 {
		return nil, fmt.Errorf("%s: bcrypt reads at most 72 bytes of a password; use a shorter one", cu.Email)
	}
	hash, err := bcrypt.GenerateFromPassword(cu.Password, cost)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cu.Email, err)
	}
	traits, err := devIdPJSONCopy(cu.Traits)
	if err != nil {
		return nil, fmt.Errorf("%s: traits: %w", cu.Email, err)
	}
	if traits == nil {
		traits = map[string]any{}
	}
	metadataAdmin, err := devIdPJSONCopy(cu.MetadataAdmin)
	if err != nil {
		return nil, fmt.Errorf("%s: metadata_admin: %w", cu.Email, err)
	}
	traits["email"] = cu.Email
	var metadataPublic map[string]any
	if cu.Role != "" {
		metadataPublic = map[string]any{"role": cu.Role}
	}
	email := strings.ToLower(cu.Email)
	return &devIdPUser{id: devIdPIdentityID(email), email: email, hash: hash, traits: traits,
		metadataPublic: metadataPublic, metadataAdmin: metadataAdmin}, nil
}

// devIdPJSONCopy copies m through JSON, so the caller keeps its map and
// the IdP's answers can never fail to marshal it; nil for an empty m.
func devIdPJSONCopy(m map[string]any) (map[string]any, error) {
	if len(m) == 0 {
		return nil, nil
	}
	data, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// devIdPIdentityID derives a user's identity id from the email, so the
// same user keeps the same id (the handoff's sub) across restarts. It is a
// UUIDv8 (RFC 9562 §5.8) over SHA-256.
func devIdPIdentityID(email string) string {
	sum := sha256.Sum256([]byte("ssoctl dev idp identity\x00" + email))
	var b [16]byte
	copy(b[:], sum[:16])
	b[6] = b[6]&0x0f | 0x80
	b[8] = b[8]&0x3f | 0x80
	return devIdPFormatUUID(b)
}
