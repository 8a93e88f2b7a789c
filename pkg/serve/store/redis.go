package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisTimeout bounds dialling Redis and each read and write when
// neither RedisOptions nor the URL sets them. Every handoff and every
// forward-auth request waits on Redis, so a Redis that does not answer must
// become a 503 within about a second, not after go-redis' own 5 s default.
const DefaultRedisTimeout = time.Second

// RedisOptions configures a Redis connection for the stores.
type RedisOptions struct {
	// URL is a go-redis URL (redis.ParseURL): redis://[user:password@]host:port/db,
	// rediss:// for TLS, with optional query parameters such as
	// dial_timeout, read_timeout and max_retries. It usually holds a
	// password: it is never logged or put in an error.
	URL string
	// Prefix starts every key and the revocation channel, so several
	// chains and roles can share one Redis ("ssoctl:<chain>:<role>:").
	Prefix string
	// Timeout is the dial, read and write timeout the URL does not set;
	// zero means DefaultRedisTimeout.
	Timeout time.Duration
	// Now is the clock that turns an until into a time to live; nil means
	// time.Now. The primary use-case for this is testing.
	Now func() time.Time
}

// Redis is one Redis connection pool shared by a replay store and a
// revocation store, for a role that runs as several instances behind a
// load balancer: a jti consumed on one instance is refused on all, and a
// session revoked on one is refused on all.
//
// Expiry is Redis's own. Each until is sent as a time to live measured on
// the store's clock (PX, not PXAT), so a Redis server whose clock is ahead
// of the roles' can never forget a jti while its token still verifies.
type Redis struct {
	client *redis.Client
	prefix string
	now    func() time.Time
}

// NewRedis returns stores on the Redis at o.URL. It does not connect: the
// first command does, and so does Ping.
func NewRedis(o RedisOptions) (*Redis, error) {
	opt, err := redis.ParseURL(o.URL)
	if err != nil {
		// ParseURL's errors do not repeat the URL, but a malformed one may
		// still be mostly password: say only what kind of thing is wrong.
		return nil, fmt.Errorf("redis URL: %w", redactURLError(err))
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultRedisTimeout
	}
	if opt.DialTimeout == 0 {
		opt.DialTimeout = timeout
	}
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = timeout
	}
	if opt.WriteTimeout == 0 {
		opt.WriteTimeout = timeout
	}
	if opt.MaxRetries == 0 {
		// One retry rides out a connection Redis closed while idle; more
		// would only delay the 503 while Redis is down.
		opt.MaxRetries = 1
	}
	if opt.DialerRetries == 0 {
		// The same for dialling: go-redis' default of five dials 100 ms
		// apart makes every call take half a second to fail.
		opt.DialerRetries = 1
	}
	// A request's own deadline (its client gave up) ends the wait too.
	opt.ContextTimeoutEnabled = true
	// No CLIENT SETINFO on connect: managed Redis services and older
	// servers refuse it, and it says nothing an operator needs.
	opt.DisableIdentity = true
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Redis{client: redis.NewClient(opt), prefix: o.Prefix, now: now}, nil
}

// redactURLError keeps the kind of a URL parse error and drops its text,
// which can quote the URL.
func redactURLError(err error) error {
	if _, ok := errors.AsType[*url.Error](err); ok {
		return errors.New("not a URL (is the password URL-escaped?)")
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "URL scheme"):
		return errors.New("the scheme must be redis:// or rediss:// (TLS)")
	case strings.Contains(msg, "database number"), strings.Contains(msg, "URL path"):
		return errors.New("the path must be a database number, like /0")
	case strings.Contains(msg, "unexpected option"), strings.Contains(msg, "invalid"):
		return errors.New("a query parameter is unknown or malformed (see redis.ParseURL)")
	}
	return errors.New("not a usable redis:// or rediss:// URL")
}

// Ping reports whether Redis answers, for a role's /readyz. Its error wraps
// ErrUnavailable.
func (r *Redis) Ping(ctx context.Context) error {
	return unavailable(r.client.Ping(ctx).Err())
}

// Under returns stores on the same connection pool whose keys and channel
// start with the prefix followed by sub: one pool for a role's replay
// store and for the revocations it shares with the chain's other roles.
func (r *Redis) Under(sub string) *Redis {
	return &Redis{client: r.client, prefix: r.prefix + sub, now: r.now}
}

// Close closes the connection pool, which Under's stores share; the stores
// fail after it.
func (r *Redis) Close() error { return r.client.Close() }

// Replay returns the replay store, keys "<prefix>jti:<jti>".
func (r *Redis) Replay() *RedisReplay {
	// One id per instance is enough: once it has written an epoch, it has
	// seen one, so a later epoch it writes is a reset, not a first start.
	var id [12]byte
	_, _ = rand.Read(id[:])
	return &RedisReplay{r: r, id: base64.RawURLEncoding.EncodeToString(id[:])}
}

// Revocations returns the revocation store, keys "<prefix>revoked:<session
// id>", each revocation also published on "<prefix>revocations".
func (r *Redis) Revocations() *RedisRevocations { return &RedisRevocations{r: r} }

