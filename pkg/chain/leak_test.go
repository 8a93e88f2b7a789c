package chain

import (
	"errors"
	"strings"
	"testing"
)

// leakTest is one way a secret ends up in a chain file where no secret is
// expected: in the wrong YAML shape under a secret field, pasted where a
// name goes, or as the user:password@ part of a URL. The problem about it
// must still be reported, and must hold none of the secret.
type leakTest struct {
	description string
	set         map[string]string // top-level blocks replacing or joining leakBase
	secret      string            // the secret in the file; "s3cr3t" when empty
	wantPath    string            // the Path of the problem that reports it
	wantMsg     string            // a substring of that problem's Message
}

// leakBase is a production chain that loads; each leak test replaces or
// adds top-level blocks.
var leakBase = []struct{ key, value string }{
	{"version", "1"},
	{"name", "t"},
	{"idp", `{kind: kratos, public_url: "https://auth.company.com"}`},
	{"issuer", `{url: "https://accounts.company.com"}`},
	{"token", `{secret: {env: SSO_SECRET}}`},
	{"receivers", `[{name: portal, url: "https://portal.company2.com"}]`},
	{"return_to", `{allow: ["https://accounts.company.com", "https://portal.company2.com"]}`},
}

func (tt leakTest) chain() string {
	var b strings.Builder
	seen := map[string]bool{}
	for _, kv := range leakBase {
		v := kv.value
		if o, ok := tt.set[kv.key]; ok {
			v = o
		}
		seen[kv.key] = true
		b.WriteString(kv.key + ": " + v + "\n")
	}
	for _, k := range []string{"store", "expect"} {
		if v, ok := tt.set[k]; ok {
			b.WriteString(k + ": " + v + "\n")
		}
	}
	return b.String()
}

// devIdP is an idp block of kind dev whose one user has the given password.
func devIdP(password string) string {
	return `{kind: dev, public_url: "https://auth.company.com", users: [{email: a@example.com, password: ` + password + `}]}`
}

