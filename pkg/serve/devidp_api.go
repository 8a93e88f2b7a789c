package serve

import (
	"encoding/json"
	"net/http"
	"strings"

	client "github.com/ory/client-go"
)

// The dev IdP's API: the Kratos paths and JSON the chain's client uses.

// servePublic routes the public API. Paths are matched exactly: there is
// no path cleaning or redirecting to do.
func (d *DevIdP) servePublic(w http.ResponseWriter, r *http.Request) {
	devIdPSecurityHeaders(w.Header(), "")
	switch r.URL.Path {
	case devIdPHealthAlivePath, devIdPHealthReadyPath:
		d.health(w, r)
	case devIdPWhoamiPath:
		d.whoami(w, r)
	case devIdPLoginBrowser:
		d.loginPage(w, r)
	case devIdPLoginPath:
		d.login(w, r)
	case devIdPLogoutPath:
		d.logout(w, r)
	case "/":
		d.home(w, r)
	default:
		devIdPNotFound(w)
	}
}

// serveAdmin routes the admin API.
func (d *DevIdP) serveAdmin(w http.ResponseWriter, r *http.Request) {
	devIdPSecurityHeaders(w.Header(), "")
	switch p := r.URL.EscapedPath(); {
	case p == devIdPHealthAlivePath || p == devIdPHealthReadyPath:
		d.health(w, r)
	case strings.HasPrefix(p, devIdPAdminSessions):
		// The escaped form: "%2F" and ".." stay visible and fail the UUID
		// check, so no path trick reaches a lookup.
		id, ok := kratosSessionID(strings.TrimPrefix(p, devIdPAdminSessions))
		if !ok {
			devIdPNotFound(w)
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			d.adminGetSession(w, r, id)
		case http.MethodDelete:
			d.adminDisableSession(w, id)
		default:
			devIdPMethodNotAllowed(w, "GET, DELETE")
		}
	case strings.HasPrefix(p, devIdPAdminIdentities):
		id, ok := kratosSessionID(strings.TrimPrefix(p, devIdPAdminIdentities))
		if !ok {
			devIdPNotFound(w)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			devIdPMethodNotAllowed(w, "GET")
			return
		}
		d.adminGetIdentity(w, id)
	default:
		devIdPNotFound(w)
	}
}

func (d *DevIdP) health(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		devIdPMethodNotAllowed(w, "GET")
		return
	}
	devIdPWriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// whoami is GET /sessions/whoami: the session that the X-Session-Token
// header, an Authorization bearer token or the session cookie proves, in
// that order, as Kratos checks them.
func (d *DevIdP) whoami(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		devIdPMethodNotAllowed(w, "GET")
		return
	}
	s, ok := d.sessionFromRequest(r)
	if !ok {
		devIdPError(w, http.StatusUnauthorized, "session_inactive",
			"No active session was found in this request.",
			"request does not have a valid authentication session")
		return
	}
	w.Header().Set("X-Kratos-Authenticated-Identity-Id", s.user.id)
	d.writeSession(w, s, true)
}

// sessionFromRequest finds the usable session a request proves.
func (d *DevIdP) sessionFromRequest(r *http.Request) (devIdPSession, bool) {
	now := d.now()
	if tok := r.Header.Get("X-Session-Token"); tok != "" {
		return d.sessions.byToken(tok, now)
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, tok, _ := strings.Cut(auth, " ")
		if !strings.EqualFold(scheme, "bearer") || tok == "" {
			return devIdPSession{}, false
		}
		return d.sessions.byToken(tok, now)
	}
	for _, c := range r.CookiesNamed(d.cookieName) {
		if s, ok := d.sessions.byToken(c.Value, now); ok {
			return s, true
		}
	}
	return devIdPSession{}, false
}

// adminGetSession is GET /admin/sessions/{id}. As Kratos, it answers for
// revoked and expired sessions too (active: false, or expires_at in the
// past) until they are swept; the caller decides what they are worth.
func (d *DevIdP) adminGetSession(w http.ResponseWriter, r *http.Request, id string) {
	withIdentity := false
	for _, e := range r.URL.Query()["expand"] {
		switch strings.ToLower(e) {
		case "identity":
			withIdentity = true
		case "devices":
		default:
			devIdPError(w, http.StatusBadRequest, "", "Could not parse expand option.", "The request was malformed or contained invalid parameters")
			return
		}
	}
	s, ok := d.sessions.get(id)
	if !ok {
		devIdPNotFound(w)
		return
	}
	d.writeSession(w, s, withIdentity)
}

