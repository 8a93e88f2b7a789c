// Package hydratest runs a real Ory Hydra for ssoctl's OpenID Connect
// tests, through scripts/hydra.sh: built once from the Go module proxy into
// $HOME/.cache/ssoctl, configured as one provider (dsn: memory, the test's
// login and consent pages, public subject identifiers), on free loopback
// ports under a *.localhost host name.
//
// Hydra is a few minutes' build, so a plain `go test` does not start one:
// the test is skipped unless Hydra is already built (./scripts/hydra.sh
// build, which scripts/test runs) or CI=true. Under CI a Hydra that cannot
// be built or started fails the test with the reason; elsewhere it is
// skipped with the reason, and -short skips it without trying.
package hydratest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	client "github.com/ory/client-go"

	"github.com/ssoctl/ssoctl/internal/testenv"
	"github.com/ssoctl/ssoctl/pkg/chain"
)

// Version is the Hydra that scripts/hydra.sh builds.
const Version = "v2.3.0"

// Options describe the provider a Hydra serves.
type Options struct {
	// Host is Hydra's host name (hydra.company.localhost), for both its
	// public and admin URLs; it must end in .localhost, which a
	// chain.Dialer sends to loopback without DNS.
	Host string
	// LoginURL and ConsentURL are the login and consent provider's pages;
	// Hydra sends browsers there with ?login_challenge= and
	// ?consent_challenge=. Both are required.
	LoginURL, ConsentURL string
	// LogoutURL is the logout page (?logout_challenge=); empty means
	// Hydra's own fallback, which accepts every logout.
	LogoutURL string
	// PostLogoutURL ends a logout that names no post_logout_redirect_uri;
	// empty means Hydra's own fallback page.
	PostLogoutURL string
	// PublicPort and AdminPort are the loopback ports to listen on; 0
	// picks a free one.
	PublicPort, AdminPort int
}

// Hydra is one running Hydra.
type Hydra struct {
	publicURL string // http://Host:port, the issuer
	adminURL  string // http://Host:port
	dir       string
	env       []string
	admin     *client.APIClient
}

// Start starts a Hydra for o and stops it when the test ends.
func Start(t testing.TB, o Options) *Hydra {
	t.Helper()
	if testing.Short() {
		t.Skip("hydratest: -short: not starting a real Hydra")
	}
	if !strings.HasSuffix(o.Host, ".localhost") {
		t.Fatalf("hydratest: host %q must end in .localhost", o.Host)
	}
	if o.LoginURL == "" || o.ConsentURL == "" {
		t.Fatal("hydratest: Options.LoginURL and Options.ConsentURL are required")
	}
	if !testenv.CI() {
		if bin := binary(); !testenv.IsExecutable(bin) {
			t.Skipf("hydratest: Hydra %s is not built at %s; run ./scripts/hydra.sh build (a few minutes, once), or set CI=true to build it here", Version, bin)
		}
	}
	pub, adm := o.PublicPort, o.AdminPort
	if pub == 0 {
		pub = testenv.FreePort(t)
	}
	if adm == 0 {
		adm = testenv.FreePort(t)
	}
	h := &Hydra{
		publicURL: "http://" + o.Host + ":" + strconv.Itoa(pub),
		adminURL:  "http://" + o.Host + ":" + strconv.Itoa(adm),
		dir:       t.TempDir(),
	}
	h.env = append(os.Environ(),
		"HYDRA_PUBLIC_URL="+h.publicURL,
		"HYDRA_ADMIN_URL="+h.adminURL,
		"HYDRA_PUBLIC_LISTEN=127.0.0.1:"+strconv.Itoa(pub),
		"HYDRA_ADMIN_LISTEN=127.0.0.1:"+strconv.Itoa(adm),
		"HYDRA_LOGIN_URL="+o.LoginURL,
		"HYDRA_CONSENT_URL="+o.ConsentURL,
		"HYDRA_LOGOUT_URL="+o.LogoutURL,
		"HYDRA_POST_LOGOUT_URL="+o.PostLogoutURL,
	)
	h.run(t, "start")
	t.Cleanup(func() { h.run(t, "stop") })
	cfg := client.NewConfiguration()
	// client-go's default server is Ory Network; the admin URL goes
	// through the dialer like every other host name here.
	cfg.Servers = client.ServerConfigurations{{URL: h.adminURL}}
	cfg.HTTPClient = &http.Client{Transport: Transport(), Timeout: 10 * time.Second}
	h.admin = client.NewAPIClient(cfg)
	return h
}

