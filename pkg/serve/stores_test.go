package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/browsertest"
	"github.com/ssoctl/ssoctl/internal/redistest"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve/store"
)

// storesChain is a dev chain whose receivers' cookies live 1s and 3s,
// so a shared revocation's lifetime shows within a test; store is appended.
const storesChain = `version: 1
name: stores
dev: true
idp:
  kind: dev
  public_url: http://auth.stores.localhost:4433
  admin_url: http://auth.stores.localhost:4434
  users:
    - {email: alice@example.com, password: wonderland}
issuer:
  url: http://accounts.stores.localhost:8080
  cookie: {name: accounts_session, ttl: 1s}
token: {alg: HS256, ttl: 30s, leeway: 5s}
mode: hub
receivers:
  - name: portal
    url: http://portal.stores2.localhost:8081
    cookie: {name: portal_session, ttl: 1s}
  - name: dashboard
    url: http://dashboard.stores3.localhost:8082
    cookie: {name: dashboard_session, ttl: 3s}
return_to:
  allow: [http://accounts.stores.localhost:8080, http://portal.stores2.localhost:8081, http://dashboard.stores3.localhost:8082]
`

func parseStoresChain(t *testing.T, store string) *chain.Chain {
	t.Helper()
	c, err := chain.Parse("chain.yaml", []byte(storesChain+store))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// envWith is an Env whose environment holds only vars.
func envWith(vars map[string]string) Env {
	return Env{LookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }}
}

// url_file: the Redis URL from a file (a mounted secret), trimmed; a file
// that cannot be read or is empty is a configuration error naming it.
func TestStoresRedisURLFromAFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "redis-url")
	if err := os.WriteFile(good, []byte("redis://127.0.0.1:1/0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := parseStoresChain(t, "store: {redis: {url_file: "+good+"}}\n")
	replay, _, ready, err := newReceiverStores(c, "portal", Env{})
	if err != nil || fmt.Sprintf("%T", replay) != "*store.RedisReplay" || ready == nil {
		t.Fatalf("url_file: %T, ready %v, err %v; want a Redis replay store", replay, ready != nil, err)
	}
	for _, tc := range []struct{ file, want string }{
		{empty, "store.redis.url_file: " + empty + " is not set or empty"},
		{filepath.Join(dir, "missing"), "store.redis.url_file: open " + filepath.Join(dir, "missing")},
	} {
		c := parseStoresChain(t, "store: {redis: {url_file: "+tc.file+"}}\n")
		if _, _, _, err := newReceiverStores(c, "portal", Env{}); !errors.Is(err, ErrStoreConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrStoreConfig saying %q", tc.file, err, tc.want)
		}
	}
}

func TestStoresFromTheChainFile(t *testing.T) {
	const password = "hunter2-LEAK"
	tests := []struct {
		name      string
		store     string
		env       map[string]string
		wantType  string // the replay store's type
		wantReady bool   // a readiness check besides the IdP's
		wantErr   string
	}{
		{name: "no store block: memory", wantType: "*store.MemoryReplay"},
		{name: "memory", store: "store: {memory: {}}\n", wantType: "*store.MemoryReplay"},
		{
			name:  "redis from the variable url_env names",
			store: "store: {redis: {url_env: SSO_REDIS}}\n", env: map[string]string{"SSO_REDIS": "redis://:" + password + "@127.0.0.1:1/0\n"},
			wantType: "*store.RedisReplay", wantReady: true,
		},
		{
			name:    "redis with its variable unset",
			store:   "store: {redis: {url_env: SSO_REDIS}}\n",
			wantErr: "store.redis.url_env: SSO_REDIS is not set or empty; give it the Redis URL",
		},
		{
			name:  "redis with its variable empty",
			store: "store: {redis: {url_env: SSO_REDIS}}\n", env: map[string]string{"SSO_REDIS": " "},
			wantErr: "SSO_REDIS is not set",
		},
		{
			name:  "redis with a URL that is not Redis's",
			store: "store: {redis: {url_env: SSO_REDIS}}\n", env: map[string]string{"SSO_REDIS": "https://:" + password + "@redis.internal/0"},
			wantErr: "SSO_REDIS: redis URL: the scheme must be redis:// or rediss://",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseStoresChain(t, tt.store)
			replay, revocations, ready, err := newReceiverStores(c, "portal", envWith(tt.env))
			if tt.wantErr != "" {
				if !errors.Is(err, ErrStoreConfig) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want ErrStoreConfig saying %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), password) {
					t.Errorf("error repeats the Redis password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := typeName(replay); got != tt.wantType {
				t.Errorf("replay store is %s, want %s", got, tt.wantType)
			}
			if revocations == nil {
				t.Error("no revocation store")
			}
			if (ready != nil) != tt.wantReady {
				t.Errorf("readiness check: %v, want one: %v", ready != nil, tt.wantReady)
			}
		})
	}
}

