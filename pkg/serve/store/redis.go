package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	// dial_timeout, read_timeout and max_retries. With a master_name
	// parameter it names Redis Sentinels instead (redis.ParseFailoverURL):
	// the host and each addr= parameter is a Sentinel, the user and
	// password are theirs and, unless username= or password= parameters
	// give the data nodes' own, the primary's too; the client follows the
	// primary across failovers. With cluster=true it names nodes of a
	// Redis Cluster (redis.ParseClusterURL): the host and each addr= are
	// nodes to learn the cluster from, the path is /0 or none, and the
	// user and password are every node's. It usually holds a password: it
	// is never logged or put in an error.
	URL string
	// Prefix starts every key and the revocation channel, so several
	// chains and roles can share one Redis ("ssoctl:<chain>:<role>:").
	// On a Redis Cluster it may not hold { or }: keys wrap it in a hash
	// tag (see Redis).
	Prefix string
	// Timeout is the dial, read and write timeout the URL does not set;
	// zero means DefaultRedisTimeout.
	Timeout time.Duration
	// Now is the clock that turns an until into a time to live; nil means
	// time.Now. The primary use-case for this is testing.
	Now func() time.Time
	// MirrorLease is how long a pong on the revocation subscription keeps
	// the in-memory mirror of the revocations trusted (RedisRevocations);
	// zero means DefaultMirrorLease.
	MirrorLease time.Duration
	// MirrorEntries bounds the mirror; zero means DefaultMaxEntries. A
	// full mirror is not trusted: Revoked asks Redis instead.
	MirrorEntries int
}

// DefaultMirrorLease is how long the revocation mirror stays trusted after
// the subscription last answered a ping, and so how stale a Revoked answer
// from memory can be. A second is as long as a request already waits for
// a Redis that does not answer (DefaultRedisTimeout).
const DefaultMirrorLease = time.Second

// Redis is one Redis connection pool shared by a replay store and a
// revocation store, for a role that runs as several instances behind a
// load balancer: a jti consumed on one instance is refused on all, and a
// session revoked on one is refused on all.
//
// Expiry is Redis's own. Each until is sent as a time to live measured on
// the store's clock (PX, not PXAT), so a Redis server whose clock is ahead
// of the roles' can never forget a jti while its token still verifies.
//
// On one Redis, or through Sentinels, a key is the prefix and its name
// ("<prefix>jti:<jti>"). On a Redis Cluster a script or a MULTI may only
// touch keys of one hash slot, so the keys that one uses together share a
// hash tag, the part in braces that alone decides the slot:
//
//   - a jti and the epoch that guards it: "{<prefix><bucket>:}jti:<jti>"
//     and "{<prefix><bucket>:}epoch", the bucket (00 to 63) a hash of the
//     jti, so the jtis spread over 64 slots and so over the primaries, and
//     each primary that restarts empty loses the epochs of its own buckets
//     with their jtis (RedisReplay);
//   - the revocations and their channels: "{<prefix>}revoked:<session id>",
//     "{<prefix>}revocations", in one slot, so that a revocation's key and
//     its message are still written in one MULTI, and published with
//     sharded pub/sub (SPUBLISH) on the very primary that holds the key
//     (RedisRevocations);
//   - records, their indexes and locks (RedisRecords) need no tag: every
//     command they send touches one key.
type Redis struct {
	redisConn
	prefix string
	now    func() time.Time
	lease  time.Duration // RedisOptions.MirrorLease
	bound  int           // RedisOptions.MirrorEntries
	life   *redisLife    // shared by Under's stores, like client
}

// redisConn is the client NewRedis opened and the kind of deployment it
// reaches.
type redisConn struct {
	client redis.UniversalClient
	// cluster is client when the URL names a Redis Cluster, else nil:
	// keys then carry hash tags, revocations go through sharded pub/sub,
	// and what walks the keys walks every primary.
	cluster *redis.ClusterClient
	// sentinel is set when client follows a primary through Sentinels.
	// Through Sentinels and on a cluster the revocation mirror proves
	// where its subscription is with heartbeats (RedisRevocations).
	sentinel    bool
	readTimeout time.Duration
	callTimeout time.Duration // a cluster's callDeadline
}

// redisLife ends the revocation subscriptions when the pool closes, so
// none outlives Close.
type redisLife struct {
	ctx    context.Context // done once Close is called
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool
	subs   sync.WaitGroup // running subscriptions (RedisRevocations.follow)
}

// NewRedis returns stores on the Redis at o.URL. It does not connect: the
// first command does, and so does Ping.
func NewRedis(o RedisOptions) (*Redis, error) {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultRedisTimeout
	}
	conn, err := newRedisClient(o.URL, timeout)
	if err != nil {
		return nil, err
	}
	if conn.cluster != nil && strings.ContainsAny(o.Prefix, "{}") {
		_ = conn.client.Close()
		return nil, errors.New("store: on a Redis Cluster the key prefix may not hold { or }: keys wrap it in a hash tag")
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	lease := o.MirrorLease
	if lease <= 0 {
		lease = DefaultMirrorLease
	}
	life := &redisLife{}
	life.ctx, life.cancel = context.WithCancel(context.Background())
	return &Redis{
		redisConn: conn, prefix: o.Prefix, now: now,
		lease: lease, bound: o.MirrorEntries, life: life,
	}, nil
}

