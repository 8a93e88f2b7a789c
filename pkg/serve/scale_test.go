package serve_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/browsertest"
	"github.com/ssoctl/ssoctl/internal/redistest"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// The scale tests run localChain as it runs behind load balancers (DESIGN
// §10): two instances of every role, built by two NewRoles from the same
// file, sharing one real redis-server, each pair behind a round-robin on
// the role's origin. The dev IdP stays one. Every instance must share the
// token secret (inline here, as dev: true allows) and the cookie and state
// keys, which are derived from it; the Redis URL comes from REDIS_URL.

// scaleStore is appended to localChain, whose token block gets a secret.
const scaleStore = "store: {redis: {url_env: REDIS_URL}}\n"

func scaleChainYAML() string {
	return strings.Replace(localChain, "  alg: HS256\n", "  alg: HS256\n  secret: \"scale-test-secret-0123456789abcdef\"\n", 1) + scaleStore
}

// roundRobin is the load balancer in front of one role: each request goes
// to the next instance.
type roundRobin struct {
	instances []http.Handler
	next      atomic.Uint64
}

func (rr *roundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := (rr.next.Add(1) - 1) % uint64(len(rr.instances))
	rr.instances[i].ServeHTTP(w, r)
}

// handoffLog records, per jti, every receiver instance that accepted the
// handoff (answered /sso with its cookie set). No jti may appear twice.
type handoffLog struct {
	mu       sync.Mutex
	accepted map[string][]string // jti → "portal#0", …
}

func (l *handoffLog) add(jti, instance string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.accepted[jti] = append(l.accepted[jti], instance)
}

func (l *handoffLog) instanceOf(jti string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.accepted[jti])
}

func (l *handoffLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, by := range l.accepted {
		n += len(by)
	}
	return n
}

// scaledChain is localChain with two instances per role.
type scaledChain struct {
	*runningChain // roles is instance 0's, for its keys and IdP client
	redis         *redistest.Server
	instances     map[string][]http.Handler // by origin, each counted into handoffs
	all           []*serve.Roles
	handoffs      *handoffLog
	// beforeHandoff, when set, runs once as the next /sso reaches a
	// receiver instance: a failure injected mid-walk.
	beforeHandoff atomic.Pointer[func()]
}

func startScaledChain(t *testing.T) *scaledChain {
	t.Helper()
	srv := redistest.StartServer(t)
	c, err := chain.Parse("chain.yaml", []byte(scaleChainYAML()))
	if err != nil {
		t.Fatal(err)
	}
	rc := &runningChain{t: t, net: browsertest.NewNet(), clock: &clock{now: time.Now().UTC().Truncate(time.Second)}, chain: c}
	env := serve.Env{
		HTTPClient: rc.net.Client(), Now: rc.clock.Now,
		LookupEnv: func(k string) (string, bool) {
			if k == "REDIS_URL" {
				return srv.URL, true
			}
			return "", false
		},
	}
	if rc.idp, err = serve.NewDevIdPFromChain(c, env); err != nil {
		t.Fatal(err)
	}
	rc.net.Serve(t, idpPublic, rc.idp.Public())
	rc.net.Serve(t, idpAdmin, rc.idp.Admin())
	sc := &scaledChain{
		runningChain: rc, redis: srv, instances: map[string][]http.Handler{},
		handoffs: &handoffLog{accepted: map[string][]string{}},
	}
	receivers := map[string]string{portalURL: "portal", dashboardURL: "dashboard"}
	for i := range 2 {
		roles, err := serve.NewRoles(c, env, serve.RoleOptions{RecheckInterval: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := roles.Close(); err != nil {
				t.Errorf("instance %d: Roles.Close: %v", i, err)
			}
		})
		sc.all = append(sc.all, roles)
		sc.instances[issuerURL] = append(sc.instances[issuerURL], roles.Issuer)
		for origin, name := range receivers {
			sc.instances[origin] = append(sc.instances[origin], sc.counted(name, i, roles.Receivers[name]))
		}
	}
	rc.roles = sc.all[0]
	for origin, instances := range sc.instances {
		rc.net.Serve(t, origin, &roundRobin{instances: instances})
	}
	t.Cleanup(func() {
		for jti, by := range sc.handoffs.accepted {
			if len(by) > 1 {
				t.Errorf("jti %s was accepted %d times: %v", jti, len(by), by)
			}
		}
		// The receivers' own counters agree with what went over the wire.
		total := 0
		for origin := range receivers {
			for _, h := range sc.instances[origin] {
				total += acceptedHandoffs(t, h, origin)
			}
		}
		if got := sc.handoffs.count(); total != got {
			t.Errorf("receivers count %d accepted handoffs in ssoctl_handoffs_total, %d set a cookie", total, got)
		}
	})
	return sc
}

