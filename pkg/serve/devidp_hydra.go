package serve

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	client "github.com/ory/client-go"
)

// The dev IdP as Ory Hydra's login and consent provider (seed 003: Hydra
// in front, a login of ssoctl's own behind it). Hydra sends the browser to
// these pages with a challenge; each page reads the challenge through
// Hydra's admin API (client-go OAuth2API), and accepts it:
//
//	GET  HydraLoginPath?login_challenge=C    the dev IdP's form, or straight on when Hydra remembers the user (skip)
//	POST HydraLoginPath                      email, password, login_challenge: accept the login
//	GET  HydraConsentPath?consent_challenge=C  first-party: every requested scope granted, email and role in the ID token
//	GET  HydraLogoutPath?logout_challenge=C  accept the logout Hydra started
const (
	HydraLoginPath   = "/hydra/login"
	HydraConsentPath = "/hydra/consent"
	HydraLogoutPath  = "/hydra/logout"
)

// HydraProvider serves the dev IdP's users as Hydra's login, consent and
// logout pages. admin is Hydra's admin API; hydraPublic is Hydra's public
// URL, where every accepted challenge sends the browser next (the pages'
// form-action allows it).
func (d *DevIdP) HydraProvider(admin client.OAuth2API, hydraPublic string) http.Handler {
	h := &hydraProvider{d: d, api: admin, formAction: devIdPOrigin(hydraPublic)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+HydraLoginPath, h.loginPage)
	mux.HandleFunc("POST "+HydraLoginPath, h.login)
	mux.HandleFunc("GET "+HydraConsentPath, h.consent)
	mux.HandleFunc("GET "+HydraLogoutPath, h.logout)
	return mux
}

type hydraProvider struct {
	d          *DevIdP
	api        client.OAuth2API
	formAction string
}

// hydraCallTimeout bounds one call to Hydra's admin API.
const hydraCallTimeout = 10 * time.Second

// renderWith renders p with Hydra's origin allowed as a form target: the
// accepted login redirects there, and browsers apply form-action to the
// redirect that follows a submission.
func (h *hydraProvider) renderWith(w http.ResponseWriter, p devIdPPage) {
	p.ReturnTo = ""
	p.Action = HydraLoginPath
	h.d.renderAllowing(w, p, h.formAction)
}

// challengeRefused answers a challenge Hydra does not know (expired, used,
// forged): the sign-in must start again at the application.
func (h *hydraProvider) challengeRefused(w http.ResponseWriter, what string, err error) {
	status := http.StatusBadRequest
	msg := "This " + what + " request is unknown, expired or already used. Start again from the application."
	if !errors.Is(err, errHydraRefused) {
		status = http.StatusServiceUnavailable
		msg = "The OAuth2 server did not answer. Try again in a moment."
	}
	h.d.log.Info("hydra "+what, "result", "refused", "error", err.Error())
	h.renderWith(w, devIdPPage{Status: status, Title: "Sign-in stopped", Error: msg})
}

var errHydraRefused = errors.New("hydra refused the challenge")

// hydraErr sorts a client-go error: a 4xx answer is Hydra refusing the
// challenge; anything else is Hydra unavailable.
func hydraErr(resp *http.Response, err error) error {
	if err == nil {
		return nil
	}
	if resp != nil && resp.StatusCode >= 400 && resp.StatusCode < 500 {
		return errHydraRefused
	}
	return err
}

// loginPage shows the form for a login challenge, or accepts at once when
// Hydra already knows the user (skip: Hydra's remembered session, and
// never with prompt=login).
func (h *hydraProvider) loginPage(w http.ResponseWriter, r *http.Request) {
	ch := r.URL.Query().Get("login_challenge")
	ctx, cancel := context.WithTimeout(r.Context(), hydraCallTimeout)
	defer cancel()
	lr, resp, err := h.api.GetOAuth2LoginRequest(ctx).LoginChallenge(ch).Execute()
	if ch == "" || err != nil {
		h.challengeRefused(w, "login", hydraErr(resp, cmpErr(err, errHydraRefused)))
		return
	}
	if lr.Skip {
		h.accept(w, r, ch, lr.Subject)
		return
	}
	p := h.d.loginForm(w, r, "", "", "", http.StatusOK)
	p.Challenge = ch
	h.renderWith(w, p)
}

func cmpErr(err, fallback error) error {
	if err == nil {
		return fallback
	}
	return err
}

