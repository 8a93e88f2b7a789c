package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// checkInvariants fails t unless every shard of e keeps its promises: the
// heap is a heap, every key has exactly one queued expiry no later than its
// until, and live counts the keys.
func checkInvariants(t *testing.T, e *expiring) {
	t.Helper()
	total := 0
	for i := range e.shards {
		sh := &e.shards[i]
		sh.mu.RLock()
		if len(sh.q) != len(sh.m) {
			t.Errorf("shard %d: %d queued expiries for %d keys", i, len(sh.q), len(sh.m))
		}
		seen := map[uint64]bool{}
		for j, x := range sh.q {
			if j > 0 && sh.q[(j-1)/2].until > x.until {
				t.Errorf("shard %d: heap order broken at %d", i, j)
			}
			if seen[x.key] {
				t.Errorf("shard %d: key %x queued twice", i, x.key)
			}
			seen[x.key] = true
			if u, ok := sh.m[x.key]; !ok || x.until > u {
				t.Errorf("shard %d: queued %x until %d, map has %d (present %v)", i, x.key, x.until, u, ok)
			}
			if int(x.key>>(64-shardBits)) != i {
				t.Errorf("key %x is in shard %d", x.key, i)
			}
		}
		total += len(sh.m)
		sh.mu.RUnlock()
	}
	if got := e.live.Load(); got != int64(total) {
		t.Errorf("live = %d, shards hold %d", got, total)
	}
}

func TestExpiringInvariants(t *testing.T) {
	tests := []struct {
		name   string
		seed   uint64
		max    int
		keys   int
		extend bool
	}{
		{name: "replay: insert-only keys under a tight bound", seed: 7, max: 500, keys: 3000},
		{name: "revocations: keys extended out of queue order", seed: 8, max: 500, keys: 300, extend: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(tt.seed, 0))
			now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			e := newExpiring(MemoryOptions{MaxEntries: tt.max, Now: func() time.Time { return now }}, tt.extend)
			for i := range 30000 {
				if r.IntN(10) == 0 {
					now = now.Add(time.Duration(r.IntN(2000)) * time.Millisecond)
				}
				key, sh := e.hash(fmt.Sprintf("k%d", r.IntN(tt.keys)))
				until := now.Add(time.Duration(1+r.IntN(30_000)) * time.Millisecond).UnixNano()
				sh.mu.Lock()
				e.add(sh, key, until, now.UnixNano())
				sh.mu.Unlock()
				if i%1000 == 0 {
					checkInvariants(t, e)
				}
			}
			e.sweepAll(now.UnixNano())
			checkInvariants(t, e)
		})
	}
}

func TestExpiringGivesMemoryBackAfterABurst(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	s := NewMemoryReplay(MemoryOptions{Now: func() time.Time { return now }})
	const burst = 200_000 // about 3,000 per shard, past the 1,024 floor
	for i := range burst {
		if _, err := s.Consume(context.Background(), fmt.Sprintf("b%d", i), now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	before := 0
	for i := range s.e.shards {
		before = max(before, s.e.shards[i].peak)
	}
	now = now.Add(2 * time.Minute)
	if n := s.Len(); n != 0 {
		t.Fatalf("Len after the burst expired = %d", n)
	}
	for i := range s.e.shards {
		sh := &s.e.shards[i]
		if sh.peak != 0 || cap(sh.q) > 0 {
			t.Errorf("shard %d after expiry: peak %d (was %d), queue capacity %d; want the burst's memory released", i, sh.peak, before, cap(sh.q))
		}
	}
	checkInvariants(t, s.e)
}

func TestRevokedFastPathReturnsWhenRevocationsExpire(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	s := NewMemoryRevocations(MemoryOptions{Now: func() time.Time { return now }})
	tests := []struct {
		name     string
		revoke   map[string]time.Duration
		advance  time.Duration
		ask      string
		want     bool
		wantLive int64 // entries still held after Revoked answered
	}{
		{name: "a revocation makes the slow path necessary", revoke: map[string]time.Duration{"s1": time.Minute, "s2": 2 * time.Minute}, ask: "s1", want: true, wantLive: 2},
		{name: "one expired revocation is dropped by the next reader", advance: time.Minute, ask: "other", want: false, wantLive: 1},
		{name: "once all expired, the store is empty again without a Revoke or Len", advance: time.Minute, ask: "s2", want: false, wantLive: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for sid, d := range tt.revoke {
				if err := s.Revoke(ctx, sid, now.Add(d)); err != nil {
					t.Fatal(err)
				}
			}
			now = now.Add(tt.advance)
			if got, err := s.Revoked(ctx, tt.ask); got != tt.want || err != nil {
				t.Fatalf("Revoked(%s) = %v, %v; want %v", tt.ask, got, err, tt.want)
			}
			if got := s.e.live.Load(); got != tt.wantLive {
				t.Errorf("entries held = %d, want %d", got, tt.wantLive)
			}
		})
	}
}
