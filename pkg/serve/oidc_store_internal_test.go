package serve

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/redistest"
	"github.com/ssoctl/ssoctl/pkg/serve/store"
)

// The OIDC session stores (oidc_store.go) are checked through the OIDC
// relying party that uses them, against boundTestProvider: the same
// scenarios for memory and for Redis (a real redis-server), then what only
// a store shared by several issuer instances must do.

var oidcStorePrefixes atomic.Int64

// onRedis puts the relying parties' sessions in one fresh place in the
// Redis at url, sealed under secret.
type onRedis struct {
	url, prefix string
}

func newOnRedis(url string) onRedis {
	return onRedis{url: url, prefix: fmt.Sprintf("ssoctl:test-oidc:%d:", oidcStorePrefixes.Add(1))}
}

func (o onRedis) attach(t testing.TB, p *OIDC, secret string, previous ...string) {
	t.Helper()
	r, err := store.NewRedis(store.RedisOptions{URL: o.url, Prefix: o.prefix, Now: p.now, Timeout: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	var old [][]byte
	for _, p := range previous {
		old = append(old, []byte(p))
	}
	s, err := newRedisOIDCSessions(r.Records(), []byte(secret), old...)
	if err != nil {
		t.Fatal(err)
	}
	p.sessions = s
}

const oidcStoreSecret = "oidc-store-test-secret-0123456789abcdef"

func TestOIDCSessionStores(t *testing.T) {
	url := redistest.Start(t)
	for _, kind := range []string{"memory", "redis"} {
		t.Run(kind, func(t *testing.T) {
			bp := newBoundTestProvider(t, 100, false)
			if kind == "redis" {
				newOnRedis(url).attach(t, bp.p, oidcStoreSecret)
			}
			testOIDCSessionStore(t, bp)
		})
	}
}

func testOIDCSessionStore(t *testing.T, bp *boundTestProvider) {
	ctx := context.Background()
	p := bp.p
	session := func(id string) (*Session, error) { return p.localSession(ctx, id) }

	if err := bp.login("s1", time.Hour); err != nil {
		t.Fatal(err)
	}
	if s, err := session("s1"); err != nil || s.IdentityID != "user-s1" || !s.Usable(bp.clock()) {
		t.Fatalf("s1 = %+v, %v; want user-s1's usable session", s, err)
	}
	if _, err := session("nobody"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("an unknown session = %v, want ErrNoSession", err)
	}
	if p.IDTokenHint(ctx, "s1") == "" {
		t.Fatal("no ID token kept for s1's logout")
	}

	// Re-checks: one refresh grant per interval; the grant withdrawn
	// ends the session, and it stays ended without asking again.
	bp.advance(2 * time.Minute)
	if _, err := session("s1"); err != nil {
		t.Fatalf("s1 after its re-check: %v", err)
	}
	if _, err := session("s1"); err != nil || bp.refreshes.Load() != 1 {
		t.Fatalf("s1 within the interval: %v after %d refresh grants, want one", err, bp.refreshes.Load())
	}
	bp.advance(2 * time.Minute)
	if _, err := session("s1"); err != nil || bp.refreshes.Load() != 2 {
		t.Fatalf("s1's second re-check: %v after %d refresh grants, want two (with the rotated token)", err, bp.refreshes.Load())
	}
	bp.withdraw("s1")
	bp.advance(2 * time.Minute)
	if _, err := session("s1"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("s1 after the provider withdrew the grant = %v, want ErrNoSession", err)
	}
	if _, err := session("s1"); !errors.Is(err, ErrNoSession) || bp.refreshes.Load() != 3 {
		t.Fatalf("s1 again = %v after %d refresh grants, want ErrNoSession without asking (3)", err, bp.refreshes.Load())
	}

	// Logouts: by sid (with a sub that must match too), by sub alone.
	for _, sid := range []string{"s2", "s3"} {
		if err := bp.loginAt(p, sid, "alice", time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if err := bp.loginAt(p, "s4", "bob", time.Hour); err != nil {
		t.Fatal(err)
	}
	if ended, err := p.EndSessions(ctx, "s2", "bob"); len(ended) != 0 || err != nil {
		t.Fatalf("a logout naming s2 for another subject ended %v, %v; want nothing", ended, err)
	}
	if ended, err := p.EndSessions(ctx, "", "alice"); len(ended) != 2 || err != nil {
		t.Fatalf("a logout naming alice ended %v, %v; want s2 and s3", ended, err)
	}
	if ended, err := p.EndSessions(ctx, "", "alice"); len(ended) != 0 || err != nil {
		t.Fatalf("the same logout again ended %v, %v; want nothing", ended, err)
	}
	for id, want := range map[string]error{"s2": ErrNoSession, "s3": ErrNoSession, "s4": nil} {
		if _, err := session(id); !errors.Is(err, want) {
			t.Errorf("%s after alice's logout = %v, want %v", id, err, want)
		}
	}
	if ended, err := p.EndSessions(ctx, "s4", ""); len(ended) != 1 || ended[0].IdentityID != "bob" || err != nil {
		t.Fatalf("a logout naming s4 ended %v, %v; want bob's", ended, err)
	}

	// Revoke (the issuer's /logout) forgets the ID token too.
	if err := bp.login("s5", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := p.Revoke(ctx, "s5"); err != nil {
		t.Fatal(err)
	}
	if _, err := session("s5"); !errors.Is(err, ErrNoSession) || p.IDTokenHint(ctx, "s5") != "" {
		t.Fatalf("s5 after Revoke = %v with hint %q, want ErrNoSession and none", err, p.IDTokenHint(ctx, "s5"))
	}

	// A logout while the provider is being asked: the re-check's answer
	// must not bring the session back.
	if err := bp.login("s6", time.Hour); err != nil {
		t.Fatal(err)
	}
	bp.advance(2 * time.Minute)
	release := bp.holdRefreshes(t)
	before := bp.refreshes.Load()
	done := make(chan error, 1)
	go func() { _, err := session("s6"); done <- err }()
	for bp.refreshes.Load() == before {
		time.Sleep(time.Millisecond)
	}
	if err := p.Revoke(ctx, "s6"); err != nil {
		t.Fatal(err)
	}
	release()
	if err := <-done; !errors.Is(err, ErrNoSession) {
		t.Errorf("the re-check that raced a logout = %v, want ErrNoSession", err)
	}
	if _, err := session("s6"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("s6 after a re-check raced its logout = %v, want ErrNoSession (not brought back)", err)
	}
}

// TestOIDCSessionsSharedThroughRedis: issuer instances on one Redis see
// each other's logins and logouts; they re-check a session with the
// provider once between them, so a provider that takes each refresh token
// once does not end it; a record sealed under another key, or Redis
// down, fails closed rather than reading as "no session".
func TestOIDCSessionsSharedThroughRedis(t *testing.T) {
	srv := redistest.StartServer(t)
	ctx := context.Background()
	bp := newBoundTestProvider(t, 100, false)
	where := newOnRedis(srv.URL)
	a, b := bp.p, bp.relyingParty(t, 100, false)
	where.attach(t, a, oidcStoreSecret)
	where.attach(t, b, oidcStoreSecret)

	if err := bp.loginAt(a, "s1", "alice", time.Hour); err != nil {
		t.Fatal(err)
	}
	if s, err := b.localSession(ctx, "s1"); err != nil || s.IdentityID != "alice" {
		t.Fatalf("the other instance's s1 = %+v, %v; want alice's", s, err)
	}

	bp.advance(2 * time.Minute)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range 16 {
		p := a
		if i%2 == 1 {
			p = b
		}
		wg.Go(func() {
			if _, err := p.localSession(ctx, "s1"); err != nil {
				failed.Add(1)
				t.Errorf("instance %d's re-check: %v", i%2, err)
			}
		})
	}
	wg.Wait()
	if n := bp.refreshes.Load(); n != 1 || failed.Load() != 0 {
		t.Fatalf("16 requests on two instances made %d refresh grants (%d failed), want 1", n, failed.Load())
	}
	bp.advance(2 * time.Minute)
	if _, err := b.localSession(ctx, "s1"); err != nil || bp.refreshes.Load() != 2 {
		t.Fatalf("the next re-check, at the other instance: %v after %d grants; want the rotated token to work", err, bp.refreshes.Load())
	}

	if ended, err := b.EndSessions(ctx, "s1", ""); len(ended) != 1 || err != nil {
		t.Fatalf("a logout at the other instance ended %v, %v; want s1", ended, err)
	}
	if _, err := a.localSession(ctx, "s1"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("s1 at the first instance after the logout at the other = %v, want ErrNoSession", err)
	}

	// An instance with another cookie key cannot open the records.
	if err := bp.loginAt(a, "s2", "alice", time.Hour); err != nil {
		t.Fatal(err)
	}
	stranger := bp.relyingParty(t, 100, false)
	where.attach(t, stranger, "another-secret-0123456789abcdef0123")
	_, err := stranger.localSession(ctx, "s2")
	if !errors.Is(err, ErrIdPUnavailable) || !errors.Is(err, store.ErrUnavailable) || errors.Is(err, ErrNoSession) {
		t.Fatalf("s2 at an instance with another key = %v, want a store failure (503), not ErrNoSession", err)
	}
	if ended, err := stranger.EndSessions(ctx, "s2", ""); len(ended) != 0 {
		t.Fatalf("an instance with another key ended %v (%v)", ended, err)
	}

	srv.Stop(t)
	if _, err := a.localSession(ctx, "s2"); !errors.Is(err, ErrIdPUnavailable) {
		t.Errorf("a session with Redis down = %v, want ErrIdPUnavailable (503)", err)
	}
	redeemed := bp.redeemed.Load()
	if err := bp.loginAt(a, "s3", "alice", time.Hour); !errors.Is(err, ErrIdPUnavailable) || !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("a login with Redis down = %v, want a store failure (503 store_unavailable)", err)
	}
	if n := bp.redeemed.Load() - redeemed; n != 0 {
		t.Errorf("a login with Redis down redeemed %d codes at the provider, want none (its grant would be held by no session)", n)
	}
	if _, err := a.EndSessions(ctx, "s2", ""); !errors.Is(err, ErrIdPUnavailable) {
		t.Errorf("a logout with Redis down = %v, want ErrIdPUnavailable (503)", err)
	}
	srv.Restart(t)
	// This Redis keeps nothing across a restart: the sessions are gone,
	// and read as ended (sign in again), never as "trust the handoff".
	if _, err := a.localSession(ctx, "s2"); !errors.Is(err, ErrNoSession) {
		t.Errorf("s2 after Redis came back empty = %v, want ErrNoSession", err)
	}
	if err := bp.loginAt(a, "s3", "alice", time.Hour); err != nil {
		t.Errorf("a login once Redis is back: %v", err)
	}
}

// TestOIDCSessionsAcrossASecretRotation: issuer instances move from one
// secret to another (token.previous_secrets) while sharing Redis. Records
// and logout indexes written under either key are found by instances
// that know both, in either order, and an instance that has dropped the
// old key no longer opens what it sealed.
func TestOIDCSessionsAcrossASecretRotation(t *testing.T) {
	srv := redistest.StartServer(t)
	ctx := context.Background()
	const newSecret = "oidc-store-rotated-secret-0123456789ab"
	bp := newBoundTestProvider(t, 100, false)
	where := newOnRedis(srv.URL)
	before, learning, rotated, after := bp.p, bp.relyingParty(t, 100, false), bp.relyingParty(t, 100, false), bp.relyingParty(t, 100, false)
	where.attach(t, before, oidcStoreSecret)
	where.attach(t, learning, oidcStoreSecret, newSecret) // knows the next key, still seals with the old
	where.attach(t, rotated, newSecret, oidcStoreSecret)
	where.attach(t, after, newSecret)

	for _, id := range []string{"s1", "s2"} {
		if err := bp.loginAt(before, id, "alice", time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if err := bp.loginAt(rotated, "s3", "alice", time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		at   *OIDC
		name string
		id   string
	}{{rotated, "the rotated instance", "s1"}, {learning, "an instance not yet rotated", "s3"}} {
		if s, err := c.at.localSession(ctx, c.id); err != nil || s.IdentityID != "alice" {
			t.Errorf("%s at %s = %+v, %v; want alice's", c.id, c.name, s, err)
		}
	}
	// A provider's logout finds the session by the index the old key named.
	if ended, err := rotated.EndSessions(ctx, "s1", ""); len(ended) != 1 || err != nil {
		t.Errorf("a logout of s1 at the rotated instance ended %v, %v; want s1", ended, err)
	}
	if _, err := before.localSession(ctx, "s1"); !errors.Is(err, ErrNoSession) {
		t.Errorf("s1 after its logout = %v, want ErrNoSession", err)
	}
	// Once the old key is dropped, what it sealed no longer opens.
	if _, err := after.localSession(ctx, "s2"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("s2, sealed under the dropped key = %v, want a store failure", err)
	}
	if s, err := after.localSession(ctx, "s3"); err != nil || s.IdentityID != "alice" {
		t.Errorf("s3, sealed under the new key, after the rotation = %+v, %v; want alice's", s, err)
	}
}

// TestOIDCRecheckGivesUpBeforeItsLockLapses: an instance whose refresh
// grant hangs at the provider gives up (503) before its lock lapses, so
// the next instance's grant, once the lock is free, never runs alongside
// it. A provider that takes each refresh token once would see the token
// twice and withdraw the grant: the user signed out by a slow provider.
func TestOIDCRecheckGivesUpBeforeItsLockLapses(t *testing.T) {
	url := redistest.Start(t)
	ctx := context.Background()
	bp := newBoundTestProvider(t, 100, false)
	where := newOnRedis(url)
	a, b := bp.p, bp.relyingParty(t, 100, false)
	const lockFor = 1200 * time.Millisecond
	for _, p := range []*OIDC{a, b} {
		where.attach(t, p, oidcStoreSecret)
		p.sessions.(*redisOIDCSessions).lockFor = lockFor
	}
	if err := bp.loginAt(a, "s1", "alice", time.Hour); err != nil {
		t.Fatal(err)
	}
	bp.advance(2 * time.Minute)
	release := bp.holdRefreshes(t)

	first := make(chan error, 1)
	go func() { _, err := a.localSession(ctx, "s1"); first <- err }()
	// Past the first instance's lock, the second asks.
	time.Sleep(lockFor + 300*time.Millisecond)
	second := make(chan error, 1)
	go func() { _, err := b.localSession(ctx, "s1"); second <- err }()
	for bp.refreshes.Load() < 2 {
		select {
		case err := <-second:
			t.Fatalf("the second instance's re-check, past the first one's lock, = %v without asking the provider", err)
		case <-time.After(time.Millisecond):
		}
	}
	if most := bp.most.Load(); most != 1 {
		t.Errorf("%d refresh grants of one session ran at once, want 1: the first instance's outlived its lock", most)
	}
	release()
	if err := <-first; !errors.Is(err, ErrIdPUnavailable) {
		t.Errorf("the re-check that hung at the provider = %v, want ErrIdPUnavailable (503)", err)
	}
	if err := <-second; err != nil {
		t.Errorf("the next instance's re-check = %v, want the session to stand", err)
	}
}

// BenchmarkOIDCSession measures what an OIDC issuer's session store costs
// per call: a lookup within the recheck interval (what the issuer's
// sign-in, its session API and in-process receivers do) and a login
// (code redemption at the in-test provider, ID token verification, the
// store's put), in memory and in a real Redis on loopback.
func BenchmarkOIDCSession(b *testing.B) {
	url := redistest.Start(b)
	for _, kind := range []string{"memory", "redis"} {
		bp := newBoundTestProvider(b, 1<<30, false)
		if kind == "redis" {
			newOnRedis(url).attach(b, bp.p, oidcStoreSecret)
		}
		if err := bp.login("s1", time.Hour); err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.Run(kind+"/lookup", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bp.p.localSession(ctx, "s1"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(kind+"/login", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if err := bp.login(fmt.Sprint("b", i), time.Hour); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
