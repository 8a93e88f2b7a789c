package chaincmd

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/pkg/chain"
)

// Output formats of `chain graph`.
const (
	FormatMermaid = "mermaid"
	FormatDot     = "dot"
)

var graphFormats = []string{FormatMermaid, FormatDot, cmdutil.FormatText, cmdutil.FormatJSON}

// GraphOptions are the inputs of `chain graph`.
type GraphOptions struct {
	IO *cmdutil.IOStreams

	File     string
	Format   string
	ReturnTo string

	f *cmdutil.Factory
}

// NewCmdGraph returns `chain graph`. runF replaces graphRun in tests.
func NewCmdGraph(f *cmdutil.Factory, runF func(*GraphOptions) error) *cobra.Command {
	opts := &GraphOptions{IO: f.IO, f: f}
	cmd := &cobra.Command{
		Use:   "graph -f FILE [-o mermaid|dot|text|json] [--return-to URL]",
		Short: "Draw the hops a browser takes through the chain",
		Long: `Draw the chain as the hops a browser without sessions takes on its first login:
the issuer's /login, the identity provider and back, one handoff per receiver
(hub mode: back to the issuer's /sso/continue after each; relay mode: straight
on to the next receiver), and the landing on return_to. Each arrow is a
redirect the browser follows, from the role that answered to the one it opens
next; a handoff arrow names the receiver its token is bound to (aud).
Shared-cookie receivers get no hop: they validate the issuer's parent-domain
cookie server to server.

Formats (-o): mermaid (default) a sequenceDiagram for Markdown; dot a Graphviz
digraph (render with 'dot -Tsvg'); text a numbered hop list; json the hops.

--return-to defaults to expect.final_url_prefix, else the last receiver's
origin; it must be allowed by return_to.allow.

Exit status: 0 drawn, 2 the chain has errors (listed on stderr) or a usage error.`,
		Example: `  ssoctl chain graph -f examples/local/chain.yaml
  ssoctl chain graph -f chain.yaml -o dot | dot -Tsvg > chain.svg
  ssoctl chain graph -f chain.yaml -o text --return-to https://portal.company2.com/home`,
		Args: noArgs("-f"),
		RunE: func(cmd *cobra.Command, args []string) error {
			// -o is the global flag before the verb ("ssoctl -o dot chain
			// graph"), this command's own after it.
			if !cmd.Flags().Changed("output") && cmd.Root().PersistentFlags().Changed("output") {
				opts.Format = f.Output
			}
			if runF != nil {
				return runF(opts)
			}
			return graphRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.File, "file", "f", "", "the chain file (- for stdin)")
	// Its own -o, shadowing the global one, because the default differs.
	fl.StringVarP(&opts.Format, "output", "o", FormatMermaid, "output format: mermaid, dot, text or json")
	fl.StringVar(&opts.ReturnTo, "return-to", "", "where the login ends (default: expect.final_url_prefix, else the last receiver)")
	return cmd
}

func graphRun(opts *GraphOptions) error {
	if !slices.Contains(graphFormats, opts.Format) {
		return cmdutil.UsageError("", "output format %q is not supported here (use %s)", opts.Format, strings.Join(graphFormats, ", "))
	}
	c, err := loadChain(opts.f, opts.File, "ssoctl chain graph")
	var lint *chain.LintError
	if errors.As(err, &lint) {
		return invalidChain(opts, lint)
	}
	if err != nil {
		return err
	}
	d, err := planDiagram(opts, c)
	if err != nil {
		return err
	}
	switch opts.Format {
	case FormatMermaid:
		writeMermaid(opts.IO.Out, d)
	case FormatDot:
		writeDot(opts.IO.Out, d)
	case cmdutil.FormatJSON:
		return writeJSON(opts.IO.Out, displayName(opts.File), d)
	default:
		writeText(opts.IO.Out, cmdutil.NewStyles(opts.IO.Out, opts.IO.ColorEnabled()), d)
	}
	return nil
}

// invalidChain lists the problems on stderr: a chain with errors has no
// plan to draw, and stdout stays empty for the pipe it may feed.
func invalidChain(opts *GraphOptions, lint *chain.LintError) error {
	file := displayName(opts.File)
	st := cmdutil.NewStyles(opts.IO.ErrOut, opts.IO.ErrColorEnabled())
	printProblems(opts.IO.ErrOut, st, file, lint.Problems)
	nErr, _ := count(lint.Problems)
	return cmdutil.UsageError("fix the errors above; 'ssoctl chain lint -f "+cmdutil.Printable(opts.File)+"' checks the file again",
		"%s has %s; nothing to draw", cmdutil.Printable(file), plural(nErr, "error"))
}

// planDiagram plans the first login and lays it out. An explicit
// --return-to outside the allowlist is an error; a default one falls back to
// the issuer's root, with a note.
func planDiagram(opts *GraphOptions, c *chain.Chain) (*diagram, error) {
	returnTo, explicit := opts.ReturnTo, opts.ReturnTo != ""
	if !explicit {
		switch {
		case c.Expect.FinalURLPrefix != "":
			returnTo = c.Expect.FinalURLPrefix
		case len(c.Receivers) > 0:
			returnTo = c.Receivers[len(c.Receivers)-1].URL + "/"
		}
	}
	hops, err := chain.Plan(c, returnTo)
	if err != nil && errors.Is(err, chain.ErrReturnToRefused) {
		if explicit {
			hint := "write --return-to as a plain absolute URL, like https://portal.company2.com/home"
			if errors.Is(err, chain.ErrNotAllowed) {
				hint = "pick a URL that return_to.allow covers: " + cmdutil.Printable(strings.Join(c.ReturnTo.Allow, ", "))
			}
			return nil, cmdutil.UsageError(hint,
				"--return-to refused: %s", cmdutil.Printable(strings.TrimPrefix(strings.TrimPrefix(err.Error(), "plan: "), chain.ErrReturnToRefused.Error()+": ")))
		}
		fmt.Fprintf(opts.IO.ErrOut, "ssoctl: note: %s is outside return_to.allow; the drawing ends at the issuer\n", cmdutil.Printable(returnTo))
		hops, err = chain.Plan(c, "")
	}
	if err != nil {
		return nil, cmdutil.UsageError("", "%s", cmdutil.Printable(err.Error()))
	}
	return newDiagram(c, hops), nil
}
