package tracecmd_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve"
)

// serveChain writes the example chain on free ports and serves its roles
// on their listen addresses, as `ssoctl serve dev` would in another shell,
// until the test ends. It returns the chain file. extra is YAML appended to
// it, such as "mode: relay\n".
func serveChain(t *testing.T, extra ...string) string {
	t.Helper()
	var lns []net.Listener
	var ports []int
	for range 5 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	p := ports
	yaml := fmt.Sprintf(`version: 1
name: company
dev: true
idp:
  kind: dev
  public_url: http://auth.company.localhost:%d
  admin_url: http://auth.company.localhost:%d
  users:
    - {email: alice@example.com, password: wonderland}
issuer:
  url: http://accounts.company.localhost:%d
token:
  alg: HS256
  secret: dev-only-hs256-secret-for-examples-local-not-for-production
receivers:
  - name: portal
    url: http://portal.company2.localhost:%d
  - name: dashboard
    url: http://dashboard.company3.localhost:%d
return_to:
  allow:
    - http://*.company.localhost:%d
    - http://portal.company2.localhost:%d
    - http://dashboard.company3.localhost:%d
expect:
  final_url_prefix: http://dashboard.company3.localhost:%d/
`, p[0], p[1], p[2], p[3], p[4], p[2], p[3], p[4], p[4]) + strings.Join(extra, "")
	file := filepath.Join(t.TempDir(), "chain.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := chain.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	// *.localhost is loopback, and every role listens on its URL's port.
	d := &chain.Dialer{}
	env := serve.Env{HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}}
	idp, err := serve.NewDevIdPFromChain(c, env)
	if err != nil {
		t.Fatal(err)
	}
	roles, err := serve.NewRoles(c, env, serve.RoleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	handlers := []http.Handler{idp.Public(), idp.Admin(), roles.Issuer, roles.Receivers["portal"], roles.Receivers["dashboard"]}
	for i, h := range handlers {
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(lns[i])
		t.Cleanup(func() { srv.Close() })
	}
	return file
}
