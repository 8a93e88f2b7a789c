package chain_test

import (
	"strings"
	"testing"

	"github.com/ssoctl/ssoctl/pkg/chain"
)

const backchannelChain = `version: 1
name: t
dev: true
idp: {kind: dev, public_url: "http://auth.t.localhost:4433", users: [{email: a@example.com, password: pw}]}
issuer: {url: "http://accounts.t.localhost:8080", cookie: {domain: t.localhost}}
token: {alg: HS256}
return_to: {allow: ["http://accounts.t.localhost:8080"]}
`

func TestReceiverBackchannel(t *testing.T) {
	tests := []struct {
		name      string
		receivers string
		want      bool   // Backchannel() of the first receiver
		err       string // a problem the file must have; "" for none
	}{
		{"on by default", `[{name: a, url: "http://a.localhost:8081"}]`, true, ""},
		{"switched off", `[{name: a, url: "http://a.localhost:8081", backchannel_logout: false}]`, false, ""},
		{"switched on", `[{name: a, url: "http://a.localhost:8081", backchannel_logout: true}]`, true, ""},
		{"not a bool", `[{name: a, url: "http://a.localhost:8081", backchannel_logout: soon}]`, false, "backchannel_logout"},
		{"shared-cookie receivers have none", `[{name: wiki, url: "http://wiki.t.localhost:8081", shared_cookie: true, backchannel_logout: true}]`, false,
			"a shared_cookie receiver has no back-channel endpoint: ssoctl does not serve it; remove backchannel_logout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := chain.Parse("chain.yaml", []byte(backchannelChain+"receivers: "+tt.receivers+"\n"))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Parse: %v; want a problem containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := c.Receivers[0].Backchannel(); got != tt.want {
				t.Errorf("Backchannel() = %v, want %v", got, tt.want)
			}
		})
	}
}
