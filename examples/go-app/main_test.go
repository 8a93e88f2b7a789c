package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ssoctl/ssoctl/internal/browsertest"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve"
)

// TestAppBehindReceiver runs examples/local/chain.yaml in process with the
// portal receiver proxying to this app, logs alice in and reads the page.
func TestAppBehindReceiver(t *testing.T) {
	c, err := chain.Load("../local/chain.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const appURL = "http://go-app.localhost:3000"
	portal, _ := c.Receiver("portal")
	portal.Upstream = appURL

	n := browsertest.NewNet()
	env := serve.Env{HTTPClient: n.Client()}
	idp, err := serve.NewDevIdPFromChain(c, env)
	if err != nil {
		t.Fatal(err)
	}
	n.Serve(t, c.IdP.PublicURL, idp.Public())
	n.Serve(t, c.IdP.AdminURL, idp.Admin())
	roles, err := serve.NewRoles(c, env, serve.RoleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Serve(t, c.Issuer.URL, roles.Issuer)
	for name, h := range roles.Receivers {
		r, _ := c.Receiver(name)
		n.Serve(t, r.URL, h)
	}
	n.Serve(t, appURL, newApp())

	b := browsertest.New(t, n)
	b.Email, b.Password = "alice@example.com", "wonderland"
	p := b.Visit(portal.URL + "/")
	if p.Status != http.StatusOK || p.URL != portal.URL+"/" || !strings.Contains(p.Body, "Hello, alice@example.com") {
		t.Fatalf("walk ended at %s with %d:\n%s", p.URL, p.Status, p.Body)
	}
	// Straight to the app, with no identity headers: refused.
	stranger := browsertest.New(t, n)
	if resp, _ := stranger.Get(appURL + "/"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("app without identity = %d, want 401", resp.StatusCode)
	}
}
