package store_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/redistest"
	"github.com/ssoctl/ssoctl/pkg/serve/store"
	"github.com/ssoctl/ssoctl/pkg/serve/store/storetest"
)

// prefixes makes every store in a test run start empty on one shared
// redis-server, as a fresh memory store does.
var prefixes atomic.Int64

func newRedis(t *testing.T, url, prefix string) *store.Redis {
	t.Helper()
	r, err := store.NewRedis(store.RedisOptions{URL: url, Prefix: prefix, Timeout: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func redisHarness(t *testing.T) storetest.Harness {
	url := redistest.Start(t)
	fresh := func(t *testing.T) *store.Redis {
		return newRedis(t, url, fmt.Sprintf("ssoctl:test:%d:", prefixes.Add(1)))
	}
	return storetest.Harness{
		NewReplay: func(t *testing.T, _ func() time.Time, _ int) store.ReplayStore {
			return fresh(t).Replay()
		},
		NewRevocations: func(t *testing.T, _ func() time.Time, _ int) store.RevocationStore {
			return fresh(t).Revocations()
		},
		// Redis expires keys by its own clock, to the millisecond; 50 ms
		// ticks keep the contract's sleeps short and well above that.
		Tick:      50 * time.Millisecond,
		WallClock: true,
		Unbounded: true, // maxmemory bounds Redis, not the store
	}
}

func TestRedisReplayContract(t *testing.T) { storetest.TestReplayStore(t, redisHarness(t)) }
func TestRedisRevocationsContract(t *testing.T) {
	storetest.TestRevocationStore(t, redisHarness(t))
}

func TestRedisInstancesShareState(t *testing.T) {
	url := redistest.Start(t)
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	tests := []struct {
		name string
		run  func(t *testing.T, a, b *store.Redis)
	}{
		{
			name: "a jti consumed on one instance is refused on another",
			run: func(t *testing.T, a, b *store.Redis) {
				if fresh, err := a.Replay().Consume(ctx, "j1", until); !fresh || err != nil {
					t.Fatalf("instance a: Consume = %v, %v; want fresh", fresh, err)
				}
				if fresh, err := b.Replay().Consume(ctx, "j1", until); fresh || err != nil {
					t.Fatalf("instance b: Consume of the jti a used = %v, %v; want used", fresh, err)
				}
			},
		},
		{
			name: "one jti raced by 50 goroutines on each of two instances is fresh exactly once",
			run: func(t *testing.T, a, b *store.Redis) {
				var fresh atomic.Int32
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i := range 100 {
					s := a.Replay()
					if i%2 == 1 {
						s = b.Replay()
					}
					wg.Go(func() {
						<-start
						ok, err := s.Consume(ctx, "contended", until)
						if err != nil {
							t.Error(err)
						}
						if ok {
							fresh.Add(1)
						}
					})
				}
				close(start)
				wg.Wait()
				if got := fresh.Load(); got != 1 {
					t.Errorf("%d callers saw the jti fresh, want exactly 1", got)
				}
			},
		},
		{
			name: "a session revoked on one instance is revoked on another",
			run: func(t *testing.T, a, b *store.Redis) {
				if err := a.Revocations().Revoke(ctx, "s1", until); err != nil {
					t.Fatal(err)
				}
				if got, err := b.Revocations().Revoked(ctx, "s1"); !got || err != nil {
					t.Fatalf("instance b: Revoked = %v, %v; want true", got, err)
				}
			},
		},
		{
			name: "a subscribed instance hears of a revocation made on another",
			run: func(t *testing.T, a, b *store.Redis) {
				sctx, cancel := context.WithCancel(ctx)
				defer cancel()
				heard := make(chan string, 1)
				if err := b.Revocations().Subscribe(sctx, func(sid string) { heard <- sid }); err != nil {
					t.Fatal(err)
				}
				if err := a.Revocations().Revoke(ctx, "s-pub", until); err != nil {
					t.Fatal(err)
				}
				select {
				case sid := <-heard:
					if sid != "s-pub" {
						t.Errorf("heard %q, want s-pub", sid)
					}
				case <-time.After(3 * time.Second):
					t.Fatal("instance b heard of no revocation within 3s")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := fmt.Sprintf("ssoctl:shared:%d:", prefixes.Add(1))
			tt.run(t, newRedis(t, url, prefix), newRedis(t, url, prefix))
		})
	}
}

func TestRedisPrefixesAreApart(t *testing.T) {
	url := redistest.Start(t)
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	a, b := newRedis(t, url, "ssoctl:chain:app1:"), newRedis(t, url, "ssoctl:chain:app2:")
	for _, r := range []*store.Redis{a, b} {
		if fresh, err := r.Replay().Consume(ctx, "same-jti", until); !fresh || err != nil {
			t.Fatalf("Consume under its own prefix = %v, %v; want fresh", fresh, err)
		}
	}
	if err := a.Revocations().Revoke(ctx, "s1", until); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Revocations().Revoked(ctx, "s1"); got {
		t.Error("a revocation under one prefix shows under another")
	}
	if got := a.Replay().Len(); got != 1 {
		t.Errorf("Replay().Len() = %d, want 1", got)
	}
	if got := a.Revocations().Len(); got != 1 {
		t.Errorf("Revocations().Len() = %d, want 1", got)
	}
}

// TestRedisOutage stops Redis under a live store: every call fails
// closed, quickly, with ErrUnavailable; once Redis is back on the same
// port the same store object works again, without being rebuilt.
func TestRedisOutage(t *testing.T) {
	srv := redistest.StartServer(t)
	r := newRedis(t, srv.URL, "ssoctl:outage:")
	ctx := context.Background()
	until := func() time.Time { return time.Now().Add(time.Minute) }
	calls := []struct {
		name string
		call func() error
	}{
		{"Ping", func() error { return r.Ping(ctx) }},
		{"Consume", func() error { _, err := r.Replay().Consume(ctx, "j-down", until()); return err }},
		{"Consume with an until already past", func() error {
			_, err := r.Replay().Consume(ctx, "j-down", time.Now().Add(-time.Second))
			return err
		}},
		{"Revoke", func() error { return r.Revocations().Revoke(ctx, "s-down", until()) }},
		{"Revoked", func() error { _, err := r.Revocations().Revoked(ctx, "s-down"); return err }},
	}
	if err := r.Ping(ctx); err != nil {
		t.Fatalf("Ping before the outage: %v", err)
	}

	srv.Stop(t)
	for _, c := range calls {
		start := time.Now()
		err := c.call()
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("Redis down: %s: %v, want an error wrapping store.ErrUnavailable", c.name, err)
		}
		took := time.Since(start)
		t.Logf("Redis down: %s failed in %v", c.name, took.Round(time.Millisecond))
		if took > 2*time.Second {
			t.Errorf("Redis down: %s took %v to fail, want under 2s", c.name, took)
		}
	}

	srv.Restart(t)
	// go-redis dials again in the background after a run of dial errors;
	// give it a few seconds, without rebuilding anything.
	back := time.Now()
	deadline := back.Add(10 * time.Second)
	for r.Ping(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("Ping still fails 10s after Redis came back: %v\n%s", r.Ping(ctx), srv.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the store answered again %v after Redis restarted", time.Since(back).Round(time.Millisecond))
	if fresh, err := r.Replay().Consume(ctx, "j-after", until()); !fresh || err != nil {
		t.Fatalf("after the outage: Consume = %v, %v; want fresh", fresh, err)
	}
	if fresh, err := r.Replay().Consume(ctx, "j-after", until()); fresh || err != nil {
		t.Fatalf("after the outage: second Consume = %v, %v; want used", fresh, err)
	}
	if err := r.Revocations().Revoke(ctx, "s-after", until()); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Revocations().Revoked(ctx, "s-after"); !got || err != nil {
		t.Fatalf("after the outage: Revoked = %v, %v; want true", got, err)
	}
}

func TestNewRedisURL(t *testing.T) {
	const password = "hunter2-LEAK"
	tests := []struct {
		name    string
		url     string
		wantErr string // "" means it parses
	}{
		{name: "redis with a password and a database", url: "redis://:" + password + "@127.0.0.1:6379/2"},
		{name: "rediss for TLS", url: "rediss://default:" + password + "@redis.internal:6380/0"},
		{name: "timeouts in the query", url: "redis://127.0.0.1:6379/0?dial_timeout=3s&read_timeout=2s"},
		{name: "http is not Redis", url: "http://:" + password + "@127.0.0.1:6379/0", wantErr: "scheme must be redis:// or rediss://"},
		{name: "a path that is no database", url: "redis://:" + password + "@127.0.0.1:6379/x", wantErr: "database number"},
		{name: "an unknown query parameter", url: "redis://:" + password + "@127.0.0.1:6379/0?pasword=" + password, wantErr: "query parameter"},
		{name: "not a URL at all", url: "redis://:" + password + "@127.0.0.1:port/0", wantErr: "not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := store.NewRedis(store.RedisOptions{URL: tt.url})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("NewRedis: %v", err)
				}
				_ = r.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewRedis error %v, want one saying %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), password) || strings.Contains(err.Error(), "127.0.0.1") {
				t.Errorf("NewRedis error repeats the URL: %v", err)
			}
		})
	}
}

// TestRedisHanging points the stores at a server that accepts connections
// and never answers, as a wedged Redis or a black-holed network would: the
// read timeout, not the caller's patience, ends each call.
func TestRedisHanging(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	r := newRedis(t, "redis://"+ln.Addr().String()+"/0", "ssoctl:hang:")
	start := time.Now()
	_, err = r.Replay().Consume(context.Background(), "j", time.Now().Add(time.Minute))
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Consume against a silent server: %v, want an error wrapping store.ErrUnavailable", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Consume against a silent server took %v, want about two 250ms timeouts", took)
	}
}

