package chain

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// lintOutput is what `chain lint` would print for a file: the error lines,
// or the warnings of a chain that loads.
func lintOutput(c *Chain, err error) string {
	if err != nil {
		return err.Error() + "\n"
	}
	le := &LintError{File: c.File, Problems: c.Warnings}
	if len(c.Warnings) == 0 {
		return ""
	}
	return le.Error() + "\n"
}

// TestGolden pins the exact problem text for every fixture: files under
// testdata/valid must load, files under testdata/invalid must not.
func TestGolden(t *testing.T) {
	for _, dir := range []string{"valid", "invalid"} {
		files, err := filepath.Glob(filepath.Join("testdata", dir, "*.yaml"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no fixtures in testdata/%s: %v", dir, err)
		}
		for _, file := range files {
			t.Run(dir+"/"+filepath.Base(file), func(t *testing.T) {
				data, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				c, err := Parse(filepath.ToSlash(file), data)
				switch {
				case dir == "valid" && err != nil:
					t.Fatalf("valid fixture does not load:\n%v", err)
				case dir == "invalid" && err == nil:
					t.Fatalf("invalid fixture loads")
				case err != nil:
					var le *LintError
					if !errors.As(err, &le) {
						t.Fatalf("error is %T, want *LintError: %v", err, err)
					}
				}
				got := lintOutput(c, err)
				golden := strings.TrimSuffix(file, ".yaml") + ".golden"
				if *update {
					if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test -update to create it)", err)
				}
				if got != string(want) {
					t.Errorf("lint output differs from %s (run go test -update if the change is intended)\n--- got\n%s--- want\n%s", golden, got, want)
				}
			})
		}
	}
}

