package serve

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/ssoctl/ssoctl/pkg/chain"
)

// IntrospectApp is one app allowed at the issuer's chain.IntrospectPath,
// with its secret resolved.
type IntrospectApp struct {
	Name        string
	Key         string
	Secret      []byte
	Permissions []string
}

// ResolveApps reads the secrets of the chain's apps block. Errors name the
// app and where its secret comes from, never the value.
func ResolveApps(c *chain.Chain, env Env) ([]IntrospectApp, error) {
	env.defaults()
	out := make([]IntrospectApp, 0, len(c.Apps))
	for _, a := range c.Apps {
		s, err := a.Secret.Resolve(env.LookupEnv, env.ReadFile)
		if err != nil {
			return nil, fmt.Errorf("app %s secret: %w", a.Name, err)
		}
		out = append(out, IntrospectApp{Name: a.Name, Key: a.Key, Secret: s, Permissions: slices.Clone(a.Permissions)})
	}
	return out, nil
}

// maxIntrospectBody bounds an introspection request: a key, a secret and a
// cookie of at most 4 KiB fit many times over.
const maxIntrospectBody = 16 << 10

// introspectRealm is the HTTP Basic realm of chain.IntrospectPath.
const introspectRealm = `Basic realm="ssoctl introspect"`

// introspector answers chain.IntrospectPath (docs/introspect.md), shaped
// like OAuth 2.0 Token Introspection (RFC 7662): the app authenticates as a
// client, sends the issuer's cookie value it received on the shared parent
// domain, and learns whether that session is active and, when it is, whose
// it is and what the app may let them do. An inactive answer never says
// why.
type introspector struct {
	is *Issuer
	// mac keys the digests credentials are compared by, so comparisons are
	// over fixed-length values and take the same time whatever was sent;
	// random per process, as the digests never leave it.
	mac  []byte
	apps []introspectEntry
}

type introspectEntry struct {
	app               IntrospectApp
	keyMAC, secretMAC []byte
}

func (is *Issuer) routeIntrospect(mux *http.ServeMux) {
	in := &introspector{is: is, mac: randomSecret()}
	for _, a := range is.cfg.Apps {
		in.apps = append(in.apps, introspectEntry{app: a, keyMAC: in.digest("key", []byte(a.Key)), secretMAC: in.digest("secret", a.Secret)})
	}
	mux.Handle(chain.IntrospectPath, in)
}

func (in *introspector) digest(label string, v []byte) []byte {
	m := hmac.New(sha256.New, in.mac)
	m.Write([]byte(label))
	m.Write([]byte{0})
	m.Write(v)
	return m.Sum(nil)
}

// authenticate finds the app key and secret name. Every app is compared,
// whether or not an earlier one matched. known is the app whose key
// matched, if any, for the log: keys are not secret.
func (in *introspector) authenticate(key, secret string) (app, known *IntrospectApp) {
	kd, sd := in.digest("key", []byte(key)), in.digest("secret", []byte(secret))
	for i := range in.apps {
		e := &in.apps[i]
		k := subtle.ConstantTimeCompare(kd, e.keyMAC)
		s := subtle.ConstantTimeCompare(sd, e.secretMAC)
		if k == 1 {
			known = &e.app
		}
		if k&s == 1 {
			app = &e.app
		}
	}
	return app, known
}

// introspectRequest is the JSON body. Key and Secret are the alternative
// to HTTP Basic; a request uses one or the other, never both (RFC 6749
// §2.3.1).
type introspectRequest struct {
	Key    string `json:"key"`
	Secret string `json:"secret"`
	Cookie string `json:"cookie"`
}

