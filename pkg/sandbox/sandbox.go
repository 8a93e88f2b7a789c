// Package sandbox stands a chain file up inside the process: the dev
// identity provider, the issuer and every receiver, each on its own
// loopback listener, with the chain's URLs unchanged. A *chain.Dialer maps
// each role's host:port onto its listener, so a browser (trace chain
// --sandbox, tests, benchmarks) walks the chain by its real host names and
// every name stays its own cookie host, without DNS, a hosts file or a
// fixed port. Many sandboxes can run at once.
//
// It sits above pkg/chain and pkg/serve (DESIGN §3): pkg/chain never
// imports the roles, so whatever needs both the roles and the walk wires
// them together here or higher up.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve"
)

// Sandbox is one chain running in this process.
type Sandbox struct {
	chain   *chain.Chain
	dialer  *chain.Dialer
	client  *http.Client
	roles   *serve.Roles
	clock   *clock
	log     *slog.Logger
	servers []*server

	closeOnce sync.Once
	closeErr  error
}

// server is one role on its listener.
type server struct {
	role string
	url  string // the chain's URL for it, unchanged
	ln   net.Listener
	srv  *http.Server
	done chan error
}

// ShutdownGrace is how long Close lets requests in flight finish.
const ShutdownGrace = 5 * time.Second