// adminGetIdentity is GET /admin/identities/{id}: the identity with its
// metadata_admin, as Kratos's getIdentity returns it (its credentials left
// out: the chain's client never reads them).
func (d *DevIdP) adminGetIdentity(w http.ResponseWriter, id string) {
	for _, u := range d.users {
		if u.id == id {
			ident := d.identityJSON(u)
			ident.MetadataAdmin = u.metadataAdmin
			devIdPWriteJSON(w, http.StatusOK, ident)
			return
		}
	}
	devIdPNotFound(w)
}

// adminDisableSession is DELETE /admin/sessions/{id}: 204 for a session it
// holds, revoked or not, and 404 for one it does not, as Kratos.
func (d *DevIdP) adminDisableSession(w http.ResponseWriter, id string) {
	if !d.sessions.revoke(id) {
		devIdPNotFound(w)
		return
	}
	d.log.Info("dev idp session revoked", "session", id, "by", "admin")
	w.WriteHeader(http.StatusNoContent)
}

// sessionJSON is the Kratos session document, built from client-go's own
// model so the shapes cannot drift from what the client decodes.
// writeSession answers with the session document: sessionJSON, with the
// identity's document, encoded once at start, put in as "identity".
func (d *DevIdP) writeSession(w http.ResponseWriter, s devIdPSession, withIdentity bool) {
	data, err := json.Marshal(d.sessionJSON(s, false))
	if err != nil {
		devIdPWriteJSON(w, http.StatusOK, d.sessionJSON(s, withIdentity))
		return
	}
	if withIdentity {
		data = append(append(append(data[:len(data)-1], `,"identity":`...), s.user.identityDoc...), '}')
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(data, '\n'))
}

func (d *DevIdP) sessionJSON(s devIdPSession, withIdentity bool) client.Session {
	aal := client.AUTHENTICATORASSURANCELEVEL_AAL1
	method := "password"
	active := s.active
	authAt, issuedAt, expiresAt := s.authAt, s.issuedAt, s.expiresAt
	out := client.Session{
		Id:                          s.id,
		Active:                      &active,
		AuthenticatedAt:             &authAt,
		IssuedAt:                    &issuedAt,
		ExpiresAt:                   &expiresAt,
		AuthenticatorAssuranceLevel: &aal,
		AuthenticationMethods: []client.SessionAuthenticationMethod{
			{Method: &method, Aal: &aal, CompletedAt: &authAt},
		},
	}
	if withIdentity {
		// Never metadata_admin: Kratos leaves it out of every session
		// document, whoami's and the admin API's alike.
		ident := d.identityJSON(s.user)
		out.Identity = &ident
	}
	return out
}

// identityJSON is the Kratos identity document without metadata_admin.
// It carries metadata_public (the role), as Kratos's whoami and session
// documents do.
func (d *DevIdP) identityJSON(u *devIdPUser) client.Identity {
	state := "active"
	created := d.createdAt
	return client.Identity{
		Id:             u.id,
		SchemaId:       "default",
		SchemaUrl:      d.origin + devIdPSchemaURLPath,
		State:          &state,
		StateChangedAt: &created,
		CreatedAt:      &created,
		UpdatedAt:      &created,
		Traits:         u.traits,
		MetadataPublic: u.metadataPublic,
	}
}

// devIdPErrorBody is Kratos's error envelope, {"error": {...}}, with the
// inner object from client-go's model.
type devIdPErrorBody struct {
	Error client.GenericError `json:"error"`
}

func devIdPError(w http.ResponseWriter, code int, id, reason, message string) {
	c := int64(code)
	status := http.StatusText(code)
	e := client.GenericError{Code: &c, Status: &status, Message: message}
	if id != "" {
		e.Id = &id
	}
	if reason != "" {
		e.Reason = &reason
	}
	devIdPWriteJSON(w, code, devIdPErrorBody{Error: e})
}

func devIdPNotFound(w http.ResponseWriter) {
	devIdPError(w, http.StatusNotFound, "", "", "Unable to locate the resource")
}

func devIdPMethodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	devIdPError(w, http.StatusMethodNotAllowed, "", "", "The requested method is not allowed")
}

func devIdPWriteJSON(w http.ResponseWriter, code int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		data = []byte(`{"error":{"code":500,"status":"Internal Server Error","message":"could not encode the answer"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(append(data, '\n'))
}