// IntrospectResponse is the answer of chain.IntrospectPath. An inactive
// session is {"active": false} and nothing else.
type IntrospectResponse struct {
	Active      bool      `json:"active"`
	Subject     string    `json:"sub,omitempty"`
	SessionID   string    `json:"sid,omitempty"`
	Email       string    `json:"email,omitempty"`
	Role        string    `json:"role,omitempty"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
	Permissions []string  `json:"permissions,omitzero"`
}

func (in *introspector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		Annotate(w, slog.String("result", "refused"), slog.String("reason", "method_not_allowed"))
		w.Header().Set("Allow", http.MethodPost)
		introspectError(w, http.StatusMethodNotAllowed, "invalid_request")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		// A browser cannot send application/json across sites without a
		// CORS preflight, which nothing here answers: refusing every other
		// type keeps cross-site forms out.
		Annotate(w, slog.String("result", "refused"), slog.String("reason", "content_type_unsupported"))
		introspectError(w, http.StatusUnsupportedMediaType, "invalid_request")
		return
	}
	var req introspectRequest
	// JSON v2 (the one pkg/token parses tokens with) refuses duplicate
	// member names, unknown members, a second value and invalid UTF-8,
	// and matches names exactly: encoding/json would take the last of two
	// "cookie" members, where a proxy in front may have read the first.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxIntrospectBody))
	if err == nil {
		err = jsonv2.Unmarshal(body, &req, jsonv2.RejectUnknownMembers(true))
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			Annotate(w, slog.String("result", "refused"), slog.String("reason", "body_too_large"))
			introspectError(w, http.StatusRequestEntityTooLarge, "invalid_request")
			return
		}
		Annotate(w, slog.String("result", "refused"), slog.String("reason", "request_invalid"))
		introspectError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	key, secret, basic := r.BasicAuth()
	if basic && (req.Key != "" || req.Secret != "") {
		Annotate(w, slog.String("result", "refused"), slog.String("reason", "two_client_auth_methods"))
		introspectError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	if !basic {
		key, secret = req.Key, req.Secret
	}
	app, known := in.authenticate(key, secret)
	if app == nil {
		in.unauthorized(w, r, known)
		return
	}
	Annotate(w, slog.String("app", app.Name))
	if req.Cookie == "" {
		Annotate(w, slog.String("result", "refused"), slog.String("reason", "no_cookie"))
		introspectError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	resp, err := in.session(r.Context(), app, req.Cookie)
	if err != nil {
		Annotate(w, slog.String("result", "idp_unavailable"))
		w.Header().Set("Retry-After", "5")
		introspectError(w, http.StatusServiceUnavailable, "temporarily_unavailable")
		return
	}
	Annotate(w, slog.Bool("active", resp.Active))
	writeIntrospect(w, http.StatusOK, resp)
}

// unauthorized answers a failed client authentication the same way
// whatever failed; the log names the app when the key was one, never what
// was sent as the secret.
func (in *introspector) unauthorized(w http.ResponseWriter, r *http.Request, known *IntrospectApp) {
	attrs := []any{"path", chain.IntrospectPath}
	if known != nil {
		attrs = append(attrs, "app", known.Name)
		Annotate(w, slog.String("app", known.Name))
	}
	Annotate(w, slog.String("result", "unauthorized"), slog.String("reason", "client_auth_failed"))
	in.is.cfg.Logger.Warn("introspect: app authentication failed", attrs...)
	w.Header().Set("WWW-Authenticate", introspectRealm)
	introspectError(w, http.StatusUnauthorized, "invalid_client")
}

// session opens the issuer's cookie and asks the IdP about its session by
// id, as the receivers do, with the identity's metadata_admin where the
// IdP keeps one (AdminMetadataReader): gone or inactive is inactive; no admin API
// trusts the cookie until it expires; an IdP that cannot answer is an
// error (503, fail closed).
func (in *introspector) session(ctx context.Context, app *IntrospectApp, value string) (IntrospectResponse, error) {
	is := in.is
	now := is.cfg.Now()
	cs, err := is.cfg.Sealer.OpenSession(is.cookie().Name, value, now)
	if err != nil {
		return IntrospectResponse{}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	perms := app.Permissions
	var sess *Session
	if md, ok := is.cfg.IdP.(AdminMetadataReader); ok {
		sess, err = md.SessionWithAdminMetadata(ctx, cs.SessionID)
	} else {
		sess, err = is.cfg.IdP.Session(ctx, cs.SessionID)
	}
	switch {
	case errors.Is(err, ErrNoAdminAPI):
	case errors.Is(err, ErrNoSession):
		return IntrospectResponse{}, nil
	case err != nil:
		return IntrospectResponse{}, err
	case !sess.Usable(now) || sess.IdentityID != cs.Subject:
		return IntrospectResponse{}, nil
	default:
		if p, ok := adminPermissions(sess.MetadataAdmin, app.Name); ok {
			perms = p
		}
	}
	return IntrospectResponse{
		Active: true, Subject: cs.Subject, SessionID: cs.SessionID, Email: cs.Email, Role: cs.Role,
		ExpiresAt: cs.Expires, Permissions: permissionList(perms),
	}, nil
}

// adminPermissions reads metadata_admin.permissions[app]: a list of
// strings replaces the app's permissions from the chain file. Anything
// else there (a string, a list with a non-string) is ignored, so a
// malformed identity gets the chain file's permissions, never more.
// Traits are never read: Kratos lets users write their own.
func adminPermissions(metadata map[string]any, app string) ([]string, bool) {
	all, ok := metadata["permissions"].(map[string]any)
	if !ok {
		return nil, false
	}
	list, ok := all[app].([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(list))
	for _, p := range list {
		s, ok := p.(string)
		if !ok || s == "" {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// permissionList makes an active answer always carry a permissions list, empty
// when the app grants none.
func permissionList(p []string) []string {
	if p == nil {
		return []string{}
	}
	return slices.Clone(p)
}

func introspectError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
}

func writeIntrospect(w http.ResponseWriter, status int, resp IntrospectResponse) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(resp)
}