// newRedisClient returns a client on the Redis at rawURL; when its query
// has master_name, on the primary the Sentinels it names report (the same
// *redis.Client, which asks them again after a failover); when it has
// cluster=true, on the Redis Cluster its nodes belong to.
func newRedisClient(rawURL string, timeout time.Duration) (redisConn, error) {
	// The parsers' errors do not repeat the URL, but a malformed one may
	// still be mostly password: say only what kind of thing is wrong.
	var (
		query url.Values
		u     *url.URL
	)
	if p, err := url.Parse(rawURL); err == nil {
		u, query = p, p.Query()
	}
	cluster := false
	if query.Has("cluster") {
		on, err := strconv.ParseBool(query.Get("cluster"))
		if err != nil {
			return redisConn{}, errors.New("redis URL: cluster= must be true (a Redis Cluster) or false")
		}
		cluster = on
	}
	switch {
	case cluster && query.Has("master_name"):
		return redisConn{}, errors.New("redis URL: cluster=true and master_name= do not go together: a Redis Cluster fails over by itself, without Sentinels")
	case cluster:
		return newClusterClient(u, query, timeout)
	case query.Has("master_name"):
		return newFailoverClient(rawURL, timeout)
	}
	if query.Has("cluster") {
		// cluster=false: a plain URL, which ParseURL would refuse for it.
		query.Del("cluster")
		u.RawQuery = query.Encode()
		rawURL = u.String()
	}
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		if query.Has("addr") {
			return redisConn{}, errors.New("redis URL: addr= lists more servers: Sentinels, which need master_name= too (the name they know the primary by), or nodes of a Redis Cluster, which need cluster=true")
		}
		return redisConn{}, fmt.Errorf("redis URL: %w", redactURLError(err, "a Sentinel's"))
	}
	tuning{
		&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.MaxRetries, &opt.DialerRetries,
		&opt.ContextTimeoutEnabled, &opt.DisableIdentity,
	}.apply(timeout, 1)
	return redisConn{client: redis.NewClient(opt), readTimeout: opt.ReadTimeout}, nil
}

func newFailoverClient(rawURL string, timeout time.Duration) (redisConn, error) {
	opt, err := redis.ParseFailoverURL(rawURL)
	if err != nil {
		return redisConn{}, fmt.Errorf("redis URL: %w", redactURLError(err, "a Sentinel's"))
	}
	if opt.MasterName == "" {
		return redisConn{}, errors.New("redis URL: master_name is empty: give the name the Sentinels know the primary by (master_name=mymaster)")
	}
	if opt.Username == "" && opt.Password == "" {
		// ParseFailoverURL gives the URL's user and password to the
		// Sentinels only; most deployments protect the Sentinels and the
		// data nodes with the same one, and the query can say otherwise.
		opt.Username, opt.Password = opt.SentinelUsername, opt.SentinelPassword
	}
	tuning{
		&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.MaxRetries, &opt.DialerRetries,
		&opt.ContextTimeoutEnabled, &opt.DisableIdentity,
	}.apply(timeout, 1)
	client := redis.NewFailoverClient(opt)
	client.AddHook(sentinelLookup{})
	return redisConn{client: client, sentinel: true, readTimeout: opt.ReadTimeout}, nil
}

// newClusterClient reads a cluster URL, u with query, whose cluster=true
// go-redis does not know.
func newClusterClient(u *url.URL, query url.Values, timeout time.Duration) (redisConn, error) {
	if p := strings.TrimPrefix(u.Path, "/"); p != "" && p != "0" {
		return redisConn{}, errors.New("redis URL: a Redis Cluster has database 0 only: end the URL with /0, or no path")
	}
	query.Del("cluster")
	v := *u
	v.Path, v.RawPath, v.RawQuery = "", "", query.Encode()
	opt, err := redis.ParseClusterURL(v.String())
	if err != nil {
		return redisConn{}, fmt.Errorf("redis URL: %w", redactURLError(err, "a cluster node's"))
	}
	// No retry on the node itself (go-redis's own default for a cluster):
	// the cluster client already tries the node again, then another one,
	// which is what follows a failover.
	tuning{
		&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.MaxRetries, &opt.DialerRetries,
		&opt.ContextTimeoutEnabled, &opt.DisableIdentity,
	}.apply(timeout, -1)
	client := redis.NewClusterClient(opt)
	call := 2 * max(opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout)
	client.AddHook(callDeadline(call))
	return redisConn{client: client, cluster: client, readTimeout: opt.ReadTimeout, callTimeout: call}, nil
}

// callDeadline bounds each call of a cluster client, its retries
// included. Against a primary that accepts connections and never answers,
// the cluster client tries it, tries it again, asks another node (which
// sends it back: MOVED) and tries it once more, each try a read timeout
// long, and a pipeline across the primaries (RedisReplay.Refresh) longer
// still: eight seconds and more where one Redis fails within two timeouts.
// The deadline keeps a cluster to those two.
type callDeadline time.Duration

