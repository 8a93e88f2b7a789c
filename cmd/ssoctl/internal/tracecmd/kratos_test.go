package tracecmd_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ssoctl/ssoctl/internal/kratostest"
	"github.com/ssoctl/ssoctl/pkg/chain"
)

const kratosExample = "../../../../examples/kratos/chain.yaml"

// TestSandbox_kratos: trace chain stands examples/kratos up in process
// against a real Kratos given by --idp-url, signs in through the Kratos
// login flow the issuer renders, and probes every receiver: exit 0, every
// hop as a browser takes it, nothing secret in the output.
func TestSandbox_kratos(t *testing.T) {
	c, err := chain.Load(kratosExample)
	if err != nil {
		t.Fatal(err)
	}
	k := kratostest.Start(t, kratostest.Options{
		Host: "auth.company.localhost", UIURL: c.Issuer.URL, ReturnURLs: c.ReturnTo.Allow, CookieDomain: c.IdP.CookieDomain,
	})
	// run's environment gives TRACE_PW this password.
	k.CreateIdentity(t, "alice@example.com", "env-password-not-shown", "admin")

	r := run(t, "", "-o", "json", "trace", "chain", "-f", kratosExample, "--sandbox", "--probe",
		"--idp-url", k.PublicURL, "--idp-admin-url", k.AdminURL,
		"--user", "alice@example.com", "--password-env", "TRACE_PW")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s\n%s", r.code, r.stdout, r.stderr, k.Log())
	}
	var tr chain.Trace
	if err := json.Unmarshal([]byte(r.stdout), &tr); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range tr.Steps {
		u, _, _ := strings.Cut(s.URL, "?")
		got = append(got, s.Method+" "+u+" "+string(s.Kind))
	}
	want := []string{
		"GET http://accounts.company.localhost:8080/login login",
		"GET " + k.PublicURL + "/self-service/login/browser idp_login",
		"GET http://accounts.company.localhost:8080/ui/login idp_login",
		"POST " + k.PublicURL + "/self-service/login idp_login",
		"GET http://accounts.company.localhost:8080/callback callback",
		"GET http://portal.company2.localhost:8081/sso handoff",
		"GET http://accounts.company.localhost:8080/sso/continue continue",
		"GET http://dashboard.company3.localhost:8082/sso handoff",
		"GET http://accounts.company.localhost:8080/sso/continue continue",
		"GET http://dashboard.company3.localhost:8082/ final",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("hops:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(tr.Probes) != 18 {
		t.Errorf("%d probes, want 18", len(tr.Probes))
	}
	// The issuer asks before a link from another site signs anyone out
	// of a real Kratos session.
	if last := tr.Probes[len(tr.Probes)-1]; last.Name != chain.ProbeLogoutCSRF || !last.Refused {
		t.Errorf("the last probe %+v, want logout_csrf refused", last)
	}
}
