// Package storetest is the contract every ReplayStore and RevocationStore
// passes, written against the interfaces alone, so the memory stores and a
// Redis one later run the very same scenarios (as testing/fstest does for
// file systems).
//
// Each scenario is a story told in steps on a clock the contract controls:
// "consume a for 10 ticks: fresh; 9 ticks later consume a: used". A store
// that reads an injected clock gets a fake one that jumps; a store whose
// server keeps time (Redis expiry) sets WallClock, and the contract sleeps.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/pkg/serve/store"
)

// Harness builds the stores under test.
type Harness struct {
	// NewReplay returns an empty replay store that reads the clock now and
	// holds at most max live entries. Nil skips the replay contract.
	NewReplay func(t *testing.T, now func() time.Time, max int) store.ReplayStore
	// NewRevocations is the same for a revocation store.
	NewRevocations func(t *testing.T, now func() time.Time, max int) store.RevocationStore
	// Tick is the unit the scenarios count time in; zero means one second.
	// A WallClock store wants it short (50ms) and coarser than its own
	// expiry resolution.
	Tick time.Duration
	// WallClock gives the store the real clock and makes the contract sleep
	// instead of jumping, for a store whose entries expire by a clock it
	// does not take from the caller.
	WallClock bool
	// Unbounded skips the scenarios about a full store, for a store that
	// has no entry limit of its own.
	Unbounded bool
}

// opKind says what one step of a scenario does.
type opKind int

const (
	opAdvance opKind = iota
	opConsume
	opRevoke
	opRevoked
)

// op is one step: advance the clock, or call the store with key and
// until = now + ttl ticks and compare with want / err.
type op struct {
	kind  opKind
	key   string
	ticks int  // opAdvance: how far; opConsume, opRevoke: ttl
	want  bool // opConsume: fresh; opRevoked: revoked
	err   error
}

func advance(ticks int) op { return op{kind: opAdvance, ticks: ticks} }
func consume(jti string, ttl int, fresh bool) op {
	return op{kind: opConsume, key: jti, ticks: ttl, want: fresh}
}
func consumeErr(jti string, ttl int, err error) op {
	return op{kind: opConsume, key: jti, ticks: ttl, err: err}
}
func revoke(sid string, ttl int) op { return op{kind: opRevoke, key: sid, ticks: ttl} }
func revokeErr(sid string, ttl int, err error) op {
	return op{kind: opRevoke, key: sid, ticks: ttl, err: err}
}
func revoked(sid string, want bool) op { return op{kind: opRevoked, key: sid, want: want} }

func (o op) String() string {
	switch o.kind {
	case opAdvance:
		return fmt.Sprintf("advance %d ticks", o.ticks)
	case opConsume:
		return fmt.Sprintf("Consume(%.20q, now%+d ticks)", o.key, o.ticks)
	case opRevoke:
		return fmt.Sprintf("Revoke(%.20q, now%+d ticks)", o.key, o.ticks)
	default:
		return fmt.Sprintf("Revoked(%.20q)", o.key)
	}
}

// scenario is one story for a fresh store bounded to max (0: 1,000).
type scenario struct {
	name    string
	max     int
	bounded bool // needs a store with an entry limit
	steps   []op
}

var replayScenarios = []scenario{
	{
		name:  "fresh jti is accepted",
		steps: []op{consume("a", 10, true)},
	},
	{
		name:  "second use right away is refused",
		steps: []op{consume("a", 10, true), consume("a", 10, false)},
	},
	{
		name:  "second use just before until is refused",
		steps: []op{consume("a", 10, true), advance(9), consume("a", 10, false)},
	},
	{
		name: "jti is fresh again once until has passed, and then used again",
		steps: []op{
			consume("a", 10, true), advance(11),
			consume("a", 10, true), consume("a", 10, false),
		},
	},
	{
		name: "a refused reuse does not extend the record",
		steps: []op{
			consume("a", 10, true), advance(5),
			consume("a", 100, false), advance(6),
			consume("a", 10, true),
		},
	},
	{
		name: "distinct jtis are independent",
		steps: []op{
			consume("a", 10, true), consume("b", 10, true),
			consume("a", 10, false), consume("b", 10, false),
			consume("A", 10, true),
		},
	},
	{
		name: "an until already past records nothing",
		steps: []op{
			consume("a", 0, true), consume("a", -5, true),
			consume("a", 10, true), consume("a", 10, false),
		},
	},
	{
		name:  "a live record outlasts a replay that claims an until already past",
		steps: []op{consume("a", 10, true), consume("a", -1, false)},
	},
	{
		name: "long and non-ASCII jtis are kept apart from their prefixes",
		steps: []op{
			consume(strings.Repeat("j", 8<<10), 10, true), consume(strings.Repeat("j", 8<<10-1), 10, true),
			consume(strings.Repeat("j", 8<<10), 10, false),
			consume("jti-é", 10, true), consume("jti-e", 10, true), consume("jti-é", 10, false),
		},
	},
	{
		name: "a full store refuses a new jti",
		max:  3, bounded: true,
		steps: []op{
			consume("a", 10, true), consume("b", 10, true), consume("c", 10, true),
			consumeErr("d", 10, store.ErrFull),
		},
	},
	{
		name: "a full store still reports a used jti as used, not full",
		max:  3, bounded: true,
		steps: []op{
			consume("a", 10, true), consume("b", 10, true), consume("c", 10, true),
			consume("b", 10, false),
		},
	},
	{
		name: "a jti refused for room was not recorded",
		max:  2, bounded: true,
		steps: []op{
			consume("a", 10, true), consume("b", 10, true),
			consumeErr("c", 10, store.ErrFull), advance(11),
			consume("c", 10, true), consume("c", 10, false),
		},
	},
	{
		name: "a full store makes room as entries expire, one for one",
		max:  3, bounded: true,
		steps: []op{
			consume("a", 5, true), consume("b", 10, true), consume("c", 10, true),
			consumeErr("d", 10, store.ErrFull), advance(6),
			consume("d", 10, true), consumeErr("e", 10, store.ErrFull),
			consume("b", 10, false),
		},
	},
}

