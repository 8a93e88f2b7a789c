package serve

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssoctl/ssoctl/pkg/serve/store"
)

// An OIDC issuer's provider sessions live in an oidcSessionStore: the
// issuer's memory (the default, bounded, for one issuer instance), or
// Redis with store: {redis: …}, where every issuer instance behind the
// load balancer finds, re-checks and ends the same sessions.

// oidcRecord is one login the issuer finished with the provider. A record
// is never changed in place: an update (a re-check's new tokens) is a new
// record swapped for the one read, and only while that one is still there,
// so an update never brings back a session that another request, or
// another instance, ended meanwhile.
type oidcRecord struct {
	Sess      Session       `json:"session"`
	IDToken   string        `json:"id_token"` // raw, for id_token_hint at logout
	Token     *oauth2.Token `json:"token,omitempty"`
	Checked   time.Time     `json:"checked"`
	Providers string        `json:"provider_sid,omitempty"` // the provider's own sid, when the ID token had one

	sealed []byte // Redis: the value as read, for compare-and-set
}

// matches reports whether a provider's logout naming sid and sub ends r:
// the session with that sid (and that sub, when given), or, with only sub,
// every session of that identity.
func (r *oidcRecord) matches(sid, sub string) bool {
	if sid != "" {
		return r.Providers == sid && (sub == "" || r.Sess.IdentityID == sub)
	}
	return sub != "" && r.Sess.IdentityID == sub
}

// oidcSessionStore keeps an OIDC issuer's provider sessions. Errors other
// than ErrOIDCSessionsFull are the store failing (Redis unreachable).
type oidcSessionStore interface {
	// reserve takes a place for a login about to be redeemed, or refuses
	// with ErrOIDCSessionsFull, or with the store's failure when it could
	// not keep the login; release gives it back unless put used it.
	reserve(ctx context.Context, now time.Time) error
	release()
	// put stores a new login under rec.Sess.ID, replacing one there.
	put(ctx context.Context, rec *oidcRecord) error
	// get returns the session under id; nil and no error when none.
	get(ctx context.Context, id string) (*oidcRecord, error)
	// swap replaces old (as get returned it) with next, and remove ends
	// old, each only while old is still what the store holds.
	swap(ctx context.Context, old, next *oidcRecord) (bool, error)
	remove(ctx context.Context, old *oidcRecord) (bool, error)
	// matching returns the sessions a provider's logout may name (a
	// superset: the caller checks matches).
	matching(ctx context.Context, sid, sub string) ([]*oidcRecord, error)
	// lock lets one instance at a time re-check a session with the
	// provider; ok is false while another does. held is ctx ending before
	// the lock can lapse: work under it never overlaps another holder's.
	lock(ctx context.Context, id string) (held context.Context, unlock func(), ok bool, err error)
}

// memoryOIDCSessions keeps the sessions in the process, at most max of
// them: revoked sessions leave at once, expired ones are swept out at a
// login a minute after the last sweep, or at once when no place is left.
type memoryOIDCSessions struct {
	sessions sync.Map // session id → *oidcRecord
	// held counts the sessions in the map plus the places logins under
	// way have reserved; it never exceeds max.
	held    atomic.Int64
	max     int64
	sweepMu sync.Mutex   // one sweep at a time
	swept   atomic.Int64 // when the last sweep began, Unix nanoseconds
}

func newMemoryOIDCSessions(max int, now time.Time) *memoryOIDCSessions {
	m := &memoryOIDCSessions{max: int64(max)}
	m.swept.Store(now.UnixNano())
	return m
}

func (m *memoryOIDCSessions) reserve(_ context.Context, now time.Time) error {
	if now.UnixNano()-m.swept.Load() >= int64(oidcSweepEvery) {
		m.sweep(now)
	}
	if m.held.Add(1) <= m.max {
		return nil
	}
	m.held.Add(-1)
	m.sweep(now)
	if m.held.Add(1) <= m.max {
		return nil
	}
	m.held.Add(-1)
	return fmt.Errorf("%w (%d, none ended)", ErrOIDCSessionsFull, m.max)
}

func (m *memoryOIDCSessions) release() { m.held.Add(-1) }

// sweep drops the sessions past their expiry. Dropping one changes no
// answer: in the issuer's process an unknown session is ErrNoSession, as
// an ended one is.
func (m *memoryOIDCSessions) sweep(now time.Time) {
	m.sweepMu.Lock()
	defer m.sweepMu.Unlock()
	m.swept.Store(now.UnixNano())
	m.sessions.Range(func(k, v any) bool {
		if !v.(*oidcRecord).Sess.Usable(now) && m.sessions.CompareAndDelete(k, v) {
			m.held.Add(-1)
		}
		return true
	})
}

