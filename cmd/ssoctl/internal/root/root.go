// Package root assembles the ssoctl command tree and runs it.
package root

import (
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/chaincmd"
	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/servecmd"
	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/tokencmd"
	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/tracecmd"
)

// NewCmdRoot returns the ssoctl command with every subcommand attached.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	var noColor bool
	cmd := &cobra.Command{
		Use:   "ssoctl <command>",
		Short: "Run and debug propagating single sign-on chains",
		Long: `ssoctl runs and debugs propagating single sign-on chains: one login at an
identity provider, then short-lived, single-use signed handoff tokens carry the
session through redirects to apps on other root domains, each of which sets its
own cookie.

Exit codes: 0 success, 1 the check failed (invalid token, failing trace),
2 usage or configuration error, 3 a dependency was unreachable.

Secrets never go on the command line: use --secret-env NAME, --secret-file PATH
or stdin (--secret-file -).`,
		Example: `  # mint a handoff for the receiver "portal" and verify it
  export SSO_SECRET="$(head -c 32 /dev/urandom | base64)"
  ssoctl token mint --iss https://accounts.example.com --aud portal --sub u1 --sid s1 --secret-env SSO_SECRET |
    ssoctl token verify - --iss https://accounts.example.com --aud portal --secret-env SSO_SECRET

  # explain a token found in a redirect URL (no key needed)
  ssoctl token decode 'https://portal.example.org/sso?token=eyJ...'`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			if noColor {
				f.IO.SetColorDisabled(true)
			}
		},
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return cmdutil.UsageError(fmt.Sprintf("run '%s --help' for usage", c.CommandPath()), "%v", err)
	})
	pf := cmd.PersistentFlags()
	pf.StringVarP(&f.Output, "output", "o", cmdutil.FormatText, "output format: text or json; trace chain also junit and mermaid")
	pf.BoolVar(&noColor, "no-color", false, "never style output with color (also: NO_COLOR=1)")

	cmd.AddCommand(newCmdVersion(f))
	cmd.AddCommand(tokencmd.NewCmdToken(f))
	cmd.AddCommand(servecmd.NewCmdServe(f))
	cmd.AddCommand(chaincmd.NewCmdChain(f))
	cmd.AddCommand(tracecmd.NewCmdTrace(f))
	// The completion command takes its output stream when it is made, so
	// the streams are set first.
	cmd.SetIn(f.IO.In)
	cmd.SetOut(f.IO.Out)
	cmd.SetErr(f.IO.ErrOut)
	cmd.InitDefaultCompletionCmd()
	for _, sub := range cmd.Commands() {
		rejectUnknownVerbs(sub)
	}
	return cmd
}

// rejectUnknownVerbs makes every command group below the root refuse a verb
// it does not have. Left to itself cobra shows the group's help and exits 0
// for "ssoctl token verfy" or "ssoctl completion tcsh", so a script would
// take a typo for success.
func rejectUnknownVerbs(c *cobra.Command) {
	for _, sub := range c.Commands() {
		rejectUnknownVerbs(sub)
	}
	if !c.HasSubCommands() || c.Runnable() {
		return
	}
	c.SuggestionsMinimumDistance = 2
	c.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		hint := fmt.Sprintf("run '%s --help' to see the commands", cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			hint = fmt.Sprintf("did you mean '%s %s'?", cmd.CommandPath(), s[0])
		}
		return cmdutil.UsageError(hint, "unknown command %q for %q", args[0], cmd.CommandPath())
	}
	c.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
	// Being runnable now, the group would show two usage lines
	// ("token [flags]" and "token [command]"); only the second is true.
	// Its verbs inherit a parent's template, so they keep the original.
	plain := c.UsageTemplate()
	c.SetUsageTemplate(strings.Replace(plain, "{{if .Runnable}}\n  {{.UseLine}}{{end}}", "", 1))
	for _, sub := range c.Commands() {
		if !sub.HasSubCommands() {
			sub.SetUsageTemplate(plain)
		}
	}
}

// Main runs ssoctl with args and returns the exit code.
func Main(f *cmdutil.Factory, args []string) int {
	cmd := NewCmdRoot(f)
	if args == nil {
		args = []string{} // cobra reads os.Args for nil
	}
	cmd.SetArgs(args)
	cmd.SetIn(f.IO.In)
	cmd.SetOut(f.IO.Out)
	cmd.SetErr(f.IO.ErrOut)
	err := cmd.Execute()
	if err != nil {
		printError(f, cmd, err)
	}
	return cmdutil.ExitCode(err)
}

func printError(f *cmdutil.Factory, root *cobra.Command, err error) {
	var ee *cmdutil.ExitError
	hint := ""
	if errors.As(err, &ee) {
		if ee.Silent {
			return
		}
		hint = ee.Hint
	} else if m := unknownCommand().FindStringSubmatch(err.Error()); m != nil {
		// Cobra appends "Did you mean this?" on further lines; an error is
		// one line, so a suggestion becomes the hint.
		hint = fmt.Sprintf("run '%s --help' to see its commands and arguments", m[2])
		if _, sugg, ok := strings.Cut(err.Error(), "Did you mean this?\n"); ok {
			if s := strings.Fields(sugg); len(s) > 0 {
				hint = fmt.Sprintf("did you mean '%s %s'?", m[2], s[0])
			}
		}
		err = errors.New(m[0])
	} else if strings.Contains(err.Error(), "arg(s)") {
		hint = "run the command with --help for its arguments"
	}
	fmt.Fprintf(f.IO.ErrOut, "ssoctl: %s\n", err)
	if hint != "" {
		fmt.Fprintf(f.IO.ErrOut, "hint: %s\n", hint)
	}
}

// unknownCommand matches cobra's "unknown command" error, which it also
// gives for an argument to a command that takes none.
var unknownCommand = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^unknown command ("[^"]*"|.*) for "([^"]+)"`) })

func newCmdVersion(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the ssoctl version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := f.OutputFormat()
			if err != nil {
				return err
			}
			v := Version(f.Version)
			if format == cmdutil.FormatJSON {
				return cmdutil.WriteJSON(f.IO.Out, map[string]any{
					"schema_version": cmdutil.SchemaVersion,
					"version":        v,
					"go":             runtime.Version(),
					"platform":       runtime.GOOS + "/" + runtime.GOARCH,
				})
			}
			_, err = fmt.Fprintf(f.IO.Out, "ssoctl %s (%s, %s/%s)\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}

// Version returns the version stamped at link time, else the module version
// from the build info (set by `go install ...@version`), else "dev".
func Version(stamped string) string {
	if stamped != "" {
		return stamped
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}
