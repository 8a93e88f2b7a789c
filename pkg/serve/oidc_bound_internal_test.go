package serve

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc/oidctest"

	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve/store"
)

// boundTestProvider is an OpenID provider in the test process: go-oidc's
// oidctest for discovery and keys, and a token endpoint that answers a
// code "sid sub nonce" with an ID token for that session. A real provider
// (Hydra, oidc_hydra_test.go) cannot be made to log in thousands of
// sessions in a unit test's time, nor to expire them on a fake clock.
type boundTestProvider struct {
	p        *OIDC
	chain    *chain.Chain
	client   *http.Client
	mu       sync.Mutex
	now      time.Time
	redeemed atomic.Int64
	// The token endpoint's refresh grants rotate refresh tokens, and one
	// used twice withdraws the grant, as Hydra does.
	refreshes atomic.Int64
	current   map[string]string // sid → its refresh token
	withdrawn map[string]bool   // sid → the grant is withdrawn
	gate      chan struct{}     // non-nil: refresh grants wait for it to close
	// inflight counts the refresh grants being answered; most is the
	// highest it reached.
	inflight, most atomic.Int64
}

func newBoundTestProvider(t testing.TB, maxSessions int, apart bool) *boundTestProvider {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	op := &oidctest.Server{
		PublicKeys: []oidctest.PublicKey{{PublicKey: key.Public(), KeyID: "k1", Algorithm: "ES256"}},
		Algorithms: []string{"ES256"},
	}
	bp := &boundTestProvider{now: time.Now(), current: map[string]string{}, withdrawn: map[string]bool{}}
	var issuer string
	mux := http.NewServeMux()
	mux.Handle("/", op)
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if r.PostFormValue("grant_type") == "refresh_token" {
			bp.refreshGrant(w, r, r.PostFormValue("refresh_token"))
			return
		}
		bp.redeemed.Add(1)
		f := strings.Fields(r.PostFormValue("code"))
		if len(f) != 3 {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		now := bp.clock()
		claims, _ := json.Marshal(map[string]any{
			"iss": issuer, "aud": "ssoctl", "sub": f[1], "sid": f[0], "nonce": f[2],
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		})
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": "at-" + f[0], "token_type": "Bearer", "expires_in": 3600,
			"refresh_token": bp.rotate(f[0]),
			"id_token":      oidctest.SignIDToken(key, "k1", "ES256", string(claims)),
		})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	issuer = srv.URL
	op.SetIssuer(srv.URL)
	bp.client = srv.Client()
	bp.chain, err = chain.Parse("chain.yaml", []byte(OIDCTestChain(srv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	bp.p = bp.relyingParty(t, maxSessions, apart)
	return bp
}

// relyingParty is one more issuer process on this provider, with its own
// memory store.
func (bp *boundTestProvider) relyingParty(t testing.TB, maxSessions int, apart bool) *OIDC {
	t.Helper()
	p, err := NewOIDC(bp.chain, Env{HTTPClient: bp.client, Now: bp.clock}, OIDCOptions{MaxSessions: maxSessions})
	if err != nil {
		t.Fatal(err)
	}
	p.apart = apart
	return p
}

// holdRefreshes makes refresh grants wait until release is called (at
// the test's end at the latest).
func (bp *boundTestProvider) holdRefreshes(t testing.TB) (release func()) {
	gate := make(chan struct{})
	bp.mu.Lock()
	bp.gate = gate
	bp.mu.Unlock()
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	return release
}

// rotate issues sid's next refresh token.
func (bp *boundTestProvider) rotate(sid string) string {
	bp.mu.Lock()
	defer bp.mu.Unlock()
	rt := fmt.Sprintf("rt-%s-%d", sid, rand.Int())
	bp.current[sid] = rt
	return rt
}

func (bp *boundTestProvider) refreshGrant(w http.ResponseWriter, r *http.Request, rt string) {
	bp.refreshes.Add(1)
	n := bp.inflight.Add(1)
	defer bp.inflight.Add(-1)
	for m := bp.most.Load(); n > m && !bp.most.CompareAndSwap(m, n); m = bp.most.Load() {
	}
	bp.mu.Lock()
	gate := bp.gate
	bp.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			// The client gave up before the grant was made: nothing rotates.
			return
		}
	}
	sid, _, _ := strings.Cut(strings.TrimPrefix(rt, "rt-"), "-")
	bp.mu.Lock()
	ok := rt != "" && bp.current[sid] == rt && !bp.withdrawn[sid]
	if !ok && bp.current[sid] != "" {
		bp.withdrawn[sid] = true // a refresh token used twice: the grant ends
	}
	bp.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": "at-" + sid, "token_type": "Bearer", "expires_in": 3600, "refresh_token": bp.rotate(sid),
	})
}

