package serve

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"iter"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Sealer signs small values with HMAC-SHA256, so the roles keep their
// cookies and the hub's progress state on the client without a server-side
// store, and can tell when someone changed them. Values are signed, not
// encrypted: they hold ids, never secrets. Each value is bound to a purpose
// ("cookie:portal_session", "state:continue") so one kind can never be
// replayed as another.
type Sealer struct {
	key []byte
	// scratch holds *sealScratch: an HMAC state keyed with key and a
	// buffer, reused because a forward-auth check opens a cookie per
	// request, and a fresh hmac.New costs five allocations.
	scratch sync.Pool
	opened  openedSessions
}

// sealScratch is what one Seal or Open works in: buf holds the MAC's
// input, the purpose, a zero byte, then the payload.
type sealScratch struct {
	h   hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

// MinSealKey is the shortest sealing key accepted.
const MinSealKey = 32

// NewSealer returns a Sealer over key (at least 32 bytes).
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) < MinSealKey {
		return nil, fmt.Errorf("sealing key is %d bytes; at least %d are needed", len(key), MinSealKey)
	}
	s := &Sealer{key: append([]byte(nil), key...)}
	s.scratch.New = func() any {
		return &sealScratch{h: hmac.New(sha256.New, s.key), buf: make([]byte, 0, 256)}
	}
	return s, nil
}

// DeriveKey derives a 32-byte key for one use from a chain secret with
// HKDF-SHA256 (RFC 5869), so the handoff secret, each role's cookie key and
// the state key are independent even when they come from one secret.
func DeriveKey(secret []byte, label string) ([]byte, error) {
	return hkdf.Key(sha256.New, secret, []byte("ssoctl v1"), label, 32)
}

// ErrSealInvalid is any sealed value that does not open: tampered,
// truncated, for another purpose, or from another key.
var ErrSealInvalid = errors.New("signed value is invalid")

// ErrSealExpired is a sealed value past its expiry.
var ErrSealExpired = errors.New("signed value has expired")

// maxSealed bounds a sealed value; browsers cap a cookie at about 4 KiB.
const maxSealed = 4000

var b64 = base64.RawURLEncoding

// Seal signs fields for purpose, valid until expires.
func (s *Sealer) Seal(purpose string, expires time.Time, fields ...string) string {
	payload := binary.AppendUvarint(nil, uint64(expires.Unix()))
	for _, f := range fields {
		payload = binary.AppendUvarint(payload, uint64(len(f)))
		payload = append(payload, f...)
	}
	return b64.EncodeToString(payload) + "." + b64.EncodeToString(s.mac(purpose, payload))
}

// Open checks value and returns its fields and expiry. want is the number
// of fields expected; a value with another count is invalid.
func (s *Sealer) Open(purpose, value string, now time.Time, want int) ([]string, time.Time, error) {
	if len(value) > maxSealed {
		return nil, time.Time{}, fmt.Errorf("%w: %d bytes", ErrSealInvalid, len(value))
	}
	// Go's base64 decoders skip CR and LF, so without this a value with
	// line breaks added would open as the one Seal produced.
	if strings.ContainsAny(value, "\r\n") {
		return nil, time.Time{}, ErrSealInvalid
	}
	p, m, ok := strings.Cut(value, ".")
	if !ok || b64.DecodedLen(len(m)) != sha256.Size {
		return nil, time.Time{}, ErrSealInvalid
	}
	var got [sha256.Size]byte
	if n, err := b64.Strict().Decode(got[:], []byte(m)); err != nil || n != sha256.Size {
		return nil, time.Time{}, ErrSealInvalid
	}
	sc := s.scratch.Get().(*sealScratch)
	defer s.scratch.Put(sc)
	msg := sc.message(purpose, b64.DecodedLen(len(p)))
	start := len(msg)
	n, err := b64.Strict().Decode(msg[start:start+b64.DecodedLen(len(p))], []byte(p))
	if err != nil {
		return nil, time.Time{}, ErrSealInvalid
	}
	msg = msg[:start+n]
	if !hmac.Equal(got[:], sc.mac(msg)) {
		return nil, time.Time{}, ErrSealInvalid
	}
	payload := msg[start:]
	exp, k := binary.Uvarint(payload)
	if k <= 0 || exp > 1<<40 {
		return nil, time.Time{}, ErrSealInvalid
	}
	// One string holds every field; each field is a slice of it.
	payload = payload[k:]
	all := string(payload)
	fields := make([]string, 0, want)
	for off := 0; off < len(payload); {
		l, k := binary.Uvarint(payload[off:])
		if k <= 0 || l > uint64(len(payload)-off-k) {
			return nil, time.Time{}, ErrSealInvalid
		}
		fields = append(fields, all[off+k:off+k+int(l)])
		off += k + int(l)
	}
	if len(fields) != want {
		return nil, time.Time{}, ErrSealInvalid
	}
	expires := time.Unix(int64(exp), 0).UTC()
	if !now.Before(expires) {
		return nil, time.Time{}, ErrSealExpired
	}
	return fields, expires, nil
}

