package token_test

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ssoctl/ssoctl/pkg/token"
)

// jwk is one member of a test JWK Set, private members included when key is
// a private key.
func jwk(t *testing.T, key any, kid, alg, use string) json.RawMessage {
	t.Helper()
	b, err := jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg, Use: use}.MarshalJSON()
	if err != nil {
		t.Fatalf("marshalling test JWK: %v", err)
	}
	return b
}

func jwkSet(members ...json.RawMessage) []byte {
	b, err := json.Marshal(map[string]any{"keys": members})
	if err != nil {
		panic(err)
	}
	return b
}

func TestParseJWKS(t *testing.T) {
	k := newTestKeys(t)
	ed, es, rs := k.edPriv, k.esPriv, k.rsPriv
	rs1024 := parseRSAPEM(t, readTestdata(t, "test-only-rsa1024.pem"))
	p384 := testECDSA(t, elliptic.P384(), "one")
	x25519 := json.RawMessage(`{"kty":"OKP","crv":"X25519","kid":"x","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}`)
	oct := json.RawMessage(`{"kty":"oct","kid":"hs","alg":"HS256","k":"` + b64.EncodeToString(testHMACSecret) + `"}`)

	tests := []struct {
		name        string
		data        []byte
		wantKids    []string
		wantSkipped []string // a substring of each skipped description, in order
		wantErr     string
	}{
		{
			name:     "three public signing keys",
			data:     jwkSet(jwk(t, ed.Public(), "ed1", "EdDSA", "sig"), jwk(t, &es.PublicKey, "es1", "ES256", "sig"), jwk(t, &rs.PublicKey, "rs1", "RS256", "")),
			wantKids: []string{"ed1", "es1", "rs1"},
		},
		{
			name:     "private JWKs published by mistake are read as public keys",
			data:     jwkSet(jwk(t, ed, "ed1", "EdDSA", "sig"), jwk(t, es, "es1", "ES256", "sig"), jwk(t, rs, "rs1", "RS256", "sig")),
			wantKids: []string{"ed1", "es1", "rs1"},
		},
		{
			name:     "a key without kid gets its thumbprint",
			data:     jwkSet(jwk(t, ed.Public(), "", "", "")),
			wantKids: []string{must(token.Thumbprint(ed.Public()))},
		},
		{
			name:     "keys the profile cannot use are skipped, not fatal",
			data:     jwkSet(jwk(t, ed.Public(), "ed1", "EdDSA", "sig"), jwk(t, &es.PublicKey, "enc1", "", "enc"), jwk(t, &p384.PublicKey, "p384", "", ""), jwk(t, &rs1024.PublicKey, "rsa1024", "", ""), x25519, json.RawMessage(`{"kty":"XYZ","kid":"odd"}`), jwk(t, &rs.PublicKey, "ps", "PS256", "")),
			wantKids: []string{"ed1"},
			wantSkipped: []string{
				`key 1: JWK "enc1" has use "enc"`,
				`key 2: JWK "p384": ECDSA key is on P-384`,
				`key 3: JWK "rsa1024": RSA key is 1024 bits`,
				"key 4:",
				"key 5:",
				`key 6: JWK "ps": unsupported algorithm "PS256"`,
			},
		},
		{
			name:        "an HMAC secret in a published set is never a key",
			data:        jwkSet(oct, jwk(t, ed.Public(), "ed1", "EdDSA", "sig")),
			wantKids:    []string{"ed1"},
			wantSkipped: []string{`key 0: JWK "hs"`},
		},
		{
			name:    "only an HMAC secret",
			data:    jwkSet(oct),
			wantErr: "JWK Set has no usable signing key",
		},
		{
			name:    "two keys share a kid",
			data:    jwkSet(jwk(t, ed.Public(), "k", "", ""), jwk(t, &es.PublicKey, "k", "", "")),
			wantErr: `JWK Set has two keys with kid "k"`,
		},
		{
			name:    "the same key twice without kid",
			data:    jwkSet(jwk(t, ed.Public(), "", "", ""), jwk(t, ed.Public(), "", "", "")),
			wantErr: "JWK Set has two keys with kid",
		},
		{
			name:    "nothing usable",
			data:    jwkSet(jwk(t, &p384.PublicKey, "p384", "", "")),
			wantErr: `JWK Set has no usable signing key (key 0: JWK "p384": ECDSA key is on P-384`,
		},
		{name: "no keys", data: []byte(`{"keys":[]}`), wantErr: "JWK Set has no keys"},
		{name: "keys is not an array", data: []byte(`{"keys":{}}`), wantErr: "JWK Set"},
		{name: "keys twice", data: []byte(`{"keys":[],"keys":[]}`), wantErr: "JWK Set"},
		{name: "not JSON", data: []byte(`<html>`), wantErr: "JWK Set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys, skipped, err := token.ParseJWKS(tc.data)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseJWKS = %v, %v; want error containing %q", keys, err, tc.wantErr)
				}
				if strings.Contains(err.Error(), b64.EncodeToString(testHMACSecret)) {
					t.Errorf("error repeats a secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var kids []string
			for _, key := range keys {
				kids = append(kids, key.ID())
				if key.CanSign() || key.PrivateKey() != nil || key.Symmetric() {
					t.Errorf("key %v from a JWK Set holds private or secret material", key)
				}
			}
			if strings.Join(kids, ",") != strings.Join(tc.wantKids, ",") {
				t.Errorf("kids %q, want %q", kids, tc.wantKids)
			}
			if len(skipped) != len(tc.wantSkipped) {
				t.Fatalf("skipped %q, want %d entries like %q", skipped, len(tc.wantSkipped), tc.wantSkipped)
			}
			for i, want := range tc.wantSkipped {
				if !strings.Contains(skipped[i], want) {
					t.Errorf("skipped[%d] = %q, want it to contain %q", i, skipped[i], want)
				}
			}
		})
	}
}

