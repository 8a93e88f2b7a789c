package chain

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestRules checks single validation rules on small dev chains. want is
// the one problem expected ("line:col: message" prefix), or "" when the
// chain must load.
func TestRules(t *testing.T) {
	tests := []struct {
		name  string
		file  string // the chain file; minimalDev when empty
		extra string // YAML appended to it
		want  string
	}{
		{
			name:  "same cookie name on one host, different ports",
			extra: "receivers:\n  - {name: a, url: \"http://localhost:8081\", cookie: {name: s}}\n  - {name: b, url: \"http://localhost:8082\", cookie: {name: s}}\n",
			want:  `9:60: cookie "s" of receiver b is also sent to receiver a`,
		},
		{
			name:  "different cookie names on one host",
			extra: "receivers:\n  - {name: a, url: \"http://localhost:8081\"}\n  - {name: b, url: \"http://localhost:8082\"}\n",
			want:  "",
		},
		{
			name:  "a parent-domain cookie reaches a receiver using the same name",
			extra: "receivers:\n  - {name: a, url: \"http://a.company.localhost:8081\", cookie: {name: s, domain: company.localhost}}\n  - {name: b, url: \"http://b.company.localhost:8082\", cookie: {name: s}}\n",
			want:  `9:70: cookie "s" of receiver b is also sent to receiver a`,
		},
		{
			name:  "a later parent-domain cookie reaches an earlier receiver",
			extra: "receivers:\n  - {name: a, url: \"http://a.company.localhost:8081\", cookie: {name: s}}\n  - {name: b, url: \"http://b.company.localhost:8082\", cookie: {name: s, domain: company.localhost}}\n",
			want:  `9:70: cookie "s" of receiver b is also sent to receiver a`,
		},
		{
			name:  "the same cookie name on two registrable domains",
			extra: "receivers:\n  - {name: a, url: \"http://a.localhost:8081\", cookie: {name: s}}\n  - {name: b, url: \"http://b.localhost:8082\", cookie: {name: s}}\n",
			want:  "",
		},
		{
			name:  "a shared_cookie receiver needs the issuer cookie on a parent domain",
			extra: "receivers:\n  - {name: wiki, url: \"http://wiki.accounts.localhost:8081\", shared_cookie: true}\n",
			want:  "8:77: shared_cookie needs issuer.cookie.domain",
		},
		{
			name:  "an https role URL in a dev chain is fine",
			extra: "receivers: [{name: a, url: \"https://a.localhost:8443\"}]\n",
			want:  "",
		},
		{
			name:  "a receiver named idp",
			extra: "receivers: [{name: idp, url: \"http://a.localhost:8081\"}]\n",
			want:  `7:20: receiver name "idp" is reserved`,
		},
		{
			name:  "a 64-character receiver name",
			extra: "receivers: [{name: " + strings.Repeat("a", 64) + ", url: \"http://a.localhost:8081\"}]\n",
			want:  "7:20: receiver name",
		},
		{
			name:  "a receiver name ending in a hyphen",
			extra: "receivers: [{name: portal-, url: \"http://a.localhost:8081\"}]\n",
			want:  `7:20: receiver name "portal-" is not a DNS label`,
		},
		{
			name:  "ttl raised together with max_ttl",
			extra: "token: {ttl: 2m, max_ttl: 2m}\n",
			want:  "",
		},
		{
			name:  "ttl at the hard limit",
			extra: "token: {ttl: 5m, max_ttl: 5m}\n",
			want:  "",
		},
		{
			name:  "ttl over the hard limit even with max_ttl",
			extra: "token: {ttl: 6m, max_ttl: 5m}\n",
			want:  "7:14: token.ttl 6m is over the hard limit 5m",
		},
		{
			name:  "zero ttl",
			extra: "token: {ttl: 0s}\n",
			want:  "7:14: token.ttl must be more than 0",
		},
		{
			name:  "leeway equal to ttl",
			extra: "token: {ttl: 5s, leeway: 5s}\n",
			want:  "",
		},
		{
			name:  "EdDSA with only a JWKS URL (a receiver-side chain)",
			extra: "token: {alg: EdDSA, jwks_url: \"http://accounts.localhost:8080/.well-known/jwks.json\"}\n",
			want:  "",
		},
		{
			name:  "relay with HS256",
			extra: "mode: relay\n",
			want:  "",
		},
		{
			name:  "twenty receivers in hub mode: the issuer breaks the run",
			extra: manyReceivers(20),
			want:  "",
		},
		{
			name:  "seventeen receivers in relay mode: 19 redirects",
			extra: manyReceivers(17) + "mode: relay\n",
			want:  "",
		},
		{
			name:  "eighteen receivers in relay mode by form_post: every interstitial starts a new count",
			extra: manyReceivers(18) + "mode: relay\ntoken: {transport: form_post}\n",
			want:  "",
		},
		{
			name:  "a shared_cookie receiver takes no handoff and adds no redirect",
			file:  devWith("", `{url: "http://accounts.t.localhost:8080", cookie: {domain: accounts.t.localhost}}`),
			extra: manyReceivers(17) + "  - {name: wiki, url: \"http://wiki.accounts.t.localhost:8200\", shared_cookie: true}\nmode: relay\n",
			want:  "",
		},
		{
			name:  "eighteen receivers in relay mode: 20 redirects",
			extra: manyReceivers(18) + "mode: relay\n",
			want:  "8:3: a sign-in through 18 receivers in relay mode is 20 redirects in a row",
		},
		{
			name:  "x- keys are ignored",
			extra: "x-note: anchors can live here\n",
			want:  "",
		},
		{
			name:  "listen on a host name",
			extra: "receivers: [{name: a, url: \"http://a.localhost:8081\", listen: \"localhost:9000\"}]\n",
			want:  "",
		},
		{
			name:  "listen on an IPv6 wildcard and an IPv4 wildcard on one port",
			extra: "receivers:\n  - {name: a, url: \"http://a.localhost:8081\", listen: \"[::]:9000\"}\n  - {name: b, url: \"http://b.localhost:8082\", listen: \"0.0.0.0:9000\"}\n",
			want:  "9:55: receivers[1].listen 0.0.0.0:9000 conflicts with receivers[0].listen [::]:9000",
		},
		{
			name:  "a cookie domain with a leading dot and capitals",
			extra: "receivers: [{name: a, url: \"http://a.company.localhost:8081\", cookie: {domain: .Company.LOCALHOST}}]\n",
			want:  "",
		},
		{
			name:  "a cookie domain on a sibling host",
			extra: "receivers: [{name: a, url: \"http://a.company.localhost:8081\", cookie: {domain: b.company.localhost}}]\n",
			want:  `7:80: receivers[0].cookie.domain "b.company.localhost" does not domain-match`,
		},
		{
			name:  "a cookie domain on localhost itself",
			extra: "receivers: [{name: a, url: \"http://a.localhost:8081\", cookie: {domain: localhost}}]\n",
			want:  `7:72: receivers[0].cookie.domain "localhost" is a public suffix`,
		},

		// One typo in a secret field is one problem.
		{
			name:  "a misspelt key in a secret",
			extra: "token: {secret: {valu: x}}\n",
			want:  "7:18: unknown key in token.secret; known keys: env, file",
		},
		{
			name:  "a key close to env in a secret",
			extra: "token: {secret: {evn: SSO_SECRET}}\n",
			want:  `7:18: unknown key in token.secret; did you mean "env"?`,
		},
		{
			name:  "a wrong type under env",
			extra: "token: {secret: {env: [SSO_SECRET]}}\n",
			want:  "7:23: token.secret.env must be a string, got a list",
		},
		{
			name: "a misspelt key in a password",
			file: devWith(`{kind: dev, public_url: "http://auth.t.localhost:4433", users: [{email: a@example.com, password: {valu: x}}]}`, ""),
			want: "4:104: unknown key in idp.users[0].password; known keys: env, file",
		},
		{
			name:  "a misspelt key in store.redis",
			extra: "store: {redis: {url: x}}\n",
			want:  "7:17: unknown key in store.redis; known keys: url_env, url_file",
		},
		{
			name:  "store.redis with both url_env and url_file",
			extra: "store: {redis: {url_env: REDIS_URL, url_file: redis-url}}\n",
			want:  "7:16: store.redis takes one of url_env and url_file, not both",
		},
		{
			name:  "store.redis from a file",
			extra: "store: {redis: {url_file: redis-url}}\n",
			want:  "",
		},

		// Shared-cookie receivers are not served, so have no listen.
		{
			name:  "a shared-cookie receiver on the issuer's port",
			file:  devWith("", `{url: "http://accounts.t.localhost:8080", cookie: {domain: t.localhost}}`),
			extra: "receivers: [{name: wiki, url: \"http://wiki.t.localhost:8080\", shared_cookie: true}]\n",
			want:  "",
		},
		{
			name:  "a shared-cookie receiver with a listen",
			file:  devWith("", `{url: "http://accounts.t.localhost:8080", cookie: {domain: t.localhost}}`),
			extra: "receivers: [{name: wiki, url: \"http://wiki.t.localhost:8081\", shared_cookie: true, listen: \"127.0.0.1:8081\"}]\n",
			want:  "7:92: a shared_cookie receiver has no listen: ssoctl does not serve it; remove listen",
		},
		{
			name:  "a shared-cookie receiver with a recheck_interval",
			file:  devWith("", `{url: "http://accounts.t.localhost:8080", cookie: {domain: t.localhost}}`),
			extra: "receivers: [{name: wiki, url: \"http://wiki.t.localhost:8081\", shared_cookie: true, recheck_interval: 1m}]\n",
			want:  "7:102: a shared_cookie receiver keeps no cookie to re-check",
		},

		// A listen defaulted from a URL says so when it collides.
		{
			name:  "two receivers on one port, listens defaulted",
			extra: "receivers:\n  - {name: a, url: \"http://a.localhost:8081\"}\n  - {name: b, url: \"http://b.localhost:8081\"}\n",
			want:  "9:20: receivers[1].listen 127.0.0.1:8081 (defaulted from receivers[1].url) conflicts with receivers[0].listen 127.0.0.1:8081 (defaulted from receivers[0].url); set receivers[1].listen, or change the port in receivers[1].url: a dev chain listens on 127.0.0.1 at each URL's port unless listen is set",
		},
		{
			name:  "a written listen on a defaulted one's port",
			extra: "receivers: [{name: a, url: \"http://a.localhost:8081\", listen: \"127.0.0.1:8080\"}]\n",
			want:  "7:63: receivers[0].listen 127.0.0.1:8080 conflicts with issuer.listen 127.0.0.1:8080 (defaulted from issuer.url); give receivers[0].listen another port, or set issuer.listen (or change the port in issuer.url)",
		},
		{
			name:  "two receivers on one port, listens set",
			extra: "receivers:\n  - {name: a, url: \"http://a.localhost:8081\"}\n  - {name: b, url: \"http://b.localhost:8081\", listen: \"127.0.0.1:8082\"}\n",
			want:  "",
		},

		// The dev IdP's admin listener.
		{
			name: "the dev IdP admin API on the issuer's port",
			file: devWith(`{kind: dev, public_url: "http://auth.t.localhost:4433", admin_url: "http://auth.t.localhost:8080", users: [{email: a@example.com, password: a}]}`, ""),
			want: "4:73: idp.admin_listen 127.0.0.1:8080 (defaulted from idp.admin_url) conflicts with issuer.listen 127.0.0.1:8080 (defaulted from issuer.url); set idp.admin_listen, or change the port in idp.admin_url",
		},
		{
			name: "the dev IdP admin listen on its public listen",
			file: devWith(`{kind: dev, public_url: "http://auth.t.localhost:4433", admin_url: "http://auth.t.localhost:4434", admin_listen: "127.0.0.1:4433", users: [{email: a@example.com, password: a}]}`, ""),
			want: "4:119: idp.admin_listen 127.0.0.1:4433 conflicts with idp.listen 127.0.0.1:4433 (defaulted from idp.public_url); give idp.admin_listen another port, or set idp.listen",
		},
		{
			name: "admin_listen without admin_url",
			file: devWith(`{kind: dev, public_url: "http://auth.t.localhost:4433", admin_listen: "127.0.0.1:4434", users: [{email: a@example.com, password: a}]}`, ""),
			want: "4:76: idp.admin_listen needs idp.admin_url",
		},
		{
			name: "admin_listen when admin_url is the public origin",
			file: devWith(`{kind: dev, public_url: "http://auth.t.localhost:4433", admin_url: "http://auth.t.localhost:4433/", admin_listen: "127.0.0.1:4434", users: [{email: a@example.com, password: a}]}`, ""),
			want: "4:120: idp.admin_listen does not apply: idp.admin_url has idp.public_url's origin",
		},
		{
			name: "admin_listen for Kratos",
			file: devWith(`{kind: kratos, public_url: "http://auth.t.localhost:4433", admin_url: "http://auth.t.localhost:4434", admin_listen: "127.0.0.1:4434"}`, ""),
			want: "4:122: idp.admin_listen does not apply to idp.kind kratos",
		},

		// The dev IdP's session cookie must reach the issuer.
		{
			name: "a dev issuer outside the IdP's registrable domain",
			file: devWith(`{kind: dev, public_url: "http://auth.t.localhost:4433", users: [{email: a@example.com, password: a}]}`, `{url: "http://accounts.other.localhost:8080"}`),
			want: `4:30: the issuer's host "accounts.other.localhost" is not under the dev IdP's registrable domain "t.localhost"`,
		},
		{
			name: "a dev IdP on a public suffix's only label",
			file: devWith(`{kind: dev, public_url: "http://localhost:4433", users: [{email: a@example.com, password: a}]}`, ""),
			want: `4:30: the dev IdP's host "localhost" has no registrable domain`,
		},
		{
			name: "a dev IdP and an issuer on one IP address",
			file: devWith(`{kind: dev, public_url: "http://127.0.0.1:4433", users: [{email: a@example.com, password: a}]}`, `{url: "http://127.0.0.1:8080"}`),
			want: "",
		},
		{
			name: "a cookie domain above the IdP's host only",
			file: devWith(`{kind: dev, public_url: "http://auth.sso.t.localhost:4433", cookie_domain: sso.t.localhost, users: [{email: a@example.com, password: a}]}`, ""),
			want: `4:81: idp.cookie_domain "sso.t.localhost" does not domain-match the issuer's host "accounts.t.localhost" (RFC 6265 §5.1.3): the issuer never receives the IdP's session cookie; use a parent domain of both hosts, like t.localhost`,
		},
		{
			name: "a cookie domain the IdP cannot set",
			file: devWith(`{kind: dev, public_url: "http://auth.t.localhost:4433", cookie_domain: accounts.t.localhost, users: [{email: a@example.com, password: a}]}`, ""),
			want: `4:77: idp.cookie_domain "accounts.t.localhost" does not domain-match the IdP's host "auth.t.localhost"`,
		},
		{
			name: "a cookie domain on a public suffix",
			file: devWith(`{kind: dev, public_url: "http://auth.t.localhost:4433", cookie_domain: localhost, users: [{email: a@example.com, password: a}]}`, ""),
			want: `4:77: idp.cookie_domain "localhost" is a public suffix; browsers refuse cookies for it; use t.localhost`,
		},
		{
			name: "a Kratos cookie domain away from the issuer",
			file: devWith(`{kind: kratos, public_url: "http://auth.t.localhost:4433", cookie_domain: auth.t.localhost}`, ""),
			want: `4:80: idp.cookie_domain "auth.t.localhost" does not domain-match the issuer's host`,
		},
		{
			name: "a Kratos chain without cookie_domain is not second-guessed",
			file: devWith(`{kind: kratos, public_url: "http://auth.other.localhost:4433"}`, ""),
			want: "",
		},
		{
			name: "a cookie domain for an OpenID provider",
			file: devWith(`{kind: oidc, public_url: "http://login.t.localhost:5555", client_id: c, client_secret: s, cookie_domain: t.localhost}`, ""),
			want: "4:111: idp.cookie_domain does not apply to idp.kind oidc",
		},
		{
			name: "OpenID scopes without openid",
			file: devWith(`{kind: oidc, public_url: "http://login.t.localhost:5555", client_id: c, client_secret: s, scopes: [email, profile]}`, ""),
			want: `4:104: idp.scopes ["email" "profile"] lacks openid: without it the provider returns no ID token`,
		},
		{
			name: "OpenID scopes with openid",
			file: devWith(`{kind: oidc, public_url: "http://login.t.localhost:5555", client_id: c, client_secret: s, scopes: [openid, offline_access]}`, ""),
			want: "",
		},
		{
			name: "dev users for an OpenID provider without hydra_login",
			file: devWith(`{kind: oidc, public_url: "http://login.t.localhost:5555", client_id: c, client_secret: s, users: [{email: a@example.com, password: p}]}`, ""),
			want: "4:103: idp.users does not apply to idp.kind oidc without idp.hydra_login",
		},
		{
			name: "hydra_login without Hydra's admin URL",
			file: devWith(`{kind: oidc, public_url: "http://hydra.t.localhost:4444", client_id: c, client_secret: s, hydra_login: {url: "http://login.t.localhost:4455"}, users: [{email: a@example.com, password: p}]}`, ""),
			want: "4:96: idp.hydra_login.admin_url is missing",
		},
		{
			name: "hydra_login with its users",
			file: devWith(`{kind: oidc, public_url: "http://hydra.t.localhost:4444", client_id: c, client_secret: s, hydra_login: {url: "http://login.t.localhost:4455", admin_url: "http://hydra.t.localhost:4445"}, users: [{email: a@example.com, password: p}]}`, ""),
			want: "",
		},
		{
			name: "hydra_login for Kratos",
			file: devWith(`{kind: kratos, public_url: "http://auth.t.localhost:4433", hydra_login: {url: "http://login.t.localhost:4455"}}`, ""),
			want: "4:78: idp.hydra_login does not apply to idp.kind kratos",
		},
		{
			name: "scopes for Kratos",
			file: devWith(`{kind: kratos, public_url: "http://auth.t.localhost:4433", scopes: [openid]}`, ""),
			want: "4:73: idp.scopes does not apply to idp.kind kratos",
		},

		// recheck_interval
		{
			name:  "a recheck_interval under a second",
			extra: "receivers: [{name: a, url: \"http://a.localhost:8081\", recheck_interval: 500ms}]\n",
			want:  "7:73: receivers[0].recheck_interval 500ms is under 1s: every request would wait for the IdP",
		},
		{
			name:  "a zero recheck_interval",
			extra: "receivers: [{name: a, url: \"http://a.localhost:8081\", recheck_interval: 0s}]\n",
			want:  "7:73: receivers[0].recheck_interval 0s is under 1s",
		},
		{
			name:  "a recheck_interval over an hour",
			extra: "receivers: [{name: a, url: \"http://a.localhost:8081\", recheck_interval: 2h}]\n",
			want:  "7:73: receivers[0].recheck_interval 2h is over 1h",
		},
		{
			name:  "recheck_interval at both limits",
			extra: "receivers:\n  - {name: a, url: \"http://a.localhost:8081\", recheck_interval: 1s}\n  - {name: b, url: \"http://b.localhost:8082\", recheck_interval: 1h}\n",
			want:  "",
		},

		// Cookie secrets in dev.
		{
			name:  "an inline cookie secret in dev",
			extra: "receivers: [{name: a, url: \"http://a.localhost:8081\", cookie: {secret: 0123456789abcdef0123456789abcdef}}]\n",
			want:  "",
		},
		{
			name:  "a short inline cookie secret in dev",
			extra: "receivers: [{name: a, url: \"http://a.localhost:8081\", cookie: {secret: short}}]\n",
			want:  "7:72: receivers[0].cookie.secret is 5 bytes; a cookie key needs at least 32",
		},
		{
			name:  "an EdDSA dev chain needs no cookie secrets",
			extra: "token: {alg: EdDSA, jwks_url: \"http://accounts.t.localhost:8080/.well-known/jwks.json\"}\nreceivers: [{name: a, url: \"http://a.localhost:8081\"}]\n",
			want:  "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := tt.file
			if file == "" {
				file = minimalDev
			}
			c, err := Parse("t.yaml", []byte(file+tt.extra))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("chain does not load:\n%v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("chain loads (warnings %v), want %q", c.Warnings, tt.want)
			}
			var le *LintError
			if !errors.As(err, &le) {
				t.Fatalf("error is %T", err)
			}
			errs := le.Errors()
			if len(errs) != 1 || !strings.HasPrefix(errs[0].String(), tt.want) {
				t.Errorf("problems:\n%v\nwant exactly one error starting %q", err, tt.want)
			}
		})
	}
}