// withdraw ends sid's grant at the provider, as a consent revoked there.
func (bp *boundTestProvider) withdraw(sid string) {
	bp.mu.Lock()
	defer bp.mu.Unlock()
	bp.withdrawn[sid] = true
}

func (bp *boundTestProvider) memory() *memoryOIDCSessions {
	return bp.p.sessions.(*memoryOIDCSessions)
}

func (bp *boundTestProvider) clock() time.Time {
	bp.mu.Lock()
	defer bp.mu.Unlock()
	return bp.now
}

func (bp *boundTestProvider) advance(d time.Duration) {
	bp.mu.Lock()
	defer bp.mu.Unlock()
	bp.now = bp.now.Add(d)
}

// login finishes a login into provider session sid, valid for ttl.
func (bp *boundTestProvider) login(sid string, ttl time.Duration) error {
	return bp.loginAt(bp.p, sid, "user-"+sid, ttl)
}

// loginAt finishes a login at p into provider session sid for sub.
func (bp *boundTestProvider) loginAt(p *OIDC, sid, sub string, ttl time.Duration) error {
	a := newOIDCAuth("", 0)
	_, err := p.Exchange(context.Background(), sid+" "+sub+" "+a.Nonce, a, ttl)
	return err
}

// TestOIDCSessionsAreBounded: at its maximum the issuer refuses a login
// (store.ErrFull, so the callback answers 503) before redeeming the code;
// sessions that were revoked or expired are swept out to make room; and a
// swept session answers as an ended one, never as "unknown, trust the
// handoff".
func TestOIDCSessionsAreBounded(t *testing.T) {
	bp := newBoundTestProvider(t, 3, false)
	ctx := context.Background()
	for _, sid := range []string{"s1", "s2", "s3"} {
		if err := bp.login(sid, time.Hour); err != nil {
			t.Fatalf("login %s: %v", sid, err)
		}
	}
	before := bp.redeemed.Load()
	err := bp.login("s4", time.Hour)
	if !errors.Is(err, ErrOIDCSessionsFull) || !errors.Is(err, store.ErrFull) {
		t.Fatalf("a fourth login with room for three = %v, want ErrOIDCSessionsFull (store.ErrFull)", err)
	}
	if got := bp.redeemed.Load(); got != before {
		t.Fatalf("the refused login redeemed its code at the provider (%d redemptions, want %d)", got, before)
	}
	if _, err := bp.p.localSession(ctx, "s4"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("the refused login's session = %v, want ErrNoSession", err)
	}

	// A login again into a session held replaces it in its place.
	if err := bp.p.Revoke(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if err := bp.login("s2", time.Hour); err != nil {
		t.Fatalf("a login again into s2 with s1 revoked: %v", err)
	}
	if err := bp.login("s4", time.Hour); err != nil {
		t.Fatalf("a login with s1 revoked (room once swept): %v", err)
	}
	if got := bp.memory().held.Load(); got != 3 {
		t.Fatalf("%d places held for s2, s3 and s4, want 3", got)
	}
	if _, err := bp.p.localSession(ctx, "s1"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("s1, revoked and swept out = %v, want ErrNoSession", err)
	}
	for _, sid := range []string{"s2", "s3", "s4"} {
		if _, err := bp.p.localSession(ctx, sid); err != nil {
			t.Fatalf("%s, a session held: %v", sid, err)
		}
	}

	// Two hours on every session has expired: three new logins fit.
	bp.advance(2 * time.Hour)
	for _, sid := range []string{"s5", "s6", "s7"} {
		if err := bp.login(sid, time.Hour); err != nil {
			t.Fatalf("login %s after the others expired: %v", sid, err)
		}
	}
	if _, err := bp.p.localSession(ctx, "s3"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("s3, expired and swept out = %v, want ErrNoSession", err)
	}
	n := bp.memory().len()
	if n != 3 || bp.memory().held.Load() != 3 {
		t.Fatalf("%d sessions in the map and %d places held, want 3 and 3", n, bp.memory().held.Load())
	}
}

// TestOIDCSessionsSweptWhileRoomIsLeft: ended sessions leave memory at
// the next login a sweep interval later, not only when the issuer is full.
func TestOIDCSessionsSweptWhileRoomIsLeft(t *testing.T) {
	bp := newBoundTestProvider(t, 1000, false)
	for _, sid := range []string{"a", "b", "c"} {
		if err := bp.login(sid, 10*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	bp.advance(11 * time.Minute)
	if err := bp.login("d", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := bp.memory().held.Load(); got != 1 {
		t.Fatalf("%d sessions held after three expired and one logged in, want 1", got)
	}
}

// TestOIDCUnknownSessionApart: in a process apart from the issuer (a
// receiver with no way to ask it), an unknown session is ErrNoAdminAPI,
// as before: the receiver trusts the signed handoff. In the issuer's own
// process it is ErrNoSession.
func TestOIDCUnknownSessionApart(t *testing.T) {
	for _, tt := range []struct {
		apart bool
		want  error
	}{{false, ErrNoSession}, {true, ErrNoAdminAPI}} {
		bp := newBoundTestProvider(t, 10, tt.apart)
		if _, err := bp.p.Session(context.Background(), "nobody"); !errors.Is(err, tt.want) {
			t.Errorf("apart=%v: unknown session = %v, want %v", tt.apart, err, tt.want)
		}
	}
}

// TestOIDCSessionsConcurrentLogins: logins racing for the last places
// never hold more than the maximum, and every refusal is ErrOIDCSessionsFull.
func TestOIDCSessionsConcurrentLogins(t *testing.T) {
	const maxSessions = 8
	bp := newBoundTestProvider(t, maxSessions, false)
	var ok, full atomic.Int64
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			switch err := bp.login(string(rune('A'+i)), time.Hour); {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrOIDCSessionsFull):
				full.Add(1)
			default:
				t.Errorf("login %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != maxSessions || full.Load() != 32-maxSessions || bp.memory().held.Load() != maxSessions {
		t.Fatalf("%d logins in, %d refused, %d places held; want %d, %d, %d",
			ok.Load(), full.Load(), bp.memory().held.Load(), maxSessions, 32-maxSessions, maxSessions)
	}
}

// TestSessionAPIPasswordAfterRotation: the issuer's session API takes the
// password derived from the current secret and from each previous one
// (receivers move to a new secret one by one), and nothing else.
func TestSessionAPIPasswordAfterRotation(t *testing.T) {
	current, previous := sessionAPIKey([]byte("current-secret-0123456789abcdef0123")), sessionAPIKey([]byte("previous-secret-0123456789abcdef012"))
	is := &Issuer{sessionAPIKey: current, cfg: IssuerConfig{PreviousSessionAPIKeys: [][]byte{previous}}}
	for _, tc := range []struct {
		name string
		pass []byte
		want bool
	}{
		{"current", current, true},
		{"previous", previous, true},
		{"another secret's", sessionAPIKey([]byte("another-secret-0123456789abcdef0123")), false},
		{"empty", nil, false},
		{"the current one and more", append(append([]byte{}, current...), 'x'), false},
	} {
		if got := is.sessionAPIPassword(tc.pass); got != tc.want {
			t.Errorf("%s password: accepted %v, want %v", tc.name, got, tc.want)
		}
	}
}
