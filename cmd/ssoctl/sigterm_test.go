package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	client "github.com/ory/client-go"
	"github.com/redis/go-redis/v9"

	"github.com/ssoctl/ssoctl/internal/redistest"
	"github.com/ssoctl/ssoctl/internal/testenv"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// sigtermSecret is the test chain's HS256 secret: the test mints the
// handoffs the receiver process verifies.
const sigtermSecret = "sigterm-test-secret-0123456789abcdef"

// heldKratos stands in for the Kratos admin API: it answers
// GET /admin/sessions/{id} with an active session, but holds the first
// call for a session until release is closed, so a handoff can be in
// flight when the signal comes.
type heldKratos struct {
	identity string
	arrived  chan string // each session id asked about, as the call arrives
	release  chan struct{}

	mu    sync.Mutex
	calls map[string]int
}

func (k *heldKratos) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sid, ok := strings.CutPrefix(r.URL.Path, "/admin/sessions/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	k.mu.Lock()
	k.calls[sid]++
	k.mu.Unlock()
	k.arrived <- sid
	select {
	case <-k.release:
	case <-r.Context().Done():
		return
	}
	active, now := true, time.Now().UTC()
	authAt, expires := now.Add(-time.Minute), now.Add(time.Hour)
	doc := client.Session{
		Id: sid, Active: &active, AuthenticatedAt: &authAt, ExpiresAt: &expires,
		Identity: &client.Identity{Id: k.identity, SchemaId: "default", SchemaUrl: "http://127.0.0.1/schema", Traits: map[string]any{"email": "alice@example.com"}},
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(doc)
}

func (k *heldKratos) callsFor(sid string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.calls[sid]
}

// TestServeReceiverSIGTERMFinishesInFlightHandoff runs `ssoctl serve
// receiver` as its own process, on Redis stores, against a Kratos admin
// API that holds the handoff's session check. SIGTERM arrives while the
// handoff waits on it. The process must stop taking connections at once,
// let the handoff finish with its normal answer (303 and the cookie), say
// in its log that it is shutting down, close its Redis pool and exit 0
// well inside the grace period. Redis then holds the finished handoff's
// jti, consumed once, and not the jti of a handoff that came after the
// signal and never got in.
func TestServeReceiverSIGTERMFinishesInFlightHandoff(t *testing.T) {
	ssoctl, err := exec.LookPath("ssoctl") // testscript.Main put this test binary there as ssoctl
	if err != nil {
		t.Fatalf("ssoctl is not on $PATH: %v", err)
	}
	rds := redistest.StartServer(t)

	kratos := &heldKratos{identity: "7b0a8d3e-6f1c-4c55-9c1e-2f6a4b7d9e01", arrived: make(chan string, 8), release: make(chan struct{}), calls: map[string]int{}}
	admin := httptest.NewServer(kratos)
	t.Cleanup(admin.Close)
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(kratos.release) }) }
	t.Cleanup(release) // before admin.Close: a held call must not block it
	public := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health/ready" {
			_, _ = w.Write([]byte(`{"status":"ok"}`))
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(public.Close)

	port := testenv.FreePort(t)
	portal := fmt.Sprintf("http://portal.company2.localhost:%d", port)
	issuer := fmt.Sprintf("http://accounts.company.localhost:%d", testenv.FreePort(t))
	dir := t.TempDir()
	file := filepath.Join(dir, "chain.yaml")
	yaml := fmt.Sprintf(`version: 1
name: company
dev: true
idp:
  kind: kratos
  public_url: %s
  admin_url: %s
issuer:
  url: %s
token:
  alg: HS256
  secret: %q
receivers:
  - name: portal
    url: %s
return_to:
  allow:
    - %s
    - %s
store: {redis: {url_env: REDIS_URL}}
`, public.URL, admin.URL, issuer, sigtermSecret, portal, issuer, portal)
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}

	const grace = 10 * time.Second
	cmd := exec.Command(ssoctl, "serve", "receiver", "-f", file, "--name", "portal", "--grace", grace.String())
	cmd.Env = append(os.Environ(), "REDIS_URL="+rds.URL, "NO_COLOR=1")
	var stdout, stderr testenv.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 2 * time.Second // after a kill, do not wait on the pipes for ever
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{}) // closed once cmd.Wait returns, with waitErr set
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("ssoctl stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// Each request on its own connection, sent to the receiver's listener
	// under the receiver's own host name.
	hc := &http.Client{
		Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	waitFor(t, 10*time.Second, "the receiver to answer /healthz", func() bool {
		resp, err := hc.Get(portal + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	key, err := token.NewHMACKey("", []byte(sigtermSecret))
	if err != nil {
		t.Fatal(err)
	}
	mint := func(sid string) (string, string) {
		tok, claims, err := token.Mint(key, token.MintOptions{
			Issuer: issuer, Audience: "portal", Subject: kratos.identity, SessionID: sid,
			TTL: 30 * time.Second, Return: portal + "/after",
		})
		if err != nil {
			t.Fatal(err)
		}
		return portal + chain.SSOPath + "?" + url.Values{chain.TokenParam: {tok}}.Encode(), claims.ID
	}
	inFlightURL, inFlightJTI := mint("3f2c1d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f")
	lateURL, lateJTI := mint("9e8d7c6b-5a4f-4e3d-2c1b-0a9f8e7d6c5b")

	type answer struct {
		resp *http.Response
		err  error
	}
	inFlight := make(chan answer, 1)
	go func() {
		resp, err := hc.Get(inFlightURL)
		if err == nil {
			resp.Body.Close()
		}
		inFlight <- answer{resp, err}
	}()
	select {
	case sid := <-kratos.arrived:
		if sid != "3f2c1d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f" {
			t.Fatalf("the IdP was asked about session %s", sid)
		}
	case a := <-inFlight:
		t.Fatalf("the handoff finished before it asked the IdP: %v %v", a.resp, a.err)
	case <-time.After(10 * time.Second):
		t.Fatal("the handoff never reached the IdP")
	}

	signalled := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the log to say it is shutting down", func() bool {
		return strings.Contains(stderr.String(), "shutting down")
	})
	// The listener closes at once; the handoff is still held at the IdP.
	waitFor(t, 5*time.Second, "the listener to refuse connections", func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	if resp, err := hc.Get(lateURL); err == nil {
		resp.Body.Close()
		t.Errorf("a handoff after SIGTERM got %d; want the connection refused", resp.StatusCode)
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("a handoff after SIGTERM: %v; want the connection refused", err)
	}
	select {
	case a := <-inFlight:
		t.Fatalf("the in-flight handoff ended before the IdP answered: %v %v", a.resp, a.err)
	case <-exited:
		t.Fatalf("ssoctl exited (%v) with a handoff in flight", waitErr)
	default:
	}

	release()
	a := <-inFlight
	if a.err != nil {
		t.Fatalf("the in-flight handoff: %v; want its normal answer", a.err)
	}
	cookieSet := false
	for _, c := range a.resp.Cookies() {
		cookieSet = cookieSet || (c.Name == "portal_session" && c.Value != "")
	}
	if a.resp.StatusCode != http.StatusSeeOther || a.resp.Header.Get("Location") != portal+"/after" || !cookieSet {
		t.Errorf("the in-flight handoff = %d to %q (cookie set: %v), want 303 to %s/after with portal_session", a.resp.StatusCode, a.resp.Header.Get("Location"), cookieSet, portal)
	}

	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("ssoctl exited with %v after SIGTERM, want 0", waitErr)
		}
		if took := time.Since(signalled); took >= grace {
			t.Errorf("ssoctl took %s to exit after SIGTERM, more than the %s grace", took, grace)
		}
	case <-time.After(grace + 5*time.Second):
		t.Fatalf("ssoctl still running %s after SIGTERM (grace %s)", grace+5*time.Second, grace)
	}
	logs := stderr.String()
	for _, want := range []string{"shutting down", "shut down: every request finished", "path=/sso status=303"} {
		if !strings.Contains(logs, want) {
			t.Errorf("stderr does not say %q", want)
		}
	}
	if strings.Contains(logs, "level=ERROR") {
		t.Errorf("stderr has errors:\n%s", logs)
	}

	if n := kratos.callsFor("9e8d7c6b-5a4f-4e3d-2c1b-0a9f8e7d6c5b"); n != 0 {
		t.Errorf("the IdP was asked %d times about the handoff sent after SIGTERM", n)
	}
	opt, err := redis.ParseURL(rds.URL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	for _, tc := range []struct {
		what string
		jti  string
		want int
	}{
		{"the finished handoff's", inFlightJTI, 1},
		{"the refused late handoff's", lateJTI, 0},
	} {
		keys, err := rdb.Keys(ctx, "*jti:"+tc.jti).Result()
		if err != nil {
			t.Fatalf("redis KEYS: %v", err)
		}
		if len(keys) != tc.want {
			t.Errorf("%s jti is stored under %d keys %v, want %d", tc.what, len(keys), keys, tc.want)
		}
	}
}

// waitFor polls cond until it holds, failing the test after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
