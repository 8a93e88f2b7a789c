package chain_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/redistest"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve"
)

// Receivers as production runs them: two instances of each, built by two
// NewRoles from one file, behind a load balancer on the receiver's origin.
// With a store per instance (memory, the default) each instance accepts a
// handoff once and only the instance a back-channel logout reached revokes
// the session; with one shared Redis neither happens. The probes that test
// shared state, and --logout, must tell the two apart.

// instancesYAML is designChain with a token secret every instance shares
// (the cookie and state keys derive from it), and with shared, one Redis
// store for all.
func instancesYAML(shared bool) string {
	y := strings.Replace(designChain, "  alg: HS256\n", "  alg: HS256\n  secret: \"instances-test-secret-0123456789abcdef\"\n", 1)
	if shared {
		y += "store: {redis: {url_env: REDIS_URL}}\n"
	}
	return y
}

// hit is one request a receiver instance answered.
type hit struct {
	instance int
	conn     int64 // the connection it came on, numbered from 1 per balancer
	path     string
	token    string // what /sso was handed; "" elsewhere
	status   int
	cookie   bool // it set a session cookie
}

// balancer is a load balancer in front of one receiver's instances: it
// picks the next instance, round-robin, for every request (L7) or for
// every connection it accepts (L4), and records what each one answered.
type balancer struct {
	instances []http.Handler
	perConn   bool
	next      atomic.Uint64
	conns     atomic.Int64

	mu   sync.Mutex
	hits []hit
}

type connKey struct{}

// conn is an accepted connection and, per connection, its instance.
type conn struct {
	id       int64
	instance int
}

func (lb *balancer) pick() int {
	return int((lb.next.Add(1) - 1) % uint64(len(lb.instances)))
}

// connContext is http.Server.ConnContext: it runs once per accepted
// connection.
func (lb *balancer) connContext(ctx context.Context, _ net.Conn) context.Context {
	c := conn{id: lb.conns.Add(1), instance: -1}
	if lb.perConn {
		c.instance = lb.pick()
	}
	return context.WithValue(ctx, connKey{}, c)
}

func (lb *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, _ := r.Context().Value(connKey{}).(conn)
	i := c.instance
	if !lb.perConn {
		i = lb.pick()
	}
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	lb.instances[i].ServeHTTP(sw, r)
	h := hit{instance: i, conn: c.id, path: r.URL.Path, status: sw.status, cookie: setsSession(w.Header())}
	if r.URL.Path == chain.SSOPath {
		h.token = r.URL.Query().Get(chain.TokenParam)
	}
	lb.mu.Lock()
	lb.hits = append(lb.hits, h)
	lb.mu.Unlock()
}

// sendNextTo makes instance i answer the next request (L7) or connection
// (L4).
func (lb *balancer) sendNextTo(i int) { lb.next.Store(uint64(i)) }

// handed are the hits that carried token, in order.
func (lb *balancer) handed(token string) []hit {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	var out []hit
	for _, h := range lb.hits {
		if h.token == token {
			out = append(out, h)
		}
	}
	return out
}

// firstHandoff is the first /sso that set a cookie: the walk's.
func (lb *balancer) firstHandoff(t *testing.T) hit {
	t.Helper()
	lb.mu.Lock()
	defer lb.mu.Unlock()
	for _, h := range lb.hits {
		if h.token != "" && h.cookie {
			return h
		}
	}
	t.Fatal("no instance accepted a handoff during the walk")
	return hit{}
}

