package token_test

// Fixed keys, a fixed clock and a raw signer shared by the tests of this
// package. Every key here is a test-only key: derived from a published seed
// or read from testdata/test-only-*.pem. None protects anything.

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ssoctl/ssoctl/pkg/token"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// testNow is the fixed clock of every test: tokens are minted and verified
// relative to it, so nothing depends on when the tests run.
var testNow = time.Date(2026, time.March, 14, 15, 9, 26, 0, time.UTC)

func fixedClock() time.Time { return testNow }

const (
	testIssuer   = "https://accounts.company.test"
	testAudience = "portal"
	testSID      = "kratos-session-0001"
	testSubject  = "identity-alice"
	testJTI      = "jti-0001-fixed"
	testChain    = "chn-0001-fixed"
	testReturn   = "https://portal.company2.test/welcome"
)

// testHMACSecret is a test-only HS256 secret (43 bytes, like GenerateKey's).
var testHMACSecret = []byte("test-only-hs256-secret-not-for-production!!")

// seed derives fixed key material from a label, so each test key is stable
// across runs and obviously not a real one.
func seed(label string, n int) []byte {
	var out []byte
	for i := 0; len(out) < n; i++ {
		sum := sha256.Sum256([]byte("ssoctl test-only key: " + label + string(rune('0'+i))))
		out = append(out, sum[:]...)
	}
	return out[:n]
}

func testEd25519(label string) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(seed("ed25519 "+label, ed25519.SeedSize))
}

func testECDSA(t testing.TB, curve elliptic.Curve, label string) *ecdsa.PrivateKey {
	t.Helper()
	size := (curve.Params().BitSize + 7) / 8
	k, err := ecdsa.ParseRawPrivateKey(curve, seed("ecdsa "+label, size))
	if err != nil {
		t.Fatalf("deriving test ECDSA key: %v", err)
	}
	return k
}

var pemCache sync.Map

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	if b, ok := pemCache.Load(name); ok {
		return b.([]byte)
	}
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("reading test data: %v", err)
	}
	pemCache.Store(name, b)
	return b
}

func testRSA(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	return parseRSAPEM(t, readTestdata(t, "test-only-rsa2048.pem"))
}

func parseRSAPEM(t testing.TB, b []byte) *rsa.PrivateKey {
	t.Helper()
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatal("no PEM block in test key")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("parsing test RSA key: %v", err)
	}
	return k.(*rsa.PrivateKey)
}

func mustKey(t testing.TB, kid string, alg token.Algorithm, key any) *token.Key {
	t.Helper()
	k, err := token.NewKey(kid, alg, key)
	if err != nil {
		t.Fatalf("NewKey(%q, %q, %T): %v", kid, alg, key, err)
	}
	return k
}

// testKeys is one key per algorithm, with stable kids.
type testKeys struct {
	hs, ed, es, rs *token.Key

	edPriv ed25519.PrivateKey
	esPriv *ecdsa.PrivateKey
	rsPriv *rsa.PrivateKey
}

func newTestKeys(t testing.TB) testKeys {
	t.Helper()
	k := testKeys{
		edPriv: testEd25519("one"),
		esPriv: testECDSA(t, elliptic.P256(), "one"),
		rsPriv: testRSA(t),
	}
	k.hs = mustKey(t, "hs1", token.HS256, testHMACSecret)
	k.ed = mustKey(t, "ed1", token.EdDSA, k.edPriv)
	k.es = mustKey(t, "es1", token.ES256, k.esPriv)
	k.rs = mustKey(t, "rs1", token.RS256, k.rsPriv)
	return k
}

// ring holds every test key; receivers hold only public halves.
func (k testKeys) ring(t testing.TB) *token.KeyRing {
	t.Helper()
	r, err := token.NewKeyRing(k.hs, k.ed.Public(), k.es.Public(), k.rs.Public())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// rawSigner signs arbitrary header and claims bytes, whatever they say: the
// tests need tokens no honest minter would make.
type rawSigner struct {
	alg string // the algorithm actually used to sign; "" leaves the signature empty
	key any
}

func (k testKeys) signer(alg token.Algorithm) rawSigner {
	switch alg {
	case token.HS256:
		return rawSigner{"HS256", testHMACSecret}
	case token.EdDSA:
		return rawSigner{"EdDSA", k.edPriv}
	case token.ES256:
		return rawSigner{"ES256", k.esPriv}
	case token.RS256:
		return rawSigner{"RS256", k.rsPriv}
	}
	panic("no test signer for " + alg)
}

var b64 = base64.RawURLEncoding

// sign returns b64(header).b64(claims).b64(signature over both).
func (s rawSigner) sign(t testing.TB, header, claims string) string {
	t.Helper()
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(claims))
	if s.alg == "" {
		return input + "."
	}
	sig, err := jwt.GetSigningMethod(s.alg).Sign(input, s.key)
	if err != nil {
		t.Fatalf("signing test token with %s: %v", s.alg, err)
	}
	return input + "." + b64.EncodeToString(sig)
}

// object is a JSON object under construction. Its encoding sorts member
// names, so a test token's bytes depend only on its content.
type object map[string]any

// deleted marks a member to remove in with.
type deletedMember struct{}

var deleted = deletedMember{}

// with returns a copy of o with the given name/value pairs set, or removed
// when the value is deleted.
func (o object) with(kv ...any) object {
	out := make(object, len(o)+len(kv)/2)
	for k, v := range o {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		name := kv[i].(string)
		if _, ok := kv[i+1].(deletedMember); ok {
			delete(out, name)
			continue
		}
		out[name] = kv[i+1]
	}
	return out
}

func (o object) String() string {
	b, err := json.Marshal(map[string]any(o))
	if err != nil {
		panic(err)
	}
	return string(b)
}

func header(alg, kid string) object {
	return object{"alg": alg, "kid": kid, "typ": token.Type}
}

// unix is a NumericDate relative to testNow.
func unix(d time.Duration) int64 { return testNow.Add(d).Unix() }

// goodClaims is a valid claim set for testAudience at testNow: issued 5s
// ago, 30s lifetime.
func goodClaims() object {
	return object{
		"iss": testIssuer,
		"aud": testAudience,
		"sub": testSubject,
		"sid": testSID,
		"jti": testJTI,
		"iat": unix(-5 * time.Second),
		"exp": unix(25 * time.Second),
		"chn": testChain,
		"ret": testReturn,
	}
}

// countingStore is a ReplayStore that remembers what it consumed and counts
// every call, so tests can prove a bad token never reached it.
type countingStore struct {
	mu    sync.Mutex
	calls int
	used  map[string]time.Time
}

func (s *countingStore) Consume(_ context.Context, jti string, until time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.used == nil {
		s.used = map[string]time.Time{}
	}
	if _, ok := s.used[jti]; ok {
		return false, nil
	}
	s.used[jti] = until
	return true, nil
}

func (s *countingStore) snapshot() (int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, len(s.used)
}

func newVerifier(t testing.TB, keys token.KeySource, opts ...token.VerifyOption) *token.Verifier {
	t.Helper()
	v, err := token.NewVerifier(keys, testIssuer, testAudience, append([]token.VerifyOption{token.WithTimeFunc(fixedClock)}, opts...)...)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// codes returns the reason codes of err, which must be nil or an
// *InvalidError.
func codes(t testing.TB, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var inv *token.InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("error is %T (%v), want *token.InvalidError", err, err)
	}
	return inv.Codes()
}

func reasonCodes(rs []*token.Reason) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Code)
	}
	return out
}
