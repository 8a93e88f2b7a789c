package serve

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// Sealer seals small values with XChaCha20-Poly1305, so the roles keep
// their cookies and the hub's progress state on the client without a
// server-side store. A sealed value is encrypted as well as authenticated:
// the session id, subject and email it holds cannot be read from a cookie,
// a URL in a browser's history or a proxy's log, and cannot be changed.
// Each value is bound to a purpose ("cookie:portal_session",
// "state:continue", the AEAD's additional data) so one kind can never be
// replayed as another.
//
// A value is base64url (unpadded) of a 24-byte random nonce and the
// ciphertext: the expiry in Unix seconds and each field, every one a
// uvarint then its bytes, and the 16-byte tag. A 192-bit random nonce
// leaves no practical limit on how many values one key seals.
type Sealer struct {
	// aeads open values, tried in order; the first, the current key's,
	// is the only one that seals. The others open what earlier keys
	// sealed (a key being rotated out).
	aeads []cipher.AEAD
	// scratch holds *[]byte buffers an Open decodes and decrypts in,
	// reused because a forward-auth check opens every cookie it has not
	// yet remembered.
	scratch sync.Pool
	opened  openedSessions
}

// MinSealKey is the shortest sealing key accepted.
const MinSealKey = 32

// sealOverhead is what sealing adds to a value's contents: the nonce and
// the tag.
const sealOverhead = chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead

// NewSealer returns a Sealer over key (at least 32 bytes), which also
// opens what the previous keys sealed. The cipher's keys are derived from
// them (HKDF-SHA256), so a key given whole, such as a receiver's
// cookie.secret, is never used as is.
func NewSealer(key []byte, previous ...[]byte) (*Sealer, error) {
	s := &Sealer{}
	for i, k := range append([][]byte{key}, previous...) {
		aead, err := sealingAEAD(k)
		if err != nil {
			if i > 0 {
				err = fmt.Errorf("previous %w", err)
			}
			return nil, err
		}
		s.aeads = append(s.aeads, aead)
	}
	s.scratch.New = func() any {
		b := make([]byte, 0, 512)
		return &b
	}
	return s, nil
}

func sealingAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) < MinSealKey {
		return nil, fmt.Errorf("sealing key is %d bytes; at least %d are needed", len(key), MinSealKey)
	}
	k, err := hkdf.Key(sha256.New, key, nil, "ssoctl seal v2 xchacha20-poly1305", chacha20poly1305.KeySize)
	if err != nil {
		return nil, fmt.Errorf("deriving the sealing key: %w", err)
	}
	aead, err := chacha20poly1305.NewX(k)
	if err != nil {
		return nil, fmt.Errorf("sealing key: %w", err)
	}
	return aead, nil
}

// DeriveKey derives a 32-byte key for one use from a chain secret with
// HKDF-SHA256 (RFC 5869), so the handoff secret, each role's cookie key and
// the state key are independent even when they come from one secret.
func DeriveKey(secret []byte, label string) ([]byte, error) {
	return hkdf.Key(sha256.New, secret, []byte("ssoctl v1"), label, 32)
}

// ErrSealInvalid is any sealed value that does not open: tampered,
// truncated, for another purpose, or from another key.
var ErrSealInvalid = errors.New("sealed value is invalid")

// ErrSealExpired is a sealed value past its expiry.
var ErrSealExpired = errors.New("sealed value has expired")

// maxSealed bounds a sealed value; browsers cap a cookie at about 4 KiB.
const maxSealed = 4000

var b64 = base64.RawURLEncoding

// Seal encrypts fields for purpose, valid until expires.
func (s *Sealer) Seal(purpose string, expires time.Time, fields ...string) string {
	n := binary.MaxVarintLen64
	for _, f := range fields {
		n += binary.MaxVarintLen64 + len(f)
	}
	buf := make([]byte, chacha20poly1305.NonceSizeX, chacha20poly1305.NonceSizeX+n+chacha20poly1305.Overhead)
	rand.Read(buf) // never fails (crypto/rand: it crashes the program first)
	plain := binary.AppendUvarint(buf[len(buf):], uint64(expires.Unix()))
	for _, f := range fields {
		plain = binary.AppendUvarint(plain, uint64(len(f)))
		plain = append(plain, f...)
	}
	return b64.EncodeToString(s.aeads[0].Seal(buf, buf, plain, []byte(purpose)))
}

// Open checks value and returns its fields and expiry. want is the number
// of fields expected; a value with another count is invalid.
func (s *Sealer) Open(purpose, value string, now time.Time, want int) ([]string, time.Time, error) {
	if len(value) > maxSealed {
		return nil, time.Time{}, fmt.Errorf("%w: %d bytes", ErrSealInvalid, len(value))
	}
	// Go's base64 decoders skip CR and LF, so without this a value with
	// line breaks added would open as the one Seal produced.
	if strings.ContainsAny(value, "\r\n") || b64.DecodedLen(len(value)) <= sealOverhead {
		return nil, time.Time{}, ErrSealInvalid
	}
	// The scratch buffer holds the purpose (the additional data), then
	// the decoded value, which is decrypted in place.
	bp := s.scratch.Get().(*[]byte)
	defer s.scratch.Put(bp)
	buf := slices.Grow(append((*bp)[:0], purpose...), b64.DecodedLen(len(value)))
	if cap(buf) <= maxSealed+256 {
		*bp = buf[:0]
	}
	ad := buf[:len(purpose)]
	var plain []byte
	ok := false
	for _, aead := range s.aeads {
		// Each key decodes the value afresh: a failed Open has zeroed the
		// box it decrypts in place.
		if plain, ok = s.openWith(aead, buf, ad, value); ok {
			break
		}
	}
	if !ok {
		return nil, time.Time{}, ErrSealInvalid
	}
	exp, k := binary.Uvarint(plain)
	if k <= 0 || exp > 1<<40 {
		return nil, time.Time{}, ErrSealInvalid
	}
	// One string holds every field; each field is a slice of it.
	plain = plain[k:]
	all := string(plain)
	fields := make([]string, 0, want)
	for off := 0; off < len(plain); {
		l, k := binary.Uvarint(plain[off:])
		if k <= 0 || l > uint64(len(plain)-off-k) {
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

// openWith decodes value into buf after the additional data ad (buf's
// first len(ad) bytes) and opens it there with aead.
func (s *Sealer) openWith(aead cipher.AEAD, buf, ad []byte, value string) ([]byte, bool) {
	// Strict: a value has one spelling, so the memo of opened cookies
	// (keyed by value) cannot be filled with copies of one.
	n, err := b64.Strict().Decode(buf[len(ad):cap(buf)], []byte(value))
	if err != nil {
		return nil, false
	}
	raw := buf[len(ad) : len(ad)+n]
	nonce, box := raw[:chacha20poly1305.NonceSizeX], raw[chacha20poly1305.NonceSizeX:]
	plain, err := aead.Open(box[:0], nonce, box, ad)
	return plain, err == nil
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
