package serve

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
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
}

// MinSealKey is the shortest sealing key accepted.
const MinSealKey = 32

// NewSealer returns a Sealer over key (at least 32 bytes).
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) < MinSealKey {
		return nil, fmt.Errorf("sealing key is %d bytes; at least %d are needed", len(key), MinSealKey)
	}
	return &Sealer{key: append([]byte(nil), key...)}, nil
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
	if !ok {
		return nil, time.Time{}, ErrSealInvalid
	}
	payload, err := b64.Strict().DecodeString(p)
	if err != nil {
		return nil, time.Time{}, ErrSealInvalid
	}
	mac, err := b64.Strict().DecodeString(m)
	if err != nil || !hmac.Equal(mac, s.mac(purpose, payload)) {
		return nil, time.Time{}, ErrSealInvalid
	}
	exp, n := binary.Uvarint(payload)
	if n <= 0 || exp > 1<<40 {
		return nil, time.Time{}, ErrSealInvalid
	}
	payload = payload[n:]
	fields := make([]string, 0, want)
	for len(payload) > 0 {
		l, n := binary.Uvarint(payload)
		if n <= 0 || l > uint64(len(payload)-n) {
			return nil, time.Time{}, ErrSealInvalid
		}
		fields = append(fields, string(payload[n:n+int(l)]))
		payload = payload[n+int(l):]
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
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write(payload)
	return m.Sum(nil)
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

// OpenSession opens the value of the cookie named name.
func (s *Sealer) OpenSession(name, value string, now time.Time) (*CookieSession, error) {
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