// store.memory's bounds reach the stores: a receiver's used jtis and
// revocations, and an OIDC issuer's logout tokens, each hold max_entries
// and refuse the next with store.ErrFull (503); the issuer's provider
// sessions hold max_sessions.
func TestStoresMemoryBoundsFromTheChainFile(t *testing.T) {
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	full := func(what string, add func(i int) error) {
		t.Helper()
		for i := range 2 {
			if err := add(i); err != nil {
				t.Fatalf("%s %d of 2: %v", what, i+1, err)
			}
		}
		if err := add(2); !errors.Is(err, store.ErrFull) {
			t.Errorf("%s 3 with max_entries: 2 = %v, want store.ErrFull", what, err)
		}
	}
	c := parseStoresChain(t, "store: {memory: {max_entries: 2}}\n")
	replay, revocations, _, err := newReceiverStores(c, "portal", Env{})
	if err != nil {
		t.Fatal(err)
	}
	full("jti", func(i int) error { _, err := replay.Consume(ctx, fmt.Sprint("jti-", i), until); return err })
	full("revocation", func(i int) error { return revocations.Revoke(ctx, fmt.Sprint("sid-", i), until) })

	oc, err := chain.Parse("chain.yaml", []byte(OIDCTestChain("http://127.0.0.1:1")+"store: {memory: {max_entries: 2, max_sessions: 3}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	idp, err := NewIdentityProvider(oc, Env{})
	if err != nil {
		t.Fatal(err)
	}
	p := idp.(*OIDC)
	if max := p.sessions.(*memoryOIDCSessions).max; max != 3 {
		t.Errorf("the issuer holds %d OIDC sessions at most, want max_sessions: 3", max)
	}
	logoutJTIs, _, _, err := issuerStores(oc, p, []byte(oidcStoreSecret), nil, Env{})
	if err != nil {
		t.Fatal(err)
	}
	full("logout token", func(i int) error { _, err := logoutJTIs.Consume(ctx, fmt.Sprint("lt-", i), until); return err })
}

func typeName(v any) string {
	switch v.(type) {
	case *store.MemoryReplay:
		return "*store.MemoryReplay"
	case *store.RedisReplay:
		return "*store.RedisReplay"
	}
	return "unknown"
}

// redisStores returns receiver's stores on url, as one more instance of it.
func redisStores(t *testing.T, c *chain.Chain, receiver, url string) (sizedReplayStore, sizedRevocationStore, func(context.Context) error) {
	t.Helper()
	replay, revocations, ready, err := newReceiverStores(c, receiver, envWith(map[string]string{"REDIS_URL": url}))
	if err != nil {
		t.Fatal(err)
	}
	return replay, revocations, ready
}

func TestStoresRedisSharedBetweenInstancesAndReceivers(t *testing.T) {
	url := redistest.Start(t)
	c := parseStoresChain(t, "store: {redis: {url_env: REDIS_URL}}\n")
	ctx := context.Background()
	portal1, portalRev, _ := redisStores(t, c, "portal", url)
	portal2, _, _ := redisStores(t, c, "portal", url)
	dashboard, dashboardRev, _ := redisStores(t, c, "dashboard", url)
	until := time.Now().Add(time.Minute)

	if fresh, err := portal1.Consume(ctx, "jti-1", until); !fresh || err != nil {
		t.Fatalf("portal instance 1: Consume = %v, %v; want fresh", fresh, err)
	}
	if fresh, err := portal2.Consume(ctx, "jti-1", until); fresh || err != nil {
		t.Errorf("portal instance 2: Consume of a jti instance 1 used = %v, %v; want used", fresh, err)
	}
	if fresh, err := dashboard.Consume(ctx, "jti-1", until); !fresh || err != nil {
		t.Errorf("dashboard: Consume of a jti portal used = %v, %v; want fresh (jtis are per audience)", fresh, err)
	}

	// portal revokes for its own 1s cookie; dashboard's cookie lives 3s,
	// and the shared revocation must outlive it.
	if err := portalRev.Revoke(ctx, "sid-1", time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if got, err := dashboardRev.Revoked(ctx, "sid-1"); !got || err != nil {
		t.Errorf("dashboard, after portal's cookie lifetime: Revoked = %v, %v; want true until the longest cookie (3s) has passed", got, err)
	}
}

// TestStoresReceiverReadyzFollowsRedis stops Redis under a running
// receiver: /readyz goes red naming the store, and green again once Redis
// is back, with no restart.
func TestStoresReceiverReadyzFollowsRedis(t *testing.T) {
	srv := redistest.StartServer(t)
	c := parseStoresChain(t, "store: {redis: {url_env: REDIS_URL}}\n")
	n := browsertest.NewNet()
	env := Env{HTTPClient: n.Client(), LookupEnv: envWith(map[string]string{"REDIS_URL": srv.URL}).LookupEnv}
	idp, err := NewDevIdPFromChain(c, env)
	if err != nil {
		t.Fatal(err)
	}
	n.Serve(t, c.IdP.PublicURL, idp.Public())
	n.Serve(t, c.IdP.AdminURL, idp.Admin())
	roles, err := NewRoles(c, env, RoleOptions{Only: []string{"portal"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { roles.Close() })
	readyz := func() (int, string) {
		w := httptest.NewRecorder()
		roles.Receivers["portal"].ServeHTTP(w, httptest.NewRequest(http.MethodGet, c.Receivers[0].URL+"/readyz", nil))
		return w.Code, w.Body.String()
	}
	if code, body := readyz(); code != http.StatusOK {
		t.Fatalf("/readyz with Redis up = %d %q, want 200", code, body)
	}
	srv.Stop(t)
	if code, body := readyz(); code != http.StatusServiceUnavailable || !strings.Contains(body, "store") || strings.Contains(body, "127.0.0.1") {
		t.Errorf("/readyz with Redis down = %d %q, want 503 naming the store and no address", code, body)
	}
	srv.Restart(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := readyz()
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz 10s after Redis came back = %d %q, want 200", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// receiverRoles builds the roles of chain c's receivers in only, with
// vars as the environment.
func receiverRoles(t *testing.T, c *chain.Chain, vars map[string]string, only ...string) *Roles {
	t.Helper()
	roles, err := NewRoles(c, Env{HTTPClient: browsertest.NewNet().Client(), LookupEnv: envWith(vars).LookupEnv}, RoleOptions{Only: only})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { roles.Close() })
	return roles
}

// mirrorGauge scrapes a role's /metrics and returns its
// ssoctl_revocation_mirror_current, and whether the family is there.
func mirrorGauge(t *testing.T, h http.Handler, origin string) (float64, bool) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, origin+"/metrics", nil))
	mfs, err := parse(w.Body.String())
	if err != nil {
		t.Fatal(err)
	}
	mf := mfs["ssoctl_revocation_mirror_current"]
	if mf == nil {
		return 0, false
	}
	if n := len(mf.GetMetric()); n != 1 {
		t.Fatalf("ssoctl_revocation_mirror_current has %d series, want 1", n)
	}
	return mf.GetMetric()[0].GetGauge().GetValue(), true
}

// TestStoresMirrorGaugeFollowsRedis scrapes a receiver on a real Redis:
// ssoctl_revocation_mirror_current is 1 once the subscription has loaded
// the mirror, 0 while Redis is down (every /auth would ask Redis), and 1
// again when Redis is back, with no restart.
func TestStoresMirrorGaugeFollowsRedis(t *testing.T) {
	srv := redistest.StartServer(t)
	c := parseStoresChain(t, "store: {redis: {url_env: REDIS_URL}}\n")
	roles := receiverRoles(t, c, map[string]string{"REDIS_URL": srv.URL}, "portal")
	portal, origin := roles.Receivers["portal"], c.Receivers[0].URL
	waitFor := func(want float64, when string) {
		t.Helper()
		const within = 10 * time.Second
		deadline := time.Now().Add(within)
		for {
			got, ok := mirrorGauge(t, portal, origin)
			if !ok {
				t.Fatalf("%s: no ssoctl_revocation_mirror_current on a receiver on Redis", when)
			}
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: ssoctl_revocation_mirror_current = %v after %v, want %v", when, got, within, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor(1, "Redis up")
	srv.Stop(t)
	waitFor(0, "Redis stopped")
	srv.Restart(t)
	waitFor(1, "Redis back")
}

// With memory stores there is no mirror, so no gauge: a 0 would page
// someone for an outage that cannot happen.
func TestStoresMirrorGaugeAbsentWithMemoryStores(t *testing.T) {
	c := parseStoresChain(t, "")
	roles := receiverRoles(t, c, nil)
	for _, r := range c.Receivers {
		if v, ok := mirrorGauge(t, roles.Receivers[r.Name], r.URL); ok {
			t.Errorf("%s: ssoctl_revocation_mirror_current = %v with memory stores, want no such family", r.Name, v)
		}
	}
}
