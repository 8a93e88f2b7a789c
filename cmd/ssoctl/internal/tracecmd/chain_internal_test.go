package tracecmd

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/pkg/chain"
)

const exampleChain = "../../../../examples/local/chain.yaml"

// fakeRun runs `trace chain args` in process with tracer standing in for
// the walk, and returns the exit code, the streams and the request the
// tracer got.
func fakeRun(t *testing.T, env map[string]string, tr tracer, args ...string) (code int, stdout, stderr string, req *walkRequest) {
	t.Helper()
	ios, _, out, errOut := cmdutil.Test()
	f := &cmdutil.Factory{
		IO: ios,
		LookupEnv: func(k string) (string, bool) {
			v, ok := env[k]
			return v, ok
		},
		Now:    func() time.Time { return fixtureStart },
		Output: cmdutil.FormatText,
	}
	if len(args) >= 2 && args[0] == "-o" {
		f.Output, args = args[1], args[2:]
	}
	cmd := NewCmdChain(f, func(o *ChainOptions) error {
		o.tracer = func(ctx context.Context, r *walkRequest) (*chain.Trace, error) {
			req = r
			return tr(ctx, r)
		}
		return chainRun(context.Background(), o)
	})
	cmd.SetArgs(args)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	err := cmd.Execute()
	var ee *cmdutil.ExitError
	if err != nil && (!errors.As(err, &ee) || !ee.Silent) {
		errOut.WriteString("ssoctl: " + err.Error() + "\n")
		if errors.As(err, &ee) && ee.Hint != "" {
			errOut.WriteString("hint: " + ee.Hint + "\n")
		}
	}
	return cmdutil.ExitCode(err), out.String(), errOut.String(), req
}

func returns(tr *chain.Trace, err error) tracer {
	return func(context.Context, *walkRequest) (*chain.Trace, error) { return tr, err }
}

// TestChainRun_exitCodes: the report is printed whatever the verdict, and
// the exit code says which it was.
func TestChainRun_exitCodes(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		tracer   tracer
		code     int
		stdout   []string
		stderr   []string
		emptyErr bool
		emptyOut bool
	}{
		{name: "clean", args: []string{"-f", exampleChain}, tracer: returns(okTrace(), nil), code: 0,
			stdout: []string{"PASS 9 steps in 41.7 ms: no findings, 4 expectations met\n"}, emptyErr: true},
		{name: "a finding", args: []string{"-f", exampleChain}, tracer: returns(failedTrace(), nil), code: 1,
			stdout: []string{"FAIL 9 steps"}, emptyErr: true},
		{name: "a failed expectation only", args: []string{"-f", exampleChain}, tracer: func(context.Context, *walkRequest) (*chain.Trace, error) {
			tr := okTrace()
			tr.Expectations[0].OK = false
			return tr, nil
		}, code: 1, stdout: []string{"✗ final_url_prefix"}, emptyErr: true},
		{name: "an accepted probe only", args: []string{"-f", exampleChain}, tracer: func(context.Context, *walkRequest) (*chain.Trace, error) {
			tr := okTrace()
			tr.Probes = []chain.ProbeResult{{Name: "replay", Target: "portal", Status: 303}}
			return tr, nil
		}, code: 1, stdout: []string{"✗ replay"}, emptyErr: true},
		{name: "a warning alone passes", args: []string{"-f", exampleChain}, tracer: func(context.Context, *walkRequest) (*chain.Trace, error) {
			tr := okTrace()
			tr.Findings = []chain.Finding{chain.FindingRiskyToken.New(5, "portal.company2.localhost:8081", "no sid")}
			return tr, nil
		}, code: 0, stdout: []string{"PASS 9 steps in 41.7 ms: no errors, 1 warning"}},
		{name: "unreachable in live mode", args: []string{"-f", exampleChain}, tracer: returns(unreachableTrace(), nil), code: 3,
			stdout: []string{"UNREACHABLE portal.company2.localhost:8081 did not answer"},
			stderr: []string{"ssoctl: portal.company2.localhost:8081 is unreachable; the walk stopped there\n",
				"hint: start the chain ('ssoctl serve dev -f ../../../../examples/local/chain.yaml' in another shell), or walk an in-process copy with --sandbox\n"}},
		{name: "unreachable wins over a failure", args: []string{"--start", "https://a.example/"}, tracer: func(context.Context, *walkRequest) (*chain.Trace, error) {
			tr := unreachableTrace()
			tr.Findings = []chain.Finding{chain.FindingIdPUnreachable.New(5, "auth.company.localhost:4433", "down")}
			return tr, nil
		}, code: 3, stderr: []string{"hint: check the URL, or map the host onto a reachable address with --resolve HOST:PORT:ADDR\n"}},
		{name: "unreachable as JSON still prints the document", args: []string{"-o", "json", "-f", exampleChain}, tracer: returns(unreachableTrace(), nil), code: 3,
			stdout: []string{`"unreachable": "portal.company2.localhost:8081"`, `"schema_version": 1`}},
		{name: "the walk timed out", args: []string{"-f", exampleChain}, tracer: returns(nil, context.DeadlineExceeded), code: 3,
			emptyOut: true, stderr: []string{"ssoctl: the walk timed out"}},
		{name: "the walk refused the start", args: []string{"--start", "https://a.example/"}, tracer: returns(nil, errors.New("trace: the start URL is bad")), code: 2,
			emptyOut: true, stderr: []string{"ssoctl: trace: the start URL is bad\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr, _ := fakeRun(t, nil, tt.tracer, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout, stderr)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			if tt.emptyErr && stderr != "" {
				t.Errorf("stderr: %s", stderr)
			}
			if tt.emptyOut && stdout != "" {
				t.Errorf("stdout: %s", stdout)
			}
		})
	}
}

