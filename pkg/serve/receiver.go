package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/sync/singleflight"

	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve/store"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// ReceiverConfig wires a Receiver. Chain, Name, IdP, Keys, Sealer, Replay
// and Revocations are required.
type ReceiverConfig struct {
	Chain       *chain.Chain
	Name        string // which receiver of the chain this is
	IdP         IdentityProvider
	Keys        token.KeySource // verifies the issuer's handoffs
	Sealer      *Sealer         // this receiver's cookie
	Replay      store.ReplayStore
	Revocations store.RevocationStore
	// RecheckInterval is how long a cookie is trusted before /auth asks the
	// IdP again whether its session is still active. Default one minute.
	RecheckInterval time.Duration
	Now             func() time.Time
	Logger          *slog.Logger
	Metrics         *Metrics
	// Upstream, when set, is the app the receiver reverse-proxies for
	// signed-in browsers: every path that is not the receiver's own, the
	// root included (see upstream.go). UpstreamTransport carries those
	// requests; nil means http.DefaultTransport.
	Upstream          *url.URL
	UpstreamTransport http.RoundTripper
	// Signer mints the next receiver's handoff in relay mode (relay.go):
	// the chain's shared key. Required there on every receiver but the
	// last; unused in hub mode.
	Signer *token.Key
}

// Receiver is one app domain of the chain (DESIGN §6): /sso takes a handoff
// and sets this domain's cookie; /auth answers forward auth for the apps
// behind it; /whoami and / show who is signed in.
type Receiver struct {
	cfg      ReceiverConfig
	self     chain.Receiver
	origin   string
	issuer   string
	allow    *chain.Allowlist
	verifier *token.Verifier
	mux      *http.ServeMux
	// formAction is 'self' and the chain's origins as CSP sources, for a
	// form whose submission redirects through the chain.
	formAction string

	checked *recentChecks // when the IdP last confirmed each session (recentchecks.go)
	recheck singleflight.Group

	faults  chain.ReceiverFaults // none outside dev chains (see faults.go)
	logout  *receiverLogout      // logout.go
	stepUps stepUps              // freshness.go
	relay   receiverRelay        // relay.go
}

// authPath answers forward auth.
const authPath = "/auth"

// Identity headers /auth sets for the app behind a receiver.
const (
	HeaderSubject = "X-Auth-Subject"
	HeaderSession = "X-Auth-Session"
	HeaderEmail   = "X-Auth-Email"
	HeaderRole    = "X-Auth-Role"
)

