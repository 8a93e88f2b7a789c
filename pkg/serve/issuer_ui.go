package serve

import (
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/ssoctl/ssoctl/pkg/chain"
)

// With idp.kind kratos the issuer is Kratos's UI: Kratos sends a browser
// that must log in to /ui/login?flow=ID, the issuer reads the flow from
// Kratos's public API with the browser's cookies (Kratos checks the flow's
// CSRF cookie, so Kratos's cookies.domain must cover the issuer's host) and
// renders the flow's form, which posts to Kratos. Kratos answers the post
// with its session cookie and a redirect to the flow's return_to, the
// issuer's /callback, or with the same flow and its error messages.

// flowKind is one of the self-service flows the issuer renders.
type flowKind struct {
	name      string // "login"
	title     string // the page's heading
	startPath string // Kratos's browser endpoint that starts a new one
	// other is the flow a page links to ("Create an account").
	otherPath, otherLabel string
}

var (
	loginFlowKind = flowKind{name: "login", title: "Sign in", startPath: chain.KratosLoginPath,
		otherPath: chain.KratosRegistrationPath, otherLabel: "Create an account"}
	registrationFlowKind = flowKind{name: "registration", title: "Create an account", startPath: chain.KratosRegistrationPath,
		otherPath: chain.KratosLoginPath, otherLabel: "Sign in with an existing account"}
)

// routeSelfService adds the flow pages when the chain's IdP is Kratos.
func (is *Issuer) routeSelfService(mux *http.ServeMux) {
	ss, ok := is.cfg.IdP.(SelfService)
	if !ok || is.cfg.Chain.IdP.Kind != chain.IdPKratos {
		return
	}
	is.selfService = ss
	mux.HandleFunc("GET "+chain.UILoginPath, func(w http.ResponseWriter, r *http.Request) { is.flowPage(w, r, loginFlowKind) })
	mux.HandleFunc("GET "+chain.UIRegistrationPath, func(w http.ResponseWriter, r *http.Request) { is.flowPage(w, r, registrationFlowKind) })
	mux.HandleFunc("GET "+chain.UIErrorPath, is.flowErrorPage)
}