// TestChainRun_request: what the walk is given, from the flags and the
// chain file.
func TestChainRun_request(t *testing.T) {
	ok := returns(okTrace(), nil)
	example, err := chain.Load(exampleChain)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("live: the file's start, dev user and expect:", func(t *testing.T) {
		_, _, _, r := fakeRun(t, nil, ok, "-f", exampleChain)
		if r.Mode != ModeLive || r.Start != chain.StartURL(example) || r.Chain == nil {
			t.Errorf("mode %q start %q", r.Mode, r.Start)
		}
		if r.User != "alice@example.com" || r.Password != "wonderland" {
			t.Errorf("credentials = %q / (%d bytes)", r.User, len(r.Password))
		}
		if r.Expect.FinalURLPrefix != example.Expect.FinalURLPrefix || r.Expect.MaxHops != 8 {
			t.Errorf("expect = %+v", r.Expect)
		}
		if r.Timeout != DefaultTimeout || r.Probe || r.Dialer == nil || len(r.Dialer.Map) != 0 {
			t.Errorf("timeout %s probe %v dialer %+v", r.Timeout, r.Probe, r.Dialer)
		}
		// The dev chain's secret is inline, so forged probe variants can
		// be minted against the live chain too; only with --probe.
		if r.Probes.Signing != nil {
			t.Error("probe inputs resolved without --probe")
		}
	})

	t.Run("flags replace expect: part by part", func(t *testing.T) {
		_, _, _, r := fakeRun(t, nil, ok, "-f", exampleChain, "--max-hops", "9", "--max-total-time", "2s",
			"--expect-cookie", "portal.company2.localhost=portal_session", "--expect-cookie", "portal.company2.localhost=other",
			"--expect-cookie", "Accounts.company.localhost=accounts_session")
		want := chain.Expect{
			FinalURLPrefix: example.Expect.FinalURLPrefix, MaxHops: 9, MaxTotalTime: 2 * time.Second,
			Cookies: []chain.CookieExpectation{
				{Domain: "portal.company2.localhost", Names: []string{"portal_session", "other"}},
				{Domain: "accounts.company.localhost", Names: []string{"accounts_session"}},
			},
		}
		if got := r.Expect; got.FinalURLPrefix != want.FinalURLPrefix || got.MaxHops != want.MaxHops || got.MaxTotalTime != want.MaxTotalTime ||
			len(got.Cookies) != 2 || strings.Join(got.Cookies[0].Names, ",") != "portal_session,other" || got.Cookies[1].Domain != "accounts.company.localhost" {
			t.Errorf("expect = %+v, want %+v", got, want)
		}
	})

	t.Run("--max-hops 0 turns the file's check off", func(t *testing.T) {
		_, _, _, r := fakeRun(t, nil, ok, "-f", exampleChain, "--max-hops", "0")
		if r.Expect.MaxHops != 0 {
			t.Errorf("max hops = %d", r.Expect.MaxHops)
		}
	})

	t.Run("--start alone, --user with --password-env, --resolve", func(t *testing.T) {
		_, _, _, r := fakeRun(t, map[string]string{"PW": "s3cret-pw"}, ok, "--start", "https://accounts.company.com/login",
			"--user", "ci@company.com", "--password-env", "PW", "--resolve", "accounts.company.com:443:127.0.0.1", "--resolve", "[::1]:8443:[::1]", "--timeout", "3s")
		if r.Mode != ModeStart || r.Chain != nil || r.Start != "https://accounts.company.com/login" {
			t.Errorf("mode %q start %q", r.Mode, r.Start)
		}
		if r.User != "ci@company.com" || r.Password != "s3cret-pw" || r.Timeout != 3*time.Second {
			t.Errorf("user %q timeout %s", r.User, r.Timeout)
		}
		if got := r.Dialer.Map["accounts.company.com:443"]; got != "127.0.0.1:443" {
			t.Errorf("--resolve mapped to %q", got)
		}
		if got := r.Dialer.Map["[::1]:8443"]; got != "[::1]:8443" {
			t.Errorf("--resolve IPv6 mapped to %q", got)
		}
	})

	t.Run("-f with --start overrides the start; --user of the file takes its password", func(t *testing.T) {
		_, _, _, r := fakeRun(t, nil, ok, "-f", exampleChain, "--start", "http://portal.company2.localhost:8081/", "--user", "Alice@example.com")
		if r.Mode != ModeLive || r.Start != "http://portal.company2.localhost:8081/" || r.Password != "wonderland" {
			t.Errorf("mode %q start %q", r.Mode, r.Start)
		}
	})

	t.Run("--probe on a live chain with an inline secret can mint", func(t *testing.T) {
		_, _, stderr, r := fakeRun(t, nil, ok, "-f", exampleChain, "--probe")
		if !r.Probe || r.Probes.Signing == nil || r.Probes.Revoke == nil || r.Probes.Advance != nil || r.Probes.RecheckInterval != time.Minute {
			t.Errorf("probe inputs = %+v", r.Probes)
		}
		if strings.Contains(stderr, "signing key") {
			t.Errorf("stderr: %s", stderr)
		}
	})
}