// counted wraps receiver instance i so every /sso that sets the receiver's
// cookie is recorded against its token's jti.
func (sc *scaledChain) counted(name string, i int, h http.Handler) http.Handler {
	cookie := name + "_session"
	instance := name + "#" + strconv.Itoa(i)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == chain.SSOPath {
			if f := sc.beforeHandoff.Swap(nil); f != nil {
				(*f)()
			}
		}
		h.ServeHTTP(w, r)
		if r.URL.Path != chain.SSOPath || !setsCookie(w.Header(), cookie) {
			return
		}
		tok, err := token.Parse(r.URL.Query().Get(chain.TokenParam))
		if err != nil {
			sc.t.Errorf("%s set its cookie for a token it cannot have read: %v", instance, err)
			return
		}
		sc.handoffs.add(tok.Claims.ID, instance)
	})
}

func setsCookie(h http.Header, name string) bool {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == name && c.Value != "" {
			return true
		}
	}
	return false
}

// acceptedHandoffs reads a receiver instance's ssoctl_handoffs_total for
// result="accepted".
func acceptedHandoffs(t *testing.T, h http.Handler, origin string) int {
	return counter(t, h, origin, "ssoctl_handoffs_total", `result="accepted"`)
}

// counter sums the series of family on a role instance's /metrics whose
// labels contain match.
func counter(t *testing.T, h http.Handler, origin, family, match string) int {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, origin+"/metrics", nil))
	n := 0
	sc := bufio.NewScanner(w.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, family+"{") || !strings.Contains(line, match) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Errorf("/metrics: %q: %v", line, err)
		}
		n += int(v)
	}
	return n
}

// on sends req to one instance of origin's role, bypassing the round-robin,
// with the cookies b holds for origin.
func (sc *scaledChain) on(origin string, i int, b *browsertest.Browser, method, path string) *http.Response {
	req := httptest.NewRequest(method, origin+path, nil)
	for _, c := range b.Jar().Cookies(req.URL) {
		req.AddCookie(c)
	}
	w := httptest.NewRecorder()
	sc.instances[origin][i].ServeHTTP(w, req)
	return w.Result()
}

// authOnEach is /auth's status on each instance of origin for b's cookies.
func (sc *scaledChain) authOnEach(b *browsertest.Browser, origin string) []int {
	var codes []int
	for i := range sc.instances[origin] {
		codes = append(codes, sc.on(origin, i, b, http.MethodGet, "/auth").StatusCode)
	}
	return codes
}

