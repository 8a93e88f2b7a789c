// Package chaincmd implements `ssoctl chain`: lint and graph for chain files.
package chaincmd

import (
	"github.com/spf13/cobra"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
)

// NewCmdChain returns the `chain` command group.
func NewCmdChain(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "chain <command>",
		Short: "Check and draw chain files",
		Long: `A chain file (YAML, version: 1) describes one propagating single sign-on chain:
the identity provider, the issuer that signs handoff tokens, the receivers on
other root domains, the token profile, the return_to allowlist and what a trace
should find.

  lint    check a chain file and list every problem with file:line:col and a fix
  graph   draw the hops a browser takes on a first login (Mermaid, Graphviz, text)`,
	}
	cmd.AddCommand(NewCmdLint(f, nil))
	cmd.AddCommand(NewCmdGraph(f, nil))
	return cmd
}
