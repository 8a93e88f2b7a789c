package serve

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// Env is how the roles reach the world: secrets from the environment and
// files, outbound HTTP (to the IdP, to a JWKS URL), the clock and the log.
// Tests replace HTTPClient with one whose dialer maps the chain's host names
// onto loopback listeners.
type Env struct {
	LookupEnv  func(string) (string, bool)
	ReadFile   func(string) ([]byte, error)
	HTTPClient *http.Client
	Now        func() time.Time
	Logger     *slog.Logger
}

func (e *Env) defaults() {
	if e.LookupEnv == nil {
		e.LookupEnv = os.LookupEnv
	}
	if e.ReadFile == nil {
		e.ReadFile = os.ReadFile
	}
	if e.HTTPClient == nil {
		e.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.Logger == nil {
		e.Logger = slog.New(slog.DiscardHandler)
	}
}

// Keys is the key material of one chain, resolved from its file.
type Keys struct {
	// Signing mints handoffs (issuer; relay receivers). Nil on a role that
	// only verifies an asymmetric chain.
	Signing *token.Key
	// Verify checks handoffs: the shared secret, or the issuer's public key.
	Verify token.KeySource
	// JWKS is the issuer's published key set; nil for HS256.
	JWKS []byte
	// root derives the roles' cookie and state keys; previous are the
	// roots of token.previous_secrets, whose derived keys still open what
	// they sealed.
	root     []byte
	previous [][]byte
}

// ErrNeedsSecret is a chain that needs a secret it does not give.
var ErrNeedsSecret = errors.New("chain needs a secret")

// ResolveKeys reads the chain's token keys; signing says whether the
// process mints (runs the issuer). An HS256 chain's secret comes
// from token.secret; with dev: true and no secret, a random one is made,
// which works only while every role runs in this one process (serve dev,
// trace --sandbox). Cookie and state keys are derived from the same root
// with HKDF, one per role and purpose.
func ResolveKeys(c *chain.Chain, env Env, signing bool) (*Keys, error) {
	env.defaults()
	t := c.Token
	if t.Alg == token.HS256 {
		var secret []byte
		if t.Secret.IsZero() {
			if !c.Dev {
				return nil, fmt.Errorf("%w: token.secret is required for HS256 (dev: true generates one for a single process)", ErrNeedsSecret)
			}
			secret = randomSecret()
		} else {
			s, err := t.Secret.Resolve(env.LookupEnv, env.ReadFile)
			if err != nil {
				return nil, fmt.Errorf("token.secret: %w", err)
			}
			secret = s
		}
		key, err := token.NewHMACKey("", secret)
		if err != nil {
			return nil, fmt.Errorf("token.secret: %w", err)
		}
		previous, err := resolvePrevious("token", secret, t.PreviousSecrets, env)
		if err != nil {
			return nil, err
		}
		// The ring mints with its first key, the current one; the
		// previous ones only verify. A kid is derived from its secret, so
		// a token names the key it was signed with.
		ring, _ := token.NewKeyRing(key)
		for i, p := range previous {
			old, err := token.NewHMACKey("", p)
			if err == nil {
				err = ring.Add(old)
			}
			if err != nil {
				return nil, fmt.Errorf("token.previous_secrets[%d]: %w", i, err)
			}
		}
		return &Keys{Signing: key, Verify: ring, root: secret, previous: previous}, nil
	}
	k := &Keys{}
	// The issuer signs with token.key_file; receivers verify with the
	// published set at token.jwks_url when there is one, so a receiver's
	// host never needs the private key.
	if t.KeyFile != "" && (signing || t.JWKSURL == "") {
		data, err := env.ReadFile(t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("token.key_file: %w", err)
		}
		keys, err := token.ParseKeys(data, "", t.Alg)
		if err != nil {
			return nil, fmt.Errorf("token.key_file: %w", err)
		}
		if len(keys) != 1 || !keys[0].CanSign() {
			return nil, errors.New("token.key_file must hold exactly one private key")
		}
		k.Signing = keys[0]
		if k.JWKS, err = token.MarshalJWKS(k.Signing); err != nil {
			return nil, err
		}
		k.Verify, _ = token.NewKeyRing(k.Signing.Public())
	}
	if t.JWKSURL != "" {
		src, err := token.NewRemoteJWKS(t.JWKSURL, token.WithHTTPClient(env.HTTPClient), token.WithJWKSClock(env.Now))
		if err != nil {
			return nil, fmt.Errorf("token.jwks_url: %w", err)
		}
		k.Verify = src
	}
	if k.Verify == nil {
		return nil, fmt.Errorf("token.alg %s needs token.key_file or token.jwks_url", t.Alg)
	}
	if c.Dev {
		// Roles without their own cookie.secret derive it from this; it
		// lives as long as the process.
		k.root = randomSecret()
	}
	return k, nil
}

// resolvePrevious reads the previous_secrets beside a current secret
// (under field, "token" or "<role> cookie"). One that is the current
// secret again, or another one twice, is a mistake in the rotation: an
// error, which names the fields and never a value.
func resolvePrevious(field string, current []byte, refs []chain.SecretRef, env Env) ([][]byte, error) {
	previous := make([][]byte, 0, len(refs))
	for i, ref := range refs {
		s, err := ref.Resolve(env.LookupEnv, env.ReadFile)
		if err != nil {
			return nil, fmt.Errorf("%s.previous_secrets[%d]: %w", field, i, err)
		}
		if len(s) < MinSealKey {
			return nil, fmt.Errorf("%s.previous_secrets[%d] is %d bytes; at least %d are needed", field, i, len(s), MinSealKey)
		}
		if subtle.ConstantTimeCompare(s, current) == 1 {
			return nil, fmt.Errorf("%s.previous_secrets[%d] holds the same secret as %s.secret; list only the key being retired", field, i, field)
		}
		for j, p := range previous {
			if subtle.ConstantTimeCompare(s, p) == 1 {
				return nil, fmt.Errorf("%s.previous_secrets[%d] holds the same secret as %s.previous_secrets[%d]", field, i, field, j)
			}
		}
		previous = append(previous, s)
	}
	return previous, nil
}

func randomSecret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

// Sealer returns the sealer of one role ("issuer", or a receiver's
// name), whose cookie is ck: keyed by ck.secret when the chain gives one,
// else derived from the chain's root secret. Keys are independent per
// role either way, so one role's cookie never opens at another. What the
// previous secrets (ck.previous_secrets, or token.previous_secrets for a
// derived key) sealed still opens.
func (k *Keys) Sealer(role string, ck chain.Cookie, env Env) (*Sealer, error) {
	root, previous, err := k.roleRoot(role, ck, env)
	if err != nil {
		return nil, err
	}
	return roleSealer(root, previous, role)
}

// roleSealer is the sealer of one role with the key material roleRoot
// gave.
func roleSealer(root []byte, previous [][]byte, role string) (*Sealer, error) {
	key, err := DeriveKey(root, "seal:"+role)
	if err != nil {
		return nil, err
	}
	old := make([][]byte, len(previous))
	for i, p := range previous {
		if old[i], err = DeriveKey(p, "seal:"+role); err != nil {
			return nil, err
		}
	}
	return NewSealer(key, old...)
}

// roleRoot is the key material of one role's own keys, current and
// previous: its cookie.secret and cookie.previous_secrets when the chain
// gives a cookie.secret, else the chain's root secrets.
func (k *Keys) roleRoot(role string, ck chain.Cookie, env Env) (root []byte, previous [][]byte, err error) {
	env.defaults()
	if !ck.Secret.IsZero() {
		s, err := ck.Secret.Resolve(env.LookupEnv, env.ReadFile)
		if err != nil {
			return nil, nil, fmt.Errorf("%s cookie.secret: %w", role, err)
		}
		previous, err := resolvePrevious(role+" cookie", s, ck.PreviousSecrets, env)
		if err != nil {
			return nil, nil, err
		}
		return s, previous, nil
	}
	if k.root == nil {
		return nil, nil, fmt.Errorf("%w: %s needs cookie.secret (an asymmetric chain has no shared secret to derive it from)", ErrNeedsSecret, role)
	}
	return k.root, k.previous, nil
}

// NewIdentityProvider returns the client the roles use for the chain's IdP.
// Kratos and the dev IdP share one client (client-go).
func NewIdentityProvider(c *chain.Chain, env Env) (IdentityProvider, error) {
	env.defaults()
	switch c.IdP.Kind {
	case chain.IdPDev, chain.IdPKratos:
		return NewKratos(c.IdP.PublicURL, c.IdP.AdminURL, env.HTTPClient, WithKratosClock(env.Now))
	case chain.IdPOIDC:
		// The issuer asks the provider again as often as the most demanding
		// receiver re-checks.
		var every time.Duration
		for _, r := range c.Walked() {
			if r.RecheckInterval > 0 && (every == 0 || r.RecheckInterval < every) {
				every = r.RecheckInterval
			}
		}
		o := OIDCOptions{RecheckInterval: every}
		if c.Store.Memory != nil {
			o.MaxSessions = c.Store.Memory.MaxSessions
		}
		return NewOIDC(c, env, o)
	}
	return nil, fmt.Errorf("idp.kind %q is not supported yet", c.IdP.Kind)
}

// Roles is a chain's issuer and receivers, built from one file with shared
// key material, ready to be mounted on their listeners.
type Roles struct {
	Issuer    http.Handler
	Receivers map[string]http.Handler // by receiver name
	IdP       IdentityProvider
	Keys      *Keys

	issuer   *Issuer            // nil unless this process runs the issuer
	stop     context.CancelFunc // ends the receivers' revocation subscriptions
	follows  sync.WaitGroup     // followRevocations' retries
	closers  []func() error     // the receivers' Redis connection pools
	stopping atomic.Bool        // set by Stopping: every /readyz answers 503
}

// Stopping marks the roles as shutting down: from now on every role's
// /readyz answers 503 "shutting down" without asking its dependencies,
// while the roles go on serving everything else. A load balancer that
// probes /readyz stops sending new requests before the listeners close
// (serve's --drain-delay). It cannot be undone.
func (roles *Roles) Stopping() { roles.stopping.Store(true) }

// Drain waits until the work the roles started for requests and still run
// after answering has ended, or ctx is done: the back-channel logout
// deliveries a /logout started. Call it after the servers have stopped
// taking requests, before Close.
func (roles *Roles) Drain(ctx context.Context) error {
	return roles.issuer.DrainLogouts(ctx)
}

// Close stops what the roles run in the background (each receiver's
// subscription to the chain's revocations) and closes their Redis
// connections; receivers on Redis fail closed after it (503). With memory
// stores there is nothing to stop. Calling it again does nothing.
func (roles *Roles) Close() error {
	if roles.stop != nil {
		roles.stop()
	}
	roles.follows.Wait()
	var errs []error
	for _, c := range roles.closers {
		errs = append(errs, c())
	}
	roles.closers = nil
	return errors.Join(errs...)
}

// RoleOptions tune NewRoles.
type RoleOptions struct {
	// RecheckInterval overrides every receiver's recheck_interval; zero
	// keeps the chain file's.
	RecheckInterval time.Duration
	// Only builds just these roles ("issuer" and receiver names); empty
	// builds them all.
	Only []string
}

func (o RoleOptions) wants(role string) bool {
	if len(o.Only) == 0 {
		return true
	}
	for _, r := range o.Only {
		if r == role {
			return true
		}
	}
	return false
}

// NewRoles builds the issuer and every receiver of c, each wrapped with
// request ids, logging, metrics, /healthz, /readyz and /metrics. Each role
// has its own Metrics, served at its own /metrics. A receiver on Redis
// stores follows the chain's revocations until Close.
func NewRoles(c *chain.Chain, env Env, o RoleOptions) (_ *Roles, err error) {
	env.defaults()
	keys, err := ResolveKeys(c, env, o.wants("issuer"))
	if err != nil {
		return nil, err
	}
	idp, err := NewIdentityProvider(c, env)
	if err != nil {
		return nil, err
	}
	if p, ok := idp.(*OIDC); ok && !o.wants("issuer") {
		// A receiver apart from the issuer: the OIDC sessions are the
		// issuer's to tell (oidc_sessions.go).
		p.apart = true
		if key := sessionAPIKey(keys.root); key != nil {
			p.askIssuerForSessions(c.Issuer.URL, key)
		}
	}
	ctx, stop := context.WithCancel(context.Background())
	roles := &Roles{Receivers: map[string]http.Handler{}, IdP: idp, Keys: keys, stop: stop}
	defer func() {
		if err != nil {
			_ = roles.Close()
		}
	}()
	ready := func(ctx context.Context) error {
		if err := idp.Ready(ctx); err != nil {
			return Unavailable("identity provider", err)
		}
		return nil
	}
	if keys.Signing != nil && o.wants("issuer") {
		root, previous, err := keys.roleRoot("issuer", c.Issuer.Cookie, env)
		if err != nil {
			return nil, err
		}
		sealer, err := roleSealer(root, previous, "issuer")
		if err != nil {
			return nil, err
		}
		p, _ := idp.(*OIDC)
		logoutJTIs, storesReady, closer, err := issuerStores(c, p, root, previous, env) // stores.go
		if err != nil {
			return nil, err
		}
		if closer != nil {
			roles.closers = append(roles.closers, closer)
		}
		ready := allReady(ready, storesReady) // the issuer's /readyz also pings its stores
		apps, err := ResolveApps(c, env)      // introspect.go
		if err != nil {
			return nil, err
		}
		metrics := NewMetrics()
		is, err := NewIssuer(IssuerConfig{
			Chain: c, IdP: idp, Key: keys.Signing, JWKS: keys.JWKS, Sealer: sealer,
			Now: env.Now, Logger: env.Logger.With("role", "issuer"), Metrics: metrics,
			BackchannelClient: env.HTTPClient, Apps: apps,
			SessionAPIKey: oidcSessionAPIKey(idp, keys), PreviousSessionAPIKeys: previousSessionAPIKeys(idp, keys),
			LogoutReplay: logoutJTIs,
		})
		if err != nil {
			return nil, err
		}
		roles.issuer = is
		roles.Issuer = mountRole("issuer", is, roles.unlessStopping(ready), metrics, env)
	}
	for _, r := range c.Receivers {
		if r.SharedCookie || !o.wants(r.Name) {
			continue
		}
		sealer, err := keys.Sealer(r.Name, r.Cookie, env)
		if err != nil {
			return nil, err
		}
		metrics := NewMetrics()
		replay, revocations, storesReady, err := newReceiverStores(c, r.Name, env) // stores.go
		if err != nil {
			return nil, fmt.Errorf("receiver %s: %w", r.Name, err)
		}
		shared, isShared := revocations.(sharedRevocations)
		if isShared {
			roles.closers = append(roles.closers, shared.Close)
		}
		ready := allReady(ready, storesReady) // this receiver's /readyz also pings its stores
		// A fresh Metrics has nothing registered yet, so none of these can fail.
		_ = metrics.RegisterStoreSize("replay", replay.Len)
		_ = metrics.RegisterStoreSize("revocations", revocations.Len)
		if isShared { // whether /auth answers from the mirror or asks Redis
			_ = metrics.RegisterRevocationMirror(shared.Current)
		}
		var upstream *url.URL
		if r.Upstream != "" {
			if upstream, err = ParseUpstream(r.Upstream); err != nil {
				return nil, fmt.Errorf("receiver %s upstream: %w", r.Name, err)
			}
		}
		rc, err := NewReceiver(ReceiverConfig{
			Chain: c, Name: r.Name, IdP: idp, Keys: keys.Verify, Sealer: sealer,
			Replay: replay, Revocations: revocations, RecheckInterval: cmp.Or(o.RecheckInterval, r.RecheckInterval),
			Now: env.Now, Logger: env.Logger.With("role", r.Name), Metrics: metrics,
			Upstream: upstream, UpstreamTransport: env.HTTPClient.Transport,
			Signer: keys.Signing, // used in relay mode only
		})
		if err != nil {
			return nil, err
		}
		if isShared { // stores.go: every instance drops its cached IdP check at once
			followRevocations(ctx, &roles.follows, shared, rc.forget, env.Logger.With("role", r.Name))
		}
		roles.Receivers[r.Name] = mountRole(r.Name, rc, roles.unlessStopping(ready), metrics, env)
	}
	return roles, nil
}

// unlessStopping is a role's readiness check: ErrShuttingDown once
// Stopping was called, else ready's answer. The flag is read again after
// ready returns, so that probes sharing a check begun before Stopping
// (Health coalesces them) hear of the shutdown too.
func (roles *Roles) unlessStopping(ready func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		if roles.stopping.Load() {
			return ErrShuttingDown
		}
		err := ready(ctx)
		if roles.stopping.Load() {
			return ErrShuttingDown
		}
		return err
	}
}