var revocationScenarios = []scenario{
	{
		name:  "an unknown session is not revoked",
		steps: []op{revoked("s1", false)},
	},
	{
		name: "a revoked session stays revoked until until",
		steps: []op{
			revoke("s1", 10), revoked("s1", true),
			advance(9), revoked("s1", true),
			advance(2), revoked("s1", false),
		},
	},
	{
		name:  "revocation is per session",
		steps: []op{revoke("s1", 10), revoked("s2", false), revoked("S1", false)},
	},
	{
		name: "revoking again extends the revocation",
		steps: []op{
			revoke("s1", 10), advance(5), revoke("s1", 10),
			advance(6), revoked("s1", true),
			advance(5), revoked("s1", false),
		},
	},
	{
		name: "revoking again with a sooner until never shortens it",
		steps: []op{
			revoke("s1", 10), revoke("s1", 2),
			advance(5), revoked("s1", true),
		},
	},
	{
		name: "an until already past revokes nothing",
		steps: []op{
			revoke("s1", 0), revoke("s1", -3), revoked("s1", false),
		},
	},
	{
		name: "a session revoked again after its revocation ended is revoked again",
		steps: []op{
			revoke("s1", 5), advance(6), revoked("s1", false),
			revoke("s1", 5), revoked("s1", true),
		},
	},
	{
		name: "a full store refuses a new revocation and answers for the rest",
		max:  2, bounded: true,
		steps: []op{
			revoke("s1", 10), revoke("s2", 10),
			revokeErr("s3", 10, store.ErrFull),
			revoked("s3", false), revoked("s1", true), revoked("s2", true),
		},
	},
	{
		name: "a full store still extends a revocation it holds",
		max:  2, bounded: true,
		steps: []op{
			revoke("s1", 10), revoke("s2", 10), advance(5),
			revoke("s1", 10), advance(6),
			revoked("s1", true), revoked("s2", false),
		},
	},
	{
		name: "a full store makes room as revocations expire",
		max:  2, bounded: true,
		steps: []op{
			revoke("s1", 5), revoke("s2", 10),
			revokeErr("s3", 10, store.ErrFull), advance(6),
			revoke("s3", 10), revoked("s3", true), revoked("s1", false),
			revokeErr("s4", 10, store.ErrFull),
		},
	},
}

// TestReplayStore runs the replay contract against h.NewReplay.
func TestReplayStore(t *testing.T, h Harness) {
	t.Helper()
	if h.NewReplay == nil {
		t.Skip("harness has no replay store")
	}
	for _, sc := range replayScenarios {
		t.Run(sc.name, func(t *testing.T) {
			if sc.bounded && h.Unbounded {
				t.Skip("store is unbounded")
			}
			c := newClock(h)
			s := h.NewReplay(t, c.Now, sc.limit())
			run(t, c, sc.steps, func(o op, until time.Time) (bool, error) {
				return s.Consume(context.Background(), o.key, until)
			}, nil)
		})
	}
	t.Run("one jti consumed by 100 goroutines at once is fresh exactly once", func(t *testing.T) {
		c := newClock(h)
		s := h.NewReplay(t, c.Now, 1000)
		fresh := race(t, 100, func(int) (bool, error) {
			return s.Consume(context.Background(), "contended", c.Now().Add(10*c.tick))
		})
		if fresh != 1 {
			t.Errorf("%d goroutines saw the jti fresh, want exactly 1", fresh)
		}
	})
	t.Run("distinct jtis racing for the last room: exactly the bound is accepted", func(t *testing.T) {
		if h.Unbounded {
			t.Skip("store is unbounded")
		}
		const max, callers = 50, 200
		c := newClock(h)
		s := h.NewReplay(t, c.Now, max)
		fresh := race(t, callers, func(i int) (bool, error) {
			fresh, err := s.Consume(context.Background(), fmt.Sprintf("jti-%d", i), c.Now().Add(10*c.tick))
			if errors.Is(err, store.ErrFull) {
				return false, nil
			}
			return fresh, err
		})
		if fresh != max {
			t.Errorf("%d of %d distinct jtis accepted into a store bounded to %d", fresh, callers, max)
		}
	})
}