// NewReceiver checks cfg and returns the receiver's handler.
func NewReceiver(cfg ReceiverConfig) (*Receiver, error) {
	if cfg.Chain == nil {
		return nil, errors.New("receiver: no chain")
	}
	self, ok := cfg.Chain.Receiver(cfg.Name)
	switch {
	case !ok:
		return nil, fmt.Errorf("receiver: the chain has no receiver named %q", cfg.Name)
	case cfg.IdP == nil:
		return nil, errors.New("receiver: no identity provider")
	case cfg.Keys == nil:
		return nil, errors.New("receiver: no verification keys")
	case cfg.Sealer == nil:
		return nil, errors.New("receiver: no sealing key")
	case cfg.Replay == nil || cfg.Revocations == nil:
		return nil, errors.New("receiver: no replay or revocation store")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RecheckInterval <= 0 {
		cfg.RecheckInterval = time.Minute
	}
	allow, err := cfg.Chain.Allowlist()
	if err != nil {
		return nil, fmt.Errorf("receiver: %w", err)
	}
	rc := &Receiver{
		cfg: cfg, self: *self, allow: allow, checked: newRecentChecks(cfg.RecheckInterval, cfg.Now()),
		origin:     strings.TrimSuffix(self.URL, "/"),
		issuer:     strings.TrimSuffix(cfg.Chain.Issuer.URL, "/"),
		formAction: chainFormAction(cfg.Chain),
		faults:     cfg.Chain.ReceiverFaults(self.Name),
	}
	warnFaults(cfg.Logger, len(rc.faults.Ignore) > 0 || rc.faults.SkipIdPRecheck)
	relayFrom, err := rc.setupRelay(cfg.Signer)
	if err != nil {
		return nil, err
	}
	rc.verifier, err = token.NewVerifier(cfg.Keys, rc.issuer, self.Name,
		token.WithIssuers(relayFrom...),
		token.WithLeeway(cfg.Chain.Token.Leeway),
		token.WithMaxLifetime(cfg.Chain.Token.MaxTTL),
		token.WithTimeFunc(cfg.Now),
		token.WithReplayStore(cfg.Replay),
		token.WithReturnCheck(func(ret string) error { _, err := allow.Allow(ret); return err }))
	if err != nil {
		return nil, fmt.Errorf("receiver: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+chain.SSOPath, rc.sso)
	mux.HandleFunc("POST "+chain.SSOPath, rc.sso)
	// Any method: proxies ask with the original request's method (nginx
	// auth_request, Traefik forwardAuth) or with GET (Caddy forward_auth).
	mux.HandleFunc(authPath, rc.auth) // also the fast path in ServeHTTP
	mux.HandleFunc("GET /whoami", rc.whoami)
	refuseOtherMethods(mux, []string{http.MethodGet, http.MethodPost}, chain.SSOPath)
	refuseOtherMethods(mux, []string{http.MethodGet, http.MethodHead}, "/whoami")
	if cfg.Upstream != nil {
		mux.Handle("/", rc.upstreamHandler(cfg.Upstream, cfg.UpstreamTransport))
	} else {
		mux.HandleFunc("GET /{$}", rc.landing)
	}
	if err := rc.routeLogout(mux); err != nil {
		return nil, err
	}
	rc.mux = mux
	return rc, nil
}

// ServeHTTP serves the receiver's paths. A forward-auth check skips the
// mux's routing: a proxy makes one for every request to its apps.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == authPath {
		r.Pattern = authPath // as the mux would set it
		rc.auth(w, r)
		return
	}
	rc.mux.ServeHTTP(w, r)
}

func (rc *Receiver) secure() bool { return strings.HasPrefix(rc.origin, "https://") }

// loginURL starts a fresh login at the issuer that ends back here.
func (rc *Receiver) loginURL() string {
	return rc.issuer + chain.LoginPath + "?" + url.Values{chain.ReturnToParam: {rc.origin + "/"}}.Encode()
}

// sso takes a handoff. Every check of the token profile runs first (the jti
// is consumed only by a token that passed them all), then the IdP is asked
// whether the session is still active; only then is a cookie set. A refusal
// sets nothing.
func (rc *Receiver) sso(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	raw := r.URL.Query().Get(chain.TokenParam)
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 2*token.MaxSize)
		if code, status := formError(r); code != "" {
			rc.refuse(w, r, status, code, "The sign-in form was too large or malformed, so this site did not sign you in.", nil)
			return
		}
		raw = r.PostFormValue(chain.TokenParam)
	}
	if raw == "" {
		rc.refuse(w, r, http.StatusBadRequest, "token_missing", "No handoff token came with this request.", nil)
		return
	}
	tok, err := rc.verifier.Verify(r.Context(), raw)
	// fault (dev only): faults.receivers.<name>.ignore accepts a handoff
	// despite the listed reasons.
	err = rc.ignoreFailures(r.Context(), tok, err)
	if tok != nil {
		Annotate(w, slog.String("chn", tok.Claims.Chain), slog.String("aud", rc.self.Name))
	}
	var inv *token.InvalidError
	switch {
	case errors.As(err, &inv):
		reasons := make([]pageReason, len(inv.Failures))
		for i, f := range inv.Failures {
			reasons[i] = pageReason{Code: f.Reason.Code, Message: f.Error()}
		}
		rc.refuse(w, r, http.StatusUnauthorized, inv.Failures[0].Reason.Code, "The sign-in token was refused, so this site did not sign you in.", reasons)
		return
	case errors.Is(err, store.ErrFull), errors.Is(err, token.ErrReplayStoreUnavailable), errors.Is(err, token.ErrKeysUnavailable):
		rc.unavailable(w, r, "store_unavailable", err)
		return
	case err != nil:
		rc.unavailable(w, r, "verify_failed", err)
		return
	}
	c := &tok.Claims
	sess, err := rc.cfg.IdP.Session(r.Context(), c.SessionID)
	switch {
	case errors.Is(err, ErrNoAdminAPI):
		// Without Kratos's admin API the session cannot be looked up by id;
		// the chain file's lint warns about this. Trust the signed token.
		sess = &Session{ID: c.SessionID, IdentityID: c.Subject, Active: true}
	case errors.Is(err, ErrNoSession):
		rc.refuse(w, r, http.StatusUnauthorized, "idp_session_inactive", "Your session at the identity provider has ended (signed out, revoked or expired). Sign in again.", nil)
		return
	case err != nil:
		rc.unavailable(w, r, unavailableReason(err), err)
		return
	}
	now := rc.cfg.Now()
	if sess.IdentityID != c.Subject || !sess.Usable(now) {
		rc.refuse(w, r, http.StatusUnauthorized, "idp_session_mismatch", "The token's subject does not match the identity provider's session.", nil)
		return
	}
	if rc.stepUp(w, r, sess, c.Return, now) { // freshness.go: receivers[].max_auth_age
		return
	}
	ck := rc.self.Cookie
	expires := now.Add(ck.TTL)
	if !sess.ExpiresAt.IsZero() && sess.ExpiresAt.Before(expires) {
		expires = sess.ExpiresAt
	}
	http.SetCookie(w, &http.Cookie{
		Name: ck.Name, Path: "/", Domain: ck.Domain, Expires: expires, MaxAge: int(expires.Sub(now) / time.Second),
		HttpOnly: true, Secure: rc.secure(), SameSite: http.SameSiteLaxMode,
		Value: rc.cfg.Sealer.SealSession(ck.Name, CookieSession{
			SessionID: sess.ID, Subject: sess.IdentityID, Email: sess.Email, Role: sess.Role,
			AuthenticatedAt: sess.AuthenticatedAt, Expires: expires,
		}),
	})
	rc.checked.confirmed(sess.ID, now)
	Annotate(w, slog.String("result", "accepted"))
	if rc.cfg.Metrics != nil {
		rc.cfg.Metrics.Handoff(rc.self.Name, "accepted", "")
	}
	if rc.relayOn(w, r, c) { // relay.go: on to the next receiver
		return
	}
	next := rc.origin + "/"
	if c.Return != "" {
		if u, err := rc.allow.Allow(c.Return); err == nil { // Verify already allowed it
			next = u.String()
		} else {
			// fault (dev only): unless ignore lists ret_not_allowed; then
			// the browser goes wherever ret says.
			next = rc.faultyNext(c.Return)
		}
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// formError parses r's form and names what is wrong with it: a body over
// its MaxBytesReader limit is 413 body_too_large (RFC 9110 §15.5.14), one
// that does not parse is 400 form_invalid. Without it a hostile body reads
// as a missing field.
func formError(r *http.Request) (code string, status int) {
	err := r.ParseForm()
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return "", 0
	case errors.As(err, &tooBig):
		return "body_too_large", http.StatusRequestEntityTooLarge
	}
	return "form_invalid", http.StatusBadRequest
}

