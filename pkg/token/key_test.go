package token_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/ssoctl/ssoctl/pkg/token"
)

func TestNewHMACKey(t *testing.T) {
	tests := []struct {
		name    string
		kid     string
		secret  []byte
		wantErr string // "" means accepted
	}{
		{name: "32 bytes, the minimum", kid: "hs1", secret: bytes.Repeat([]byte("s"), 32)},
		{name: "31 bytes", kid: "hs1", secret: bytes.Repeat([]byte("s"), 31), wantErr: "HS256 secret is 31 bytes; it must be at least 32 (RFC 7518 §3.2)"},
		{name: "empty", kid: "hs1", secret: nil, wantErr: "HS256 secret is 0 bytes; it must be at least 32"},
		{name: "a typical short password", kid: "hs1", secret: []byte("hunter2"), wantErr: "at least 32"},
		{name: "path-like kid", kid: "../secret", secret: testHMACSecret, wantErr: `kid contains '/'`},
		{name: "no kid derives one", secret: testHMACSecret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := token.NewHMACKey(tc.kid, tc.secret)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("NewHMACKey = %v, %v; want error containing %q", k, err, tc.wantErr)
				}
				if len(tc.secret) > 0 && strings.Contains(err.Error(), string(tc.secret)) {
					t.Errorf("error %q repeats the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantKid := tc.kid
			if wantKid == "" {
				wantKid = token.DeriveHMACKeyID(tc.secret)
			}
			if k.ID() != wantKid || k.Algorithm() != token.HS256 || !k.CanSign() || !k.Symmetric() || k.Public() != nil || k.PublicKey() != nil {
				t.Errorf("key = %v (kid %q); want a signing HS256 key with kid %q and no public half", k, k.ID(), wantKid)
			}
		})
	}
}

func TestNewHMACKeyCopiesSecret(t *testing.T) {
	secret := bytes.Clone(testHMACSecret)
	k, err := token.NewHMACKey("hs1", secret)
	if err != nil {
		t.Fatal(err)
	}
	secret[0] ^= 0xff
	got := k.Secret()
	if !bytes.Equal(got, testHMACSecret) {
		t.Fatal("key changed when the caller's buffer changed")
	}
	got[0] ^= 0xff
	if !bytes.Equal(k.Secret(), testHMACSecret) {
		t.Fatal("Secret returned the key's own buffer")
	}
}

func TestDeriveHMACKeyID(t *testing.T) {
	a := token.DeriveHMACKeyID(testHMACSecret)
	b := token.DeriveHMACKeyID(append(bytes.Clone(testHMACSecret), '!'))
	if a != token.DeriveHMACKeyID(bytes.Clone(testHMACSecret)) {
		t.Error("the same secret must always get the same kid, or minter and verifier disagree")
	}
	if a == b {
		t.Error("a rotated secret must get a new kid")
	}
	if len(a) != 16 || strings.ContainsAny(a, "+/=") {
		t.Errorf("kid %q: want 16 base64url characters", a)
	}
	if strings.Contains(string(testHMACSecret), a) || strings.Contains(base64.RawURLEncoding.EncodeToString(testHMACSecret), a) {
		t.Errorf("kid %q is a piece of the secret", a)
	}
}