var leakTests = [...]leakTest{
	// A flow mapping around a secret reads as a mapping whose key is the secret.
	{description: "token.secret: {value}", set: map[string]string{"token": "{secret: {s3cr3t-value}}"}, wantPath: "token.secret", wantMsg: "unknown key in token.secret"},
	{description: "password: {value}", set: map[string]string{"idp": devIdP("{s3cr3t-value}")}, wantPath: "idp.users[0].password", wantMsg: "unknown key in idp.users[0].password"},
	{description: "client_secret: {value}", set: map[string]string{"idp": `{kind: oidc, public_url: "https://login.example.com", client_id: c, client_secret: {s3cr3t-value}}`}, wantPath: "idp.client_secret", wantMsg: "unknown key in idp.client_secret"},
	{description: "issuer.cookie.secret: {value}", set: map[string]string{"issuer": `{url: "https://accounts.company.com", cookie: {secret: {s3cr3t-value}}}`}, wantPath: "issuer.cookie.secret", wantMsg: "unknown key in issuer.cookie.secret"},
	{description: "receivers[].cookie.secret: {value}", set: map[string]string{"receivers": `[{name: portal, url: "https://portal.company2.com", cookie: {secret: {s3cr3t-value}}}]`}, wantPath: "receivers[0].cookie.secret", wantMsg: "unknown key in receivers[0].cookie.secret"},
	{description: "a key close to env holding the secret", set: map[string]string{"token": "{secret: {evn: s3cr3t-value}}"}, wantPath: "token.secret", wantMsg: "unknown key in token.secret"},
	{description: "the value under a misspelt key", set: map[string]string{"idp": devIdP("{valu: s3cr3t-value}")}, wantPath: "idp.users[0].password", wantMsg: "unknown key in idp.users[0].password"},
	{description: "the secret as a key, twice", set: map[string]string{"token": "{secret: {s3cr3t: 1, s3cr3t: 2}}"}, wantPath: "token.secret", wantMsg: "duplicate key in token.secret"},

	// The value pasted where the name of its variable goes.
	{description: "token.secret: {env: value}", set: map[string]string{"token": "{secret: {env: 3f9a-s3cr3t-value}}"}, wantPath: "token.secret.env", wantMsg: "token.secret.env is not an environment variable name"},
	{description: "password: {env: value with a space}", set: map[string]string{"idp": devIdP(`{env: "s3cr3t value"}`)}, wantPath: "idp.users[0].password.env", wantMsg: "is not an environment variable name"},
	{description: "a numeric secret after env:", set: map[string]string{"token": "{secret: {env: 73317731}}"}, secret: "73317731", wantPath: "token.secret.env", wantMsg: "token.secret.env must be a string"},
	{description: "store.redis.url_env: the Redis URL", set: map[string]string{"store": `{redis: {url_env: "redis://:s3cr3t@redis:6379/0"}}`}, wantPath: "store.redis.url_env", wantMsg: "store.redis.url_env is not an environment variable name"},
	{description: "store.redis: {the Redis URL}", set: map[string]string{"store": `{redis: {"redis://:s3cr3t@redis:6379/0"}}`}, wantPath: "store.redis", wantMsg: "unknown key in store.redis"},
	{description: "store.redis: {url: the Redis URL}", set: map[string]string{"store": `{redis: {url: "redis://:s3cr3t@redis:6379/0"}}`}, wantPath: "store.redis", wantMsg: "unknown key in store.redis"},

	// A secret YAML reads as something else.
	{description: "a password starting with !", set: map[string]string{"idp": devIdP("!s3cr3t-value x")}, wantPath: "idp.users[0].password", wantMsg: "a YAML tag is not supported in idp.users[0].password"},
	{description: "a secret starting with !! after env:", set: map[string]string{"token": "{secret: {env: !!s3cr3t x}}"}, wantPath: "token.secret.env", wantMsg: "got a value of another YAML type"},
	{description: "a password starting with *", set: map[string]string{"idp": devIdP("*s3cr3t-value")}, wantPath: "", wantMsg: "an alias (*name) refers to no anchor"},
	{description: "a password in a list", set: map[string]string{"idp": devIdP("[s3cr3t-value]")}, wantPath: "idp.users[0].password", wantMsg: "must be {env: NAME} or {file: PATH}"},
	{description: "an inline password without dev", set: map[string]string{"idp": devIdP("s3cr3t-value")}, wantPath: "idp.users[0].password", wantMsg: "is written inline"},

	// user:password@ in a URL, or in text that is not one.
	{description: "userinfo in a return_to pattern", set: map[string]string{"return_to": `{allow: ["https://ops:s3cr3t@portal.company2.com"]}`}, wantPath: "return_to.allow[0]", wantMsg: `return_to pattern "https://(redacted)@portal.company2.com": userinfo`},
	{description: "a token as the userinfo of a pattern", set: map[string]string{"return_to": `{allow: ["https://ghp_s3cr3t@portal.company2.com"]}`}, wantPath: "return_to.allow[0]", wantMsg: "userinfo"},
	{description: "userinfo in a pattern without a scheme", set: map[string]string{"return_to": `{allow: ["ghp_s3cr3t@portal.company2.com"]}`}, wantPath: "return_to.allow[0]", wantMsg: `"(redacted)@portal.company2.com"`},
	{description: "a password with a slash in a pattern", set: map[string]string{"return_to": `{allow: ["https://ops:s3cr3t/x@portal.company2.com"]}`}, wantPath: "return_to.allow[0]", wantMsg: "invalid port"},
	{description: "a password with a slash in a role URL", set: map[string]string{"issuer": `{url: "https://ops:s3cr3t/x@accounts.company.com"}`}, wantPath: "issuer.url", wantMsg: "invalid port"},
	{description: "a password with a hash in a role URL", set: map[string]string{"issuer": `{url: "https://ops:s3cr3t#x@accounts.company.com"}`}, wantPath: "issuer.url", wantMsg: "invalid port"},
	{description: "a user name where the scheme goes", set: map[string]string{"issuer": `{url: "s3cr3t-user:pw@accounts.company.com"}`}, wantPath: "issuer.url", wantMsg: "scheme is not http or https"},
	{description: "a password in brackets", set: map[string]string{"issuer": `{url: "https://[ops:s3cr3t]/x@accounts.company.com"}`}, wantPath: "issuer.url", wantMsg: "not an IPv6 address"},
	{description: "userinfo in idp.admin_url", set: map[string]string{"idp": `{kind: kratos, public_url: "https://auth.company.com", admin_url: "https://admin:s3cr3t@kratos-admin:4434"}`}, wantPath: "idp.admin_url", wantMsg: "userinfo"},
	{description: "userinfo in expect.final_url_prefix", set: map[string]string{"expect": `{final_url_prefix: "https://qa:s3cr3t@portal.company2.com/"}`}, wantPath: "expect.final_url_prefix", wantMsg: "userinfo"},
	{description: "a URL with a password as a key", set: map[string]string{"receivers": `[{name: portal, url: "https://portal.company2.com", "https://ops:s3cr3t@portal.company2.com": x}]`}, wantPath: "receivers[0].https://(redacted)@portal.company2.com", wantMsg: `unknown key "https://(redacted)@portal.company2.com"`},
	{description: "a URL with a password as the name", set: map[string]string{"name": `"https://ops:s3cr3t@portal.company2.com"`}, wantPath: "name", wantMsg: "is not one word"},
	{description: "userinfo in a listen address", set: map[string]string{"issuer": `{url: "https://accounts.company.com", listen: "ops:s3cr3t@0.0.0.0:8080"}`}, wantPath: "issuer.listen", wantMsg: "is not host:port"},
	{description: "userinfo in idp.cookie_domain", set: map[string]string{"idp": `{kind: kratos, public_url: "https://auth.company.com", cookie_domain: "https://ops:s3cr3t@company.com"}`}, wantPath: "idp.cookie_domain", wantMsg: "idp.cookie_domain"},
}