func (rc *Receiver) refuse(w http.ResponseWriter, r *http.Request, status int, code, msg string, reasons []pageReason) {
	Annotate(w, slog.String("result", "refused"), slog.String("reason", code))
	if rc.cfg.Metrics != nil {
		rc.cfg.Metrics.Handoff(rc.self.Name, "refused", code)
	}
	if reasons == nil {
		reasons = []pageReason{{Code: code, Message: msg}}
	}
	writeError(w, r, errorPage{
		Status: status, Title: "Not signed in on " + hostOf(rc.origin), Message: msg, Reasons: reasons,
		RetryURL: rc.loginURL(), RetryLabel: "Sign in again", Role: rc.self.Name + " (receiver)",
	})
}

// unavailable fails closed: a dependency could not answer, so nothing is
// accepted and nobody is signed in; the page offers a fresh login, since
// the token itself may already be used.
func (rc *Receiver) unavailable(w http.ResponseWriter, r *http.Request, code string, err error) {
	rc.cfg.Logger.Warn("handoff not completed: dependency unavailable", "reason", code, "err", err)
	Annotate(w, slog.String("result", "unavailable"), slog.String("reason", code))
	if rc.cfg.Metrics != nil {
		rc.cfg.Metrics.Handoff(rc.self.Name, "unavailable", code)
	}
	writeError(w, r, errorPage{
		Status: http.StatusServiceUnavailable, Title: "Sign-in is unavailable right now",
		Message:  "A service this site depends on did not answer. Nothing was changed; try again in a moment.",
		Reasons:  []pageReason{{Code: code, Message: "a dependency could not be reached"}},
		RetryURL: rc.loginURL(), Role: rc.self.Name + " (receiver)",
	})
}

