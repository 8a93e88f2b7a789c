package token_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/ssoctl/ssoctl/pkg/token"
)

// fuzzSeeds are the hostile table's tokens plus a few inputs for Find.
func fuzzSeeds(f *testing.F) []string {
	var seeds []string
	for _, tc := range hostileTokens(f) {
		seeds = append(seeds, tc.token)
	}
	k := newTestKeys(f)
	hs := k.signer(token.HS256)
	frac := hs.sign(f, header("HS256", "hs1").String(), goodClaims().with("iat", float64(unix(-5*time.Second))+0.123456789, "exp", 1.7735009961234567e9).String())
	seeds = append(seeds,
		frac,
		hs.sign(f, `{"alg":"HS256","kid":"hs1","typ":"sso-handoff+jwt","x":{"a":[1,2.5e-3,"\u00e9",null,true]}}`, `{"aud":[],"iat":0,"exp":1e3,"x":{"y":{}}}`),
		"https://portal.company2.test/sso?token="+seeds[0]+"#id_token="+seeds[1],
		"token="+seeds[0]+"&state=x",
		`<input type="hidden" name="token" value="`+seeds[0]+`">`,
		"level=INFO token="+seeds[0]+" aud=portal",
		"e30.e30.",
		"",
	)
	return seeds
}

// FuzzVerify: Verify never panics, and whatever it accepts is byte for byte
// one of the valid seeds. Strict canonical base64, strict JSON and
// deterministic signature checks leave a valid token exactly one spelling;
// anything else accepted would be a second reading of some token.
func FuzzVerify(f *testing.F) {
	k := newTestKeys(f)
	// ES256 signatures are randomized, so ES256 seeds differ from run to run;
	// the fuzz receiver holds only deterministic algorithms' keys.
	ring, err := token.NewKeyRing(k.hs, k.ed.Public(), k.rs.Public())
	if err != nil {
		f.Fatal(err)
	}
	v := newVerifier(f, ring)
	ctx := context.Background()

	valid := map[string]bool{}
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
		if _, err := v.Verify(ctx, s); err == nil {
			valid[s] = true
		}
	}
	if len(valid) < 3 {
		f.Fatalf("only %d valid seeds; the property needs the valid tokens among them", len(valid))
	}

	f.Fuzz(func(t *testing.T, raw string) {
		tok, err := v.Verify(ctx, raw)
		if err == nil {
			if !valid[raw] {
				t.Fatalf("Verify accepted %q, which is not one of the valid seeds", raw)
			}
			if tok == nil || tok.Raw != raw {
				t.Fatalf("accepted token = %+v", tok)
			}
			return
		}
		var inv *token.InvalidError
		if !errors.As(err, &inv) || len(inv.Failures) == 0 {
			t.Fatalf("Verify error %T %v; want an *InvalidError listing failures", err, err)
		}
		for _, fl := range inv.Failures {
			if fl.Reason == nil || fl.Error() == "" {
				t.Fatalf("failure without reason or text: %+v", fl)
			}
		}
		if len(raw) > token.MaxSize && !errors.Is(err, token.ErrTooLarge) {
			t.Fatalf("%d-byte input refused for %v, not for size", len(raw), inv.Codes())
		}
	})
}

// FuzzInspect: Inspect and Find never panic; a token Inspect shows decodes
// again to the same header and claims, and its decoded form re-encodes to a
// fixed point; what Find returns is token-shaped.
func FuzzInspect(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, found := range token.Find(raw) {
			if strings.Count(found.Token, ".") != 2 || strings.Trim(found.Token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") != "" {
				t.Fatalf("Find returned %q (%s), which is not a compact JWS", found.Token, found.Where)
			}
			_, _ = token.Inspect(found.Token, testNow)
		}

		in, err := token.Inspect(raw, testNow)
		if err != nil {
			var inv *token.InvalidError
			if !errors.As(err, &inv) || in != nil {
				t.Fatalf("Inspect = %v, %T %v", in, err, err)
			}
			return
		}
		tok := in.Token
		if tok == nil || tok.Raw != raw {
			t.Fatalf("Inspect returned %+v for %q", tok, raw)
		}
		seg := strings.Split(raw, ".")
		if b64.EncodeToString(tok.RawHeader) != seg[0] || b64.EncodeToString(tok.RawClaims) != seg[1] || b64.EncodeToString(tok.Signature) != seg[2] {
			t.Fatalf("decoded segments of %q do not re-encode to it", raw)
		}

		again, err := token.Inspect(raw, testNow)
		if err != nil || !reflect.DeepEqual(again.Token.Header, tok.Header) || !reflect.DeepEqual(again.Token.Claims, tok.Claims) {
			t.Fatalf("Inspect is not deterministic for %q", raw)
		}
		if len(again.Warnings) != len(in.Warnings) {
			t.Fatalf("warnings differ between two Inspects of %q", raw)
		}

		// Re-encoding what was read and reading it back is a fixed point.
		checkFixedPoint(t, "header", &tok.Header, func() any { return new(token.Header) })
		checkFixedPoint(t, "claims", &tok.Claims, func() any { return new(token.Claims) })

		if len(seg[0]) >= 4 {
			if got := token.Find(raw); len(got) != 1 || got[0].Token != raw {
				t.Fatalf("Find(%q) = %v; Inspect read it as a token", raw, got)
			}
		}
	})
}

func checkFixedPoint(t *testing.T, what string, v any, fresh func() any) {
	t.Helper()
	first, err := jsonv2.Marshal(v, jsonv2.Deterministic(true))
	if err != nil {
		// Inspect shows duplicates and mistyped members it could not keep;
		// what it did keep must encode.
		t.Fatalf("%s %+v does not encode: %v", what, v, err)
	}
	back := fresh()
	if err := jsonv2.Unmarshal(first, back); err != nil {
		t.Fatalf("%s re-encoded as %s does not decode: %v", what, first, err)
	}
	second, err := jsonv2.Marshal(back, jsonv2.Deterministic(true))
	if err != nil || !bytes.Equal(first, second) {
		t.Fatalf("%s is not a fixed point:\n first %s\nsecond %s (%v)", what, first, second, err)
	}
}
