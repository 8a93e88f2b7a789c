package tracecmd_test

import (
	"strings"
	"testing"
)

// TestClientFlags: --client-id and its secret go together, with --probe,
// from one source; a bad combination is exit 2 with a hint, before any
// walk.
func TestClientFlags(t *testing.T) {
	start := []string{"trace", "chain", "--start", "http://rp.app.localhost:1/login"}
	tests := []struct {
		description string
		args        []string
		stderr      string
	}{
		{"a secret without a client", []string{"--probe", "--client-secret-env", "S"}, "need --client-id"},
		{"a client without a secret", []string{"--probe", "--client-id", "rp"}, "--client-id needs the client's secret"},
		{"two secret sources", []string{"--probe", "--client-id", "rp", "--client-secret-env", "S", "--client-secret-file", "f"}, "cannot be combined"},
		{"without --probe", []string{"--client-id", "rp", "--client-secret-env", "S"}, "--client-id needs --probe"},
		{"an unset variable", []string{"--probe", "--client-id", "rp", "--client-secret-env", "UNSET"}, "UNSET is not set or empty"},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			r := run(t, "", append(start, tt.args...)...)
			if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, tt.stderr) || !strings.Contains(r.stderr, "hint:") {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit 2 and %q", r.code, r.stdout, r.stderr, tt.stderr)
			}
		})
	}
}
