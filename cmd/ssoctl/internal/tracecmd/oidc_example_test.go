package tracecmd_test

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/hydratest"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve"
)

// TestLive_oidcExample is issue 8's acceptance: examples/oidc, run as its
// run.sh runs it (a real Hydra, the issuer registered from client.json,
// the login pages, issuer and receivers as serve dev serves them), traced
// live from its chain file: exit 0, every hop from the issuer through
// Hydra's login and consent back to the last receiver. The example's
// fixed ports are swapped for free ones.
func TestLive_oidcExample(t *testing.T) {
	raw, err := os.ReadFile("../../../../examples/oidc/chain.yaml")
	if err != nil {
		t.Fatal(err)
	}
	client, err := os.ReadFile("../../../../examples/oidc/client.json")
	if err != nil {
		t.Fatal(err)
	}
	// Listeners first, so their ports are ours: hydra login, issuer, portal, dashboard.
	var lns []net.Listener
	ports := map[string]string{}
	for _, p := range []string{"4455", "9180", "9181", "9182"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports[p] = strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	}
	hydra := hydratest.Start(t, hydratest.Options{
		Host:       "hydra.oidc.localhost",
		LoginURL:   "http://login.oidc.localhost:" + ports["4455"] + serve.HydraLoginPath,
		ConsentURL: "http://login.oidc.localhost:" + ports["4455"] + serve.HydraConsentPath,
		LogoutURL:  "http://login.oidc.localhost:" + ports["4455"] + serve.HydraLogoutPath,
	})
	ports["4444"] = hydra.PublicURL()[strings.LastIndex(hydra.PublicURL(), ":")+1:]
	ports["4445"] = hydra.AdminURL()[strings.LastIndex(hydra.AdminURL(), ":")+1:]
	swap := func(s string) string {
		for from, to := range ports {
			s = strings.ReplaceAll(s, ":"+from, ":"+to)
		}
		return s
	}
	file := filepath.Join(t.TempDir(), "chain.yaml")
	if err := os.WriteFile(file, []byte(swap(string(raw))), 0o600); err != nil {
		t.Fatal(err)
	}

	// run.sh: register the client.
	req, _ := http.NewRequest(http.MethodPost, hydra.AdminURL()+"/admin/clients", bytes.NewReader([]byte(swap(string(client)))))
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: hydratest.Transport(), Timeout: 10 * time.Second}).Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("registering client.json at Hydra: %v %v", err, resp)
	}
	var created struct {
		ID string `json:"client_id"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if created.ID != "ssoctl-accounts" {
		t.Fatalf("Hydra registered client %q, want the chain's ssoctl-accounts", created.ID)
	}

	// serve dev: the login pages, the issuer and the receivers.
	c, err := chain.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	d := &chain.Dialer{}
	env := serve.Env{HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}}
	login, err := serve.NewHydraLoginFromChain(c, env)
	if err != nil {
		t.Fatal(err)
	}
	roles, err := serve.NewRoles(c, env, serve.RoleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range []http.Handler{login, roles.Issuer, roles.Receivers["portal"], roles.Receivers["dashboard"]} {
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(lns[i])
		t.Cleanup(func() { srv.Close() })
	}

	r := run(t, "", "trace", "chain", "-f", file)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s\nhydra log (tail):\n%s", r.code, r.stdout, r.stderr, tailLines(hydra.Log(), 15))
	}
	var got []string
	for _, h := range hopLine.FindAllStringSubmatch(r.stdout, -1) {
		u, _, _ := strings.Cut(h[3], "?")
		got = append(got, h[2]+" "+u)
	}
	want := []string{
		"GET 127.0.0.1:" + ports["9180"] + "/login",
		"GET hydra.oidc.localhost:" + ports["4444"] + "/oauth2/auth",
		"GET login.oidc.localhost:" + ports["4455"] + "/hydra/login",
		"POST login.oidc.localhost:" + ports["4455"] + "/hydra/login",
		"GET hydra.oidc.localhost:" + ports["4444"] + "/oauth2/auth",
		"GET login.oidc.localhost:" + ports["4455"] + "/hydra/consent",
		"GET hydra.oidc.localhost:" + ports["4444"] + "/oauth2/auth",
		"GET 127.0.0.1:" + ports["9180"] + "/callback",
		"GET portal.oidc2.localhost:" + ports["9181"] + "/sso",
		"GET 127.0.0.1:" + ports["9180"] + "/sso/continue",
		"GET dashboard.oidc3.localhost:" + ports["9182"] + "/sso",
		"GET 127.0.0.1:" + ports["9180"] + "/sso/continue",
		"GET dashboard.oidc3.localhost:" + ports["9182"] + "/",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("hops:\n%s\nwant:\n%s\n\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), r.stdout)
	}
	js := run(t, "", "-o", "json", "trace", "chain", "-f", file)
	for _, secret := range []string{"ory_ac_", "dev-only-oidc-client-secret"} {
		if strings.Contains(js.stdout, secret) {
			t.Errorf("the JSON trace shows %q:\n%s", secret, js.stdout)
		}
	}
	for _, secret := range []string{"ory_ac_", "dev-only-oidc-client-secret"} {
		if strings.Contains(r.stdout, secret) {
			t.Errorf("the trace shows %q:\n%s", secret, r.stdout)
		}
	}
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
