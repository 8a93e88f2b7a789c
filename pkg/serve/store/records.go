package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisRecords keeps opaque values by id for state that every instance of
// a role shares and reads back whole: an OIDC issuer's provider sessions,
// which any issuer instance behind the load balancer must find, re-check
// and end. The store does not look inside a value (seal what is secret
// before Put). Each record expires on its own; an index is a set of ids
// (every session of one subject) that lives as long as its longest
// member, so it may still name ids whose records have expired.
//
// Keys: "<prefix>rec:<id>", "<prefix>idx:<index>", "<prefix>lock:<id>",
// on a Redis Cluster too: each command touches one key, so they spread
// over the slots (see Put for the one that writes several). Writes are
// compare-and-set against the value last read, so an update computed from
// a stale read (a re-check racing a logout on another instance) never
// brings a removed record back.
type RedisRecords struct{ r *Redis }

// Records returns the record store under the pool's prefix.
func (r *Redis) Records() *RedisRecords { return &RedisRecords{r: r} }

func (s *RedisRecords) key(id string) string     { return s.r.prefix + "rec:" + id }
func (s *RedisRecords) index(ix string) string   { return s.r.prefix + "idx:" + ix }
func (s *RedisRecords) lockKey(id string) string { return s.r.prefix + "lock:" + id }

// ErrRecordTooLong is an id or index name over MaxRecordKey bytes.
var ErrRecordTooLong = errors.New("record id or index is too long")

// MaxRecordKey bounds ids and index names: a key is sent on every call.
const MaxRecordKey = 512

// putScript stores a record and adds its id to each index, stretching an
// index's expiry to the record's when that is longer.
//
//	KEYS[1] the record, KEYS[2:] the indexes
//	ARGV[1] the value, ARGV[2] the id, ARGV[3] time to live in ms
var putScript = redis.NewScript(`
local ttl = tonumber(ARGV[3])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
for i = 2, #KEYS do
  redis.call('SADD', KEYS[i], ARGV[2])
  if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return 1
`)

// indexScript adds ARGV[1] to the index at KEYS[1], stretching its expiry
// to ARGV[2] ms when that is longer: putScript's loop, for one index.
var indexScript = redis.NewScript(`
local ttl = tonumber(ARGV[2])
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
`)

// indexSlack is how much longer than its record an index lives on a Redis
// Cluster, where the index is written before the record (Put): more than
// the record's write can take, so the index never ends first.
const indexSlack = time.Minute