func TestParseKeysSelectsFromJWKS(t *testing.T) {
	k := newTestKeys(t)
	set := jwkSet(
		jwk(t, k.edPriv.Public(), "ed1", "EdDSA", "sig"),
		jwk(t, &k.esPriv.PublicKey, "es1", "ES256", "sig"),
		jwk(t, &testECDSA(t, elliptic.P384(), "one").PublicKey, "p384", "", ""),
	)
	tests := []struct {
		name     string
		kid      string
		alg      token.Algorithm
		wantKids string
		wantErr  string
	}{
		{name: "every usable key", wantKids: "ed1,es1"},
		{name: "by kid", kid: "es1", wantKids: "es1"},
		{name: "by alg", alg: token.EdDSA, wantKids: "ed1"},
		{name: "kid and alg disagree", kid: "es1", alg: token.EdDSA, wantErr: `no key in the JWK Set matches kid "es1" alg EdDSA (skipped: key 2: JWK "p384"`},
		{name: "kid of a skipped key", kid: "p384", wantErr: "P-384"},
		{name: "unknown kid", kid: "nope", wantErr: `no key in the JWK Set matches kid "nope"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := token.ParseKeys(set, tc.kid, tc.alg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseKeys = %v, %v; want error containing %q", keys, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var kids []string
			for _, key := range keys {
				kids = append(kids, key.ID())
			}
			if got := strings.Join(kids, ","); got != tc.wantKids {
				t.Errorf("kids %s, want %s", got, tc.wantKids)
			}
		})
	}
}

func TestMarshalJWKS(t *testing.T) {
	k := newTestKeys(t)
	out, err := token.MarshalJWKS(k.ed, k.es.Public(), k.rs)
	if err != nil {
		t.Fatal(err)
	}
	again, err := token.MarshalJWKS(k.ed, k.es.Public(), k.rs)
	if err != nil || !bytes.Equal(out, again) {
		t.Error("MarshalJWKS is not deterministic")
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(out, &set); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := []struct{ kid, alg, kty string }{{"ed1", "EdDSA", "OKP"}, {"es1", "ES256", "EC"}, {"rs1", "RS256", "RSA"}}
	if len(set.Keys) != len(want) {
		t.Fatalf("published %d keys, want %d:\n%s", len(set.Keys), len(want), out)
	}
	for i, w := range want {
		m := set.Keys[i]
		if m["kid"] != w.kid || m["alg"] != w.alg || m["kty"] != w.kty || m["use"] != "sig" {
			t.Errorf("key %d = %v, want kid %s alg %s kty %s use sig", i, m, w.kid, w.alg, w.kty)
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := m[private]; ok {
				t.Errorf("key %s publishes private member %q", w.kid, private)
			}
		}
	}
	if !bytes.HasSuffix(out, []byte("}\n")) {
		t.Error("the published document does not end in a newline")
	}
	if _, err := token.MarshalJWKS(k.ed, k.hs); err == nil || !strings.Contains(err.Error(), "secrets are never published") {
		t.Errorf("MarshalJWKS with an HS256 key = %v", err)
	}
	if empty, err := token.MarshalJWKS(); err != nil || !bytes.Contains(empty, []byte(`"keys": []`)) {
		t.Errorf("MarshalJWKS() = %s, %v; want an empty set", empty, err)
	}
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// issuerJWKS is an issuer's /.well-known/jwks.json that tests can break.
type issuerJWKS struct {
	srv     *httptest.Server
	fetches atomic.Int32
	hosts   sync.Map // Host headers seen

	mu     sync.Mutex
	status int
	body   []byte
	hang   bool          // hold the request until the client gives up
	gate   chan struct{} // when set, hold each request until it is closed
}

func newIssuerJWKS(t *testing.T, body []byte) *issuerJWKS {
	s := &issuerJWKS{status: http.StatusOK, body: body}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.hosts.Store(r.Host, true)
		s.mu.Lock()
		status, body, hang, gate := s.status, s.body, s.hang, s.gate
		s.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		if hang {
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *issuerJWKS) serve(status int, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body, s.hang = status, body, false
}

func (s *issuerJWKS) hangUp() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang = true
}

// hold makes the issuer hold every request until the returned func is
// called (at most once).
func (s *issuerJWKS) hold() (release func()) {
	gate := make(chan struct{})
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate = gate
	return func() { close(gate) }
}

// waitFetches waits until the issuer has seen n fetches.
func (s *issuerJWKS) waitFetches(t *testing.T, n int32) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.fetches.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("issuer saw %d fetches after 5s, want %d", s.fetches.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func (s *issuerJWKS) url() string { return s.srv.URL + "/.well-known/jwks.json" }

// jwksStep is one moment in a receiver's life: time passes, the issuer may
// change what it publishes, a token arrives naming kid.
type jwksStep struct {
	desc    string
	advance time.Duration
	publish func(*issuerJWKS) // nil: the issuer answers as before
	kid     string
	want    string // kid of the key found; "" when an error is expected
	wantErr error  // matched with errors.Is
	fetches int32  // fetches the issuer has seen after this step
}

func runJWKSSteps(t *testing.T, initial []byte, steps []jwksStep) {
	t.Helper()
	issuer := newIssuerJWKS(t, initial)
	clock := &fakeClock{now: testNow}
	src, err := token.NewRemoteJWKS(issuer.url(), token.WithJWKSClock(clock.Now), token.WithHTTPClient(&http.Client{Timeout: 200 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		if s.publish != nil {
			s.publish(issuer)
		}
		k, err := src.VerificationKey(context.Background(), s.kid)
		switch {
		case s.wantErr != nil:
			if !errors.Is(err, s.wantErr) {
				t.Errorf("step %d (%s): got %v, %v; want error %v", i, s.desc, k, err, s.wantErr)
			}
		case err != nil || k == nil || k.ID() != s.want:
			t.Errorf("step %d (%s): got %v, %v; want key %q", i, s.desc, k, err, s.want)
		}
		if got := issuer.fetches.Load(); got != s.fetches {
			t.Errorf("step %d (%s): issuer saw %d fetches, want %d", i, s.desc, got, s.fetches)
		}
	}
}

func TestRemoteJWKSCaching(t *testing.T) {
	k := newTestKeys(t)
	set := jwkSet(jwk(t, k.edPriv.Public(), "ed1", "EdDSA", "sig"))
	runJWKSSteps(t, set, []jwksStep{
		{desc: "first token: the set is fetched", kid: "ed1", want: "ed1", fetches: 1},
		{desc: "second token: served from cache", kid: "ed1", want: "ed1", fetches: 1},
		{desc: "a token without kid: the only key", kid: "", want: "ed1", fetches: 1},
		{desc: "just under the 5m TTL: still cached", advance: 5*time.Minute - time.Second, kid: "ed1", want: "ed1", fetches: 1},
		{desc: "TTL reached: refetched", advance: time.Second, kid: "ed1", want: "ed1", fetches: 2},
		{desc: "right after: cached again", kid: "ed1", want: "ed1", fetches: 2},
	})
}

func TestRemoteJWKSRotation(t *testing.T) {
	k := newTestKeys(t)
	oldKey := jwk(t, k.edPriv.Public(), "ed1", "EdDSA", "sig")
	newKey := jwk(t, &k.esPriv.PublicKey, "es1", "ES256", "sig")
	runJWKSSteps(t, jwkSet(oldKey), []jwksStep{
		{desc: "receiver starts and fetches the old key", kid: "ed1", want: "ed1", fetches: 1},
		{desc: "issuer publishes a new key; a token names it at once: too soon to refetch", publish: func(s *issuerJWKS) { s.serve(200, jwkSet(oldKey, newKey)) }, kid: "es1", wantErr: token.ErrKidUnknown, fetches: 1},
		{desc: "10s later the unknown kid triggers a refetch and is found", advance: 10 * time.Second, kid: "es1", want: "es1", fetches: 2},
		{desc: "a made-up kid right after: no refetch", kid: "made-up-1", wantErr: token.ErrKidUnknown, fetches: 2},
		{desc: "another made-up kid 5s later: still no refetch", advance: 5 * time.Second, kid: "made-up-2", wantErr: token.ErrKidUnknown, fetches: 2},
		{desc: "another made-up kid 10s after the refetch: one more refetch", advance: 5 * time.Second, kid: "made-up-3", wantErr: token.ErrKidUnknown, fetches: 3},
		{desc: "old key still verifies", kid: "ed1", want: "ed1", fetches: 3},
		{desc: "no kid while two keys are published", kid: "", wantErr: token.ErrKidMissing, fetches: 3},
	})
}

func TestRemoteJWKSServesStaleKeysWhileIssuerIsDown(t *testing.T) {
	k := newTestKeys(t)
	set := jwkSet(jwk(t, k.edPriv.Public(), "ed1", "EdDSA", "sig"))
	next := jwkSet(jwk(t, &k.esPriv.PublicKey, "es1", "ES256", "sig"))
	runJWKSSteps(t, set, []jwksStep{
		{desc: "keys fetched", kid: "ed1", want: "ed1", fetches: 1},
		{desc: "issuer fails; TTL passes; the refetch fails and the cached key is used", advance: 5 * time.Minute, publish: func(s *issuerJWKS) { s.serve(500, []byte("oops")) }, kid: "ed1", want: "ed1", fetches: 2},
		{desc: "right after: no new attempt against the failing issuer", kid: "ed1", want: "ed1", fetches: 2},
		{desc: "min refresh later: one more attempt, still failing, still served", advance: 10 * time.Second, kid: "ed1", want: "ed1", fetches: 3},
		{desc: "issuer hangs: the attempt times out, still served", advance: 10 * time.Second, publish: (*issuerJWKS).hangUp, kid: "ed1", want: "ed1", fetches: 4},
		{desc: "issuer recovers with a rotated set", advance: 10 * time.Second, publish: func(s *issuerJWKS) { s.serve(200, next) }, kid: "es1", want: "es1", fetches: 5},
		{desc: "the dropped key is gone", kid: "ed1", wantErr: token.ErrKidUnknown, fetches: 5},
	})
}

func TestRemoteJWKSStopsServingStaleKeysAfterAnHour(t *testing.T) {
	k := newTestKeys(t)
	set := jwkSet(jwk(t, k.edPriv.Public(), "ed1", "EdDSA", "sig"))
	runJWKSSteps(t, set, []jwksStep{
		{desc: "keys fetched", kid: "ed1", want: "ed1", fetches: 1},
		{desc: "issuer fails; TTL passes; the cached key is used", advance: 5 * time.Minute, publish: func(s *issuerJWKS) { s.serve(500, []byte("oops")) }, kid: "ed1", want: "ed1", fetches: 2},
		{desc: "an hour after the last good fetch: still served", advance: 55 * time.Minute, kid: "ed1", want: "ed1", fetches: 3},
		{desc: "past the hour (the last attempt was 1s ago): a withdrawn key must not verify forever", advance: time.Second, kid: "ed1", wantErr: token.ErrKeysUnavailable, fetches: 3},
		{desc: "min refresh later: another attempt fails, still refused", advance: 10 * time.Second, kid: "ed1", wantErr: token.ErrKeysUnavailable, fetches: 4},
		{desc: "issuer recovers", advance: 10 * time.Second, publish: func(s *issuerJWKS) { s.serve(200, set) }, kid: "ed1", want: "ed1", fetches: 5},
	})
}

func TestRemoteJWKSFirstFetchFails(t *testing.T) {
	k := newTestKeys(t)
	good := jwkSet(jwk(t, k.edPriv.Public(), "ed1", "EdDSA", "sig"))
	tests := []struct {
		name    string
		publish func(*issuerJWKS)
		wantErr string
	}{
		{"500", func(s *issuerJWKS) { s.serve(500, []byte("internal error")) }, "500 Internal Server Error"},
		{"404", func(s *issuerJWKS) { s.serve(404, nil) }, "404 Not Found"},
		{"an HTML login page", func(s *issuerJWKS) { s.serve(200, []byte("<html>log in</html>")) }, "JWK Set"},
		{"JSON that is not a key set", func(s *issuerJWKS) { s.serve(200, []byte(`{"issuer":"x"}`)) }, "JWK Set has no keys"},
		{"a set with only an unusable key", func(s *issuerJWKS) {
			s.serve(200, jwkSet(jwk(t, &testECDSA(t, elliptic.P384(), "x").PublicKey, "p384", "", "")))
		}, "no usable signing key"},
		{"over 1 MiB", func(s *issuerJWKS) { s.serve(200, bytes.Repeat([]byte(" "), 1<<20+1)) }, "sent over 1048576 bytes"},
		{"timeout", (*issuerJWKS).hangUp, "Client.Timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			issuer := newIssuerJWKS(t, nil)
			tc.publish(issuer)
			clock := &fakeClock{now: testNow}
			src, err := token.NewRemoteJWKS(issuer.url(), token.WithJWKSClock(clock.Now), token.WithHTTPClient(&http.Client{Timeout: 200 * time.Millisecond}))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			k, err := src.VerificationKey(ctx, "ed1")
			if !errors.Is(err, token.ErrKeysUnavailable) || k != nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("VerificationKey = %v, %v; want ErrKeysUnavailable mentioning %q", k, err, tc.wantErr)
			}
			var f *token.Failure
			if errors.As(err, &f) {
				t.Errorf("an unreachable key source is not a verdict on the token: %v", err)
			}

			// A burst of tokens while the issuer is down must not become a
			// burst of fetches (each holding every other verification).
			for range 5 {
				if _, err := src.VerificationKey(ctx, "ed1"); !errors.Is(err, token.ErrKeysUnavailable) {
					t.Fatalf("second lookup: %v", err)
				}
			}
			if got := issuer.fetches.Load(); got != 1 {
				t.Errorf("issuer saw %d fetches during the burst, want 1", got)
			}

			// It recovers by itself.
			issuer.serve(200, good)
			clock.Advance(10 * time.Second)
			if k, err := src.VerificationKey(ctx, "ed1"); err != nil || k.ID() != "ed1" {
				t.Errorf("after the issuer recovered: %v, %v", k, err)
			}
		})
	}
}

func TestRemoteJWKSInVerifier(t *testing.T) {
	k := newTestKeys(t)
	issuer := newIssuerJWKS(t, jwkSet(jwk(t, k.edPriv, "ed1", "EdDSA", "sig")))
	src, err := token.NewRemoteJWKS(issuer.url(), token.WithJWKSClock(fixedClock))
	if err != nil {
		t.Fatal(err)
	}
	store := &countingStore{}
	v := newVerifier(t, src, token.WithReplayStore(store))
	ed := k.signer(token.EdDSA)
	good := ed.sign(t, header("EdDSA", "ed1").String(), goodClaims().String())
	if _, err := v.Verify(context.Background(), good); err != nil {
		t.Fatalf("token signed by the published key: %v", err)
	}
	forged := k.signer(token.HS256).sign(t, header("HS256", "ed1").String(), goodClaims().with("jti", "j2").String())
	if _, err := v.Verify(context.Background(), forged); !errors.Is(err, token.ErrAlgNotAllowed) {
		t.Errorf("HS256 token under the published EdDSA kid: %v", err)
	}

	down := newIssuerJWKS(t, nil)
	down.serve(503, nil)
	src2, err := token.NewRemoteJWKS(down.url())
	if err != nil {
		t.Fatal(err)
	}
	store2 := &countingStore{}
	v2 := newVerifier(t, src2, token.WithReplayStore(store2))
	tok, err := v2.Verify(context.Background(), good)
	if !errors.Is(err, token.ErrKeysUnavailable) {
		t.Fatalf("Verify with the JWKS down = %v, want ErrKeysUnavailable", err)
	}
	var inv *token.InvalidError
	if errors.As(err, &inv) {
		t.Errorf("keys unavailable must not read as an invalid token: %v", err)
	}
	if tok == nil || tok.Claims.SessionID != testSID {
		t.Errorf("Verify should still return the decoded token for display, got %v", tok)
	}
	if calls, _ := store2.snapshot(); calls != 0 {
		t.Errorf("replay store touched %d times while keys were unavailable", calls)
	}
}

func TestNewRemoteJWKSRequiresHTTPS(t *testing.T) {
	tests := []struct {
		url     string
		wantErr string
	}{
		{url: "https://accounts.company.com/.well-known/jwks.json"},
		{url: "https://127.0.0.1:8443/jwks.json"},
		{url: "http://127.0.0.1:8080/.well-known/jwks.json"},
		{url: "http://127.1.2.3/jwks.json"},
		{url: "http://[::1]:8080/jwks.json"},
		{url: "http://localhost:8080/jwks.json"},
		{url: "http://LOCALHOST./jwks.json"},
		{url: "http://accounts.company.localhost:8080/.well-known/jwks.json"},
		{url: "http://accounts.company.com/.well-known/jwks.json", wantErr: "is plain http; keys must come over https"},
		{url: "http://localhost.evil.test/jwks.json", wantErr: "plain http"},
		{url: "http://evil-localhost/jwks.json", wantErr: "plain http"},
		{url: "http://0.0.0.0:8080/jwks.json", wantErr: "plain http"},
		{url: "http://10.0.0.1/jwks.json", wantErr: "plain http"},
		{url: "http://[::ffff:10.0.0.1]/jwks.json", wantErr: "plain http"},
		{url: "ftp://accounts.company.com/jwks.json", wantErr: "must be https"},
		{url: "file:///etc/jwks.json", wantErr: "not an absolute URL"},
		{url: "/.well-known/jwks.json", wantErr: "not an absolute URL"},
		{url: "", wantErr: "not an absolute URL"},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			_, err := token.NewRemoteJWKS(tc.url)
			if tc.wantErr == "" && err != nil {
				t.Errorf("NewRemoteJWKS(%q) = %v", tc.url, err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("NewRemoteJWKS(%q) = %v, want error containing %q", tc.url, err, tc.wantErr)
			}
		})
	}
}

// TestRemoteJWKSOnLocalhostName fetches from http://<name>.localhost, with
// the name mapped onto the loopback listener by the client's dialer, as
// ssoctl's own clients do: the Host header keeps the chain's name.
func TestRemoteJWKSOnLocalhostName(t *testing.T) {
	k := newTestKeys(t)
	issuer := newIssuerJWKS(t, jwkSet(jwk(t, k.edPriv.Public(), "ed1", "EdDSA", "sig")))
	_, port, err := net.SplitHostPort(issuer.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	var dialer net.Dialer
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if !strings.HasSuffix(strings.Split(addr, ":")[0], ".localhost") {
				return nil, errors.New("test dialer: only *.localhost names")
			}
			return dialer.DialContext(ctx, network, issuer.srv.Listener.Addr().String())
		},
	}}
	name := "accounts.company.localhost:" + port
	src, err := token.NewRemoteJWKS("http://"+name+"/.well-known/jwks.json", token.WithHTTPClient(client))
	if err != nil {
		t.Fatal(err)
	}
	key, err := src.VerificationKey(context.Background(), "ed1")
	if err != nil || key.ID() != "ed1" {
		t.Fatalf("VerificationKey = %v, %v", key, err)
	}
	if _, ok := issuer.hosts.Load(name); !ok {
		t.Errorf("issuer did not see Host %q", name)
	}
}

// TestRemoteJWKSConcurrent is for -race: many receivers' goroutines look up
// keys while the cache expires under them.
func TestRemoteJWKSConcurrent(t *testing.T) {
	k := newTestKeys(t)
	issuer := newIssuerJWKS(t, jwkSet(jwk(t, k.edPriv.Public(), "ed1", "EdDSA", "sig")))
	clock := &fakeClock{now: testNow}
	src, err := token.NewRemoteJWKS(issuer.url(), token.WithJWKSClock(clock.Now), token.WithCacheTTL(time.Second), token.WithMinRefresh(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				if i == 0 && j%5 == 0 {
					clock.Advance(time.Second)
				}
				kid := "ed1"
				if j%7 == 0 {
					kid = "unknown"
				}
				key, err := src.VerificationKey(context.Background(), kid)
				if kid == "ed1" && (err != nil || key.ID() != "ed1") {
					t.Errorf("lookup: %v, %v", key, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got := issuer.fetches.Load(); got < 1 || got > 10 {
		t.Errorf("issuer saw %d fetches; want between 1 and one per second of fake time", got)
	}
}

func TestIsLoopbackHost(t *testing.T) {
	tests := map[string]bool{
		"localhost": true, "LocalHost": true, "localhost.": true, "a.localhost": true, "a.b.localhost.": true,
		"127.0.0.1": true, "127.255.0.9": true, "::1": true, "[::1]": true,
		"localhost.com": false, "notlocalhost": false, "0.0.0.0": false, "::": false, "192.168.1.1": false, "": false,
	}
	for host, want := range tests {
		if got := token.IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}

// TestRemoteJWKSCallerGivesUp: a fetch cut short by the caller's own
// context (the browser went away) says nothing about the issuer, so the
// next token's lookup fetches at once instead of failing for the min
// refresh interval.
func TestRemoteJWKSCallerGivesUp(t *testing.T) {
	k := newTestKeys(t)
	issuer := newIssuerJWKS(t, jwkSet(jwk(t, k.edPriv.Public(), "ed1", "EdDSA", "sig")))
	src, err := token.NewRemoteJWKS(issuer.url(), token.WithJWKSClock(fixedClock))
	if err != nil {
		t.Fatal(err)
	}
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := src.VerificationKey(gone, "ed1"); !errors.Is(err, token.ErrKeysUnavailable) {
		t.Fatalf("lookup with a cancelled context = %v, want ErrKeysUnavailable", err)
	}
	if key, err := src.VerificationKey(context.Background(), "ed1"); err != nil || key.ID() != "ed1" {
		t.Fatalf("next lookup = %v, %v; want the key fetched at once", key, err)
	}
}

// TestRemoteJWKSRefetchStallsNobodyElse: while one lookup refetches an
// expired set from an issuer that does not answer, tokens whose key the
// last set holds verify at once; only a lookup that needs the new set
// waits, and only as long as its own context allows. No lookup starts a
// second fetch.
func TestRemoteJWKSRefetchStallsNobodyElse(t *testing.T) {
	k := newTestKeys(t)
	issuer := newIssuerJWKS(t, jwkSet(jwk(t, k.edPriv.Public(), "ed1", "EdDSA", "sig")))
	clock := &fakeClock{now: testNow}
	src, err := token.NewRemoteJWKS(issuer.url(), token.WithJWKSClock(clock.Now), token.WithHTTPClient(&http.Client{Timeout: 3 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.VerificationKey(t.Context(), "ed1"); err != nil {
		t.Fatal(err)
	}
	release := issuer.hold()
	clock.Advance(5 * time.Minute)

	leader := lookupAsync(context.Background(), src, "ed1")
	issuer.waitFetches(t, 2)

	for range 20 {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		k, err := src.VerificationKey(ctx, "ed1")
		cancel()
		if err != nil || k.ID() != "ed1" {
			t.Fatalf("a known key during the refetch = %v, %v; want the last set's key at once", k, err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	_, err = src.VerificationKey(ctx, "es-new")
	cancel()
	if !errors.Is(err, token.ErrKeysUnavailable) || !strings.Contains(err.Error(), "waiting for") {
		t.Errorf("an unknown kid during the refetch = %v; want ErrKeysUnavailable after its own deadline", err)
	}
	select {
	case err := <-leader:
		t.Fatalf("the refetching lookup returned (%v) while the issuer still held its request", err)
	default:
	}

	release()
	if err := <-leader; err != nil {
		t.Errorf("the refetching lookup: %v", err)
	}
	if got := issuer.fetches.Load(); got != 2 {
		t.Errorf("issuer saw %d fetches, want 2: one refetch shared by every lookup", got)
	}
}

// TestRemoteJWKSFetchOutlivesItsCaller: the lookup that started a fetch
// giving up does not cut the fetch short for the lookups waiting on it.
func TestRemoteJWKSFetchOutlivesItsCaller(t *testing.T) {
	k := newTestKeys(t)
	issuer := newIssuerJWKS(t, jwkSet(jwk(t, k.edPriv.Public(), "ed1", "EdDSA", "sig")))
	release := issuer.hold()
	src, err := token.NewRemoteJWKS(issuer.url(), token.WithJWKSClock(fixedClock))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	first := lookupAsync(ctx, src, "ed1")
	issuer.waitFetches(t, 1)
	second := lookupAsync(context.Background(), src, "ed1")
	cancel()
	if err := <-first; !errors.Is(err, token.ErrKeysUnavailable) {
		t.Errorf("the lookup that gave up = %v, want ErrKeysUnavailable", err)
	}
	release()
	if err := <-second; err != nil {
		t.Errorf("the lookup waiting on the same fetch = %v, want the key", err)
	}
	if got := issuer.fetches.Load(); got != 1 {
		t.Errorf("issuer saw %d fetches, want 1", got)
	}
}

// lookupAsync looks kid up in the background; the channel gets nil when
// the key found is kid's.
func lookupAsync(ctx context.Context, src *token.RemoteJWKS, kid string) <-chan error {
	done := make(chan error, 1)
	go func() {
		k, err := src.VerificationKey(ctx, kid)
		if err == nil && k.ID() != kid {
			err = fmt.Errorf("got key %q, want %q", k.ID(), kid)
		}
		done <- err
	}()
	return done
}
