package serve

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestRecentChecksAnswer: a confirmation counts for exactly the recheck
// interval, across a rotation, and forget drops it from either generation.
func TestRecentChecksAnswer(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	c := newRecentChecks(time.Minute, t0)

	if c.fresh("s1", t0) {
		t.Fatal("a session never confirmed is fresh")
	}
	c.confirmed("s1", t0.Add(50*time.Second))
	for _, tt := range []struct {
		at   time.Duration
		want bool
	}{{50 * time.Second, true}, {109 * time.Second, true}, {110 * time.Second, false}} {
		if got := c.fresh("s1", t0.Add(tt.at)); got != tt.want {
			t.Errorf("fresh at +%s = %v, want %v", tt.at, got, tt.want)
		}
	}

	// s2 confirmed at +70s rotates: s1 is in the previous generation
	// now, and still counts until +110s.
	c.confirmed("s2", t0.Add(70*time.Second))
	if !c.fresh("s1", t0.Add(100*time.Second)) || !c.fresh("s2", t0.Add(100*time.Second)) {
		t.Fatal("a confirmation younger than the interval was lost at a rotation")
	}
	c.forget("s1")
	c.forget("s2")
	if c.fresh("s1", t0.Add(100*time.Second)) || c.fresh("s2", t0.Add(100*time.Second)) {
		t.Fatal("forget left a confirmation in place")
	}

	// A later confirmation replaces an earlier one in the other generation.
	c.confirmed("s3", t0.Add(75*time.Second))
	c.confirmed("s3", t0.Add(140*time.Second)) // rotates again
	if !c.fresh("s3", t0.Add(190*time.Second)) {
		t.Fatal("the newer confirmation of s3 was not the one read")
	}
}

// TestRecentChecksStayBounded: a receiver that runs for days sees every
// session once at its handoff; those that never come back (the browser
// closed, the session expired) must not stay in memory. The old sync.Map
// kept every one of them.
func TestRecentChecksStayBounded(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	c := newRecentChecks(time.Minute, t0)
	const perSecond = 20
	for s := range 3600 { // an hour of handoffs, each for a new session
		now := t0.Add(time.Duration(s) * time.Second)
		for i := range perSecond {
			c.confirmed(fmt.Sprintf("s-%d-%d", s, i), now)
		}
	}
	// At most two intervals' worth, whatever the hour held.
	if n, limit := c.len(), 2*60*perSecond; n > limit {
		t.Fatalf("%d entries held after an hour of %d new sessions a second; want at most %d (two intervals)", n, perSecond, limit)
	}
}

// TestRecentChecksConcurrent runs lookups, confirmations (and with them
// rotations) and forgets at once, for the race detector.
func TestRecentChecksConcurrent(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	c := newRecentChecks(time.Millisecond, t0)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				now := t0.Add(time.Duration(i) * 100 * time.Microsecond)
				id := fmt.Sprintf("s%d", (g+i)%16)
				switch i % 3 {
				case 0:
					c.confirmed(id, now)
				case 1:
					c.fresh(id, now)
				default:
					c.forget(id)
				}
			}
		})
	}
	wg.Wait()
}
