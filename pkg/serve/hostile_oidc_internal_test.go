package serve

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/pkg/chain"
)

// TestHostileOIDCEndpoints sends an OIDC issuer's own endpoints what the
// hostile suite (hostile_test.go) sends the Kratos chain's: wrong methods
// and bodies over the limit or that do not parse. Each is refused with a
// logged reason and ends no session. HEAD matters most: a GET route also
// answers HEAD, and GET /oidc/frontchannel-logout ends the sessions it
// names, which a link checker's or a mail scanner's HEAD must not do
// (refuseOtherMethods).
func TestHostileOIDCEndpoints(t *testing.T) {
	bp := newBoundTestProvider(t, 10, false)
	if err := bp.login("s1", time.Hour); err != nil {
		t.Fatal(err)
	}
	keys, err := ResolveKeys(bp.chain, Env{}, true)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := keys.Sealer("issuer", bp.chain.Issuer.Cookie, Env{})
	if err != nil {
		t.Fatal(err)
	}
	is, err := NewIssuer(IssuerConfig{Chain: bp.chain, IdP: bp.p, Key: keys.Signing, Sealer: sealer, Now: bp.clock,
		SessionAPIKey: []byte("session-api-key-0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	frontchannel := chain.OIDCFrontchannelLogoutPath + "?" + url.Values{"iss": {bp.p.issuer}, "sid": {"s1"}}.Encode()
	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name, method, target string
		contentType, body    string
		status               int
		allow, reason        string
	}{
		{name: "HEAD of the front-channel logout", method: http.MethodHead, target: frontchannel,
			status: http.StatusMethodNotAllowed, allow: "GET", reason: "method_not_allowed"},
		{name: "POST to the front-channel logout", method: http.MethodPost, target: frontchannel,
			status: http.StatusMethodNotAllowed, allow: "GET", reason: "method_not_allowed"},
		{name: "GET of the back-channel logout", method: http.MethodGet, target: chain.OIDCBackchannelLogoutPath,
			status: http.StatusMethodNotAllowed, allow: "POST", reason: "method_not_allowed"},
		{name: "PUT to the back-channel logout", method: http.MethodPut, target: chain.OIDCBackchannelLogoutPath, contentType: form, body: "logout_token=x",
			status: http.StatusMethodNotAllowed, allow: "POST", reason: "method_not_allowed"},
		{name: "GET of the session API", method: http.MethodGet, target: chain.OIDCSessionPath + "?sid=s1",
			status: http.StatusMethodNotAllowed, allow: "POST", reason: "method_not_allowed"},
		{name: "back-channel body over the limit", method: http.MethodPost, target: chain.OIDCBackchannelLogoutPath,
			contentType: form, body: "logout_token=" + strings.Repeat("A", 128<<10),
			status: http.StatusRequestEntityTooLarge, reason: "body_too_large"},
		{name: "back-channel body that does not parse", method: http.MethodPost, target: chain.OIDCBackchannelLogoutPath,
			contentType: form, body: "logout_token=%zz",
			status: http.StatusBadRequest, reason: "form_invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := Observe("issuer", is, ObserveOptions{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Now: bp.clock})
			r := httptest.NewRequest(tt.method, bp.chain.Issuer.URL+tt.target, strings.NewReader(tt.body))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tt.status || rec.Header().Get("Allow") != tt.allow {
				t.Errorf("= %d Allow %q, want %d Allow %q", rec.Code, rec.Header().Get("Allow"), tt.status, tt.allow)
			}
			var line struct{ Reason string }
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &line); err != nil || line.Reason != tt.reason {
				t.Errorf("log reason %q (%v), want %q; log:\n%s", line.Reason, err, tt.reason, logs.String())
			}
			if _, err := bp.p.localSession(t.Context(), "s1"); err != nil {
				t.Fatalf("session s1 after the refusal: %v", err)
			}
		})
	}
}
