package token_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/pkg/token"
)

// verifyCase is one token put to a receiver's Verifier: the story of the
// token, the token itself, and every reason it must be refused for (none:
// it must be accepted).
type verifyCase struct {
	name  string
	token string
	opts  []token.VerifyOption
	want  []*token.Reason
	twice bool // the same token was verified (and accepted) once before
	// detail, when set, is the exact text of the one failure.
	detail string
}

// hostileTokens builds one row per token-level input of DESIGN §9, plus the
// accepted neighbours that pin each boundary.
func hostileTokens(t testing.TB) []verifyCase {
	k := newTestKeys(t)
	hs := k.signer(token.HS256)
	good := goodClaims()
	hsHeader := header("HS256", "hs1")
	sign := func(s rawSigner, h, c object) string { return s.sign(t, h.String(), c.String()) }
	valid := sign(hs, hsHeader, good)
	parts := strings.Split(valid, ".")

	// HS/RS confusion: the attacker knows the RSA public key (it is
	// published) and uses its PEM bytes as an HMAC secret.
	der, err := x509.MarshalPKIXPublicKey(&k.rsPriv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	confused := rawSigner{"HS256", rsaPEM}

	// The valid token's segments in the standard (not URL) alphabet.
	std := reencode(t, valid, base64.RawStdEncoding)
	if std == valid || !strings.ContainsAny(std, "+/") {
		t.Fatalf("test setup: re-encoding %q in the std alphabet changed nothing", valid)
	}

	// Dotted claim members spelled by hand, for what a map cannot hold.
	withRaw := func(c object, members string) string {
		s := c.String()
		return "{" + members + "," + s[1:]
	}
	noAud := good.with("aud", deleted)

	// A token of exactly MaxSize bytes, found by growing a filler claim.
	// Base64 skips one length in four, so a header member grows too.
	var exact string
	for n := 5000; n < token.MaxSize && exact == ""; n++ {
		for m := 0; m < 4; m++ {
			if tok := sign(hs, hsHeader.with("cty", strings.Repeat("x", m)), good.with("pad", strings.Repeat("x", n))); len(tok) == token.MaxSize {
				exact = tok
				break
			}
		}
	}
	if exact == "" {
		t.Fatal("test setup: no filler length gives a token of exactly MaxSize")
	}

	return []verifyCase{
		// What an honest issuer sends.
		{name: "HS256 handoff from the issuer is accepted", token: valid},
		{name: "EdDSA handoff is accepted", token: sign(k.signer(token.EdDSA), header("EdDSA", "ed1"), good)},
		{name: "ES256 handoff is accepted", token: sign(k.signer(token.ES256), header("ES256", "es1"), good)},
		{name: "RS256 handoff is accepted", token: sign(k.signer(token.RS256), header("RS256", "rs1"), good)},
		{name: "typ with the application/ prefix is accepted", token: sign(hs, hsHeader.with("typ", "application/sso-handoff+jwt"), good)},
		{name: "typ in upper case is accepted (RFC 7515 §4.1.9)", token: sign(hs, hsHeader.with("typ", "SSO-HANDOFF+JWT"), good)},
		{name: "aud as an array of one is accepted", token: sign(hs, hsHeader, good.with("aud", []string{testAudience}))},
		{name: "token of exactly 8 KiB is accepted", token: exact},

		// alg: none in every spelling.
		{name: "alg none with no signature", token: sign(rawSigner{}, header("none", "hs1"), good), want: rs(token.ErrAlgNone)},
		{name: "alg None", token: sign(rawSigner{}, header("None", "hs1"), good), want: rs(token.ErrAlgNone)},
		{name: "alg NONE", token: sign(rawSigner{}, header("NONE", "hs1"), good), want: rs(token.ErrAlgNone)},
		{name: "alg none with a valid HMAC attached anyway", token: sign(hs, header("none", "hs1"), good), want: rs(token.ErrAlgNone)},

		// The algorithm comes from the key, never from the token.
		{name: "HS256 signed with the RSA public key's PEM as secret (HS/RS confusion)", token: sign(confused, header("HS256", "rs1"), good), want: rs(token.ErrAlgNotAllowed)},
		{name: "RS256 token presented under the EdDSA key's kid", token: sign(k.signer(token.RS256), header("RS256", "ed1"), good), want: rs(token.ErrAlgNotAllowed)},
		{name: "ES384 claimed for the ES256 key", token: sign(k.signer(token.ES256), header("ES384", "es1"), good), want: rs(token.ErrAlgNotAllowed)},
		{name: "alg in lower case is another alg", token: sign(hs, header("hs256", "hs1"), good), want: rs(token.ErrAlgNotAllowed)},
		{name: "no alg at all", token: sign(hs, hsHeader.with("alg", deleted), good), want: rs(token.ErrAlgNotAllowed)},

		// kid selects a key by name and nothing else.
		{name: "unknown kid", token: sign(hs, header("HS256", "hs2"), good), want: rs(token.ErrKidUnknown)},
		{name: "no kid while the ring holds four keys", token: sign(hs, hsHeader.with("kid", deleted), good), want: rs(token.ErrKidMissing)},
		{name: "empty kid is no kid", token: sign(hs, header("HS256", ""), good), want: rs(token.ErrKidMissing)},
		{name: "kid in another case", token: sign(hs, header("HS256", "HS1"), good), want: rs(token.ErrKidUnknown)},
		{name: "Kid instead of kid", token: sign(hs, hsHeader.with("kid", deleted, "Kid", "hs1"), good), want: rs(token.ErrKidMissing)},
		{name: "kid ../../etc/passwd", token: sign(hs, header("HS256", "../../etc/passwd"), good), want: rs(token.ErrKidInvalid)},
		{name: "kid /dev/null", token: sign(hs, header("HS256", "/dev/null"), good), want: rs(token.ErrKidInvalid)},
		{name: `kid a\b`, token: sign(hs, header("HS256", `a\b`), good), want: rs(token.ErrKidInvalid)},
		{name: "kid with NUL", token: sign(hs, header("HS256", "hs1\x00.pem"), good), want: rs(token.ErrKidInvalid)},
		{name: "kid of .. alone", token: sign(hs, header("HS256", ".."), good), want: rs(token.ErrKidInvalid)},
		{name: "kid of 129 characters", token: sign(hs, header("HS256", strings.Repeat("k", 129)), good), want: rs(token.ErrKidInvalid)},
		{name: "kid of 128 characters is a name, just not a known one", token: sign(hs, header("HS256", strings.Repeat("k", 128)), good), want: rs(token.ErrKidUnknown)},

		// Keys come from configuration, never from the token (RFC 8725 §3.10).
		{name: "jku header", token: sign(hs, hsHeader.with("jku", "https://evil.test/jwks.json"), good), want: rs(token.ErrHeaderNotAllowed)},
		{name: "x5u header", token: sign(hs, hsHeader.with("x5u", "https://evil.test/cert.pem"), good), want: rs(token.ErrHeaderNotAllowed)},
		{name: "jwk header", token: sign(hs, hsHeader.with("jwk", object{"kty": "oct", "k": "c2VjcmV0"}), good), want: rs(token.ErrHeaderNotAllowed)},
		{name: "x5c header", token: sign(hs, hsHeader.with("x5c", []string{"MIIB"}), good), want: rs(token.ErrHeaderNotAllowed)},
		{name: "enc header (a JWE header on a JWS)", token: sign(hs, hsHeader.with("enc", "A128GCM"), good), want: rs(token.ErrHeaderNotAllowed)},
		{name: "crit naming an extension", token: sign(hs, hsHeader.with("crit", []string{"exp"}), good), want: rs(token.ErrCritUnsupported)},
		{name: "crit empty", token: sign(hs, hsHeader.with("crit", []string{}), good), want: rs(token.ErrCritUnsupported)},
		{name: "crit null", token: sign(hs, hsHeader.with("crit", nil), good), want: rs(token.ErrCritUnsupported)},
		{name: "b64 false with crit (RFC 7797 unencoded payload)", token: sign(hs, hsHeader.with("b64", false, "crit", []string{"b64"}), good), want: rs(token.ErrCritUnsupported)},

		// Explicit typing: no other JWT passes as a handoff.
		{name: "typ JWT", token: sign(hs, hsHeader.with("typ", "JWT"), good), want: rs(token.ErrTypMismatch)},
		{name: "typ at+jwt (an access token)", token: sign(hs, hsHeader.with("typ", "at+jwt"), good), want: rs(token.ErrTypMismatch)},
		{name: "typ application/ alone", token: sign(hs, hsHeader.with("typ", "application/"), good), want: rs(token.ErrTypMismatch)},
		{name: "no typ", token: sign(hs, hsHeader.with("typ", deleted), good), want: rs(token.ErrTypMissing)},

		// Required claims.
		{name: "no exp", token: sign(hs, hsHeader, good.with("exp", deleted)), want: rs(token.ErrExpMissing)},
		{name: "no iat", token: sign(hs, hsHeader, good.with("iat", deleted)), want: rs(token.ErrIatMissing),
			detail: "no iat claim; the lifetime cannot be checked"},
		{name: "no iss", token: sign(hs, hsHeader, good.with("iss", deleted)), want: rs(token.ErrIssMissing)},
		{name: "no aud", token: sign(hs, hsHeader, noAud), want: rs(token.ErrAudMissing)},
		{name: "aud as an empty array", token: sign(hs, hsHeader, good.with("aud", []string{})), want: rs(token.ErrAudMissing)},
		{name: "no jti", token: sign(hs, hsHeader, good.with("jti", deleted)), want: rs(token.ErrJtiMissing)},
		{name: "no sid", token: sign(hs, hsHeader, good.with("sid", deleted)), want: rs(token.ErrSidMissing)},
		{name: "jti of 257 characters", token: sign(hs, hsHeader, good.with("jti", strings.Repeat("j", 257))), want: rs(token.ErrClaimInvalid)},
		// Identifiers go on into identity headers and IdP API paths.
		{name: "sub with CR LF (identity header injection)", token: sign(hs, hsHeader, good.with("sub", "u1\r\nX-Auth-Role: admin")), want: rs(token.ErrClaimInvalid)},
		{name: "sid with NUL", token: sign(hs, hsHeader, good.with("sid", "s1\u0000")), want: rs(token.ErrClaimInvalid)},
		{name: "chn with ESC", token: sign(hs, hsHeader, good.with("chn", "c\u001b[2J")), want: rs(token.ErrClaimInvalid)},
		{name: "jti with DEL", token: sign(hs, hsHeader, good.with("jti", "j\u007f")), want: rs(token.ErrClaimInvalid)},
		{name: "sid of 1025 bytes", token: sign(hs, hsHeader, good.with("sid", strings.Repeat("s", 1025))), want: rs(token.ErrClaimInvalid)},
		{name: "sub of 1024 bytes is accepted", token: sign(hs, hsHeader, good.with("sub", strings.Repeat("s", 1024)))},
		{name: "non-ASCII sub is accepted", token: sign(hs, hsHeader, good.with("sub", "jürgen"))},

		// Time, with the default 5s leeway and 30s maximum lifetime.
		{name: "expired 6s ago, beyond the leeway", token: sign(hs, hsHeader, good.with("iat", unix(-36*time.Second), "exp", unix(-6*time.Second))), want: rs(token.ErrExpired)},
		{name: "expired exactly the leeway ago (RFC 7519 §4.1.4: now must be before exp)", token: sign(hs, hsHeader, good.with("iat", unix(-35*time.Second), "exp", unix(-5*time.Second))), want: rs(token.ErrExpired)},
		{name: "expired 4s ago, within the leeway", token: sign(hs, hsHeader, good.with("iat", unix(-34*time.Second), "exp", unix(-4*time.Second)))},
		{name: "nbf 6s in the future, beyond the leeway", token: sign(hs, hsHeader, good.with("nbf", unix(6*time.Second))), want: rs(token.ErrNotYetValid)},
		{name: "nbf exactly the leeway in the future", token: sign(hs, hsHeader, good.with("nbf", unix(5*time.Second)))},
		{name: "iat 6s in the future, beyond the leeway", token: sign(hs, hsHeader, good.with("iat", unix(6*time.Second), "exp", unix(30*time.Second))), want: rs(token.ErrIssuedInFuture),
			detail: "iat is 6s in the future (leeway 5s); check the minter's clock"},
		{name: "iat exactly the leeway in the future", token: sign(hs, hsHeader, good.with("iat", unix(5*time.Second), "exp", unix(30*time.Second)))},
		{name: "lifetime 31s, over the maximum", token: sign(hs, hsHeader, good.with("iat", unix(-5*time.Second), "exp", unix(26*time.Second))), want: rs(token.ErrLifetimeTooLong)},
		{name: "lifetime exactly the maximum", token: sign(hs, hsHeader, good.with("iat", unix(-10*time.Second), "exp", unix(20*time.Second)))},
		{name: "lifetime over a receiver's tighter maximum", token: valid, opts: opts(token.WithMaxLifetime(10 * time.Second)), want: rs(token.ErrLifetimeTooLong)},
		{name: "lifetime of 4 days over a receiver's 72h maximum, the limit as configured", token: sign(hs, hsHeader, good.with("iat", unix(0), "exp", unix(96*time.Hour))), opts: opts(token.WithMaxLifetime(72 * time.Hour)),
			want: rs(token.ErrLifetimeTooLong), detail: "lifetime is 4 days; at most 72h is accepted"},
		{name: "exp equal to iat", token: sign(hs, hsHeader, good.with("iat", unix(-1*time.Second), "exp", unix(-1*time.Second))), want: rs(token.ErrLifetimeInvalid)},
		{name: "exp before iat", token: sign(hs, hsHeader, good.with("iat", unix(2*time.Second), "exp", unix(1*time.Second))), want: rs(token.ErrLifetimeInvalid)},
		{name: "fractional exp half a second past the leeway", token: sign(hs, hsHeader, good.with("iat", float64(unix(-36*time.Second))+0.5, "exp", float64(unix(-6*time.Second))+0.5)), want: rs(token.ErrExpired)},

		// Whom it is for, and from.
		{name: "aud of another receiver", token: sign(hs, hsHeader, good.with("aud", "dashboard")), want: rs(token.ErrAudienceMismatch)},
		{name: "aud as an array of another receiver", token: sign(hs, hsHeader, good.with("aud", []string{"dashboard"})), want: rs(token.ErrAudienceMismatch)},
		{name: "aud as an array of two, ours first", token: sign(hs, hsHeader, good.with("aud", []string{testAudience, "dashboard"})), want: rs(token.ErrAudienceNotSingle)},
		{name: "aud of another receiver plus AUD of ours (names are case-sensitive)", token: sign(hs, hsHeader, good.with("aud", "dashboard", "AUD", testAudience)), want: rs(token.ErrAudienceMismatch)},
		{name: "AUD instead of aud", token: sign(hs, hsHeader, noAud.with("AUD", testAudience)), want: rs(token.ErrAudMissing)},
		{name: "Exp instead of exp", token: sign(hs, hsHeader, good.with("exp", deleted, "Exp", unix(25*time.Second))), want: rs(token.ErrExpMissing)},
		{name: "iss of another issuer", token: sign(hs, hsHeader, good.with("iss", "https://evil.test")), want: rs(token.ErrIssuerMismatch)},
		{name: "iss with a trailing slash", token: sign(hs, hsHeader, good.with("iss", testIssuer+"/")), want: rs(token.ErrIssuerMismatch)},
		// A relay receiver also takes handoffs from the receiver before it.
		{name: "iss of the relay predecessor, allowed", token: sign(hs, hsHeader, good.with("iss", "https://r1.test")), opts: opts(token.WithIssuers("https://r1.test"))},
		{name: "iss of a receiver not allowed to relay here", token: sign(hs, hsHeader, good.with("iss", "https://r2.test")), opts: opts(token.WithIssuers("https://r1.test")), want: rs(token.ErrIssuerMismatch)},
		{name: "the issuer is still accepted beside a relay predecessor", token: valid, opts: opts(token.WithIssuers("https://r1.test"))},

		// Single use.
		{name: "second use of an accepted token", token: valid, twice: true, want: rs(token.ErrReplayed)},

		// Encoding: exactly one spelling per token.
		{name: "padding = on the signature", token: valid + "=", want: rs(token.ErrBadEncoding)},
		{name: "padding = on the header", token: parts[0] + "=." + parts[1] + "." + parts[2], want: rs(token.ErrBadEncoding)},
		{name: "standard alphabet + and /", token: std, want: rs(token.ErrBadEncoding)},
		{name: "non-canonical trailing bits in the signature", token: parts[0] + "." + parts[1] + "." + dirtyTail(t, parts[2]), want: rs(token.ErrBadEncoding)},
		{name: "embedded LF in the claims", token: parts[0] + "." + parts[1][:10] + "\n" + parts[1][10:] + "." + parts[2], want: rs(token.ErrBadEncoding)},
		{name: "embedded CR LF in the signature", token: parts[0] + "." + parts[1] + "." + parts[2][:10] + "\r\n" + parts[2][10:], want: rs(token.ErrBadEncoding)},
		{name: "trailing newline", token: valid + "\n", want: rs(token.ErrBadEncoding)},
		{name: "impossible length (one base64 char left over)", token: parts[0] + "." + parts[1] + "." + parts[2] + "AA", want: rs(token.ErrBadEncoding)},

		// JSON: one object, one reading.
		{name: "header is truncated JSON", token: hs.sign(t, `{"alg":"HS256","kid":"hs1"`, good.String()), want: rs(token.ErrBadJSON)},
		{name: "claims are truncated JSON", token: hs.sign(t, hsHeader.String(), `{"iss":`), want: rs(token.ErrBadJSON)},
		{name: "header is a JSON array", token: hs.sign(t, `["HS256","hs1"]`, good.String()), want: rs(token.ErrBadJSON)},
		{name: "claims are a JSON array", token: hs.sign(t, hsHeader.String(), "["+good.String()+"]"), want: rs(token.ErrBadJSON)},
		{name: "claims are JSON null", token: hs.sign(t, hsHeader.String(), `null`), want: rs(token.ErrBadJSON)},
		{name: "header is JSON null", token: hs.sign(t, `null`, good.String()), want: rs(token.ErrBadJSON)},
		{name: "claims are a JSON string", token: hs.sign(t, hsHeader.String(), `"claims"`), want: rs(token.ErrBadJSON)},
		{name: "claims followed by a second object", token: hs.sign(t, hsHeader.String(), good.String()+`{}`), want: rs(token.ErrBadJSON)},
		{name: "invalid UTF-8 in a claim", token: hs.sign(t, hsHeader.String(), withRaw(good.with("sub", deleted), "\"sub\":\"al\xffice\"")), want: rs(token.ErrBadJSON)},
		{name: "invalid UTF-8 in the header", token: hs.sign(t, `{"alg":"HS256","kid":"hs1","typ":"sso-handoff+jwt","x":"`+"\xc3\x28"+`"}`, good.String()), want: rs(token.ErrBadJSON)},
		{name: "duplicate alg in the header", token: hs.sign(t, `{"alg":"none","alg":"HS256","kid":"hs1","typ":"sso-handoff+jwt"}`, good.String()), want: rs(token.ErrDuplicateKey)},
		{name: "duplicate kid in the header", token: hs.sign(t, `{"alg":"HS256","kid":"hs1","kid":"ed1","typ":"sso-handoff+jwt"}`, good.String()), want: rs(token.ErrDuplicateKey)},
		{name: "duplicate aud in the claims", token: hs.sign(t, hsHeader.String(), withRaw(noAud, `"aud":"dashboard","aud":"portal"`)), want: rs(token.ErrDuplicateKey)},
		{name: `duplicate aud spelled "a\u0075d"`, token: hs.sign(t, hsHeader.String(), withRaw(noAud, `"aud":"portal","a\u0075d":"dashboard"`)), want: rs(token.ErrDuplicateKey)},
		{name: "duplicate unknown claim", token: hs.sign(t, hsHeader.String(), withRaw(good, `"x":1,"x":2`)), want: rs(token.ErrDuplicateKey)},

		// A mistyped claim is named, and the rest are still checked.
		{name: "exp as a string and aud as a number, from another issuer", token: sign(hs, hsHeader, good.with("exp", fmt.Sprint(unix(25*time.Second)), "aud", 5, "iss", "https://evil.test")), want: rs(token.ErrClaimInvalid, token.ErrClaimInvalid, token.ErrIssuerMismatch)},
		{name: "sid as a number", token: sign(hs, hsHeader, good.with("sid", 42)), want: rs(token.ErrClaimInvalid)},
		{name: "aud as an array holding a number", token: sign(hs, hsHeader, good.with("aud", []any{testAudience, 1})), want: rs(token.ErrClaimInvalid)},
		{name: "exp in the year 10000", token: sign(hs, hsHeader, good.with("exp", 253402300800)), want: rs(token.ErrClaimInvalid)},
		{name: "exp negative", token: sign(hs, hsHeader, good.with("exp", -1)), want: rs(token.ErrClaimInvalid)},
		{name: "iat null", token: sign(hs, hsHeader, good.with("iat", nil)), want: rs(token.ErrClaimInvalid)},
		{name: "kid as a number", token: sign(hs, hsHeader.with("kid", 1), good), want: rs(token.ErrBadJSON)},

		// Size and shape.
		{name: "token over 8 KiB", token: sign(hs, hsHeader, good.with("pad", strings.Repeat("x", token.MaxSize))), want: rs(token.ErrTooLarge)},
		{name: "empty string", token: "", want: rs(token.ErrMalformed)},
		{name: "two segments", token: parts[0] + "." + parts[1], want: rs(token.ErrMalformed)},
		{name: "four segments", token: valid + ".x", want: rs(token.ErrMalformed)},
		{name: "five segments (a JWE)", token: valid + "..x", want: rs(token.ErrMalformed)},

		// Tampering.
		{name: "signature with one bit flipped", token: parts[0] + "." + parts[1] + "." + flipBit(t, parts[2]), want: rs(token.ErrSignatureInvalid)},
		{name: "claims rewritten, signature kept", token: strings.Join([]string{parts[0], b64.EncodeToString([]byte(good.with("sub", "identity-mallory").String())), parts[2]}, "."), want: rs(token.ErrSignatureInvalid)},
		{name: "signature stripped", token: parts[0] + "." + parts[1] + ".", want: rs(token.ErrSignatureInvalid)},
		{name: "HS256 signed with another secret", token: sign(rawSigner{"HS256", []byte(strings.Repeat("s", 32))}, hsHeader, good), want: rs(token.ErrSignatureInvalid)},
		{name: "EdDSA signed by another Ed25519 key", token: sign(rawSigner{"EdDSA", testEd25519("two")}, header("EdDSA", "ed1"), good), want: rs(token.ErrSignatureInvalid)},

		// Where the receiver sends the browser next.
		{name: "ret //evil (scheme-relative)", token: sign(hs, hsHeader, good.with("ret", "//evil.test/")), want: rs(token.ErrReturnInvalid)},
		{name: "ret https:evil (no slashes)", token: sign(hs, hsHeader, good.with("ret", "https:evil.test")), want: rs(token.ErrReturnInvalid)},
		{name: "ret with userinfo", token: sign(hs, hsHeader, good.with("ret", "https://portal.company2.test@evil.test/")), want: rs(token.ErrReturnInvalid)},
		{name: "ret with a backslash", token: sign(hs, hsHeader, good.with("ret", `https://evil.test\@portal.company2.test/`)), want: rs(token.ErrReturnInvalid)},
		{name: "ret with %0d%0a", token: sign(hs, hsHeader, good.with("ret", "https://portal.company2.test/%0d%0aSet-Cookie:%20x=1")), want: rs(token.ErrReturnInvalid)},
		{name: "ret javascript:", token: sign(hs, hsHeader, good.with("ret", "javascript:alert(1)")), want: rs(token.ErrReturnInvalid)},
		{name: "ret outside the allowlist", token: valid, opts: opts(token.WithReturnCheck(allowOnly("https://dashboard.company3.test"))), want: rs(token.ErrReturnNotAllowed)},
		{name: "ret inside the allowlist", token: valid, opts: opts(token.WithReturnCheck(allowOnly("https://portal.company2.test")))},

		// One run explains everything.
		{
			name:  "wrong in four ways at once",
			token: sign(hs, hsHeader.with("typ", "JWT"), good.with("aud", "dashboard", "iss", "https://evil.test", "iat", unix(-70*time.Second), "exp", unix(-60*time.Second))),
			want:  rs(token.ErrTypMismatch, token.ErrAudienceMismatch, token.ErrIssuerMismatch, token.ErrExpired),
		},
		{
			name:  "alg none, jku, no typ, no sid",
			token: sign(rawSigner{}, header("none", "hs1").with("jku", "https://evil.test/k", "typ", deleted), good.with("sid", deleted)),
			want:  rs(token.ErrAlgNone, token.ErrHeaderNotAllowed, token.ErrTypMissing, token.ErrSidMissing),
		},
	}
}

func TestVerifyHostileTokens(t *testing.T) {
	keys := newTestKeys(t)
	for _, tc := range hostileTokens(t) {
		t.Run(tc.name, func(t *testing.T) {
			store := &countingStore{}
			v := newVerifier(t, keys.ring(t), append(opts(token.WithReplayStore(store)), tc.opts...)...)
			ctx := context.Background()
			if tc.twice {
				if _, err := v.Verify(ctx, tc.token); err != nil {
					t.Fatalf("first Verify: %v, want the token accepted", err)
				}
			}
			callsBefore, usedBefore := store.snapshot()

			tok, err := v.Verify(ctx, tc.token)

			got := codes(t, err)
			if want := reasonCodes(tc.want); !sameMultiset(got, want) {
				t.Fatalf("Verify refused for %q, want %q\nerror: %v", got, want, err)
			}
			for _, r := range tc.want {
				if !errors.Is(err, r) {
					t.Errorf("errors.Is(err, %s) = false", r.Code)
				}
			}
			for _, r := range token.Reasons() {
				if errors.Is(err, r) && !slices.Contains(tc.want, r) {
					t.Errorf("errors.Is(err, %s) = true, but that is not a reason to refuse this token", r.Code)
				}
			}
			calls, used := store.snapshot()
			switch {
			case len(tc.want) == 0:
				if tok == nil || tok.Claims.SessionID != testSID || tok.Claims.Audience[0] != testAudience {
					t.Errorf("accepted token = %+v, want the claims of the token", tok)
				}
				if calls-callsBefore != 1 || used-usedBefore != 1 {
					t.Errorf("replay store: %d calls, %d new jtis; an accepted token is consumed exactly once", calls-callsBefore, used-usedBefore)
				}
			case tc.twice:
				if calls-callsBefore != 1 || used != usedBefore {
					t.Errorf("replay store: %d calls, %d new jtis; a replay is asked about once and recorded nowhere", calls-callsBefore, used-usedBefore)
				}
			default:
				if calls != callsBefore {
					t.Errorf("replay store was called %d times; a token that fails any check must not touch it", calls-callsBefore)
				}
				if msg := err.Error(); !strings.HasPrefix(msg, "invalid token: ") || strings.Contains(msg, string(testHMACSecret)) {
					t.Errorf("error text %q", msg)
				}
				var inv *token.InvalidError
				if tc.detail != "" && (!errors.As(err, &inv) || len(inv.Failures) != 1 || inv.Failures[0].Detail != tc.detail) {
					t.Errorf("detail:\n got %v\nwant %s", err, tc.detail)
				}
			}
		})
	}
}

// TestVerifyReplay is the replay story without the table: the first
// presentation of a handoff logs the user in, every later one is refused,
// and a different handoff for the same session is fine.
func TestVerifyReplay(t *testing.T) {
	k := newTestKeys(t)
	store := &countingStore{}
	v := newVerifier(t, k.ring(t), token.WithReplayStore(store))
	ctx := context.Background()
	first := k.signer(token.HS256).sign(t, header("HS256", "hs1").String(), goodClaims().String())
	next := k.signer(token.HS256).sign(t, header("HS256", "hs1").String(), goodClaims().with("jti", "jti-0002").String())

	steps := []struct {
		desc  string
		token string
		want  []*token.Reason
	}{
		{"the browser arrives with the handoff", first, nil},
		{"the browser is sent back with the same handoff", first, rs(token.ErrReplayed)},
		{"an attacker replays it from a log", first, rs(token.ErrReplayed)},
		{"the next login's handoff, same session, new jti", next, nil},
	}
	for i, s := range steps {
		_, err := v.Verify(ctx, s.token)
		if got, want := codes(t, err), reasonCodes(s.want); !sameMultiset(got, want) {
			t.Fatalf("step %d (%s): got %q, want %q", i, s.desc, got, want)
		}
	}
	if calls, used := store.snapshot(); calls != 4 || used != 2 {
		t.Errorf("store saw %d calls and holds %d jtis, want 4 and 2", calls, used)
	}
	if until := store.used[testJTI]; !until.Equal(time.Unix(unix(25*time.Second), 0).Add(token.DefaultLeeway)) {
		t.Errorf("jti kept until %v, want exp + leeway", until)
	}
}

type failingStore struct{ calls int }

var errStoreDown = errors.New("redis: connection refused")

func (s *failingStore) Consume(context.Context, string, time.Time) (bool, error) {
	s.calls++
	return false, errStoreDown
}

func TestVerifyReplayStoreDown(t *testing.T) {
	k := newTestKeys(t)
	store := &failingStore{}
	v := newVerifier(t, k.ring(t), token.WithReplayStore(store))
	valid := k.signer(token.HS256).sign(t, header("HS256", "hs1").String(), goodClaims().String())

	_, err := v.Verify(context.Background(), valid)
	if !errors.Is(err, token.ErrReplayStoreUnavailable) {
		t.Fatalf("Verify with the store down = %v, want ErrReplayStoreUnavailable (fail closed)", err)
	}
	if !errors.Is(err, errStoreDown) {
		t.Errorf("Verify hides the store's own error (%v); callers tell a full store from a down one by it", err)
	}
	var inv *token.InvalidError
	if errors.As(err, &inv) {
		t.Errorf("a store outage is not a verdict on the token, got %v", err)
	}
	if store.calls != 1 {
		t.Errorf("store called %d times, want 1", store.calls)
	}
}

func TestVerifyLeewayOption(t *testing.T) {
	k := newTestKeys(t)
	expiredBy := func(d time.Duration) string {
		return k.signer(token.HS256).sign(t, header("HS256", "hs1").String(),
			goodClaims().with("iat", unix(-d-30*time.Second), "exp", unix(-d)).String())
	}
	tests := []struct {
		name   string
		leeway time.Duration
		token  string
		want   []*token.Reason
	}{
		{"no leeway, expired 1s ago", 0, expiredBy(time.Second), rs(token.ErrExpired)},
		{"no leeway, expiring now", 0, expiredBy(0), rs(token.ErrExpired)},
		{"no leeway, 1s left", 0, expiredBy(-time.Second), nil},
		{"60s leeway, expired 59s ago", time.Minute, expiredBy(59 * time.Second), nil},
		{"60s leeway, expired 60s ago", time.Minute, expiredBy(time.Minute), rs(token.ErrExpired)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, k.ring(t), token.WithLeeway(tc.leeway))
			_, err := v.Verify(context.Background(), tc.token)
			if got, want := codes(t, err), reasonCodes(tc.want); !sameMultiset(got, want) {
				t.Errorf("got %q, want %q (%v)", got, want, err)
			}
		})
	}
}

