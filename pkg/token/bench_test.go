package token_test

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ssoctl/ssoctl/pkg/token"
)

// The same handoff, verified by our Verifier and by golang-jwt's parser
// with the closest options it has. golang-jwt checks less (no typ, no
// lifetime, no duplicate keys, no kid rules, no jti/sid presence, lax
// base64), so the comparison is of what each costs, not of equal work.

type benchCase struct {
	alg    token.Algorithm
	token  string
	key    *token.Key
	jwtKey any // what golang-jwt verifies with
}

func benchCases(b *testing.B) []benchCase {
	k := newTestKeys(b)
	var out []benchCase
	for _, c := range []struct {
		key    *token.Key
		jwtKey any
	}{
		{k.hs, testHMACSecret},
		{k.ed, k.edPriv.Public()},
	} {
		tok, _, err := token.Mint(c.key, mintOptions())
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, benchCase{alg: c.key.Algorithm(), token: tok, key: c.key, jwtKey: c.jwtKey})
	}
	return out
}

func BenchmarkVerify(b *testing.B) {
	for _, bc := range benchCases(b) {
		b.Run(string(bc.alg), func(b *testing.B) {
			pub := bc.key
			if p := bc.key.Public(); p != nil {
				pub = p
			}
			ring, err := token.NewKeyRing(pub)
			if err != nil {
				b.Fatal(err)
			}
			v := newVerifier(b, ring)
			ctx := context.Background()
			if _, err := v.Verify(ctx, bc.token); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, bc.token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// handoffClaims is the handoff claim set as a golang-jwt user would write it.
type handoffClaims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
	Chain     string `json:"chn,omitempty"`
	Return    string `json:"ret,omitempty"`
}

func BenchmarkGolangJWTParseWithClaims(b *testing.B) {
	for _, bc := range benchCases(b) {
		b.Run(string(bc.alg), func(b *testing.B) {
			parser := jwt.NewParser(
				jwt.WithValidMethods([]string{string(bc.alg)}),
				jwt.WithAudience(testAudience),
				jwt.WithIssuer(testIssuer),
				jwt.WithExpirationRequired(),
				jwt.WithIssuedAt(),
				jwt.WithLeeway(5*time.Second),
				jwt.WithTimeFunc(fixedClock),
			)
			keyFunc := func(*jwt.Token) (any, error) { return bc.jwtKey, nil }
			parse := func() error {
				var c handoffClaims
				_, err := parser.ParseWithClaims(bc.token, &c, keyFunc)
				if err == nil && c.SessionID != testSID {
					b.Fatalf("sid = %q", c.SessionID)
				}
				return err
			}
			if err := parse(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := parse(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