// login checks the dev IdP's form and accepts the challenge as that user.
func (h *hydraProvider) login(w http.ResponseWriter, r *http.Request) {
	if err := h.d.crossOrigin.Check(r); err != nil {
		h.renderWith(w, devIdPPage{Status: http.StatusForbidden, Title: "Sign-in refused", Error: "This sign-in form was posted from another site."})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, devIdPMaxForm)
	if err := r.ParseForm(); err != nil {
		h.renderWith(w, devIdPPage{Status: http.StatusBadRequest, Title: "Sign-in refused", Error: "The sign-in form could not be read."})
		return
	}
	ch := r.PostForm.Get("login_challenge")
	if !h.d.csrfValid(r, r.PostForm.Get("csrf_token")) {
		h.renderWith(w, devIdPPage{Status: http.StatusForbidden, Title: "Sign-in form expired",
			Error: "This sign-in form has expired or did not come from this page. Start again from the application."})
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	user := h.d.authenticate(strings.ToLower(email), r.PostForm.Get("password"))
	if user == nil {
		h.d.log.Info("hydra login", "result", "refused", "reason", "wrong email or password")
		p := h.d.loginForm(w, r, "", email, devIdPWrongLogin, http.StatusUnauthorized)
		p.Challenge = ch
		h.renderWith(w, p)
		return
	}
	h.d.clearCookie(w, h.d.csrfCookie, "", http.SameSiteStrictMode)
	h.accept(w, r, ch, user.id)
}

// accept accepts a login challenge for subject, remembered by Hydra for
// the dev IdP's session lifetime, and sends the browser back to Hydra.
func (h *hydraProvider) accept(w http.ResponseWriter, r *http.Request, ch, subject string) {
	ctx, cancel := context.WithTimeout(r.Context(), hydraCallTimeout)
	defer cancel()
	remember, forSeconds := true, int64(h.d.ttl/time.Second)
	red, resp, err := h.api.AcceptOAuth2LoginRequest(ctx).LoginChallenge(ch).
		AcceptOAuth2LoginRequest(client.AcceptOAuth2LoginRequest{Subject: subject, Remember: &remember, RememberFor: &forSeconds}).Execute()
	if err != nil {
		h.challengeRefused(w, "login", hydraErr(resp, err))
		return
	}
	h.d.log.Info("hydra login", "result", "ok", "identity", subject)
	devIdPRedirect(w, red.RedirectTo)
}

// consent grants a first-party client what it asked for, and puts the
// user's email and role in the ID token (the claims ssoctl's issuer turns
// into identity headers).
func (h *hydraProvider) consent(w http.ResponseWriter, r *http.Request) {
	ch := r.URL.Query().Get("consent_challenge")
	ctx, cancel := context.WithTimeout(r.Context(), hydraCallTimeout)
	defer cancel()
	cr, resp, err := h.api.GetOAuth2ConsentRequest(ctx).ConsentChallenge(ch).Execute()
	if ch == "" || err != nil {
		h.challengeRefused(w, "consent", hydraErr(resp, cmpErr(err, errHydraRefused)))
		return
	}
	claims := map[string]any{}
	if u := h.d.userByID(cr.GetSubject()); u != nil {
		claims["email"] = u.email
		if role, ok := u.metadataPublic["role"].(string); ok && role != "" {
			claims["role"] = role
		}
	}
	red, resp, err := h.api.AcceptOAuth2ConsentRequest(ctx).ConsentChallenge(ch).AcceptOAuth2ConsentRequest(client.AcceptOAuth2ConsentRequest{
		GrantScope: cr.RequestedScope, GrantAccessTokenAudience: cr.RequestedAccessTokenAudience,
		Session: &client.AcceptOAuth2ConsentRequestSession{IdToken: claims},
	}).Execute()
	if err != nil {
		h.challengeRefused(w, "consent", hydraErr(resp, err))
		return
	}
	devIdPRedirect(w, red.RedirectTo)
}

// logout accepts the logout Hydra started (RP-initiated or at Hydra's own
// /oauth2/sessions/logout); Hydra then notifies its clients front- and
// back-channel and sends the browser on.
func (h *hydraProvider) logout(w http.ResponseWriter, r *http.Request) {
	ch := r.URL.Query().Get("logout_challenge")
	ctx, cancel := context.WithTimeout(r.Context(), hydraCallTimeout)
	defer cancel()
	red, resp, err := h.api.AcceptOAuth2LogoutRequest(ctx).LogoutChallenge(ch).Execute()
	if ch == "" || err != nil {
		h.challengeRefused(w, "logout", hydraErr(resp, cmpErr(err, errHydraRefused)))
		return
	}
	devIdPRedirect(w, red.RedirectTo)
}

// userByID is the user with identity id id, or nil.
func (d *DevIdP) userByID(id string) *devIdPUser {
	for _, u := range d.users {
		if u.id == id {
			return u
		}
	}
	return nil
}
