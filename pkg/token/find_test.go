package token_test

import (
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/ssoctl/ssoctl/pkg/token"
)

func TestFind(t *testing.T) {
	k := newTestKeys(t)
	a := k.signer(token.HS256).sign(t, header("HS256", "hs1").String(), goodClaims().String())
	b := k.signer(token.EdDSA).sign(t, header("EdDSA", "ed1").String(), goodClaims().with("aud", "dashboard").String())
	found := func(pairs ...string) []token.Found {
		var out []token.Found
		for i := 0; i+1 < len(pairs); i += 2 {
			out = append(out, token.Found{Token: pairs[i], Where: pairs[i+1]})
		}
		return out
	}
	formPost := `<!doctype html>
<html><head><title>Signing you in…</title></head>
<body onload="document.forms[0].submit()">
  <form method="post" action="https://portal.company2.test/sso">
    <input type="hidden" name="token" value="` + a + `">
    <input type="hidden" name="state" value="af0ifjsldkj">
    <noscript><button type="submit">Continue</button></noscript>
  </form>
</body></html>`

	tests := []struct {
		name  string
		input string
		want  []token.Found
	}{
		{name: "bare token", input: a, want: found(a, "argument")},
		{name: "bare token pasted with a newline", input: "  " + a + "\n", want: found(a, "argument")},
		{name: "redirect URL, token in the query", input: "https://portal.company2.test/sso?token=" + a + "&state=xyz", want: found(a, `query parameter "token"`)},
		{name: "relative redirect, as in a Location header", input: "/sso?sso_token=" + a, want: found(a, `query parameter "sso_token"`)},
		{name: "URL pasted without its scheme", input: "portal.company2.test/sso?token=" + a, want: found(a, `query parameter "token"`)},
		{name: "query with an unknown name holding a token", input: "https://app.test/cb?code=abc&t=" + a, want: found(a, `query parameter "t"`)},
		{name: "known names come before others", input: "https://app.test/cb?aaa=" + b + "&token=" + a, want: found(a, `query parameter "token"`, b, `query parameter "aaa"`)},
		{name: "known names in their own order", input: "https://app.test/cb?id_token=" + b + "&handoff=" + a, want: found(a, `query parameter "handoff"`, b, `query parameter "id_token"`)},
		{name: "implicit-flow fragment", input: "https://app.test/cb#state=x&id_token=" + b, want: found(b, `fragment parameter "id_token"`)},
		{name: "query and fragment", input: "https://app.test/cb?token=" + a + "#access_token=" + b, want: found(a, `query parameter "token"`, b, `fragment parameter "access_token"`)},
		{name: "form_post body", input: "token=" + a + "&return_to=" + url.QueryEscape("https://portal.company2.test/"), want: found(a, `form field "token"`)},
		{name: "back-channel logout body", input: "logout_token=" + b, want: found(b, `form field "logout_token"`)},
		{name: "form_post interstitial page", input: formPost, want: found(a, "text")},
		{name: "logfmt line", input: `time=2026-03-14T15:09:26Z level=INFO msg="handoff refused" token=` + a + ` aud=portal`, want: found(a, "text")},
		{name: "JSON log line", input: `{"level":"warn","token":"` + a + `","reason":"token_expired"}`, want: found(a, "text")},
		{name: "Authorization header", input: "Authorization: Bearer " + b, want: found(b, "text")},
		{name: "two tokens in text, one repeated", input: a + " then " + b + " and again " + a, want: found(a, "text", b, "text")},
		{name: "URL whose token parameter is not a token, token in text", input: "see https://app.test/?token=nope and " + a, want: found(a, "text")},

		{name: "empty", input: ""},
		{name: "whitespace", input: " \n\t"},
		{name: "prose", input: "the handoff never arrived"},
		{name: "version number", input: "ssoctl v1.2.3"},
		{name: "dotted host name", input: "portal.company2.co.uk"},
		{name: "three dotted words that are not base64 JSON", input: "abcd.efgh.ijkl"},
		{name: "URL without a token", input: "https://portal.company2.test/sso?token=not-a-token&state=1"},
		{name: "form body without a token", input: "state=abc&return_to=%2F"},
		{name: "header segment that is base64 of text, not JSON", input: b64.EncodeToString([]byte("hello world")) + ".e30.sig"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := token.Find(tc.input)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Find(%.60q…)\n got %v\nwant %v", tc.input, got, tc.want)
			}
			for _, f := range got {
				if _, err := token.Inspect(f.Token, testNow); err != nil {
					t.Errorf("Find returned %q, which Inspect cannot read: %v", f.Token, err)
				}
			}
		})
	}
}

// TestFindThenInspect is the `ssoctl token decode URL` path: what Find
// returns is exactly the token that was put in.
func TestFindThenInspect(t *testing.T) {
	k := newTestKeys(t)
	tok := k.signer(token.HS256).sign(t, header("HS256", "hs1").String(), goodClaims().String())
	for _, input := range []string{
		tok,
		"https://portal.company2.test/sso?token=" + tok,
		"https://portal.company2.test/sso#token=" + tok,
		"token=" + tok,
		"<input type=hidden name=token value=" + tok + ">",
	} {
		got := token.Find(input)
		if len(got) != 1 || got[0].Token != tok {
			t.Errorf("Find(%.50q…) = %v", input, got)
			continue
		}
		in, err := token.Inspect(got[0].Token, testNow)
		if err != nil || len(in.Warnings) != 0 || in.Token.Claims.SessionID != testSID {
			t.Errorf("Inspect(found) = %+v, %v", in, err)
		}
		if strings.Contains(got[0].Where, tok) {
			t.Errorf("Where %q repeats the token", got[0].Where)
		}
	}
}

func TestFindIgnoresDottedNames(t *testing.T) {
	// "example" base64-decodes to a '{' and noise: host names are not tokens.
	for _, s := range []string{"example.co.uk", "https://example.co.uk/path?x=www.example.com", "exampleabc.def.ghi"} {
		if got := token.Find(s); len(got) != 0 {
			t.Errorf("Find(%q) = %v, want nothing", s, got)
		}
		if token.LooksLikeJWT(s) {
			t.Errorf("LooksLikeJWT(%q) = true", s)
		}
	}
}
