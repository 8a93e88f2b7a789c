package serve

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ssoctl/ssoctl/pkg/chain"
)

// An OIDC chain's sessions live in the issuer's process: it finished the
// login and holds the provider's tokens. A receiver in a process of its
// own asks the issuer about a handoff's sid at POST /oidc/session, with
// HTTP Basic credentials derived from the chain's shared secret (HKDF,
// label "oidc-session-api"), the same secret that signs handoffs, so the
// endpoint tells nothing to anyone who could not mint a handoff anyway.
// A chain without a shared secret (an asymmetric one outside dev) has no
// such credential: its receivers trust the signed handoff and learn no
// email or role, as with Kratos without admin_url.

const sessionAPIUser = "ssoctl-receiver"

// sessionAPIKey is the Basic password of the session API derived from a
// chain's shared secret, or nil when the chain has none.
func sessionAPIKey(root []byte) []byte {
	if root == nil {
		return nil
	}
	key, err := DeriveKey(root, "oidc-session-api")
	if err != nil {
		return nil
	}
	return []byte(base64.RawURLEncoding.EncodeToString(key))
}

// sessionAnswer is the session API's JSON.
type sessionAnswer struct {
	Active          bool      `json:"active"`
	Subject         string    `json:"sub,omitempty"`
	Email           string    `json:"email,omitempty"`
	Role            string    `json:"role,omitempty"`
	AuthenticatedAt time.Time `json:"authenticated_at,omitzero"`
	ExpiresAt       time.Time `json:"expires_at,omitzero"`
}

// issuerSessionClient is a receiver's way to ask the issuer.
type issuerSessionClient struct {
	endpoint string
	password []byte
	http     *http.Client
}

// askIssuerForSessions makes p, in a process without the issuer, ask the
// issuer at issuerURL about the sessions it does not know.
func (p *OIDC) askIssuerForSessions(issuerURL string, password []byte) {
	p.issuerSessions = &issuerSessionClient{
		endpoint: strings.TrimSuffix(issuerURL, "/") + chain.OIDCSessionPath,
		password: password, http: p.http,
	}
}

// session asks the issuer about sid: active → the session, inactive or
// unknown → ErrNoSession, anything else → ErrIdPUnavailable (fail closed).
func (c *issuerSessionClient) session(ctx context.Context, sid string) (*Session, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, strings.NewReader(url.Values{"sid": {sid}}.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(sessionAPIUser, string(c.password))
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: the issuer's session API: %v", ErrIdPUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: the issuer's session API answered %s", ErrIdPUnavailable, resp.Status)
	}
	var a sessionAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&a); err != nil {
		return nil, fmt.Errorf("%w: the issuer's session API: %v", ErrIdPUnavailable, err)
	}
	if !a.Active {
		return nil, ErrNoSession
	}
	return &Session{ID: sid, IdentityID: a.Subject, Email: a.Email, Role: a.Role, Active: true,
		AuthenticatedAt: a.AuthenticatedAt, ExpiresAt: a.ExpiresAt}, nil
}

// oidcSessionAPI is POST /oidc/session on the issuer: sid → whether the
// session stands (re-checked with the provider as the recheck interval
// says) and whose it is. Wrong credentials are 401 and a log line.
func (is *Issuer) oidcSessionAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	user, pass, ok := r.BasicAuth()
	if !ok || user != sessionAPIUser || !is.sessionAPIPassword([]byte(pass)) {
		is.cfg.Logger.Warn("OIDC session API: wrong or missing credentials")
		Annotate(w, slog.String("result", "refused"), slog.String("reason", "session_api_unauthorized"))
		w.Header().Set("WWW-Authenticate", `Basic realm="ssoctl session API"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	sid := r.PostFormValue("sid")
	var a sessionAnswer
	sess, err := is.oidc.localSession(r.Context(), sid)
	switch {
	case err == nil:
		a = sessionAnswer{Active: true, Subject: sess.IdentityID, Email: sess.Email, Role: sess.Role,
			AuthenticatedAt: sess.AuthenticatedAt, ExpiresAt: sess.ExpiresAt}
	case errors.Is(err, ErrNoSession):
		// inactive, or not a login of this issuer
	default:
		reason := unavailableReason(err) // receiver.go
		is.cfg.Logger.Warn("OIDC session API: cannot answer", "reason", reason, "err", err)
		Annotate(w, slog.String("result", "unavailable"), slog.String("reason", reason))
		http.Error(w, "the session cannot be checked now ("+reason+")", http.StatusServiceUnavailable)
		return
	}
	Annotate(w, slog.Bool("active", a.Active))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(a)
}

// sessionAPIPassword reports whether pass is the session API's password,
// current or derived from a previous secret. Every candidate is compared,
// in constant time, whichever matches.
func (is *Issuer) sessionAPIPassword(pass []byte) bool {
	ok := subtle.ConstantTimeCompare(pass, is.sessionAPIKey)
	for _, old := range is.cfg.PreviousSessionAPIKeys {
		ok |= subtle.ConstantTimeCompare(pass, old)
	}
	return ok == 1
}