func (d callDeadline) DialHook(next redis.DialHook) redis.DialHook { return next }

func (d callDeadline) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		ctx, cancel := context.WithTimeout(ctx, time.Duration(d))
		defer cancel()
		return next(ctx, cmd)
	}
}

func (d callDeadline) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		ctx, cancel := context.WithTimeout(ctx, time.Duration(d))
		defer cancel()
		return next(ctx, cmds)
	}
}

// tuning points at the fields NewRedis sets in a redis.Options or a
// redis.FailoverOptions, which share them but no type.
type tuning struct {
	dialTimeout, readTimeout, writeTimeout *time.Duration
	maxRetries, dialerRetries              *int
	contextTimeout, disableIdentity        *bool
}

// apply sets timeout for each timeout the URL left unset, retries for
// max_retries unless the URL sets it, and the rest whatever the URL says.
func (t tuning) apply(timeout time.Duration, retries int) {
	for _, d := range []*time.Duration{t.dialTimeout, t.readTimeout, t.writeTimeout} {
		if *d == 0 {
			*d = timeout
		}
	}
	if *t.maxRetries == 0 {
		// One retry rides out a connection Redis closed while idle; more
		// would only delay the 503 while Redis is down.
		*t.maxRetries = retries
	}
	if *t.dialerRetries == 0 {
		// The same for dialling: go-redis' default of five dials 100 ms
		// apart makes every call take half a second to fail.
		*t.dialerRetries = 1
	}
	// A request's own deadline (its client gave up) ends the wait too.
	*t.contextTimeout = true
	// No CLIENT SETINFO on connect: managed Redis services and older
	// servers refuse it, and it says nothing an operator needs.
	*t.disableIdentity = true
}

// sentinelLookup rewords the dial error of a failover client whose
// Sentinels answer nil for the master name: go-redis calls them all
// unreachable and wraps redis.Nil, which a caller would take for a
// missing key (RedisRecords.Get: a session that is not there).
type sentinelLookup struct{}

func (sentinelLookup) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil && errors.Is(err, redis.Nil) {
			return nil, errors.New("redis: no Sentinel knows the primary by the URL's master_name (check its spelling and the Sentinels' monitor lines)")
		}
		return conn, err
	}
}

func (sentinelLookup) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (sentinelLookup) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// redactURLError keeps the kind of a URL parse error and drops its text,
// which can quote the URL. addr says whose address an addr= parameter is.
func redactURLError(err error, addr string) error {
	if _, ok := errors.AsType[*url.Error](err); ok {
		return errors.New("not a URL (is the password URL-escaped?)")
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "URL scheme"):
		return errors.New("the scheme must be redis:// or rediss:// (TLS)")
	case strings.Contains(msg, "database number"), strings.Contains(msg, "URL path"):
		return errors.New("the path must be a database number, like /0")
	case strings.Contains(msg, "addr param"):
		return fmt.Errorf("each addr= must be %s host:port", addr)
	case strings.Contains(msg, "unexpected option"), strings.Contains(msg, "invalid"):
		return errors.New("a query parameter is unknown or malformed (see redis.ParseURL, redis.ParseFailoverURL with master_name, or redis.ParseClusterURL with cluster=true)")
	}
	return errors.New("not a usable redis:// or rediss:// URL")
}

// Ping reports whether Redis answers, for a role's /readyz: on a Redis
// Cluster, every primary, within callDeadline. Its error wraps
// ErrUnavailable.
func (r *Redis) Ping(ctx context.Context) error {
	if r.cluster != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.callTimeout)
		defer cancel()
	}
	return unavailable(r.eachPrimary(ctx, func(ctx context.Context, c redis.Cmdable) error {
		return c.Ping(ctx).Err()
	}))
}

// eachPrimary calls fn with the client, or on a Redis Cluster with each
// primary's (at once), and returns the first error. What walks the keys
// (SCAN) must go to every primary: each holds only its own slots.
func (r *Redis) eachPrimary(ctx context.Context, fn func(context.Context, redis.Cmdable) error) error {
	if r.cluster == nil {
		return fn(ctx, r.client)
	}
	return r.cluster.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return fn(ctx, c) })
}

// Under returns stores on the same connection pool whose keys and channel
// start with the prefix followed by sub: one pool for a role's replay
// store and for the revocations it shares with the chain's other roles.
func (r *Redis) Under(sub string) *Redis {
	u := *r
	u.prefix = r.prefix + sub
	return &u
}

// Close ends the revocation subscriptions, waits for them to stop and
// closes the connection pool, which Under's stores share; the stores fail
// after it.
func (r *Redis) Close() error {
	r.life.mu.Lock()
	r.life.closed = true
	r.life.mu.Unlock()
	r.life.cancel()
	r.life.subs.Wait()
	return r.client.Close()
}

// Replay returns the replay store, keys "<prefix>jti:<jti>" (on a Redis
// Cluster "{<prefix><bucket>:}jti:<jti>", see Redis).
func (r *Redis) Replay() *RedisReplay {
	// One id per instance is enough: once it has written an epoch, it has
	// seen one, so a later epoch it writes is a reset, not a first start.
	var id [12]byte
	_, _ = rand.Read(id[:])
	return &RedisReplay{r: r, id: base64.RawURLEncoding.EncodeToString(id[:]), seen: make([]string, r.buckets())}
}

