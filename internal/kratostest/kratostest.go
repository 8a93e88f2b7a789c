// Package kratostest runs a real Ory Kratos for ssoctl's tests, through
// scripts/kratos.sh: built once from the Go module proxy into
// $HOME/.cache/ssoctl, configured for one chain (dsn: memory, the password
// method, an identity schema with an email trait and nothing else, the
// issuer's /ui pages as Kratos's UI), on free loopback ports. A role is
// the identity's metadata_public.role, which only the admin API sets.
//
// When Kratos cannot be built or started the test fails with the reason
// under CI (CI=true); elsewhere it is skipped with the reason, and -short
// skips it without trying.
package kratostest

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
)

// Options describe the chain a Kratos serves.
type Options struct {
	// Host is the IdP's host name (auth.company.localhost); it must end in
	// .localhost, which resolves to loopback without DNS.
	Host string
	// UIURL is the issuer's URL; Kratos's flows send browsers to its /ui
	// pages and may return to it.
	UIURL string
	// ReturnURLs are further URLs Kratos may return browsers to.
	ReturnURLs []string
	// CookieDomain is the Domain of Kratos's session and CSRF cookies
	// (company.localhost), so the issuer on a sibling host receives them.
	CookieDomain string
	// PublicPort and AdminPort are the loopback ports to listen on; 0
	// picks a free one.
	PublicPort, AdminPort int
}

// Kratos is one running Kratos.
type Kratos struct {
	PublicURL string // http://Host:port
	AdminURL  string // http://Host:port
	dir       string
	env       []string
	admin     *client.APIClient
	public    *client.APIClient
}

// Start starts a Kratos for o and stops it when the test ends.
func Start(t testing.TB, o Options) *Kratos {
	t.Helper()
	if testing.Short() {
		t.Skip("kratostest: -short: not starting a real Kratos")
	}
	if !strings.HasSuffix(o.Host, ".localhost") {
		t.Fatalf("kratostest: host %q must end in .localhost", o.Host)
	}
	script := filepath.Join(testenv.RepoRoot(t), "scripts", "kratos.sh")
	pub, adm := o.PublicPort, o.AdminPort
	if pub == 0 {
		pub = testenv.FreePort(t)
	}
	if adm == 0 {
		adm = testenv.FreePort(t)
	}
	k := &Kratos{
		PublicURL: "http://" + o.Host + ":" + strconv.Itoa(pub),
		AdminURL:  "http://" + o.Host + ":" + strconv.Itoa(adm),
		dir:       t.TempDir(),
	}
	k.env = append(os.Environ(),
		"KRATOS_PUBLIC_URL="+k.PublicURL,
		"KRATOS_ADMIN_URL="+k.AdminURL,
		"KRATOS_UI_URL="+o.UIURL,
		"KRATOS_RETURN_URLS="+strings.Join(append([]string{o.UIURL}, o.ReturnURLs...), " "),
		"KRATOS_COOKIE_DOMAIN="+o.CookieDomain,
	)
	k.run(t, script, "start")
	t.Cleanup(func() { k.run(t, script, "stop") })
	k.admin = loopbackClient(adm)
	k.public = loopbackClient(pub)
	return k
}

// Stop stops Kratos; Restart brings it back on the same ports, with an
// empty store (dsn: memory).
func (k *Kratos) Stop(t testing.TB) {
	t.Helper()
	k.run(t, filepath.Join(testenv.RepoRoot(t), "scripts", "kratos.sh"), "stop")
}

// Restart starts Kratos again after Stop.
func (k *Kratos) Restart(t testing.TB) {
	t.Helper()
	k.run(t, filepath.Join(testenv.RepoRoot(t), "scripts", "kratos.sh"), "start")
}

// Log is what Kratos has logged so far, for a failing test to show.
func (k *Kratos) Log() string {
	b, _ := os.ReadFile(filepath.Join(k.dir, "kratos.log"))
	return string(b)
}

func (k *Kratos) run(t testing.TB, script, verb string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, verb, k.dir)
	cmd.Env = k.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := fmt.Sprintf("kratostest: scripts/kratos.sh %s: %v\n%s", verb, err, stderr.String())
		if verb == "start" && !testenv.CI() && k.admin == nil {
			t.Skip(msg + "\n(a failure under CI=true)")
		}
		t.Fatal(msg)
	}
}

func loopbackClient(port int) *client.APIClient {
	cfg := client.NewConfiguration()
	cfg.Servers = client.ServerConfigurations{{URL: "http://127.0.0.1:" + strconv.Itoa(port)}}
	cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	return client.NewAPIClient(cfg)
}

// CreateIdentity adds a person with a password through the admin API
// (IdentityAPI.CreateIdentity) and returns the identity's id. A role, when
// not empty, goes in the identity's metadata_public ({"role": role}):
// users cannot change it, while traits are theirs to edit.
func (k *Kratos) CreateIdentity(t testing.TB, email, password, role string) string {
	t.Helper()
	return k.CreateIdentityWithAdminMetadata(t, email, password, role, nil)
}

