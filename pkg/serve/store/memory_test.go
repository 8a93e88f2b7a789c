package store_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/pkg/serve/store"
	"github.com/ssoctl/ssoctl/pkg/serve/store/storetest"
)

var memoryHarness = storetest.Harness{
	NewReplay: func(_ *testing.T, now func() time.Time, max int) store.ReplayStore {
		return store.NewMemoryReplay(store.MemoryOptions{MaxEntries: max, Now: now})
	},
	NewRevocations: func(_ *testing.T, now func() time.Time, max int) store.RevocationStore {
		return store.NewMemoryRevocations(store.MemoryOptions{MaxEntries: max, Now: now})
	},
}

func TestMemoryReplayContract(t *testing.T)      { storetest.TestReplayStore(t, memoryHarness) }
func TestMemoryRevocationsContract(t *testing.T) { storetest.TestRevocationStore(t, memoryHarness) }

// fakeClock is a settable clock for the memory-specific tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestMemoryLen(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		consume    []time.Duration // one jti per entry, live for that long
		revoke     []time.Duration
		advance    time.Duration
		wantReplay int
		wantRevoc  int
	}{
		{name: "empty stores hold nothing"},
		{
			name:    "live entries are counted",
			consume: []time.Duration{time.Minute, time.Minute}, revoke: []time.Duration{time.Hour},
			wantReplay: 2, wantRevoc: 1,
		},
		{
			name:    "expired entries are not counted even when nothing touched the store since",
			consume: []time.Duration{time.Second, time.Minute, 2 * time.Second}, revoke: []time.Duration{time.Second, time.Hour},
			advance: 30 * time.Second, wantReplay: 1, wantRevoc: 1,
		},
		{
			name:    "an entry is gone exactly at its until",
			consume: []time.Duration{time.Minute}, revoke: []time.Duration{time.Minute},
			advance: time.Minute,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFakeClock()
			rp := store.NewMemoryReplay(store.MemoryOptions{Now: c.Now})
			rv := store.NewMemoryRevocations(store.MemoryOptions{Now: c.Now})
			for i, d := range tt.consume {
				if fresh, err := rp.Consume(ctx, fmt.Sprintf("jti-%d", i), c.Now().Add(d)); !fresh || err != nil {
					t.Fatalf("Consume: %v, %v", fresh, err)
				}
			}
			for i, d := range tt.revoke {
				if err := rv.Revoke(ctx, fmt.Sprintf("sid-%d", i), c.Now().Add(d)); err != nil {
					t.Fatal(err)
				}
			}
			c.Advance(tt.advance)
			if got := rp.Len(); got != tt.wantReplay {
				t.Errorf("replay Len() = %d, want %d", got, tt.wantReplay)
			}
			if got := rv.Len(); got != tt.wantRevoc {
				t.Errorf("revocations Len() = %d, want %d", got, tt.wantRevoc)
			}
		})
	}
}