// Revocations returns the revocation store, keys "<prefix>revoked:<session
// id>", each revocation also published on "<prefix>revocations" (on a
// Redis Cluster "{<prefix>}revoked:<session id>" and, sharded,
// "{<prefix>}revocations"). Each call returns a store with a mirror of its
// own: subscribe the one you read.
func (r *Redis) Revocations() *RedisRevocations { return &RedisRevocations{r: r} }

// clusterBuckets is how many epochs a replay store keeps on a Redis
// Cluster, each guarding the jtis that hash to it: enough for the jtis to
// spread evenly over the primaries of any usual cluster, few enough that
// a readiness check reads them all in one pipeline.
const clusterBuckets = 64

// buckets is how many epochs a replay store keeps: one, but for a cluster.
func (r *Redis) buckets() int {
	if r.cluster == nil {
		return 1
	}
	return clusterBuckets
}

// bucket is the epoch that guards jti: the same on every instance (FNV-1a,
// not a seeded hash), so they all find its key.
func (r *Redis) bucket(jti string) int {
	if r.cluster == nil {
		return 0
	}
	h := uint32(2166136261)
	for i := 0; i < len(jti); i++ {
		h ^= uint32(jti[i])
		h *= 16777619
	}
	return int(h % clusterBuckets)
}

// bucketPrefix starts the keys of a bucket's jtis and its epoch: the
// prefix, on a cluster as the bucket's hash tag.
func (r *Redis) bucketPrefix(bucket int) string {
	if r.cluster == nil {
		return r.prefix
	}
	return "{" + r.prefix + string([]byte{'0' + byte(bucket/10), '0' + byte(bucket%10)}) + ":}"
}

// tagged is the prefix, on a cluster as a hash tag: the keys it starts are
// all in one slot (the revocations').
func (r *Redis) tagged() string {
	if r.cluster == nil {
		return r.prefix
	}
	return "{" + r.prefix + "}"
}

func (r *Redis) jtiKey(bucket int, jti string) string { return r.bucketPrefix(bucket) + "jti:" + jti }
func (r *Redis) epochKey(bucket int) string           { return r.bucketPrefix(bucket) + "epoch" }

func (r *Redis) revokedKey(sid string) string   { return r.tagged() + "revoked:" + sid }
func (r *Redis) revocationsChannel() string     { return r.tagged() + "revocations" }
func (r *Redis) ttl(until time.Time) (ms int64) { return ttlMillis(until.Sub(r.now())) }