// swapScript replaces (ARGV[2] non-empty) or deletes (ARGV[2] empty) a
// record only while it still holds ARGV[1], keeping its expiry.
var swapScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
end
return 1
`)

// unlockScript deletes a lock only while it is still the caller's.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

func checkKeys(keys ...string) error {
	for _, k := range keys {
		if k == "" || len(k) > MaxRecordKey {
			return fmt.Errorf("%w: %d bytes (1 to %d)", ErrRecordTooLong, len(k), MaxRecordKey)
		}
	}
	return nil
}

// Put stores value under id until the given time, replacing any record
// there, and adds id to each index. An until already past stores nothing.
//
// On one Redis it writes all of that in one script. On a Redis Cluster the
// indexes are shared by many records (every session of a subject), so a
// record and its indexes cannot share a slot unless every record does;
// instead Put writes each index (one key, atomically) and only then the
// record. A reader that finds an id in an index and no record yet, or no
// record ever (Put failed in between), takes it as expired, which an index
// already allows; what the order rules out is a record an index does not
// name, which a provider's logout would miss. A logout that runs between
// the two writes ends nothing, as one that runs just before Put would.
func (s *RedisRecords) Put(ctx context.Context, id string, value []byte, until time.Time, indexes ...string) error {
	if err := checkKeys(append([]string{id}, indexes...)...); err != nil {
		return err
	}
	if len(value) == 0 {
		return errors.New("store: an empty record")
	}
	ttl := s.r.ttl(until)
	if ttl <= 0 {
		return nil
	}
	if s.r.cluster != nil {
		return s.putSpread(ctx, id, value, until, ttl, indexes)
	}
	keys := make([]string, 0, 1+len(indexes))
	keys = append(keys, s.key(id))
	for _, ix := range indexes {
		keys = append(keys, s.index(ix))
	}
	return writeFailure(putScript.Run(ctx, s.r.client, keys, value, id, ttl).Err())
}

// putSpread is Put on a Redis Cluster: the indexes first, each living
// indexSlack longer than the record, then the record.
func (s *RedisRecords) putSpread(ctx context.Context, id string, value []byte, until time.Time, ttl int64, indexes []string) error {
	for _, ix := range indexes {
		err := indexScript.Run(ctx, s.r.client, []string{s.index(ix)}, id, ttl+indexSlack.Milliseconds()).Err()
		if err != nil {
			return writeFailure(err)
		}
	}
	// Measured again: the record ends at until, not later.
	ttl = s.r.ttl(until)
	if ttl <= 0 {
		return nil
	}
	return writeFailure(s.r.client.Set(ctx, s.key(id), value, time.Duration(ttl)*time.Millisecond).Err())
}

// Get returns the record under id; nil and no error when there is none.
func (s *RedisRecords) Get(ctx context.Context, id string) ([]byte, error) {
	if err := checkKeys(id); err != nil {
		return nil, err
	}
	v, err := s.r.client.Get(ctx, s.key(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable(err)
	}
	return v, nil
}

// Swap replaces the record under id with value, keeping its expiry, if it
// still holds old (what the caller read). It reports whether it did: false
// when the record changed or is gone since.
func (s *RedisRecords) Swap(ctx context.Context, id string, old, value []byte) (bool, error) {
	if len(value) == 0 {
		return false, errors.New("store: an empty record")
	}
	return s.swap(ctx, id, old, value)
}

// Remove deletes the record under id if it still holds old, and reports
// whether it did.
func (s *RedisRecords) Remove(ctx context.Context, id string, old []byte) (bool, error) {
	return s.swap(ctx, id, old, nil)
}

func (s *RedisRecords) swap(ctx context.Context, id string, old, value []byte) (bool, error) {
	if err := checkKeys(id); err != nil {
		return false, err
	}
	if len(old) == 0 {
		return false, nil // nothing was read, so nothing can still hold it
	}
	n, err := swapScript.Run(ctx, s.r.client, []string{s.key(id)}, old, value).Int64()
	if err != nil {
		return false, writeFailure(err)
	}
	return n == 1, nil
}

// Indexed returns the ids an index holds, some of which may have expired.
func (s *RedisRecords) Indexed(ctx context.Context, index string) ([]string, error) {
	if err := checkKeys(index); err != nil {
		return nil, err
	}
	ids, err := s.r.client.SMembers(ctx, s.index(index)).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	return ids, nil
}

// Ping reports whether Redis answers; its error wraps ErrUnavailable.
func (s *RedisRecords) Ping(ctx context.Context) error { return s.r.Ping(ctx) }

// Lock takes the lock named id for at most ttl, for work only one instance
// may do at a time (a refresh-token grant, which a provider that rotates
// refresh tokens answers once). It reports false when another holds it;
// unlock gives it back early and is safe to call after the ttl.
func (s *RedisRecords) Lock(ctx context.Context, id string, ttl time.Duration) (unlock func(), ok bool, err error) {
	if err := checkKeys(id); err != nil {
		return nil, false, err
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	mine := base64.RawURLEncoding.EncodeToString(b[:])
	key := s.lockKey(id)
	ok, err = s.r.client.SetNX(ctx, key, mine, ttl).Result()
	if err != nil {
		return nil, false, writeFailure(err)
	}
	if !ok {
		return nil, false, nil
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultRedisTimeout)
		defer cancel()
		_ = unlockScript.Run(ctx, s.r.client, []string{key}, mine).Err()
	}, true, nil
}

// writeFailure is unavailable, except that a Redis at its maxmemory with
// noeviction ("OOM command not allowed …") is ErrFull: it answers, and
// refuses to grow.
func writeFailure(err error) error {
	if err == nil {
		return nil
	}
	if strings.HasPrefix(err.Error(), "OOM ") {
		return fmt.Errorf("%w: redis: %w", ErrFull, err)
	}
	return unavailable(err)
}