// TestMemoryAgainstModel plays long random histories (fixed seeds) against
// both stores and a plain map that says what each answer must be. It is the
// test that finds heap and sweep bugs the scenarios are too short to reach.
func TestMemoryAgainstModel(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		seed uint64
		keys int // distinct keys drawn from
		max  int
		ops  int
	}{
		{name: "few keys, roomy store: many reuses and extensions", seed: 1, keys: 20, max: 1000, ops: 20000},
		{name: "many keys, tight bound: the store is often full", seed: 2, keys: 5000, max: 300, ops: 50000},
		{name: "more keys than shards, bound of one", seed: 3, keys: 200, max: 1, ops: 20000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(tt.seed, tt.seed))
			c := newFakeClock()
			rp := store.NewMemoryReplay(store.MemoryOptions{MaxEntries: tt.max, Now: c.Now})
			rv := store.NewMemoryRevocations(store.MemoryOptions{MaxEntries: tt.max, Now: c.Now})
			used := map[string]time.Time{}    // the replay model
			revoked := map[string]time.Time{} // the revocation model
			live := func(m map[string]time.Time) int {
				n := 0
				for k, u := range m {
					if u.After(c.Now()) {
						n++
					} else {
						delete(m, k)
					}
				}
				return n
			}
			for i := range tt.ops {
				key := fmt.Sprintf("k%d", r.IntN(tt.keys))
				until := c.Now().Add(time.Duration(r.IntN(40)-5) * time.Second)
				now := c.Now()
				switch r.IntN(5) {
				case 0:
					c.Advance(time.Duration(r.IntN(3000)) * time.Millisecond)
				case 1:
					got, err := rp.Consume(ctx, key, until)
					prev, ok := used[key]
					wasUsed := ok && prev.After(now)
					switch {
					case wasUsed:
						if got || err != nil {
							t.Fatalf("op %d: Consume(%s) of a used jti = %v, %v", i, key, got, err)
						}
					case !until.After(now):
						if !got || err != nil {
							t.Fatalf("op %d: Consume(%s) with until past = %v, %v; want true", i, key, got, err)
						}
					case live(used) >= tt.max:
						if !errors.Is(err, store.ErrFull) {
							t.Fatalf("op %d: Consume(%s) into a full store = %v, %v; want ErrFull", i, key, got, err)
						}
					default:
						if !got || err != nil {
							t.Fatalf("op %d: Consume(%s) of a fresh jti = %v, %v", i, key, got, err)
						}
						used[key] = until
					}
				case 2, 3:
					err := rv.Revoke(ctx, key, until)
					prev, ok := revoked[key]
					isRevoked := ok && prev.After(now)
					switch {
					case !until.After(now):
						if err != nil {
							t.Fatalf("op %d: Revoke(%s) with until past: %v", i, key, err)
						}
					case isRevoked:
						if err != nil {
							t.Fatalf("op %d: Revoke(%s) extending: %v", i, key, err)
						}
						if until.After(prev) {
							revoked[key] = until
						}
					case live(revoked) >= tt.max:
						if !errors.Is(err, store.ErrFull) {
							t.Fatalf("op %d: Revoke(%s) into a full store: %v; want ErrFull", i, key, err)
						}
					default:
						if err != nil {
							t.Fatalf("op %d: Revoke(%s): %v", i, key, err)
						}
						revoked[key] = until
					}
				case 4:
					got, err := rv.Revoked(ctx, key)
					prev, ok := revoked[key]
					if want := ok && prev.After(now); got != want || err != nil {
						t.Fatalf("op %d: Revoked(%s) = %v, %v; want %v", i, key, got, err, want)
					}
				}
				if i%997 == 0 {
					if got, want := rp.Len(), live(used); got != want {
						t.Fatalf("op %d: replay Len() = %d, model holds %d", i, got, want)
					}
					if got, want := rv.Len(), live(revoked); got != want {
						t.Fatalf("op %d: revocations Len() = %d, model holds %d", i, got, want)
					}
				}
			}
		})
	}
}

func TestMemoryDefaultBound(t *testing.T) {
	// Filling a million entries is a benchmark's job; here the default is
	// pinned by watching the store take more than any small bound would.
	tests := []struct {
		name string
		opts store.MemoryOptions
		take int
	}{
		{name: "zero MaxEntries means the default", opts: store.MemoryOptions{}, take: 20000},
		{name: "negative MaxEntries means the default", opts: store.MemoryOptions{MaxEntries: -1}, take: 20000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := store.NewMemoryReplay(tt.opts)
			until := time.Now().Add(time.Hour)
			for i := range tt.take {
				if fresh, err := s.Consume(context.Background(), fmt.Sprintf("j%d", i), until); !fresh || err != nil {
					t.Fatalf("Consume #%d: %v, %v", i, fresh, err)
				}
			}
			if got := s.Len(); got != tt.take {
				t.Errorf("Len() = %d, want %d", got, tt.take)
			}
		})
	}
	if store.DefaultMaxEntries != 1_000_000 {
		t.Errorf("DefaultMaxEntries = %d, want 1,000,000", store.DefaultMaxEntries)
	}
}