// signedIn reports whether every instance has answered /auth 200.
func (lb *balancer) signedIn() bool {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	seen := map[int]bool{}
	for _, h := range lb.hits {
		if h.path == "/auth" && h.status == http.StatusOK {
			seen[h.instance] = true
		}
	}
	return len(seen) == len(lb.instances)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// setsSession reports whether h sets a cookie with a value, not a deletion.
func setsSession(h http.Header) bool {
	for _, line := range h.Values("Set-Cookie") {
		if c, err := http.ParseSetCookie(line); err == nil && c.Value != "" && c.MaxAge >= 0 {
			return true
		}
	}
	return false
}

// instances is designChain stood up with two instances of every receiver
// behind a balancer each; one issuer and one dev IdP. Every name maps onto
// loopback through the sandbox's Dialer.
type instances struct {
	*sandbox
	lb map[string]*balancer // by receiver name
}

// instanceOptions say how standUpInstances runs the receivers.
type instanceOptions struct {
	shared  bool // one Redis store; else a memory store per instance
	perConn bool // the balancers pick per connection (L4); else per request
	// faults is a faults: block for the second instance of each receiver
	// only: an instance that behaves unlike its twin.
	faults string
	// second rewrites the chain file of the second instance of each
	// receiver: an instance configured unlike its twin.
	second func(yaml string) string
}

func standUpInstances(t *testing.T, o instanceOptions) *instances {
	t.Helper()
	vars := map[string]string{}
	if o.shared {
		vars["REDIS_URL"] = redistest.Start(t)
	}
	c, err := chain.Parse("chain.yaml", []byte(instancesYAML(o.shared)))
	if err != nil {
		t.Fatal(err)
	}
	files := []*chain.Chain{c, c}
	if o.faults != "" || o.second != nil {
		y := instancesYAML(o.shared)
		if o.faults != "" {
			y += "faults:\n" + o.faults
		}
		if o.second != nil {
			y = o.second(y)
		}
		if files[1], err = chain.Parse("chain.yaml", []byte(y)); err != nil {
			t.Fatal(err)
		}
	}
	sb := &sandbox{t: t, chain: c, clock: newClock(), dialer: &chain.Dialer{Map: map[string]string{}, Strict: true}, srv: map[string]*httptest.Server{}}
	env := serve.Env{
		HTTPClient: &http.Client{Transport: &http.Transport{DialContext: sb.dialer.DialContext}},
		Now:        sb.clock.Now,
		LookupEnv:  func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
	}
	idp, err := serve.NewDevIdPFromChain(c, env)
	if err != nil {
		t.Fatal(err)
	}
	sb.serve(c.IdP.PublicURL, idp.Public())
	sb.serve(c.IdP.AdminURL, idp.Admin())
	is := &instances{sandbox: sb, lb: map[string]*balancer{}}
	for _, r := range c.Receivers {
		is.lb[r.Name] = &balancer{perConn: o.perConn}
	}
	for i, file := range files {
		roles, err := serve.NewRoles(file, env, serve.RoleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := roles.Close(); err != nil {
				t.Errorf("instance %d: Roles.Close: %v", i, err)
			}
		})
		if i == 0 {
			sb.roles = roles
			sb.serve(c.Issuer.URL, roles.Issuer)
		}
		for name, lb := range is.lb {
			lb.instances = append(lb.instances, roles.Receivers[name])
		}
	}
	for _, r := range c.Receivers {
		lb := is.lb[r.Name]
		srv := httptest.NewUnstartedServer(lb)
		srv.Config.ConnContext = lb.connContext
		srv.Start()
		t.Cleanup(srv.Close)
		u, _ := url.Parse(r.URL)
		sb.dialer.Map[u.Host] = srv.Listener.Addr().String()
		sb.srv[r.URL] = srv
	}
	return is
}

// walkClean walks the chain through the balancers with a browser that can
// probe, checks the chain's expectations, and stops the test unless all
// of it passed.
func (is *instances) walkClean(t *testing.T) (*chain.Browser, *chain.Trace) {
	t.Helper()
	b := is.probeBrowser(t)
	tr := walk(t, b, chain.StartURL(is.chain))
	b.Expect(context.Background(), tr, is.chain.Expect)
	if tr.Failed() {
		t.Fatalf("the walk failed: %v %+v", codes(tr.Findings), tr.Expectations)
	}
	return b, tr
}

