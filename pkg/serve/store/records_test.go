package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ssoctl/ssoctl/internal/redistest"
	"github.com/ssoctl/ssoctl/pkg/serve/store"
)

func newRecords(t *testing.T, url string) *store.RedisRecords {
	return newRedis(t, url, fmt.Sprintf("ssoctl:test:%d:", prefixes.Add(1))).Records()
}

// Two instances on one prefix read what the other wrote; a write computed
// from a stale read changes nothing.
func TestRedisRecordsCompareAndSet(t *testing.T) { recordsCompareAndSet(t, redistest.Start(t)) }

func recordsCompareAndSet(t *testing.T, url string) {
	ctx := context.Background()
	prefix := fmt.Sprintf("ssoctl:test:%d:", prefixes.Add(1))
	a, b := newRedis(t, url, prefix).Records(), newRedis(t, url, prefix).Records()
	until := time.Now().Add(time.Minute)

	if v, err := a.Get(ctx, "s1"); v != nil || err != nil {
		t.Fatalf("Get of nothing = %q, %v; want nil, nil", v, err)
	}
	if err := a.Put(ctx, "s1", []byte("v1"), until); err != nil {
		t.Fatal(err)
	}
	if v, err := b.Get(ctx, "s1"); string(v) != "v1" || err != nil {
		t.Fatalf("the other instance's Get = %q, %v; want v1", v, err)
	}
	if ok, err := b.Swap(ctx, "s1", []byte("v1"), []byte("v2")); !ok || err != nil {
		t.Fatalf("Swap from the current value = %v, %v; want true", ok, err)
	}
	// a still holds v1: its update and its removal both lose.
	if ok, err := a.Swap(ctx, "s1", []byte("v1"), []byte("v3")); ok || err != nil {
		t.Fatalf("Swap from a stale value = %v, %v; want false", ok, err)
	}
	if ok, err := a.Remove(ctx, "s1", []byte("v1")); ok || err != nil {
		t.Fatalf("Remove from a stale value = %v, %v; want false", ok, err)
	}
	if v, _ := a.Get(ctx, "s1"); string(v) != "v2" {
		t.Fatalf("after the stale writes the record is %q, want v2", v)
	}
	if ok, err := a.Remove(ctx, "s1", []byte("v2")); !ok || err != nil {
		t.Fatalf("Remove from the current value = %v, %v; want true", ok, err)
	}
	// An update that read before the removal does not bring it back.
	if ok, err := b.Swap(ctx, "s1", []byte("v2"), []byte("v4")); ok || err != nil {
		t.Fatalf("Swap of a removed record = %v, %v; want false", ok, err)
	}
	if v, _ := b.Get(ctx, "s1"); v != nil {
		t.Fatalf("a removed record came back as %q", v)
	}
	if ok, err := b.Swap(ctx, "s1", nil, []byte("v5")); ok || err != nil {
		t.Fatalf("Swap from nothing = %v, %v; want false (Put creates)", ok, err)
	}
}

// Records expire on their own; Swap keeps the expiry; an index lives as
// long as its longest member and can name ids that have expired.
func TestRedisRecordsExpireAndIndex(t *testing.T) { recordsExpireAndIndex(t, redistest.Start(t)) }

func recordsExpireAndIndex(t *testing.T, url string) {
	ctx := context.Background()
	s := newRecords(t, url)
	short, long := time.Now().Add(300*time.Millisecond), time.Now().Add(time.Minute)
	if err := s.Put(ctx, "short", []byte("x"), short, "sub:alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "long", []byte("y"), long, "sub:alice", "sid:p1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "past", []byte("z"), time.Now().Add(-time.Second), "sub:bob"); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get(ctx, "past"); v != nil {
		t.Errorf("a record put with an until already past was stored: %q", v)
	}
	if ids, _ := s.Indexed(ctx, "sub:bob"); len(ids) != 0 {
		t.Errorf("a record put with an until already past was indexed: %v", ids)
	}
	if ok, err := s.Swap(ctx, "short", []byte("x"), []byte("x2")); !ok || err != nil {
		t.Fatalf("Swap = %v, %v", ok, err)
	}
	ids, err := s.Indexed(ctx, "sub:alice")
	slices.Sort(ids)
	if err != nil || !slices.Equal(ids, []string{"long", "short"}) {
		t.Fatalf("Indexed(sub:alice) = %v, %v; want [long short]", ids, err)
	}
	time.Sleep(450 * time.Millisecond)
	if v, _ := s.Get(ctx, "short"); v != nil {
		t.Errorf("a swapped record outlived its first expiry: %q", v)
	}
	if v, _ := s.Get(ctx, "long"); string(v) != "y" {
		t.Errorf("the long record = %q, want y", v)
	}
	// The index outlives "short" because "long" is in it.
	if ids, _ := s.Indexed(ctx, "sub:alice"); len(ids) != 2 {
		t.Errorf("Indexed(sub:alice) after the short record expired = %v, want both ids still named", ids)
	}
	if ids, _ := s.Indexed(ctx, "sid:p1"); !slices.Equal(ids, []string{"long"}) {
		t.Errorf("Indexed(sid:p1) = %v, want [long]", ids)
	}
}

