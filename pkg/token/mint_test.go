package token_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ssoctl/ssoctl/pkg/token"
)

func mintOptions() token.MintOptions {
	return token.MintOptions{
		Issuer:    testIssuer,
		Audience:  testAudience,
		Subject:   testSubject,
		SessionID: testSID,
		ID:        testJTI,
		Chain:     testChain,
		Return:    testReturn,
		Now:       fixedClock,
	}
}

// TestMintGolden pins the exact bytes of a minted EdDSA handoff (Ed25519
// signatures are deterministic): header member order, claim order, number
// formats. Any change here changes every token ssoctl mints. Refresh with
// -update. HS256 tokens are never written to golden files.
func TestMintGolden(t *testing.T) {
	k := newTestKeys(t)
	o := mintOptions()
	o.Extra = map[string]jsontext.Value{"amr": jsontext.Value(`["pwd"]`)}
	tok, claims, err := token.Mint(k.ed, o)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := token.Parse(tok)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	got.WriteString(tok + "\n")
	got.Write(parsed.RawHeader)
	got.WriteString("\n")
	got.Write(parsed.RawClaims)
	got.WriteString("\n")

	golden := filepath.Join("testdata", "mint-eddsa.golden")
	if *update {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("minted token changed:\n got %s\nwant %s", got.Bytes(), want)
	}
	if claims.Lifetime() != token.DefaultTTL {
		t.Errorf("lifetime %v, want %v", claims.Lifetime(), token.DefaultTTL)
	}
	if _, err := newVerifier(t, k.ring(t)).Verify(context.Background(), tok); err != nil {
		t.Errorf("Verify(minted) = %v", err)
	}
}

func TestMintHeaderIsDeterministic(t *testing.T) {
	k := newTestKeys(t)
	for _, key := range []*token.Key{k.hs, k.ed, k.es, k.rs} {
		tok, _, err := token.Mint(key, mintOptions())
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := token.Parse(tok)
		if err != nil {
			t.Fatal(err)
		}
		want := `{"alg":"` + string(key.Algorithm()) + `","kid":"` + key.ID() + `","typ":"sso-handoff+jwt"}`
		if string(parsed.RawHeader) != want {
			t.Errorf("%s header = %s, want %s", key.Algorithm(), parsed.RawHeader, want)
		}
	}
}

