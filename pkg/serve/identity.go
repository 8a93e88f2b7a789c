package serve

import (
	"context"
	"errors"
	"time"
)

// Session is what the chain knows about one identity-provider session.
type Session struct {
	ID         string // the IdP session id: the handoff's sid
	IdentityID string // the identity id: the handoff's sub
	Email      string // traits.email, when the identity has one
	// Role is the identity's metadata_public.role, when it is a string:
	// receivers send it as X-Auth-Role and apps trust it, so it comes from
	// what only the admin API can set, never from traits.
	Role   string
	Traits map[string]any // user-editable in Kratos (registration, settings)
	// MetadataAdmin is the identity's metadata_admin: set through the admin
	// API only, neither readable nor changeable by the user. Only
	// AdminMetadataReader.SessionWithAdminMetadata fills it; Kratos leaves it
	// out of every session document.
	MetadataAdmin   map[string]any
	Active          bool
	AuthenticatedAt time.Time
	ExpiresAt       time.Time // zero when the IdP did not say
}

// Usable reports whether the session can carry a login at now: active and
// not expired.
func (s *Session) Usable(now time.Time) bool {
	return s != nil && s.Active && (s.ExpiresAt.IsZero() || now.Before(s.ExpiresAt))
}

// IdentityProvider is the one interface the roles use to talk to the IdP
// (DESIGN §7). Ory Kratos and the development IdP implement it with the same
// client code (github.com/ory/client-go); an OpenID provider comes later.
type IdentityProvider interface {
	// Whoami returns the session that the browser's Cookie header, or a
	// session token, proves (Kratos FrontendAPI.ToSession). It fails with
	// ErrNoSession when there is none or it is not usable.
	Whoami(ctx context.Context, cookieHeader, sessionToken string) (*Session, error)
	// Session returns a session by id through the admin API (Kratos
	// IdentityAPI.GetSession). It fails with ErrNoSession when the session is
	// unknown, inactive or expired.
	Session(ctx context.Context, id string) (*Session, error)
	// Revoke ends a session (Kratos IdentityAPI.DisableSession). Revoking an
	// unknown or already revoked session is not an error.
	Revoke(ctx context.Context, id string) error
	// Ready reports whether the IdP answers, for /readyz.
	Ready(ctx context.Context) error
}

// AdminMetadataReader is an IdentityProvider that also reads what an admin
// set on an identity (Kratos's metadata_admin). The issuer's introspection
// grants permissions from it; traits cannot serve, as Kratos's
// self-service registration and settings flows let users write their own.
type AdminMetadataReader interface {
	// SessionWithAdminMetadata is Session with Session.MetadataAdmin
	// filled from the identity through the admin API (Kratos
	// IdentityAPI.GetIdentity). It fails with ErrNoSession when the
	// session or its identity is gone.
	SessionWithAdminMetadata(ctx context.Context, id string) (*Session, error)
}

// ErrNoSession means the IdP answered and there is no usable session.
var ErrNoSession = errors.New("no active identity-provider session")

// ErrIdPUnavailable means the IdP could not be asked (down, timing out,
// answering 5xx). Callers fail closed: a 503 with a retry, never a bypass.
var ErrIdPUnavailable = errors.New("identity provider unavailable")
