package serve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// Identity is who a request behind a receiver belongs to: what the
// receiver's identity headers say.
type Identity struct {
	Subject   string // the IdP identity id (X-Auth-Subject)
	SessionID string // the IdP session id (X-Auth-Session)
	Email     string // X-Auth-Email; may be empty
	Role      string // X-Auth-Role; may be empty
}

type identityKey struct{}

// IdentityFrom returns the identity RequireSession established for the
// request that ctx belongs to; ok is false outside RequireSession.
func IdentityFrom(ctx context.Context) (id Identity, ok bool) {
	id, ok = ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// WithIdentity returns ctx carrying id, as RequireSession does. The
// primary use-case for this is testing handlers that call IdentityFrom.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// RequireOption tunes RequireSession.
type RequireOption func(*requireConfig)

type requireConfig struct {
	trusted      []netip.Prefix
	authURL      string
	client       *http.Client
	unauthorized http.Handler
}

// WithTrustedProxies replaces the peers whose identity headers are
// believed (default: loopback, 127.0.0.0/8 and ::1, for a receiver on the
// same host). The peer is the TCP address the request came from
// (Request.RemoteAddr), never X-Forwarded-For, which the client writes.
func WithTrustedProxies(prefixes ...netip.Prefix) RequireOption {
	return func(c *requireConfig) { c.trusted = prefixes }
}

// WithForwardAuth makes RequireSession ask the receiver instead of reading
// headers: authURL is the receiver's /auth (say
// http://127.0.0.1:8081/auth), asked with the request's Cookie header. For
// an app that shares the receiver's host name by path (a router sends
// /sso and /auth to the receiver, the rest to the app), so the browser's
// receiver cookie reaches the app. client nil means one with a 5s
// timeout. Trusted proxies are then not consulted.
func WithForwardAuth(authURL string, client *http.Client) RequireOption {
	return func(c *requireConfig) { c.authURL, c.client = authURL, client }
}

// WithUnauthorized answers requests without a session (default: a plain
// 401). A 503 for a receiver that cannot answer is not routed here.
func WithUnauthorized(h http.Handler) RequireOption {
	return func(c *requireConfig) { c.unauthorized = h }
}

// RequireSession lets a request reach next only with a signed-in identity,
// which next reads with IdentityFrom.
//
// Trust model. By default it reads X-Auth-Subject, X-Auth-Session,
// X-Auth-Email and X-Auth-Role, and believes them only from a trusted
// proxy: a request whose TCP peer (RemoteAddr) is outside the trusted
// prefixes (WithTrustedProxies; loopback by default) is refused, headers
// or not. That is sound when the app is reachable only through
// `ssoctl serve receiver --upstream`, which sets those headers from the
// session and strips any a client sent. It is not sound when anything
// else can reach the app's port from a trusted address (another proxy
// that passes client headers through, a shell user on the host), or when
// something in front of the receiver rewrites RemoteAddr: listen on
// loopback or a private interface and keep the prefixes narrow. A request
// needs X-Auth-Subject and X-Auth-Session, each exactly once.
//
// With WithForwardAuth it trusts no header at all: it asks the receiver's
// /auth with the request's cookies and uses the headers of a 200 answer.
//
// Refusals: no identity → 401 (or WithUnauthorized); the receiver's /auth
// not answering → 503 with Retry-After, never a bypass.
func RequireSession(next http.Handler, opts ...RequireOption) http.Handler {
	c := &requireConfig{trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
	for _, o := range opts {
		o(c)
	}
	if c.unauthorized == nil {
		c.unauthorized = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "Unauthorized: sign in through the receiver first", http.StatusUnauthorized)
		})
	}
	if c.authURL != "" && c.client == nil {
		c.client = &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var id Identity
		var err error
		if c.authURL != "" {
			id, err = c.askReceiver(r)
		} else {
			id, err = c.fromHeaders(r)
		}
		switch {
		case err == nil:
			next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
		case errors.Is(err, errNotSignedIn):
			c.unauthorized.ServeHTTP(w, r)
		default:
			w.Header().Set("Retry-After", "5")
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "Service Unavailable: the sign-in service did not answer", http.StatusServiceUnavailable)
		}
	})
}

func (c *requireConfig) fromHeaders(r *http.Request) (Identity, error) {
	if !c.trustedPeer(r.RemoteAddr) {
		return Identity{}, errNotSignedIn
	}
	return identityOf(r.Header)
}

func (c *requireConfig) trustedPeer(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range c.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// identityOf reads the identity headers; subject and session must each be
// there exactly once (two values mean two writers, one of them not the
// receiver).
func identityOf(h http.Header) (Identity, error) {
	one := func(name string) (string, bool) {
		v := h.Values(name)
		if len(v) != 1 {
			return "", len(v) == 0
		}
		return strings.TrimSpace(v[0]), true
	}
	sub, ok1 := one(HeaderSubject)
	sid, ok2 := one(HeaderSession)
	email, ok3 := one(HeaderEmail)
	role, ok4 := one(HeaderRole)
	if !ok1 || !ok2 || !ok3 || !ok4 || sub == "" || sid == "" {
		return Identity{}, errNotSignedIn
	}
	return Identity{Subject: sub, SessionID: sid, Email: email, Role: role}, nil
}

func (c *requireConfig) askReceiver(r *http.Request) (Identity, error) {
	cookies := r.Header.Values("Cookie")
	if len(cookies) == 0 {
		return Identity{}, errNotSignedIn
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, c.authURL, nil)
	if err != nil {
		return Identity{}, err
	}
	req.Header.Set("Cookie", strings.Join(cookies, "; "))
	resp, err := c.client.Do(req)
	if err != nil {
		return Identity{}, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return identityOf(resp.Header)
	case http.StatusUnauthorized, http.StatusForbidden:
		return Identity{}, errNotSignedIn
	}
	return Identity{}, errors.New("forward auth: unexpected status " + resp.Status)
}