// TestRedisReplayNoticesLostRecords: a Redis restarted without persistence
// forgets every jti it held while their tokens still verify. The instances
// that knew the store before notice (its epoch key is gone too) and from
// then on every instance, old or new, refuses a token issued before the
// reset, so no jti is accepted twice; tokens issued after it work.
func TestRedisReplayNoticesLostRecords(t *testing.T) {
	srv := redistest.StartServer(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	instance := func() *store.RedisReplay {
		r, err := store.NewRedis(store.RedisOptions{URL: srv.URL, Prefix: "ssoctl:epoch:", Now: clock, Timeout: 250 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		return r.Replay()
	}
	restartEmpty := func() {
		srv.Stop(t)
		srv.Restart(t)
		probe := newRedis(t, srv.URL, "ssoctl:epoch:")
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			// Wait until Redis answers, without touching the epoch.
			if probe.Ping(ctx) == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("Redis did not come back")
			}
		}
	}
	until := now.Add(35 * time.Second)
	before := now.Add(-10 * time.Second) // issued before the restart, less leeway

	a, b := instance(), instance()
	for _, s := range []*store.RedisReplay{a, b} {
		if err := s.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if fresh, err := a.ConsumeIssued(ctx, "j1", before, until); !fresh || err != nil {
		t.Fatalf("first use = %v, %v; want fresh", fresh, err)
	}
	if fresh, err := b.ConsumeIssued(ctx, "j1", before, until); fresh || err != nil {
		t.Fatalf("replay on the other instance = %v, %v; want used", fresh, err)
	}

	restartEmpty()
	now = now.Add(time.Second)
	late := instance() // started after the restart: knows no epoch
	// In this order: the first to touch the empty Redis knew the old
	// epoch (the other order is the second restart's case below).
	for _, in := range []struct {
		name string
		s    *store.RedisReplay
	}{{"b (saw the old epoch)", b}, {"a", a}, {"an instance started after", late}} {
		name, s := in.name, in.s
		fresh, err := s.ConsumeIssued(ctx, "j1", before, until)
		if fresh || !errors.Is(err, store.ErrRecordsLost) || !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s: replay after Redis restarted empty = %v, %v; want ErrRecordsLost", name, fresh, err)
		}
		if fresh, err := s.Consume(ctx, "j-plain", until); fresh || !errors.Is(err, store.ErrRecordsLost) {
			t.Errorf("%s: Consume without an issue time right after the reset = %v, %v; want ErrRecordsLost", name, fresh, err)
		}
	}
	after := now.Add(time.Second)
	if fresh, err := late.ConsumeIssued(ctx, "j2", after, until.Add(time.Minute)); !fresh || err != nil {
		t.Errorf("a token issued after the reset = %v, %v; want fresh", fresh, err)
	}
	if fresh, err := a.ConsumeIssued(ctx, "j2", after, until.Add(time.Minute)); fresh || err != nil {
		t.Errorf("its replay = %v, %v; want used", fresh, err)
	}

	// Restarted empty again, and this time an instance that never saw an
	// epoch writes the first one: it cannot tell a reset from a first
	// start, but the first instance that knew the old epoch can, and marks
	// it for everyone.
	restartEmpty()
	fresh := instance()
	if ok, err := fresh.ConsumeIssued(ctx, "j3", before, until); !ok || err != nil {
		t.Fatalf("an instance with no history, first after the restart = %v, %v; want fresh (it cannot know)", ok, err)
	}
	if err := a.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	for _, in := range []struct {
		name string
		s    *store.RedisReplay
	}{{"a", a}, {"the instance with no history", fresh}} {
		name, s := in.name, in.s
		if ok, err := s.ConsumeIssued(ctx, "j4", before, until); ok || !errors.Is(err, store.ErrRecordsLost) {
			t.Errorf("%s, once a has seen the new epoch: a token issued before = %v, %v; want ErrRecordsLost", name, ok, err)
		}
	}
}