func TestNewVerifierRefusesIncompletePolicy(t *testing.T) {
	ring, err := token.NewKeyRing(mustKey(t, "hs1", token.HS256, testHMACSecret))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		keys     token.KeySource
		iss, aud string
		opts     []token.VerifyOption
		wantErr  string
	}{
		{"no keys", nil, testIssuer, testAudience, nil, "no verification keys"},
		{"no issuer", ring, "", testAudience, nil, "issuer is required"},
		{"no audience", ring, testIssuer, "", nil, "audience is required"},
		{"negative leeway", ring, testIssuer, testAudience, opts(token.WithLeeway(-time.Second)), "leeway"},
		{"zero max lifetime", ring, testIssuer, testAudience, opts(token.WithMaxLifetime(0)), "max lifetime"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := token.NewVerifier(tc.keys, tc.iss, tc.aud, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || v != nil {
				t.Errorf("NewVerifier = %v, %v; want an error about %q", v, err, tc.wantErr)
			}
		})
	}
}

func TestReasonsAreStable(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range token.Reasons() {
		if seen[r.Code] {
			t.Errorf("reason code %q declared twice", r.Code)
		}
		seen[r.Code] = true
		if r.Code == "" || strings.ToLower(r.Code) != r.Code || strings.ContainsAny(r.Code, " -") || r.Summary == "" {
			t.Errorf("reason %+v: codes are snake_case and every reason has a summary", r)
		}
	}
	// Codes are an interface: tools key on them. Renaming one is a breaking change.
	for _, code := range []string{"token_too_large", "alg_none", "alg_not_allowed", "kid_unknown", "typ_mismatch", "signature_invalid", "token_expired", "audience_mismatch", "token_replayed", "ret_not_allowed"} {
		if !seen[code] {
			t.Errorf("reason code %q disappeared", code)
		}
	}
}