func (r *Redis) jtiKey(jti string) string       { return r.prefix + "jti:" + jti }
func (r *Redis) revokedKey(sid string) string   { return r.prefix + "revoked:" + sid }
func (r *Redis) revocationsChannel() string     { return r.prefix + "revocations" }
func (r *Redis) pattern(kind string) string     { return escapeGlob(r.prefix) + kind + ":*" }
func (r *Redis) ttl(until time.Time) (ms int64) { return ttlMillis(until.Sub(r.now())) }

// ttlMillis rounds d up to whole milliseconds, Redis's finest expiry, so a
// record never ends before its until.
func ttlMillis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// unavailable wraps a Redis failure in ErrUnavailable, keeping it for
// errors.Is (context.DeadlineExceeded, net.Error). go-redis' errors name the
// address, never the password.
func unavailable(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: redis: %w", ErrUnavailable, err)
}

// RedisReplay is a ReplayStore shared by every instance of a role.
//
// A Redis restarted without persistence (or flushed, or failed over to a
// replica that had not caught up) forgets the jtis it held while their
// tokens still verify. The store notices: it keeps an epoch key,
// "<prefix>epoch" (no expiry, so volatile-* eviction never drops it),
// that such a restart loses too. An instance that saw one epoch and then
// finds it gone, or replaced by one another instance wrote fresh, marks
// the new epoch a reset, and from then on every instance refuses a token
// issued before the reset: its jti may have been consumed and forgotten.
// Only an instance that knew the old epoch can tell a reset from a first
// start, so each reads the epoch when it starts (Refresh) and at every
// readiness check.
type RedisReplay struct {
	r    *Redis
	id   string // the epoch id this instance writes when it finds none
	mu   sync.Mutex
	seen string // the id of the epoch this instance last saw; "" none yet
}

// ErrRecordsLost is a token refused because the replay store lost its
// records after the token was issued (see RedisReplay). It wraps
// ErrUnavailable: the handoff is refused with a retry, and a fresh one,
// issued after the reset, works.
var ErrRecordsLost = fmt.Errorf("%w: the replay records were lost (Redis restarted without persistence); tokens issued before then are refused", ErrUnavailable)

// replayScript consumes a jti and keeps the epoch, atomically.
//
//	KEYS[1] the jti's key, KEYS[2] the epoch key
//	ARGV[1] time to live in ms (0: only look; -1: only the epoch)
//	ARGV[2] now, unix ms; ARGV[3] the token's earliest issue time, unix ms
//	ARGV[4] the epoch id this instance saw ("" none); ARGV[5] its own id
//
// It answers {result, epoch}: result 1 fresh, 0 used, -1 issued before a
// reset, 2 epoch only; epoch is "<id> <created ms> fresh|reset".
var replayScript = redis.NewScript(`
local e = redis.call('GET', KEYS[2])
if not e then
  local flag = 'fresh'
  if ARGV[4] ~= '' then flag = 'reset' end
  e = ARGV[5] .. ' ' .. ARGV[2] .. ' ' .. flag
  redis.call('SET', KEYS[2], e)
end
local id, created, flag = string.match(e, '^(%S+) (%d+) (%a+)$')
if not id then return redis.error_reply('ssoctl: malformed epoch key') end
if flag == 'fresh' and ARGV[4] ~= '' and id ~= ARGV[4] then
  flag = 'reset'
  e = id .. ' ' .. created .. ' reset'
  redis.call('SET', KEYS[2], e)
end
local ttl = tonumber(ARGV[1])
if ttl < 0 then return {2, e} end
if flag == 'reset' and tonumber(ARGV[3]) < tonumber(created) then return {-1, e} end
if ttl == 0 then
  if redis.call('EXISTS', KEYS[1]) == 1 then return {0, e} end
  return {1, e}
end
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ttl) then return {1, e} end
return {0, e}
`)

// Consume records jti as used until the given time with one SET NX PX, so
// two instances consuming the same jti at once cannot both see it fresh:
// Redis runs the command atomically, with no read before the write. An until
// already past records nothing and reports whether a live record exists.
// When Redis cannot be reached Consume returns an error wrapping
// ErrUnavailable and the caller refuses the handoff: a jti is never
// accepted without being recorded. Consume knows nothing of when the token
// was issued, so after a reset it takes the token for as old as any
// could be (issued unknownLifetime before until) and refuses it while that
// could be before the reset; token.Verifier calls ConsumeIssued instead.
func (s *RedisReplay) Consume(ctx context.Context, jti string, until time.Time) (bool, error) {
	return s.ConsumeIssued(ctx, jti, until.Add(-unknownLifetime), until)
}

// unknownLifetime bounds how long before its until a token handed to
// Consume can have been issued: the hard limit on a handoff's lifetime (5
// minutes) plus room for leeway.
const unknownLifetime = 10 * time.Minute

