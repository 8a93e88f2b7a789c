package tracecmd

import (
	"strings"
	"testing"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/pkg/chain"
)

// TestOIDCLabel: the TOKEN column reads an OpenID Connect step in a line,
// with what is missing shown by its absence (pkce=none, no "state").
func TestOIDCLabel(t *testing.T) {
	tests := []struct {
		description string
		step        chain.Step
		want        string
	}{
		{
			description: "a code flow request with everything",
			step: chain.Step{OIDC: &chain.OIDCSummary{Kind: chain.OIDCAuthorizationRequest, ClientID: "ssoctl", Scope: []string{"openid", "email"},
				ResponseType: "code", CodeChallengeMethod: "S256", State: true, Nonce: true}},
			want: "client=ssoctl scope=openid,email pkce=S256 state nonce",
		},
		{
			description: "no PKCE, no state, a prompt",
			step: chain.Step{OIDC: &chain.OIDCSummary{Kind: chain.OIDCAuthorizationRequest, ClientID: "app", Scope: []string{"openid"},
				ResponseType: "code", Prompt: "login", MaxAge: "0"}},
			want: "client=app scope=openid pkce=none prompt=login max_age=0",
		},
		{
			description: "the implicit flow by form_post",
			step: chain.Step{OIDC: &chain.OIDCSummary{Kind: chain.OIDCAuthorizationRequest, ClientID: "spa",
				ResponseType: "id_token token", ResponseMode: "form_post", State: true}},
			want: "client=spa response_type=id_token+token mode=form_post pkce=none state",
		},
		{
			description: "a callback",
			step:        chain.Step{OIDC: &chain.OIDCSummary{Kind: chain.OIDCCallback, In: "query", Code: true, State: true}},
			want:        "code state (query)",
		},
		{
			description: "an error",
			step:        chain.Step{OIDC: &chain.OIDCSummary{Kind: chain.OIDCError, In: "query", Error: "access_denied"}},
			want:        "error=access_denied (query)",
		},
		{
			description: "an ID token in the fragment, decoded",
			step: chain.Step{
				OIDC:  &chain.OIDCSummary{Kind: chain.OIDCCallback, In: "fragment", Tokens: []string{"id_token"}, State: true},
				Token: &chain.TokenSummary{In: `fragment "id_token"`, Audience: []string{"spa"}, LifetimeS: 300},
			},
			want: "id_token state (fragment); aud=spa ttl=300s",
		},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			if got := stepTokenLabel(tt.step); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestOIDCRendered: every format shows the OpenID Connect step.
func TestOIDCRendered(t *testing.T) {
	tr := okTrace()
	tr.Steps[1].Kind = chain.HopOIDCAuth
	tr.Steps[1].OIDC = &chain.OIDCSummary{Kind: chain.OIDCAuthorizationRequest, ClientID: "ssoctl", Scope: []string{"openid"},
		ResponseType: "code", CodeChallengeMethod: "S256", State: true, Nonce: true}
	for _, tt := range []struct {
		format string
		want   []string
	}{
		{cmdutil.FormatText, []string{"oidc_auth", "client=ssoctl scope=openid pkce=S256 state nonce"}},
		{cmdutil.FormatJSON, []string{`"kind": "oidc_auth"`, `"code_challenge_method": "S256"`}},
		{FormatJUnit, []string{"oidc authorization_request client=ssoctl scope=openid pkce=S256 state nonce"}},
		{FormatMermaid, []string{"oidc client=ssoctl scope=openid pkce=S256 state nonce"}},
	} {
		out := render(t, tt.format, tr, false)
		for _, want := range tt.want {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q:\n%s", tt.format, want, out)
			}
		}
	}
}