func TestInvalidErrorText(t *testing.T) {
	k := newTestKeys(t)
	v := newVerifier(t, k.ring(t))
	tok := k.signer(token.HS256).sign(t, header("HS256", "hs1").with("typ", "JWT").String(), goodClaims().with("aud", "dashboard").String())
	_, err := v.Verify(context.Background(), tok)
	want := `invalid token: typ_mismatch: typ is "JWT", want "sso-handoff+jwt": this is some other kind of JWT; ` +
		`audience_mismatch: aud is "dashboard", want "portal": the token was minted for another receiver`
	if err == nil || err.Error() != want {
		t.Errorf("error text:\n got %v\nwant %s", err, want)
	}
}

// A relay receiver's refusal names every issuer it would have taken.
func TestInvalidErrorTextNamesEveryIssuer(t *testing.T) {
	k := newTestKeys(t)
	v := newVerifier(t, k.ring(t), token.WithIssuers("https://r1.test"))
	tok := k.signer(token.HS256).sign(t, header("HS256", "hs1").String(), goodClaims().with("iss", "https://r2.test").String())
	_, err := v.Verify(context.Background(), tok)
	want := `invalid token: issuer_mismatch: iss is "https://r2.test", want one of ["` + testIssuer + `" "https://r1.test"]`
	if err == nil || err.Error() != want {
		t.Errorf("error text:\n got %v\nwant %s", err, want)
	}
}