// pattern matches the keys of one kind ("jti", "revoked") under the
// prefix, for SCAN.
func (r *Redis) pattern(kind string) string {
	switch {
	case r.cluster == nil:
		return escapeGlob(r.prefix) + kind + ":*"
	case kind == "jti":
		return "{" + escapeGlob(r.prefix) + "[0-9][0-9]:}jti:*"
	default:
		return "{" + escapeGlob(r.prefix) + "}" + kind + ":*"
	}
}

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
//
// On a Redis Cluster each primary can restart empty on its own, so an
// epoch guards only the jtis beside it: there are 64, one per bucket of
// jtis (see Redis), each kept and checked as above, and a primary's loss
// refuses only the tokens whose jtis hash to the buckets it held.
type RedisReplay struct {
	r  *Redis
	id string // the epoch id this instance writes when it finds none
	mu sync.Mutex
	// seen holds, per bucket, the id of the epoch this instance last saw;
	// "" none yet.
	seen []string
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
	res, err := s.run(ctx, s.r.bucket(jti), jti, ttl, issued)
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

// Refresh reads the epoch (on a cluster, every bucket's), writing a fresh
// one when there is none, so this instance can tell a later reset from a
// first start.
func (s *RedisReplay) Refresh(ctx context.Context) error {
	if s.r.cluster == nil {
		_, err := s.run(ctx, 0, "", -1, time.Time{})
		return err
	}
	// One pipeline, which the cluster client splits by primary and sends
	// to them at once; a script a primary does not know yet (NOSCRIPT, as
	// after its restart) is sent again whole.
	cmds := make([]*redis.Cmd, clusterBuckets)
	send := func(buckets []int, eval bool) error {
		_, err := s.r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, b := range buckets {
				keys, args := s.scriptArgs(b, "", -1, time.Time{})
				// The script only reads the epoch (KEYS[2]) here. Named
				// twice, it is one key to the cluster, which runs it while
				// the slot moves to another primary, where it would refuse
				// two keys, one missing (TRYAGAIN): readiness, which calls
				// Refresh, must not go red on every instance at once for a
				// resharding.
				keys[0] = keys[1]
				if eval {
					cmds[b] = replayScript.Eval(ctx, p, keys, args...)
				} else {
					cmds[b] = replayScript.EvalSha(ctx, p, keys, args...)
				}
			}
			return nil
		})
		return err
	}
	all := make([]int, clusterBuckets)
	for b := range all {
		all[b] = b
	}
	_ = send(all, false)
	var again []int
	for b, cmd := range cmds {
		if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			again = append(again, b)
		}
	}
	if len(again) > 0 {
		_ = send(again, true)
	}
	var first error
	for b, cmd := range cmds {
		if _, err := s.reply(b, cmd); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// run runs the replay script for jti in bucket ("" and ttl -1: only the
// epoch).
func (s *RedisReplay) run(ctx context.Context, bucket int, jti string, ttl int64, issued time.Time) (int64, error) {
	keys, args := s.scriptArgs(bucket, jti, ttl, issued)
	return s.reply(bucket, replayScript.Run(ctx, s.r.client, keys, args...))
}

func (s *RedisReplay) scriptArgs(bucket int, jti string, ttl int64, issued time.Time) (keys []string, args []any) {
	s.mu.Lock()
	seen := s.seen[bucket]
	s.mu.Unlock()
	issuedMS := issued.UnixMilli()
	if issued.IsZero() {
		issuedMS = math.MinInt64 // Refresh: no token
	}
	return []string{s.r.jtiKey(bucket, jti), s.r.epochKey(bucket)},
		[]any{ttl, s.r.now().UnixMilli(), issuedMS, seen, s.id}
}

// reply reads the replay script's answer for bucket and keeps the epoch
// it saw.
func (s *RedisReplay) reply(bucket int, cmd *redis.Cmd) (int64, error) {
	out, err := cmd.Slice()
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
		s.seen[bucket] = id
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
//
// Revoked runs on every forward-auth request, so once Subscribe has
// succeeded the store keeps a mirror of the revoked set in memory (a
// MemoryRevocations, bounded by RedisOptions.MirrorEntries) and answers
// from it, with no round trip, while the mirror is current:
//
//   - the subscription to "<prefix>revocations" is confirmed, and the mirror
//     was started empty at that confirmation (each resubscription, as after
//     an outage, starts another: what was published meanwhile is lost);
//   - a full load of the "<prefix>revoked:*" keys (SCAN, on a cluster on
//     every primary, then PTTL for each, pipelined), begun after that
//     confirmation, has completed;
//   - the subscription's connection answered a ping that was sent after the
//     confirmation and less than the lease (RedisOptions.MirrorLease, 1 s)
//     ago; pings go every third of the lease. Through Sentinels and on a
//     cluster the ping is a heartbeat PUBLISHed (SPUBLISHed) through the
//     pool on a channel of the subscription's own,
//     "<prefix>revocations:beat:<random>": it comes back only when the
//     subscription is on the primary writes go to, not on an old primary
//     still up after a failover, nor, on a cluster, while the slot moves
//     (see Redis.beat);
//   - the mirror is not full.
//
// Otherwise Revoked does what it would without a mirror: one EXISTS, and an
// error wrapping ErrUnavailable when Redis does not answer (fail closed).
//
// Why that is safe: a revocation is a key and a message, written in one
// MULTI. One completed before the confirmation is in Redis when the load
// walks the keys after it (SCAN returns every key present for the whole
// walk), and one completed after it is delivered on the subscription.
// Redis answers a ping after every message it published before it read
// the ping, and the mirror applies each message before it reads the next
// reply; so a pong for a ping sent at t proves the mirror holds every
// revocation completed before t. An answer from memory is thus at most one
// lease behind Redis, and when Redis or the network goes away the pongs
// stop and within a lease Revoked asks Redis again, which fails.
//
// Each message is "<until, unix ms> <session id>", and the mirror keeps the
// entry until that time by this instance's clock, the clock that also ends
// the session's cookies. A bare session id, from an instance not yet
// upgraded, is looked up with PTTL; when that fails the mirror is loaded
// afresh before it is trusted again. A key deleted by hand (which publishes
// nothing) stays revoked in the mirror until its until or the next load:
// the mirror errs towards revoked, never away from it.
type RedisRevocations struct {
	r      *Redis
	mirror atomic.Pointer[revocationMirror] // nil: none kept now
	// pong is when the last ping answered on the subscription that keeps
	// the mirror was sent, on the monotonic clock (mono).
	pong atomic.Int64
	// keeping is held by the one subscription that keeps the mirror;
	// further subscriptions only call their callbacks.
	keeping atomic.Bool
}

// revocationMirror is the revoked set as one subscription saw it, from
// its confirmation on.
type revocationMirror struct {
	set    *MemoryRevocations
	born   int64       // mono at the subscription's confirmation
	loaded atomic.Bool // the load begun after born has completed
	full   atomic.Bool
}

// noExpiry stands for a revocation key without a time to live (only set by
// hand): revoked for as long as the mirror lives.
const noExpiry = 100 * 365 * 24 * time.Hour

// mirrorFullRetry is how long a full mirror waits before it is loaded
// afresh, hoping enough revocations have expired meanwhile.
const mirrorFullRetry = time.Minute

func (m *revocationMirror) add(sessionID string, until time.Time) {
	if err := m.set.Revoke(context.Background(), sessionID, until); err != nil {
		m.full.Store(true) // ErrFull, the only error of a memory store
	}
}

// addTTL adds a session whose key PTTL answered ttl, measured no later than
// now, so the entry never ends before the key.
func (m *revocationMirror) addTTL(sessionID string, ttl time.Duration, now time.Time) {
	switch {
	case ttl == -1: // go-redis passes PTTL's -1 (no expiry) and -2 (no key) through unscaled
		m.add(sessionID, now.Add(noExpiry))
	case ttl > 0:
		m.add(sessionID, now.Add(ttl))
	}
}

// monoBase anchors mono, so the lease is measured on the monotonic clock
// whatever the wall clock (or an injected Now) does.
var monoBase = time.Now()

func mono() int64 { return int64(time.Since(monoBase)) }

// current returns the mirror when it is current (see RedisRevocations),
// else nil.
func (s *RedisRevocations) current() *revocationMirror {
	m := s.mirror.Load()
	if m == nil || !m.loaded.Load() || m.full.Load() {
		return nil
	}
	if p := s.pong.Load(); p < m.born || mono()-p >= int64(s.r.lease) {
		return nil
	}
	return m
}

// Current reports whether Revoked answers from the in-memory mirror now,
// without asking Redis.
func (s *RedisRevocations) Current() bool { return s.current() != nil }

// Revoke marks sessionID revoked until the given time. In one MULTI/EXEC it
// creates the key with that time to live if it is missing (SET NX PX),
// extends it if it is there and ends sooner (PEXPIRE GT, Redis 7), and
// publishes "<until, unix ms> <sessionID>" to the instances subscribed with
// Subscribe. Once Redis has accepted it, this instance's mirror holds it
// too. An until already past revokes nothing.
func (s *RedisRevocations) Revoke(ctx context.Context, sessionID string, until time.Time) error {
	ttl := s.r.ttl(until)
	if ttl <= 0 {
		return nil
	}
	key := s.r.revokedKey(sessionID)
	_, err := s.r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SetNX(ctx, key, 1, time.Duration(ttl)*time.Millisecond)
		p.Do(ctx, "pexpire", key, ttl, "gt")
		s.r.publish(ctx, p, s.r.revocationsChannel(), revocationMessage(sessionID, until))
		return nil
	})
	if err != nil {
		return unavailable(err)
	}
	if m := s.mirror.Load(); m != nil {
		m.add(sessionID, until)
	}
	return nil
}