// unavailableReason is the reason code for a request that could not be
// answered right now: store_unavailable when a store shared through Redis
// failed (an OIDC issuer's sessions, the replay or revocation store), else
// idp_timeout when the IdP did not answer in time (the client's timeout,
// or the request's deadline), so an operator can tell a slow IdP from one
// that is down or answering nonsense (idp_unavailable).
func unavailableReason(err error) string {
	if errors.Is(err, store.ErrUnavailable) {
		return "store_unavailable"
	}
	var timeout interface{ Timeout() bool }
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &timeout) && timeout.Timeout()) {
		return "idp_timeout"
	}
	return "idp_unavailable"
}

// errNotSignedIn and friends are the outcomes of checking a request's
// cookie; /auth maps them to 401 or 503.
var (
	errNotSignedIn = errors.New("not signed in")
	errRevoked     = errors.New("session revoked")
)

// session returns the signed-in session of r: a valid cookie, a session not
// revoked, and an IdP check no older than the recheck interval.
func (rc *Receiver) session(r *http.Request) (*CookieSession, error) {
	now := rc.cfg.Now()
	cs, err := rc.cfg.Sealer.OpenSessionCookie(r, rc.self.Cookie.Name, now)
	if errors.Is(err, ErrCookieAmbiguous) {
		return nil, fmt.Errorf("%w: %w", errNotSignedIn, err)
	}
	if err != nil {
		return nil, errNotSignedIn
	}
	if rc.tooOld(cs.AuthenticatedAt, now) { // freshness.go
		return nil, errAuthTooOld
	}
	revoked, err := rc.cfg.Revocations.Revoked(r.Context(), cs.SessionID)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: %v", store.ErrUnavailable, err)
	case revoked:
		return nil, errRevoked
	}
	// fault (dev only): skip_idp_recheck trusts the cookie until it
	// expires, however long ago the IdP last said the session was active.
	if rc.faults.SkipIdPRecheck {
		return cs, nil
	}
	if rc.checked.fresh(cs.SessionID, now) {
		return cs, nil
	}
	// One IdP call per session however many requests are waiting on it.
	_, err, _ = rc.recheck.Do(cs.SessionID, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
		defer cancel()
		_, err := rc.cfg.IdP.Session(ctx, cs.SessionID)
		switch {
		case err == nil, errors.Is(err, ErrNoAdminAPI):
			rc.checked.confirmed(cs.SessionID, rc.cfg.Now())
			return nil, nil
		case errors.Is(err, ErrNoSession):
			rc.checked.forget(cs.SessionID)
			_ = rc.cfg.Revocations.Revoke(ctx, cs.SessionID, cs.Expires)
			return nil, errRevoked
		}
		return nil, err
	})
	if err != nil {
		return nil, err
	}
	return cs, nil
}

// forget drops this instance's cached IdP check of a session, so the next
// request for it asks the IdP again. NewRoles calls it for every revocation
// any instance of the chain makes (followRevocations), not only this one's.
func (rc *Receiver) forget(sessionID string) { rc.checked.forget(sessionID) }

