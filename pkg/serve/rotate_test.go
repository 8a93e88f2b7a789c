package serve_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/browsertest"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve"
)

// A secret rotation as operators run it on a chain with several instances
// per role (docs/stores.md): every instance first learns the new secret as
// a previous one, then, instance by instance, makes it current and keeps
// the old one as previous, and finally drops the old one. Throughout, no
// one is signed out and every walk works, whichever instances it meets.

const (
	secretA = "rotation-secret-A-0123456789abcdef0123"
	secretB = "rotation-secret-B-0123456789abcdef0123"
)

// rotatingChain is localChain with its token secret from SSO_SECRET and
// its previous ones from SSO_SECRET_PREVIOUS.
func rotatingChain(t *testing.T) *chain.Chain {
	t.Helper()
	yaml := strings.Replace(localChain, "  alg: HS256\n",
		"  alg: HS256\n  secret: {env: SSO_SECRET}\n  previous_secrets: [{env: SSO_SECRET_PREVIOUS}]\n", 1)
	c, err := chain.Parse("chain.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// deployment is what answers at each role's origin: a round robin over
// the instances deployed there now, replaced as the rollout goes on.
type deployment struct {
	rc   *runningChain
	c    *chain.Chain
	live map[string]*atomic.Pointer[roundRobin]
}

func startDeployment(t *testing.T) *deployment {
	t.Helper()
	c := rotatingChain(t)
	rc := &runningChain{t: t, net: browsertest.NewNet(), clock: &clock{now: time.Now().UTC().Truncate(time.Second)}, chain: c}
	idp, err := serve.NewDevIdPFromChain(c, serve.Env{HTTPClient: rc.net.Client(), Now: rc.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	rc.idp = idp
	rc.net.Serve(t, idpPublic, idp.Public())
	rc.net.Serve(t, idpAdmin, idp.Admin())
	d := &deployment{rc: rc, c: c, live: map[string]*atomic.Pointer[roundRobin]{}}
	for _, origin := range []string{issuerURL, portalURL, dashboardURL} {
		p := &atomic.Pointer[roundRobin]{}
		d.live[origin] = p
		rc.net.Serve(t, origin, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.Load().ServeHTTP(w, r) }))
	}
	return d
}

// instance is one process of every role, started with secret current and
// previous ("" for none) in its environment.
type instance struct {
	issuer, portal, dashboard http.Handler
}

func (d *deployment) instance(t *testing.T, current, previous string) instance {
	t.Helper()
	env := serve.Env{HTTPClient: d.rc.net.Client(), Now: d.rc.clock.Now, LookupEnv: func(k string) (string, bool) {
		switch k {
		case "SSO_SECRET":
			return current, true
		case "SSO_SECRET_PREVIOUS":
			return previous, previous != ""
		}
		return "", false
	}}
	c := d.c
	if previous == "" {
		cc := *d.c
		cc.Token.PreviousSecrets = nil
		c = &cc
	}
	roles, err := serve.NewRoles(c, env, serve.RoleOptions{RecheckInterval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = roles.Close() })
	return instance{issuer: roles.Issuer, portal: roles.Receivers["portal"], dashboard: roles.Receivers["dashboard"]}
}

// deploy makes these instances the ones that answer.
func (d *deployment) deploy(instances ...instance) {
	for origin, pick := range map[string]func(instance) http.Handler{
		issuerURL:    func(i instance) http.Handler { return i.issuer },
		portalURL:    func(i instance) http.Handler { return i.portal },
		dashboardURL: func(i instance) http.Handler { return i.dashboard },
	} {
		rr := &roundRobin{}
		for _, in := range instances {
			rr.instances = append(rr.instances, pick(in))
		}
		d.live[origin].Store(rr)
	}
}

// signedInOnEach asks every instance behind origin, in turn, whether b is
// signed in there.
func signedInOnEach(t *testing.T, b *browsertest.Browser, origin string, n int) {
	t.Helper()
	for i := range n {
		if got := authStatus(b, origin); got != http.StatusOK {
			t.Errorf("%s/auth, instance %d of %d: %d, want 200 (signed out by the rotation)", origin, i+1, n, got)
		}
	}
}

func TestSecretRotationSignsNoOneOut(t *testing.T) {
	d := startDeployment(t)
	d.deploy(d.instance(t, secretA, ""))
	alice := d.rc.alice()
	if p := alice.Visit(loginURL(dashboardURL + "/")); p.URL != dashboardURL+"/" {
		t.Fatalf("login before the rotation ended at %s (%d)", p.URL, p.Status)
	}
	alice.Password = "" // from here on a login form would stop a walk

	// Step 1: every instance learns B, still sealing and signing with A.
	learned := d.instance(t, secretA, secretB)
	// Step 2, halfway: one instance has made B current, one has not.
	rotated := d.instance(t, secretB, secretA)
	d.deploy(learned, rotated)
	for _, origin := range []string{portalURL, dashboardURL} {
		signedInOnEach(t, alice, origin, 2)
	}
	// New walks meet both instances of every role: a token signed with A
	// or B, a progress state and a cookie sealed with either, all accepted.
	for i := range 4 {
		bob := d.rc.alice()
		if p := bob.Visit(loginURL(dashboardURL + "/")); p.URL != dashboardURL+"/" || p.Status != http.StatusOK {
			t.Fatalf("walk %d during the rollout ended at %s (%d): %v", i, p.URL, p.Status, hopURLs(p.Hops))
		}
		for _, origin := range []string{portalURL, dashboardURL} {
			signedInOnEach(t, bob, origin, 2)
		}
	}
	// A signed-in browser's next walk needs no password on either issuer.
	for range 2 {
		if p := alice.Visit(loginURL(portalURL + "/?again")); p.URL != portalURL+"/?again" {
			t.Fatalf("alice's walk during the rollout ended at %s (%d): %v", p.URL, p.Status, hopURLs(p.Hops))
		}
	}

	// Step 2 done: every instance seals with B. A browser signed in now
	// holds cookies sealed with B only.
	d.deploy(rotated, d.instance(t, secretB, secretA))
	signedInOnEach(t, alice, portalURL, 2)
	carol := d.rc.alice()
	carol.Password = "wonderland"
	if p := carol.Visit(loginURL(dashboardURL + "/")); p.URL != dashboardURL+"/" {
		t.Fatalf("login after the rollout ended at %s (%d)", p.URL, p.Status)
	}

	// Step 3: A is dropped. What only A sealed no longer opens; what B
	// sealed does.
	d.deploy(d.instance(t, secretB, ""))
	if got := authStatus(carol, portalURL); got != http.StatusOK {
		t.Errorf("a cookie sealed with B, after A was dropped: %d, want 200", got)
	}
	dave := d.rc.alice()
	d.deploy(d.instance(t, secretA, ""))
	if p := dave.Visit(loginURL(portalURL + "/")); p.URL != portalURL+"/" {
		t.Fatalf("login on A ended at %s (%d)", p.URL, p.Status)
	}
	d.deploy(d.instance(t, secretB, ""))
	if got := authStatus(dave, portalURL); got != http.StatusUnauthorized {
		t.Errorf("a cookie sealed only with A, after A was dropped: %d, want 401", got)
	}
}

func TestSecretRotationRefusesAPreviousSecretItCannotUse(t *testing.T) {
	d := startDeployment(t)
	for _, tc := range []struct {
		name, current, previous, want string
	}{
		{"the same secret twice", secretA, secretA, "token.previous_secrets[0] holds the same secret as token.secret"},
		{"too short", secretA, "short", "token.previous_secrets[0] is 5 bytes; at least 32 are needed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := serve.Env{HTTPClient: d.rc.net.Client(), LookupEnv: func(k string) (string, bool) {
				switch k {
				case "SSO_SECRET":
					return tc.current, true
				case "SSO_SECRET_PREVIOUS":
					return tc.previous, true
				}
				return "", false
			}}
			_, err := serve.NewRoles(d.c, env, serve.RoleOptions{})
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("NewRoles = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), tc.previous) {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
	env := serve.Env{LookupEnv: func(k string) (string, bool) { return secretA, k == "SSO_SECRET" }}
	if _, err := serve.NewRoles(d.c, env, serve.RoleOptions{}); err == nil || !strings.Contains(err.Error(), "token.previous_secrets[0]: secret is not set: environment variable SSO_SECRET_PREVIOUS") {
		t.Errorf("NewRoles with SSO_SECRET_PREVIOUS unset = %v, want an error naming the variable", err)
	}
}

// TestCookieSecretRotation: a role with its own cookie.secret rotates it
// with cookie.previous_secrets, apart from the token secret.
func TestCookieSecretRotation(t *testing.T) {
	keys, err := serve.ResolveKeys(rotatingChain(t), serve.Env{LookupEnv: func(k string) (string, bool) {
		return map[string]string{"SSO_SECRET": secretA, "SSO_SECRET_PREVIOUS": secretB}[k], true
	}}, false)
	if err != nil {
		t.Fatal(err)
	}
	env := serve.Env{LookupEnv: func(k string) (string, bool) {
		v, ok := map[string]string{"OLD": secretA, "NEW": secretB}[k]
		return v, ok
	}}
	sealer := func(ck chain.Cookie) *serve.Sealer {
		t.Helper()
		s, err := keys.Sealer("portal", ck, env)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	old := sealer(chain.Cookie{Secret: chain.SecretRef{Env: "OLD"}})
	rotated := sealer(chain.Cookie{Secret: chain.SecretRef{Env: "NEW"}, PreviousSecrets: []chain.SecretRef{{Env: "OLD"}}})
	dropped := sealer(chain.Cookie{Secret: chain.SecretRef{Env: "NEW"}})
	now := time.Now()
	v := old.SealSession("portal_session", serve.CookieSession{SessionID: "s", Subject: "alice", Expires: now.Add(time.Hour)})
	if _, err := rotated.OpenSession("portal_session", v, now); err != nil {
		t.Errorf("a cookie sealed with the previous cookie.secret: %v", err)
	}
	if _, err := dropped.OpenSession("portal_session", v, now); err == nil {
		t.Error("a cookie sealed with a dropped cookie.secret opened")
	}
	_, err = keys.Sealer("portal", chain.Cookie{Secret: chain.SecretRef{Env: "OLD"}, PreviousSecrets: []chain.SecretRef{{Env: "OLD"}}}, env)
	if want := "portal cookie.previous_secrets[0] holds the same secret as portal cookie.secret"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("a previous cookie secret equal to the current one: %v, want %q", err, want)
	}
}