// waitReady waits until every instance of every role answers /readyz 200.
func (sc *scaledChain) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for origin, instances := range sc.instances {
		for i := range instances {
			for sc.on(origin, i, browsertest.New(t, sc.net), http.MethodGet, "/readyz").StatusCode != http.StatusOK {
				if time.Now().After(deadline) {
					t.Fatalf("%s instance %d not ready 10s after Redis came back", origin, i)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
}

func TestScaleLoginWalksThroughTwoInstancesPerRole(t *testing.T) {
	sc := startScaledChain(t)
	b := sc.alice()
	p := b.Visit(loginURL(dashboardURL + "/"))
	if p.Status != http.StatusOK || p.URL != dashboardURL+"/" {
		t.Fatalf("walk ended at %s with %d; hops:\n%s", p.URL, p.Status, strings.Join(hopURLs(p.Hops), "\n"))
	}
	// Every instance of every receiver takes the cookie the walk set: the
	// cookie keys are the chain's, not the instance's.
	for _, origin := range []string{portalURL, dashboardURL} {
		if got := sc.authOnEach(b, origin); !slices.Equal(got, []int{200, 200}) {
			t.Errorf("%s/auth on each instance = %v, want 200 on both", origin, got)
		}
	}
	// A second walk, now without a password, lands on the other instances.
	b.Password = ""
	if p := b.Visit(loginURL(portalURL + "/")); p.Status != http.StatusOK || p.URL != portalURL+"/" {
		t.Fatalf("second walk ended at %s with %d: %v", p.URL, p.Status, hopURLs(p.Hops))
	}
	if got := sc.handoffs.count(); got != 4 {
		t.Errorf("%d handoffs accepted over two walks, want 4", got)
	}
}

func TestScaleHandoffReplayedToTheOtherInstanceIsRefused(t *testing.T) {
	sc := startScaledChain(t)
	alice := sc.alice()
	used := sc.handoffURL(alice, portalURL)
	parsed, err := token.Parse(strings.SplitN(used, chain.TokenParam+"=", 2)[1])
	if err != nil {
		t.Fatal(err)
	}
	by := sc.handoffs.instanceOf(parsed.Claims.ID)
	if len(by) != 1 {
		t.Fatalf("alice's handoff accepted by %v, want one portal instance", by)
	}
	other := 1
	if by[0] == "portal#1" {
		other = 0
	}
	// The thief's browser has no cookie; the URL goes to the instance
	// that did not see it.
	thief := browsertest.New(t, sc.net)
	resp := sc.on(portalURL, other, thief, http.MethodGet, strings.TrimPrefix(used, portalURL))
	body := readBody(resp)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "token_replayed") || len(resp.Cookies()) != 0 {
		t.Errorf("handoff accepted by %s, replayed to portal#%d = %d with cookies %v; want 401 naming token_replayed and no cookie",
			by[0], other, resp.StatusCode, resp.Cookies())
	}

	t.Run("the same fresh token sent to both instances at once is accepted once", func(t *testing.T) {
		fresh := sc.captureUnused(alice, portalURL)
		var wg sync.WaitGroup
		codes := make([]int, 16)
		for k := range codes {
			wg.Go(func() {
				codes[k] = sc.on(portalURL, k%2, browsertest.New(t, sc.net), http.MethodGet, strings.TrimPrefix(ssoURL(portalURL, fresh), portalURL)).StatusCode
			})
		}
		wg.Wait()
		slices.Sort(codes)
		want := append([]int{http.StatusSeeOther}, slices.Repeat([]int{http.StatusUnauthorized}, 15)...)
		if !slices.Equal(codes, want) {
			t.Errorf("16 concurrent handoffs of one token over two instances = %v, want one 303 and fifteen 401", codes)
		}
	})
}

func TestScaleLogoutOnOneInstanceRevokesOnEveryInstanceAtOnce(t *testing.T) {
	sc := startScaledChain(t)
	b := sc.alice()
	if p := b.Visit(loginURL(dashboardURL + "/")); p.URL != dashboardURL+"/" {
		t.Fatalf("login ended at %s (%d)", p.URL, p.Status)
	}
	// A copy of alice's cookies, as another device or a thief would keep;
	// the logout's front-channel clears only the browser's own.
	kept := browsertest.New(t, sc.net)
	for _, origin := range []string{portalURL, dashboardURL} {
		u := mustURL(origin)
		kept.Jar().SetCookies(u, b.Jar().Cookies(u))
		// Each instance now holds a cached IdP check for the session.
		if got := sc.authOnEach(kept, origin); !slices.Equal(got, []int{200, 200}) {
			t.Fatalf("%s/auth on each instance before logout = %v, want 200 on both", origin, got)
		}
	}

	if p := b.Visit(issuerURL + chain.LogoutPath); p.Status != http.StatusOK {
		t.Fatalf("logout ended at %s with %d: %v", p.URL, p.Status, hopURLs(p.Hops))
	}
	// The back-channel reaches one instance per receiver, in the
	// background. Once instance 0 refuses the session, instance 1 must
	// too, as soon as the revocation's message reaches it: the clock does
	// not move, so no recheck interval passes, and without the message
	// instance 1 would answer 200 from its cached IdP check forever. The
	// instance that revoked marks its own mirror when Redis answers, the
	// other when the published message arrives, a moment apart, so
	// instance 1 is polled rather than asked once.
	refused := func(origin string, instance int) bool {
		deadline := time.Now().Add(5 * time.Second)
		for sc.on(origin, instance, kept, http.MethodGet, "/auth").StatusCode != http.StatusUnauthorized {
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(5 * time.Millisecond)
		}
		return true
	}
	for _, origin := range []string{portalURL, dashboardURL} {
		if !refused(origin, 0) {
			t.Fatalf("%s instance 0: /auth still not 401 5s after logout", origin)
		}
		if !refused(origin, 1) {
			t.Errorf("%s: /auth = 401 on instance 0 but still 200 on instance 1 5s later", origin)
		}
	}

	// The back-channel deliveries run in the background: the
	// front-channel walk may have revoked the session before they
	// arrived, so wait for them before counting who received one.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, r := range sc.all {
		if err := r.Drain(ctx); err != nil {
			t.Fatalf("issuer instance %d: back-channel deliveries still under way: %v", i, err)
		}
	}

	// Redis restarts empty and forgets the revocation. The instance the
	// back-channel did not reach never saw the logout itself; had it kept
	// its IdP check from before, it would let the cookie in for the rest of
	// the recheck interval. It dropped the check when the revocation was
	// published, so it asks the IdP, which says the session is gone. It is
	// asked first: the answer re-revokes the session in Redis, after which
	// every instance refuses it by the key alone. Hence one restart per
	// receiver.
	for _, tc := range []struct{ origin, name string }{{portalURL, "portal"}, {dashboardURL, "dashboard"}} {
		var missed []int
		for i, h := range sc.instances[tc.origin] {
			if counter(t, h, tc.origin, "ssoctl_backchannel_logouts_total", `result="revoked"`) == 0 {
				missed = append(missed, i)
			}
		}
		if len(missed) != 1 {
			t.Fatalf("%s: instances %v saw no back-channel logout, want exactly one", tc.name, missed)
		}
		sc.redis.Stop(t)
		sc.redis.Restart(t)
		sc.waitReady(t)
		order := []int{missed[0], 1 - missed[0]}
		for _, i := range order {
			if got := sc.on(tc.origin, i, kept, http.MethodGet, "/auth").StatusCode; got != http.StatusUnauthorized {
				t.Errorf("%s#%d /auth after Redis forgot the revocation = %d, want 401 (its cached IdP check dropped by pub/sub)", tc.name, i, got)
			}
		}
	}
}

func TestScaleRedisDownMidWalkFailsClosedAndRecovers(t *testing.T) {
	sc := startScaledChain(t)
	signedIn := sc.alice()
	if p := signedIn.Visit(loginURL(dashboardURL + "/")); p.URL != dashboardURL+"/" {
		t.Fatalf("login ended at %s (%d)", p.URL, p.Status)
	}

	// Redis dies as the walk's first handoff reaches portal.
	b := sc.alice()
	stop := func() { sc.redis.Stop(t) }
	sc.beforeHandoff.Store(&stop)
	p := b.Visit(loginURL(dashboardURL + "/"))
	if p.Status != http.StatusServiceUnavailable || !strings.HasPrefix(p.URL, portalURL+chain.SSOPath) || !strings.Contains(p.Body, "store_unavailable") {
		t.Fatalf("walk with Redis down ended at %s with %d; want 503 store_unavailable at portal's /sso", p.URL, p.Status)
	}
	if got := b.Cookies(portalURL); slices.Contains(got, "portal_session") {
		t.Errorf("a handoff refused for the store set portal's cookie: %v", got)
	}
	for i := range 2 {
		resp := sc.on(portalURL, i, signedIn, http.MethodGet, "/auth")
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("portal#%d /auth for a signed-in cookie with Redis down = %d, want 503 with Retry-After", i, resp.StatusCode)
		}
	}

	sc.redis.Restart(t) // empty: every jti consumed before is forgotten
	sc.waitReady(t)
	// The refused token was not consumed, but nor can any instance tell it
	// from one that was and is forgotten: every token issued before Redis
	// came back empty is refused, on both instances (a 503: the retry mints
	// a new one).
	refused := p.URL
	thief := browsertest.New(t, sc.net)
	for i := range 2 {
		resp := sc.on(portalURL, i, thief, http.MethodGet, strings.TrimPrefix(refused, portalURL))
		if body := readBody(resp); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "store_unavailable") {
			t.Errorf("a token issued before Redis restarted empty, sent to portal#%d after = %d, want 503 store_unavailable", i, resp.StatusCode)
		}
	}
	// Tokens issued once the restart is more than the leeway old verify
	// as before.
	sc.clock.Advance(sc.chain.Token.Leeway + time.Second)
	if p := b.Visit(loginURL(dashboardURL + "/")); p.Status != http.StatusOK || p.URL != dashboardURL+"/" {
		t.Fatalf("walk after Redis came back ended at %s with %d: %v", p.URL, p.Status, hopURLs(p.Hops))
	}
	for _, origin := range []string{portalURL, dashboardURL} {
		if got := sc.authOnEach(b, origin); !slices.Equal(got, []int{200, 200}) {
			t.Errorf("%s/auth on each instance after Redis came back = %v, want 200 on both", origin, got)
		}
	}
}

func readBody(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