func (m *memoryOIDCSessions) put(_ context.Context, rec *oidcRecord) error {
	if _, replaced := m.sessions.Swap(rec.Sess.ID, rec); replaced {
		m.held.Add(-1) // the replaced session's place is given back
	}
	return nil
}

func (m *memoryOIDCSessions) get(_ context.Context, id string) (*oidcRecord, error) {
	v, ok := m.sessions.Load(id)
	if !ok {
		return nil, nil
	}
	return v.(*oidcRecord), nil
}

func (m *memoryOIDCSessions) swap(_ context.Context, old, next *oidcRecord) (bool, error) {
	return m.sessions.CompareAndSwap(old.Sess.ID, old, next), nil
}

func (m *memoryOIDCSessions) remove(_ context.Context, old *oidcRecord) (bool, error) {
	if m.sessions.CompareAndDelete(old.Sess.ID, old) {
		m.held.Add(-1)
		return true, nil
	}
	return false, nil
}

func (m *memoryOIDCSessions) matching(_ context.Context, sid, sub string) ([]*oidcRecord, error) {
	var out []*oidcRecord
	m.sessions.Range(func(_, v any) bool {
		if r := v.(*oidcRecord); r.matches(sid, sub) {
			out = append(out, r)
		}
		return true
	})
	return out, nil
}

// lock always succeeds, and never lapses: in one process, the OIDC
// type's singleflight already lets one re-check of a session run at a time.
func (m *memoryOIDCSessions) lock(ctx context.Context, _ string) (context.Context, func(), bool, error) {
	return ctx, func() {}, true, nil
}

// len is the number of sessions held, for tests.
func (m *memoryOIDCSessions) len() int {
	n := 0
	m.sessions.Range(func(any, any) bool { n++; return true })
	return n
}

// redisOIDCSessions keeps the sessions in Redis (store.RedisRecords),
// sealed: each record holds the provider's refresh and access tokens, so
// it is encrypted and authenticated with AES-256-GCM under a key derived
// from the issuer's own cookie key, which every issuer instance shares,
// and bound to its session id. The indexes a provider's logout is looked
// up by (its sid, the subject) are keyed by an HMAC of the value, so
// Redis holds no subject in the clear. Each record expires with its
// session; Redis's maxmemory, not a count, bounds them (a Redis that
// refuses to grow is ErrOIDCSessionsFull).
type redisOIDCSessions struct {
	recs *store.RedisRecords
	// keys seal records and name indexes: the first, of the current
	// secret, writes; the others, of the issuer's previous secrets (a
	// rotation), still open the records they sealed and look up the
	// indexes they named.
	keys    []oidcSessionKeys
	lockFor time.Duration // refreshLock; shorter in tests
}

// oidcSessionKeys are the record and index keys one secret derives.
type oidcSessionKeys struct {
	aead  cipher.AEAD
	index []byte // HMAC key of the index names
}

func newOIDCSessionKeys(secret []byte) (oidcSessionKeys, error) {
	sealKey, err := DeriveKey(secret, "oidc-sessions:seal")
	if err != nil {
		return oidcSessionKeys{}, err
	}
	indexKey, err := DeriveKey(secret, "oidc-sessions:index")
	if err != nil {
		return oidcSessionKeys{}, err
	}
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return oidcSessionKeys{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return oidcSessionKeys{}, err
	}
	return oidcSessionKeys{aead: aead, index: indexKey}, nil
}

// refreshLock bounds how long one instance may hold a session's re-check,
// so a crashed instance's lock lapses by itself. The re-check gives up a
// sixth of it earlier (lock's held context): longer than the token request
// takes with the roles' HTTP client (a 10 s timeout), and a re-check that
// does run out answers 503 rather than overlap the next holder's.
const refreshLock = 30 * time.Second

// newRedisOIDCSessions returns the Redis store sealed with keys derived
// from secret (the issuer's cookie key material), which also reads what
// keys derived from the previous secrets sealed.
func newRedisOIDCSessions(recs *store.RedisRecords, secret []byte, previous ...[]byte) (*redisOIDCSessions, error) {
	s := &redisOIDCSessions{recs: recs, lockFor: refreshLock}
	for _, sec := range append([][]byte{secret}, previous...) {
		k, err := newOIDCSessionKeys(sec)
		if err != nil {
			return nil, err
		}
		s.keys = append(s.keys, k)
	}
	return s, nil
}

// errOIDCRecordSealed is a record that does not open: written under
// another key (issuer instances with different cookie secrets) or
// damaged. It wraps store.ErrUnavailable: the request fails closed.
var errOIDCRecordSealed = fmt.Errorf("%w: an OIDC session record in Redis does not open (do all issuer instances share token.secret or the issuer's cookie.secret?)", store.ErrUnavailable)

