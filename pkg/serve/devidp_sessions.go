package serve

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"sync"
	"time"
)

// devIdPSession is one dev IdP session. The store hands out copies.
type devIdPSession struct {
	id        string
	token     [32]byte // SHA-256 of the cookie token; the token itself is not kept
	user      *devIdPUser
	issuedAt  time.Time
	authAt    time.Time // when the password was last typed: issuedAt, or a refresh login's time
	expiresAt time.Time
	active    bool
}

func (s devIdPSession) usable(now time.Time) bool {
	return s.active && now.Before(s.expiresAt)
}

// devIdPSessions holds the sessions in memory, bounded. Revoked sessions
// stay until they expire, so the admin API can still show them inactive,
// as Kratos does, but they are the first to go when the store is full.
type devIdPSessions struct {
	mu        sync.Mutex
	byID      map[string]*devIdPSession
	byHash    map[[32]byte]*devIdPSession
	max       int
	lastSweep time.Time
}

// devIdPSweepEvery spaces the sweeps of expired sessions.
const devIdPSweepEvery = time.Minute

// errDevIdPFull is a login refused because the store is full.
var errDevIdPFull = errors.New("too many sessions")

func newDevIdPSessions(limit int) *devIdPSessions {
	return &devIdPSessions{byID: map[string]*devIdPSession{}, byHash: map[[32]byte]*devIdPSession{}, max: limit}
}

// create starts a session for u and returns the token for its cookie: 256
// random bits, separate from the session id, which travels in handoff
// tokens and logs and so must not open the session.
func (st *devIdPSessions) create(u *devIdPUser, now time.Time, ttl time.Duration) (string, devIdPSession, error) {
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	s := &devIdPSession{
		id:        devIdPNewUUID(),
		token:     sha256.Sum256([]byte(token)),
		user:      u,
		issuedAt:  now.UTC(),
		authAt:    now.UTC(),
		expiresAt: now.Add(ttl).UTC(),
		active:    true,
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if now.Sub(st.lastSweep) >= devIdPSweepEvery || len(st.byID) >= st.max {
		st.sweepLocked(now)
	}
	if len(st.byID) >= st.max {
		st.dropRevokedLocked()
	}
	if len(st.byID) >= st.max {
		return "", devIdPSession{}, errDevIdPFull
	}
	st.byID[s.id] = s
	st.byHash[s.token] = s
	return token, *s, nil
}

// byToken returns the usable session a cookie or session token opens.
func (st *devIdPSessions) byToken(token string, now time.Time) (devIdPSession, bool) {
	if len(token) != 43 { // base64url of 32 bytes; anything else was never issued
		return devIdPSession{}, false
	}
	h := sha256.Sum256([]byte(token))
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.byHash[h]
	if !ok || !s.usable(now) {
		return devIdPSession{}, false
	}
	return *s, true
}

// get returns a session by id, usable or not.
func (st *devIdPSessions) get(id string) (devIdPSession, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.byID[id]
	if !ok {
		return devIdPSession{}, false
	}
	return *s, true
}

// revoke ends a session by id; it reports whether the store held it.
func (st *devIdPSessions) revoke(id string) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.byID[id]
	if ok {
		s.active = false
	}
	return ok
}

// revokeToken ends the session a token opens and returns its id.
func (st *devIdPSessions) revokeToken(token string) (string, bool) {
	h := sha256.Sum256([]byte(token))
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.byHash[h]
	if !ok || !s.active {
		return "", false
	}
	s.active = false
	return s.id, true
}

// len reports how many sessions the store holds, for tests.
func (st *devIdPSessions) len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.byID)
}

func (st *devIdPSessions) sweepLocked(now time.Time) {
	st.lastSweep = now
	for id, s := range st.byID {
		if !now.Before(s.expiresAt) {
			delete(st.byID, id)
			delete(st.byHash, s.token)
		}
	}
}

func (st *devIdPSessions) dropRevokedLocked() {
	for id, s := range st.byID {
		if !s.active {
			delete(st.byID, id)
			delete(st.byHash, s.token)
		}
	}
}

// devIdPNewUUID returns a random (version 4) UUID, the form Kratos gives
// session ids.
func devIdPNewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return devIdPFormatUUID(b)
}

func devIdPFormatUUID(b [16]byte) string {
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}
