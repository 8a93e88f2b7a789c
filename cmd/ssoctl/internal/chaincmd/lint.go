package chaincmd

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/pkg/chain"
)

// LintOptions are the inputs of `chain lint`.
type LintOptions struct {
	IO *cmdutil.IOStreams

	File   string
	Strict bool

	f *cmdutil.Factory
}

// NewCmdLint returns `chain lint`. runF replaces lintRun in tests.
func NewCmdLint(f *cmdutil.Factory, runF func(*LintOptions) error) *cobra.Command {
	opts := &LintOptions{IO: f.IO, f: f}
	cmd := &cobra.Command{
		Use:   "lint -f FILE",
		Short: "Check a chain file and list every problem with line, column and fix",
		Long: `Check a chain file the way every ssoctl role reads it, and list every problem,
not just the first: one line per problem in the shape compilers use,

  chain.yaml:12:8: error: issuer.url http://accounts.company.com uses http, which only dev chains may
    fix: use https, or set dev: true for local development

so editors and CI can jump to it, then a summary. Errors stop the chain from
running; warnings are what it runs with (an origin no return_to pattern covers,
a dev IdP outside a dev chain). Secret values in the file are never shown.

Exit status: 0 no errors (warnings allowed), 2 the file has errors, or has
warnings with --strict, or cannot be read.`,
		Example: `  ssoctl chain lint -f examples/local/chain.yaml
  ssoctl chain lint -f chain.yaml --strict -o json | jq '.problems[] | "\(.line):\(.col) \(.message)"'
  cat chain.yaml | ssoctl chain lint -f -`,
		Args: noArgs("-f"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return lintRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.File, "file", "f", "", "the chain file (- for stdin)")
	fl.BoolVar(&opts.Strict, "strict", false, "count warnings as errors: exit 2 if there are any")
	return cmd
}

// noArgs refuses a positional argument with a hint to pass it as a flag,
// where cobra would call it an unknown command.
func noArgs(flag string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		return cmdutil.UsageError(fmt.Sprintf("pass the chain file with %s: '%s %s %s'", flag, cmd.CommandPath(), flag, cmdutil.Printable(args[0])),
			"unexpected argument %q", args[0])
	}
}

// lintView is `chain lint -o json`.
type lintView struct {
	SchemaVersion int           `json:"schema_version"`
	File          string        `json:"file"`
	Valid         bool          `json:"valid"`
	Strict        bool          `json:"strict"`
	Errors        int           `json:"errors"`
	Warnings      int           `json:"warnings"`
	Problems      []problemView `json:"problems"`
	Chain         *chainSummary `json:"chain,omitempty"`
	// Error is set when the file could not be read, so no verdict.
	Error string `json:"error,omitempty"`
}

// chainSummary is what a valid chain is, in a few words.
type chainSummary struct {
	Name         string `json:"name"`
	Mode         string `json:"mode"`
	Alg          string `json:"alg"`
	Receivers    int    `json:"receivers"`
	SharedCookie int    `json:"shared_cookie_receivers"`
}

func lintRun(opts *LintOptions) error {
	format, err := opts.f.OutputFormat()
	if err != nil {
		return err
	}
	c, err := loadChain(opts.f, opts.File, "ssoctl chain lint")
	var lint *chain.LintError
	if err != nil && !errors.As(err, &lint) {
		if format == cmdutil.FormatJSON && opts.File != "" {
			// A pipeline reading the JSON still gets one document saying why
			// there is no verdict.
			var ee *cmdutil.ExitError
			msg := err.Error()
			if errors.As(err, &ee) && ee.Err != nil {
				msg = ee.Err.Error()
			}
			_ = cmdutil.WriteJSON(opts.IO.Out, lintView{SchemaVersion: cmdutil.SchemaVersion, File: opts.File, Problems: []problemView{}, Strict: opts.Strict, Error: msg})
		}
		return err
	}

	file := displayName(opts.File)
	var problems []chain.Problem
	if lint != nil {
		problems = lint.Problems
	} else {
		problems = c.Warnings
	}
	nErr, nWarn := count(problems)
	failed := nErr > 0 || (opts.Strict && nWarn > 0)

	if format == cmdutil.FormatJSON {
		view := lintView{
			SchemaVersion: cmdutil.SchemaVersion, File: file, Valid: !failed, Strict: opts.Strict,
			Errors: nErr, Warnings: nWarn, Problems: problemViews(problems),
		}
		if c != nil {
			s := summarize(c)
			view.Chain = &s
		}
		if err := cmdutil.WriteJSON(opts.IO.Out, view); err != nil {
			return err
		}
	} else {
		printLint(opts, file, c, problems, nErr, nWarn, failed)
	}
	if failed {
		return &cmdutil.ExitError{Code: cmdutil.ExitUsage, Silent: true}
	}
	return nil
}

func count(ps []chain.Problem) (errs, warns int) {
	for _, p := range ps {
		if p.Severity == chain.SeverityWarning {
			warns++
		} else {
			errs++
		}
	}
	return errs, warns
}

func summarize(c *chain.Chain) chainSummary {
	s := chainSummary{Name: c.Name, Mode: string(c.Mode), Alg: string(c.Token.Alg), Receivers: len(c.Receivers)}
	for _, r := range c.Receivers {
		if r.SharedCookie {
			s.SharedCookie++
		}
	}
	return s
}

func printLint(opts *LintOptions, file string, c *chain.Chain, problems []chain.Problem, nErr, nWarn int, failed bool) {
	w := opts.IO.Out
	st := cmdutil.NewStyles(w, opts.IO.ColorEnabled())
	printProblems(w, st, file, problems)
	var summary string
	switch {
	case nErr > 0:
		summary = st.Bad.Render(plural(nErr, "error"))
		if nWarn > 0 {
			summary += ", " + st.Warn.Render(plural(nWarn, "warning"))
		}
	case failed:
		summary = st.Bad.Render(plural(nWarn, "warning")) + " " + st.Dim.Render("(--strict: warnings count as errors)")
	default:
		s := summarize(c)
		what := plural(s.Receivers, "receiver")
		if s.SharedCookie > 0 {
			what += fmt.Sprintf(", %d shared-cookie", s.SharedCookie)
		}
		summary = fmt.Sprintf("%s: %s (%s, mode %s, %s)", cmdutil.Printable(file), st.Good.Render("ok"), what, s.Mode, s.Alg)
		if nWarn > 0 {
			summary += ", " + st.Warn.Render(plural(nWarn, "warning"))
		}
	}
	fmt.Fprintln(w, summary)
}

// printProblems writes each problem as "FILE:LINE:COL: severity: message"
// and its fix on an indented line below. pkg/chain puts no secret in a
// problem, so it is printed as it is, only made safe for a terminal.
func printProblems(w io.Writer, st *cmdutil.Styles, file string, problems []chain.Problem) {
	for _, p := range problems {
		sev := st.Bad.Render("error")
		if p.Severity == chain.SeverityWarning {
			sev = st.Warn.Render("warning")
		}
		fmt.Fprintf(w, "%s: %s: %s\n", st.Label.Render(fmt.Sprintf("%s:%d:%d", cmdutil.Printable(file), p.Line, p.Col)), sev, cmdutil.Printable(p.Message))
		if fix := strings.TrimSpace(p.Fix); fix != "" {
			fmt.Fprintf(w, "  %s\n", st.Dim.Render("fix: "+cmdutil.Printable(fix)))
		}
	}
}
