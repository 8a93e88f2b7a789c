package tokencmd_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/tokencmd"
	"github.com/ssoctl/ssoctl/pkg/token"
)

func TestNewCmdDecode_args(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantArgs []string
		wantErr  string
	}{
		{name: "no argument", args: []string{}, wantArgs: nil},
		{name: "token", args: []string{"eyJ.a.b"}, wantArgs: []string{"eyJ.a.b"}},
		{name: "stdin", args: []string{"-"}, wantArgs: []string{"-"}},
		{name: "URL", args: []string{"https://p.test/sso?token=x"}, wantArgs: []string{"https://p.test/sso?token=x"}},
		{name: "two arguments", args: []string{"a", "b"}, wantErr: "accepts at most 1 arg(s), received 2"},
		{name: "key flags are verify's", args: []string{"--secret-env", "SSO_SECRET", "tok"}, wantErr: "unknown flag: --secret-env"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			var got *tokencmd.DecodeOptions
			cmd := tokencmd.NewCmdDecode(c.f, func(o *tokencmd.DecodeOptions) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SetOut(c.out)
			cmd.SetErr(c.errOut)
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got.Args, "|") != strings.Join(tt.wantArgs, "|") || got.IO != c.ios {
				t.Errorf("options = %+v, want args %q", got, tt.wantArgs)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	ed := edKey(t)
	fresh := mint(t, ed, nil)
	hs := mint(t, hmacKey(t, testSecret), nil)
	other := mint(t, ed, func(o *token.MintOptions) { o.Audience = "dashboard" })
	expired := mint(t, ed, func(o *token.MintOptions) {
		o.Now = func() time.Time { return fixedNow.Add(-3 * time.Minute) }
	})
	longLived := mint(t, ed, func(o *token.MintOptions) { o.TTL = time.Hour })
	future := mint(t, ed, func(o *token.MintOptions) {
		o.Now = func() time.Time { return fixedNow.Add(2 * time.Hour) }
	})
	algNone := rawToken(`{"alg":"none"}`, `{"iss":"https://accounts.example.test","sub":"user-1","iat":1893553445,"exp":1893557045}`)
	keyHeader := rawToken(`{"alg":"HS256","typ":"sso-handoff+jwt","jku":"https://evil.test/jwks.json","kid":"../../etc/passwd"}`,
		`{"iss":"https://accounts.example.test","aud":["portal","dashboard"],"sub":"u","sid":"s","jti":"j","iat":1893553445,"exp":1893553475}`)
	dupKey := rawToken(`{"alg":"HS256","typ":"sso-handoff+jwt"}`, `{"aud":"portal","aud":"dashboard"}`)
	page := `<!doctype html>
<html><body onload="document.forms[0].submit()">
<p>Signing you in…</p>
<form method="post" action="https://portal.example.test/sso">
<input type="hidden" name="token" value="` + fresh + `">
<noscript><button type="submit">Continue</button></noscript>
</form></body></html>
`

	tests := []struct {
		name       string
		args       []string
		stdin      string
		stdinTTY   bool
		want       expect
		wantCodes  []string // warning codes, in -o json
		noWarnings bool
	}{
		{
			name: "bare token",
			args: []string{fresh},
			want: expect{code: 0, emptyStderr: true, stdout: []string{
				"UNVERIFIED", "found in  the argument", "alg       EdDSA", "typ       sso-handoff+jwt",
				"iss       https://accounts.example.test", "aud       portal", "sub       user-1", "sid       session-1",
				"jti       jti-0001", "chn       chn-0001", "ret       https://portal.example.test/home",
				"iat       2030-01-02T03:04:05Z  (issued now)", "exp       2030-01-02T03:04:35Z  (expires in 30s)",
				"lifetime  30s", "Warnings  none for a handoff token",
			}},
			noWarnings: true,
		},
		{
			name: "HS256 token needs no key",
			args: []string{hs},
			want: expect{code: 0, emptyStderr: true, stdout: []string{"UNVERIFIED", "alg       HS256", "kid       " + token.DeriveHMACKeyID([]byte(testSecret))}},
		},
		{
			name: "URL with the token in the query",
			args: []string{"https://portal.example.test/sso?state=abc&token=" + fresh},
			want: expect{code: 0, emptyStderr: true, stdout: []string{`found in  query parameter "token"`, "sub       user-1"}},
		},
		{
			name: "URL with the token in the fragment",
			args: []string{"https://portal.example.test/sso#token=" + fresh},
			want: expect{code: 0, emptyStderr: true, stdout: []string{`found in  fragment parameter "token"`, "sub       user-1"}},
		},
		{
			name: "relative URL under another parameter name",
			args: []string{"/sso?handoff=" + fresh},
			want: expect{code: 0, emptyStderr: true, stdout: []string{`found in  query parameter "handoff"`}},
		},
		{
			name:  "stdin with -",
			args:  []string{"-"},
			stdin: fresh + "\n",
			want:  expect{code: 0, emptyStderr: true, stdout: []string{"found in  stdin", "sub       user-1"}},
		},
		{
			name:  "stdin without an argument when stdin is not a terminal",
			stdin: "  " + fresh + "\r\n",
			want:  expect{code: 0, emptyStderr: true, stdout: []string{"found in  stdin", "sub       user-1"}},
		},
		{
			name:     "no argument and stdin is a terminal",
			stdinTTY: true,
			want:     expect{code: 2, emptyStdout: true, stderr: []string{"ssoctl: no token given", "hint: pass the token or a URL holding it as the argument, or pipe it in with -"}},
		},
		{
			name:  "form_post body on stdin",
			args:  []string{"-"},
			stdin: "token=" + fresh + "&state=xyz\n",
			want:  expect{code: 0, emptyStderr: true, stdout: []string{`found in  form field "token" (stdin)`, "sub       user-1"}},
		},
		{
			name:  "interstitial page on stdin",
			stdin: page,
			want:  expect{code: 0, emptyStderr: true, stdout: []string{"found in  text (stdin)", "sub       user-1"}},
		},
		{
			name: "several tokens: the first is decoded and the rest noted",
			args: []string{"https://portal.example.test/sso?id_token=" + other + "&token=" + fresh},
			want: expect{code: 0, stdout: []string{`found in  query parameter "token"`, "aud       portal"},
				stderr: []string{`ssoctl: note: 1 more token(s) found in the input; decoding the first, from query parameter "token"`}},
		},
		{
			name:      "expired token never fails",
			args:      []string{expired},
			want:      expect{code: 0, emptyStderr: true, stdout: []string{"(expired 2m ago)", "token_expired  expired 2m30s ago"}},
			wantCodes: []string{"token_expired"},
		},
		{
			name:      "lifetime over 30s",
			args:      []string{longLived},
			want:      expect{code: 0, stdout: []string{"lifetime  1h0m0s", "lifetime_too_long"}},
			wantCodes: []string{"lifetime_too_long"},
		},
		{
			name:      "issued in the future",
			args:      []string{future},
			want:      expect{code: 0, stdout: []string{"(issued in 2h)", "iat_in_future"}},
			wantCodes: []string{"iat_in_future"},
		},
		{
			name:      "alg none, no typ, no aud, no jti",
			args:      []string{algNone},
			want:      expect{code: 0, stdout: []string{"alg       none", "alg_none", "typ_missing", "aud_missing", "jti_missing", "sid_missing", "lifetime_too_long"}},
			wantCodes: []string{"alg_none", "typ_missing", "aud_missing", "jti_missing", "sid_missing", "lifetime_too_long"},
		},
		{
			name:      "key-bearing header, path kid and two audiences",
			args:      []string{keyHeader},
			want:      expect{code: 0, stdout: []string{"jku", "header_not_allowed", "kid_invalid", "audience_not_single", "aud       portal, dashboard"}},
			wantCodes: []string{"header_not_allowed", "kid_invalid", "audience_not_single"},
		},
		{
			name:      "duplicate JSON member is shown, with a warning",
			args:      []string{dupKey},
			want:      expect{code: 0, stdout: []string{"duplicate_key"}},
			wantCodes: []string{"duplicate_key"},
		},
		// Input that holds no readable token: exit 1, not a usage error.
		{name: "malformed token", args: []string{"garbage"},
			want: expect{code: 1, emptyStdout: true, stderr: []string{"ssoctl: cannot decode the token from the argument: token_malformed", "hint: decode takes a compact JWT"}}},
		{name: "three parts but not base64 JSON", args: []string{"a.b.c"},
			want: expect{code: 1, emptyStdout: true, stderr: []string{"cannot decode the token from the argument"}}},
		{name: "header is not JSON", args: []string{"eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln"},
			want: expect{code: 1, emptyStdout: true, stderr: []string{"json_invalid"}}},
		{name: "text with no token", args: []string{"hello world"},
			want: expect{code: 1, emptyStdout: true, stderr: []string{"ssoctl: no token found in the argument", "hint: pass the token itself, or a URL, form body or page"}}},
		{name: "URL without a token", args: []string{"https://portal.example.test/sso?state=abc"},
			want: expect{code: 1, emptyStdout: true, stderr: []string{"no token found in the argument"}}},
		{name: "empty stdin", args: []string{"-"},
			want: expect{code: 1, emptyStdout: true, stderr: []string{"no token found in stdin"}}},
		{name: "stdin over 1 MiB", args: []string{"-"}, stdin: strings.Repeat("a", 1<<20+1),
			want: expect{code: 2, emptyStdout: true, stderr: []string{"stdin is over 1048576 bytes"}}},
		// Usage errors.
		{name: "two arguments", args: []string{fresh, fresh},
			want: expect{code: 2, emptyStdout: true, stderr: []string{"accepts at most 1 arg(s), received 2", "hint: "}}},
		{name: "unsupported output format", args: []string{"-o", "junit", fresh},
			want: expect{code: 2, emptyStdout: true, stderr: []string{`output format "junit" is not supported here (use text or json)`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			c.in.WriteString(tt.stdin)
			c.ios.SetStdinTTY(tt.stdinTTY)
			r := c.run(append([]string{"token", "decode"}, tt.args...)...)
			r.check(t, tt.want)
			if hasControl(r.Stdout) || hasControl(r.Stderr) {
				t.Errorf("output holds control characters:\n%q\n%q", r.Stdout, r.Stderr)
			}
			if r.Code != 0 {
				return
			}
			if !strings.HasPrefix(r.Stdout, "UNVERIFIED  ") {
				t.Errorf("text output does not start with the UNVERIFIED label:\n%s", r.Stdout)
			}
			// The same input as -o json: the same verdict, warnings as codes.
			c.in.Reset()
			c.in.WriteString(tt.stdin)
			j := c.run(append([]string{"token", "decode", "-o", "json"}, tt.args...)...)
			if j.Code != 0 {
				t.Fatalf("-o json exit %d: %s", j.Code, j.Stderr)
			}
			doc := jsonDoc(t, j.Stdout)
			if doc["verified"] != false {
				t.Errorf("verified = %v, want false", doc["verified"])
			}
			got := codes(t, doc, "warnings")
			if tt.noWarnings && len(got) != 0 {
				t.Errorf("warnings = %v, want none", got)
			}
			for _, want := range tt.wantCodes {
				if !contains(got, want) {
					t.Errorf("warning codes %v lack %q", got, want)
				}
			}
		})
	}
}

func TestDecode_jsonShape(t *testing.T) {
	expired := mint(t, edKey(t), func(o *token.MintOptions) {
		o.Now = func() time.Time { return fixedNow.Add(-time.Minute) }
	})
	c := newCLI(t)
	r := c.run("token", "decode", "-o", "json", "https://portal.example.test/sso?token="+expired)
	r.check(t, expect{code: 0, emptyStderr: true})
	doc := jsonDoc(t, r.Stdout)
	for _, field := range []string{"verified", "found_in", "header", "claims", "times", "lifetime_seconds", "expired", "signature_bytes", "warnings"} {
		if _, ok := doc[field]; !ok {
			t.Errorf("decode json has no %q", field)
		}
	}
	if doc["found_in"] != `query parameter "token"` || doc["expired"] != true || doc["lifetime_seconds"] != 30.0 {
		t.Errorf("found_in %v expired %v lifetime_seconds %v", doc["found_in"], doc["expired"], doc["lifetime_seconds"])
	}
	times, _ := doc["times"].(map[string]any)
	exp, _ := times["exp"].(map[string]any)
	if exp["time"] != "2030-01-02T03:03:35Z" || exp["unix"] != float64(fixedNow.Add(-30*time.Second).Unix()) || exp["seconds_from_now"] != -30.0 {
		t.Errorf("times.exp = %v", exp)
	}
	if _, err := time.Parse(time.RFC3339, exp["time"].(string)); err != nil {
		t.Errorf("exp time is not RFC 3339: %v", err)
	}
	if got := codes(t, doc, "warnings"); strings.Join(got, ",") != "token_expired" {
		t.Errorf("warnings = %v, want [token_expired]", got)
	}
}

// sgr matches the styling sequences lipgloss writes; anything else with an
// ESC in the output came from the token.
var sgr = regexp.MustCompile(`\x1b\[[0-9;]*m`)

func TestDecode_color(t *testing.T) {
	tok := mint(t, edKey(t), func(o *token.MintOptions) { o.TTL = time.Hour })
	tests := []struct {
		name      string
		tty       bool
		noColor   bool // NO_COLOR, as cmdutil.System sets it
		args      []string
		wantColor bool
	}{
		{name: "not a terminal", tty: false, wantColor: false},
		{name: "terminal", tty: true, wantColor: true},
		{name: "terminal with --no-color", tty: true, args: []string{"--no-color"}, wantColor: false},
		{name: "terminal with NO_COLOR", tty: true, noColor: true, wantColor: false},
		{name: "terminal with -o json", tty: true, args: []string{"-o", "json"}, wantColor: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			c.ios.SetStdoutTTY(tt.tty)
			c.ios.SetColorDisabled(tt.noColor)
			r := c.run(append(append([]string{"token", "decode"}, tt.args...), tok)...)
			r.check(t, expect{code: 0, emptyStderr: true})
			if got := strings.Contains(r.Stdout, "\x1b["); got != tt.wantColor {
				t.Errorf("ANSI escapes in output: %v, want %v\n%q", got, tt.wantColor, r.Stdout)
			}
			if plain := sgr.ReplaceAllString(r.Stdout, ""); hasControl(plain) {
				t.Errorf("output holds control characters besides styling:\n%q", plain)
			}
		})
	}
}

// TestDecode_hostileClaims: whatever a token says is shown inert. A claim
// must not be able to clear the screen, set the window title, move the
// cursor or reorder text on the operator's terminal.
func TestDecode_hostileClaims(t *testing.T) {
	header := "{\"alg\":\"HS256\",\"typ\":\"sso-handoff+jwt\",\"kid\":\"k\\u001b[31m\",\"crit\":[\"\u009b31m\"],\"x\u009bh\":\"\u009b2J\"}"
	claims := "{\"iss\":\"https://a.test\\u001b]0;owned\\u0007\",\"aud\":\"portal\\u001b[1A\",\"sub\":\"\u009b31mred\",\"sid\":\"s\\r\\nFAKE: ok\"," +
		"\"jti\":\"j\u202egnp.exe\",\"chn\":\"\\u0000\",\"ret\":\"https://p.test/\\u001b[2J\"," +
		"\"evil\":\"\\u001b[2J\\u001b[H\",\"c1\":\"\u009b2J\u202e\",\"arr\":[\"\\u0007\",\"\u009b\"],\"e\\u001b[8m\":1,\"iat\":1893553445,\"exp\":1893553475}"
	hostile := rawToken(header, claims)
	page := "<form><input name=\"token\" value=\"" + hostile + "\"></form>\n"
	for _, tt := range []struct {
		name  string
		args  []string
		stdin string
		tty   bool
	}{
		{name: "decode text", args: []string{"token", "decode", hostile}},
		{name: "decode in a terminal", args: []string{"token", "decode", hostile}, tty: true},
		{name: "decode from a page on stdin", args: []string{"token", "decode", "-"}, stdin: page},
		{name: "verify text", args: []string{"token", "verify", hostile, "--iss", "https://a.test", "--aud", "portal", "--secret-env", "SSO_SECRET"}},
		{name: "verify in a terminal", args: []string{"token", "verify", hostile, "--iss", "https://a.test", "--aud", "portal", "--secret-env", "SSO_SECRET"}, tty: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			c.ios.SetStdoutTTY(tt.tty)
			c.in.WriteString(tt.stdin)
			r := c.run(tt.args...)
			if r.Code != 0 && r.Code != 1 {
				t.Fatalf("exit %d: %s", r.Code, r.Stderr)
			}
			out := r.Stdout + r.Stderr
			if tt.tty {
				out = sgr.ReplaceAllString(out, "")
			}
			if strings.ContainsRune(out, 0x1b) {
				t.Errorf("output holds a raw ESC from the token:\n%q", out)
			}
			if hasControl(out) {
				t.Errorf("output holds control characters:\n%q", out)
			}
			for _, inert := range []string{`\x1b]0;owned`, `\u009b`} {
				if !strings.Contains(out, inert) {
					t.Errorf("output does not show %q escaped:\n%s", inert, out)
				}
			}
			if strings.Contains(out, "\nFAKE: ok") {
				t.Errorf("a claim forged an output line:\n%s", out)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestDecode_expiredBoundary: exp is the first instant a token is invalid,
// and the json "expired" agrees with the token_expired warning there.
func TestDecode_expiredBoundary(t *testing.T) {
	for _, tt := range []struct {
		name        string
		expFromNow  time.Duration
		wantExpired bool
	}{
		{name: "a second before exp", expFromNow: time.Second, wantExpired: false},
		{name: "at exp", expFromNow: 0, wantExpired: true},
		{name: "a second after exp", expFromNow: -time.Second, wantExpired: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tok := mint(t, edKey(t), func(o *token.MintOptions) {
				o.Now = func() time.Time { return fixedNow.Add(tt.expFromNow - 30*time.Second) }
			})
			c := newCLI(t)
			r := c.run("token", "decode", "-o", "json", tok)
			r.check(t, expect{code: 0, emptyStderr: true})
			doc := jsonDoc(t, r.Stdout)
			if doc["expired"] != tt.wantExpired {
				t.Errorf("expired = %v, want %v", doc["expired"], tt.wantExpired)
			}
			if got := contains(codes(t, doc, "warnings"), "token_expired"); got != tt.wantExpired {
				t.Errorf("token_expired warning %v, want %v", got, tt.wantExpired)
			}
		})
	}
}
