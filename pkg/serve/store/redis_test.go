package store_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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

func redisHarness(t *testing.T) storetest.Harness { return harnessAt(redistest.Start(t)) }

// harnessAt runs the store contract on the Redis at url (through
// Sentinels when it names a master_name), each store under a fresh prefix.
func harnessAt(url string) storetest.Harness {
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

// contracts runs the replay and revocation contracts against the
// deployment at url (one Redis, Sentinels, a cluster), the revocations
// also as stores that answer from their mirror.
func contracts(t *testing.T, url string) {
	h := harnessAt(url)
	t.Run("replay", func(t *testing.T) { storetest.TestReplayStore(t, h) })
	t.Run("revocations", func(t *testing.T) { storetest.TestRevocationStore(t, h) })
	t.Run("mirrored revocations", func(t *testing.T) {
		m := h
		m.NewRevocations = func(t *testing.T, _ func() time.Time, _ int) store.RevocationStore {
			return mirrored(t, url, fmt.Sprintf("ssoctl:test:%d:", prefixes.Add(1)), store.RedisOptions{})
		}
		storetest.TestRevocationStore(t, m)
	})
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// failsUnavailable checks that every kind of call on r fails closed with
// ErrUnavailable within 2 s, saying want and never password: a lookup that
// failed must not read as a missing key.
func failsUnavailable(t *testing.T, r *store.Redis, want, password string) {
	t.Helper()
	ctx := context.Background()
	calls := []struct {
		name string
		call func() error
	}{
		{"Ping", func() error { return r.Ping(ctx) }},
		{"Refresh", func() error { return r.Replay().Refresh(ctx) }},
		{"Consume", func() error { _, err := r.Replay().Consume(ctx, "j", time.Now().Add(time.Minute)); return err }},
		{"Revoked", func() error { _, err := r.Revocations().Revoked(ctx, "s"); return err }},
		{"Records().Get", func() error { _, err := r.Records().Get(ctx, "id"); return err }},
	}
	for _, c := range calls {
		start := time.Now()
		err := c.call()
		took := time.Since(start)
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("%s: %v, want an error wrapping store.ErrUnavailable", c.name, err)
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want it to say %q", c.name, err, want)
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("%s: the error repeats the password: %v", c.name, err)
		}
		if took > 2*time.Second {
			t.Errorf("%s took %v to fail, want under 2s", c.name, took)
		}
	}
}

func TestRedisReplayContract(t *testing.T) { storetest.TestReplayStore(t, redisHarness(t)) }
func TestRedisRevocationsContract(t *testing.T) {
	storetest.TestRevocationStore(t, redisHarness(t))
}

// TestRedisMirroredRevocationsContract runs the contract against stores
// that answer from their mirror.
func TestRedisMirroredRevocationsContract(t *testing.T) {
	h := redisHarness(t)
	url := redistest.Start(t)
	h.NewRevocations = func(t *testing.T, _ func() time.Time, _ int) store.RevocationStore {
		return mirrored(t, url, fmt.Sprintf("ssoctl:test:%d:", prefixes.Add(1)), store.RedisOptions{})
	}
	storetest.TestRevocationStore(t, h)
}

func TestRedisInstancesShareState(t *testing.T) { instancesShareState(t, redistest.Start(t)) }

func instancesShareState(t *testing.T, url string) {
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
		// With master_name the host and each addr= are Sentinels.
		{name: "one Sentinel", url: "redis://:" + password + "@127.0.0.1:26379/0?master_name=mymaster"},
		{
			name: "three Sentinels, the data nodes' own password",
			url:  "redis://:" + password + "@127.0.0.1:26379/0?master_name=mymaster&addr=127.0.0.2:26379&addr=127.0.0.3:26379&password=other",
		},
		{name: "Sentinels over TLS, with timeouts", url: "rediss://u:" + password + "@127.0.0.1:26379/0?master_name=mymaster&dial_timeout=2s"},
		{name: "an empty master name", url: "redis://:" + password + "@127.0.0.1:26379/0?master_name=", wantErr: "master_name is empty"},
		{name: "Sentinels without a master name", url: "redis://:" + password + "@127.0.0.1:26379/0?addr=127.0.0.2:26379", wantErr: "need master_name="},
		{name: "an addr that is no host:port", url: "redis://:" + password + "@127.0.0.1:26379/0?master_name=m&addr=" + password, wantErr: "Sentinel's host:port"},
		{name: "the Sentinel password as a parameter", url: "redis://127.0.0.1:26379/0?master_name=m&sentinel_password=" + password, wantErr: "query parameter"},
		{name: "a Sentinel path that is no database", url: "redis://:" + password + "@127.0.0.1:26379/x?master_name=m", wantErr: "database number"},
		{name: "http is no Sentinel", url: "http://:" + password + "@127.0.0.1:26379/0?master_name=m", wantErr: "scheme must be"},
		// With cluster=true the host and each addr= are nodes of a Redis Cluster.
		{name: "a cluster of three nodes", url: "redis://:" + password + "@127.0.0.1:7000/0?cluster=true&addr=127.0.0.2:7001&addr=127.0.0.3:7002"},
		{name: "a cluster over TLS, no path, with timeouts", url: "rediss://u:" + password + "@127.0.0.1:7000?cluster=true&dial_timeout=2s&read_timeout=500ms"},
		{name: "cluster=false is a plain URL", url: "redis://:" + password + "@127.0.0.1:6379/0?cluster=false"},
		{name: "a cluster with another database", url: "redis://:" + password + "@127.0.0.1:7000/1?cluster=true", wantErr: "database 0 only"},
		{name: "cluster is not a yes or no", url: "redis://:" + password + "@127.0.0.1:7000/0?cluster=" + password, wantErr: "cluster= must be true"},
		{name: "a cluster through Sentinels", url: "redis://:" + password + "@127.0.0.1:7000/0?cluster=true&master_name=m", wantErr: "do not go together"},
		{name: "a cluster addr that is no host:port", url: "redis://:" + password + "@127.0.0.1:7000/0?cluster=true&addr=" + password, wantErr: "cluster node's host:port"},
		{name: "a cluster with an unknown parameter", url: "redis://:" + password + "@127.0.0.1:7000/0?cluster=true&pasword=" + password, wantErr: "query parameter"},
		{name: "http is no cluster", url: "http://:" + password + "@127.0.0.1:7000/0?cluster=true", wantErr: "scheme must be"},
		{name: "a cluster URL that is no URL", url: "redis://:" + password + "@127.0.0.1:port/0?cluster=true", wantErr: "not a URL"},
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

// mirrored returns a revocation store under prefix, subscribed until the
// test ends, once its mirror is current.
func mirrored(t *testing.T, url, prefix string, o store.RedisOptions) *store.RedisRevocations {
	t.Helper()
	o.URL, o.Prefix = url, prefix
	if o.Timeout == 0 {
		o.Timeout = 250 * time.Millisecond
	}
	r, err := store.NewRedis(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	s := r.Revocations()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := s.Subscribe(ctx, func(string) {}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the mirror to become current", s.Current)
	return s
}

// waitFor polls cond every 10ms until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
	}
}

// redisAdmin is a plain client on the test's server, for what no store
// does: counting commands, killing connections, writing keys behind the
// stores' backs.
type redisAdmin struct {
	t *testing.T
	c *redis.Client
}

func newRedisAdmin(t *testing.T, url string) redisAdmin {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return redisAdmin{t, c}
}

// exists is how many EXISTS the server has run (INFO commandstats): the
// stores send it for Revoked and nothing else.
func (a redisAdmin) exists() int {
	a.t.Helper()
	info, err := a.c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		a.t.Fatal(err)
	}
	_, rest, ok := strings.Cut(info, "cmdstat_exists:calls=")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
	if err != nil {
		a.t.Fatal(err)
	}
	return n
}

// revokedCount asks s about sessions n times and reports how many it found
// revoked, failing on an error.
func revokedCount(t *testing.T, s *store.RedisRevocations, sessions ...string) int {
	t.Helper()
	n := 0
	for _, sid := range sessions {
		got, err := s.Revoked(context.Background(), sid)
		if err != nil {
			t.Fatalf("Revoked(%s): %v", sid, err)
		}
		if got {
			n++
		}
	}
	return n
}

// TestRedisMirrorAnswersFromMemory: two instances, each with its own
// client, share a prefix; a revocation on one reaches the other's mirror,
// which then answers without a command to Redis, while an instance that is
// not subscribed sends one EXISTS a call.
func TestRedisMirrorAnswersFromMemory(t *testing.T) {
	url := redistest.Start(t)
	admin := newRedisAdmin(t, url)
	ctx := context.Background()
	a := mirrored(t, url, "ssoctl:mirror:", store.RedisOptions{})
	b := mirrored(t, url, "ssoctl:mirror:", store.RedisOptions{})

	before := admin.exists()
	if err := a.Revoke(ctx, "s1", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Revoked(ctx, "s1"); !got || err != nil {
		t.Fatalf("instance a, right after its own Revoke: Revoked = %v, %v; want true", got, err)
	}
	waitFor(t, 3*time.Second, "instance b to see the revocation made on a", func() bool {
		return revokedCount(t, b, "s1") == 1
	})
	asked := make([]string, 1000)
	for i := range asked {
		asked[i] = "s-" + strconv.Itoa(i)
	}
	if got := revokedCount(t, b, asked...); got != 0 {
		t.Errorf("%d unrevoked sessions reported revoked", got)
	}
	if got := revokedCount(t, b, "s1"); got != 1 {
		t.Error("instance b: s1 no longer revoked")
	}
	if !b.Current() {
		t.Fatal("instance b's mirror stopped being current")
	}
	if n := admin.exists() - before; n != 0 {
		t.Errorf("Redis ran %d EXISTS for 1,002 Revoked calls on current mirrors, want 0", n)
	}
	if got := b.Len(); got != 1 {
		t.Errorf("b.Len() = %d, want 1", got)
	}

	// The control: the same calls on an instance without a subscription
	// each ask Redis.
	plain := newRedis(t, url, "ssoctl:mirror:").Revocations()
	before = admin.exists()
	if got := revokedCount(t, plain, append(asked[:10:10], "s1")...); got != 1 {
		t.Errorf("unsubscribed instance: %d of 11 revoked, want 1", got)
	}
	if n := admin.exists() - before; n != 11 {
		t.Errorf("unsubscribed instance: Redis ran %d EXISTS for 11 Revoked calls, want 11", n)
	}
}

// TestRedisMirrorReloadsAfterResubscribe: what is published while an
// instance's subscription is down is lost to it, so when go-redis
// subscribes again the mirror is loaded afresh before it is trusted.
func TestRedisMirrorReloadsAfterResubscribe(t *testing.T) {
	url := redistest.Start(t)
	admin := newRedisAdmin(t, url)
	ctx := context.Background()
	const prefix = "ssoctl:resub:"
	a := mirrored(t, url, prefix, store.RedisOptions{})
	b := mirrored(t, url, prefix, store.RedisOptions{})

	// A message lost for certain: the key is written and nothing published.
	if err := admin.c.Set(ctx, prefix+"revoked:s-lost", 1, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if got := revokedCount(t, b, "s-lost"); got != 0 || !b.Current() {
		t.Fatal("instance b saw a revocation nobody published: this test proves nothing")
	}

	if err := admin.c.Do(ctx, "client", "kill", "type", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	// Most likely while b is still subscribing again.
	if err := a.Revoke(ctx, "s-during", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "instance b to subscribe again and load its mirror", func() bool {
		return b.Current() && revokedCount(t, b, "s-lost", "s-during") == 2
	})
	before := admin.exists()
	if got := revokedCount(t, b, "s-lost", "s-during", "s-never"); got != 2 || !b.Current() {
		t.Fatalf("after the reload: %d of s-lost, s-during, s-never revoked (current %v), want 2", got, b.Current())
	}
	if n := admin.exists() - before; n != 0 {
		t.Errorf("after the reload, Redis ran %d EXISTS, want 0", n)
	}
}

// TestRedisMirrorOutage: with Redis gone the pongs stop, and within about
// a lease Revoked fails closed instead of answering from a mirror that
// can no longer hear of revocations; once Redis is back (empty) the mirror
// is loaded again and trusted.
func TestRedisMirrorOutage(t *testing.T) {
	srv := redistest.StartServer(t)
	ctx := context.Background()
	const lease = 500 * time.Millisecond
	a := mirrored(t, srv.URL, "ssoctl:down:", store.RedisOptions{MirrorLease: lease})
	b := mirrored(t, srv.URL, "ssoctl:down:", store.RedisOptions{MirrorLease: lease})
	if err := a.Revoke(ctx, "s1", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "instance b to see s1", func() bool { return revokedCount(t, b, "s1") == 1 })

	srv.Stop(t)
	waitFailClosed(t, b, "s1", "Redis stopped", lease+time.Second)
	if _, err := b.Revoked(ctx, "s-other"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Redis down: Revoked(s-other) error %v, want ErrUnavailable", err)
	}
	if b.Current() {
		t.Error("Redis down: the mirror is still current")
	}

	srv.Restart(t)
	waitFor(t, 15*time.Second, "instance b's mirror to be current again", b.Current)
	admin := newRedisAdmin(t, srv.URL)
	before := admin.exists()
	if got := revokedCount(t, b, "s1"); got != 0 {
		t.Error("Redis came back empty, yet the reloaded mirror holds s1")
	}
	if n := admin.exists() - before; n != 0 {
		t.Errorf("after the restart, Redis ran %d EXISTS, want 0", n)
	}
	waitFor(t, 10*time.Second, "instance a to revoke again", func() bool {
		return a.Revoke(ctx, "s2", time.Now().Add(time.Minute)) == nil
	})
	waitFor(t, 3*time.Second, "instance b to see s2", func() bool { return revokedCount(t, b, "s2") == 1 })
}

// TestRedisMirrorEntries covers what the mirror holds and for how long.
func TestRedisMirrorEntries(t *testing.T) {
	url := redistest.Start(t)
	admin := newRedisAdmin(t, url)
	ctx := context.Background()
	tests := []struct {
		name string
		opts store.RedisOptions
		run  func(t *testing.T, prefix string, a, b *store.RedisRevocations)
	}{
		{
			name: "a revocation ends at its until on the other instance",
			run: func(t *testing.T, _ string, a, b *store.RedisRevocations) {
				until := time.Now().Add(400 * time.Millisecond)
				if err := a.Revoke(ctx, "s-short", until); err != nil {
					t.Fatal(err)
				}
				waitFor(t, 3*time.Second, "b to see s-short", func() bool { return revokedCount(t, b, "s-short") == 1 })
				time.Sleep(time.Until(until) + 20*time.Millisecond)
				if got := revokedCount(t, b, "s-short"); got != 0 || !b.Current() {
					t.Errorf("past its until, s-short revoked: %v (current %v)", got == 1, b.Current())
				}
			},
		},
		{
			name: "an until already past revokes nothing",
			run: func(t *testing.T, _ string, a, b *store.RedisRevocations) {
				if err := a.Revoke(ctx, "s-past", time.Now().Add(-time.Second)); err != nil {
					t.Fatal(err)
				}
				if err := a.Revoke(ctx, "s-marker", time.Now().Add(time.Minute)); err != nil {
					t.Fatal(err)
				}
				waitFor(t, 3*time.Second, "b to see s-marker", func() bool { return revokedCount(t, b, "s-marker") == 1 })
				if got := revokedCount(t, a, "s-past") + revokedCount(t, b, "s-past"); got != 0 {
					t.Error("an until already past revoked the session")
				}
			},
		},
		{
			name: "revocations made before the subscription are loaded, with their time to live",
			run: func(t *testing.T, prefix string, a, _ *store.RedisRevocations) {
				if err := a.Revoke(ctx, "s-old", time.Now().Add(300*time.Millisecond)); err != nil {
					t.Fatal(err)
				}
				late := mirrored(t, url, prefix, store.RedisOptions{})
				if got := revokedCount(t, late, "s-old"); got != 1 {
					t.Fatal("an instance subscribed later does not hold the revocation made before")
				}
				waitFor(t, 2*time.Second, "s-old to expire in the late mirror", func() bool {
					return revokedCount(t, late, "s-old") == 0 && late.Current()
				})
			},
		},
		{
			name: "a bare session id, as an older instance publishes, is looked up",
			run: func(t *testing.T, prefix string, _, b *store.RedisRevocations) {
				if _, err := admin.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Set(ctx, prefix+"revoked:s old", 1, time.Minute)
					p.Publish(ctx, prefix+"revocations", "s old")
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				waitFor(t, 3*time.Second, "b to see the bare id", func() bool { return revokedCount(t, b, "s old") == 1 })
				if !b.Current() {
					t.Error("the mirror is not current after a bare id")
				}
			},
		},
		{
			name: "a full mirror is not trusted, and Redis answers",
			opts: store.RedisOptions{MirrorEntries: 2},
			run: func(t *testing.T, _ string, a, b *store.RedisRevocations) {
				for _, sid := range []string{"f1", "f2", "f3"} {
					if err := a.Revoke(ctx, sid, time.Now().Add(time.Minute)); err != nil {
						t.Fatalf("Revoke(%s) on a full mirror: %v, want it accepted", sid, err)
					}
				}
				waitFor(t, 3*time.Second, "b's mirror to fill", func() bool { return !b.Current() })
				before := admin.exists()
				if got := revokedCount(t, b, "f1", "f2", "f3", "f4"); got != 3 {
					t.Errorf("full mirror: %d of f1, f2, f3 revoked, want 3", got)
				}
				if n := admin.exists() - before; n != 4 {
					t.Errorf("full mirror: Redis ran %d EXISTS for 4 calls, want 4", n)
				}
				if got := b.Len(); got != 3 {
					t.Errorf("full mirror: Len = %d, want 3 (counted in Redis)", got)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := fmt.Sprintf("ssoctl:entries:%d:", prefixes.Add(1))
			tt.run(t, prefix, mirrored(t, url, prefix, tt.opts), mirrored(t, url, prefix, tt.opts))
		})
	}
}

// TestRedisMirrorStops: cancelling the subscription, or closing the Redis,
// stops its goroutines and leaves Revoked asking Redis.
func TestRedisMirrorStops(t *testing.T) {
	url := redistest.Start(t)
	base := runtime.NumGoroutine()
	for _, how := range []string{"cancel", "close"} {
		r := newRedis(t, url, "ssoctl:stops:")
		s := r.Revocations()
		ctx, cancel := context.WithCancel(context.Background())
		if err := s.Subscribe(ctx, func(string) {}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "the mirror to become current", s.Current)
		if how == "cancel" {
			cancel()
			waitFor(t, 2*time.Second, "the mirror to be dropped", func() bool { return !s.Current() })
			if _, err := s.Revoked(context.Background(), "s"); err != nil {
				t.Errorf("after cancel: Revoked: %v", err)
			}
		}
		_ = r.Close()
		cancel()
		if s.Current() {
			t.Errorf("%s: the mirror is still current", how)
		}
	}
	waitFor(t, 2*time.Second, "the subscriptions' goroutines to end", func() bool {
		return runtime.NumGoroutine() <= base
	})
}

// TestRedisMirrorLease: a Redis that keeps its connections open but stops
// answering (CLIENT PAUSE here; a black-holed network alike) raises no
// connection error; the lease alone ends the mirror's trust, and Revoked
// fails closed within about a lease. When Redis answers again the mirror
// is current again.
func TestRedisMirrorLease(t *testing.T) {
	url := redistest.Start(t)
	admin := newRedisAdmin(t, url)
	ctx := context.Background()
	const lease = 600 * time.Millisecond
	b := mirrored(t, url, "ssoctl:lease:", store.RedisOptions{MirrorLease: lease})
	if err := b.Revoke(ctx, "s1", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	const pause = 3 * time.Second
	if err := admin.c.Do(ctx, "client", "pause", pause.Milliseconds(), "all").Err(); err != nil {
		t.Fatal(err)
	}
	took := waitFailClosed(t, b, "s1", "Redis paused", lease+500*time.Millisecond)
	if took < lease/3 {
		t.Errorf("failed closed after %v, before the lease could have lapsed: not the lease at work", took)
	}
	waitFor(t, pause+5*time.Second, "the mirror to be current again", b.Current)
	if got := revokedCount(t, b, "s1"); got != 1 {
		t.Error("after the pause, s1 is not revoked")
	}
}

// waitFailClosed polls s.Revoked(sessionID), a revoked session, from now
// until it fails with ErrUnavailable, and returns how long that took. It
// fails the test if an answer says the session is not revoked (a stale
// mirror) or if memory still answers after within.
func waitFailClosed(t *testing.T, s *store.RedisRevocations, sessionID, what string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got, err := s.Revoked(context.Background(), sessionID)
		if errors.Is(err, store.ErrUnavailable) {
			took := time.Since(start)
			t.Logf("%s: Revoked failed closed after %v", what, took.Round(time.Millisecond))
			return took
		}
		if err != nil || !got {
			t.Fatalf("%s: Revoked(%s) = %v, %v; want true from the mirror or ErrUnavailable", what, sessionID, got, err)
		}
		if time.Since(start) > within {
			t.Fatalf("%s %v ago: Revoked still answers from memory", what, time.Since(start))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
