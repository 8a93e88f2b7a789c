package store

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// shardCount splits a memory store into independently locked parts, so
// receivers on many cores do not queue on one mutex. It is a power of two:
// the shard is the top bits of the key's hash.
const (
	shardBits  = 6
	shardCount = 1 << shardBits
)

// expiring is the sharded, bounded, expiring set both memory stores are
// built on. Keys are 64-bit seeded hashes of the caller's string, not the
// string itself: the maps and heaps then hold no pointers (the garbage
// collector never scans them, which matters at a million entries), an entry
// costs tens of bytes whatever the key's length, and no substring of a
// parsed token is kept alive. A collision needs two live keys among at most
// a million to share 64 bits of a per-process random hash: about 1 in 10^13
// per lookup, and it errs closed (a fresh jti is taken as used, a session
// as revoked), never open.
type expiring struct {
	seed maphash.Seed
	now  func() time.Time
	max  int64
	// extend makes adding a live key push its until later (revocations)
	// instead of leaving it as it is (the replay store's "already used").
	extend bool

	live atomic.Int64 // keys held across all shards; never above max
	_    [56]byte     // keep live off the cache line of the fields above

	shards [shardCount]shard
}

// shard is one lock's worth of the set. Every key in m has exactly one
// entry in q, whose until is at most m[key] (a revocation can be extended
// after it was queued; the entry is re-queued when it comes due).
type shard struct {
	mu   sync.RWMutex
	m    map[uint64]int64 // key hash → until, Unix nanoseconds
	q    expiryHeap
	peak int // largest len(m) since m was last rebuilt
	_    [64]byte
}

// entry is one scheduled expiry.
type entry struct {
	key   uint64
	until int64
}

func newExpiring(o MemoryOptions, extend bool) *expiring {
	e := &expiring{seed: maphash.MakeSeed(), now: o.Now, max: int64(o.MaxEntries), extend: extend}
	if e.now == nil {
		e.now = time.Now
	}
	if e.max <= 0 {
		e.max = DefaultMaxEntries
	}
	for i := range e.shards {
		e.shards[i].m = make(map[uint64]int64)
	}
	return e
}

func (e *expiring) hash(s string) (uint64, *shard) {
	h := maphash.String(e.seed, s)
	return h, &e.shards[h>>(64-shardBits)]
}

// reserve claims room for one new key. A failed attempt undoes its
// increment; concurrent attempts can only make each other stricter, so live
// never exceeds max.
func (e *expiring) reserve() bool {
	if e.live.Add(1) <= e.max {
		return true
	}
	e.live.Add(-1)
	return false
}

// add inserts key until the given time, holding sh's lock. A key already
// live is left as it is, or with e.extend pushed to the later of the two
// times (a revocation is never shortened). It reports whether the key was
// new and whether there was room for it.
func (e *expiring) add(sh *shard, key uint64, until, now int64) (added, room bool) {
	sh.sweep(e, now)
	if cur, ok := sh.m[key]; ok {
		if e.extend && until > cur {
			sh.m[key] = until
		}
		return false, true
	}
	if !e.reserve() {
		return false, false
	}
	sh.m[key] = until
	sh.q.push(entry{key, until})
	sh.peak = max(sh.peak, len(sh.m))
	return true, true
}

// sweep drops every key of sh that expired at or before now, holding sh's
// lock. Each step is O(log n) and pays for an insert that already happened,
// so the hot path never walks a whole map.
func (sh *shard) sweep(e *expiring, now int64) {
	dropped := 0
	for len(sh.q) > 0 && sh.q[0].until <= now {
		top := sh.q.pop()
		if e.extend {
			if cur := sh.m[top.key]; cur > now {
				sh.q.push(entry{top.key, cur}) // extended since it was queued
				continue
			}
		}
		delete(sh.m, top.key)
		dropped++
	}
	if dropped == 0 {
		return
	}
	e.live.Add(int64(-dropped))
	sh.shrink()
}

// shrink gives memory back after a burst has expired: Go maps never shrink
// on delete, so a shard that once held 15,000 keys and now holds 100 is
// copied into a map of its present size.
func (sh *shard) shrink() {
	const floor = 1024
	n := len(sh.m)
	if sh.peak >= floor && n < sh.peak/8 {
		m := make(map[uint64]int64, 2*n)
		for k, v := range sh.m {
			m[k] = v
		}
		sh.m, sh.peak = m, n
	}
	if c := cap(sh.q); c >= floor && len(sh.q) < c/8 {
		sh.q = append(make(expiryHeap, 0, 2*len(sh.q)), sh.q...)
	}
}

// sweepAll sweeps every shard, taking one lock at a time. Callers must not
// hold a shard lock.
func (e *expiring) sweepAll(now int64) {
	for i := range e.shards {
		sh := &e.shards[i]
		sh.mu.Lock()
		sh.sweep(e, now)
		sh.mu.Unlock()
	}
}

// earliest is the soonest scheduled expiry in any shard, or math.MaxInt64.
func (e *expiring) earliest() int64 {
	next := int64(1<<63 - 1)
	for i := range e.shards {
		sh := &e.shards[i]
		sh.mu.RLock()
		if len(sh.q) > 0 {
			next = min(next, sh.q[0].until)
		}
		sh.mu.RUnlock()
	}
	return next
}

// expiryHeap is a binary min-heap on until. It is written out rather than
// built on container/heap, whose interface boxing allocates on every push.
// Tokens arrive roughly in expiry order, so a push usually stops at once.
type expiryHeap []entry

func (h *expiryHeap) push(x entry) {
	q := append(*h, x)
	i := len(q) - 1
	for i > 0 {
		p := (i - 1) / 2
		if q[p].until <= q[i].until {
			break
		}
		q[p], q[i] = q[i], q[p]
		i = p
	}
	*h = q
}

func (h *expiryHeap) pop() entry {
	q := *h
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q = q[:last]
	for i := 0; ; {
		l := 2*i + 1
		if l >= len(q) {
			break
		}
		c := l
		if r := l + 1; r < len(q) && q[r].until < q[l].until {
			c = r
		}
		if q[i].until <= q[c].until {
			break
		}
		q[i], q[c] = q[c], q[i]
		i = c
	}
	*h = q
	return top
}