// Transport reaches *.localhost host names on loopback and nothing else:
// no DNS, no proxy from the environment.
func Transport() *http.Transport {
	d := &chain.Dialer{Strict: true}
	return &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 16}
}

// PublicURL is Hydra's public URL, which is also its issuer (the id_token's
// iss and the base of /.well-known/openid-configuration).
func (h *Hydra) PublicURL() string { return h.publicURL }

// AdminURL is Hydra's admin URL; its API is under /admin.
func (h *Hydra) AdminURL() string { return h.adminURL }

// OAuth2API is Hydra's admin API, for a login and consent provider to read
// and accept (or reject) the challenges Hydra sends browsers with.
func (h *Hydra) OAuth2API() client.OAuth2API { return h.admin.OAuth2API }

// Stop stops Hydra; Restart brings it back on the same ports and with the
// same signing secret, but an empty store (dsn: memory): clients, sessions
// and keys are gone.
func (h *Hydra) Stop(t testing.TB) {
	t.Helper()
	h.run(t, "stop")
}

// Restart starts Hydra again after Stop.
func (h *Hydra) Restart(t testing.TB) {
	t.Helper()
	h.run(t, "start")
}

// Log is what Hydra has logged so far, for a failing test to show.
func (h *Hydra) Log() string {
	b, _ := os.ReadFile(filepath.Join(h.dir, "hydra.log"))
	return string(b)
}

func (h *Hydra) run(t testing.TB, verb string) {
	t.Helper()
	script := filepath.Join(testenv.RepoRoot(t), "scripts", "hydra.sh")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, verb, h.dir)
	cmd.Env = h.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := fmt.Sprintf("hydratest: scripts/hydra.sh %s: %v\n%s", verb, err, stderr.String())
		if verb == "start" && !testenv.CI() && h.admin == nil {
			t.Skip(msg + "\n(a failure under CI=true)")
		}
		t.Fatal(msg)
	}
}

// Client is an OAuth 2.0 client (a relying party) to register. Zero fields
// take the defaults of a confidential OpenID Connect client using the
// authorization code flow.
type Client struct {
	// Name is shown nowhere but Hydra's admin API; it helps a failing test.
	Name string
	// RedirectURIs are the exact redirect_uri values Hydra accepts.
	RedirectURIs []string
	// PostLogoutRedirectURIs are where RP-initiated logout may end.
	PostLogoutRedirectURIs []string
	// BackchannelLogoutURI receives Hydra's logout token. Hydra POSTs to it
	// itself, resolving the host with the system resolver rather than a
	// test's dialer, so use a 127.0.0.1 URL here.
	BackchannelLogoutURI string
	// FrontchannelLogoutURI is loaded in an iframe by Hydra's logout page.
	FrontchannelLogoutURI string
	// Scope is the space-separated scopes the client may ask for
	// (default "openid offline_access email profile").
	Scope string
	// TokenEndpointAuthMethod is client_secret_basic (the default),
	// client_secret_post, or none for a public client (no secret; PKCE).
	TokenEndpointAuthMethod string
	// GrantTypes default to authorization_code and refresh_token.
	GrantTypes []string
	// ResponseTypes default to code.
	ResponseTypes []string
	// Audience are the audiences the client may ask access tokens for.
	Audience []string
	// SkipConsent makes Hydra skip the consent page for this client.
	SkipConsent bool
}