// TestCredentials: who signs in, and from where the password comes.
func TestCredentials(t *testing.T) {
	example, err := chain.Load(exampleChain)
	if err != nil {
		t.Fatal(err)
	}
	pwFile := t.TempDir() + "/pw"
	if err := os.WriteFile(pwFile, []byte("from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name               string
		c                  *chain.Chain
		user, env, file    string
		stdin              string
		wantUser, wantPass string
		wantErr            string
	}{
		{name: "the file's first dev user", c: example, wantUser: "alice@example.com", wantPass: "wonderland"},
		{name: "a file user, any case", c: example, user: "ALICE@example.com", wantUser: "ALICE@example.com", wantPass: "wonderland"},
		{name: "env", c: example, user: "bob@example.com", env: "PW", wantUser: "bob@example.com", wantPass: "from-env"},
		{name: "env for the file's user", c: example, env: "PW", wantUser: "alice@example.com", wantPass: "from-env"},
		{name: "file, one newline dropped", user: "ci@x.test", file: pwFile, wantUser: "ci@x.test", wantPass: "from-a-file"},
		{name: "stdin", user: "ci@x.test", file: "-", stdin: "from-stdin\r\n", wantUser: "ci@x.test", wantPass: "from-stdin"},
		{name: "an empty stdin", user: "ci@x.test", file: "-", wantErr: "--password-file - is empty"},
		{name: "a missing file", user: "ci@x.test", file: pwFile + ".nope", wantErr: "reading the password"},
		{name: "no chain, no user: nobody", wantUser: "", wantPass: ""},
		{name: "an unknown user without a password", c: example, user: "bob@example.com", wantErr: "no password for --user bob@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, in, _, _ := cmdutil.Test()
			in.WriteString(tt.stdin)
			opts := &ChainOptions{IO: ios, User: tt.user, PasswordEnv: tt.env, PasswordFile: tt.file, ReadFile: os.ReadFile,
				LookupEnv: func(k string) (string, bool) { return map[string]string{"PW": "from-env"}[k], k == "PW" }}
			user, pass, err := opts.credentials(tt.c)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || cmdutil.ExitCode(err) != cmdutil.ExitUsage {
					t.Fatalf("err = %v, want exit 2 with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || user != tt.wantUser || pass != tt.wantPass {
				t.Errorf("credentials = %q, %q, %v; want %q, %q", user, pass, err, tt.wantUser, tt.wantPass)
			}
		})
	}
}

// TestSandbox_kratosDown: a Kratos chain's sandbox relies on a real
// Kratos; with none there the walk is exit 3, and the hint says so.
func TestSandbox_kratosDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now
	raw, err := os.ReadFile(exampleChain)
	if err != nil {
		t.Fatal(err)
	}
	yaml := strings.Replace(string(raw), "kind: dev ", "kind: kratos", 1)
	yaml = strings.ReplaceAll(yaml, "auth.company.localhost:4433", "auth.company.localhost:"+strconv.Itoa(port))
	yaml = strings.Replace(yaml, "  users:                        # dev IdP only\n    - {email: alice@example.com, password: wonderland}   # inline secrets only with dev: true\n", "", 1)
	file := t.TempDir() + "/chain.yaml"
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr, _ := fakeRun(t, map[string]string{"PW": "x"}, browse, "-f", file, "--sandbox", "--user", "a@example.com", "--password-env", "PW")
	if code != cmdutil.ExitUnavailable {
		t.Fatalf("exit %d, want 3\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "hint: the sandbox runs every role but Kratos") || !strings.Contains(stdout, "UNREACHABLE auth.company.localhost:") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
}
