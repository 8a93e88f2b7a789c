package store

import (
	"context"
	"sync/atomic"
	"time"
)

// DefaultMaxEntries bounds a memory store when MemoryOptions leaves it
// unset. A jti lives as long as its token (30 s plus leeway), so a million
// live jtis is some 28,000 handoffs a second, held in about 60 MB.
const DefaultMaxEntries = 1_000_000

// MemoryOptions configures a memory store.
type MemoryOptions struct {
	// MaxEntries bounds the live entries; 0 means DefaultMaxEntries. A full
	// store refuses with ErrFull rather than grow or forget.
	MaxEntries int
	// Now is the clock; nil means time.Now. The primary use-case for this
	// is testing.
	Now func() time.Time
}

// MemoryReplay is the ReplayStore of a single receiver instance: bounded,
// expiring and sharded, so concurrent handoffs rarely share a lock. Several
// instances behind a load balancer need a shared store (Redis) instead, or
// a token could be used once per instance.
//
// It is separate from MemoryRevocations because the two differ in traffic
// (one write per handoff against one read per forward-auth request), in
// bound and in what an operator watches, each with its own Len gauge.
type MemoryReplay struct {
	e *expiring
}

// NewMemoryReplay returns an empty replay store.
func NewMemoryReplay(o MemoryOptions) *MemoryReplay {
	return &MemoryReplay{e: newExpiring(o, false)}
}

// Consume records jti as used until the given time and reports whether it
// was fresh. An until already past records nothing and reports fresh, as a
// record that expired at once would: the token can no longer verify, so
// there is nothing to guard. When the store is full even after dropping
// expired entries, Consume returns ErrFull and records nothing; a jti
// already used is still reported used, full or not. ctx is unused: memory
// does not block.
func (s *MemoryReplay) Consume(_ context.Context, jti string, until time.Time) (bool, error) {
	e := s.e
	now := e.now().UnixNano()
	u := until.UnixNano()
	key, sh := e.hash(jti)
	for attempt := 0; ; attempt++ {
		sh.mu.Lock()
		if u <= now {
			cur, ok := sh.m[key]
			sh.mu.Unlock()
			return !ok || cur <= now, nil
		}
		added, room := e.add(sh, key, u, now)
		sh.mu.Unlock()
		if room {
			return added, nil
		}
		if attempt > 0 {
			return false, ErrFull
		}
		// Full: other shards may hold expired entries nobody has touched.
		e.sweepAll(now)
	}
}

// Len reports the live entries, after dropping expired ones so that an
// idle store does not report the last burst as live.
func (s *MemoryReplay) Len() int {
	s.e.sweepAll(s.e.now().UnixNano())
	return int(s.e.live.Load())
}

// MemoryRevocations is the RevocationStore of a single instance. Revoked
// runs on every forward-auth request and almost always finds nothing, so
// when no revocation is live it answers from one atomic load, without
// hashing the session id or touching a lock.
type MemoryRevocations struct {
	e *expiring
	// next is the soonest expiry of a live revocation (or later: it is
	// only a hint). Once the clock passes it, one reader sweeps, so the
	// empty fast path comes back without waiting for the next Revoke.
	next     atomic.Int64
	sweeping atomic.Bool
}

// NewMemoryRevocations returns an empty revocation store.
func NewMemoryRevocations(o MemoryOptions) *MemoryRevocations {
	s := &MemoryRevocations{e: newExpiring(o, true)}
	s.next.Store(1<<63 - 1)
	return s
}

// Revoke marks sessionID revoked until the given time. Revoking again
// extends a revocation and never shortens it; an until already past
// revokes nothing. It returns ErrFull when the store is full even after
// dropping expired entries.
func (s *MemoryRevocations) Revoke(_ context.Context, sessionID string, until time.Time) error {
	e := s.e
	now := e.now().UnixNano()
	u := until.UnixNano()
	if u <= now {
		return nil
	}
	key, sh := e.hash(sessionID)
	for attempt := 0; ; attempt++ {
		sh.mu.Lock()
		_, room := e.add(sh, key, u, now)
		sh.mu.Unlock()
		if room {
			s.lowerNext(u)
			return nil
		}
		if attempt > 0 {
			return ErrFull
		}
		e.sweepAll(now)
	}
}

// Revoked reports whether sessionID is revoked now. It never fails.
func (s *MemoryRevocations) Revoked(_ context.Context, sessionID string) (bool, error) {
	e := s.e
	if e.live.Load() == 0 {
		return false, nil
	}
	now := e.now().UnixNano()
	if now >= s.next.Load() {
		s.sweep(now)
	}
	key, sh := e.hash(sessionID)
	sh.mu.RLock()
	until, ok := sh.m[key]
	sh.mu.RUnlock()
	return ok && until > now, nil
}

// Len reports the live revocations, after dropping expired ones. It
// sweeps even while a reader does, so the gauge never counts the dead; the
// hint is left to the readers.
func (s *MemoryRevocations) Len() int {
	s.e.sweepAll(s.e.now().UnixNano())
	return int(s.e.live.Load())
}

// sweep drops expired revocations in every shard and resets the hint. Only
// one caller sweeps at a time; the others carry on reading, which is
// correct because Revoked compares each entry's time itself.
func (s *MemoryRevocations) sweep(now int64) {
	if !s.sweeping.CompareAndSwap(false, true) {
		return
	}
	defer s.sweeping.Store(false)
	s.e.sweepAll(now)
	// A Revoke racing with this may lower next just before this raises it
	// again; the cost is a revocation dropped at the following sweep
	// instead of this one, never a wrong answer.
	s.next.Store(s.e.earliest())
}

// lowerNext moves the hint down to until if that is sooner.
func (s *MemoryRevocations) lowerNext(until int64) {
	for {
		cur := s.next.Load()
		if until >= cur || s.next.CompareAndSwap(cur, until) {
			return
		}
	}
}

var (
	_ ReplayStore     = (*MemoryReplay)(nil)
	_ RevocationStore = (*MemoryRevocations)(nil)
)