// CreateClient registers c through the admin API
// (OAuth2API.CreateOAuth2Client) and returns its id and secret; the secret
// is empty for a public client (TokenEndpointAuthMethod "none").
func (h *Hydra) CreateClient(t testing.TB, c Client) (id, secret string) {
	t.Helper()
	body := client.OAuth2Client{
		RedirectUris:            c.RedirectURIs,
		PostLogoutRedirectUris:  c.PostLogoutRedirectURIs,
		GrantTypes:              orDefault(c.GrantTypes, []string{"authorization_code", "refresh_token"}),
		ResponseTypes:           orDefault(c.ResponseTypes, []string{"code"}),
		Audience:                c.Audience,
		Scope:                   client.PtrString(orDefault(c.Scope, "openid offline_access email profile")),
		TokenEndpointAuthMethod: client.PtrString(orDefault(c.TokenEndpointAuthMethod, "client_secret_basic")),
		SkipConsent:             client.PtrBool(c.SkipConsent),
	}
	if c.Name != "" {
		body.ClientName = client.PtrString(c.Name)
	}
	// Hydra puts the session's sid in logout tokens and front-channel
	// URLs only when asked; a relying party needs it to end one session.
	if c.BackchannelLogoutURI != "" {
		body.BackchannelLogoutUri = client.PtrString(c.BackchannelLogoutURI)
		body.BackchannelLogoutSessionRequired = client.PtrBool(true)
	}
	if c.FrontchannelLogoutURI != "" {
		body.FrontchannelLogoutUri = client.PtrString(c.FrontchannelLogoutURI)
		body.FrontchannelLogoutSessionRequired = client.PtrBool(true)
	}
	got, resp, err := h.admin.OAuth2API.CreateOAuth2Client(context.Background()).OAuth2Client(body).Execute()
	if err != nil {
		t.Fatalf("hydratest: create client %q: %v (%s)", c.Name, err, status(resp, err))
	}
	return got.GetClientId(), got.GetClientSecret()
}

// RevokeLoginSessions ends every login session of a subject
// (OAuth2API.RevokeOAuth2LoginSessions), so its next authorization request
// shows the login page again. Hydra sends no front- or back-channel logout
// for a revocation by subject.
func (h *Hydra) RevokeLoginSessions(t testing.TB, subject string) {
	t.Helper()
	resp, err := h.admin.OAuth2API.RevokeOAuth2LoginSessions(context.Background()).Subject(subject).Execute()
	if err != nil {
		t.Fatalf("hydratest: revoke login sessions of %s: %v (%s)", subject, err, status(resp, err))
	}
}

// RevokeLoginSession ends one login session by its sid; unlike a
// revocation by subject, Hydra then sends back-channel logout to the
// session's clients.
func (h *Hydra) RevokeLoginSession(t testing.TB, sid string) {
	t.Helper()
	resp, err := h.admin.OAuth2API.RevokeOAuth2LoginSessions(context.Background()).Sid(sid).Execute()
	if err != nil {
		t.Fatalf("hydratest: revoke login session %s: %v (%s)", sid, err, status(resp, err))
	}
}

// status describes an admin API answer: its status and, when client-go
// kept it, Hydra's error body, which says what Hydra refused and why.
func status(resp *http.Response, err error) string {
	if resp == nil {
		return "no answer"
	}
	var oe *client.GenericOpenAPIError
	if errors.As(err, &oe) && len(oe.Body()) > 0 {
		return resp.Status + ": " + strings.TrimSpace(string(oe.Body()))
	}
	return resp.Status
}

func orDefault[T string | []string](v, def T) T {
	if len(v) == 0 {
		return def
	}
	return v
}

// binary is where scripts/hydra.sh build puts Hydra.
func binary() string {
	return filepath.Join(testenv.CacheDir(), "hydra-"+Version, "hydra")
}