// idpURL is a path on the IdP's public URL.
func (is *Issuer) idpURL(path string, q url.Values) string {
	u := strings.TrimSuffix(is.cfg.Chain.IdP.PublicURL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// flowPage renders a login or registration flow. Without a flow id the
// browser came here by hand: a login starts at the issuer's /login (which
// checks return_to and brings the browser back with a flow); a
// registration starts at Kratos.
func (is *Issuer) flowPage(w http.ResponseWriter, r *http.Request, kind flowKind) {
	id := r.URL.Query().Get("flow")
	if id == "" {
		target := is.origin + chain.LoginPath
		if kind.name != "login" {
			target = is.idpURL(kind.startPath, url.Values{chain.ReturnToParam: {is.origin + "/"}})
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	read := is.selfService.LoginFlow
	if kind.name != "login" {
		read = is.selfService.RegistrationFlow
	}
	f, err := read(r.Context(), id, is.idpCookies(r))
	var gone *ErrFlowGone
	switch {
	case errors.As(err, &gone):
		is.flowGone(w, r, kind, gone)
		return
	case err != nil:
		is.idpDown(w, r, err, "")
		return
	}
	if !sameOrigin(f.Action, is.cfg.Chain.IdP.PublicURL) {
		// Kratos's serve.public.base_url and the chain's idp.public_url
		// disagree: the form would post where the browser holds no CSRF
		// cookie, or to a host the chain does not know.
		Annotate(w, slog.String("result", "refused"), slog.String("reason", "flow_action_foreign"))
		writeError(w, r, errorPage{
			Status:  http.StatusBadGateway,
			Title:   "The identity provider's form posts somewhere else",
			Message: "Kratos gave a " + kind.name + " form that posts to " + originOrRaw(f.Action) + ", not to the chain's identity provider.",
			Reasons: []pageReason{{Code: "flow_action_foreign", Message: "set Kratos's serve.public.base_url to idp.public_url (" + is.cfg.Chain.IdP.PublicURL + ")"}},
			Role:    "issuer",
		})
		return
	}
	Annotate(w, slog.String("result", "flow_shown"), slog.String("flow", kind.name))
	p := flowPageData{
		Title: kind.title, Chain: is.cfg.Chain.Name, Action: f.Action, Method: f.Method,
		Messages: f.Messages, Skipped: f.Skipped,
	}
	if p.Method != http.MethodGet {
		p.Method = http.MethodPost
	}
	for _, n := range f.Nodes {
		p.Fields = append(p.Fields, newFlowField(n))
	}
	q := url.Values{}
	if f.ReturnTo != "" {
		q.Set(chain.ReturnToParam, f.ReturnTo)
		p.ReturnHost = is.destination(f.ReturnTo)
	}
	p.OtherURL, p.OtherLabel = is.idpURL(kind.otherPath, q), kind.otherLabel
	is.writeFlowPage(w, http.StatusOK, "flow", p)
}

// destination is the host a person lands on after the flow: for a flow
// that returns to this issuer's /callback, the return_to sealed in its
// state (the issuer's own seal, so it can read it); otherwise the flow's
// return_to host.
func (is *Issuer) destination(returnTo string) string {
	u, err := url.Parse(returnTo)
	if err != nil {
		return ""
	}
	if sameOrigin(returnTo, is.origin) && u.Path == chain.CallbackPath {
		if f, _, err := is.cfg.Sealer.Open("state:login", u.Query().Get(stateParam), is.cfg.Now(), 2); err == nil {
			if dest, err := url.Parse(f[0]); err == nil {
				return dest.Host
			}
		}
	}
	return u.Host
}

// flowGone answers a flow Kratos no longer has for this browser: when
// Kratos names a restart on its own URL, the browser goes there; otherwise
// a page explains and offers a fresh sign-in.
func (is *Issuer) flowGone(w http.ResponseWriter, r *http.Request, kind flowKind, gone *ErrFlowGone) {
	if gone.RestartURL != "" && sameOrigin(gone.RestartURL, is.cfg.Chain.IdP.PublicURL) {
		Annotate(w, slog.String("result", "flow_restarted"), slog.String("flow", kind.name))
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, gone.RestartURL, http.StatusSeeOther)
		return
	}
	Annotate(w, slog.String("result", "refused"), slog.String("reason", "flow_gone"))
	writeError(w, r, errorPage{
		Status:   http.StatusGone,
		Title:    "This " + kind.name + " form has expired",
		Message:  "The identity provider no longer has this form for this browser: it expired, or it was opened in another browser. Start again.",
		Reasons:  []pageReason{{Code: "flow_gone", Message: gone.Reason + "; Kratos's cookies.domain must cover " + hostOf(is.origin) + " so the form's CSRF cookie reaches it"}},
		RetryURL: is.origin + chain.LoginPath, RetryLabel: "Sign in again", Role: "issuer",
	})
}

// flowErrorPage shows the error a flow ended in (Kratos's
// selfservice.flows.error.ui_url).
func (is *Issuer) flowErrorPage(w http.ResponseWriter, r *http.Request) {
	fe, err := is.selfService.FlowError(r.Context(), r.URL.Query().Get("id"))
	var gone *ErrFlowGone
	switch {
	case errors.As(err, &gone):
		fe = &FlowError{Reason: "the identity provider has no record of this error"}
	case err != nil:
		is.idpDown(w, r, err, "")
		return
	}
	Annotate(w, slog.String("result", "flow_error"))
	reason := firstNonEmpty(fe.Reason, fe.Message, fe.Status, "no details were given")
	writeError(w, r, errorPage{
		Status:   http.StatusOK,
		Title:    "Sign-in failed at the identity provider",
		Message:  "The identity provider stopped this sign-in with an error.",
		Reasons:  []pageReason{{Code: "idp_flow_error", Message: reason}},
		RetryURL: is.origin + chain.LoginPath, RetryLabel: "Sign in again", Role: "issuer",
	})
}

// flowPageData is what the flow template renders.
type flowPageData struct {
	Title, Chain   string
	Action, Method string
	Messages       []FlowMessage
	Fields         []flowField
	Skipped        []string
	ReturnHost     string
	OtherURL       string
	OtherLabel     string
}

// flowField is a node as the template shows it.
type flowField struct {
	FlowNode
	ID     string // the element id, for its label
	Hidden bool
	Submit bool
}

// flowInputTypes are the input types the page renders as they are; any
// other type Kratos sends becomes text.
var flowInputTypes = map[string]bool{
	"text": true, "email": true, "password": true, "hidden": true, "tel": true, "number": true,
	"url": true, "checkbox": true, "date": true, "datetime-local": true, "submit": true, "button": true,
}

func newFlowField(n FlowNode) flowField {
	if !flowInputTypes[n.Type] {
		n.Type = "text"
	}
	if n.Type == "button" {
		n.Type = "submit"
	}
	return flowField{FlowNode: n, ID: "f-" + strings.NewReplacer(".", "-", "_", "-").Replace(n.Name),
		Hidden: n.Type == "hidden", Submit: n.Type == "submit"}
}

var flowPages = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("flow").Parse(`{{define "flow"}}<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer"><title>{{.Title}} · {{.Chain}}</title><style>` + devIdPStyle + `</style></head>
<body><main>
<h1>{{.Title}}</h1>
{{range .Messages}}<p class="{{if eq .Type "error"}}error{{else}}muted{{end}}" role="{{if eq .Type "error"}}alert{{else}}status{{end}}">{{.Text}}</p>
{{end}}<form method="{{.Method}}" action="{{.Action}}">
{{range .Fields}}{{if .Hidden}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{else if .Submit}}<button type="submit" name="{{.Name}}" value="{{.Value}}"{{if .Disabled}} disabled{{end}}>{{if .Label}}{{.Label}}{{else}}Continue{{end}}</button>
{{else}}<label for="{{.ID}}">{{if .Label}}{{.Label}}{{else}}{{.Name}}{{end}}</label>
<input id="{{.ID}}" name="{{.Name}}" type="{{.Type}}"{{if and .Value (ne .Type "password")}} value="{{.Value}}"{{end}}{{if .Autocomplete}} autocomplete="{{.Autocomplete}}"{{end}}{{if .Required}} required{{end}}{{if .Disabled}} disabled{{end}}>
{{end}}{{range .Messages}}<p class="{{if eq .Type "error"}}error{{else}}muted{{end}}">{{.Text}}</p>
{{end}}{{end}}</form>
{{if .ReturnHost}}<p class="muted">After this you go back to {{.ReturnHost}}.</p>
{{end}}{{if .OtherURL}}<p><a href="{{.OtherURL}}">{{.OtherLabel}}</a></p>
{{end}}{{if .Skipped}}<p class="muted">This page offers password sign-in only; the identity provider's other methods ({{range $i, $g := .Skipped}}{{if $i}}, {{end}}{{$g}}{{end}}) are not shown.</p>
{{end}}<p class="muted">{{.Chain}} · ssoctl issuer · Ory Kratos</p>
</main></body></html>{{end}}`))
})

// writeFlowPage sends a flow page under a CSP that allows its one inline
// style and form posts to the chain's origins: the post goes to Kratos,
// and the redirects after it pass the issuer and every receiver.
func (is *Issuer) writeFlowPage(w http.ResponseWriter, status int, name string, p flowPageData) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src "+devIdPStyleSource+"; base-uri 'none'; form-action "+is.formAction+"; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_ = flowPages().ExecuteTemplate(w, name, p)
}

// sameOrigin reports whether raw has the origin of base (scheme, host and
// port, compared without case).
func sameOrigin(raw, base string) bool {
	u, err := url.Parse(raw)
	b, berr := url.Parse(base)
	return err == nil && berr == nil && u.Host != "" &&
		strings.EqualFold(u.Scheme, b.Scheme) && strings.EqualFold(u.Host, b.Host)
}

// originOrRaw is raw's origin for a message, or a placeholder.
func originOrRaw(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Scheme + "://" + u.Host
	}
	return "an address that is not a URL"
}
