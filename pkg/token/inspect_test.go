package token_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/pkg/token"
)

func TestInspect(t *testing.T) {
	k := newTestKeys(t)
	hs := k.signer(token.HS256)
	h := header("HS256", "hs1")
	good := goodClaims()
	sign := func(s rawSigner, h, c object) string { return s.sign(t, h.String(), c.String()) }
	valid := sign(hs, h, good)
	parts := strings.Split(valid, ".")

	tests := []struct {
		name    string
		token   string
		now     time.Time
		want    []*token.Reason // warnings, in any order
		check   func(t *testing.T, in *token.Inspection)
		wantErr *token.Reason // Inspect cannot show the token at all
	}{
		{name: "a good handoff has nothing to warn about", token: valid, now: testNow},
		{name: "expired a day ago: shown, with a warning, not an error", token: valid, now: testNow.Add(24 * time.Hour), want: rs(token.ErrExpired)},
		{name: "at exp exactly, with no leeway", token: valid, now: testNow.Add(25 * time.Second), want: rs(token.ErrExpired)},
		{name: "before iat", token: valid, now: testNow.Add(-time.Minute), want: rs(token.ErrIssuedInFuture)},
		{name: "nbf ahead", token: sign(hs, h, good.with("nbf", unix(10*time.Second))), now: testNow, want: rs(token.ErrNotYetValid)},
		{name: "alg none", token: sign(rawSigner{}, header("none", "hs1"), good), now: testNow, want: rs(token.ErrAlgNone)},
		{name: "lifetime of an hour", token: sign(hs, h, good.with("exp", unix(time.Hour))), now: testNow, want: rs(token.ErrLifetimeTooLong)},
		{name: "no jti", token: sign(hs, h, good.with("jti", deleted)), now: testNow, want: rs(token.ErrJtiMissing)},
		{name: "no typ", token: sign(hs, h.with("typ", deleted), good), now: testNow, want: rs(token.ErrTypMissing)},
		{name: "an ID token's typ", token: sign(hs, h.with("typ", "JWT"), good), now: testNow, want: rs(token.ErrTypMismatch)},
		{name: "no aud", token: sign(hs, h, good.with("aud", deleted)), now: testNow, want: rs(token.ErrAudMissing)},
		{name: "two audiences", token: sign(hs, h, good.with("aud", []string{"portal", "dashboard"})), now: testNow, want: rs(token.ErrAudienceNotSingle)},
		{name: "any aud and iss are fine: Inspect knows no receiver", token: sign(hs, h, good.with("aud", "dashboard", "iss", "https://other.test")), now: testNow},
		{name: "jku and crit", token: sign(hs, h.with("jku", "https://evil.test", "crit", []string{"x"}), good), now: testNow, want: rs(token.ErrHeaderNotAllowed, token.ErrCritUnsupported)},
		{name: "path-like kid", token: sign(hs, header("HS256", "../k"), good), now: testNow, want: rs(token.ErrKidInvalid)},
		{name: "bad ret", token: sign(hs, h, good.with("ret", "//evil.test")), now: testNow, want: rs(token.ErrReturnInvalid)},
		{name: "a tampered signature is not Inspect's business", token: parts[0] + "." + parts[1] + "." + flipBit(t, parts[2]), now: testNow},
		{
			name: "duplicate aud: a warning, and the last one shown", now: testNow,
			token: hs.sign(t, h.String(), `{"aud":"portal","aud":"dashboard",`+good.with("aud", deleted).String()[1:]),
			want:  rs(token.ErrDuplicateKey),
			check: func(t *testing.T, in *token.Inspection) {
				if got := in.Token.Claims.Audience; len(got) != 1 || got[0] != "dashboard" {
					t.Errorf("aud shown as %q, want the last value", got)
				}
			},
		},
		{
			name: "duplicate alg in the header: a warning", now: testNow,
			token: hs.sign(t, `{"alg":"HS256","alg":"none","kid":"hs1","typ":"sso-handoff+jwt"}`, good.String()),
			want:  rs(token.ErrDuplicateKey, token.ErrAlgNone),
		},
		{
			name: "duplicate claim and a mistyped claim", now: testNow,
			token: hs.sign(t, h.String(), `{"sid":1,"x":1,"x":2,`+good.with("sid", deleted).String()[1:]),
			want:  rs(token.ErrDuplicateKey, token.ErrClaimInvalid),
		},
		{
			name: "exp as a string: named, not called missing", now: testNow,
			token: sign(hs, h, good.with("exp", "soon")),
			want:  rs(token.ErrClaimInvalid),
			check: func(t *testing.T, in *token.Inspection) {
				if in.Token.Claims.SessionID != testSID {
					t.Errorf("other claims not shown: %+v", in.Token.Claims)
				}
			},
		},
		{
			name: "everything missing", now: testNow,
			token: hs.sign(t, `{"alg":"HS256"}`, `{}`),
			want:  rs(token.ErrTypMissing, token.ErrExpMissing, token.ErrIatMissing, token.ErrIssMissing, token.ErrAudMissing, token.ErrJtiMissing, token.ErrSidMissing),
		},
		{
			name: "10 KiB: shown, with a warning", now: testNow,
			token: sign(hs, h, good.with("pad", strings.Repeat("x", 10<<10))),
			want:  rs(token.ErrTooLarge),
		},
		{name: "over 1 MiB is not read", token: sign(hs, h, good.with("pad", strings.Repeat("x", 1<<20))), now: testNow, wantErr: token.ErrTooLarge},
		{name: "not a token", token: "hello", now: testNow, wantErr: token.ErrMalformed},
		{name: "padded base64", token: valid + "=", now: testNow, wantErr: token.ErrBadEncoding},
		{name: "claims not JSON", token: hs.sign(t, h.String(), "not json"), now: testNow, wantErr: token.ErrBadJSON},
		{name: "claims null", token: hs.sign(t, h.String(), "null"), now: testNow, wantErr: token.ErrBadJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, err := token.Inspect(tc.token, tc.now)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || in != nil {
					t.Fatalf("Inspect = %v, %v; want error %s", in, err, tc.wantErr.Code)
				}
				return
			}
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			var got []string
			for _, w := range in.Warnings {
				got = append(got, w.Reason.Code)
				if w.Error() == "" {
					t.Errorf("warning %s has no text", w.Reason.Code)
				}
			}
			if want := reasonCodes(tc.want); !sameMultiset(got, want) {
				t.Errorf("warnings %q, want %q", got, want)
			}
			for _, r := range tc.want {
				if !in.Has(r) {
					t.Errorf("Has(%s) = false", r.Code)
				}
			}
			if in.Token == nil || in.Token.Raw != tc.token {
				t.Errorf("Inspect did not return the token")
			}
			if tc.check != nil {
				tc.check(t, in)
			}
		})
	}
}

