package chain

import (
	"errors"
	"strings"
	"testing"
)

// allowTest is one return_to scenario, in the style of net/http/cookiejar's
// jarTest: a pattern, what the browser sent, and what Allow must answer.
type allowTest struct {
	description string // what the scenario shows
	pattern     string // the one return_to.allow pattern
	input       string // the return_to as received
	want        string // the canonical URL Allow returns; "" when refused
	wantErr     error  // the reason for a refusal
}

var allowTests = [...]allowTest{
	// Allowed, and returned in canonical form.
	{"An exact origin allows its root.", "https://portal.company2.com", "https://portal.company2.com/", "https://portal.company2.com/", nil},
	{"A missing path reads as /.", "https://portal.company2.com", "https://portal.company2.com", "https://portal.company2.com/", nil},
	{"Query and fragment are kept.", "https://portal.company2.com", "https://portal.company2.com/a/b?c=d&e=%25f#g", "https://portal.company2.com/a/b?c=d&e=%25f#g", nil},
	{"A wildcard matches one label.", "https://*.company.com", "https://accounts.company.com/x", "https://accounts.company.com/x", nil},
	{"Upper-case host and scheme are lowered before matching.", "https://*.company.com", "HTTPS://ACCOUNTS.Company.COM/Path", "https://accounts.company.com/Path", nil},
	{"An upper-case pattern is lowered too.", "https://Portal.COMPANY2.com", "https://portal.company2.com/", "https://portal.company2.com/", nil},
	{"One trailing dot on the host is dropped.", "https://portal.company2.com", "https://portal.company2.com./", "https://portal.company2.com/", nil},
	{"The default https port is dropped.", "https://portal.company2.com", "https://portal.company2.com:443/", "https://portal.company2.com/", nil},
	{"A zero-padded default port is the default port.", "https://portal.company2.com", "https://portal.company2.com:0443/", "https://portal.company2.com/", nil},
	{"An empty port is no port, as in WHATWG.", "https://portal.company2.com", "https://portal.company2.com:/", "https://portal.company2.com/", nil},
	{"A pattern's default port matches no port.", "http://app.company3.com:80", "http://app.company3.com/", "http://app.company3.com/", nil},
	{"An explicit non-default port matches.", "http://portal.company2.localhost:8081", "http://portal.company2.localhost:8081/home", "http://portal.company2.localhost:8081/home", nil},
	{"A path prefix allows itself.", "https://app.company3.com/dashboard", "https://app.company3.com/dashboard", "https://app.company3.com/dashboard", nil},
	{"A path prefix allows paths below it.", "https://app.company3.com/dashboard", "https://app.company3.com/dashboard/team?x=1", "https://app.company3.com/dashboard/team?x=1", nil},
	{"A prefix ending in / allows paths below it.", "https://app.company3.com/dashboard/", "https://app.company3.com/dashboard/team", "https://app.company3.com/dashboard/team", nil},
	{"IPv6 literals compare in RFC 5952 form.", "http://[::1]:8080", "http://[0:0:0:0::1]:8080/x", "http://[::1]:8080/x", nil},
	{"A Unicode host compares as punycode.", "https://bücher.example", "https://bücher.example/", "https://xn--bcher-kva.example/", nil},
	{"A punycode host matches a Unicode pattern.", "https://bücher.example", "https://xn--bcher-kva.example/", "https://xn--bcher-kva.example/", nil},
	{"Unicode case is folded before encoding.", "https://bücher.example", "https://BÜCHER.example/", "https://xn--bcher-kva.example/", nil},
	{"A Unicode label under a wildcard stays under the parent.", "https://*.company.com", "https://пример.company.com/", "https://xn--e1afmkfd.company.com/", nil},
	{"An escaped percent sign in the query is fine.", "https://portal.company2.com", "https://portal.company2.com/?discount=50%25off", "https://portal.company2.com/?discount=50%25off", nil},
	{"A dotted-quad IPv4 host is fine.", "http://127.0.0.1:8080", "http://127.0.0.1:8080/", "http://127.0.0.1:8080/", nil},

	// Refused: the host is not the one allowed.
	{"A wildcard never matches the bare parent.", "https://*.company.com", "https://company.com/", "", ErrNotAllowed},
	{"A wildcard never matches a suffix trick.", "https://*.company.com", "https://evilcompany.com/", "", ErrNotAllowed},
	{"A wildcard on .localhost never matches a suffix trick.", "http://*.company.localhost:8080", "http://evilcompany.localhost:8080/", "", ErrNotAllowed},
	{"A wildcard matches exactly one label, not two.", "https://*.company.com", "https://a.b.company.com/", "", ErrNotAllowed},
	{"The allowed host as a subdomain of another is refused.", "https://portal.company2.com", "https://portal.company2.com.evil.com/", "", ErrNotAllowed},
	{"The parent as a label of another host is refused.", "https://*.company.com", "https://company.com.evil.com/", "", ErrNotAllowed},
	{"A different port is refused.", "https://portal.company2.com", "https://portal.company2.com:8443/", "", ErrNotAllowed},
	{"A downgrade to http is refused.", "https://portal.company2.com", "http://portal.company2.com/", "", ErrNotAllowed},
	{"An https pattern's port is not http's.", "https://portal.company2.com", "http://portal.company2.com:443/", "", ErrNotAllowed},
	{"A Cyrillic look-alike host is refused.", "https://portal.company2.com", "https://pоrtal.company2.com/", "", ErrNotAllowed},
	{"A path prefix matches whole segments only.", "https://app.company3.com/dashboard", "https://app.company3.com/dashboardevil", "", ErrNotAllowed},
	{"A path outside the prefix is refused.", "https://app.company3.com/dashboard", "https://app.company3.com/admin", "", ErrNotAllowed},
	{"A fragment that looks like userinfo does not change the host.", "https://portal.company2.com", "https://evil.com#@portal.company2.com", "", ErrNotAllowed},
	{"A query that looks like userinfo does not change the host.", "https://portal.company2.com", "https://evil.com?@portal.company2.com", "", ErrNotAllowed},
	{"An IP host never matches a wildcard.", "https://*.company.com", "https://10.0.0.1/", "", ErrNotAllowed},

	// Refused: the URL is not absolute http(s).
	{"A relative path is refused.", "https://portal.company2.com", "/dashboard", "", ErrRelative},
	{"A bare word is refused.", "https://portal.company2.com", "dashboard", "", ErrRelative},
	{"A scheme-relative URL is refused.", "https://portal.company2.com", "//evil.com", "", ErrSchemeRelative},
	{"Three leading slashes are scheme-relative too.", "https://portal.company2.com", "///evil.com", "", ErrSchemeRelative},
	{"https: without slashes is refused (browsers read https://evil.com).", "https://portal.company2.com", "https:evil.com", "", ErrNoSlashes},
	{"https: with one slash is refused.", "https://portal.company2.com", "https:/evil.com", "", ErrNoSlashes},
	{"https: with three slashes is refused (browsers skip to the host).", "https://portal.company2.com", "https:///evil.com", "", ErrHost},
	{"javascript: is refused.", "https://portal.company2.com", "javascript:alert(document.cookie)", "", ErrScheme},
	{"Mixed-case javascript: is refused.", "https://portal.company2.com", "JaVaScRiPt:alert(1)", "", ErrScheme},
	{"data: is refused.", "https://portal.company2.com", "data:text/html,<script>alert(1)</script>", "", ErrScheme},
	{"file: is refused.", "https://portal.company2.com", "file:///etc/passwd", "", ErrScheme},
	{"ftp: is refused.", "https://portal.company2.com", "ftp://portal.company2.com/", "", ErrScheme},
	{"An empty return_to is refused.", "https://portal.company2.com", "", "", ErrEmptyURL},

	// Refused: the authority hides another host.
	{"Userinfo is refused.", "https://portal.company2.com", "https://portal.company2.com@evil.com/", "", ErrUserinfo},
	{"Userinfo with a port-like password is refused.", "https://portal.company2.com", "https://portal.company2.com:443@evil.com/", "", ErrUserinfo},
	{"Userinfo with an escaped slash is refused.", "https://portal.company2.com", "https://portal.company2.com%2f@evil.com/", "", ErrUserinfo},
	{"Userinfo with an escaped hash is refused.", "https://portal.company2.com", "https://portal.company2.com%23@evil.com/", "", ErrUserinfo},
	{"A backslash before @ is refused.", "https://portal.company2.com", `https://portal.company2.com\@evil.com`, "", ErrBackslash},
	{"A backslash after the host is refused (browsers read it as /).", "https://portal.company2.com", `https://evil.com\@portal.company2.com`, "", ErrBackslash},
	{"Slash-backslash is refused.", "https://portal.company2.com", `/\evil.com`, "", ErrBackslash},
	{"Two backslashes are refused.", "https://portal.company2.com", `\\evil.com`, "", ErrBackslash},
	{"Backslashes after the scheme are refused.", "https://portal.company2.com", `https:\\evil.com`, "", ErrBackslash},
	{"A backslash in the path is refused.", "https://portal.company2.com", `https://portal.company2.com/a\b`, "", ErrBackslash},
	{"A percent-encoded host is refused.", "https://portal.company2.com", "https://%70ortal.company2.com/", "", ErrHost},
	{"An ideographic full stop is refused.", "https://portal.company2.com", "https://portal.company2\u3002com/", "", ErrHost},
	{"A fullwidth full stop is refused.", "https://*.company.com", "https://evil.com\uff0ecompany.com/", "", ErrHost},
	{"An empty label is refused.", "https://portal.company2.com", "https://portal..company2.com/", "", ErrHost},
	{"Two trailing dots are refused.", "https://portal.company2.com", "https://portal.company2.com../", "", ErrHost},
	{"A hex IPv4 host is refused.", "http://127.0.0.1:8080", "http://0x7f.1:8080/", "", ErrHost},
	{"A decimal IPv4 host is refused.", "http://127.0.0.1:8080", "http://2130706433:8080/", "", ErrHost},
	{"An unclosed IPv6 literal is refused.", "http://[::1]:8080", "http://[::1:8080/", "", ErrHost},
	{"An IPv6 zone is refused.", "http://[::1]:8080", "http://[fe80::1%25eth0]:8080/", "", ErrHost},
	{"A wildcard in the input is refused.", "https://*.company.com", "https://*.company.com/", "", ErrHost},
	{"A forbidden host character is refused.", "https://portal.company2.com", "https://portal<company2.com/", "", ErrHost},
	{"A port over 65535 is refused.", "https://portal.company2.com", "https://portal.company2.com:99999/", "", ErrPort},
	{"Port 0 is refused.", "https://portal.company2.com", "https://portal.company2.com:0/", "", ErrPort},
	{"Two ports are refused.", "https://portal.company2.com", "https://portal.company2.com:8080:90/", "", ErrPort},
	{"A signed port is refused.", "https://portal.company2.com", "https://portal.company2.com:+443/", "", ErrPort},

	// Refused: characters that browsers strip or servers reinterpret.
	{"A raw newline is refused (WHATWG strips it).", "https://portal.company2.com", "java\nscript:alert(1)", "", ErrControlChar},
	{"Raw CR LF is refused.", "https://portal.company2.com", "https://portal.company2.com/\r\nSet-Cookie: a=b", "", ErrControlChar},
	{"A leading tab is refused.", "https://portal.company2.com", "\thttps://portal.company2.com/", "", ErrControlChar},
	{"A NUL byte is refused.", "https://portal.company2.com", "https://portal.company2.com/\x00", "", ErrControlChar},
	{"A zero-width space is refused.", "https://portal.company2.com", "https://portal.company2.com\u200b/", "", ErrControlChar},
	{"A right-to-left override is refused.", "https://portal.company2.com", "https://portal.company2.com/\u202egpj.exe", "", ErrControlChar},
	{"A leading space is refused.", "https://portal.company2.com", " https://portal.company2.com/", "", ErrSpace},
	{"Encoded CR LF is refused.", "https://portal.company2.com", "https://portal.company2.com/%0d%0aSet-Cookie:%20a=b", "", ErrEncodedControl},
	{"Upper-case encoded CR LF is refused.", "https://portal.company2.com", "https://portal.company2.com/?q=%0D%0A", "", ErrEncodedControl},
	{"Encoded NUL is refused.", "https://portal.company2.com", "https://portal.company2.com/%00", "", ErrEncodedControl},
	{"Encoded NUL in the host is refused.", "https://portal.company2.com", "https://portal.company2.com%00.evil.com/", "", ErrEncodedControl},
	{"Double-encoded CR LF is refused.", "https://portal.company2.com", "https://portal.company2.com/%250d%250a", "", ErrEncodedControl},
	{"Encoded newline in javascript: is refused before the scheme check.", "https://portal.company2.com", "javascript://portal.company2.com/%0aalert(1)", "", ErrEncodedControl},
	{"Encoded DEL in the fragment is refused.", "https://portal.company2.com", "https://portal.company2.com/#%7f", "", ErrEncodedControl},
	{"A malformed escape is refused.", "https://portal.company2.com", "https://portal.company2.com/%zz", "", ErrBadPercent},
	{"A truncated escape is refused.", "https://portal.company2.com", "https://portal.company2.com/%2", "", ErrBadPercent},
	{"Invalid UTF-8 is refused.", "https://portal.company2.com", "https://portal.company2.com/\xff", "", ErrInvalidUTF8},
	{"Overlong input is refused.", "https://portal.company2.com", "https://portal.company2.com/" + strings.Repeat("a", 2100), "", ErrTooLong},

	// Refused: paths a server or a relative redirect reads differently.
	{"A dot-dot segment is refused.", "https://app.company3.com/dashboard", "https://app.company3.com/dashboard/../admin", "", ErrUnsafePath},
	{"A single-dot segment is refused.", "https://app.company3.com/dashboard", "https://app.company3.com/./dashboard", "", ErrUnsafePath},
	{"An encoded dot-dot segment is refused.", "https://app.company3.com/dashboard", "https://app.company3.com/dashboard/%2e%2e/admin", "", ErrUnsafePath},
	{"A half-encoded dot-dot segment is refused.", "https://app.company3.com/dashboard", "https://app.company3.com/dashboard/.%2E/admin", "", ErrUnsafePath},
	{"An encoded slash is refused.", "https://app.company3.com/dashboard", "https://app.company3.com/dashboard%2f..%2fadmin", "", ErrUnsafePath},
	{"An encoded backslash is refused.", "https://app.company3.com/dashboard", "https://app.company3.com/dashboard/%5c..%5cadmin", "", ErrUnsafePath},
	{"A path starting with // is refused.", "https://portal.company2.com", "https://portal.company2.com//evil.com", "", ErrUnsafePath},
}