// ConsumeIssued is Consume for a token issued no earlier than issued (its
// iat less the verifier's leeway): after a reset it refuses, with
// ErrRecordsLost, a token issued before the reset, and takes one issued
// after.
func (s *RedisReplay) ConsumeIssued(ctx context.Context, jti string, issued, until time.Time) (bool, error) {
	ttl := s.r.ttl(until)
	if ttl < 0 {
		ttl = 0
	}
	res, err := s.run(ctx, s.r.jtiKey(jti), ttl, issued)
	switch {
	case err != nil:
		// A script that reached Redis but whose reply was lost is retried
		// by go-redis and then reports the jti used: the handoff is
		// refused, never accepted twice.
		return false, err
	case res == -1:
		return false, ErrRecordsLost
	}
	return res == 1, nil
}

// Refresh reads the epoch, writing a fresh one when there is none, so this
// instance can tell a later reset from a first start.
func (s *RedisReplay) Refresh(ctx context.Context) error {
	_, err := s.run(ctx, s.r.jtiKey(""), -1, time.Time{})
	return err
}

func (s *RedisReplay) run(ctx context.Context, key string, ttl int64, issued time.Time) (int64, error) {
	s.mu.Lock()
	seen := s.seen
	s.mu.Unlock()
	issuedMS := issued.UnixMilli()
	if issued.IsZero() {
		issuedMS = math.MinInt64 // Refresh: no token
	}
	out, err := replayScript.Run(ctx, s.r.client, []string{key, s.r.prefix + "epoch"},
		ttl, s.r.now().UnixMilli(), issuedMS, seen, s.id).Slice()
	if err != nil {
		return 0, unavailable(err)
	}
	if len(out) != 2 {
		return 0, unavailable(fmt.Errorf("replay script answered %d values", len(out)))
	}
	res, _ := out[0].(int64)
	epoch, _ := out[1].(string)
	if id, _, ok := strings.Cut(epoch, " "); ok {
		s.mu.Lock()
		s.seen = id
		s.mu.Unlock()
	}
	return res, nil
}

// Len counts the live jtis under the prefix with SCAN, for the store-size
// gauge. Redis bounds itself (maxmemory), so this is for watching, not
// for refusing; it costs a walk of the whole database per call, and on
// error it reports 0 (the failing /readyz says why).
func (s *RedisReplay) Len() int { return s.r.count("jti") }

// RedisRevocations is a RevocationStore shared by every instance of a role.
type RedisRevocations struct{ r *Redis }

// Revoke marks sessionID revoked until the given time. In one MULTI/EXEC it
// creates the key with that time to live if it is missing (SET NX PX),
// extends it if it is there and ends sooner (PEXPIRE GT, Redis 7), and
// publishes sessionID to the instances subscribed with Subscribe. An until
// already past revokes nothing.
func (s *RedisRevocations) Revoke(ctx context.Context, sessionID string, until time.Time) error {
	ttl := s.r.ttl(until)
	if ttl <= 0 {
		return nil
	}
	key := s.r.revokedKey(sessionID)
	_, err := s.r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SetNX(ctx, key, 1, time.Duration(ttl)*time.Millisecond)
		p.Do(ctx, "pexpire", key, ttl, "gt")
		p.Publish(ctx, s.r.revocationsChannel(), sessionID)
		return nil
	})
	return unavailable(err)
}

// Revoked reports whether sessionID is revoked, with one EXISTS.
func (s *RedisRevocations) Revoked(ctx context.Context, sessionID string) (bool, error) {
	n, err := s.r.client.Exists(ctx, s.r.revokedKey(sessionID)).Result()
	if err != nil {
		return false, unavailable(err)
	}
	return n > 0, nil
}

// Len counts the live revocations under the prefix; see RedisReplay.Len.
func (s *RedisRevocations) Len() int { return s.r.count("revoked") }

// Subscribe calls revoked with every session id any instance revokes from
// now on, until ctx ends, so an instance can drop what it cached about the
// session at once. It returns when the subscription is in place, or with an
// error wrapping ErrUnavailable. After an outage go-redis subscribes again
// by itself; what was published meanwhile is lost, which is why Revoked
// reads the key and does not rely on this.
func (s *RedisRevocations) Subscribe(ctx context.Context, revoked func(sessionID string)) error {
	ps := s.r.client.Subscribe(ctx, s.r.revocationsChannel())
	// Bounded by the read timeout like every other call: Receive alone has
	// no deadline, and a Redis that accepts connections but never answers
	// would hold the caller (a role starting up) for ever.
	if _, err := ps.ReceiveTimeout(ctx, s.r.client.Options().ReadTimeout); err != nil {
		_ = ps.Close()
		return unavailable(err)
	}
	ch := ps.Channel()
	go func() {
		defer ps.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				revoked(m.Payload)
			}
		}
	}()
	return nil
}

// count walks the keys of one kind under the prefix.
func (r *Redis) count(kind string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n := 0
	it := r.client.Scan(ctx, 0, r.pattern(kind), 1000).Iterator()
	for it.Next(ctx) {
		n++
	}
	if it.Err() != nil {
		return 0
	}
	return n
}

// escapeGlob quotes the characters SCAN MATCH treats as a pattern.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

var (
	_ ReplayStore     = (*RedisReplay)(nil)
	_ RevocationStore = (*RedisRevocations)(nil)
)
