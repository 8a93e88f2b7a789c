package e2e

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/ssoctl/ssoctl/internal/testenv"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve"
)

// devChain is examples/local/chain.yaml on free ports, as a template for
// startChain. {{.Transport}} is token.transport.
const devChain = `version: 1
name: company
dev: true
idp:
  kind: dev
  public_url: http://auth.company.localhost:{{port "idp"}}
  admin_url: http://auth.company.localhost:{{port "idp-admin"}}
  users:
    - {email: alice@example.com, password: wonderland}
issuer:
  url: http://accounts.company.localhost:{{port "issuer"}}
  cookie: {name: accounts_session, ttl: 8h}
token:
  alg: HS256
  secret: dev-only-hs256-secret-for-examples-local-not-for-production
  ttl: 30s
  leeway: 5s
  transport: {{or .Transport "query"}}
mode: hub
receivers:
  - name: portal
    url: http://portal.company2.localhost:{{port "portal"}}
    cookie: {name: portal_session, ttl: 8h}
  - name: dashboard
    url: http://dashboard.company3.localhost:{{port "dashboard"}}
return_to:
  allow:
    - http://*.company.localhost:{{port "issuer"}}
    - http://portal.company2.localhost:{{port "portal"}}
    - http://dashboard.company3.localhost:{{port "dashboard"}}
store: {memory: {}}
`

// runningChain is a chain file served by this test process.
type runningChain struct {
	*chain.Chain
	File string
	// Logs are the roles' request logs (one line per request; never a
	// token, a cookie value or a password). startChain prints them when
	// the test fails.
	Logs *testenv.Buffer
}

// startChain renders tmpl, a chain file as a text/template, writes it and
// serves its roles on 127.0.0.1 at the ports in their URLs, as `ssoctl serve
// dev` does, until the test ends: the dev IdP (idp.kind dev), the issuer and
// every receiver that takes handoffs. In tmpl, {{port "name"}} is a free
// loopback port, the same one for the same name; data fills the
// template's other fields (nil: none, each is empty).
//
// The ports are held from the moment they are picked until a role listens
// on them, so no other test can take one in between. A port no role of
// ours serves (a real Kratos's, say) is released before startChain
// returns, for the caller to start that server on.
func startChain(t *testing.T, tmpl string, data any) *runningChain {
	t.Helper()
	held := map[int]net.Listener{}
	ports := map[string]int{}
	port := func(name string) (int, error) {
		if p, ok := ports[name]; ok {
			return p, nil
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := ln.Addr().(*net.TCPAddr).Port
		ports[name], held[p] = p, ln
		return p, nil
	}
	defer func() {
		for _, ln := range held {
			ln.Close()
		}
	}()
	tp, err := template.New("chain").Funcs(template.FuncMap{"port": port}).Parse(tmpl)
	if err != nil {
		t.Fatalf("chain template: %v", err)
	}
	if data == nil {
		data = map[string]any{}
	}
	var doc bytes.Buffer
	if err := tp.Execute(&doc, data); err != nil {
		t.Fatalf("chain template: %v", err)
	}
	file := filepath.Join(t.TempDir(), "chain.yaml")
	if err := os.WriteFile(file, doc.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := chain.Load(file)
	if err != nil {
		t.Fatalf("chain file:\n%s\n%v", doc.Bytes(), err)
	}

	logs := &testenv.Buffer{}
	t.Cleanup(func() {
		if t.Failed() && logs.String() != "" {
			t.Logf("the roles' request logs:\n%s", logs.String())
		}
	})
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// Every role is on loopback under *.localhost; Strict keeps the issuer
	// and receivers from reaching anything else, so no test touches DNS.
	d := &chain.Dialer{Strict: true}
	env := serve.Env{
		HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}},
		Logger:     logger,
	}
	serveOn := func(role, rawURL string, h http.Handler) {
		t.Helper()
		u, err := url.Parse(rawURL)
		if err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		p, _ := strconv.Atoi(u.Port())
		ln, ok := held[p]
		if !ok {
			t.Fatalf("%s: %s has no {{port}} of its own in the chain template", role, rawURL)
		}
		delete(held, p)
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				srv.Close()
			}
		})
	}
	if c.IdP.Kind == chain.IdPDev {
		idp, err := serve.NewDevIdPFromChain(c, env)
		if err != nil {
			t.Fatal(err)
		}
		obs := serve.ObserveOptions{Logger: logger}
		serveOn("idp", c.IdP.PublicURL, serve.Observe("idp", idp.Public(), obs))
		if c.IdP.AdminURL != "" && hostPort(c.IdP.AdminURL) != hostPort(c.IdP.PublicURL) {
			serveOn("idp admin", c.IdP.AdminURL, serve.Observe("idp-admin", idp.Admin(), obs))
		}
	}
	roles, err := serve.NewRoles(c, env, serve.RoleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if roles.Issuer == nil {
		t.Fatal("the chain gives no signing key, so no issuer can run")
	}
	serveOn("issuer", c.Issuer.URL, roles.Issuer)
	for _, r := range c.Receivers {
		if h, ok := roles.Receivers[r.Name]; ok {
			serveOn(r.Name, r.URL, h)
		}
	}
	return &runningChain{Chain: c, File: file, Logs: logs}
}

// Hosts are the host names of the chain's roles, each once.
func (c *runningChain) Hosts() []string {
	seen := map[string]bool{}
	var hosts []string
	add := func(raw string) {
		if u, err := url.Parse(raw); err == nil && u.Hostname() != "" && !seen[u.Hostname()] {
			seen[u.Hostname()] = true
			hosts = append(hosts, u.Hostname())
		}
	}
	add(c.IdP.PublicURL)
	add(c.Issuer.URL)
	for _, r := range c.Receivers {
		add(r.URL)
	}
	return hosts
}

func hostPort(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return strings.ToLower(u.Host)
}