// TestRevocationStore runs the revocation contract against h.NewRevocations.
func TestRevocationStore(t *testing.T, h Harness) {
	t.Helper()
	if h.NewRevocations == nil {
		t.Skip("harness has no revocation store")
	}
	for _, sc := range revocationScenarios {
		t.Run(sc.name, func(t *testing.T) {
			if sc.bounded && h.Unbounded {
				t.Skip("store is unbounded")
			}
			c := newClock(h)
			s := h.NewRevocations(t, c.Now, sc.limit())
			run(t, c, sc.steps, nil, revocationDo(s))
		})
	}
	t.Run("revocations from many goroutines are all seen by concurrent readers", func(t *testing.T) {
		const sessions = 100
		c := newClock(h)
		s := h.NewRevocations(t, c.Now, 1000)
		ctx := context.Background()
		until := c.Now().Add(10 * c.tick)
		var wg sync.WaitGroup
		for i := range sessions {
			wg.Go(func() {
				if err := s.Revoke(ctx, fmt.Sprintf("s%d", i), until); err != nil {
					t.Errorf("Revoke(s%d): %v", i, err)
				}
			})
			wg.Go(func() {
				if _, err := s.Revoked(ctx, fmt.Sprintf("s%d", sessions-1-i)); err != nil {
					t.Errorf("Revoked: %v", err)
				}
			})
		}
		wg.Wait()
		for i := range sessions {
			if got, err := s.Revoked(ctx, fmt.Sprintf("s%d", i)); !got || err != nil {
				t.Errorf("after all Revoke calls returned, Revoked(s%d) = %v, %v; want true", i, got, err)
			}
		}
		if got, _ := s.Revoked(ctx, "never-revoked"); got {
			t.Error("Revoked(never-revoked) = true")
		}
	})
}

func (sc scenario) limit() int {
	if sc.max == 0 {
		return 1000
	}
	return sc.max
}

// revocationDo adapts a RevocationStore to the step runner.
func revocationDo(s store.RevocationStore) func(op, time.Time) (bool, error) {
	return func(o op, until time.Time) (bool, error) {
		if o.kind == opRevoke {
			return false, s.Revoke(context.Background(), o.key, until)
		}
		return s.Revoked(context.Background(), o.key)
	}
}

// run plays steps. consume serves opConsume; other serves opRevoke and
// opRevoked.
func run(t *testing.T, c *clock, steps []op, consume, other func(op, time.Time) (bool, error)) {
	t.Helper()
	for i, o := range steps {
		if o.kind == opAdvance {
			c.Advance(time.Duration(o.ticks) * c.tick)
			continue
		}
		do := other
		if o.kind == opConsume {
			do = consume
		}
		got, err := do(o, c.Now().Add(time.Duration(o.ticks)*c.tick))
		switch {
		case o.err != nil:
			if !errors.Is(err, o.err) {
				t.Fatalf("step %d: %v: error %v, want %v", i+1, o, err, o.err)
			}
		case err != nil:
			t.Fatalf("step %d: %v: unexpected error %v", i+1, o, err)
		case o.kind != opRevoke && got != o.want:
			t.Fatalf("step %d: %v = %v, want %v", i+1, o, got, o.want)
		}
	}
}

// race starts n goroutines that call f(i) as close to together as a
// channel close allows and counts how many reported true.
func race(t *testing.T, n int, f func(i int) (bool, error)) int {
	t.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		count int
		start = make(chan struct{})
	)
	for i := range n {
		wg.Go(func() {
			<-start
			ok, err := f(i)
			if err != nil {
				t.Errorf("caller %d: %v", i, err)
			}
			if ok {
				mu.Lock()
				count++
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	return count
}

// clock is the contract's time: a fake one that jumps, or the wall clock.
type clock struct {
	mu   sync.Mutex
	t    time.Time
	wall bool
	tick time.Duration
}

func newClock(h Harness) *clock {
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), wall: h.WallClock, tick: h.Tick}
	if c.tick <= 0 {
		c.tick = time.Second
	}
	return c
}

// Now is the store's clock.
func (c *clock) Now() time.Time {
	if c.wall {
		return time.Now()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves time on by d.
func (c *clock) Advance(d time.Duration) {
	if c.wall {
		time.Sleep(d)
		return
	}
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
