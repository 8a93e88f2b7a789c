// Package tracecmd implements `ssoctl trace`: walk a chain as a browser
// would and show every hop, what it set, the tokens it carried and what is
// wrong.
package tracecmd

import (
	"github.com/spf13/cobra"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
)

// NewCmdTrace returns the `trace` command group.
func NewCmdTrace(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trace <command>",
		Short: "Walk a chain as a browser would and show every hop",
		Long: `Walk a propagating SSO chain with a browser in a box: a real cookie jar with the
public suffix list that sends what Chromium sends (SameSite, Fetch Metadata,
Referer, Clear-Site-Data), redirects followed one at a time up to Chromium's
limit, forms submitted and refreshes followed, every hop recorded with its
cookies (set, kept back, cleared) and the handoff token it carried (redacted),
and findings with stable codes and fixes.

  chain   walk a chain: in process (--sandbox), at the chain file's URLs, or from
          any --start URL`,
	}
	cmd.AddCommand(NewCmdChain(f, nil))
	return cmd
}