// auth answers forward auth (nginx auth_request, Traefik forwardAuth, Caddy
// forward_auth): 200 with identity headers, 401 when not signed in, 503 when
// the answer cannot be known.
func (rc *Receiver) auth(w http.ResponseWriter, r *http.Request) {
	// One allocation backs every header value the answer sets: a
	// forward-auth check is the receiver's hottest path. Each value is
	// handed out as its own one-element, full-capacity slice, so an Add
	// copies instead of writing into a neighbour.
	vals := new([1 + len(identityHeaders)]string)
	h := w.Header()
	vals[0] = "no-store"
	h["Cache-Control"] = vals[0:1:1]
	cs, err := rc.session(r)
	switch {
	case err == nil:
		Routine(w)
		setIdentityHeaders(h, cs, vals[1:])
		w.WriteHeader(http.StatusOK)
	case errors.Is(err, errNotSignedIn), errors.Is(err, errRevoked):
		Annotate(w, slog.String("result", "unauthorized"), slog.String("reason", err.Error()))
		if errors.Is(err, errAuthTooOld) {
			w.Header().Set(HeaderAuthReason, ReasonAuthTooOld)
		}
		w.WriteHeader(http.StatusUnauthorized)
	default:
		reason := unavailableReason(err)
		rc.cfg.Logger.Warn("forward auth unavailable", "reason", reason, "err", err)
		Annotate(w, slog.String("result", "unavailable"), slog.String("reason", reason))
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusServiceUnavailable)
	}
}

// identityHeaders are the X-Auth-* headers of a signed-in answer, in the
// order setIdentityHeaders fills them.
var identityHeaders = [...]string{HeaderSubject, HeaderSession, HeaderEmail, HeaderRole}

// setIdentityHeaders sets the X-Auth-* headers for cs, keeping their values
// in vals (len(identityHeaders) of them). An identity attribute that is
// empty, or could split or fold a header, is left out.
func setIdentityHeaders(h http.Header, cs *CookieSession, vals []string) {
	for i, v := range [len(identityHeaders)]string{cs.Subject, cs.SessionID, cs.Email, cs.Role} {
		if v != "" && httpguts.ValidHeaderFieldValue(v) {
			vals[i] = v
			h[identityHeaders[i]] = vals[i : i+1 : i+1] // the names are canonical
		}
	}
}

type whoamiView struct {
	SignedIn        bool   `json:"signed_in"`
	Receiver        string `json:"receiver"`
	Subject         string `json:"subject,omitempty"`
	SessionID       string `json:"session_id,omitempty"`
	Email           string `json:"email,omitempty"`
	Role            string `json:"role,omitempty"`
	AuthenticatedAt string `json:"authenticated_at,omitempty"`
	Expires         string `json:"expires,omitempty"`
	Reason          string `json:"reason,omitempty"`
}

func (rc *Receiver) whoami(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	v := whoamiView{Receiver: rc.self.Name}
	cs, err := rc.session(r)
	status := http.StatusOK
	switch {
	case err == nil:
		v.SignedIn, v.Subject, v.SessionID, v.Email, v.Role = true, cs.Subject, cs.SessionID, cs.Email, cs.Role
		v.AuthenticatedAt, v.Expires = cs.AuthenticatedAt.Format(time.RFC3339), cs.Expires.Format(time.RFC3339)
	case errors.Is(err, errNotSignedIn), errors.Is(err, errRevoked):
		status, v.Reason = http.StatusUnauthorized, err.Error()
	default:
		status, v.Reason = http.StatusServiceUnavailable, "unavailable"
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (rc *Receiver) landing(w http.ResponseWriter, r *http.Request) {
	p := landingPage{Title: rc.self.Name, Service: rc.self.Name + " (receiver)", LoginURL: rc.loginURL()}
	if cs, err := rc.session(r); err == nil {
		p.SignedIn, p.Who, p.UserRole, p.Session, p.Until = true, firstNonEmpty(cs.Email, cs.Subject), cs.Role, cs.SessionID, cs.Expires.Format(time.RFC3339)
	}
	writeLanding(w, p)
}
