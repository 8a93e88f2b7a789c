package serve_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/pkg/serve"
)

var (
	sealKey   = bytes.Repeat([]byte{0x5e}, 32)
	otherKey  = bytes.Repeat([]byte{0xa1}, 32)
	sealNow   = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sealUntil = sealNow.Add(time.Hour)
)

func newTestSealer(t *testing.T, key []byte) *serve.Sealer {
	t.Helper()
	s, err := serve.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewSealerKeyLength(t *testing.T) {
	tests := []struct {
		name    string
		key     []byte
		wantErr bool
	}{
		{name: "no key", key: nil, wantErr: true},
		{name: "31 bytes is one short", key: make([]byte, 31), wantErr: true},
		{name: "32 bytes", key: make([]byte, 32)},
		{name: "64 bytes", key: make([]byte, 64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := serve.NewSealer(tt.key)
			if (err != nil) != tt.wantErr {
				t.Errorf("NewSealer(%d bytes) = %v, want error %v", len(tt.key), err, tt.wantErr)
			}
		})
	}
	t.Run("the sealer keeps its own copy of the key", func(t *testing.T) {
		key := bytes.Clone(sealKey)
		s := newTestSealer(t, key)
		v := s.Seal("p", sealUntil, "x")
		key[0] ^= 0xff
		if _, _, err := s.Open("p", v, sealNow, 1); err != nil {
			t.Errorf("changing the caller's key slice broke the sealer: %v", err)
		}
	})
}

// TestSealerPreviousKeys: a sealer opens what its previous keys sealed
// (a key being rotated out) and seals only with its current key; each
// previous key is held to the same length rule.
func TestSealerPreviousKeys(t *testing.T) {
	thirdKey := bytes.Repeat([]byte{0x3c}, 32)
	old, current := newTestSealer(t, otherKey), newTestSealer(t, sealKey)
	rotating, err := serve.NewSealer(sealKey, thirdKey, otherKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{
		"sealed with the current key":         current.Seal("p", sealUntil, "x"),
		"sealed with the second previous key": old.Seal("p", sealUntil, "x"),
	} {
		if f, _, err := rotating.Open("p", v, sealNow, 1); err != nil || f[0] != "x" {
			t.Errorf("%s: Open = %q, %v; want [x]", name, f, err)
		}
	}
	v := rotating.Seal("p", sealUntil, "y")
	if _, _, err := current.Open("p", v, sealNow, 1); err != nil {
		t.Errorf("what the rotating sealer sealed does not open with its current key: %v", err)
	}
	if _, _, err := old.Open("p", v, sealNow, 1); !errors.Is(err, serve.ErrSealInvalid) {
		t.Errorf("the rotating sealer sealed with a previous key: %v", err)
	}
	// A previous key does not lift the other checks.
	for name, v := range map[string]string{
		"another purpose": old.Seal("q", sealUntil, "x"),
		"another key":     newTestSealer(t, bytes.Repeat([]byte{0x77}, 32)).Seal("p", sealUntil, "x"),
		"expired":         old.Seal("p", sealNow, "x"),
	} {
		if _, _, err := rotating.Open("p", v, sealNow, 1); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
	if _, err := serve.NewSealer(sealKey, make([]byte, 31)); err == nil {
		t.Error("NewSealer took a 31-byte previous key")
	}
}

func TestSealRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		fields []string
	}{
		{name: "no fields"},
		{name: "one field", fields: []string{"kratos-session-1"}},
		{name: "empty fields keep their places", fields: []string{"", "b", ""}},
		{name: "separators and unicode are data", fields: []string{"a.b", "c\x00d", "é/ü=", strings.Repeat("z", 1000)}},
	}
	s := newTestSealer(t, sealKey)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := s.Seal("state:continue", sealUntil, tt.fields...)
			got, exp, err := s.Open("state:continue", v, sealNow, len(tt.fields))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "|") != strings.Join(tt.fields, "|") || len(got) != len(tt.fields) {
				t.Errorf("fields = %q, want %q", got, tt.fields)
			}
			if !exp.Equal(sealUntil) {
				t.Errorf("expiry = %s, want %s", exp, sealUntil)
			}
		})
	}
}

