package tracecmd_test

import (
	"strings"
	"testing"
)

// TestProbeRepeat_help: the long help says why attempts repeat, each on a
// new connection, and the flag is listed with its range.
func TestProbeRepeat_help(t *testing.T) {
	r := run(t, "", "trace", "chain", "--help")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	help := strings.Join(strings.Fields(r.stdout), " ")
	for _, want := range []string{
		"several instances behind a load balancer",
		"up to --probe-repeat times (default 3), each on a new connection",
		"With --logout a receiver is signed out after that many 401s in a row",
		"--probe-repeat N",
		"(1 to 50)",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("--help lacks %q:\n%s", want, r.stdout)
		}
	}
}
