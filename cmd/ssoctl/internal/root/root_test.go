package root_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/root"
)

// update is accepted, and unused, so that `go test ./cmd/... -update`
// refreshes the golden files of the packages that have them.
var _ = flag.Bool("update", false, "no golden files in this package")

const testSecret = "test-only-hs256-secret-0123456789abcdef"

func newFactory(version string) (*cmdutil.Factory, *cmdutil.IOStreams, *bytes.Buffer, *bytes.Buffer) {
	ios, _, out, errOut := cmdutil.Test()
	return &cmdutil.Factory{
		IO: ios,
		LookupEnv: func(name string) (string, bool) {
			return map[string]string{"SSO_SECRET": testSecret}[name], name == "SSO_SECRET"
		},
		Now:     func() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) },
		Version: version,
		Output:  cmdutil.FormatText,
	}, ios, out, errOut
}

func TestMain_commands(t *testing.T) {
	tests := []struct {
		name       string
		version    string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
		stderrNone bool
	}{
		{name: "version", version: "v1.2.3", args: []string{"version"}, wantCode: 0,
			wantStdout: []string{"ssoctl v1.2.3 (" + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"}, stderrNone: true},
		{name: "version unstamped", args: []string{"version"}, wantCode: 0, wantStdout: []string{"ssoctl "}, stderrNone: true},
		{name: "version json", version: "v1.2.3", args: []string{"version", "-o", "json"}, wantCode: 0,
			wantStdout: []string{`"schema_version": 1`, `"version": "v1.2.3"`, `"go": "` + runtime.Version() + `"`, `"platform"`}, stderrNone: true},
		{name: "version with an argument", args: []string{"version", "now"}, wantCode: 2,
			wantStderr: []string{`ssoctl: unknown command "now" for "ssoctl version"`, "hint: run 'ssoctl version --help'"}},
		{name: "version with -o junit", args: []string{"version", "-o", "junit"}, wantCode: 2,
			wantStderr: []string{`ssoctl: output format "junit" is not supported here (use text or json)`}},
		{name: "no command shows help", args: nil, wantCode: 0, wantStdout: []string{"Usage:", "ssoctl [command]", "Exit codes: 0 success"}, stderrNone: true},
		{name: "help", args: []string{"--help"}, wantCode: 0, wantStdout: []string{"Available Commands:", "token", "version", "completion"}, stderrNone: true},
		{name: "unknown command with a suggestion", args: []string{"verion"}, wantCode: 2,
			wantStderr: []string{"ssoctl: unknown command \"verion\" for \"ssoctl\"\nhint: did you mean 'ssoctl version'?\n"}},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 2,
			wantStderr: []string{"ssoctl: unknown command \"frobnicate\" for \"ssoctl\"\nhint: run 'ssoctl --help'"}},
		{name: "token group without a verb shows help", args: []string{"token"}, wantCode: 0, wantStdout: []string{"mint", "decode", "verify", "keygen"}, stderrNone: true},
		{name: "mistyped token verb is a usage error", args: []string{"token", "verfy"}, wantCode: 2,
			wantStderr: []string{"ssoctl: unknown command \"verfy\" for \"ssoctl token\"\nhint: did you mean 'ssoctl token verify'?\n"}},
		{name: "unknown token verb", args: []string{"token", "sign"}, wantCode: 2,
			wantStderr: []string{`unknown command "sign" for "ssoctl token"`, "hint: run 'ssoctl token --help' to see the commands"}},
		{name: "unknown global flag", args: []string{"--colour", "version"}, wantCode: 2,
			wantStderr: []string{"ssoctl: unknown flag: --colour", "hint: run 'ssoctl --help' for usage"}},
		{name: "-o without a value", args: []string{"version", "-o"}, wantCode: 2,
			wantStderr: []string{"flag needs an argument", "hint: "}},
		{name: "--no-color is accepted everywhere", args: []string{"--no-color", "version"}, wantCode: 0, stderrNone: true},
		{name: "completion bash", args: []string{"completion", "bash"}, wantCode: 0, wantStdout: []string{"bash completion", "ssoctl"}, stderrNone: true},
		{name: "completion zsh", args: []string{"completion", "zsh"}, wantCode: 0, wantStdout: []string{"#compdef ssoctl"}, stderrNone: true},
		{name: "completion fish", args: []string{"completion", "fish"}, wantCode: 0, wantStdout: []string{"complete -c ssoctl"}, stderrNone: true},
		{name: "completion powershell", args: []string{"completion", "powershell"}, wantCode: 0, wantStdout: []string{"Register-ArgumentCompleter"}, stderrNone: true},
		{name: "completion for an unknown shell", args: []string{"completion", "tcsh"}, wantCode: 2, wantStderr: []string{`unknown command "tcsh"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _, out, errOut := newFactory(tt.version)
			code := root.Main(f, tt.args)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			for _, s := range tt.wantStdout {
				if !strings.Contains(out.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tt.wantStderr {
				if !strings.Contains(errOut.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, errOut)
				}
			}
			if tt.stderrNone && errOut.Len() != 0 {
				t.Errorf("stderr is not empty:\n%s", errOut)
			}
			if code != 0 && out.Len() != 0 {
				t.Errorf("a usage error wrote to stdout:\n%s", out)
			}
			// An error is one line, and the hint another.
			for _, line := range strings.Split(strings.TrimRight(errOut.String(), "\n"), "\n") {
				if line != "" && !strings.HasPrefix(line, "ssoctl: ") && !strings.HasPrefix(line, "hint: ") {
					t.Errorf("stray stderr line %q", line)
				}
			}
		})
	}
}

func TestVersion_json(t *testing.T) {
	f, _, out, _ := newFactory("v9.9.9")
	if code := root.Main(f, []string{"-o", "json", "version"}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	var doc map[string]any
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"schema_version": 1.0, "version": "v9.9.9", "go": runtime.Version(), "platform": runtime.GOOS + "/" + runtime.GOARCH}
	for k, v := range want {
		if doc[k] != v {
			t.Errorf("%s = %v, want %v", k, doc[k], v)
		}
	}
	if len(doc) != len(want) {
		t.Errorf("version json = %v", doc)
	}
}

func TestVersion_fallback(t *testing.T) {
	if got := root.Version("v1.0.0"); got != "v1.0.0" {
		t.Errorf("Version(stamped) = %q", got)
	}
	if got := root.Version(""); got == "" {
		t.Error("Version(\"\") is empty; want the module version or dev")
	}
}

func TestNoColorFlag(t *testing.T) {
	f, ios, _, _ := newFactory("")
	ios.SetStdoutTTY(true)
	if !ios.ColorEnabled() {
		t.Fatal("a terminal should get color")
	}
	if code := root.Main(f, []string{"--no-color", "version"}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if ios.ColorEnabled() {
		t.Error("--no-color left color enabled")
	}
}

// walk visits every command of the tree.
func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}

// TestHelp_noSecretDefaults: no flag takes key material inline, and no
// flag that names where a key comes from has a default.
func TestHelp_noSecretDefaults(t *testing.T) {
	f, _, _, _ := newFactory("")
	var paths []string
	walk(root.NewCmdRoot(f), func(c *cobra.Command) {
		paths = append(paths, c.CommandPath())
		c.LocalFlags().VisitAll(func(fl *pflag.Flag) {
			name := fl.Name
			switch name {
			case "secret", "key", "password", "token", "hmac":
				t.Errorf("%s has --%s, which would take a secret inline", c.CommandPath(), name)
			}
			if (strings.Contains(name, "secret") || strings.Contains(name, "key") || strings.Contains(name, "jwks")) && fl.DefValue != "" {
				t.Errorf("%s --%s has default %q; key sources must have none", c.CommandPath(), name, fl.DefValue)
			}
		})
	})

	for _, path := range paths {
		args := append(strings.Fields(path)[1:], "--help")
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			f, _, out, errOut := newFactory("")
			if code := root.Main(f, args); code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			help := out.String()
			if !strings.Contains(help, "Usage:") {
				t.Errorf("help has no usage:\n%s", help)
			}
			if strings.Contains(help, testSecret) {
				t.Error("help shows the secret from the environment")
			}
			for _, line := range strings.Split(help, "\n") {
				l := strings.TrimSpace(line)
				if strings.HasPrefix(l, "--secret") || strings.HasPrefix(l, "--key-file") || strings.HasPrefix(l, "--jwks") {
					if strings.Contains(l, "(default ") {
						t.Errorf("key flag help shows a default: %s", l)
					}
				}
			}
		})
	}
}

// TestHelp_exitCodes: every command that checks something says what its
// exit codes mean, and they match cmdutil's constants.
func TestHelp_exitCodes(t *testing.T) {
	if cmdutil.ExitOK != 0 || cmdutil.ExitCheckFailed != 1 || cmdutil.ExitUsage != 2 || cmdutil.ExitUnavailable != 3 {
		t.Fatal("exit code constants changed meaning")
	}
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{args: []string{"--help"}, want: []string{"0 success", "1 the check failed", "2 usage or configuration error", "3 a dependency was unreachable"}},
		{args: []string{"token", "verify", "--help"}, want: []string{"0 valid, 1 invalid", "2 usage error, 3 the --jwks-url could not be fetched"}},
		{args: []string{"token", "decode", "--help"}, want: []string{"0 when a token was decoded", "1 when the input holds\nno readable token", "2 on usage errors"}},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f, _, out, _ := newFactory("")
			root.Main(f, tt.args)
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("help lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// Every command's help starts with a usage line naming the command: a
// group's template must not leak into its verbs (they once printed an
// empty "Usage:").
func TestHelp_usageLine(t *testing.T) {
	f, _, _, _ := newFactory("v1.2.3")
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" {
				continue
			}
			t.Run(sub.CommandPath(), func(t *testing.T) {
				ff, _, out, _ := newFactory("v1.2.3")
				args := append(strings.Fields(strings.TrimPrefix(sub.CommandPath(), "ssoctl ")), "--help")
				if code := root.Main(ff, args); code != 0 {
					t.Fatalf("--help exit %d", code)
				}
				_, after, ok := strings.Cut(out.String(), "Usage:\n")
				if !ok || !strings.HasPrefix(after, "  "+sub.CommandPath()) {
					t.Errorf("usage line of %s: %q", sub.CommandPath(), strings.SplitN(after, "\n", 2)[0])
				}
			})
			walk(sub)
		}
	}
	walk(root.NewCmdRoot(f))
}
