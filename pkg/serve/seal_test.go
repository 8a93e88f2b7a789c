package serve_test

import (
	"bytes"
	"encoding/base64"
	"errors"
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
	good := s.Seal("cookie:portal_session", sealUntil, "sid", "sub")
	payload, mac, _ := strings.Cut(good, ".")
	flip := func(v string, i int) string {
		b := []byte(v)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	// A base64url character whose low bits are padding: the last of an
	// unpadded encoding. Setting those bits keeps the decoded bytes the same
	// under a lax decoder.
	macBytes, _ := base64.RawURLEncoding.DecodeString(mac)
	laxMac := base64.RawURLEncoding.EncodeToString(macBytes)
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", laxMac[len(laxMac)-1])
	laxMac = laxMac[:len(laxMac)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|1])

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
		{name: "a changed payload byte", value: flip(good, 3), want: 2, wantErr: serve.ErrSealInvalid},
		{name: "a changed signature byte", value: flip(good, len(good)-5), want: 2, wantErr: serve.ErrSealInvalid},
		{name: "a truncated signature", value: good[:len(good)-4], want: 2, wantErr: serve.ErrSealInvalid},
		{name: "no signature", value: payload, want: 2, wantErr: serve.ErrSealInvalid},
		{name: "an empty signature", value: payload + ".", want: 2, wantErr: serve.ErrSealInvalid},
		{name: "a second dot", value: good + ".x", want: 2, wantErr: serve.ErrSealInvalid},
		{name: "padding added", value: good + "=", want: 2, wantErr: serve.ErrSealInvalid},
		{name: "the standard alphabet", value: strings.NewReplacer("-", "+", "_", "/").Replace(good), want: 2, wantErr: serve.ErrSealInvalid},
		{name: "non-zero padding bits in the signature", value: payload + "." + laxMac, want: 2, wantErr: serve.ErrSealInvalid},
		{name: "a line break inside (decoders skip it)", value: good[:4] + "\n" + good[4:], want: 2, wantErr: serve.ErrSealInvalid},
		{name: "a carriage return at the end", value: good + "\r", want: 2, wantErr: serve.ErrSealInvalid},
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
		if again := s.Seal("p", exp, fields...); again != v {
			t.Errorf("%q opened but is not what Seal makes of its contents (%q)", v, again)
		}
	})
}
