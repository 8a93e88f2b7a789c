package serve

import (
	"sync"
	"sync/atomic"
	"time"
)

// recentChecks remembers when the IdP last confirmed each session, for
// as long as that answer is worth anything. An entry older than the
// recheck interval counts for nothing (the next request asks the IdP
// again), so entries are kept in two generations and the older one is
// dropped whole once per interval. Memory then follows the sessions seen
// in the last two intervals, not every session the receiver has served
// since it started, and no entry needs an expiry of its own. Lookups take
// no lock: /auth makes one per request.
type recentChecks struct {
	ttl   time.Duration
	cur   atomic.Pointer[sync.Map] // session id → time.Time
	prev  atomic.Pointer[sync.Map]
	mu    sync.Mutex   // serializes rotations
	since atomic.Int64 // when cur began, Unix nanoseconds
}

func newRecentChecks(ttl time.Duration, now time.Time) *recentChecks {
	c := &recentChecks{ttl: ttl}
	c.cur.Store(new(sync.Map))
	c.prev.Store(new(sync.Map))
	c.since.Store(now.UnixNano())
	return c
}

// fresh reports whether the IdP confirmed id less than ttl before now.
func (c *recentChecks) fresh(id string, now time.Time) bool {
	v, ok := c.cur.Load().Load(id)
	if !ok {
		v, ok = c.prev.Load().Load(id)
	}
	return ok && now.Sub(v.(time.Time)) < c.ttl
}

// confirmed records that the IdP confirmed id at now.
func (c *recentChecks) confirmed(id string, now time.Time) {
	if now.UnixNano()-c.since.Load() >= int64(c.ttl) {
		c.rotate(now)
	}
	c.cur.Load().Store(id, now)
}

// rotate starts a new generation: what was current becomes the previous
// one and the previous one, older than ttl in full, is dropped.
func (c *recentChecks) rotate(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.UnixNano()-c.since.Load() < int64(c.ttl) {
		return // another caller rotated first
	}
	c.prev.Store(c.cur.Load())
	c.cur.Store(new(sync.Map))
	c.since.Store(now.UnixNano())
}

// forget drops id from both generations.
func (c *recentChecks) forget(id string) {
	c.cur.Load().Delete(id)
	c.prev.Load().Delete(id)
}

// len counts the entries held, for tests.
func (c *recentChecks) len() int {
	n := 0
	for _, m := range [...]*sync.Map{c.cur.Load(), c.prev.Load()} {
		m.Range(func(any, any) bool { n++; return true })
	}
	return n
}