func TestNewKey(t *testing.T) {
	ed := testEd25519("one")
	es := testECDSA(t, elliptic.P256(), "one")
	p384 := testECDSA(t, elliptic.P384(), "one")
	rs := testRSA(t)
	rs1024 := parseRSAPEM(t, readTestdata(t, "test-only-rsa1024.pem"))
	x25519, err := ecdh.X25519().NewPrivateKey(seed("x25519", 32))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		alg     token.Algorithm
		key     any
		wantAlg token.Algorithm
		canSign bool
		wantErr string
	}{
		{name: "Ed25519 private", key: ed, wantAlg: token.EdDSA, canSign: true},
		{name: "Ed25519 public", key: ed.Public(), wantAlg: token.EdDSA},
		{name: "P-256 private", key: es, wantAlg: token.ES256, canSign: true},
		{name: "P-256 public", key: &es.PublicKey, wantAlg: token.ES256},
		{name: "RSA 2048 private", key: rs, wantAlg: token.RS256, canSign: true},
		{name: "RSA 2048 public", key: &rs.PublicKey, wantAlg: token.RS256},
		{name: "HS256 secret as []byte", key: testHMACSecret, wantAlg: token.HS256, canSign: true},
		{name: "alg given and matching", alg: token.ES256, key: es, wantAlg: token.ES256, canSign: true},
		{name: "Ed25519 key told to be ES256", alg: token.ES256, key: ed, wantErr: "this is an Ed25519 key; it signs EdDSA, not ES256"},
		{name: "RSA key told to be HS256 (confusion at configuration time)", alg: token.HS256, key: &rs.PublicKey, wantErr: "it signs RS256, not HS256"},
		{name: "secret told to be RS256", alg: token.RS256, key: testHMACSecret, wantErr: "a shared secret signs HS256, not RS256"},
		{name: "P-384", key: p384, wantErr: "ECDSA key is on P-384; ES256 needs P-256"},
		{name: "P-384 public", key: &p384.PublicKey, wantErr: "P-384"},
		{name: "RSA 1024", key: rs1024, wantErr: "RSA key is 1024 bits; RS256 needs at least 2048"},
		{name: "RSA 1024 public", key: &rs1024.PublicKey, wantErr: "1024 bits"},
		{name: "X25519 is for key agreement", key: x25519, wantErr: "unsupported key type *ecdh.PrivateKey"},
		{name: "Ed25519 public key of the wrong length", key: ed25519.PublicKey(make([]byte, 31)), wantErr: "wrong length"},
		{name: "a string", key: "secret", wantErr: "unsupported key type string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := token.NewKey("", tc.alg, tc.key)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("NewKey = %v, %v; want error containing %q", k, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.Algorithm() != tc.wantAlg || k.CanSign() != tc.canSign {
				t.Errorf("key %v: alg %s, can sign %v; want %s, %v", k, k.Algorithm(), k.CanSign(), tc.wantAlg, tc.canSign)
			}
			if tc.wantAlg != token.HS256 {
				thumb, err := token.Thumbprint(k.PublicKey())
				if err != nil || k.ID() != thumb {
					t.Errorf("default kid %q, want the JWK thumbprint %q (%v)", k.ID(), thumb, err)
				}
				if pub := k.Public(); pub.CanSign() || pub.ID() != k.ID() || pub.Algorithm() != k.Algorithm() || pub.PrivateKey() != nil {
					t.Errorf("Public() = %v; want a verify-only copy with the same kid and alg", pub)
				}
			}
		})
	}
}

// TestThumbprintRFC8037 checks the default kid against the worked example
// of RFC 8037 Appendix A.3.
func TestThumbprintRFC8037(t *testing.T) {
	x, err := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	if err != nil {
		t.Fatal(err)
	}
	got, err := token.Thumbprint(ed25519.PublicKey(x))
	if err != nil {
		t.Fatal(err)
	}
	if want := "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Errorf("Thumbprint = %s, want %s", got, want)
	}
}

func TestParseAlgorithm(t *testing.T) {
	tests := []struct {
		in      string
		want    token.Algorithm
		wantErr bool
	}{
		{in: "HS256", want: token.HS256},
		{in: "EdDSA", want: token.EdDSA},
		{in: "ES256", want: token.ES256},
		{in: "RS256", want: token.RS256},
		{in: "none", wantErr: true},
		{in: "hs256", wantErr: true}, // JWS alg values are case-sensitive
		{in: "HS384", wantErr: true},
		{in: "PS256", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := token.ParseAlgorithm(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("ParseAlgorithm(%q) = %q, %v", tc.in, got, err)
			}
			if err != nil && !strings.Contains(err.Error(), "supported: HS256, EdDSA, ES256, RS256") {
				t.Errorf("error %q does not list the supported algorithms", err)
			}
		})
	}
}