// Start builds c's roles with env and serves each on a fresh 127.0.0.1:0
// listener: the dev IdP for idp.kind dev (public, and admin when admin_url
// has an origin of its own), the issuer, and every receiver that is not a
// shared-cookie receiver. For idp.kind kratos the IdP is not started: its
// URLs are used as they are, so a real Kratos must answer there.
//
// env.Now is the base of the sandbox's clock (time.Now when nil); the
// roles read the clock through Now, so Advance moves them all. The roles'
// outbound client (env.HTTPClient) is replaced by one that dials through
// Dialer, so the issuer and receivers reach the IdP by its chain URL as a
// browser does. ctx bounds only the start; Close stops the sandbox.
func Start(ctx context.Context, c *chain.Chain, env serve.Env) (*Sandbox, error) {
	if c == nil {
		return nil, errors.New("sandbox: no chain")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch c.IdP.Kind {
	case chain.IdPDev, chain.IdPKratos:
	default:
		return nil, fmt.Errorf("sandbox: idp.kind %q cannot run in a sandbox yet; use dev or kratos", c.IdP.Kind)
	}
	base := env.Now
	if base == nil {
		base = time.Now
	}
	clk := &clock{base: base}
	s := &Sandbox{
		chain: c,
		clock: clk,
		// Strict for a dev chain: every role is in here, so nothing may
		// leave the machine. A Kratos chain needs the real IdP's host.
		dialer: &chain.Dialer{Map: map[string]string{}, Strict: c.IdP.Kind == chain.IdPDev},
	}
	timeout := 10 * time.Second
	if env.HTTPClient != nil && env.HTTPClient.Timeout > 0 {
		timeout = env.HTTPClient.Timeout
	}
	s.client = &http.Client{Timeout: timeout, Transport: &http.Transport{
		DialContext:         s.dialer.DialContext,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}}
	env.HTTPClient = s.client
	env.Now = clk.Now
	if env.LookupEnv == nil {
		env.LookupEnv = os.LookupEnv
	}
	if env.ReadFile == nil {
		env.ReadFile = os.ReadFile
	}
	if env.Logger == nil {
		env.Logger = slog.New(slog.DiscardHandler)
	}
	s.log = env.Logger

	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	if c.IdP.Kind == chain.IdPDev {
		idp, err := serve.NewDevIdPFromChain(c, env)
		if err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
		obs := serve.ObserveOptions{Logger: env.Logger, Now: env.Now}
		if err := s.listen("idp", c.IdP.PublicURL, serve.Observe("idp", idp.Public(), obs)); err != nil {
			return nil, err
		}
		if c.IdP.AdminURL != "" && !sameHostPort(c.IdP.AdminURL, c.IdP.PublicURL) {
			if err := s.listen("idp admin", c.IdP.AdminURL, serve.Observe("idp-admin", idp.Admin(), obs)); err != nil {
				return nil, err
			}
		}
	}
	roles, err := serve.NewRoles(c, env, serve.RoleOptions{})
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	s.roles = roles
	if roles.Issuer == nil {
		return nil, errors.New("sandbox: the chain gives no signing key, so no issuer can run; set token.key_file")
	}
	if err := s.listen("issuer", c.Issuer.URL, roles.Issuer); err != nil {
		return nil, err
	}
	for _, r := range c.Receivers {
		h, served := roles.Receivers[r.Name]
		if !served {
			continue // a shared-cookie receiver: the walk skips it
		}
		if err := s.listen(r.Name, r.URL, h); err != nil {
			return nil, err
		}
	}
	ok = true
	return s, nil
}

// listen maps rawURL's host:port onto a new loopback listener serving h.
// Two roles on one origin would need one listener, which the chain file's
// validation already refuses.
func (s *Sandbox) listen(role, rawURL string, h http.Handler) error {
	hp, err := hostPort(rawURL)
	if err != nil {
		return fmt.Errorf("sandbox: %s: %w", role, err)
	}
	if _, dup := s.dialer.Map[hp]; dup {
		return fmt.Errorf("sandbox: %s shares %s with another role", role, hp)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("sandbox: %s: %w", role, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	sv := &server{role: role, url: rawURL, ln: ln, srv: srv, done: make(chan error, 1)}
	s.dialer.Map[hp] = ln.Addr().String()
	s.servers = append(s.servers, sv)
	go func() { sv.done <- srv.Serve(ln) }()
	return nil
}

// Dialer maps each role's URL host:port onto its listener. It is the one
// the roles dial through; callers that add mappings of their own copy it
// first (see Mapped).
func (s *Sandbox) Dialer() *chain.Dialer { return s.dialer }

// Mapped returns a copy of Dialer with extra host:port mappings added (like
// curl's --resolve); the sandbox's own mappings win over extra.
func (s *Sandbox) Mapped(extra map[string]string) *chain.Dialer {
	m := make(map[string]string, len(s.dialer.Map)+len(extra))
	for k, v := range extra {
		m[strings.ToLower(k)] = v
	}
	for k, v := range s.dialer.Map {
		m[k] = v
	}
	return &chain.Dialer{Map: m, Strict: s.dialer.Strict, Base: s.dialer.Base}
}

// Addr returns the listener address serving role ("idp", "idp admin",
// "issuer" or a receiver's name).
func (s *Sandbox) Addr(role string) (string, bool) {
	for _, sv := range s.servers {
		if sv.role == role {
			return sv.ln.Addr().String(), true
		}
	}
	return "", false
}

// Chain is the chain the sandbox runs.
func (s *Sandbox) Chain() *chain.Chain { return s.chain }

// Now is the sandbox's clock: the base clock plus every Advance so far.
// The roles read it, and so should a browser walking the sandbox, so that
// cookie and token lifetimes agree.
func (s *Sandbox) Now() time.Time { return s.clock.Now() }

// Advance moves the sandbox's clock forward by d (a probe jumping past a
// receiver's recheck interval, say). Negative d is ignored: the roles'
// stores assume time does not run backwards.
func (s *Sandbox) Advance(d time.Duration) { s.clock.Advance(d) }

// Keys is the chain's key material as the roles use it: Signing mints
// handoffs (probe variants), Verify checks them.
func (s *Sandbox) Keys() *serve.Keys { return s.roles.Keys }

// IdP is the roles' client for the identity provider; Revoke ends a
// session as a logout at the IdP would.
func (s *Sandbox) IdP() serve.IdentityProvider { return s.roles.IdP }

// Close shuts every role down, letting requests in flight finish for up to
// ShutdownGrace, and releases the listeners. It is safe to call more than
// once and from several goroutines; later calls return the first result.
func (s *Sandbox) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
		defer cancel()
		var errs []error
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, sv := range s.servers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := sv.srv.Shutdown(ctx)
				if err != nil {
					_ = sv.srv.Close()
					err = fmt.Errorf("sandbox: %s: requests still running after %s were cut short: %w", sv.role, ShutdownGrace, err)
				}
				if serr := <-sv.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
					err = errors.Join(err, fmt.Errorf("sandbox: %s: %w", sv.role, serr))
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if s.client != nil {
			s.client.CloseIdleConnections()
		}
		if s.roles != nil {
			errs = append(errs, s.roles.Close())
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// clock is a base clock plus an offset that only grows.
type clock struct {
	base   func() time.Time
	offset atomic.Int64 // nanoseconds
}

func (c *clock) Now() time.Time { return c.base().Add(time.Duration(c.offset.Load())) }

func (c *clock) Advance(d time.Duration) {
	if d > 0 {
		c.offset.Add(int64(d))
	}
}

// hostPort is the lower-case host:port a browser dials for an origin,
// with the scheme's default port filled in.
func hostPort(rawURL string) (string, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return "", fmt.Errorf("%q is not an absolute URL", rawURL)
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if rest == "" {
		return "", fmt.Errorf("%q has no host", rawURL)
	}
	if _, _, err := net.SplitHostPort(rest); err == nil {
		return strings.ToLower(rest), nil
	}
	port := "80"
	if strings.EqualFold(scheme, "https") {
		port = "443"
	}
	return strings.ToLower(net.JoinHostPort(strings.Trim(rest, "[]"), port)), nil
}

func sameHostPort(a, b string) bool {
	ha, err1 := hostPort(a)
	hb, err2 := hostPort(b)
	return err1 == nil && err2 == nil && ha == hb
}
