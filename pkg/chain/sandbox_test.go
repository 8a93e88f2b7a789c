package chain_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve"
)

// designChain is the DESIGN §12 chain with expectations a first login
// meets: an issuer and a dev IdP under company.localhost, receivers on two
// other root domains.
const designChain = `version: 1
name: company
dev: true
idp:
  kind: dev
  public_url: http://auth.company.localhost:4433
  admin_url: http://auth.company.localhost:4434
  users:
    - {email: alice@example.com, password: wonderland, role: admin}
issuer:
  url: http://accounts.company.localhost:8080
  cookie: {name: accounts_session, ttl: 8h}
token:
  alg: HS256
  ttl: 30s
  leeway: 5s
mode: hub
receivers:
  - name: portal
    url: http://portal.company2.localhost:8081
    cookie: {name: portal_session, ttl: 8h}
  - name: dashboard
    url: http://dashboard.company3.localhost:8082
return_to:
  allow:
    - http://*.company.localhost:8080
    - http://portal.company2.localhost:8081
    - http://dashboard.company3.localhost:8082
expect:
  final_url_prefix: http://dashboard.company3.localhost:8082/
  max_hops: 8
  max_token_lifetime: 30s
  cookies:
    accounts.company.localhost: [accounts_session]
`

const (
	designIssuer    = "http://accounts.company.localhost:8080"
	designPortal    = "http://portal.company2.localhost:8081"
	designDashboard = "http://dashboard.company3.localhost:8082"
	designIdP       = "http://auth.company.localhost:4433"
	designIdPAdmin  = "http://auth.company.localhost:4434"
)

// sandbox is a chain file stood up with ssoctl's own roles, each on a
// loopback listener reached under its chain name through a Dialer map, as
// trace --sandbox does.
type sandbox struct {
	t      testing.TB
	chain  *chain.Chain
	clock  *clock
	dialer *chain.Dialer
	srv    map[string]*httptest.Server // by origin
	roles  *serve.Roles
}

// withTransport sets token.transport in designChain.
func withTransport(yaml, transport string) string {
	return strings.Replace(yaml, "  leeway: 5s\n", "  leeway: 5s\n  transport: "+transport+"\n", 1)
}

func standUp(t testing.TB, yaml string) *sandbox {
	t.Helper()
	c, err := chain.Parse("chain.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	sb := &sandbox{t: t, chain: c, clock: newClock(), dialer: &chain.Dialer{Map: map[string]string{}, Strict: true}, srv: map[string]*httptest.Server{}}
	env := serve.Env{
		HTTPClient: &http.Client{Transport: &http.Transport{DialContext: sb.dialer.DialContext}},
		Now:        sb.clock.Now,
	}
	idp, err := serve.NewDevIdPFromChain(c, env)
	if err != nil {
		t.Fatal(err)
	}
	sb.serve(c.IdP.PublicURL, idp.Public())
	sb.serve(c.IdP.AdminURL, idp.Admin())
	if sb.roles, err = serve.NewRoles(c, env, serve.RoleOptions{}); err != nil {
		t.Fatal(err)
	}
	sb.serve(c.Issuer.URL, sb.roles.Issuer)
	for _, r := range c.Receivers {
		sb.serve(r.URL, sb.roles.Receivers[r.Name])
	}
	return sb
}

func (sb *sandbox) serve(origin string, h http.Handler) {
	srv := httptest.NewServer(h)
	sb.t.Cleanup(srv.Close)
	u, _ := url.Parse(origin)
	sb.dialer.Map[u.Host] = srv.Listener.Addr().String()
	sb.srv[origin] = srv
}

// browser walks with the chain's own dev user, or with c when given.
func (sb *sandbox) browser(c *chain.Chain) *chain.Browser {
	sb.t.Helper()
	if c == nil {
		c = sb.chain
	}
	b, err := chain.NewBrowser(chain.BrowserOptions{Dialer: sb.dialer, Chain: c, Now: sb.clock.Now})
	if err != nil {
		sb.t.Fatal(err)
	}
	return b
}