// TestParseIsStrict: Parse is Verify's decoder without the checks; the
// things Inspect forgives it refuses.
func TestParseIsStrict(t *testing.T) {
	k := newTestKeys(t)
	hs := k.signer(token.HS256)
	h := header("HS256", "hs1").String()
	tests := []struct {
		name    string
		token   string
		want    []*token.Reason
		wantTok bool
	}{
		{name: "valid", token: hs.sign(t, h, goodClaims().String()), wantTok: true},
		{name: "mistyped claim: token and failure", token: hs.sign(t, h, goodClaims().with("iat", "x").String()), want: rs(token.ErrClaimInvalid), wantTok: true},
		{name: "duplicate claim", token: hs.sign(t, h, `{"sub":"a","sub":"b"}`), want: rs(token.ErrDuplicateKey)},
		{name: "oversized", token: hs.sign(t, h, goodClaims().with("pad", strings.Repeat("x", 10<<10)).String()), want: rs(token.ErrTooLarge)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := token.Parse(tc.token)
			if got, want := codes(t, err), reasonCodes(tc.want); !sameMultiset(got, want) {
				t.Errorf("Parse codes %q, want %q", got, want)
			}
			if (tok != nil) != tc.wantTok {
				t.Errorf("Parse returned token %v, want one: %v", tok, tc.wantTok)
			}
			if tok != nil {
				seg := strings.Split(tc.token, ".")
				if b64.EncodeToString(tok.RawHeader) != seg[0] || b64.EncodeToString(tok.RawClaims) != seg[1] || b64.EncodeToString(tok.Signature) != seg[2] {
					t.Error("raw segments do not re-encode to the token")
				}
			}
		})
	}
}