// TestDesignExample checks that the example in DESIGN §12 loads with every
// default spelled out.
func TestDesignExample(t *testing.T) {
	c, err := Load("testdata/valid/design-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	alice := User{Email: "alice@example.com"}
	alice.Password.inline, alice.Password.hasInline = "wonderland", true
	want := &Chain{
		File:    "testdata/valid/design-example.yaml",
		Version: 1,
		Name:    "company",
		Dev:     true,
		IdP: IdP{
			Kind:         IdPDev,
			PublicURL:    "http://auth.company.localhost:4433",
			AdminURL:     "http://auth.company.localhost:4434",
			Listen:       "127.0.0.1:4433",
			AdminListen:  "127.0.0.1:4434",
			CookieDomain: "company.localhost",
			Users:        []User{alice},
		},
		Issuer: Issuer{
			URL:    "http://accounts.company.localhost:8080",
			Listen: "127.0.0.1:8080",
			Cookie: Cookie{Name: "accounts_session", TTL: 8 * time.Hour},
		},
		Token: Token{
			Alg:       HS256,
			Secret:    SecretRef{Env: "SSO_SECRET"},
			TTL:       30 * time.Second,
			MaxTTL:    30 * time.Second,
			Leeway:    5 * time.Second,
			Transport: TransportQuery,
		},
		Mode: ModeHub,
		Receivers: []Receiver{
			{Name: "portal", URL: "http://portal.company2.localhost:8081", Listen: "127.0.0.1:8081", Cookie: Cookie{Name: "portal_session", TTL: 8 * time.Hour}, RecheckInterval: time.Minute},
			{Name: "dashboard", URL: "http://dashboard.company3.localhost:8082", Listen: "127.0.0.1:8082", Cookie: Cookie{Name: "dashboard_session", TTL: 8 * time.Hour}, RecheckInterval: time.Minute},
		},
		ReturnTo: ReturnTo{Allow: []string{
			"http://*.company.localhost:8080",
			"http://portal.company2.localhost:8081",
			"http://dashboard.company3.localhost:8082",
		}},
		Store:  Store{Memory: &MemoryStore{}},
		Expect: Expect{FinalURLPrefix: "http://dashboard.company3.localhost:8082/", MaxHops: 8},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load(design example)\n got %+v\nwant %+v", c, want)
	}
}

// TestProductionExample checks canonical forms, relative key paths and
// the values a production chain sets.
func TestProductionExample(t *testing.T) {
	c, err := Load("testdata/valid/kratos-production.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{name: "issuer cookie domain loses its dot and case", got: c.Issuer.Cookie.Domain, want: "company.com"},
		{name: "receiver URL loses default port and slash", got: c.Receivers[0].URL, want: "https://portal.company2.com"},
		{name: "Kratos public URL loses its trailing slash", got: c.IdP.PublicURL, want: "https://auth.company.com"},
		{name: "key file is relative to the chain file", got: c.Token.KeyFile, want: filepath.Join("testdata", "valid", "keys", "issuer-ed25519.pem")},
		{name: "shared receiver has no cookie", got: c.Receivers[1].Cookie, want: Cookie{}},
		{name: "shared receiver has no recheck interval", got: c.Receivers[1].RecheckInterval, want: time.Duration(0)},
		{name: "a set recheck interval", got: c.Receivers[0].RecheckInterval, want: 30 * time.Second},
		{name: "the default recheck interval", got: c.Receivers[2].RecheckInterval, want: time.Minute},
		{name: "cookie secret file is relative to the chain file", got: c.Issuer.Cookie.Secret, want: SecretRef{File: filepath.Join("testdata", "valid", "secrets", "issuer-cookie")}},
		{name: "receiver cookie secret from env", got: c.Receivers[0].Cookie.Secret, want: SecretRef{Env: "PORTAL_COOKIE_SECRET"}},
		{name: "a receiver cookie with only a secret gets the default name", got: c.Receivers[2].Cookie.Name, want: "dashboard_session"},
		{name: "Kratos cookie domain is canonical", got: c.IdP.CookieDomain, want: "company.com"},
		{name: "listen is not defaulted outside dev", got: c.Receivers[2].Listen, want: "[::]:8082"},
		{name: "wiki listen stays empty outside dev", got: c.Receivers[1].Listen, want: ""},
		{name: "redis store", got: *c.Store.Redis, want: RedisStore{URLEnv: "REDIS_URL"}},
		{name: "no memory store next to redis", got: c.Store.Memory, want: (*MemoryStore)(nil)},
		{name: "expected cookies keep file order", got: c.Expect.Cookies, want: []CookieExpectation{
			{Domain: "accounts.company.com", Names: []string{"__Secure-accounts"}},
			{Domain: "portal.company2.com", Names: []string{"__Host-portal"}},
		}},
		{name: "explicit leeway", got: c.Token.Leeway, want: 2 * time.Second},
		{name: "no warnings", got: len(c.Warnings), want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
}

// minimalDev is a dev chain that loads; defaults tests add to it.
const minimalDev = "version: 1\nname: t\ndev: true\n" + devIdPLine + "\n" + devIssuerLine + "\n" +
	`return_to: {allow: ["http://accounts.t.localhost:8080", "http://portal.localhost:8081"]}
`

// The idp and issuer lines of minimalDev (lines 4 and 5), which devWith
// replaces.
const (
	devIdPLine    = `idp: {kind: dev, public_url: "http://auth.t.localhost:4433", users: [{email: a@example.com, password: a}]}`
	devIssuerLine = `issuer: {url: "http://accounts.t.localhost:8080"}`
)

// devWith is minimalDev with its idp and issuer blocks replaced (one line
// each, so later lines keep their numbers); "" keeps a block.
func devWith(idp, issuer string) string {
	s := minimalDev
	if idp != "" {
		s = strings.Replace(s, devIdPLine, "idp: "+idp, 1)
	}
	if issuer != "" {
		s = strings.Replace(s, devIssuerLine, "issuer: "+issuer, 1)
	}
	return s
}

func TestDefaults(t *testing.T) {
	tests := []struct {
		name  string
		file  string // the chain file; minimalDev when empty
		extra string // YAML appended to it
		got   func(*Chain) any
		want  any
	}{
		{name: "mode is hub", got: func(c *Chain) any { return c.Mode }, want: ModeHub},
		{name: "alg is HS256", got: func(c *Chain) any { return c.Token.Alg }, want: HS256},
		{name: "ttl is 30s", got: func(c *Chain) any { return c.Token.TTL }, want: 30 * time.Second},
		{name: "max_ttl is 30s", got: func(c *Chain) any { return c.Token.MaxTTL }, want: 30 * time.Second},
		{name: "leeway is 5s", got: func(c *Chain) any { return c.Token.Leeway }, want: 5 * time.Second},
		{name: "leeway shrinks to a short ttl", extra: "token: {ttl: 2s}\n", got: func(c *Chain) any { return c.Token.Leeway }, want: 2 * time.Second},
		{name: "an explicit zero leeway stays zero", extra: "token: {leeway: 0s}\n", got: func(c *Chain) any { return c.Token.Leeway }, want: time.Duration(0)},
		{name: "max_ttl stays 30s when ttl is lowered", extra: "token: {ttl: 10s}\n", got: func(c *Chain) any { return c.Token.MaxTTL }, want: 30 * time.Second},
		{name: "transport is query", got: func(c *Chain) any { return c.Token.Transport }, want: TransportQuery},
		{name: "issuer cookie is issuer_session", got: func(c *Chain) any { return c.Issuer.Cookie.Name }, want: "issuer_session"},
		{name: "issuer cookie lives 8h", got: func(c *Chain) any { return c.Issuer.Cookie.TTL }, want: 8 * time.Hour},
		{name: "issuer cookie is host-only", got: func(c *Chain) any { return c.Issuer.Cookie.Domain }, want: ""},
		{name: "receiver cookie is <name>_session", extra: "receivers: [{name: portal, url: \"http://portal.localhost:8081\"}]\n", got: func(c *Chain) any { return c.Receivers[0].Cookie.Name }, want: "portal_session"},
		{name: "a set cookie name is kept", extra: "receivers: [{name: portal, url: \"http://portal.localhost:8081\", cookie: {name: p}}]\n", got: func(c *Chain) any { return c.Receivers[0].Cookie }, want: Cookie{Name: "p", TTL: 8 * time.Hour}},
		{name: "dev listen is loopback at the URL port", extra: "receivers: [{name: portal, url: \"http://portal.localhost:8081\"}]\n", got: func(c *Chain) any { return c.Receivers[0].Listen }, want: "127.0.0.1:8081"},
		{name: "dev IdP listen is loopback at its port", got: func(c *Chain) any { return c.IdP.Listen }, want: "127.0.0.1:4433"},
		{name: "no listen default without a port", extra: "receivers: [{name: portal, url: \"http://portal.localhost\"}]\n", got: func(c *Chain) any { return c.Receivers[0].Listen }, want: ""},
		{name: "store is memory", got: func(c *Chain) any { return c.Store }, want: Store{Memory: &MemoryStore{}}},
		{name: "memory with no value selects memory", extra: "store: {memory: }\n", got: func(c *Chain) any { return c.Store }, want: Store{Memory: &MemoryStore{}}},
		{name: "expectations are unset", got: func(c *Chain) any { return c.Expect }, want: Expect{}},

		{name: "a receiver re-checks every minute", extra: "receivers: [{name: portal, url: \"http://portal.localhost:8081\"}]\n", got: func(c *Chain) any { return c.Receivers[0].RecheckInterval }, want: time.Minute},
		{name: "a set recheck_interval is kept", extra: "receivers: [{name: portal, url: \"http://portal.localhost:8081\", recheck_interval: 30s}]\n", got: func(c *Chain) any { return c.Receivers[0].RecheckInterval }, want: 30 * time.Second},
		{
			name:  "a shared-cookie receiver gets no listen, cookie or recheck_interval",
			file:  devWith("", `{url: "http://accounts.t.localhost:8080", cookie: {domain: t.localhost}}`),
			extra: "receivers: [{name: wiki, url: \"http://wiki.t.localhost:8080\", shared_cookie: true}]\n",
			got:   func(c *Chain) any { return c.Receivers[0] },
			want:  Receiver{Name: "wiki", URL: "http://wiki.t.localhost:8080", SharedCookie: true},
		},
		{name: "cookie secrets are optional in dev", got: func(c *Chain) any { return c.Issuer.Cookie.Secret }, want: SecretRef{}},
		{name: "dev IdP cookie domain is its registrable domain", got: func(c *Chain) any { return c.IdP.CookieDomain }, want: "t.localhost"},
		{
			name: "dev IdP cookie domain is empty when the issuer shares its host",
			file: devWith(`{kind: dev, public_url: "http://127.0.0.1:4433", users: [{email: a@example.com, password: a}]}`, `{url: "http://127.0.0.1:8080"}`),
			got:  func(c *Chain) any { return c.IdP.CookieDomain }, want: "",
		},
		{
			name: "a set dev IdP cookie domain is kept, canonical",
			file: devWith(`{kind: dev, public_url: "http://auth.sso.t.localhost:4433", cookie_domain: .SSO.t.localhost, users: [{email: a@example.com, password: a}]}`, `{url: "http://accounts.sso.t.localhost:8080"}`),
			got:  func(c *Chain) any { return c.IdP.CookieDomain }, want: "sso.t.localhost",
		},
		{
			name: "dev IdP admin listen is loopback at admin_url's port",
			file: devWith(`{kind: dev, public_url: "http://auth.t.localhost:4433", admin_url: "http://auth.t.localhost:4434", users: [{email: a@example.com, password: a}]}`, ""),
			got:  func(c *Chain) any { return c.IdP.AdminListen }, want: "127.0.0.1:4434",
		},
		{
			name: "no dev IdP admin listen when admin_url is the public origin",
			file: devWith(`{kind: dev, public_url: "http://auth.t.localhost:4433", admin_url: "http://auth.t.localhost:4433/admin", users: [{email: a@example.com, password: a}]}`, ""),
			got:  func(c *Chain) any { return c.IdP.AdminListen }, want: "",
		},
		{
			name: "no dev IdP admin listen without admin_url",
			got:  func(c *Chain) any { return c.IdP.AdminListen }, want: "",
		},
		{
			name: "Kratos gets no listens and no cookie domain, even in dev",
			file: devWith(`{kind: kratos, public_url: "http://auth.t.localhost:4433", admin_url: "http://auth.t.localhost:4434"}`, ""),
			got:  func(c *Chain) any { return []string{c.IdP.Listen, c.IdP.AdminListen, c.IdP.CookieDomain} }, want: []string{"", "", ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := tt.file
			if file == "" {
				file = minimalDev
			}
			c, err := Parse("t.yaml", []byte(file+tt.extra))
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.got(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

// TestSecretsNeverInErrors checks that no inline secret or URL password
// reaches the error text, and that a non-dev chain keeps none.
func TestSecretsNeverInErrors(t *testing.T) {
	_, err := Load("testdata/invalid/secrets-without-dev.yaml")
	if err == nil {
		t.Fatal("chain with inline secrets and no dev: true loaded")
	}
	for _, secret := range []string{"wonderland-PASSWORD-VALUE", "123456789", "INLINE-SECRET-VALUE", "HUNTER2-URL-PASSWORD"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error text contains the secret %q:\n%v", secret, err)
		}
	}
	_, err = Load("testdata/invalid/idp-oidc.yaml")
	if err == nil || strings.Contains(err.Error(), "inline-client-secret-VALUE") {
		t.Errorf("client secret leaked or accepted: %v", err)
	}
}

func TestInlineSecretIsKeptOnlyInDev(t *testing.T) {
	c, err := Load("testdata/valid/relay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const secret = "0123456789abcdef0123456789abcdef-dev-only"
	got, err := c.Token.Secret.Resolve(nil, nil)
	if err != nil || string(got) != secret {
		t.Fatalf("Resolve() = %q, %v; want the inline dev secret", got, err)
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := sprintf(format, c); strings.Contains(s, secret) || strings.Contains(s, "wonderland") {
			t.Errorf("fmt %s of the chain prints a secret: %s", format, s)
		}
	}
}

func TestParseLimits(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		wantMsg string
	}{
		{name: "over 1 MiB", data: []byte("version: 1\n# " + strings.Repeat("x", MaxFileSize) + "\n"), wantMsg: "t.yaml:1:1: file is larger than 1048576 bytes (1 MiB)"},
		{name: "empty", data: nil, wantMsg: "t.yaml:1:1: file is empty; start with version: 1"},
		{name: "only a document marker", data: []byte("---\n"), wantMsg: "t.yaml:1:1: file is empty"},
		{name: "a scalar", data: []byte("hello\n"), wantMsg: "t.yaml:1:1: a chain file must be a mapping of keys like version, name and issuer, got a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", tt.data)
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantMsg) {
				t.Errorf("Parse error = %v, want prefix %q", err, tt.wantMsg)
			}
		})
	}
}

func TestLoadRefusesHugeFileWithoutReadingIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(64 << 20); err != nil { // sparse: 64 MiB of NULs
		t.Fatal(err)
	}
	f.Close()
	_, err = Load(path)
	var le *LintError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Load(64 MiB) = %v, want a size problem", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	var le *LintError
	if err == nil || errors.As(err, &le) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want an os.ErrNotExist error that is not a *LintError", err)
	}
}

func TestAliasBombStopsEarly(t *testing.T) {
	start := time.Now()
	_, err := Load("testdata/invalid/alias-bomb.yaml")
	if err == nil || !strings.Contains(err.Error(), "aliases expand to more than") {
		t.Fatalf("Load(alias bomb) = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("alias bomb took %s to refuse", d)
	}
}

func TestLintErrorFormat(t *testing.T) {
	le := &LintError{File: "chain.yaml", Problems: []Problem{
		{Line: 3, Col: 7, Message: "token.alg \"HS512\" is not supported", Fix: "use HS256, EdDSA, ES256 or RS256"},
		{Line: 9, Col: 1, Message: "no receivers", Severity: SeverityWarning},
	}}
	want := "chain.yaml:3:7: token.alg \"HS512\" is not supported; use HS256, EdDSA, ES256 or RS256\n" +
		"chain.yaml:9:1: warning: no receivers"
	if got := le.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
	if got := len(le.Errors()); got != 1 {
		t.Errorf("Errors() has %d problems, want 1", got)
	}
}

func TestSuggestKey(t *testing.T) {
	known := []string{"cookie", "listen", "receivers", "return_to", "url", "alg", "ttl"}
	tests := []struct {
		name string
		key  string
		want string
	}{
		{name: "transposition", key: "recievers", want: "receivers"},
		{name: "missing letter", key: "recevers", want: "receivers"},
		{name: "camel case", key: "returnTo", want: "return_to"},
		{name: "kebab case", key: "return-to", want: "return_to"},
		{name: "upper case", key: "URL", want: "url"},
		{name: "short key, one edit", key: "urll", want: "url"},
		{name: "too far", key: "algorithm", want: ""},
		{name: "nothing close", key: "zebra", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := suggestKey(tt.key, known); got != tt.want {
				t.Errorf("suggestKey(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

// Overrides replace the IdP's URLs before validation: the chain is checked
// as if the file said so, and a bad override is a problem like a bad value
// in the file, placed at the value it replaced.
func TestParseWith_overrides(t *testing.T) {
	data, err := os.ReadFile("../../examples/kratos/chain.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseWith("chain.yaml", data, Overrides{
		IdPPublicURL: "http://auth.company.localhost:44330",
		IdPAdminURL:  "http://auth.company.localhost:44340",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.IdP.PublicURL != "http://auth.company.localhost:44330" || c.IdP.AdminURL != "http://auth.company.localhost:44340" {
		t.Errorf("IdP URLs %s %s", c.IdP.PublicURL, c.IdP.AdminURL)
	}
	if plain, _ := Parse("chain.yaml", data); plain.IdP.PublicURL != "http://auth.company.localhost:4433" {
		t.Errorf("Parse without overrides: %s", plain.IdP.PublicURL)
	}

	_, err = ParseWith("chain.yaml", data, Overrides{IdPPublicURL: "ftp://auth.company.localhost/"})
	var lint *LintError
	if !errors.As(err, &lint) || !strings.Contains(err.Error(), "idp.public_url") {
		t.Fatalf("bad override: %v", err)
	}
	if p := lint.Problems[0]; p.Line != 12 {
		t.Errorf("problem at line %d, want 12 (the value it replaced): %s", p.Line, p.Message)
	}

	// A file with no admin_url takes one from an override and validates it.
	noAdmin := strings.Replace(string(data), "  admin_url: http://auth.company.localhost:4434   # Kratos admin API: session re-check by id, revocation\n", "", 1)
	if noAdmin == string(data) {
		t.Fatal("fixture: admin_url line not found")
	}
	_, err = ParseWith("chain.yaml", []byte(noAdmin), Overrides{IdPAdminURL: "http://user:pw@auth.company.localhost:4434"})
	if err == nil || !strings.Contains(err.Error(), "idp.admin_url") {
		t.Errorf("bad admin_url override: %v", err)
	}
}

// TestLoadSecretFilesRelative checks that every secret file a chain
// names, rotated-out keys and app secrets too, is read relative to the
// chain file rather than to the working directory.
func TestLoadSecretFilesRelative(t *testing.T) {
	dir := t.TempDir()
	text := minimalDev + `token:
  alg: HS256
  secret: {file: keys/token}
  previous_secrets: [{file: keys/token-old}, {env: SSO_SECRET_OLDER}]
issuer: {url: "http://accounts.t.localhost:8080", cookie: {secret: {file: keys/cookie}, previous_secrets: [{file: keys/cookie-old}]}}
receivers:
  - {name: portal, url: "http://portal.localhost:8081", cookie: {secret: {file: /abs/portal}, previous_secrets: [{file: keys/portal-old}]}}
apps:
  - {name: wiki, key: wiki-app, secret: {file: keys/wiki}, permissions: [wiki:read]}
`
	text = strings.Replace(text, devIssuerLine+"\n", "", 1)
	path := filepath.Join(dir, "chain.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	in := func(name string) SecretRef { return SecretRef{File: filepath.Join(dir, "keys", name)} }
	for _, tt := range []struct {
		name      string
		got, want SecretRef
	}{
		{"token.secret", c.Token.Secret, in("token")},
		{"token.previous_secrets[0]", c.Token.PreviousSecrets[0], in("token-old")},
		{"token.previous_secrets[1]", c.Token.PreviousSecrets[1], SecretRef{Env: "SSO_SECRET_OLDER"}},
		{"issuer.cookie.secret", c.Issuer.Cookie.Secret, in("cookie")},
		{"issuer.cookie.previous_secrets[0]", c.Issuer.Cookie.PreviousSecrets[0], in("cookie-old")},
		{"receivers[0].cookie.secret", c.Receivers[0].Cookie.Secret, SecretRef{File: "/abs/portal"}},
		{"receivers[0].cookie.previous_secrets[0]", c.Receivers[0].Cookie.PreviousSecrets[0], in("portal-old")},
		{"apps[0].secret", c.Apps[0].Secret, in("wiki")},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
}