// rs is a list of reasons, for table rows.
func rs(r ...*token.Reason) []*token.Reason { return r }

func opts(o ...token.VerifyOption) []token.VerifyOption { return o }

func allowOnly(origin string) func(string) error {
	return func(ret string) error {
		if strings.HasPrefix(ret, origin+"/") {
			return nil
		}
		return fmt.Errorf("not under %s", origin)
	}
}

func sameMultiset(got, want []string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

// reencode spells every segment of tok in enc instead of base64url.
func reencode(t testing.TB, tok string, enc *base64.Encoding) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	for i, p := range parts {
		b, err := b64.DecodeString(p)
		if err != nil {
			t.Fatal(err)
		}
		parts[i] = enc.EncodeToString(b)
	}
	return strings.Join(parts, ".")
}

// dirtyTail sets unused low bits in the last character of a segment whose
// length leaves some, so a lax decoder reads the same bytes.
func dirtyTail(t testing.TB, seg string) string {
	t.Helper()
	if len(seg)%4 == 0 {
		t.Fatalf("test setup: %q has no unused bits", seg)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, seg[len(seg)-1])
	dirty := seg[:len(seg)-1] + string(alphabet[last|1])
	lax, err1 := base64.RawURLEncoding.DecodeString(dirty)
	orig, err2 := base64.RawURLEncoding.DecodeString(seg)
	if err1 != nil || err2 != nil || string(lax) != string(orig) || dirty == seg {
		t.Fatalf("test setup: %q is not a non-canonical spelling of %q", dirty, seg)
	}
	return dirty
}

func flipBit(t testing.TB, seg string) string {
	t.Helper()
	b, err := b64.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	return b64.EncodeToString(b)
}

// TestVerifyConcurrentReplay: a receiver behind several goroutines sees the
// same handoff many times at once (a double-submitted form, a racing
// attacker). Exactly one presentation wins.
func TestVerifyConcurrentReplay(t *testing.T) {
	k := newTestKeys(t)
	store := &countingStore{}
	v := newVerifier(t, k.ring(t), token.WithReplayStore(store))
	tok := k.signer(token.EdDSA).sign(t, header("EdDSA", "ed1").String(), goodClaims().String())
	const n = 16
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := v.Verify(context.Background(), tok)
			errs <- err
		}()
	}
	accepted, replayed := 0, 0
	for range n {
		switch err := <-errs; {
		case err == nil:
			accepted++
		case errors.Is(err, token.ErrReplayed):
			replayed++
		default:
			t.Errorf("unexpected refusal: %v", err)
		}
	}
	if accepted != 1 || replayed != n-1 {
		t.Errorf("%d accepted and %d refused as replays, want 1 and %d", accepted, replayed, n-1)
	}
}
