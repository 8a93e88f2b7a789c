package serve

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	client "github.com/ory/client-go"
	"golang.org/x/net/http/httpguts"
)

// SelfService is the part of Kratos's browser self-service API that the
// issuer shows as its own pages when idp.kind is kratos: Kratos sends the
// browser to the issuer's /ui/login?flow=ID (its selfservice.flows.login.
// ui_url), the issuer reads the flow and renders its form, and the form
// posts straight back to Kratos. So a chain on Kratos needs no separate UI
// application.
type SelfService interface {
	// LoginFlow reads a browser login flow. The browser's Cookie header
	// must come along: Kratos checks the flow's CSRF cookie.
	LoginFlow(ctx context.Context, id, cookieHeader string) (*Flow, error)
	// RegistrationFlow reads a browser registration flow, likewise.
	RegistrationFlow(ctx context.Context, id, cookieHeader string) (*Flow, error)
	// FlowError reads the error a self-service flow ended in.
	FlowError(ctx context.Context, id string) (*FlowError, error)
}

var _ SelfService = (*Kratos)(nil)

// ErrFlowGone means Kratos does not have the flow any more, or not for this
// browser: it expired, never existed, or its CSRF cookie is missing. The
// browser must start a new one. RestartURL, when Kratos gave one, starts it
// with the same return_to.
type ErrFlowGone struct {
	Reason     string // a Kratos error id, or the status
	RestartURL string
}

func (e *ErrFlowGone) Error() string {
	return "the self-service flow is gone: " + e.Reason
}

// Flow is a Kratos self-service flow as the issuer renders it: where its
// form posts, its messages, and its input fields in Kratos's order.
type Flow struct {
	ID       string
	ReturnTo string
	Action   string
	Method   string
	Messages []FlowMessage
	Nodes    []FlowNode
	// Skipped names the groups of fields (oidc, webauthn, …) the issuer's
	// page does not offer.
	Skipped []string
}

// FlowMessage is one of Kratos's UI texts ("The provided credentials are
// invalid…"), with its type: info, error or success.
type FlowMessage struct {
	ID   int64
	Type string
	Text string
}

// FlowNode is one input of a flow's form.
type FlowNode struct {
	Group        string
	Name         string
	Type         string
	Value        string
	Label        string
	Autocomplete string
	Required     bool
	Disabled     bool
	Messages     []FlowMessage
}

// FlowError is the error a flow ended in, as Kratos's error UI shows it.
type FlowError struct {
	ID      string
	Code    int
	Status  string
	Reason  string
	Message string
}

// flowGroups are the node groups the issuer's pages render: the password
// method and the fields every method shares (csrf_token). Other methods
// need JavaScript or a third party the pages do not carry.
var flowGroups = map[string]bool{"default": true, "password": true, "profile": true}

// LoginFlow reads a browser login flow (FrontendAPI.GetLoginFlow).
func (k *Kratos) LoginFlow(ctx context.Context, id, cookieHeader string) (*Flow, error) {
	if err := checkFlowArgs(id, cookieHeader); err != nil {
		return nil, err
	}
	req := k.public.FrontendAPI.GetLoginFlow(ctx).Id(id)
	if cookieHeader != "" {
		req = req.Cookie(cookieHeader)
	}
	f, resp, err := req.Execute()
	if err := flowResult("get login flow", resp, err); err != nil {
		return nil, err
	}
	if f == nil || f.Id != id {
		return nil, errors.New("identity provider answered get login flow with another flow")
	}
	return newFlow(f.Id, f.GetReturnTo(), f.Ui), nil
}

// RegistrationFlow reads a browser registration flow
// (FrontendAPI.GetRegistrationFlow).
func (k *Kratos) RegistrationFlow(ctx context.Context, id, cookieHeader string) (*Flow, error) {
	if err := checkFlowArgs(id, cookieHeader); err != nil {
		return nil, err
	}
	req := k.public.FrontendAPI.GetRegistrationFlow(ctx).Id(id)
	if cookieHeader != "" {
		req = req.Cookie(cookieHeader)
	}
	f, resp, err := req.Execute()
	if err := flowResult("get registration flow", resp, err); err != nil {
		return nil, err
	}
	if f == nil || f.Id != id {
		return nil, errors.New("identity provider answered get registration flow with another flow")
	}
	return newFlow(f.Id, f.GetReturnTo(), f.Ui), nil
}