func TestAllow(t *testing.T) {
	for _, tt := range allowTests {
		t.Run(tt.description, func(t *testing.T) {
			a, err := NewAllowlist([]string{tt.pattern})
			if err != nil {
				t.Fatalf("NewAllowlist(%q): %v", tt.pattern, err)
			}
			u, err := a.Allow(tt.input)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("Allow(%q) = %q, want refusal with %v", tt.input, u, tt.wantErr)
				}
				if !errors.Is(err, tt.wantErr) || !errors.Is(err, ErrReturnToRefused) {
					t.Fatalf("Allow(%q) error = %v, want %v wrapped in %v", tt.input, err, tt.wantErr, ErrReturnToRefused)
				}
				if strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "\r") {
					t.Errorf("error is not one line: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Allow(%q): %v", tt.input, err)
			}
			if got := u.String(); got != tt.want {
				t.Errorf("Allow(%q) = %q, want %q", tt.input, got, tt.want)
			}
		})
	}
}

func TestAllowErrorDoesNotEchoInput(t *testing.T) {
	a, err := NewAllowlist([]string{"https://portal.company2.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, input := range []string{
		"https://alice:hunter2@evil.com/",
		"https://evil.com/<script>hunter2</script>\n",
		"javascript:hunter2()",
	} {
		_, err := a.Allow(input)
		if err == nil {
			t.Fatalf("Allow(%q) allowed it", input)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Allow(%q) error repeats the input: %v", input, err)
		}
	}
}

func TestAllowManyPatterns(t *testing.T) {
	a, err := NewAllowlist([]string{
		"http://*.company.localhost:8080",
		"http://portal.company2.localhost:8081",
		"http://dashboard.company3.localhost:8082/app",
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		input   string
		allowed bool
	}{
		{name: "first pattern", input: "http://accounts.company.localhost:8080/", allowed: true},
		{name: "second pattern", input: "http://portal.company2.localhost:8081/x", allowed: true},
		{name: "third pattern under its prefix", input: "http://dashboard.company3.localhost:8082/app/x", allowed: true},
		{name: "third origin outside its prefix", input: "http://dashboard.company3.localhost:8082/admin", allowed: false},
		{name: "port of another pattern", input: "http://accounts.company.localhost:8081/", allowed: false},
		{name: "no pattern", input: "http://evil.localhost:8080/", allowed: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.Allow(tt.input)
			if got := err == nil; got != tt.allowed {
				t.Errorf("Allow(%q) allowed = %v, want %v (err %v)", tt.input, got, tt.allowed, err)
			}
		})
	}
	if got := strings.Join(a.Patterns(), " "); got != "http://*.company.localhost:8080 http://portal.company2.localhost:8081 http://dashboard.company3.localhost:8082/app" {
		t.Errorf("Patterns() = %q", got)
	}
}

func TestEmptyAllowlistRefusesEverything(t *testing.T) {
	a, err := NewAllowlist(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Allow("https://portal.company2.com/"); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("Allow on an empty list: err = %v, want %v", err, ErrNotAllowed)
	}
}

func TestNewAllowlistRefusesBadPatterns(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		wantErr string // a substring of the error
	}{
		{name: "wildcard over a TLD", pattern: "https://*.com", wantErr: "public suffix"},
		{name: "wildcard over a two-label public suffix", pattern: "https://*.co.uk", wantErr: "public suffix"},
		{name: "wildcard over a private public suffix", pattern: "https://*.github.io", wantErr: "public suffix"},
		{name: "wildcard over localhost", pattern: "http://*.localhost:8080", wantErr: "public suffix"},
		{name: "wildcard over an IP", pattern: "https://*.10.0.0.1", wantErr: "IP address"},
		{name: "wildcard over a public suffix names the fix", pattern: "https://*.com", wantErr: "name the registrable domain"},
		{name: "wildcard not first", pattern: "https://a.*.company.com", wantErr: "first label"},
		{name: "double wildcard", pattern: "https://**.company.com", wantErr: "first label"},
		{name: "partial-label wildcard", pattern: "https://app*.company.com", wantErr: "first label"},
		{name: "no scheme", pattern: "*.company.com", wantErr: "write the scheme"},
		{name: "scheme-relative", pattern: "//company.com", wantErr: "write the scheme"},
		{name: "query", pattern: "https://company.com/?next=x", wantErr: "query or fragment"},
		{name: "fragment", pattern: "https://company.com/#x", wantErr: "query or fragment"},
		{name: "userinfo", pattern: "https://user@company.com", wantErr: "userinfo"},
		{name: "not http", pattern: "javascript:alert(1)", wantErr: "not http or https"},
		{name: "dot segment", pattern: "https://company.com/app/../admin", wantErr: "dot segment"},
		{name: "bad port", pattern: "https://company.com:70000", wantErr: "invalid port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewAllowlist([]string{"https://ok.company.com", tt.pattern})
			if err == nil {
				t.Fatalf("NewAllowlist(%q) accepted it", tt.pattern)
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "pattern 2") {
				t.Errorf("NewAllowlist(%q) error = %q, want it to name pattern 2 and contain %q", tt.pattern, err, tt.wantErr)
			}
		})
	}
}

func TestNewAllowlistReportsEveryBadPattern(t *testing.T) {
	_, err := NewAllowlist([]string{"https://*.com", "https://ok.company.com", "//x.com"})
	if err == nil {
		t.Fatal("accepted bad patterns")
	}
	if got := strings.Count(err.Error(), "\n") + 1; got != 2 {
		t.Errorf("got %d errors, want 2: %v", got, err)
	}
}

// TestNewAllowlistRedactsUserinfo: a bad pattern is quoted in the error,
// but never its user:password@ part, wherever the authority would end.
func TestNewAllowlistRedactsUserinfo(t *testing.T) {
	for _, pattern := range []string{
		"https://ops:hunter2@portal.company2.com",
		"https://ops:hunter2/x@portal.company2.com",
		"https://hunter2@portal.company2.com",
		"hunter2:pw@portal.company2.com",
		"ghp_hunter2@portal.company2.com",
	} {
		_, err := NewAllowlist([]string{pattern})
		if err == nil {
			t.Fatalf("NewAllowlist(%q) accepted it", pattern)
		}
		if strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "(redacted)@portal.company2.com") {
			t.Errorf("NewAllowlist(%q) error = %q, want the userinfo redacted", pattern, err)
		}
	}
}