func TestOpenRefuses(t *testing.T) {
	s := newTestSealer(t, sealKey)
	// good's decoded length is not a multiple of 3, so its last character
	// has padding bits, and it holds '-' or '_', so the standard alphabet
	// spells it differently: the nonce is random, so seal until it does.
	var good string
	for i := 0; ; i++ {
		good = s.Seal("cookie:portal_session", sealUntil, "sid", "sub"+strings.Repeat("x", i%3))
		raw, _ := base64.RawURLEncoding.DecodeString(good)
		if len(raw)%3 != 0 && strings.ContainsAny(good, "-_") {
			break
		}
	}
	raw, err := base64.RawURLEncoding.DecodeString(good)
	if err != nil {
		t.Fatal(err)
	}
	changed := func(i int) string {
		b := bytes.Clone(raw)
		b[i] ^= 0x01
		return base64.RawURLEncoding.EncodeToString(b)
	}
	// Setting a padding bit of the last character keeps the decoded bytes
	// the same under a lax decoder.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	laxPad := good[:len(good)-1] + string(alphabet[strings.IndexByte(alphabet, good[len(good)-1])|1])

	tests := []struct {
		name    string
		sealer  *serve.Sealer
		purpose string
		value   string
		now     time.Time
		want    int
		wantErr error
	}{
		{name: "the value as sealed opens", value: good, want: 2},
		{name: "another purpose", purpose: "cookie:dashboard_session", value: good, want: 2, wantErr: serve.ErrSealInvalid},
		{name: "another key", sealer: newTestSealer(t, otherKey), value: good, want: 2, wantErr: serve.ErrSealInvalid},
		{name: "a changed nonce byte", value: changed(0), want: 2, wantErr: serve.ErrSealInvalid},
		{name: "a changed ciphertext byte", value: changed(30), want: 2, wantErr: serve.ErrSealInvalid},
		{name: "a changed tag byte", value: changed(len(raw) - 1), want: 2, wantErr: serve.ErrSealInvalid},
		{name: "truncated", value: good[:len(good)-4], want: 2, wantErr: serve.ErrSealInvalid},
		{name: "the nonce and tag without the contents", value: base64.RawURLEncoding.EncodeToString(append(bytes.Clone(raw[:24]), raw[len(raw)-16:]...)), want: 2, wantErr: serve.ErrSealInvalid},
		{name: "the nonce alone", value: base64.RawURLEncoding.EncodeToString(raw[:24]), want: 2, wantErr: serve.ErrSealInvalid},
		{name: "a suffix", value: good + ".x", want: 2, wantErr: serve.ErrSealInvalid},
		{name: "padding added", value: good + "=", want: 2, wantErr: serve.ErrSealInvalid},
		{name: "the standard alphabet", value: strings.NewReplacer("-", "+", "_", "/").Replace(good), want: 2, wantErr: serve.ErrSealInvalid},
		{name: "non-zero padding bits", value: laxPad, want: 2, wantErr: serve.ErrSealInvalid},
		{name: "a line break inside (decoders skip it)", value: good[:4] + "\n" + good[4:], want: 2, wantErr: serve.ErrSealInvalid},
		{name: "a carriage return at the end", value: good + "\r", want: 2, wantErr: serve.ErrSealInvalid},
		{name: "the earlier signed-only format, validly signed", value: signedOnly(sealKey, "cookie:portal_session", sealUntil, "sid", "sub"), want: 2, wantErr: serve.ErrSealInvalid},
		{name: "one field fewer than sealed", value: good, want: 1, wantErr: serve.ErrSealInvalid},
		{name: "one field more than sealed", value: good, want: 3, wantErr: serve.ErrSealInvalid},
		{name: "empty", value: "", want: 2, wantErr: serve.ErrSealInvalid},
		{name: "over 4000 bytes", value: s.Seal("cookie:portal_session", sealUntil, strings.Repeat("x", 3000), "y"), want: 2, wantErr: serve.ErrSealInvalid},
		{name: "a second before expiry", value: good, now: sealUntil.Add(-time.Second), want: 2},
		{name: "at expiry", value: good, now: sealUntil, want: 2, wantErr: serve.ErrSealExpired},
		{name: "after expiry", value: good, now: sealUntil.Add(time.Hour), want: 2, wantErr: serve.ErrSealExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealer, purpose, now := s, "cookie:portal_session", sealNow
			if tt.sealer != nil {
				sealer = tt.sealer
			}
			if tt.purpose != "" {
				purpose = tt.purpose
			}
			if !tt.now.IsZero() {
				now = tt.now
			}
			_, _, err := sealer.Open(purpose, tt.value, now, tt.want)
			if tt.wantErr == nil && err != nil {
				t.Errorf("Open: %v, want success", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Open: %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// signedOnly is a value in the format of ssoctl before sealed values were
// encrypted: the payload and its HMAC-SHA256, each base64url.
func signedOnly(key []byte, purpose string, expires time.Time, fields ...string) string {
	payload := binary.AppendUvarint(nil, uint64(expires.Unix()))
	for _, f := range fields {
		payload = binary.AppendUvarint(payload, uint64(len(f)))
		payload = append(payload, f...)
	}
	m := hmac.New(sha256.New, key)
	m.Write(append([]byte(purpose+"\x00"), payload...))
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// TestSealHidesFields: what a value holds cannot be read from it, in
// a cookie or a URL, in any encoding a reader might try.
func TestSealHidesFields(t *testing.T) {
	s := newTestSealer(t, sealKey)
	cs := serve.CookieSession{
		SessionID: "kratos-session-7f3a", Subject: "identity-9b61", Email: "alice@example.com", Role: "administrator",
		AuthenticatedAt: sealNow, Expires: sealUntil,
	}
	v := s.SealSession("portal_session", cs)
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		t.Fatalf("a sealed value is not unpadded base64url: %v", err)
	}
	for _, secret := range []string{cs.SessionID, cs.Subject, cs.Email, cs.Role} {
		for _, enc := range []string{secret, base64.RawURLEncoding.EncodeToString([]byte(secret))[:len(secret)*4/3-1]} {
			if strings.Contains(v, enc) || bytes.Contains(raw, []byte(secret)) {
				t.Errorf("the sealed value shows %q", secret)
			}
		}
	}
	again := s.SealSession("portal_session", cs)
	if again == v {
		t.Error("two seals of one session are the same value: the nonce is not fresh")
	}
	for _, x := range []string{v, again} {
		if got, err := s.OpenSession("portal_session", x, sealNow); err != nil || *got != cs {
			t.Errorf("OpenSession = %+v, %v; want %+v", got, err, cs)
		}
	}
}

func TestSealSession(t *testing.T) {
	s := newTestSealer(t, sealKey)
	cs := serve.CookieSession{
		SessionID: "kratos-session-1", Subject: "identity-1", Email: "alice@example.com", Role: "admin",
		AuthenticatedAt: sealNow.Add(-time.Minute), Expires: sealUntil,
	}
	tests := []struct {
		name    string
		seal    string // cookie name sealed for
		open    string // cookie name opened as
		session serve.CookieSession
		wantErr error
	}{
		{name: "round trip", seal: "portal_session", open: "portal_session", session: cs},
		{name: "a cookie is bound to its name", seal: "portal_session", open: "dashboard_session", session: cs, wantErr: serve.ErrSealInvalid},
		{name: "no session id is invalid", seal: "c", open: "c", session: func() serve.CookieSession { c := cs; c.SessionID = ""; return c }(), wantErr: serve.ErrSealInvalid},
		{name: "no subject is invalid", seal: "c", open: "c", session: func() serve.CookieSession { c := cs; c.Subject = ""; return c }(), wantErr: serve.ErrSealInvalid},
		{name: "an expired cookie", seal: "c", open: "c", session: func() serve.CookieSession { c := cs; c.Expires = sealNow; return c }(), wantErr: serve.ErrSealExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.OpenSession(tt.open, s.SealSession(tt.seal, tt.session), sealNow)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("OpenSession: %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *got != tt.session {
				t.Errorf("OpenSession = %+v, want %+v", *got, tt.session)
			}
		})
	}
	t.Run("a generic sealed value is not a cookie", func(t *testing.T) {
		v := s.Seal("state:continue", sealUntil, "kratos-session-1", "identity-1", "", "", "0")
		if _, err := s.OpenSession("portal_session", v, sealNow); !errors.Is(err, serve.ErrSealInvalid) {
			t.Errorf("OpenSession of a state value: %v", err)
		}
	})
}

func TestDeriveKey(t *testing.T) {
	secret := []byte("a chain secret of at least thirty-two bytes")
	tests := []struct {
		name       string
		a, b       []byte
		aLab, bLab string
		wantEqual  bool
	}{
		{name: "same secret and label: same key", a: secret, b: secret, aLab: "cookie:portal", bLab: "cookie:portal", wantEqual: true},
		{name: "another label: another key", a: secret, b: secret, aLab: "cookie:portal", bLab: "cookie:dashboard"},
		{name: "another secret: another key", a: secret, b: append(bytes.Clone(secret), '!'), aLab: "state", bLab: "state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ka, err := serve.DeriveKey(tt.a, tt.aLab)
			if err != nil {
				t.Fatal(err)
			}
			kb, err := serve.DeriveKey(tt.b, tt.bLab)
			if err != nil {
				t.Fatal(err)
			}
			if len(ka) != 32 || len(kb) != 32 {
				t.Fatalf("key lengths %d, %d; want 32", len(ka), len(kb))
			}
			if bytes.Equal(ka, kb) != tt.wantEqual {
				t.Errorf("keys equal = %v, want %v", bytes.Equal(ka, kb), tt.wantEqual)
			}
			if bytes.Contains(ka, tt.a) {
				t.Error("the derived key contains the secret")
			}
		})
	}
	t.Run("values sealed with one derived key do not open with another", func(t *testing.T) {
		k1, _ := serve.DeriveKey(secret, "cookie:portal")
		k2, _ := serve.DeriveKey(secret, "cookie:dashboard")
		v := newTestSealer(t, k1).Seal("cookie:x", sealUntil, "s", "u")
		if _, _, err := newTestSealer(t, k2).Open("cookie:x", v, sealNow, 2); !errors.Is(err, serve.ErrSealInvalid) {
			t.Errorf("Open with another derived key: %v", err)
		}
	})
}

// FuzzOpen checks that nothing Open is fed makes it panic, and that what
// opens is exactly what was sealed.
func FuzzOpen(f *testing.F) {
	s, err := serve.NewSealer(sealKey)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(s.Seal("p", sealUntil, "a", "b"), 2)
	f.Add(s.Seal("p", sealUntil), 0)
	f.Add(s.Seal("other purpose", sealUntil, "a"), 1)
	f.Add(signedOnly(sealKey, "p", sealUntil, "a"), 1)
	f.Add("AAAA.AAAA", 0)
	f.Add(".", 1)
	f.Fuzz(func(t *testing.T, v string, want int) {
		if want < 0 || want > 16 {
			return
		}
		fields, exp, err := s.Open("p", v, sealNow, want)
		if err != nil {
			return
		}
		// What opens has one spelling, and is what sealing its contents
		// again makes, less the nonce.
		raw, err := base64.RawURLEncoding.Strict().DecodeString(v)
		if err != nil || base64.RawURLEncoding.EncodeToString(raw) != v {
			t.Fatalf("%q opened but is not canonical base64url", v)
		}
		again := s.Seal("p", exp, fields...)
		if len(again) != len(v) {
			t.Errorf("%q opened to %q, which seals to %d bytes, not %d", v, fields, len(again), len(v))
		}
		got, gotExp, err := s.Open("p", again, sealNow, want)
		if err != nil || !slices.Equal(got, fields) || !gotExp.Equal(exp) {
			t.Errorf("resealing %q: %q %s %v", fields, got, gotExp, err)
		}
	})
}

// BenchmarkSeal measures sealing and opening a session cookie's value, the
// work a receiver does once per handoff and once per cookie it has not yet
// remembered (OpenSession's memo is bypassed: Open is called directly).
func BenchmarkSeal(b *testing.B) {
	s, err := serve.NewSealer(sealKey)
	if err != nil {
		b.Fatal(err)
	}
	fields := []string{"0b3c5a1e-7f7e-4b8a-9a55-3c2f0e1d9b7a", "9b617340-f2d2-8326-8fba-0d9075e4e6cd", "alice@example.com", "admin", "1764028800"}
	b.Run("seal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.Seal("cookie:portal_session", sealUntil, fields...)
		}
	})
	b.Run("open", func(b *testing.B) {
		v := s.Seal("cookie:portal_session", sealUntil, fields...)
		b.ReportMetric(float64(len(v)), "bytes")
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := s.Open("cookie:portal_session", v, sealNow, len(fields)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