// TestProblemsNeverQuoteSecrets: whatever shape a secret takes in the
// file, the problem about it is reported at its place, and neither the
// error text nor any Problem field holds a byte of it, so every caller of
// Parse is safe, not only chain lint.
func TestProblemsNeverQuoteSecrets(t *testing.T) {
	for _, tt := range leakTests {
		t.Run(tt.description, func(t *testing.T) {
			secret := tt.secret
			if secret == "" {
				secret = "s3cr3t"
			}
			data := tt.chain()
			if !strings.Contains(strings.ToLower(data), secret) {
				t.Fatalf("the chain does not hold the secret %q; the test tests nothing:\n%s", secret, data)
			}
			c, err := Parse("chain.yaml", []byte(data))
			var le *LintError
			if !errors.As(err, &le) {
				t.Fatalf("Parse = %v, %v; want a *LintError\n%s", c, err, data)
			}
			// Case-insensitive: URL schemes and hosts are lower-cased.
			leaks := func(s string) bool { return strings.Contains(strings.ToLower(s), secret) }
			if leaks(err.Error()) {
				t.Errorf("err.Error() holds the secret:\n%v", err)
			}
			found := false
			for _, p := range le.Problems {
				for field, s := range map[string]string{"Message": p.Message, "Path": p.Path, "Fix": p.Fix} {
					if leaks(s) {
						t.Errorf("Problem.%s holds the secret: %q", field, s)
					}
				}
				if p.Path == tt.wantPath && strings.Contains(p.Message, tt.wantMsg) {
					found = true
				}
			}
			if !found {
				t.Errorf("no problem at path %q saying %q:\n%v", tt.wantPath, tt.wantMsg, err)
			}
		})
	}
}

// TestAliasForAPasswordIsPlaced: yaml.v3 reports an unknown alias with its
// name and no line; the problem is placed at the alias and names nothing.
func TestAliasForAPasswordIsPlaced(t *testing.T) {
	data := "version: 1\nname: t\nidp:\n  users:\n    - {email: a@example.com, password: *hunter2}\n"
	_, err := Parse("chain.yaml", []byte(data))
	want := "chain.yaml:5:40: YAML syntax: an alias (*name) refers to no anchor; YAML reads a value that starts with * as an alias: quote the value, or define the anchor with & before using it"
	if err == nil || err.Error() != want {
		t.Errorf("Parse error =\n%v\nwant\n%s", err, want)
	}
}

func TestRedactUserinfo(t *testing.T) {
	tests := []struct {
		in       string
		urlField bool
		want     string
	}{
		{in: "https://ops:pw@portal.example.com/x", want: "https://(redacted)@portal.example.com/x"},
		{in: "https://ops:p@ss@portal.example.com", want: "https://(redacted)@portal.example.com"},
		{in: "https://ops:p/w@portal.example.com", want: "https://(redacted)@portal.example.com"},
		{in: "ops:pw@portal.example.com", want: "(redacted)@portal.example.com"},
		{in: "https://portal.example.com/x", want: "https://portal.example.com/x"},
		{in: "alice@example.com", want: "alice@example.com"},
		{in: "token@github.com", urlField: true, want: "(redacted)@github.com"},
		{in: "https://token@github.com", want: "https://(redacted)@github.com"},
		{in: "https://portal.example.com/@alice", want: "https://(redacted)@alice"}, // an '@' in a path is hidden too: more, not less
	}
	for _, tt := range tests {
		if got := redactUserinfo(tt.in, tt.urlField); got != tt.want {
			t.Errorf("redactUserinfo(%q, %v) = %q, want %q", tt.in, tt.urlField, got, tt.want)
		}
	}
}
