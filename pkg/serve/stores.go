package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve/store"
)

// ErrStoreConfig is a chain whose store block cannot be used as written:
// the Redis URL's variable is unset, or its value is not a Redis URL.
var ErrStoreConfig = errors.New("store is misconfigured")

// sizedReplayStore and sizedRevocationStore are a receiver's stores with
// the size its store gauge reports (Metrics.RegisterStoreSize).
type (
	sizedReplayStore interface {
		store.ReplayStore
		Len() int
	}
	sizedRevocationStore interface {
		store.RevocationStore
		Len() int
	}
)

// newReceiverStores returns the replay and revocation stores of one
// receiver, as the chain's store block says (DESIGN §10), and what the
// receiver's /readyz must check besides the IdP (nil: nothing).
//
// Memory, the default, keeps both in the process: right for one instance
// per receiver. Redis shares them between every instance: jtis under
// "ssoctl:<chain>:<receiver>:", as a token is for one audience; revocations
// under "ssoctl:<chain>:shared:", as a session id is the IdP's and a
// session signed out at one receiver is signed out at all.
func newReceiverStores(c *chain.Chain, receiver string, env Env) (sizedReplayStore, sizedRevocationStore, func(context.Context) error, error) {
	env.defaults()
	if c.Store.Redis == nil {
		o := memoryOptions(c, env)
		return store.NewMemoryReplay(o), store.NewMemoryRevocations(o), nil, nil
	}
	r, err := openRedis(c, env)
	if err != nil {
		return nil, nil, nil, err
	}
	revocations := chainRevocations{
		RedisRevocations: r.Under("shared:").Revocations(),
		pool:             r,
		longest:          longestCookieTTL(c),
		now:              env.Now,
	}
	replay := r.Under(receiver + ":").Replay()
	return replay, revocations, replayReady(replay), nil
}

// memoryOptions are the options of the chain's memory stores:
// store.memory.max_entries, 0 (the default) when unset.
func memoryOptions(c *chain.Chain, env Env) store.MemoryOptions {
	o := store.MemoryOptions{Now: env.Now}
	if c.Store.Memory != nil {
		o.MaxEntries = c.Store.Memory.MaxEntries
	}
	return o
}

// replayReady learns a Redis replay store's epoch now, so a Redis that
// restarts empty later is told from a first start (store.RedisReplay;
// with Redis down, the first readiness check or consumed jti learns it
// instead), and returns the role's /readyz check of its store: Refresh
// is a round trip to Redis too, so it serves as the ping.
func replayReady(replay *store.RedisReplay) func(context.Context) error {
	ctx, cancel := context.WithTimeout(context.Background(), store.DefaultRedisTimeout)
	_ = replay.Refresh(ctx)
	cancel()
	return func(ctx context.Context) error {
		if err := replay.Refresh(ctx); err != nil {
			return Unavailable("store", err)
		}
		return nil
	}
}

// openRedis opens the connection pool of the chain's store.redis, keys
// under "ssoctl:<chain>:". It does not connect.
func openRedis(c *chain.Chain, env Env) (*store.Redis, error) {
	field, name := "store.redis.url_env", c.Store.Redis.URLEnv
	url, ok := env.LookupEnv(name)
	if f := c.Store.Redis.URLFile; f != "" {
		field, name = "store.redis.url_file", f
		data, err := env.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("%w: store.redis.url_file: %w", ErrStoreConfig, err)
		}
		url, ok = string(data), true
	}
	url = strings.TrimSpace(url)
	if !ok || url == "" {
		return nil, fmt.Errorf("%w: %s: %s is not set or empty; give it the Redis URL (redis://:PASSWORD@HOST:6379/0, rediss:// for TLS)", ErrStoreConfig, field, name)
	}
	r, err := store.NewRedis(store.RedisOptions{URL: url, Prefix: "ssoctl:" + c.Name + ":", Now: env.Now})
	if err != nil {
		// NewRedis's error never repeats the URL.
		return nil, fmt.Errorf("%w: %s: %s: %w", ErrStoreConfig, field, name, err)
	}
	return r, nil
}

