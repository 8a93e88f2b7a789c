package sandbox_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/browsertest"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/sandbox"
	"github.com/ssoctl/ssoctl/pkg/serve"
)

const exampleChain = "../../examples/local/chain.yaml"

func loadChain(t testing.TB, path string) *chain.Chain {
	t.Helper()
	c, err := chain.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func start(t testing.TB, c *chain.Chain, env serve.Env) *sandbox.Sandbox {
	t.Helper()
	sb, err := sandbox.Start(context.Background(), c, env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sb.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return sb
}

// browser is a test browser on a net that knows only the sandbox's
// mappings: it reaches each role by the chain's own URL.
func browser(t *testing.T, sb *sandbox.Sandbox) *browsertest.Browser {
	t.Helper()
	n := browsertest.NewNet()
	for hp, addr := range sb.Dialer().Map {
		n.Map("http://"+hp, addr)
	}
	b := browsertest.New(t, n)
	b.Email, b.Password = "alice@example.com", "wonderland"
	return b
}

func TestStart_theExampleChainLogsInEverywhere(t *testing.T) {
	t.Parallel()
	c := loadChain(t, exampleChain)
	sb := start(t, c, serve.Env{})

	roles := map[string]string{
		"idp":       c.IdP.PublicURL,
		"idp admin": c.IdP.AdminURL,
		"issuer":    c.Issuer.URL,
		"portal":    c.Receivers[0].URL,
		"dashboard": c.Receivers[1].URL,
	}
	for role, origin := range roles {
		addr, ok := sb.Addr(role)
		if !ok {
			t.Fatalf("%s is not served", role)
		}
		u, _ := url.Parse(origin)
		if addr == "127.0.0.1:"+u.Port() {
			t.Errorf("%s listens on the chain file's fixed port %s", role, addr)
		}
		if got, err := sb.Dialer().Resolve(u.Host); err != nil || got != addr {
			t.Errorf("Dialer.Resolve(%s) = %s, %v; want %s", u.Host, got, err, addr)
		}
	}

	b := browser(t, sb)
	page := b.Visit(c.Issuer.URL + "/login?return_to=" + url.QueryEscape(c.Expect.FinalURLPrefix))
	if page.URL != c.Expect.FinalURLPrefix || page.Status != http.StatusOK {
		t.Fatalf("walk ended at %s %d, want %s 200: %v", page.URL, page.Status, c.Expect.FinalURLPrefix, page.Hops)
	}
	for _, r := range c.Receivers {
		if resp, _ := b.Get(r.URL + "/auth"); resp.StatusCode != http.StatusOK {
			t.Errorf("%s /auth = %d, want 200", r.Name, resp.StatusCode)
		}
	}
}

// TestStart_manyAtOnce: sandboxes of one file never collide, so tests and
// benchmarks can run them in parallel.
func TestStart_manyAtOnce(t *testing.T) {
	t.Parallel()
	c := loadChain(t, exampleChain)
	const n = 4
	addrs := make([]string, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	sbs := make([]*sandbox.Sandbox, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sbs[i], errs[i] = sandbox.Start(context.Background(), c, serve.Env{})
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("sandbox %d: %v", i, errs[i])
		}
		defer sbs[i].Close()
		addrs[i], _ = sbs[i].Addr("issuer")
		if seen[addrs[i]] {
			t.Errorf("two sandboxes share %s", addrs[i])
		}
		seen[addrs[i]] = true
	}
}

// TestAdvance_reachesTheRoles: the roles read the sandbox clock, so a
// revoked session stays signed in at a receiver until Advance passes its
// recheck interval, and no longer.
func TestAdvance_reachesTheRoles(t *testing.T) {
	t.Parallel()
	c := loadChain(t, exampleChain)
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	sb := start(t, c, serve.Env{Now: func() time.Time { return base }})
	if !sb.Now().Equal(base) {
		t.Fatalf("Now = %v, want the base clock %v", sb.Now(), base)
	}

	b := browser(t, sb)
	portal := c.Receivers[0]
	page := b.Visit(c.Issuer.URL + "/login?return_to=" + url.QueryEscape(portal.URL+"/"))
	if page.Status != http.StatusOK {
		t.Fatalf("walk ended at %s %d", page.URL, page.Status)
	}
	idpURL, _ := url.Parse(c.IdP.PublicURL)
	var cookie []string
	for _, ck := range b.Jar().Cookies(idpURL) {
		cookie = append(cookie, ck.Name+"="+ck.Value)
	}
	sess, err := sb.IdP().Whoami(context.Background(), strings.Join(cookie, "; "), "")
	if err != nil {
		t.Fatalf("whoami with the browser's IdP cookie: %v", err)
	}
	if err := sb.IdP().Revoke(context.Background(), sess.ID); err != nil {
		t.Fatal(err)
	}
	if resp, _ := b.Get(portal.URL + "/auth"); resp.StatusCode != http.StatusOK {
		t.Fatalf("/auth right after the revocation = %d; the receiver should trust its cookie until the recheck", resp.StatusCode)
	}
	sb.Advance(portal.RecheckInterval + time.Second)
	sb.Advance(-time.Hour) // ignored
	if got, want := sb.Now(), base.Add(portal.RecheckInterval+time.Second); !got.Equal(want) {
		t.Errorf("Now after Advance = %v, want %v", got, want)
	}
	if resp, _ := b.Get(portal.URL + "/auth"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/auth past the recheck interval of a revoked session = %d, want 401", resp.StatusCode)
	}
	if sb.Keys() == nil || sb.Keys().Signing == nil {
		t.Error("Keys().Signing is nil; probes need it to mint variants")
	}
}

func TestClose_isIdempotentAndFreesTheListeners(t *testing.T) {
	t.Parallel()
	sb, err := sandbox.Start(context.Background(), loadChain(t, exampleChain), serve.Env{})
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := sb.Addr("issuer")
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sb.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}()
	}
	wg.Wait()
	if err := sb.Close(); err != nil {
		t.Errorf("a later Close: %v", err)
	}
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Errorf("%s still accepts connections after Close", addr)
	}
}

