package chain

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestMaxAuthAge checks receivers[].max_auth_age: optional, in [1m, 720h],
// only with an admin API to read authenticated_at from, and not on a
// shared-cookie receiver.
func TestMaxAuthAge(t *testing.T) {
	withAdmin := devWith(`{kind: dev, public_url: "http://auth.t.localhost:4433", admin_url: "http://auth.t.localhost:4434", users: [{email: a@example.com, password: a}]}`, "")
	tests := []struct {
		name string
		file string
		rcv  string // the receivers line
		want string // "" when the chain must load; else a substring of its one error
		age  time.Duration
	}{
		{name: "left out", file: minimalDev, rcv: `receivers: [{name: a, url: "http://a.localhost:8081"}]`},
		{name: "an hour", file: withAdmin, rcv: `receivers: [{name: a, url: "http://a.localhost:8081", max_auth_age: 1h}]`, age: time.Hour},
		{name: "both limits", file: withAdmin, rcv: `receivers: [{name: a, url: "http://a.localhost:8081", max_auth_age: 1m}, {name: b, url: "http://b.localhost:8082", max_auth_age: 720h}]`, age: time.Minute},
		{name: "under a minute", file: withAdmin, rcv: `receivers: [{name: a, url: "http://a.localhost:8081", max_auth_age: 30s}]`,
			want: "receivers[0].max_auth_age 30s is under 1m"},
		{name: "zero given", file: withAdmin, rcv: `receivers: [{name: a, url: "http://a.localhost:8081", max_auth_age: 0s}]`,
			want: "receivers[0].max_auth_age 0s is under 1m"},
		{name: "over 30 days", file: withAdmin, rcv: `receivers: [{name: a, url: "http://a.localhost:8081", max_auth_age: 721h}]`,
			want: "receivers[0].max_auth_age 721h is over 720h"},
		{name: "not a duration", file: withAdmin, rcv: `receivers: [{name: a, url: "http://a.localhost:8081", max_auth_age: soon}]`,
			want: "max_auth_age"},
		{name: "no admin API", file: minimalDev, rcv: `receivers: [{name: a, url: "http://a.localhost:8081", max_auth_age: 1h}]`,
			want: "receivers[0].max_auth_age needs idp.admin_url"},
		{name: "a shared-cookie receiver", file: strings.Replace(withAdmin, devIssuerLine, `issuer: {url: "http://accounts.t.localhost:8080", cookie: {domain: t.localhost}}`, 1), rcv: `receivers: [{name: wiki, url: "http://wiki.t.localhost:8081", shared_cookie: true, max_auth_age: 1h}]`,
			want: "a shared_cookie receiver has no max_auth_age"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("chain.yaml", []byte(tt.file+tt.rcv+"\n"))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if got := c.Receivers[0].MaxAuthAge; got != tt.age {
					t.Errorf("max_auth_age = %v, want %v", got, tt.age)
				}
				return
			}
			var le *LintError
			if !errors.As(err, &le) {
				t.Fatalf("Parse: %v, want a *LintError", err)
			}
			errs := le.Errors()
			if len(errs) != 1 || !strings.Contains(errs[0].String(), tt.want) {
				t.Errorf("problems:\n%v\nwant exactly one error containing %q", err, tt.want)
			}
		})
	}
}
