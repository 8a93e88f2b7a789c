package tracecmd

import (
	"strings"
	"testing"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/pkg/chain"
)

// TestProbeRepeat: --probe-repeat reaches both the probes and the logout
// check, defaults to chain.DefaultProbeRepeat, and a count out of 1–50, or
// one that nothing would use, is a usage error before anything is walked.
func TestProbeRepeat(t *testing.T) {
	ok := returns(okTrace(), nil)
	tests := []struct {
		description string
		args        []string
		code        int
		stderr      string // for a usage error: the message, then the hint
		hint        string
		probes      int // ProbeOptions.Repeat the walk is given
		logouts     int // LogoutOptions.Repeat
	}{
		{description: "the default, for --probe and --logout", args: []string{"--probe", "--logout"},
			probes: chain.DefaultProbeRepeat, logouts: chain.DefaultProbeRepeat},
		{description: "one count for both", args: []string{"--probe", "--logout", "--probe-repeat", "5"}, probes: 5, logouts: 5},
		{description: "the lowest", args: []string{"--probe", "--probe-repeat", "1"}, probes: 1, logouts: 1},
		{description: "the highest", args: []string{"--logout", "--probe-repeat", "50"}, logouts: 50},
		{description: "zero", args: []string{"--probe", "--probe-repeat", "0"}, code: cmdutil.ExitUsage,
			stderr: "ssoctl: --probe-repeat 0: must be from 1 to 50\n", hint: "at least the number of instances behind each receiver's load balancer"},
		{description: "too many", args: []string{"--probe", "--logout", "--probe-repeat", "51"}, code: cmdutil.ExitUsage,
			stderr: "ssoctl: --probe-repeat 51: must be from 1 to 50\n", hint: "like --probe-repeat 3"},
		{description: "negative", args: []string{"--logout", "--probe-repeat", "-2"}, code: cmdutil.ExitUsage,
			stderr: "ssoctl: --probe-repeat -2: must be from 1 to 50\n"},
		{description: "without --probe or --logout", args: []string{"--probe-repeat", "4"}, code: cmdutil.ExitUsage,
			stderr: "ssoctl: --probe-repeat needs --probe or --logout\n", hint: "add --probe or --logout"},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			r := runFlags(t, ok, tt.args, tt.code, tt.stderr, tt.hint)
			if r == nil {
				return
			}
			if r.Probe && r.Probes.Repeat != tt.probes || r.Logout && r.Logouts.Repeat != tt.logouts {
				t.Errorf("repeat: probes %d, logout %d; want %d and %d", r.Probes.Repeat, r.Logouts.Repeat, tt.probes, tt.logouts)
			}
		})
	}
}

// TestProbeLogoutURL: --probe-logout-url reaches logout_csrf, and needs
// --probe and an absolute http or https URL, checked before any walk.
func TestProbeLogoutURL(t *testing.T) {
	ok := returns(okTrace(), nil)
	tests := []struct {
		description string
		args        []string
		code        int
		stderr      string
		hint        string
		want        string // ProbeOptions.LogoutURL
	}{
		{description: "none: the chain file's issuer", args: []string{"--probe"}},
		{description: "given", args: []string{"--probe", "--probe-logout-url", "https://app.company.com/oauth2/sign_out"}, want: "https://app.company.com/oauth2/sign_out"},
		{description: "without --probe", args: []string{"--probe-logout-url", "https://app.company.com/oauth2/sign_out"}, code: cmdutil.ExitUsage,
			stderr: "ssoctl: --probe-logout-url needs --probe\n", hint: "add --probe"},
		{description: "not absolute", args: []string{"--probe", "--probe-logout-url", "/logout"}, code: cmdutil.ExitUsage,
			stderr: "ssoctl: --probe-logout-url must be an http or https URL\n", hint: "like --probe-logout-url https://"},
		{description: "a password in it", args: []string{"--probe", "--probe-logout-url", "https://ops:hunter2@app.company.com/logout"}, code: cmdutil.ExitUsage,
			stderr: "ssoctl: --probe-logout-url holds a user name or password\n"},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			r := runFlags(t, ok, tt.args, tt.code, tt.stderr, tt.hint)
			if r == nil {
				return
			}
			if r.Probes.LogoutURL != tt.want {
				t.Errorf("LogoutURL %q, want %q", r.Probes.LogoutURL, tt.want)
			}
		})
	}
}

// runFlags runs trace chain on the example chain with args and a fake
// walk, and checks the exit code. For a usage error it checks the message
// and hint came before any walk, with no password from args echoed, and
// returns nil; otherwise the request the walk was given.
func runFlags(t *testing.T, walk tracer, args []string, wantCode int, wantStderr, hint string) *walkRequest {
	t.Helper()
	code, stdout, stderr, r := fakeRun(t, nil, walk, append([]string{"-f", exampleChain}, args...)...)
	if code != wantCode {
		t.Fatalf("exit %d, want %d\nstderr: %s", code, wantCode, stderr)
	}
	if code == 0 {
		return r
	}
	if !strings.HasPrefix(stderr, wantStderr) || !strings.Contains(stderr, hint) || stdout != "" || r != nil || strings.Contains(stderr, "hunter2") {
		t.Errorf("stderr %q, stdout %q, walked %v; want %q and hint %q before any walk", stderr, stdout, r != nil, wantStderr, hint)
	}
	return nil
}