// The replay probe sends each handoff up to Repeat times, each on a new
// connection. Before it, each balancer is set to send the next request
// (or connection) to the instance that took the walk's handoff: the
// instance a replay over the walk's kept-alive connection would reach. A
// store per instance then refuses the first attempt and accepts the
// second; one Redis refuses all three.
func TestProbeReplayReachesEveryInstance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		description string
		shared      bool // one Redis; else a memory store per instance
		perConn     bool // the balancers pick per connection (L4); else per request
		accepted    bool
		attempts    int
	}{
		{description: "a store per instance, balanced per request: the other instance takes it on attempt 2", accepted: true, attempts: 2},
		{description: "a store per instance, balanced per connection: a new connection reaches the other instance", perConn: true, accepted: true, attempts: 2},
		{description: "one Redis, balanced per request: refused 3 times", shared: true, attempts: 3},
		{description: "one Redis, balanced per connection: refused 3 times on 3 new connections", shared: true, perConn: true, attempts: 3},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			t.Parallel()
			is := standUpInstances(t, instanceOptions{shared: tt.shared, perConn: tt.perConn})
			b, tr := is.walkClean(t)
			walked := map[string]hit{}
			for name, lb := range is.lb {
				walked[name] = lb.firstHandoff(t)
				lb.sendNextTo(walked[name].instance)
			}
			o := is.probeOptions()
			o.Repeat = 3
			b.Probe(context.Background(), tr, o)

			replays := 0
			for _, p := range tr.Probes {
				if p.Name != chain.ProbeReplay {
					continue
				}
				replays++
				lb, first := is.lb[p.Target], walked[p.Target]
				if p.Skipped != "" || p.Attempts != tt.attempts || p.Refused == tt.accepted {
					t.Errorf("replay %s: refused %v, attempts %d, skipped %q; want accepted %v after %d attempts",
						p.Target, p.Refused, p.Attempts, p.Skipped, tt.accepted, tt.attempts)
				}
				// The walk's request and every attempt: each on a
				// connection of its own.
				sent := lb.handed(first.token)
				conns := map[int64]bool{}
				took := map[int]bool{}
				for _, h := range sent {
					conns[h.conn] = true
					if h.cookie {
						took[h.instance] = true
					}
				}
				if len(sent) != 1+tt.attempts || len(conns) != len(sent) {
					t.Errorf("%s got the walk's handoff %d times on %d connections; want %d times, each on a new connection",
						p.Target, len(sent), len(conns), 1+tt.attempts)
				}
				if len(sent) > 1 && sent[1].instance != first.instance {
					t.Errorf("%s: the first replay went to instance %d, want %d (where the balancer was set to send it)", p.Target, sent[1].instance, first.instance)
				}
				if wantTook := map[bool]int{true: 2, false: 1}[tt.accepted]; len(took) != wantTook {
					t.Errorf("%s: %d instances set a cookie for the walk's handoff, want %d", p.Target, len(took), wantTook)
				}
				if tt.accepted {
					if p.Finding != chain.FindingReplayAccepted.Code || p.Status != http.StatusSeeOther ||
						!strings.Contains(p.Detail, "on attempt 2, after 1 refusal (401)") || !strings.Contains(p.Detail, "store: {redis: …}") {
						t.Errorf("replay %s: finding %q, status %d, detail %q", p.Target, p.Finding, p.Status, p.Detail)
					}
				} else if p.Status != http.StatusUnauthorized || !strings.Contains(p.Detail, "3 times, each on a new connection") {
					t.Errorf("replay %s: status %d, detail %q", p.Target, p.Status, p.Detail)
				}
			}
			if replays != 2 {
				t.Errorf("%d replay results, want one per receiver: %v", replays, probeLines(tr))
			}
			want := []string(nil)
			if tt.accepted {
				want = []string{chain.FindingReplayAccepted.Code}
			}
			equalLists(t, "error codes", errorCodes(tr), want)
			for _, f := range tr.Findings {
				if f.Code == chain.FindingReplayAccepted.Code && !strings.Contains(f.Detail, "on attempt 2") {
					t.Errorf("the %s finding does not say which attempt: %s", f.Code, f.Detail)
				}
			}
			secretsAbsent(t, tr, "wonderland")
		})
	}
}