func TestMint(t *testing.T) {
	k := newTestKeys(t)
	fractional := func() time.Time { return testNow.Add(750 * time.Millisecond) }
	tests := []struct {
		name    string
		key     *token.Key
		edit    func(*token.MintOptions)
		wantErr string
		check   func(t *testing.T, c *token.Claims)
	}{
		{
			name: "every claim of the profile",
			check: func(t *testing.T, c *token.Claims) {
				if c.Issuer != testIssuer || len(c.Audience) != 1 || c.Audience[0] != testAudience || c.Subject != testSubject ||
					c.SessionID != testSID || c.ID != testJTI || c.Chain != testChain || c.Return != testReturn {
					t.Errorf("claims = %+v", c)
				}
				if !c.IssuedAt.Equal(testNow) || !c.Expiry.Equal(testNow.Add(30*time.Second)) || !c.NotBefore.IsZero() {
					t.Errorf("iat %v exp %v nbf %v; want now, now+30s, none", c.IssuedAt, c.Expiry, c.NotBefore)
				}
			},
		},
		{
			name: "jti and chn default to fresh 128-bit ids",
			edit: func(o *token.MintOptions) { o.ID, o.Chain = "", "" },
			check: func(t *testing.T, c *token.Claims) {
				if len(c.ID) != 22 || len(c.Chain) != 22 || c.ID == c.Chain || strings.ContainsAny(c.ID+c.Chain, "+/=") {
					t.Errorf("jti %q chn %q; want two distinct 22-character base64url ids", c.ID, c.Chain)
				}
			},
		},
		{
			name: "iat is truncated to the second",
			edit: func(o *token.MintOptions) { o.Now = fractional },
			check: func(t *testing.T, c *token.Claims) {
				if !c.IssuedAt.Equal(testNow) || !c.Expiry.Equal(testNow.Add(30*time.Second)) {
					t.Errorf("iat %v exp %v", c.IssuedAt.Time, c.Expiry.Time)
				}
			},
		},
		{
			name: "custom TTL",
			edit: func(o *token.MintOptions) { o.TTL = 10 * time.Second },
			check: func(t *testing.T, c *token.Claims) {
				if c.Lifetime() != 10*time.Second {
					t.Errorf("lifetime %v", c.Lifetime())
				}
			},
		},
		{
			name: "fractional TTL is truncated to whole seconds",
			edit: func(o *token.MintOptions) { o.TTL = 1900 * time.Millisecond },
			check: func(t *testing.T, c *token.Claims) {
				if c.Lifetime() != time.Second {
					t.Errorf("lifetime %v, want 1s", c.Lifetime())
				}
			},
		},
		{
			name: "TTL over the default maximum is allowed, to test receivers",
			edit: func(o *token.MintOptions) { o.TTL = time.Hour },
			check: func(t *testing.T, c *token.Claims) {
				if c.Lifetime() != time.Hour {
					t.Errorf("lifetime %v", c.Lifetime())
				}
			},
		},
		{
			name: "no ret",
			edit: func(o *token.MintOptions) { o.Return = "" },
			check: func(t *testing.T, c *token.Claims) {
				if c.Return != "" {
					t.Errorf("ret %q", c.Return)
				}
			},
		},
		{name: "no key", key: nil, wantErr: "no signing key"},
		{name: "a public key", key: k.ed.Public(), wantErr: `key "ed1" is a public key and cannot sign`},
		{name: "no iss", edit: func(o *token.MintOptions) { o.Issuer = "" }, wantErr: "claim iss is required"},
		{name: "no aud", edit: func(o *token.MintOptions) { o.Audience = "" }, wantErr: "claim aud is required"},
		{name: "no sub", edit: func(o *token.MintOptions) { o.Subject = "" }, wantErr: "claim sub is required"},
		{name: "no sid", edit: func(o *token.MintOptions) { o.SessionID = "" }, wantErr: "claim sid is required"},
		{name: "TTL under a second", edit: func(o *token.MintOptions) { o.TTL = 500 * time.Millisecond }, wantErr: "ttl 500ms is too short"},
		{name: "negative TTL", edit: func(o *token.MintOptions) { o.TTL = -time.Second }, wantErr: "too short"},
		{name: "ret //evil", edit: func(o *token.MintOptions) { o.Return = "//evil.test" }, wantErr: "ret must be an absolute URL"},
		{name: "ret with userinfo", edit: func(o *token.MintOptions) { o.Return = "https://a@evil.test" }, wantErr: "ret has userinfo"},
		{name: "exp in Extra", edit: func(o *token.MintOptions) { o.Extra = map[string]jsontext.Value{"exp": jsontext.Value(`1`)} }, wantErr: `claim "exp" is part of the profile`},
		{name: "aud in Extra", edit: func(o *token.MintOptions) { o.Extra = map[string]jsontext.Value{"aud": jsontext.Value(`["a","b"]`)} }, wantErr: `claim "aud" is part of the profile`},
		{name: "invalid JSON in Extra", edit: func(o *token.MintOptions) { o.Extra = map[string]jsontext.Value{"x": jsontext.Value(`{`)} }, wantErr: "encoding claims"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := mintOptions()
			if tc.edit != nil {
				tc.edit(&o)
			}
			key := k.ed
			if tc.key != nil || tc.wantErr == "no signing key" {
				key = tc.key
			}
			tok, claims, err := token.Mint(key, o)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Mint = %q, %v; want error containing %q", tok, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := token.Parse(tok)
			if err != nil {
				t.Fatalf("Parse(minted) = %v", err)
			}
			// What Mint says it signed is what the token says.
			gotJSON, _ := json.Marshal(parsed.Claims)
			wantJSON, _ := json.Marshal(claims)
			if !bytes.Equal(gotJSON, wantJSON) {
				t.Errorf("returned claims %s differ from the token's %s", wantJSON, gotJSON)
			}
			tc.check(t, claims)
		})
	}
}

