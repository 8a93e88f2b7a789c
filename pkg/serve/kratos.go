package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	client "github.com/ory/client-go"
	"golang.org/x/net/http/httpguts"
)

// ErrNoAdminAPI means the chain gives no Kratos admin URL, so a session
// cannot be looked up or revoked by id. Roles that need it fall back to
// what the browser's cookie proves, or refuse.
var ErrNoAdminAPI = errors.New("no identity-provider admin API configured (set idp.admin_url)")

// Kratos is the IdentityProvider for Ory Kratos, self-hosted or on Ory
// Network, and for the development IdP, which speaks the same API subset.
// It talks to Kratos through github.com/ory/client-go, except for the
// session lookup by id (Session), which a receiver makes on every handoff:
// that one call is a plain GET decoded into the few fields the chain reads
// (see Session).
//
// Every call fails closed: an IdP that cannot be asked is
// ErrIdPUnavailable, an IdP that says no is ErrNoSession, and anything the
// client cannot make sense of is a plain error. Cookie values and session
// tokens never appear in errors.
type Kratos struct {
	public    *client.APIClient
	admin     *client.APIClient // nil without an admin URL
	adminBase string            // the admin API's URL, no trailing slash
	http      *http.Client
	readyURL  string
	now       func() time.Time
}

var (
	_ IdentityProvider    = (*Kratos)(nil)
	_ AdminMetadataReader = (*Kratos)(nil)
)

// KratosOption tunes NewKratos.
type KratosOption func(*Kratos)

// WithKratosClock sets the clock that decides whether a session Kratos
// returns has expired; the primary use is testing. The default is
// time.Now.
func WithKratosClock(now func() time.Time) KratosOption {
	return func(k *Kratos) {
		if now != nil {
			k.now = now
		}
	}
}

// kratosMaxBody bounds what the client reads from Kratos: a session with
// its identity is a few KiB, so anything near this is not Kratos.
const kratosMaxBody = 1 << 20

// kratosDefaultTimeout applies when the given client has no timeout of its
// own, so a hung IdP turns into ErrIdPUnavailable instead of a hung login.
const kratosDefaultTimeout = 10 * time.Second

// NewKratos returns a client for the Kratos public API at publicURL and,
// when adminURL is not empty, its admin API. client decides where host
// names resolve and how long a call may take; nil means the default
// transport. Its cookie jar and redirect policy are not used: Kratos
// answers the calls made here directly, and following a redirect could
// send a session token to another host.
func NewKratos(publicURL, adminURL string, hc *http.Client, opts ...KratosOption) (*Kratos, error) {
	pub, err := kratosBaseURL("public", publicURL)
	if err != nil {
		return nil, err
	}
	k := &Kratos{now: time.Now, http: kratosHTTPClient(hc)}
	k.public = client.NewAPIClient(kratosConfiguration(pub, k.http))
	k.readyURL = pub + "/health/ready"
	if adminURL != "" {
		adm, err := kratosBaseURL("admin", adminURL)
		if err != nil {
			return nil, err
		}
		k.admin = client.NewAPIClient(kratosConfiguration(adm, k.http))
		k.adminBase = adm
	}
	for _, o := range opts {
		o(k)
	}
	return k, nil
}

