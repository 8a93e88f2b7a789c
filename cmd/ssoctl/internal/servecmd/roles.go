package servecmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve"
)

// RoleOptions are the inputs of `serve issuer`, `serve receiver` and
// `serve idp`.
type RoleOptions struct {
	IO *cmdutil.IOStreams
	common
	Name     string // serve receiver: which receiver
	Upstream string // serve receiver: overrides the receiver's upstream
	// UpstreamSet is --upstream given at all: an empty value (an unset
	// $APP_URL) is refused, not taken as no override.
	UpstreamSet bool

	role  string
	f     *cmdutil.Factory
	ready func([]*server)
}

func newCmdIssuer(f *cmdutil.Factory) *cobra.Command {
	return newRoleCmd(f, "issuer", &cobra.Command{
		Use:   "issuer -f FILE",
		Short: "Run the chain's issuer (the accounts role)",
		Long: `Run the issuer on issuer.listen: /login?return_to= starts a login (return_to is
checked against the allowlist first), /callback is where the IdP sends the browser
back, /sso/continue walks the browser through the receivers, and
/.well-known/jwks.json publishes the public key of an asymmetric chain.`,
		Example: `  SSO_SECRET=... ssoctl serve issuer -f chain.yaml`,
	})
}

func newCmdReceiver(f *cmdutil.Factory) *cobra.Command {
	return newRoleCmd(f, "receiver", &cobra.Command{
		Use:   "receiver -f FILE --name NAME",
		Short: "Run one receiver of the chain",
		Long: `Run one receiver on its listen address: /sso takes a handoff token (GET or POST),
verifies it with this receiver as the audience, consumes its jti, re-checks the IdP
session and sets this domain's cookie; /auth answers forward auth (nginx
auth_request, Traefik forwardAuth, Caddy forward_auth) with X-Auth-Subject,
X-Auth-Session, X-Auth-Email and X-Auth-Role, or 401; /whoami answers in JSON.

With --upstream URL (or receivers[].upstream in the chain file) every other path is
reverse-proxied to that app for signed-in browsers, with the identity headers set
from the session and any X-Auth-* header the client sent removed; a signed-out
browser is sent to log in first (401 for requests that are not page loads).`,
		Example: `  SSO_SECRET=... ssoctl serve receiver -f chain.yaml --name portal
  ssoctl serve receiver -f examples/local/chain.yaml --name portal --upstream http://127.0.0.1:3000
  # one of several instances behind a load balancer that probes /readyz
  ssoctl serve receiver -f chain.yaml --name portal --drain-delay 10s`,
	})
}

func newCmdIdP(f *cmdutil.Factory) *cobra.Command {
	return newRoleCmd(f, "idp", &cobra.Command{
		Use:   "idp -f FILE",
		Short: "Run the embedded development identity provider",
		Long: `Run the dev IdP of a chain with idp.kind dev: the subset of the Ory Kratos API the
chain uses (/sessions/whoami, /admin/sessions/{id}, DELETE /admin/sessions/{id}),
with the same paths and JSON, plus a plain login page for the file's users. Not for
production: users and sessions live in memory.`,
		Example: `  ssoctl serve idp -f examples/local/chain.yaml`,
	})
}

func newRoleCmd(f *cmdutil.Factory, role string, cmd *cobra.Command) *cobra.Command {
	opts := &RoleOptions{IO: f.IO, f: f, role: role}
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.UpstreamSet = cmd.Flags().Changed("upstream")
		return roleRun(cmd.Context(), opts)
	}
	opts.common.register(cmd.Flags())
	if role == "receiver" {
		cmd.Flags().StringVar(&opts.Name, "name", "", "which receiver of the chain file to run (required)")
		cmd.Flags().StringVar(&opts.Upstream, "upstream", "", "reverse-proxy signed-in browsers to this app URL, with identity headers (overrides receivers[].upstream)")
	}
	return cmd
}

func roleRun(ctx context.Context, opts *RoleOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ch, log, e, err := opts.prepare(opts.f, opts.IO.ErrOut)
	if err != nil {
		return err
	}
	var servers []*server
	var stopping func() // marks the roles as shutting down; nil for the dev IdP
	switch opts.role {
	case "idp":
		if ch.IdP.Kind != chain.IdPDev {
			return cmdutil.UsageError("run Kratos itself for idp.kind kratos", "idp.kind is %q; 'serve idp' runs only the dev IdP", ch.IdP.Kind)
		}
		if servers, err = devIdPServers(ch, e, log); err != nil {
			return err
		}
	case "issuer":
		roles, err := serve.NewRoles(ch, e, serve.RoleOptions{Only: []string{"issuer"}})
		if err != nil {
			return cmdutil.UsageError("", "%v", err)
		}
		defer closeRoles(roles, opts.Grace, log)
		stopping = roles.Stopping
		if roles.Issuer == nil {
			return cmdutil.UsageError("set token.key_file to the issuer's private key", "the chain gives no signing key, so this process cannot mint")
		}
		servers = append(servers, &server{role: "issuer", url: ch.Issuer.URL, listen: ch.Issuer.Listen, h: roles.Issuer})
	case "receiver":
		if opts.Name == "" {
			return cmdutil.UsageError("pass --name with one of the chain's receivers", "--name is required")
		}
		r, ok := ch.Receiver(opts.Name)
		if !ok {
			return cmdutil.UsageError("", "the chain has no receiver named %q", opts.Name)
		}
		if r.SharedCookie {
			return cmdutil.UsageError("", "receiver %q is a shared-cookie receiver: it validates the issuer's parent-domain cookie and needs no /sso", opts.Name)
		}
		if opts.UpstreamSet || opts.Upstream != "" {
			u, err := serve.ParseUpstream(opts.Upstream)
			if err != nil {
				return cmdutil.UsageError("pass the app's address, like --upstream http://127.0.0.1:3000", "--upstream: %v", err)
			}
			r.Upstream = u.String()
		}
		roles, err := serve.NewRoles(ch, e, serve.RoleOptions{Only: []string{r.Name}})
		if err != nil {
			return cmdutil.UsageError("", "%v", err)
		}
		defer closeRoles(roles, opts.Grace, log)
		stopping = roles.Stopping
		servers = append(servers, &server{role: r.Name, url: r.URL, listen: r.Listen, h: roles.Receivers[r.Name]})
	}
	for _, s := range servers {
		if s.listen == "" {
			return cmdutil.UsageError("set its listen address in the chain file", "%s has no listen address", s.role)
		}
	}
	ready := func(ss []*server) {
		for _, s := range ss {
			fmt.Fprintf(opts.IO.Out, "%s  %s  on %s\n", s.role, s.url, s.ln.Addr())
		}
		if opts.ready != nil {
			opts.ready(ss)
		}
	}
	return run(ctx, servers, &opts.common, log, stopping, ready)
}