// revocationMessage is what Revoke publishes, its until rounded up to the
// millisecond so that no instance forgets the revocation early.
func revocationMessage(sessionID string, until time.Time) string {
	ms := until.UnixMilli()
	if until.After(time.UnixMilli(ms)) {
		ms++
	}
	return strconv.FormatInt(ms, 10) + " " + sessionID
}

// parseRevocation reads a published message. ok is false for a bare
// session id, as an older instance publishes.
func parseRevocation(payload string) (sessionID string, until time.Time, ok bool) {
	ms, sid, found := strings.Cut(payload, " ")
	if !found {
		return payload, time.Time{}, false
	}
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil || n <= 0 {
		return payload, time.Time{}, false // an older instance's id with a space in it
	}
	return sid, time.UnixMilli(n), true
}

// Revoked reports whether sessionID is revoked: from the mirror when it is
// current, else with one EXISTS.
func (s *RedisRevocations) Revoked(ctx context.Context, sessionID string) (bool, error) {
	if m := s.current(); m != nil {
		return m.set.Revoked(ctx, sessionID)
	}
	n, err := s.r.client.Exists(ctx, s.r.revokedKey(sessionID)).Result()
	if err != nil {
		return false, unavailable(err)
	}
	return n > 0, nil
}

// Len counts the live revocations under the prefix: in the mirror when it
// is current, else as RedisReplay.Len does.
func (s *RedisRevocations) Len() int {
	if m := s.current(); m != nil {
		return m.set.Len()
	}
	return s.r.count("revoked")
}

// Subscribe calls revoked with every session id any instance revokes from
// now on, until ctx ends or the Redis is closed, so an instance can drop
// what it cached about the session at once; the same subscription keeps
// the mirror Revoked answers from (see RedisRevocations). It returns when
// the subscription is in place, or with an error wrapping ErrUnavailable.
// After an outage the subscription is made again by itself, and the mirror
// loaded again before it is trusted.
func (s *RedisRevocations) Subscribe(ctx context.Context, revoked func(sessionID string)) error {
	life := s.r.life
	life.mu.Lock()
	if life.closed {
		life.mu.Unlock()
		return unavailable(redis.ErrClosed)
	}
	life.subs.Add(1)
	life.mu.Unlock()
	channels := []string{s.r.revocationsChannel()}
	if s.r.beats() {
		var id [12]byte
		_, _ = rand.Read(id[:])
		channels = append(channels, s.r.revocationsChannel()+":beat:"+base64.RawURLEncoding.EncodeToString(id[:]))
	}
	ps := s.r.subscribe(ctx, channels)
	// Bounded by the read timeout like every other call: Receive alone has
	// no deadline, and a Redis that accepts connections but never answers
	// would hold the caller (a role starting up) for ever.
	if _, err := ps.ReceiveTimeout(ctx, s.r.readTimeout); err != nil {
		_ = ps.Close()
		life.subs.Done()
		s.r.reloadSlots() // a MOVED: the cluster changed since the client last asked
		return unavailable(err)
	}
	go s.follow(ctx, &subscription{ps: ps, channels: channels}, revoked)
	return nil
}

