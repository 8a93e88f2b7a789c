package servecmd

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve"
)

// DevOptions are the inputs of `serve dev`.
type DevOptions struct {
	IO *cmdutil.IOStreams
	common

	f *cmdutil.Factory
	// ready is called once every role listens; tests use it.
	ready func([]*server)
}

func newCmdDev(f *cmdutil.Factory) *cobra.Command {
	opts := &DevOptions{IO: f.IO, f: f}
	cmd := &cobra.Command{
		Use:   "dev -f FILE",
		Short: "Run every role of a chain in one process",
		Long: `Run the chain's dev IdP (for idp.kind dev, or as Ory Hydra's login pages for
idp.kind oidc with idp.hydra_login), issuer and receivers in one process, each on
its listen address, and print the URL to open.

Host names under .localhost (accounts.company.localhost, portal.company2.localhost)
reach this machine in Chromium and Firefox without any hosts-file change, and each
is its own root domain, so one machine shows a real cross-domain login.`,
		Example: `  ssoctl serve dev -f examples/local/chain.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return devRun(cmd.Context(), opts)
		},
	}
	opts.common.register(cmd.Flags())
	return cmd
}

func devRun(ctx context.Context, opts *DevOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ch, log, e, err := opts.prepare(opts.f, opts.IO.ErrOut)
	if err != nil {
		return err
	}
	var servers []*server
	if ch.IdP.Kind == chain.IdPDev {
		if servers, err = devIdPServers(ch, e, log); err != nil {
			return err
		}
	}
	if ch.IdP.Kind == chain.IdPOIDC && ch.IdP.HydraLogin != nil {
		h, err := serve.NewHydraLoginFromChain(ch, e)
		if err != nil {
			return cmdutil.UsageError("", "%v", err)
		}
		hl := ch.IdP.HydraLogin
		servers = append(servers, &server{role: "hydra login", url: hl.URL, listen: hl.Listen,
			h: serve.Observe("hydra-login", h, serve.ObserveOptions{Logger: log, Now: e.Now})})
	}
	roles, err := serve.NewRoles(ch, e, serve.RoleOptions{})
	if err != nil {
		return cmdutil.UsageError("", "%v", err)
	}
	defer closeRoles(roles, opts.Grace, log) // after the servers stop
	if roles.Issuer != nil {
		servers = append(servers, &server{role: "issuer", url: ch.Issuer.URL, listen: ch.Issuer.Listen, h: roles.Issuer})
	}
	for _, r := range ch.Receivers {
		if h, ok := roles.Receivers[r.Name]; ok {
			servers = append(servers, &server{role: r.Name, url: r.URL, listen: r.Listen, h: h})
		}
	}
	for _, s := range servers {
		if s.listen == "" {
			return cmdutil.UsageError("set "+s.role+"'s listen address in the chain file", "%s has no listen address", s.role)
		}
	}
	ready := func(ss []*server) {
		printDev(opts.IO.Out, ch, ss)
		if opts.ready != nil {
			opts.ready(ss)
		}
	}
	return run(ctx, servers, &opts.common, log, roles.Stopping, ready)
}

// printDev says what runs where and which URL to open.
func printDev(w io.Writer, ch *chain.Chain, servers []*server) {
	fmt.Fprintf(w, "chain %q: %s mode, %s, %s IdP\n\n", ch.Name, ch.Mode, ch.Token.Alg, ch.IdP.Kind)
	width := 0
	for _, s := range servers {
		width = max(width, len(s.role))
	}
	for _, s := range servers {
		fmt.Fprintf(w, "  %-*s  %s  on %s", width, s.role, s.url, s.ln.Addr())
		if r, ok := ch.Receiver(s.role); ok && r.Upstream != "" {
			fmt.Fprintf(w, "  → %s", r.Upstream)
		}
		fmt.Fprintln(w)
	}
	returnTo := ch.Expect.FinalURLPrefix
	if returnTo == "" && len(ch.Receivers) > 0 {
		returnTo = strings.TrimSuffix(ch.Receivers[len(ch.Receivers)-1].URL, "/") + "/"
	}
	login := strings.TrimSuffix(ch.Issuer.URL, "/") + chain.LoginPath
	if returnTo != "" {
		login += "?" + url.Values{chain.ReturnToParam: {returnTo}}.Encode()
	}
	fmt.Fprintf(w, "\nOpen %s\n", login)
	if (ch.IdP.Kind == chain.IdPDev || ch.IdP.HydraLogin != nil) && len(ch.IdP.Users) > 0 {
		fmt.Fprintf(w, "and sign in as %s (its password is in the chain file).\n", ch.IdP.Users[0].Email)
	}
	fmt.Fprintln(w, "Ctrl-C stops.")
}