// --logout signs a receiver out only after Repeat 401s in a row, each on a
// new connection. With a store per instance the back-channel logout
// revokes on the one instance it reaches, and the other, whose IdP check
// is fresh, keeps the session: 401, then 200. With one Redis every
// instance refuses at once.
func TestLogoutReachesEveryInstance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		description string
		shared      bool
		deadline    time.Duration
	}{
		{description: "a store per instance: 401 on one instance, 200 on the other", deadline: 400 * time.Millisecond},
		{description: "one Redis: signed out on every instance", shared: true, deadline: chain.DefaultLogoutDeadline},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			t.Parallel()
			is := standUpInstances(t, instanceOptions{shared: tt.shared})
			b, tr := is.walkClean(t)
			// Every instance checks the session with the IdP once, as
			// traffic through a balancer would have it do.
			for n := 0; !is.lb["portal"].signedIn() || !is.lb["dashboard"].signedIn(); n++ {
				if n == 10 {
					t.Fatal("not every instance answered /auth 200 for the walk's session")
				}
				b.Expect(context.Background(), &chain.Trace{}, chain.Expect{})
			}
			if err := b.Logout(context.Background(), tr, chain.LogoutOptions{Deadline: tt.deadline, Repeat: 3}); err != nil {
				t.Fatal(err)
			}
			if len(tr.Logout.Receivers) != 2 {
				t.Fatalf("logout receivers: %+v", tr.Logout.Receivers)
			}
			for _, r := range tr.Logout.Receivers {
				if r.Attempts < 3 {
					t.Errorf("%s: /auth asked %d times, want at least 3", r.Name, r.Attempts)
				}
				if tt.shared {
					if !r.SignedOut || r.Status != http.StatusUnauthorized || r.Detail != "" {
						t.Errorf("%s: signed out %v, status %d, detail %q; want signed out", r.Name, r.SignedOut, r.Status, r.Detail)
					}
					continue
				}
				if r.SignedOut || r.Status != http.StatusOK || !strings.Contains(r.Detail, "it answered 401, then 200 on another attempt") ||
					!strings.Contains(r.Detail, "store: {redis: …}") {
					t.Errorf("%s: signed out %v, status %d, detail %q; want still signed in, 401 then 200", r.Name, r.SignedOut, r.Status, r.Detail)
				}
			}
			want := []string(nil)
			if !tt.shared {
				want = []string{chain.FindingSignedInAfterLogout.Code}
			}
			equalLists(t, "error codes", errorCodes(tr), want)
		})
	}
}

// revoked_session asks /auth up to Repeat times after the revocation, each
// on a new connection. Here the second instance of portal never asks the
// IdP again (skip_idp_recheck): an instance the revocation did not reach.
// Sent first to the instance that does, the probe is refused once and then
// accepted; with both instances sound it is refused Repeat times.
func TestProbeRevokedSessionReachesEveryInstance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		description string
		faults      string
		portal      string // portal's revoked_session, as probeLines writes it
		attempts    int
		detail      string
	}{
		{
			description: "both instances ask the IdP again: refused 3 times",
			portal:      "revoked_session portal refused 401", attempts: 3,
			detail: "/auth answered 401, 401, 401, each on a new connection",
		},
		{
			description: "one instance keeps the revoked session: accepted on attempt 2",
			faults:      "  receivers:\n    portal: {skip_idp_recheck: true}\n",
			portal:      "revoked_session portal ACCEPTED 200 SSO402", attempts: 2,
			detail: "portal's /auth answered 200 on attempt 2 for the walk's cookie, after 1 refusal (401)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			t.Parallel()
			is := standUpInstances(t, instanceOptions{faults: tt.faults})
			b, tr := is.walkClean(t)
			// Whichever instances the requests before it reached, the
			// first /auth after the revocation goes to instance 0, the
			// sound one.
			o := is.probeOptions()
			o.Repeat = 3
			advance := o.Advance
			o.Advance = func(d time.Duration) {
				advance(d)
				is.lb["portal"].sendNextTo(0)
			}
			b.Probe(context.Background(), tr, o)
			var got *chain.ProbeResult
			for i, p := range tr.Probes {
				if p.Name == chain.ProbeRevokedSession && p.Target == "portal" {
					got = &tr.Probes[i]
				}
			}
			if got == nil {
				t.Fatalf("no revoked_session result for portal: %v", probeLines(tr))
			}
			if line := probeLines(&chain.Trace{Probes: []chain.ProbeResult{*got}})[0]; line != tt.portal || got.Attempts != tt.attempts ||
				!strings.Contains(got.Detail, tt.detail) {
				t.Errorf("%s after %d attempts: %s; want %s after %d attempts, detail with %q", line, got.Attempts, got.Detail, tt.portal, tt.attempts, tt.detail)
			}
			if tt.faults != "" && !strings.Contains(got.Detail, "do not share revocations") {
				t.Errorf("the detail does not name the likely cause: %s", got.Detail)
			}
		})
	}
}