// beats reports whether the revocation mirror proves where its
// subscription is with heartbeats, published through the pool on a
// channel of the subscription's own, rather than with PINGs on the
// subscription's connection: through Sentinels and on a cluster, where
// the server writes go to can change under a connection that still
// answers.
func (r *Redis) beats() bool { return r.sentinel || r.cluster != nil }

// subscribe subscribes to channels: on a cluster with sharded pub/sub
// (SSUBSCRIBE), on the primary that holds their slot.
//
// Classic PUBLISH on a cluster reaches every node over the cluster bus, a
// hop that a pong on the subscriber's node does not wait for; a sharded
// message is delivered by the primary that runs the SPUBLISH, the one
// that holds the revocation keys, in order with its replies, as on one
// Redis. And when that primary loses the slot (a failover, a resharding)
// it ends the subscription (sunsubscribe), so none lingers on a node that
// no longer takes the writes.
func (r *Redis) subscribe(ctx context.Context, channels []string) *redis.PubSub {
	if r.cluster != nil {
		return r.client.SSubscribe(ctx, channels...)
	}
	return r.client.Subscribe(ctx, channels...)
}

// publish publishes to channel through c: on a cluster with SPUBLISH, see
// subscribe.
func (r *Redis) publish(ctx context.Context, c redis.Cmdable, channel, message string) *redis.IntCmd {
	if r.cluster != nil {
		return c.SPublish(ctx, channel, message)
	}
	return c.Publish(ctx, channel, message)
}

// beat publishes a heartbeat on channel through the pool. On a cluster it
// goes the way a revocation of a session not yet revoked goes: in one
// MULTI with a key of the slot, one never written (EXISTS). While the slot
// moves between primaries such a revocation runs on the new one (ASK) or
// not at all (TRYAGAIN), and the beat alike, so a subscription still on
// the old primary hears none and the mirror is not trusted until the move
// is done and it has subscribed on the new one.
func (r *Redis) beat(ctx context.Context, channel, message string) error {
	if r.cluster == nil {
		return r.client.Publish(ctx, channel, message).Err()
	}
	_, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Exists(ctx, channel+":unset")
		p.SPublish(ctx, channel, message)
		return nil
	})
	return err
}

// reloadSlots has a cluster client ask the cluster which primary holds
// which slots, in the background; go-redis otherwise does so only on a
// MOVED reply to a command or every few seconds. Elsewhere it does
// nothing.
func (r *Redis) reloadSlots() {
	if r.cluster != nil {
		r.cluster.ReloadState(context.Background())
	}
}

// subscription is the PubSub a follow loop reads, which another goroutine
// may close to end a blocked read at once.
type subscription struct {
	mu     sync.Mutex
	ps     *redis.PubSub // written only by the follow loop, under mu
	closed bool
	// channels are the revocations channel and, through Sentinels and on
	// a cluster, this subscription's heartbeat channel.
	channels []string
}

func (c *subscription) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		_ = c.ps.Close()
	}
}

// renew subscribes on a new connection in place of the current one.
func (c *subscription) renew(ctx context.Context, r *Redis) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	_ = c.ps.Close()
	c.ps = r.subscribe(ctx, c.channels)
}