// FlowError reads a flow's error (FrontendAPI.GetFlowError).
func (k *Kratos) FlowError(ctx context.Context, id string) (*FlowError, error) {
	if err := checkFlowArgs(id, ""); err != nil {
		return nil, err
	}
	fe, resp, err := k.public.FrontendAPI.GetFlowError(ctx).Id(id).Execute()
	if err := flowResult("get flow error", resp, err); err != nil {
		return nil, err
	}
	out := &FlowError{ID: fe.Id}
	e := fe.Error
	str := func(k string) string { s, _ := e[k].(string); return s }
	out.Status, out.Reason, out.Message = str("status"), str("reason"), str("message")
	if c, ok := e["code"].(float64); ok {
		out.Code = int(c)
	}
	return out, nil
}

// checkFlowArgs refuses what cannot name a Kratos flow before it reaches a
// query string: flow ids are UUIDs.
func checkFlowArgs(id, cookieHeader string) error {
	if _, ok := kratosSessionID(id); !ok {
		return &ErrFlowGone{Reason: "the flow id is not a UUID"}
	}
	if cookieHeader != "" && !httpguts.ValidHeaderFieldValue(cookieHeader) {
		return &ErrFlowGone{Reason: "the cookie header holds characters HTTP does not allow"}
	}
	return nil
}

// flowResult maps a flow call's outcome: 403 (CSRF), 404 and 410 mean the
// browser must start over; the rest is as for sessions.
func flowResult(op string, resp *http.Response, err error) error {
	if err == nil {
		return nil
	}
	var apiErr *client.GenericOpenAPIError
	if resp != nil && errors.As(err, &apiErr) {
		switch resp.StatusCode {
		case http.StatusForbidden, http.StatusNotFound, http.StatusGone:
			gone := &ErrFlowGone{Reason: strconv.Itoa(resp.StatusCode) + kratosErrorID(apiErr)}
			// An expired flow's error names a new flow with the same
			// return_to (error.details.redirect_to); client-go's error
			// model has no field for it.
			var body struct {
				Error struct {
					Details struct {
						RedirectTo string `json:"redirect_to"`
					} `json:"details"`
				} `json:"error"`
			}
			if json.Unmarshal(apiErr.Body(), &body) == nil {
				gone.RestartURL = body.Error.Details.RedirectTo
			}
			return gone
		}
	}
	err = kratosResult(op, resp, err)
	if errors.Is(err, ErrNoSession) {
		return &ErrFlowGone{Reason: err.Error()}
	}
	return err
}

func newFlow(id, returnTo string, ui client.UiContainer) *Flow {
	f := &Flow{ID: id, ReturnTo: returnTo, Action: ui.Action, Method: strings.ToUpper(ui.Method), Messages: flowMessages(ui.Messages)}
	for _, n := range ui.Nodes {
		in := n.Attributes.UiNodeInputAttributes
		if !flowGroups[n.Group] || n.Type != "input" || in == nil {
			if n.Group != "" && !flowGroups[n.Group] && !slices.Contains(f.Skipped, n.Group) {
				f.Skipped = append(f.Skipped, n.Group)
			}
			continue
		}
		node := FlowNode{
			Group: n.Group, Name: in.Name, Type: in.Type, Value: flowValue(in.Value),
			Autocomplete: in.GetAutocomplete(), Required: in.GetRequired(), Disabled: in.Disabled,
			Messages: flowMessages(n.Messages),
		}
		if l := n.Meta.Label; l != nil {
			node.Label = l.Text
		} else if in.Label != nil {
			node.Label = in.Label.Text
		}
		f.Nodes = append(f.Nodes, node)
	}
	return f
}

func flowMessages(ts []client.UiText) []FlowMessage {
	var out []FlowMessage
	for _, t := range ts {
		out = append(out, FlowMessage{ID: t.Id, Type: t.Type, Text: t.Text})
	}
	return out
}

// flowValue is an input's value as the form sends it: Kratos gives strings,
// numbers and booleans; anything else is left empty.
func flowValue(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case nil:
		return ""
	}
	return ""
}
