package chaincmd_test

import (
	"testing"
)

// TestGolden pins the whole output of lint and graph for the fixtures:
// lint for an invalid, a leaky and a warning chain, text and JSON; graph for
// a hub chain (the example), a relay chain and a hub chain with a
// shared-cookie receiver, in every format.
func TestGolden(t *testing.T) {
	tests := []struct {
		golden string
		args   []string
		code   int
	}{
		{golden: "lint_acceptance.txt", args: []string{"chain", "lint", "-f", chainFile("acceptance")}, code: 2},
		{golden: "lint_acceptance.json", args: []string{"chain", "lint", "-o", "json", "-f", chainFile("acceptance")}, code: 2},
		{golden: "lint_secrets.txt", args: []string{"chain", "lint", "-f", chainFile("secrets")}, code: 2},
		{golden: "lint_secrets.json", args: []string{"chain", "lint", "-o", "json", "-f", chainFile("secrets")}, code: 2},
		{golden: "lint_warnings.txt", args: []string{"chain", "lint", "-f", chainFile("warnings")}},
		{golden: "lint_shared_cookie.json", args: []string{"chain", "lint", "-o", "json", "-f", chainFile("shared-cookie")}},

		{golden: "graph_hub.mmd", args: []string{"chain", "graph", "-f", exampleChain}},
		{golden: "graph_hub.dot", args: []string{"chain", "graph", "-o", "dot", "-f", exampleChain}},
		{golden: "graph_hub.txt", args: []string{"chain", "graph", "-o", "text", "-f", exampleChain}},
		{golden: "graph_relay.mmd", args: []string{"chain", "graph", "-f", chainFile("relay")}},
		{golden: "graph_relay.dot", args: []string{"chain", "graph", "-o", "dot", "-f", chainFile("relay")}},
		{golden: "graph_relay.txt", args: []string{"chain", "graph", "-o", "text", "-f", chainFile("relay")}},
		{golden: "graph_shared_cookie.mmd", args: []string{"chain", "graph", "-f", chainFile("shared-cookie")}},
		{golden: "graph_shared_cookie.dot", args: []string{"chain", "graph", "-o", "dot", "-f", chainFile("shared-cookie")}},
		{golden: "graph_shared_cookie.json", args: []string{"chain", "graph", "-o", "json", "-f", chainFile("shared-cookie")}},
		{golden: "graph_shared_cookie.txt", args: []string{"chain", "graph", "-o", "text", "-f", chainFile("shared-cookie")}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			c := newCLI(t)
			r := c.run(tt.args...)
			if r.Code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", r.Code, tt.code, r.Stdout, r.Stderr)
			}
			if r.Stderr != "" {
				t.Errorf("stderr: %s", r.Stderr)
			}
			golden(t, tt.golden, r.Stdout)
		})
	}
}