// TestKeyRingRotation is the rotation story: a receiver keeps accepting
// tokens minted with the old key while the issuer switches to a new one,
// and stops once the old key is dropped.
func TestKeyRingRotation(t *testing.T) {
	oldKey := mustKey(t, "2026-01", token.EdDSA, testEd25519("old"))
	newKey := mustKey(t, "2026-03", token.EdDSA, testEd25519("new"))
	issuer, err := token.NewKeyRing(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	mint := func() string {
		tok, _, err := token.Mint(issuer.Active(), token.MintOptions{Issuer: testIssuer, Audience: testAudience, Subject: testSubject, SessionID: testSID, Now: fixedClock})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	receiver := func(keys ...*token.Key) *token.Verifier {
		r, err := token.NewKeyRing(keys...)
		if err != nil {
			t.Fatal(err)
		}
		return newVerifier(t, r)
	}
	verify := func(v *token.Verifier, tok string) []string {
		_, err := v.Verify(context.Background(), tok)
		return codes(t, err)
	}

	oldToken := mint()
	if err := issuer.Add(newKey); err != nil {
		t.Fatal(err)
	}
	if got := issuer.Active().ID(); got != "2026-01" {
		t.Fatalf("adding a key made %q active; it must stay on the old key until told", got)
	}
	if err := issuer.SetActive("2026-03"); err != nil {
		t.Fatal(err)
	}
	newToken := mint()

	steps := []struct {
		desc  string
		v     *token.Verifier
		token string
		want  []string
	}{
		{"receiver still on the old key accepts an old-key token", receiver(oldKey.Public()), oldToken, nil},
		{"receiver still on the old key refuses a new-key token by kid", receiver(oldKey.Public()), newToken, []string{"kid_unknown"}},
		{"receiver with both keys accepts an old-key token minted before the switch", receiver(oldKey.Public(), newKey.Public()), oldToken, nil},
		{"receiver with both keys accepts a new-key token", receiver(oldKey.Public(), newKey.Public()), newToken, nil},
		{"receiver that dropped the old key refuses an old-key token", receiver(newKey.Public()), oldToken, []string{"kid_unknown"}},
		{"receiver that dropped the old key accepts a new-key token", receiver(newKey.Public()), newToken, nil},
	}
	for _, s := range steps {
		if got := verify(s.v, s.token); !sameMultiset(got, s.want) {
			t.Errorf("%s: got %q, want %q", s.desc, got, s.want)
		}
	}
}

func TestKeyRing(t *testing.T) {
	k := newTestKeys(t)
	noKid := func(alg token.Algorithm) string {
		return k.signer(alg).sign(t, header(string(alg), "").with("kid", deleted).String(), goodClaims().String())
	}
	tests := []struct {
		name  string
		keys  []*token.Key
		token string
		want  []string
	}{
		{"no kid, one key in the ring", []*token.Key{k.hs}, noKid(token.HS256), nil},
		{"no kid, two keys in the ring", []*token.Key{k.hs, k.ed.Public()}, noKid(token.HS256), []string{"kid_missing"}},
		{"no kid, one key of another alg", []*token.Key{k.ed.Public()}, noKid(token.HS256), []string{"alg_not_allowed"}},
		{"unknown kid, one key in the ring", []*token.Key{k.hs}, k.signer(token.HS256).sign(t, header("HS256", "hs9").String(), goodClaims().String()), []string{"kid_unknown"}},
		{"empty ring", nil, noKid(token.HS256), []string{"kid_missing"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := token.NewKeyRing(tc.keys...)
			if err != nil {
				t.Fatal(err)
			}
			_, err = newVerifier(t, r).Verify(context.Background(), tc.token)
			if got := codes(t, err); !sameMultiset(got, tc.want) {
				t.Errorf("got %q, want %q (%v)", got, tc.want, err)
			}
		})
	}
}

func TestKeyRingErrors(t *testing.T) {
	k := newTestKeys(t)
	if _, err := token.NewKeyRing(k.hs, mustKey(t, "hs1", token.EdDSA, testEd25519("other"))); err == nil || !strings.Contains(err.Error(), `two keys have kid "hs1"`) {
		t.Errorf("duplicate kid: %v", err)
	}
	if _, err := token.NewKeyRing(nil); err == nil {
		t.Error("nil key accepted")
	}
	r, err := token.NewKeyRing(k.ed.Public(), k.es)
	if err != nil {
		t.Fatal(err)
	}
	if r.Active() != k.es {
		t.Errorf("active = %v; want the first key that can sign", r.Active())
	}
	if err := r.SetActive("ed1"); err == nil || !strings.Contains(err.Error(), "public key and cannot sign") {
		t.Errorf("SetActive(public key) = %v", err)
	}
	if err := r.SetActive("nope"); err == nil || !strings.Contains(err.Error(), "have: ed1, es1") {
		t.Errorf("SetActive(unknown) = %v; want the kids listed", err)
	}
	pub, err := token.NewKeyRing(k.ed.Public())
	if err != nil {
		t.Fatal(err)
	}
	if pub.Active() != nil {
		t.Errorf("a ring of public keys has active key %v", pub.Active())
	}
	if _, _, err := token.Mint(k.ed.Public(), token.MintOptions{Issuer: testIssuer, Audience: testAudience, Subject: testSubject, SessionID: testSID}); err == nil {
		t.Error("Mint with a public key succeeded")
	}
	keys := r.Keys()
	keys[0] = nil
	if r.Keys()[0] == nil {
		t.Error("Keys returned the ring's own slice")
	}
}

// TestKeyNeverPrintsMaterial formats every key every way a log line or an
// error might, and looks for its secret in any common spelling.
func TestKeyNeverPrintsMaterial(t *testing.T) {
	k := newTestKeys(t)
	secretsOf := map[*token.Key][]string{
		k.hs: spellings(testHMACSecret),
		k.ed: spellings(k.edPriv.Seed()),
		k.es: append(spellings(k.esPriv.D.Bytes()), k.esPriv.D.String()),
		k.rs: append(spellings(k.rsPriv.D.Bytes()), k.rsPriv.D.String(), k.rsPriv.Primes[0].String()),
	}
	type holder struct {
		Name string
		Key  *token.Key
	}
	for key, secrets := range secretsOf {
		t.Run(string(key.Algorithm()), func(t *testing.T) {
			var logText, logJSON bytes.Buffer
			slog.New(slog.NewTextHandler(&logText, nil)).Info("loaded", "key", key, "value", *key, "keys", []*token.Key{key})
			slog.New(slog.NewJSONHandler(&logJSON, nil)).Info("loaded", "key", key, "value", *key)
			encJSON, _ := json.Marshal(key)
			outputs := map[string]string{
				"%v":                fmt.Sprintf("%v", key),
				"%+v":               fmt.Sprintf("%+v", key),
				"%#v":               fmt.Sprintf("%#v", key),
				"%s":                fmt.Sprintf("%s", key),
				"%q":                fmt.Sprintf("%q", key),
				"%x":                fmt.Sprintf("%x", key),
				"%v of the value":   fmt.Sprintf("%v", *key),
				"%+v of the value":  fmt.Sprintf("%+v", *key),
				"%#v of the value":  fmt.Sprintf("%#v", *key),
				"%x of the value":   fmt.Sprintf("%x", *key),
				"%+v in a struct":   fmt.Sprintf("%+v", holder{"k", key}),
				"%#v in a struct":   fmt.Sprintf("%#v", holder{"k", key}),
				"%v in a slice":     fmt.Sprintf("%v", []*token.Key{key}),
				"%v in a map":       fmt.Sprintf("%v", map[string]*token.Key{"k": key}),
				"error wrapping":    fmt.Errorf("loading %v: %w", key, errors.New("x")).Error(),
				"slog text handler": logText.String(),
				"slog JSON handler": logJSON.String(),
				"encoding/json":     string(encJSON),
			}
			for how, out := range outputs {
				for _, s := range secrets {
					if strings.Contains(out, s) {
						t.Errorf("%s prints key material %q:\n%s", how, s, out)
					}
				}
			}
			if got := fmt.Sprint(key); !strings.Contains(got, key.ID()) || !strings.Contains(got, string(key.Algorithm())) {
				t.Errorf("%%v = %q; want the kid and alg, so people can tell keys apart", got)
			}
		})
	}
}

// spellings are the ways a byte string shows up in text.
func spellings(b []byte) []string {
	dec := fmt.Sprint([]byte(b[:8]))
	return []string{
		string(b),
		hex.EncodeToString(b),
		strings.ToUpper(hex.EncodeToString(b)),
		base64.StdEncoding.EncodeToString(b)[:20],
		base64.RawURLEncoding.EncodeToString(b)[:20],
		dec[1 : len(dec)-1], // "116 101 115 ..." as %v of a []byte prints it
		fmt.Sprintf("%#v", b[:8])[len("[]byte{"):][:20],
	}
}

// TestKeygenRoundTrip generates a key of every algorithm, writes it the way
// `ssoctl keygen` does, reads it back the way serve does, and checks that a
// token minted with the private half verifies with the published half.
func TestKeygenRoundTrip(t *testing.T) {
	for _, alg := range token.Algorithms {
		t.Run(string(alg), func(t *testing.T) {
			if alg == token.RS256 && testing.Short() {
				t.Skip("RSA 3072 generation is slow")
			}
			gen, err := token.GenerateKey(alg, "")
			if err != nil {
				t.Fatal(err)
			}
			if gen.Algorithm() != alg || !gen.CanSign() || gen.ID() == "" {
				t.Fatalf("GenerateKey(%s) = %v", alg, gen)
			}
			var signing, verifying *token.Key
			if alg == token.HS256 {
				secret := gen.Secret()
				if len(secret) != 43 || strings.ContainsAny(string(secret), "+/=\n ") {
					t.Errorf("secret is %d bytes; want 43 base64url characters that survive env vars and files", len(secret))
				}
				if _, err := token.MarshalJWKS(gen); err == nil {
					t.Error("MarshalJWKS published an HS256 secret")
				}
				if _, err := token.MarshalPrivateKeyPEM(gen); err == nil {
					t.Error("MarshalPrivateKeyPEM accepted an HS256 secret")
				}
				if signing, err = token.NewHMACKey("", token.TrimOneNewline(append(secret, '\n'))); err != nil {
					t.Fatal(err)
				}
				verifying = signing
			} else {
				pemBytes, err := token.MarshalPrivateKeyPEM(gen)
				if err != nil {
					t.Fatal(err)
				}
				keys, err := token.ParseKeys(pemBytes, gen.ID(), alg)
				if err != nil {
					t.Fatalf("ParseKeys(private PEM): %v", err)
				}
				signing = keys[0]
				jwks, err := token.MarshalJWKS(gen)
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(jwks, []byte(`"d"`)) || bytes.Contains(jwks, []byte(`"p"`)) {
					t.Fatalf("published JWKS holds private members:\n%s", jwks)
				}
				pub, err := token.ParseKeys(jwks, "", "")
				if err != nil {
					t.Fatalf("ParseKeys(JWKS): %v", err)
				}
				verifying = pub[0]
				if verifying.CanSign() {
					t.Error("the key read back from a JWKS can sign")
				}
				if _, err := token.MarshalPrivateKeyPEM(verifying); err == nil {
					t.Error("MarshalPrivateKeyPEM accepted a public key")
				}
			}
			if signing.ID() != gen.ID() || verifying.ID() != gen.ID() || verifying.Algorithm() != alg {
				t.Fatalf("kids after the round trip: generated %q, signing %q, verifying %q (%s)", gen.ID(), signing.ID(), verifying.ID(), verifying.Algorithm())
			}
			tok, _, err := token.Mint(signing, token.MintOptions{Issuer: testIssuer, Audience: testAudience, Subject: testSubject, SessionID: testSID, Now: fixedClock})
			if err != nil {
				t.Fatal(err)
			}
			ring, err := token.NewKeyRing(verifying)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := newVerifier(t, ring).Verify(context.Background(), tok); err != nil {
				t.Fatalf("token minted with the generated key: %v", err)
			}
		})
	}
	if _, err := token.GenerateKey("none", ""); err == nil {
		t.Error(`GenerateKey("none") succeeded`)
	}
}

// TestKeySignatureUsesPinnedMethod mints with each fixed key and checks
// that only its own algorithm's verifier accepts the result.
func TestKeySignatureUsesPinnedMethod(t *testing.T) {
	k := newTestKeys(t)
	for _, key := range []*token.Key{k.hs, k.ed, k.es, k.rs} {
		t.Run(string(key.Algorithm()), func(t *testing.T) {
			tok, _, err := token.Mint(key, token.MintOptions{Issuer: testIssuer, Audience: testAudience, Subject: testSubject, SessionID: testSID, Now: fixedClock})
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := token.Parse(tok)
			if err != nil {
				t.Fatal(err)
			}
			if parsed.Header.Alg != string(key.Algorithm()) || parsed.Header.Kid != key.ID() {
				t.Errorf("header = %+v", parsed.Header)
			}
			if _, err := newVerifier(t, k.ring(t)).Verify(context.Background(), tok); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}