// One lock holder at a time; the lock ends with unlock or its ttl, and a
// late unlock does not release someone else's lock.
func TestRedisRecordsLock(t *testing.T) { recordsLock(t, redistest.Start(t)) }

func recordsLock(t *testing.T, url string) {
	ctx := context.Background()
	prefix := fmt.Sprintf("ssoctl:test:%d:", prefixes.Add(1))
	a, b := newRedis(t, url, prefix).Records(), newRedis(t, url, prefix).Records()

	var held, most atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				unlock, ok, err := a.Lock(ctx, "s1", time.Second)
				if err != nil {
					t.Error(err)
					return
				}
				if !ok {
					continue
				}
				n := held.Add(1)
				if n > most.Load() {
					most.Store(n)
				}
				time.Sleep(time.Millisecond)
				held.Add(-1)
				unlock()
			}
		}()
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Fatalf("%d lock holders at once, want 1", most.Load())
	}

	unlockA, ok, err := a.Lock(ctx, "s2", 200*time.Millisecond)
	if !ok || err != nil {
		t.Fatalf("Lock = %v, %v", ok, err)
	}
	if _, ok, _ := b.Lock(ctx, "s2", time.Second); ok {
		t.Fatal("a second instance took a held lock")
	}
	time.Sleep(300 * time.Millisecond)
	unlockB, ok, err := b.Lock(ctx, "s2", time.Minute)
	if !ok || err != nil {
		t.Fatalf("Lock after the holder's ttl = %v, %v; want it taken", ok, err)
	}
	unlockA() // late: must not free b's lock
	if _, ok, _ := a.Lock(ctx, "s2", time.Second); ok {
		t.Fatal("a late unlock released another holder's lock")
	}
	unlockB()
	if _, ok, _ := a.Lock(ctx, "s2", time.Second); !ok {
		t.Fatal("the lock was not free after its holder's unlock")
	}
}

// Bad ids are refused before Redis is asked; a Redis at maxmemory is
// ErrFull, one that does not answer ErrUnavailable, and neither changes
// what was stored.
func TestRedisRecordsFailures(t *testing.T) {
	srv := redistest.StartServer(t)
	ctx := context.Background()
	s := newRecords(t, srv.URL)
	long := strings.Repeat("x", store.MaxRecordKey+1)
	for name, err := range map[string]error{
		"Put empty id":   s.Put(ctx, "", []byte("v"), time.Now().Add(time.Minute)),
		"Put long index": s.Put(ctx, "id", []byte("v"), time.Now().Add(time.Minute), long),
		"Get long id":    func() error { _, err := s.Get(ctx, long); return err }(),
	} {
		if !errors.Is(err, store.ErrRecordTooLong) {
			t.Errorf("%s: %v, want ErrRecordTooLong", name, err)
		}
	}
	if err := s.Put(ctx, "kept", []byte("v"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}

	admin := redis.NewClient(&redis.Options{Addr: strings.TrimSuffix(strings.TrimPrefix(srv.URL, "redis://"), "/0")})
	t.Cleanup(func() { admin.Close() })
	if err := admin.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if err := admin.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	err := s.Put(ctx, "new", []byte("v"), time.Now().Add(time.Minute))
	_ = admin.ConfigSet(ctx, "maxmemory", "0").Err()
	if !errors.Is(err, store.ErrFull) || errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Put into a Redis at maxmemory: %v, want ErrFull", err)
	}
	if v, _ := s.Get(ctx, "new"); v != nil {
		t.Errorf("a refused Put stored %q", v)
	}

	srv.Stop(t)
	if _, err := s.Get(ctx, "kept"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Get with Redis down: %v, want ErrUnavailable", err)
	}
	if _, _, err := s.Lock(ctx, "kept", time.Second); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Lock with Redis down: %v, want ErrUnavailable", err)
	}
}
