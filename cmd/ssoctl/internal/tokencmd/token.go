// Package tokencmd implements `ssoctl token`: mint, decode, verify and
// keygen for handoff tokens.
package tokencmd

import (
	"github.com/spf13/cobra"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
)

// NewCmdToken returns the `token` command group.
func NewCmdToken(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token <command>",
		Short: "Mint, decode, verify and make keys for handoff tokens",
		Long: `Handoff tokens are the short-lived (30s by default), single-use, signed JWTs
(typ "sso-handoff+jwt") that carry an identity-provider session from the issuer
to one receiver of the chain. They name exactly one audience (aud), the IdP
session (sid), a single-use id (jti) and where the browser goes next (ret).

  mint     sign a token, as the issuer does
  decode   show what a token, or a URL or page holding one, says; no key needed
  verify   run every check a receiver runs
  keygen   make a key pair (EdDSA, ES256, RS256) or an HS256 secret`,
	}
	cmd.AddCommand(NewCmdMint(f, nil))
	cmd.AddCommand(NewCmdDecode(f, nil))
	cmd.AddCommand(NewCmdVerify(f, nil))
	cmd.AddCommand(NewCmdKeygen(f, nil))
	return cmd
}