// follow reads the subscription whose first confirmation Subscribe has
// read, until ctx ends or the Redis closes. It pings, keeps the mirror
// (when no other subscription does) and calls revoked. Everything the
// mirror's correctness rests on happens here, in order, on one goroutine.
func (s *RedisRevocations) follow(ctx context.Context, sub *subscription, revoked func(string)) {
	life := s.r.life
	defer life.subs.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(life.ctx, cancel)()
	defer sub.close()
	defer context.AfterFunc(ctx, sub.close)() // a blocked read ends at once

	keeps := s.keeping.CompareAndSwap(false, true)
	if keeps {
		defer s.keeping.Store(false)
		defer s.mirror.Store(nil)
	}
	var (
		channel = s.r.revocationsChannel()
		beat    string                 // the heartbeat channel (Redis.beats); "" none
		every   = int64(s.r.lease / 3) // between pings
		m       *revocationMirror      // the mirror this loop keeps; nil none
		load    bool                   // m still needs its load
		loadAt  int64                  // when to try the load (again)
		ping    int64                  // when to ping next
		heard   = mono()               // when the connection last answered
	)
	if len(sub.channels) > 1 {
		beat = sub.channels[1]
	}
	// restart starts an empty mirror and loads it: at a confirmation, and
	// whenever what the mirror holds is in doubt. A load may begin at any
	// time the subscription is live: what it misses of a revocation
	// completed before it began was published after the confirmation.
	restart := func() {
		if keeps {
			m = &revocationMirror{
				set:  NewMemoryRevocations(MemoryOptions{MaxEntries: s.r.bound, Now: s.r.now}),
				born: mono(),
			}
			s.mirror.Store(m)
			load, loadAt = true, 0
		}
	}
	drop := func() {
		if keeps {
			s.mirror.Store(nil)
			m, load = nil, false
		}
	}
	restart() // Subscribe has read the confirmation
	for ctx.Err() == nil {
		now := mono()
		if load && now >= loadAt {
			if err := s.load(ctx, m); err != nil {
				loadAt = mono() + every
			} else {
				m.loaded.Store(true)
				load, ping = false, 0 // current at the next pong: ask for it now
			}
			// The connection was not read meanwhile: a long load is no
			// sign of its silence.
			now = mono()
			heard = max(heard, now)
		}
		if m != nil && m.full.Load() && now-m.born > int64(mirrorFullRetry) {
			restart()
		}
		if now-heard > 3*int64(s.r.lease) {
			// Pings go unanswered on a connection that has not failed, as
			// when the network drops packets: subscribe afresh rather than
			// wait minutes for TCP to give up.
			drop()
			s.r.reloadSlots()
			sub.renew(ctx, s.r)
			heard = mono()
		}
		if now >= ping {
			if beat == "" {
				_ = sub.ps.Ping(ctx, strconv.FormatInt(now, 10))
			} else {
				// Through the pool, so to the primary writes go to: heard
				// back only on a subscription to that same server.
				bctx, cancel := context.WithTimeout(ctx, time.Duration(every))
				_ = s.r.beat(bctx, beat, strconv.FormatInt(now, 10))
				cancel()
			}
			ping = now + every
		}
		msg, err := sub.ps.ReceiveTimeout(ctx, time.Duration(max(ping-mono(), int64(time.Millisecond))))
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, redis.ErrClosed) {
				return
			}
			if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
				continue // nothing came before the next ping is due
			}
			// The connection failed: what is published until go-redis
			// subscribes again is lost to this mirror.
			drop()
			sleep(ctx, time.Duration(every))
			if _, ok := errors.AsType[redis.Error](err); ok && s.r.cluster != nil {
				// A reply, not a broken connection, which go-redis would
				// mend: SSUBSCRIBE sent where the slot no longer is
				// (MOVED). Ask the cluster again and subscribe afresh.
				s.r.reloadSlots()
				sub.renew(ctx, s.r)
			}
			continue
		}
		heard = mono()
		switch msg := msg.(type) {
		case *redis.Subscription:
			switch {
			case msg.Channel != channel:
			case msg.Kind == "subscribe", msg.Kind == "ssubscribe":
				restart()
			case msg.Kind == "sunsubscribe":
				// The primary lost the slot (see Redis.subscribe):
				// subscribe where it is now, and start over there.
				drop()
				s.r.reloadSlots()
				sub.renew(ctx, s.r)
			}
		case *redis.Pong:
			if sent, err := strconv.ParseInt(msg.Payload, 10, 64); err == nil && keeps {
				s.pong.Store(sent)
			}
		case *redis.Message:
			if msg.Channel == beat {
				if sent, err := strconv.ParseInt(msg.Payload, 10, 64); err == nil && keeps {
					s.pong.Store(sent)
				}
				break
			}
			sid, until, ok := parseRevocation(msg.Payload)
			switch {
			case m == nil:
			case ok:
				m.add(sid, until)
			default:
				if err := s.lookup(ctx, m, sid); err != nil {
					restart()
				}
			}
			if revoked != nil {
				revoked(sid)
			}
		}
	}
}

// load adds every revocation key under the prefix to m, with its time to
// live: on a cluster, from every primary. It stops early, without an
// error, when m is full.
func (s *RedisRevocations) load(ctx context.Context, m *revocationMirror) error {
	return unavailable(s.r.eachPrimary(ctx, func(ctx context.Context, c redis.Cmdable) error {
		return s.loadFrom(ctx, c, m)
	}))
}

func (s *RedisRevocations) loadFrom(ctx context.Context, c redis.Cmdable, m *revocationMirror) error {
	prefix := s.r.revokedKey("")
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, s.r.pattern("revoked"), 1000).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			ttls := make([]*redis.DurationCmd, len(keys))
			if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, k := range keys {
					ttls[i] = p.PTTL(ctx, k)
				}
				return nil
			}); err != nil {
				return err
			}
			now := s.r.now() // after the answers: no entry ends before its key
			for i, k := range keys {
				m.addTTL(strings.TrimPrefix(k, prefix), ttls[i].Val(), now)
			}
		}
		if next == 0 || m.full.Load() {
			return nil
		}
		cursor = next
	}
}

// lookup adds sessionID to m with its key's time to live, for a message
// that did not carry its until.
func (s *RedisRevocations) lookup(ctx context.Context, m *revocationMirror, sessionID string) error {
	ttl, err := s.r.client.PTTL(ctx, s.r.revokedKey(sessionID)).Result()
	if err != nil {
		return err
	}
	m.addTTL(sessionID, ttl, s.r.now())
	return nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// count walks the keys of one kind under the prefix, on a cluster on
// every primary.
func (r *Redis) count(kind string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var n atomic.Int64
	err := r.eachPrimary(ctx, func(ctx context.Context, c redis.Cmdable) error {
		it := c.Scan(ctx, 0, r.pattern(kind), 1000).Iterator()
		for it.Next(ctx) {
			n.Add(1)
		}
		return it.Err()
	})
	if err != nil {
		return 0
	}
	return int(n.Load())
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