// issuerStores puts an OIDC issuer's provider sessions and the provider's
// used logout tokens in Redis when the chain's store block says so, so
// that every issuer instance finds, re-checks and ends the same sessions
// and refuses a logout token another instance took; keys under
// "ssoctl:<chain>:issuer:". Their records are sealed with a key derived
// from secret, the issuer's cookie key material. It returns the logout
// token store, the issuer's /readyz check of Redis, and what closes the
// connection pool. With memory stores the logout tokens are kept in the
// process, bounded by store.memory.max_entries (the sessions' bound,
// max_sessions, is NewIdentityProvider's); with another IdP it returns
// nils.
func issuerStores(c *chain.Chain, p *OIDC, secret []byte, previous [][]byte, env Env) (logoutJTIs store.ReplayStore, ready func(context.Context) error, closer func() error, err error) {
	if p == nil {
		return nil, nil, nil, nil
	}
	if c.Store.Redis == nil {
		env.defaults()
		return store.NewMemoryReplay(memoryOptions(c, env)), nil, nil, nil
	}
	r, err := openRedis(c, env)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("issuer: %w", err)
	}
	under := r.Under("issuer:")
	sessions, err := newRedisOIDCSessions(under.Under("oidc:").Records(), secret, previous...)
	if err != nil {
		_ = r.Close()
		return nil, nil, nil, err
	}
	p.sessions = sessions
	replay := under.Replay()
	return replay, replayReady(replay), r.Close, nil
}

// chainRevocations is the revocation store the receivers of a chain share
// in Redis. A receiver revokes a session for as long as its own cookie can
// live; shared, the revocation must cover the longest-lived cookie of the
// chain, or a receiver with a longer cookie would take the session back
// when the shorter revocation ends.
type chainRevocations struct {
	*store.RedisRevocations
	pool    *store.Redis // shared with the receiver's replay store
	longest time.Duration
	now     func() time.Time
}

// Close closes the receiver's Redis connection pool, which its replay
// store shares: both stores fail after it.
func (s chainRevocations) Close() error { return s.pool.Close() }

// sharedRevocations is a revocation store several instances share, which
// also tells every instance of each revocation as it happens: Redis, with
// PUBLISH. Memory stores are not: one instance needs no telling. Current
// reports whether Revoked answers from the instance's mirror rather than
// asking Redis (the gauge ssoctl_revocation_mirror_current).
type sharedRevocations interface {
	sizedRevocationStore
	Subscribe(ctx context.Context, revoked func(sessionID string)) error
	Current() bool
	Close() error
}

// subscribeRetry is how often an instance that could not subscribe to
// revocations (Redis down as it started) tries again.
const subscribeRetry = time.Second

// followRevocations calls forget with the session id of every revocation
// any instance makes, until ctx ends: an instance that cached an IdP check
// for the session drops it at once. (The revocation key already refuses the
// session everywhere; the dropped check matters once the key is gone, as
// after a Redis restarted without persistence, when the next request asks
// the IdP again instead of trusting a check made before the logout.)
//
// The first attempt is made before followRevocations returns, so a role
// built with Redis up follows from its first request. When Redis is down it
// tries again every subscribeRetry in a goroutine that wg tracks; once
// subscribed, go-redis resubscribes by itself after an outage.
func followRevocations(ctx context.Context, wg *sync.WaitGroup, s sharedRevocations, forget func(sessionID string), log *slog.Logger) {
	err := s.Subscribe(ctx, forget)
	if err == nil {
		return
	}
	log.Warn("revocations: not subscribed, trying again every second; until then only this instance's own revocations drop its cached IdP checks", "err", err)
	wg.Go(func() {
		t := time.NewTicker(subscribeRetry)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := s.Subscribe(ctx, forget); err == nil {
				log.Info("revocations: subscribed")
				return
			}
		}
	})
}

// Revoke revokes sessionID until until or the longest cookie lifetime from
// now, whichever is later. An until already past still revokes nothing.
func (s chainRevocations) Revoke(ctx context.Context, sessionID string, until time.Time) error {
	now := s.now()
	if until.After(now) {
		until = later(until, now.Add(s.longest))
	}
	return s.RedisRevocations.Revoke(ctx, sessionID, until)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// longestCookieTTL is the longest cookie lifetime of the issuer and the
// receivers ssoctl serves.
func longestCookieTTL(c *chain.Chain) time.Duration {
	longest := c.Issuer.Cookie.TTL
	for _, r := range c.Receivers {
		if !r.SharedCookie {
			longest = max(longest, r.Cookie.TTL)
		}
	}
	return longest
}

// allReady is ready when every check in checks (nil ones skipped) is.
func allReady(checks ...func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		var errs []error
		for _, check := range checks {
			if check == nil {
				continue
			}
			if err := check(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
}