// session_instances asks each receiver's /auth with the walk's cookie on
// new connections. Here portal's second instance has a cookie key of its
// own, so it cannot open the cookie its twin set: the balancer picks per
// connection, the walk's kept-alive connection stayed on one instance and
// signed in, and new connections reach both. dashboard's instances agree.
// One Redis for both, so nothing else differs.
func TestProbeSessionInstancesFindsASplitReceiver(t *testing.T) {
	t.Parallel()
	otherKey := func(y string) string {
		old := "    cookie: {name: portal_session, ttl: 8h}\n"
		if !strings.Contains(y, old) {
			t.Fatalf("the chain has no %q to change", old)
		}
		return strings.Replace(y, old, "    cookie: {name: portal_session, ttl: 8h, secret: \"another-instance-cookie-key-0123456789\"}\n", 1)
	}
	tests := []struct {
		description string
		second      func(string) string
		repeat      int
		portal      string // portal's session_instances, as probeLines writes it
		codes       []string
	}{
		{description: "portal's instances have different cookie keys", second: otherKey, repeat: 3,
			portal: "session_instances portal ACCEPTED 401 SSO404", codes: []string{chain.FindingSplitSession.Code}},
		{description: "every instance alike", repeat: 3, portal: "session_instances portal refused 200"},
		{description: "one attempt cannot tell", second: otherKey, repeat: 1, portal: "session_instances portal skipped"},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			t.Parallel()
			is := standUpInstances(t, instanceOptions{shared: true, perConn: true, second: tt.second})
			b, tr := is.walkClean(t)
			o := is.probeOptions()
			o.Repeat = tt.repeat
			b.Probe(context.Background(), tr, o)
			var got []string
			var portal chain.ProbeResult
			for _, p := range tr.Probes {
				if p.Name == chain.ProbeSessionInstances {
					got = append(got, probeLines(&chain.Trace{Probes: []chain.ProbeResult{p}})[0])
					if p.Target == "portal" {
						portal = p
					}
				}
			}
			dashboard := "session_instances dashboard refused 200"
			if tt.repeat == 1 {
				dashboard = "session_instances dashboard skipped"
			}
			equalLists(t, "session_instances", got, []string{tt.portal, dashboard})
			equalLists(t, "error codes", errorCodes(tr), tt.codes)
			switch {
			case tt.codes != nil:
				if portal.Attempts != 3 || !strings.Contains(portal.Detail, "200") || !strings.Contains(portal.Detail, "401") ||
					!strings.Contains(portal.Detail, "a cookie key or session store not shared") {
					t.Errorf("portal: attempts %d, detail %q", portal.Attempts, portal.Detail)
				}
				// The walk's connection and the probe's three: portal's
				// /auth reached both instances.
				seen := map[int]bool{}
				for _, h := range is.lb["portal"].hits {
					if h.path == "/auth" {
						seen[h.instance] = true
					}
				}
				if len(seen) != 2 {
					t.Errorf("portal's /auth reached instances %v, want both", seen)
				}
			case tt.repeat == 1:
				if !strings.Contains(portal.Skipped, "--probe-repeat 2 or more") {
					t.Errorf("portal skipped: %q", portal.Skipped)
				}
			}
			secretsAbsent(t, tr, "wonderland", "another-instance-cookie-key")
		})
	}
}