// TestDialer_devChainStaysOnTheMachine: a dev chain runs whole in the
// sandbox, so its dialer refuses hosts it does not map (except *.localhost,
// which is loopback anyway).
func TestDialer_devChainStaysOnTheMachine(t *testing.T) {
	t.Parallel()
	sb := start(t, loadChain(t, exampleChain), serve.Env{})
	if _, err := sb.Dialer().Resolve("example.com:443"); err == nil {
		t.Error("the dialer of a dev sandbox resolves example.com:443")
	}
	d := sb.Mapped(map[string]string{"ACCOUNTS.company.localhost:8080": "127.0.0.1:1", "extra.example:443": "127.0.0.1:2"})
	own, _ := sb.Addr("issuer")
	if got, _ := d.Resolve("accounts.company.localhost:8080"); got != own {
		t.Errorf("Mapped let an extra mapping replace the issuer's: %s", got)
	}
	if got, _ := d.Resolve("extra.example:443"); got != "127.0.0.1:2" {
		t.Errorf("Mapped extra = %s", got)
	}
	if _, ok := sb.Dialer().Map["extra.example:443"]; ok {
		t.Error("Mapped changed the sandbox's own dialer")
	}
}

// TestStart_kratosChain: for idp.kind kratos no IdP is started; the roles
// reach the IdP at its URL as it is.
func TestStart_kratosChain(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(exampleChain)
	if err != nil {
		t.Fatal(err)
	}
	yaml := strings.Replace(string(raw), "kind: dev ", "kind: kratos", 1)
	yaml = strings.Replace(yaml, "  users:                        # dev IdP only\n    - {email: alice@example.com, password: wonderland}   # inline secrets only with dev: true\n", "", 1)
	path := filepath.Join(t.TempDir(), "chain.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	c := loadChain(t, path)
	if c.IdP.Kind != chain.IdPKratos {
		t.Fatalf("fixture kind = %s", c.IdP.Kind)
	}
	sb := start(t, c, serve.Env{})
	if _, ok := sb.Addr("idp"); ok {
		t.Error("a Kratos chain's sandbox serves an IdP of its own")
	}
	if _, ok := sb.Addr("issuer"); !ok {
		t.Error("no issuer")
	}
	if sb.Dialer().Strict {
		t.Error("a Kratos chain's dialer is strict, so it cannot reach a real Kratos")
	}
	if _, mapped := sb.Dialer().Map["auth.company.localhost:4433"]; mapped {
		t.Error("the Kratos URL is mapped onto the sandbox")
	}
}

func TestStart_errors(t *testing.T) {
	t.Parallel()
	if _, err := sandbox.Start(context.Background(), nil, serve.Env{}); err == nil {
		t.Error("Start(nil chain) succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sandbox.Start(ctx, loadChain(t, exampleChain), serve.Env{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Start with a cancelled context = %v", err)
	}
}