func TestMintedTokenIsOnlyForItsReceiver(t *testing.T) {
	k := newTestKeys(t)
	o := mintOptions()
	o.Audience = "dashboard"
	tok, _, err := token.Mint(k.hs, o)
	if err != nil {
		t.Fatal(err)
	}
	_, err = newVerifier(t, k.ring(t)).Verify(context.Background(), tok)
	if got := codes(t, err); !sameMultiset(got, []string{"audience_mismatch"}) {
		t.Errorf("portal verifying dashboard's token: %q", got)
	}
}

func TestSignRefusesDuplicateClaims(t *testing.T) {
	k := newTestKeys(t)
	// Sign does no validation, but it must never emit a claim twice: the
	// verifier would refuse it, and a lax parser would read the other copy.
	c := &token.Claims{Issuer: testIssuer, Extra: map[string]jsontext.Value{"iss": jsontext.Value(`"https://evil.test"`)}}
	if tok, err := token.Sign(k.hs, c); err == nil {
		t.Errorf("Sign = %q; want an error for iss given twice", tok)
	}
}

func TestCheckReturnURL(t *testing.T) {
	tests := []struct {
		url     string
		wantErr string // "" means accepted
	}{
		{url: "https://portal.company2.test/"},
		{url: "https://portal.company2.test:8443/a/b?c=d#e"},
		{url: "http://portal.company2.localhost:8081/"},
		{url: "HTTPS://PORTAL.COMPANY2.TEST/"},
		{url: "https://[::1]:8443/"},
		{url: "https://portal.company2.test/%E2%9C%93"},
		{url: "//evil.test/", wantErr: "must be an absolute URL"},
		{url: "https:evil.test", wantErr: "must be an absolute URL"},
		{url: "https:/evil.test", wantErr: "must be an absolute URL"},
		{url: "https:///evil.test", wantErr: "has no host"},
		{url: "/relative", wantErr: "must be an absolute URL"},
		{url: "javascript:alert(1)", wantErr: "must be an absolute URL"},
		{url: "data:text/html,<script>", wantErr: "must be an absolute URL"},
		{url: "ftp://portal.company2.test/", wantErr: "must be an absolute URL"},
		{url: "https://portal.company2.test@evil.test/", wantErr: "has userinfo"},
		{url: "https://user:pass@portal.company2.test/", wantErr: "has userinfo"},
		{url: "https://portal.company2.test%40evil.test/", wantErr: "is not a URL"},
		{url: `https://evil.test\@portal.company2.test/`, wantErr: "backslash"},
		{url: `https:\\evil.test`, wantErr: "backslash"},
		{url: "https://portal.company2.test/%0d%0aSet-Cookie:x=1", wantErr: "encoded control character %0d"},
		{url: "https://portal.company2.test/%0A", wantErr: "encoded control character %0A"},
		{url: "https://portal.company2.test/%09", wantErr: "encoded control"},
		{url: "https://portal.company2.test/%00", wantErr: "encoded control"},
		{url: "https://portal.company2.test/\r\nSet-Cookie:x=1", wantErr: "control or space character"},
		{url: "https://portal.company2.test/ x", wantErr: "control or space character"},
		{url: "https://portal.company2.test/\x7f", wantErr: "control or space character"},
		{url: "\thttps://evil.test/", wantErr: "control or space character"},
		{url: "https://portal.company2.test:80x/", wantErr: "port"},
		{url: "https://", wantErr: "has no host"},
		{url: "https://:443/", wantErr: "has no host"},
		{url: "https://portal.company2.test/" + strings.Repeat("a", 4096), wantErr: "at most 4096"},
		{url: "", wantErr: "must be an absolute URL"},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			err := token.CheckReturnURL(tc.url)
			if tc.wantErr == "" && err != nil {
				t.Errorf("CheckReturnURL(%q) = %v", tc.url, err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("CheckReturnURL(%q) = %v, want error containing %q", tc.url, err, tc.wantErr)
			}
		})
	}
}