func (s *redisOIDCSessions) additional(id string) []byte {
	return []byte("ssoctl oidc session\x00" + id)
}

func (s *redisOIDCSessions) seal(rec *oidcRecord) ([]byte, error) {
	plain, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	aead := s.keys[0].aead
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	_, _ = rand.Read(nonce)
	return aead.Seal(nonce, nonce, plain, s.additional(rec.Sess.ID)), nil
}

func (s *redisOIDCSessions) open(id string, sealed []byte) (*oidcRecord, error) {
	// Every key's AEAD is AES-256-GCM: one nonce size and overhead.
	n := s.keys[0].aead.NonceSize()
	if len(sealed) < n+s.keys[0].aead.Overhead() {
		return nil, errOIDCRecordSealed
	}
	var plain []byte
	err := errOIDCRecordSealed
	for _, k := range s.keys {
		if plain, err = k.aead.Open(nil, sealed[:n], sealed[n:], s.additional(id)); err == nil {
			break
		}
	}
	if err != nil {
		return nil, errOIDCRecordSealed
	}
	var rec oidcRecord
	if err := json.Unmarshal(plain, &rec); err != nil || rec.Sess.ID != id {
		return nil, errOIDCRecordSealed
	}
	rec.sealed = sealed
	return &rec, nil
}

func (k oidcSessionKeys) indexName(kind, value string) string {
	mac := hmac.New(sha256.New, k.index)
	mac.Write([]byte(kind + "\x00" + value))
	return kind + ":" + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// reserve makes sure Redis answers before the provider's code is
// redeemed: with Redis down, the login is refused without leaving the
// provider a grant that no session holds. Redis's maxmemory, not a count,
// bounds the sessions (put).
func (s *redisOIDCSessions) reserve(ctx context.Context, _ time.Time) error {
	return s.recs.Ping(ctx)
}

func (s *redisOIDCSessions) release() {}

func (s *redisOIDCSessions) put(ctx context.Context, rec *oidcRecord) error {
	sealed, err := s.seal(rec)
	if err != nil {
		return err
	}
	indexes := []string{}
	if rec.Providers != "" {
		indexes = append(indexes, s.keys[0].indexName("sid", rec.Providers))
	}
	if rec.Sess.IdentityID != "" {
		indexes = append(indexes, s.keys[0].indexName("sub", rec.Sess.IdentityID))
	}
	err = s.recs.Put(ctx, rec.Sess.ID, sealed, rec.Sess.ExpiresAt, indexes...)
	if errors.Is(err, store.ErrFull) {
		return fmt.Errorf("%w (%v)", ErrOIDCSessionsFull, err)
	}
	return err
}

func (s *redisOIDCSessions) get(ctx context.Context, id string) (*oidcRecord, error) {
	sealed, err := s.recs.Get(ctx, id)
	if err != nil || sealed == nil {
		return nil, err
	}
	return s.open(id, sealed)
}

func (s *redisOIDCSessions) swap(ctx context.Context, old, next *oidcRecord) (bool, error) {
	sealed, err := s.seal(next)
	if err != nil {
		return false, err
	}
	return s.recs.Swap(ctx, old.Sess.ID, old.sealed, sealed)
}

func (s *redisOIDCSessions) remove(ctx context.Context, old *oidcRecord) (bool, error) {
	return s.recs.Remove(ctx, old.Sess.ID, old.sealed)
}

func (s *redisOIDCSessions) matching(ctx context.Context, sid, sub string) ([]*oidcRecord, error) {
	kind, value := "sub", sub
	if sid != "" {
		kind, value = "sid", sid
	}
	// A record written before a rotation is indexed under the previous
	// secret's key.
	var ids []string
	for _, k := range s.keys {
		more, err := s.recs.Indexed(ctx, k.indexName(kind, value))
		if err != nil {
			return nil, err
		}
		for _, id := range more {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	var out []*oidcRecord
	for _, id := range ids {
		rec, err := s.get(ctx, id)
		if err != nil {
			return nil, err
		}
		if rec != nil {
			out = append(out, rec)
		}
	}
	return out, nil
}

func (s *redisOIDCSessions) lock(ctx context.Context, id string) (context.Context, func(), bool, error) {
	// The lock's time starts when Redis takes the SET, after this.
	until := time.Now().Add(s.lockFor - s.lockFor/6)
	unlock, ok, err := s.recs.Lock(ctx, "recheck:"+id, s.lockFor)
	if !ok || err != nil {
		return nil, nil, ok, err
	}
	held, cancel := context.WithDeadline(ctx, until)
	return held, func() { cancel(); unlock() }, true, nil
}

var (
	_ oidcSessionStore = (*memoryOIDCSessions)(nil)
	_ oidcSessionStore = (*redisOIDCSessions)(nil)
)