// minimalProd is a production chain's head; TestCookieSecrets adds the
// token profile and the roles.
const minimalProd = `version: 1
name: t
idp: {kind: kratos, public_url: "https://auth.company.com"}
return_to: {allow: ["https://*.company.com", "https://portal.company2.com"]}
`

// TestCookieSecrets: outside dev, an EdDSA, ES256 or RS256 chain gives
// every role that sets a cookie its own key; HS256 derives them from
// token.secret. Each problem is reported once.
func TestCookieSecrets(t *testing.T) {
	const eddsa = "token: {alg: EdDSA, key_file: issuer.pem}\n"
	tests := []struct {
		name  string
		extra string   // YAML appended to minimalProd
		want  []string // the errors, "line:col: message" prefixes, in order
	}{
		{
			name:  "HS256 derives the cookie keys",
			extra: "token: {secret: {env: SSO_SECRET}}\nissuer: {url: \"https://accounts.company.com\"}\nreceivers: [{name: portal, url: \"https://portal.company2.com\"}]\n",
		},
		{
			name:  "EdDSA without cookie secrets",
			extra: eddsa + "issuer: {url: \"https://accounts.company.com\"}\nreceivers: [{name: portal, url: \"https://portal.company2.com\"}]\n",
			want: []string{
				"6:1: issuer.cookie.secret is missing: with token.alg EdDSA there is no shared secret to derive cookie keys from; set secret: {env: NAME} or {file: PATH} holding at least 32 random bytes, the key the issuer signs its cookie with",
				"7:13: receivers[0].cookie.secret is missing: with token.alg EdDSA there is no shared secret",
			},
		},
		{
			name:  "EdDSA with cookie secrets",
			extra: eddsa + "issuer: {url: \"https://accounts.company.com\", cookie: {secret: {env: ISSUER_COOKIE}}}\nreceivers: [{name: portal, url: \"https://portal.company2.com\", cookie: {secret: {file: portal-cookie}}}]\n",
		},
		{
			name:  "a shared-cookie receiver needs no cookie secret",
			extra: eddsa + "issuer: {url: \"https://accounts.company.com\", cookie: {domain: company.com, secret: {env: ISSUER_COOKIE}}}\nreceivers: [{name: wiki, url: \"https://wiki.company.com\", shared_cookie: true}]\n",
		},
		{
			name:  "an inline cookie secret outside dev",
			extra: eddsa + "issuer: {url: \"https://accounts.company.com\", cookie: {secret: 0123456789abcdef0123456789abcdef}}\n",
			want:  []string{"6:64: issuer.cookie.secret is written inline; inline secrets need dev: true"},
		},
		{
			name:  "a cookie secret that names no source",
			extra: "token: {alg: ES256, key_file: issuer.pem}\nissuer: {url: \"https://accounts.company.com\", cookie: {secret: {}}}\n",
			want:  []string{"6:64: issuer.cookie.secret names no source"},
		},
		{
			name:  "a misspelt key in a cookie secret",
			extra: "token: {alg: RS256, key_file: issuer.pem}\nissuer: {url: \"https://accounts.company.com\", cookie: {secret: {evn: ISSUER_COOKIE}}}\n",
			want:  []string{`6:65: unknown key in issuer.cookie.secret; did you mean "env"?`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(minimalProd+tt.extra))
			var got []Problem
			if err != nil {
				var le *LintError
				if !errors.As(err, &le) {
					t.Fatalf("error is %T", err)
				}
				got = le.Errors()
			}
			if len(got) != len(tt.want) {
				t.Fatalf("problems:\n%v\nwant %d errors: %q", err, len(tt.want), tt.want)
			}
			for i, p := range got {
				if !strings.HasPrefix(p.String(), tt.want[i]) {
					t.Errorf("error %d = %q, want prefix %q", i, p.String(), tt.want[i])
				}
			}
		})
	}
}

// manyReceivers is a receivers block of n receivers, r0 to r(n-1).
func manyReceivers(n int) string {
	var b strings.Builder
	b.WriteString("receivers:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {name: r%d, url: \"http://r%d.localhost:%d\"}\n", i, i, 8100+i)
	}
	return b.String()
}
