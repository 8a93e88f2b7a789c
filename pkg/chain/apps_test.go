package chain

import (
	"strings"
	"testing"
)

// appsChain is a chain with an apps block; %s is dev: true or nothing.
const appsChain = `version: 1
name: t
%s
idp: {kind: kratos, public_url: "https://auth.t.example.com", admin_url: "https://kratos-admin.t.example.com"}
issuer: {url: "https://accounts.t.example.com", cookie: {domain: t.example.com}}
token: {alg: HS256, secret: {env: SSO_SECRET}}
receivers: [{name: wiki, url: "https://wiki.t.example.com", shared_cookie: true}]
return_to: {allow: ["https://*.t.example.com"]}
apps:
`

func TestApps(t *testing.T) {
	tests := []struct {
		name string
		dev  bool
		apps string
		want string // a problem the file must have; "" loads
	}{
		{name: "env and file secrets", apps: `
  - {name: wiki, key: wiki-app, secret: {env: WIKI_SECRET}, permissions: [wiki:read]}
  - {name: blog, key: blog-app, secret: {file: blog.secret}}`},
		{name: "inline in dev", dev: true, apps: `
  - {name: wiki, key: wiki-app, secret: "APP-SECRET-VALUE-0123456789abcdef"}`},
		{name: "inline outside dev", apps: `
  - {name: wiki, key: wiki-app, secret: "APP-SECRET-VALUE-0123456789abcdef"}`,
			want: "apps[0].secret is written inline; inline secrets need dev: true"},
		{name: "a secret in the wrong shape", apps: `
  - {name: wiki, key: wiki-app, secret: {APP-SECRET-VALUE: x}}`,
			want: "apps[0].secret"},
		{name: "no secret", apps: `
  - {name: wiki, key: wiki-app}`,
			want: "apps[0].secret is missing"},
		{name: "both env and file", apps: `
  - {name: wiki, key: wiki-app, secret: {env: A, file: b}}`,
			want: "apps[0].secret has both env and file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev := ""
			if tt.dev {
				dev = "dev: true"
			}
			c, err := Parse("chain.yaml", []byte(strings.Replace(appsChain, "%s", dev, 1)+strings.TrimPrefix(tt.apps, "\n")+"\n"))
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if a, ok := c.App("wiki"); !ok || a.Key != "wiki-app" {
					t.Errorf("App(wiki) = %v, %v", a, ok)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want a problem with %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "APP-SECRET-VALUE") {
				t.Errorf("the secret is in the error:\n%v", err)
			}
		})
	}
}