// routedRole is a role handler that serves from its own ServeMux.
type routedRole interface {
	http.Handler
	routes() *http.ServeMux
}

func (rc *Receiver) routes() *http.ServeMux { return rc.mux }
func (is *Issuer) routes() *http.ServeMux   { return is.mux }

// mountRole adds /healthz, /readyz and /metrics to a role's own paths, in
// its own ServeMux so that a request is routed once, and puts the role
// behind Observe.
func mountRole(role string, h routedRole, ready func(context.Context) error, m *Metrics, env Env) http.Handler {
	healthz, readyz := Health(ready)
	mux := h.routes()
	mux.Handle("/healthz", healthz)
	mux.Handle("/readyz", readyz)
	mux.Handle("/metrics", m.Handler())
	return Observe(role, h, ObserveOptions{Logger: env.Logger, Metrics: m, Now: env.Now})
}

// oidcSessionAPIKey is the issuer's session API credential for an OIDC
// chain with a shared secret; nil otherwise.
func oidcSessionAPIKey(idp IdentityProvider, keys *Keys) []byte {
	if _, ok := idp.(*OIDC); !ok {
		return nil
	}
	return sessionAPIKey(keys.root)
}

// previousSessionAPIKeys are the session API credentials derived from
// token.previous_secrets, which the issuer still accepts: during a
// rotation a receiver may send the other one.
func previousSessionAPIKeys(idp IdentityProvider, keys *Keys) [][]byte {
	if _, ok := idp.(*OIDC); !ok {
		return nil
	}
	var old [][]byte
	for _, p := range keys.previous {
		old = append(old, sessionAPIKey(p))
	}
	return old
}