func (s *Sealer) mac(purpose string, payload []byte) []byte {
	sc := s.scratch.Get().(*sealScratch)
	defer s.scratch.Put(sc)
	return append([]byte(nil), sc.mac(append(sc.message(purpose, len(payload)), payload...))...)
}

// message starts the MAC's input in sc's buffer: purpose and a zero byte,
// with room for n more bytes. A buffer grown for a large value is kept,
// within reason, for the next use.
func (sc *sealScratch) message(purpose string, n int) []byte {
	msg := slices.Grow(append(append(sc.buf[:0], purpose...), 0), n)
	if cap(msg) <= maxSealed+256 {
		sc.buf = msg[:0]
	}
	return msg
}

// mac returns the HMAC of msg in sc.sum, valid until sc's next use.
func (sc *sealScratch) mac(msg []byte) []byte {
	sc.h.Reset()
	sc.h.Write(msg)
	return sc.h.Sum(sc.sum[:0])
}

// CookieSession is what a role's own session cookie holds: which IdP
// session and identity it stands for, and until when. Never a token.
type CookieSession struct {
	SessionID       string
	Subject         string
	Email           string
	Role            string
	AuthenticatedAt time.Time
	Expires         time.Time
}

// SealSession seals a cookie session for the cookie named name.
func (s *Sealer) SealSession(name string, cs CookieSession) string {
	return s.Seal("cookie:"+name, cs.Expires, cs.SessionID, cs.Subject, cs.Email, cs.Role,
		strconv.FormatInt(cs.AuthenticatedAt.Unix(), 10))
}

// OpenSession opens the value of the cookie named name. The session it
// returns is shared with every other caller that opens the same value, so
// it is read-only: a copy costs an allocation on every forward-auth check.
func (s *Sealer) OpenSession(name, value string, now time.Time) (*CookieSession, error) {
	if cs := s.opened.load(name, value); cs != nil {
		if !now.Before(cs.Expires) {
			return nil, ErrSealExpired
		}
		return cs, nil
	}
	cs, err := s.openSession(name, value, now)
	if err == nil {
		s.opened.store(name, value, cs)
	}
	return cs, err
}

func (s *Sealer) openSession(name, value string, now time.Time) (*CookieSession, error) {
	f, exp, err := s.Open("cookie:"+name, value, now, 5)
	if err != nil {
		return nil, err
	}
	auth, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil || f[0] == "" || f[1] == "" {
		return nil, ErrSealInvalid
	}
	return &CookieSession{
		SessionID: f[0], Subject: f[1], Email: f[2], Role: f[3],
		AuthenticatedAt: time.Unix(auth, 0).UTC(),
		Expires:         exp,
	}, nil
}