// CreateIdentityWithAdminMetadata is CreateIdentity with the identity's
// metadata_admin, which only the admin API can set or read (for example
// {"permissions": {"wiki": ["wiki:read"]}}, docs/introspect.md).
func (k *Kratos) CreateIdentityWithAdminMetadata(t testing.TB, email, password, role string, metadataAdmin map[string]any) string {
	t.Helper()
	body := client.CreateIdentityBody{
		SchemaId: "default",
		Traits:   map[string]any{"email": email},
		Credentials: &client.IdentityWithCredentials{Password: &client.IdentityWithCredentialsPassword{
			Config: &client.IdentityWithCredentialsPasswordConfig{Password: &password},
		}},
	}
	if role != "" {
		body.MetadataPublic = map[string]any{"role": role}
	}
	if metadataAdmin != nil {
		body.MetadataAdmin = metadataAdmin
	}
	id, resp, err := k.admin.IdentityAPI.CreateIdentity(context.Background()).CreateIdentityBody(body).Execute()
	if err != nil {
		// Kratos says in the body which trait its schema refused.
		var detail string
		if apiErr := (*client.GenericOpenAPIError)(nil); errors.As(err, &apiErr) {
			detail = ": " + string(apiErr.Body())
		}
		t.Fatalf("kratostest: create identity %s: %v (%s)%s", email, err, status(resp), detail)
	}
	return id.Id
}

// Register signs a person up through Kratos's self-service registration
// for API clients (FrontendAPI.CreateNativeRegistrationFlow, then
// UpdateRegistrationFlow with the password method), as anyone who can
// reach the public API may. It returns the HTTP status of the submission
// and, on success, the new identity's id; the error body when Kratos
// refused it.
func (k *Kratos) Register(t testing.TB, password string, traits map[string]any) (code int, identityID, refusal string) {
	t.Helper()
	ctx := context.Background()
	flow, resp, err := k.public.FrontendAPI.CreateNativeRegistrationFlow(ctx).Execute()
	if err != nil {
		t.Fatalf("kratostest: create registration flow: %v (%s)", err, status(resp))
	}
	body := client.UpdateRegistrationFlowWithPasswordMethodAsUpdateRegistrationFlowBody(
		client.NewUpdateRegistrationFlowWithPasswordMethod("password", password, traits))
	done, resp, err := k.public.FrontendAPI.UpdateRegistrationFlow(ctx).Flow(flow.Id).UpdateRegistrationFlowBody(body).Execute()
	if resp == nil {
		t.Fatalf("kratostest: submit registration: %v", err)
	}
	if err != nil {
		var apiErr *client.GenericOpenAPIError
		if errors.As(err, &apiErr) {
			refusal = string(apiErr.Body())
		}
		return resp.StatusCode, "", refusal
	}
	return resp.StatusCode, done.GetIdentity().Id, ""
}

// Login signs a person in through Kratos's self-service login for API
// clients (FrontendAPI.CreateNativeLoginFlow, then UpdateLoginFlow with the
// password method) and returns the session token and the session's id,
// for a test to ask whoami with the token and the admin API by id.
func (k *Kratos) Login(t testing.TB, email, password string) (sessionToken, sessionID string) {
	t.Helper()
	ctx := context.Background()
	flow, resp, err := k.public.FrontendAPI.CreateNativeLoginFlow(ctx).Execute()
	if err != nil {
		t.Fatalf("kratostest: create login flow: %v (%s)", err, status(resp))
	}
	body := client.UpdateLoginFlowWithPasswordMethodAsUpdateLoginFlowBody(
		client.NewUpdateLoginFlowWithPasswordMethod(email, "password", password))
	done, resp, err := k.public.FrontendAPI.UpdateLoginFlow(ctx).Flow(flow.Id).UpdateLoginFlowBody(body).Execute()
	if err != nil {
		t.Fatalf("kratostest: log %s in: %v (%s)", email, err, status(resp))
	}
	if done.GetSessionToken() == "" || done.Session.Id == "" {
		t.Fatalf("kratostest: log %s in: no session token or session in the answer", email)
	}
	return done.GetSessionToken(), done.Session.Id
}

// Sessions lists an identity's active sessions' ids.
func (k *Kratos) Sessions(t testing.TB, identityID string) []string {
	t.Helper()
	ss, resp, err := k.admin.IdentityAPI.ListIdentitySessions(context.Background(), identityID).Active(true).Execute()
	if err != nil {
		t.Fatalf("kratostest: list sessions: %v (%s)", err, status(resp))
	}
	var ids []string
	for _, s := range ss {
		ids = append(ids, s.Id)
	}
	return ids
}

// RevokeSessions ends every session of an identity
// (IdentityAPI.DeleteIdentitySessions), as an admin would on offboarding.
func (k *Kratos) RevokeSessions(t testing.TB, identityID string) {
	t.Helper()
	resp, err := k.admin.IdentityAPI.DeleteIdentitySessions(context.Background(), identityID).Execute()
	if err != nil {
		t.Fatalf("kratostest: revoke sessions: %v (%s)", err, status(resp))
	}
}

func status(resp *http.Response) string {
	if resp == nil {
		return "no answer"
	}
	return resp.Status
}
