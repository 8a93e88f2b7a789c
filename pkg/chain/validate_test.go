package chain

import (
	"errors"
	"strings"
	"testing"
)

// TestRules checks single validation rules on small dev chains. want is
// the one problem expected ("line:col: message" prefix), or "" when the
// chain must load.
func TestRules(t *testing.T) {
	tests := []struct {
		name  string
		extra string // YAML appended to minimalDev
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("t.yaml", []byte(minimalDev+tt.extra))
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