// ErrCookieAmbiguous is a request carrying two valid session cookies of
// one name for different sessions: one of them was set by another host
// (cookie tossing from a sibling subdomain, RFC 6265 §8.6), and nothing in
// a Cookie header tells which.
var ErrCookieAmbiguous = errors.New("two session cookies of the same name for different sessions")

// OpenSessionCookie opens the request's session cookie called name. A
// browser sends every cookie whose domain and path match, so a request may
// carry several of one name: one this role set and others a sibling
// subdomain set for the parent domain. Copies that do not open (forged,
// stale, another key's) are ignored, so a tossed cookie cannot sign the
// user out; two that open to different sessions are ErrCookieAmbiguous, so
// a tossed cookie cannot sign the user in as someone else either. No
// cookie that opens is ErrSealInvalid (or ErrSealExpired, when one only
// expired).
func (s *Sealer) OpenSessionCookie(r *http.Request, name string, now time.Time) (*CookieSession, error) {
	var found *CookieSession
	err := ErrSealInvalid
	for value := range cookieValues(r.Header, name) {
		cs, e := s.OpenSession(name, value, now)
		switch {
		case e != nil:
			if errors.Is(e, ErrSealExpired) && found == nil {
				err = e
			}
		case found == nil:
			found = cs
		case cs.SessionID != found.SessionID || cs.Subject != found.Subject:
			return nil, ErrCookieAmbiguous
		}
	}
	if found == nil {
		return nil, err
	}
	return found, nil
}

// openedSessions remembers the session cookies a Sealer has opened, by
// value: a browser sends the same cookie with every request, and a
// forward-auth check is the receiver's hottest path, so after the first
// request a cookie costs one map lookup instead of base64, an HMAC and
// parsing. Only values that opened are kept (a forged value cannot take a
// place), the expiry is checked again on every use, and when
// maxOpenedSessions are held the whole map is dropped and refills from the
// requests that follow. What is remembered is exactly what opening the
// same bytes again would return, so revocation, the IdP re-check and
// max_auth_age, which callers apply after opening, are unaffected.
type openedSessions struct {
	m sync.Map // value → *openedSession
	n atomic.Int64
}

type openedSession struct {
	name string // the cookie's name: the purpose the value was opened for
	cs   *CookieSession
}

// maxOpenedSessions bounds openedSessions at a few MiB (a cookie value is
// about 200 bytes).
const maxOpenedSessions = 1 << 14

// load returns the session that value opened to as the cookie called
// name, or nil when it is not remembered as that cookie.
func (o *openedSessions) load(name, value string) *CookieSession {
	v, ok := o.m.Load(value)
	if !ok {
		return nil
	}
	e := v.(*openedSession)
	if e.name != name {
		return nil
	}
	return e.cs
}

func (o *openedSessions) store(name, value string, cs *CookieSession) {
	if o.n.Add(1) > maxOpenedSessions {
		o.m.Clear()
		o.n.Store(1)
	}
	// The value may be a slice of a whole Cookie header; keep only its own
	// bytes.
	o.m.Store(strings.Clone(value), &openedSession{name: name, cs: cs})
}

// cookieValues yields the values of the cookies called name in h's Cookie
// lines, in order, as RFC 6265 §5.4 lays them out ("a=1; b=2"), with the
// double quotes cookie-value allows around a value removed. It splits as
// Request.CookiesNamed does, without a *Cookie per match and without
// checking each value's characters: the caller's own check (a sealed
// value's strict base64url and MAC) refuses what the RFC's grammar would.
func cookieValues(h http.Header, name string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, line := range h["Cookie"] {
			for line != "" {
				var part string
				part, line, _ = strings.Cut(line, ";")
				k, v, _ := strings.Cut(textproto.TrimString(part), "=")
				if textproto.TrimString(k) != name {
					continue
				}
				if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
					v = v[1 : len(v)-1]
				}
				if !yield(v) {
					return
				}
			}
		}
	}
}