// kratosBaseURL checks a Kratos API URL and returns it without a trailing
// slash. A path is allowed (Kratos behind a path prefix); userinfo is not,
// since it would end up in error text.
func kratosBaseURL(which, raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the input, which may hold a password
		}
		return "", fmt.Errorf("kratos %s URL is not a URL: %w", which, err)
	}
	switch {
	case u.User != nil:
		return "", fmt.Errorf("kratos %s URL: remove the user and password from the URL", which)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("kratos %s URL %q: scheme must be http or https", which, raw)
	case u.Host == "":
		return "", fmt.Errorf("kratos %s URL %q: no host", which, raw)
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "", fmt.Errorf("kratos %s URL %q: remove the query and fragment", which, raw)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

const kratosUserAgent = "ssoctl (ory-client-go)"

func kratosConfiguration(base string, hc *http.Client) *client.Configuration {
	cfg := client.NewConfiguration()
	cfg.Servers = client.ServerConfigurations{{URL: base}}
	cfg.OperationServers = nil
	cfg.HTTPClient = hc
	cfg.UserAgent = kratosUserAgent
	return cfg
}

// kratosHTTPClient copies hc for the IdP calls: same transport and
// timeout, no cookie jar (a whoami answer must never feed the next user's
// request), no redirects, and a bounded response body.
func kratosHTTPClient(hc *http.Client) *http.Client {
	var base http.RoundTripper = http.DefaultTransport
	timeout := kratosDefaultTimeout
	if hc != nil {
		if hc.Transport != nil {
			base = hc.Transport
		}
		if hc.Timeout > 0 {
			timeout = hc.Timeout
		}
	}
	return &http.Client{
		Transport: kratosLimitTransport{base: base},
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Whoami asks Kratos who the browser's Cookie header or a session token
// belongs to (FrontendAPI.ToSession, GET /sessions/whoami).
func (k *Kratos) Whoami(ctx context.Context, cookieHeader, sessionToken string) (*Session, error) {
	if cookieHeader == "" && sessionToken == "" {
		return nil, fmt.Errorf("%w: the request carries no cookie and no session token", ErrNoSession)
	}
	if !httpguts.ValidHeaderFieldValue(cookieHeader) || !httpguts.ValidHeaderFieldValue(sessionToken) {
		return nil, fmt.Errorf("%w: the cookie header or session token holds characters HTTP does not allow", ErrNoSession)
	}
	req := k.public.FrontendAPI.ToSession(ctx)
	if cookieHeader != "" {
		req = req.Cookie(cookieHeader)
	}
	if sessionToken != "" {
		req = req.XSessionToken(sessionToken)
	}
	s, resp, err := req.Execute()
	if err := kratosResult("whoami", resp, err); err != nil {
		return nil, err
	}
	return k.session("whoami", kratosDoc(s))
}

// Session looks a session up by id through the admin API: GET
// /admin/sessions/{id}?expand=Identity, the request client-go's
// IdentityAPI.GetSession makes, decoded here into the fields the chain
// reads (kratosSessionDoc). A receiver makes this call on every handoff and
// client-go's generated models decode each object three times, which was
// more than half the CPU of a handoff (docs/PERFORMANCE.md). The answer is
// read under the same limits and mapped to the same errors as every other
// call.
func (k *Kratos) Session(ctx context.Context, id string) (*Session, error) {
	const op = "get session"
	if k.admin == nil {
		return nil, ErrNoAdminAPI
	}
	id, ok := kratosSessionID(id)
	if !ok {
		return nil, fmt.Errorf("%w: the session id is not a UUID", ErrNoSession)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.adminBase+"/admin/sessions/"+id+"?expand=Identity", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", kratosUserAgent)
	resp, err := k.http.Do(req)
	if err != nil {
		return nil, kratosResult(op, nil, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	switch {
	case errors.Is(err, errKratosTooLarge):
		return nil, kratosResult(op, resp, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %s: reading the answer: %w", ErrIdPUnavailable, op, err)
	case resp.StatusCode >= 300:
		var e struct {
			Error struct {
				ID string `json:"id"`
			} `json:"error"`
		}
		_ = jsonv2.Unmarshal(body, &e) // an error body that is not Kratos's just has no id
		return nil, kratosStatusError(op, resp, e.Error.ID)
	}
	// JSON v2 decodes in one pass (v1 validates the whole body first) and
	// refuses duplicate member names, which v1 would resolve silently.
	var doc kratosSessionDoc
	if err := jsonv2.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("identity provider answered %s with %s that is not a Kratos session: %w", op, resp.Status, err)
	}
	if doc.ID != "" && doc.ID != id {
		return nil, fmt.Errorf("identity provider answered get session with another session's id")
	}
	return k.session(op, doc)
}

// kratosSessionDoc is the part of a Kratos session document (with its
// identity expanded) that the chain reads. Everything else, devices,
// authentication methods, the identity's schema and addresses, is skipped
// without being decoded.
type kratosSessionDoc struct {
	ID              string             `json:"id"`
	Active          *bool              `json:"active"`
	AuthenticatedAt *time.Time         `json:"authenticated_at"`
	ExpiresAt       *time.Time         `json:"expires_at"`
	Identity        *kratosIdentityDoc `json:"identity"`
}

// kratosIdentityDoc is the part of a session's identity the chain reads.
type kratosIdentityDoc struct {
	ID             string         `json:"id"`
	Traits         any            `json:"traits"`
	MetadataPublic map[string]any `json:"metadata_public"`
}

// kratosDoc narrows a session client-go decoded (whoami) to the same
// fields.
func kratosDoc(s *client.Session) kratosSessionDoc {
	if s == nil {
		return kratosSessionDoc{}
	}
	d := kratosSessionDoc{ID: s.Id, Active: s.Active, AuthenticatedAt: s.AuthenticatedAt, ExpiresAt: s.ExpiresAt}
	if id := s.Identity; id != nil {
		d.Identity = &kratosIdentityDoc{ID: id.Id, Traits: id.Traits, MetadataPublic: id.MetadataPublic}
	}
	return d
}

// SessionWithAdminMetadata is Session plus the identity's metadata_admin,
// read through IdentityAPI.GetIdentity (GET /admin/identities/{id}): that is
// the only Kratos endpoint that returns it. Kratos v1 drops metadata_admin
// from every identity inside a session document, the admin API's
// GetSession with the identity expanded included (identity.Identity's
// MarshalJSON), so a session lookup alone can never carry it.
func (k *Kratos) SessionWithAdminMetadata(ctx context.Context, id string) (*Session, error) {
	s, err := k.Session(ctx, id)
	if err != nil {
		return nil, err
	}
	identityID, ok := kratosSessionID(s.IdentityID) // identity ids are UUIDs too
	if !ok {
		return nil, fmt.Errorf("identity provider answered get session with an identity id that is not a UUID")
	}
	ident, resp, err := k.admin.IdentityAPI.GetIdentity(ctx, identityID).Execute()
	if err := kratosResult("get identity", resp, err); err != nil {
		return nil, err
	}
	if ident == nil || !strings.EqualFold(ident.Id, identityID) {
		return nil, fmt.Errorf("identity provider answered get identity with another identity's id")
	}
	s.MetadataAdmin = ident.MetadataAdmin
	return s, nil
}

// Revoke ends a session through the admin API (IdentityAPI.DisableSession).
// Kratos answers 404 for a session it does not know; that is not an error
// here, so revoking stays idempotent.
func (k *Kratos) Revoke(ctx context.Context, id string) error {
	if k.admin == nil {
		return ErrNoAdminAPI
	}
	id, ok := kratosSessionID(id)
	if !ok {
		return errors.New("revoke session: the session id is not a UUID")
	}
	resp, err := k.admin.IdentityAPI.DisableSession(ctx, id).Execute()
	if err != nil && resp != nil && resp.StatusCode == http.StatusNotFound {
		return nil
	}
	err = kratosResult("revoke session", resp, err)
	if errors.Is(err, ErrNoSession) {
		// 401 and 403 here mean the admin API refused us, not the user.
		return fmt.Errorf("revoke session: the admin API refused the call (%d); check idp.admin_url", resp.StatusCode)
	}
	return err
}

// Ready asks Kratos's health endpoint on the public API (GET
// /health/ready), the one browsers and whoami depend on. (On the admin
// port Kratos v1 only redirects /health/ready to /admin/health/ready, and
// this client follows no redirects.)
func (k *Kratos) Ready(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.readyURL, nil)
	if err != nil {
		return err
	}
	resp, err := k.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: health check: %w", ErrIdPUnavailable, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: health check answered %s", ErrIdPUnavailable, resp.Status)
	}
	return nil
}

// session turns a Kratos session into the chain's, refusing one that
// cannot carry a login.
func (k *Kratos) session(op string, s kratosSessionDoc) (*Session, error) {
	if s.ID == "" {
		return nil, fmt.Errorf("identity provider answered %s without a session", op)
	}
	if s.Identity == nil || s.Identity.ID == "" {
		return nil, fmt.Errorf("identity provider answered %s with a session without an identity", op)
	}
	out := &Session{
		ID:         s.ID,
		IdentityID: s.Identity.ID,
		Active:     s.Active != nil && *s.Active,
	}
	if s.AuthenticatedAt != nil {
		out.AuthenticatedAt = *s.AuthenticatedAt
	}
	if s.ExpiresAt != nil {
		out.ExpiresAt = *s.ExpiresAt
	}
	// The identity's metadata_admin stays unread: a session document never
	// carries it from Kratos, so one that does is not to be trusted with it.
	if traits, ok := s.Identity.Traits.(map[string]any); ok {
		out.Traits = traits
		out.Email, _ = traits["email"].(string)
	}
	// The role is metadata_public.role, which whoami and the admin session
	// lookup both return and only the admin API can write. traits.role is
	// never read: Kratos's registration and settings flows let a user set
	// their own traits, and apps trust X-Auth-Role.
	out.Role, _ = s.Identity.MetadataPublic["role"].(string)
	now := k.now()
	switch {
	case !out.Active:
		return nil, fmt.Errorf("%w: %s: session is not active", ErrNoSession, op)
	case !out.Usable(now):
		return nil, fmt.Errorf("%w: %s: session expired at %s", ErrNoSession, op, out.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return out, nil
}

// kratosResult maps what client-go returned to the chain's errors.
func kratosResult(op string, resp *http.Response, err error) error {
	if err == nil {
		return nil
	}
	var apiErr *client.GenericOpenAPIError
	switch {
	case errors.Is(err, errKratosTooLarge):
		return fmt.Errorf("identity provider answered %s with more than %d bytes; check idp.public_url and idp.admin_url", op, kratosMaxBody)
	case resp == nil:
		// The call never got an answer: refused, reset, timed out.
		return fmt.Errorf("%w: %s: %w", ErrIdPUnavailable, op, err)
	case !errors.As(err, &apiErr):
		// An answer that broke off while being read.
		return fmt.Errorf("%w: %s: reading the answer: %w", ErrIdPUnavailable, op, err)
	case resp.StatusCode < 300:
		return fmt.Errorf("identity provider answered %s with %s that is not a Kratos session: %s", op, resp.Status, apiErr.Error())
	}
	return kratosStatusError(op, resp, kratosErrorID(apiErr))
}

// kratosStatusError maps an answer of 300 or more to the chain's errors.
// errorID is the Kratos error id from the body ("session_inactive"), or "".
func kratosStatusError(op string, resp *http.Response, errorID string) error {
	code := resp.StatusCode
	what := fmt.Sprintf("%s: identity provider answered %s%s", op, resp.Status, safeErrorID(errorID))
	switch {
	case code == http.StatusUnauthorized, code == http.StatusForbidden, code == http.StatusNotFound:
		return fmt.Errorf("%w: %s", ErrNoSession, what)
	case code == http.StatusTooManyRequests, code >= 500:
		return fmt.Errorf("%w: %s", ErrIdPUnavailable, what)
	case code < 400:
		return fmt.Errorf("%s; the Kratos API does not redirect, so idp.public_url or idp.admin_url likely points at a page rather than the API", what)
	}
	return errors.New(what)
}

// kratosErrorID is the Kratos error id of a client-go error, when the
// body was Kratos's error envelope.
func kratosErrorID(e *client.GenericOpenAPIError) string {
	m, ok := e.Model().(client.ErrorGeneric)
	if !ok || m.Error.Id == nil {
		return ""
	}
	return *m.Error.Id
}

// safeErrorID names a Kratos error id (" (session_inactive)") for an error
// message. The id is a fixed vocabulary; anything else in the body, and an
// id that is not of that vocabulary's shape, stays out of errors.
func safeErrorID(id string) string {
	if id == "" || len(id) > 64 {
		return ""
	}
	for _, c := range id {
		if c != '_' && c != '-' && (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return ""
		}
	}
	return " (" + id + ")"
}

// kratosSessionID accepts a session id in the UUID form Kratos gives out
// and returns it in lower case. Anything else cannot name a Kratos session
// and is refused before it reaches a URL path (client-go path-escapes the
// id, but "." and ".." survive escaping).
func kratosSessionID(id string) (string, bool) {
	if len(id) != 36 {
		return "", false
	}
	b := []byte(strings.ToLower(id))
	for i, c := range b {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return "", false
			}
		}
	}
	return string(b), true
}

// errKratosTooLarge is a Kratos answer past kratosMaxBody.
var errKratosTooLarge = errors.New("response body too large")

// kratosLimitTransport bounds response bodies; client-go reads them whole.
type kratosLimitTransport struct{ base http.RoundTripper }

func (t kratosLimitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	resp.Body = &kratosLimitedBody{rc: resp.Body, left: kratosMaxBody}
	return resp, nil
}

// CloseIdleConnections passes through, so http.Client.CloseIdleConnections
// still reaches the caller's transport.
func (t kratosLimitTransport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

type kratosLimitedBody struct {
	rc   io.ReadCloser
	left int
}

func (b *kratosLimitedBody) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.left <= 0 {
		// At the limit: one more byte means the body is too large.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, errKratosTooLarge
		}
		return 0, err
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= n
	return n, err
}

func (b *kratosLimitedBody) Close() error { return b.rc.Close() }
