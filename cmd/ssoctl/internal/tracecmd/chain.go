package tracecmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/sandbox"
	"github.com/ssoctl/ssoctl/pkg/serve"
)

// Output formats of `trace chain`, beside text and json.
const (
	FormatJUnit   = "junit"
	FormatMermaid = "mermaid"
)

var formats = []string{cmdutil.FormatText, cmdutil.FormatJSON, FormatJUnit, FormatMermaid}

// Modes, as Trace.Mode names them.
const (
	ModeSandbox = "sandbox"
	ModeLive    = "live"
	ModeStart   = "start"
)

// DefaultTimeout is how long one request may take before its host counts
// as unreachable.
const DefaultTimeout = 10 * time.Second

// maxProbeRepeat bounds --probe-repeat, which multiplies the requests
// --probe and --logout send to a live chain.
const maxProbeRepeat = 50

// ChainOptions are the inputs of `trace chain`.
type ChainOptions struct {
	IO        *cmdutil.IOStreams
	Now       func() time.Time
	LookupEnv func(string) (string, bool)
	ReadFile  func(string) ([]byte, error)

	File         string
	IdPURL       string
	IdPAdminURL  string
	Sandbox      bool
	Start        string
	Resolve      []string
	User         string
	PasswordEnv  string
	PasswordFile string
	Probe        bool
	// ClientID with a secret from ClientSecretEnv or ClientSecretFile lets
	// --probe play that OpenID Connect client (code_replay).
	ClientID         string
	ClientSecretEnv  string
	ClientSecretFile string
	Timeout          time.Duration
	// Logout walks the issuer's /logout after the login and checks that
	// every receiver signs the session out within LogoutDeadline.
	Logout         bool
	LogoutDeadline time.Duration
	// ProbeRepeat is how many times --probe replays each handoff and asks
	// /auth after the revocation, and how many 401s in a row --logout
	// wants, each on a new connection.
	ProbeRepeat int
	// ProbeLogoutURL is the logout URL --probe's logout_csrf follows from
	// another site; "" is the chain file's issuer /logout.
	ProbeLogoutURL string

	// Expectation flags; each one given replaces that part of expect:.
	FinalURLPrefix   string
	MaxHops          int
	Cookies          []string // host=name
	MaxTokenLifetime time.Duration
	MaxTotalTime     time.Duration

	f *cmdutil.Factory
	// given holds the names of the flags on the command line.
	given map[string]bool
	// tracer walks; nil is the real one (chain.Browser). Tests replace it.
	tracer tracer
	// receivers maps the chain's receiver names to their host:port, for
	// the renderers.
	receivers map[string]string
}

// NewCmdChain returns `trace chain`. runF replaces chainRun in tests.
func NewCmdChain(f *cmdutil.Factory, runF func(*ChainOptions) error) *cobra.Command {
	opts := &ChainOptions{IO: f.IO, Now: f.Now, LookupEnv: f.LookupEnv, ReadFile: os.ReadFile, f: f}
	cmd := &cobra.Command{
		Use:   "chain [-f FILE [--sandbox] | --start URL] [flags]",
		Short: "Walk a chain as a browser would and check what it finds",
		Long: `Walk a chain the way a browser does on a first login: open the issuer's /login,
sign in at the identity provider, follow every handoff through the receivers and
land on return_to. Every request is recorded: method, URL (tokens redacted),
status, time, cookies set (name and attributes, never a value) and the handoff
token it carried (audience, lifetime, jti prefix), with findings that have
stable codes (SSO1xx token, SSO2xx cookie, SSO3xx redirect, SSO4xx IdP) and
fixes. The walk runs no JavaScript: besides redirects, forms and refreshes it
follows a page's inline script that moves on to a URL written out
(location.replace("…"), location.href = "…") as the page loads; a page whose
script computes the URL ends the walk, and the trace says so.

Where it walks:
  -f FILE            the chain file's URLs, live (start it with 'ssoctl serve dev
                     -f FILE'); *.localhost names reach this machine
  -f FILE --sandbox  the chain stood up in this process: dev IdP, issuer and
                     receivers on loopback listeners, the file's URLs unchanged
  --start URL        any chain, ssoctl or not, from URL (with -f: the file's
                     chain, starting at URL instead of the issuer's /login)

--idp-url and --idp-admin-url point the file's chain at an identity provider
elsewhere than its idp.public_url and idp.admin_url say: a Kratos started on
other ports, say. The file is checked as if it said so.

Host names map to loopback for *.localhost, or as --resolve HOST:PORT:ADDR says
(curl's syntax), without any DNS or hosts-file change.

The browser signs in as the chain file's first dev user, or as --user with the
password from --password-env NAME or --password-file PATH (- for stdin); no flag
takes a password.

Expectations come from the file's expect: block; each flag replaces its part.
After the walk every receiver's /auth must answer 200. --probe then sends each
receiver hostile variants (replay, expired, wrong audience, tampered signature,
alg none, foreign ret, revoked session) and expects every one refused; last, it
follows a link from another site to the issuer's /logout (or --probe-logout-url),
and a logout that happens is a warning (SSO405: logout CSRF), which fails no walk.

An OpenID Connect login anywhere in the walk shows as oidc_auth and oidc_callback
hops (client, scope, PKCE method, state and nonce present or not; SSO501 no
state, SSO502 no PKCE, SSO506 tokens in a URL fragment). --probe sends its
authorization request again with another redirect_uri (SSO503) and, given the
client's credentials (the file's idp.client_id and client_secret, or --client-id
with --client-secret-env or --client-secret-file), plays the client: a code of
its own redeemed, its ID token verified (SSO505), and redeemed again (SSO504).

--logout then logs out at the issuer's /logout (front-channel through every
receiver) and asks each receiver's /auth, with a copy of the cookie it held,
until it answers 401: the lag per receiver is reported, and a receiver still
signed in after --logout-deadline (default 3s; far shorter than any
recheck_interval) is SSO403, since only back-channel logout revokes at once.

A receiver usually runs as several instances behind a load balancer, and a
single-use token or a revocation must hold on all of them: with a store per
instance, each accepts a token once, and a back-channel logout revokes on the
one instance it reached. So --probe sends each replayed handoff, and asks /auth
after the revoked session, up to --probe-repeat times (default 3), each on a new
connection so that the balancer picks again, stopping at the first acceptance,
and asks /auth with the walk's cookie that many times: instances that disagree
about the session (a cookie key not shared) are SSO404. With --logout a
receiver is signed out after that many 401s in a row; a 200 after a 401 starts
the count again. Give at least the number of instances.

Output (-o): text (a hop table; styled on a terminal), json (one document with
schema_version), junit (a testcase per hop, expectation and probe, for CI) or
mermaid (a sequence diagram of the walk).

Exit status: 0 the walk is clean; 1 an error finding, a failed expectation or an
accepted probe; 2 a bad chain file or flags; 3 a host was unreachable.`,
		Example: `  # the example chain, in process
  ssoctl trace chain -f examples/local/chain.yaml --sandbox --probe

  # the same chain, live (after 'ssoctl serve dev -f examples/local/chain.yaml')
  ssoctl trace chain -f examples/local/chain.yaml

  # any chain, signing in as a user of your own, for CI
  ssoctl trace chain --start https://accounts.company.com/login?return_to=https://portal.company2.com/ \
    --user ci@company.com --password-env CI_PASSWORD \
    --expect-cookie portal.company2.com=portal_session -o junit > trace.xml

  # examples/kratos's chain in process, against a Kratos on other ports
  ssoctl trace chain -f examples/kratos/chain.yaml --sandbox --idp-url http://auth.company.localhost:44330 \
    --idp-admin-url http://auth.company.localhost:44340 --user alice@example.com --password-env PW

  # log in, log out, and see how long each receiver keeps the session
  ssoctl trace chain -f examples/local/chain.yaml --sandbox --logout

  # a sequence diagram of the walk
  ssoctl trace chain -f chain.yaml --sandbox -o mermaid > walk.mmd`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			return cmdutil.UsageError(fmt.Sprintf("pass the chain file with -f: '%s -f %s'", cmd.CommandPath(), cmdutil.Printable(args[0])),
				"unexpected argument %q", args[0])
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.given = map[string]bool{}
			cmd.Flags().Visit(func(fl *pflag.Flag) { opts.given[fl.Name] = true })
			if runF != nil {
				return runF(opts)
			}
			return chainRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.File, "file", "f", "", "the chain `FILE` (- for stdin)")
	fl.StringVar(&opts.IdPURL, "idp-url", "", "use the identity provider at `URL` instead of the file's idp.public_url (needs -f)")
	fl.StringVar(&opts.IdPAdminURL, "idp-admin-url", "", "use `URL` instead of the file's idp.admin_url (needs -f)")
	fl.BoolVar(&opts.Sandbox, "sandbox", false, "stand the chain up in this process and walk it (needs -f)")
	fl.StringVar(&opts.Start, "start", "", "the `URL` to start at (default: the issuer's /login with return_to from expect:)")
	fl.StringArrayVar(&opts.Resolve, "resolve", nil, "send HOST:PORT to ADDR (an IP), written `HOST:PORT:ADDR` as for curl's --resolve (repeatable)")
	fl.StringVar(&opts.User, "user", "", "sign in as `EMAIL` (default: the chain file's first dev user)")
	fl.StringVar(&opts.PasswordEnv, "password-env", "", "read --user's password from environment variable `NAME`")
	fl.StringVar(&opts.PasswordFile, "password-file", "", "read --user's password from `PATH` (- for stdin)")
	fl.BoolVar(&opts.Probe, "probe", false, "after the walk, send every receiver hostile handoffs and expect each refused")
	fl.StringVar(&opts.ClientID, "client-id", "", "with --probe, play the OpenID Connect client `ID` of the walk (code exchange, ID token checks)")
	fl.StringVar(&opts.ClientSecretEnv, "client-secret-env", "", "read --client-id's secret from environment variable `NAME`")
	fl.StringVar(&opts.ClientSecretFile, "client-secret-file", "", "read --client-id's secret from `PATH`")
	fl.BoolVar(&opts.Logout, "logout", false, "after the walk, log out at the issuer and expect every receiver signed out within --logout-deadline")
	fl.DurationVar(&opts.LogoutDeadline, "logout-deadline", chain.DefaultLogoutDeadline, "with --logout, how soon every receiver's /auth must answer 401, as a `DURATION`")
	fl.IntVar(&opts.ProbeRepeat, "probe-repeat", chain.DefaultProbeRepeat,
		fmt.Sprintf("with --probe and --logout, send each replay and /auth check up to `N` times (1 to %d), each on a new connection, to reach every instance behind a load balancer", maxProbeRepeat))
	fl.StringVar(&opts.ProbeLogoutURL, "probe-logout-url", "", "with --probe, the chain's logout `URL`, followed from a link on another site (default: the chain file's issuer /logout)")
	fl.DurationVar(&opts.Timeout, "timeout", DefaultTimeout, "give up on a request after `DURATION`; its host then counts as unreachable")
	fl.StringVar(&opts.FinalURLPrefix, "expect-final-url-prefix", "", "the walk must end at a URL starting with `PREFIX`")
	fl.IntVar(&opts.MaxHops, "max-hops", 0, "the walk may take at most `N` hops (0: no limit)")
	fl.StringArrayVar(&opts.Cookies, "expect-cookie", nil, "the browser must hold cookie NAME for HOST after the walk, as `HOST=NAME` (repeatable)")
	fl.DurationVar(&opts.MaxTokenLifetime, "max-token-lifetime", 0, "every handoff token may live at most `DURATION`")
	fl.DurationVar(&opts.MaxTotalTime, "max-total-time", 0, "the whole walk may take at most `DURATION`")
	return cmd
}

// walkRequest is everything a walk needs, resolved from the flags and the
// chain file.
type walkRequest struct {
	Mode           string
	Chain          *chain.Chain // nil for --start without -f
	Start          string
	Dialer         *chain.Dialer
	User, Password string
	Now            func() time.Time
	Timeout        time.Duration
	Expect         chain.Expect
	Probe          bool
	Probes         chain.ProbeOptions
	Logout         bool
	Logouts        chain.LogoutOptions
	// notef writes a note on stderr.
	notef func(format string, args ...any)
}

// tracer walks a chain: the real one drives chain.Browser.
type tracer func(ctx context.Context, r *walkRequest) (*chain.Trace, error)

func chainRun(ctx context.Context, opts *ChainOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	format, err := opts.f.OutputFormat(formats...)
	if err != nil {
		return err
	}
	fl, err := opts.checkFlags()
	if err != nil {
		return err
	}
	var c *chain.Chain
	if opts.File != "" {
		if c, err = opts.loadChain(); err != nil {
			return err
		}
		opts.receivers = receiverHosts(c)
	}
	req := &walkRequest{Chain: c, Dialer: &chain.Dialer{Map: fl.resolve}, Now: opts.Now, Timeout: opts.Timeout, Probe: opts.Probe, notef: opts.notef,
		Logout: opts.Logout, Logouts: chain.LogoutOptions{Deadline: opts.LogoutDeadline, Repeat: opts.ProbeRepeat}}
	if req.Now == nil {
		req.Now = time.Now
	}
	if req.User, req.Password, err = opts.credentials(c); err != nil {
		return err
	}
	if req.User == "" {
		opts.notef("no user to sign in as; the walk stops at the first login form (pass --user and --password-env)")
	}
	req.Expect = opts.expectations(c, fl.cookies)
	switch {
	case opts.Sandbox:
		req.Mode = ModeSandbox
		sb, err := sandbox.Start(ctx, c, serve.Env{LookupEnv: opts.LookupEnv, ReadFile: opts.ReadFile, Now: req.Now})
		if err != nil {
			return cmdutil.UsageError("the file loads, but its roles cannot start with it; fix what the message names", "%s", cmdutil.Printable(err.Error()))
		}
		defer sb.Close()
		req.Dialer = sb.Mapped(fl.resolve)
		req.Now = sb.Now
		req.Probes = chain.ProbeOptions{Signing: sb.Keys().Signing, Revoke: sb.IdP().Revoke, Advance: sb.Advance, RecheckInterval: recheckInterval(c)}
		req.Logouts.Advance = sb.Advance
	case c != nil:
		req.Mode = ModeLive
		if opts.Probe {
			req.Probes = opts.liveProbes(c, req.Dialer)
		}
	default:
		req.Mode = ModeStart
	}
	if opts.Probe {
		if req.Probes.OIDCClients, err = opts.oidcClients(c); err != nil {
			return err
		}
		req.Probes.Repeat = opts.ProbeRepeat
		req.Probes.LogoutURL = opts.ProbeLogoutURL
	}
	req.Start = opts.Start
	if req.Start == "" {
		req.Start = chain.StartURL(c)
	}

	walk := opts.tracer
	if walk == nil {
		walk = browse
	}
	t, err := walk(ctx, req)
	if t == nil {
		if err == nil {
			err = errors.New("the walk returned no trace")
		}
		return walkError(opts, req, err)
	}
	if t.SchemaVersion == 0 {
		t.SchemaVersion = chain.TraceSchemaVersion
	}
	t.Mode = req.Mode
	if c != nil && t.Chain == "" {
		t.Chain = c.Name
	}
	if perr := opts.print(format, t); perr != nil {
		return perr
	}
	switch {
	case err != nil:
		return walkError(opts, req, err)
	case t.Unreachable != "":
		return cmdutil.UnavailableError(unreachableHint(opts, req, t.Unreachable),
			fmt.Errorf("%s is unreachable; the walk stopped there", cmdutil.Printable(t.Unreachable)))
	case t.Failed():
		return cmdutil.CheckFailed()
	}
	return nil
}

// walkError classifies an error from the walk itself (not a finding): a
// deadline is an unreachable dependency, anything else a usage problem.
func walkError(opts *ChainOptions, req *walkRequest, err error) error {
	var ee *cmdutil.ExitError
	if errors.As(err, &ee) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return cmdutil.UnavailableError(unreachableHint(opts, req, ""), fmt.Errorf("the walk timed out: %w", err))
	}
	return cmdutil.UsageError("", "%s", cmdutil.Printable(err.Error()))
}

// unreachableHint names the fix for an unreachable host, by mode: start
// the live chain, start the Kratos a sandbox relies on, or check the URL.
func unreachableHint(opts *ChainOptions, req *walkRequest, host string) string {
	switch req.Mode {
	case ModeLive:
		return fmt.Sprintf("start the chain ('ssoctl serve dev -f %s' in another shell), or walk an in-process copy with --sandbox", cmdutil.Printable(opts.File))
	case ModeSandbox:
		if c := req.Chain; c.IdP.Kind == chain.IdPKratos && host != "" && (strings.Contains(c.IdP.PublicURL, "://"+host) || strings.Contains(c.IdP.AdminURL, "://"+host)) {
			return "the sandbox runs every role but Kratos: start Kratos at idp.public_url, or use idp.kind dev"
		}
		return "in the sandbox only the chain's own roles answer: start the walk at one of them"
	}
	return "check the URL, or map the host onto a reachable address with --resolve HOST:PORT:ADDR"
}

func (opts *ChainOptions) notef(format string, args ...any) {
	fmt.Fprintf(opts.IO.ErrOut, "ssoctl: note: "+format+"\n", args...)
}

// print renders t in format on stdout, in one write, with a last guard
// against anything token-shaped (see scrub).
func (opts *ChainOptions) print(format string, t *chain.Trace) error {
	var buf bytes.Buffer
	var err error
	switch format {
	case cmdutil.FormatJSON:
		err = cmdutil.WriteJSON(&buf, t)
	case FormatJUnit:
		err = writeJUnit(&buf, t)
	case FormatMermaid:
		writeMermaid(&buf, t, opts.receivers)
	default:
		color := opts.IO.ColorEnabled()
		writeText(&buf, cmdutil.NewStyles(&buf, color), t, color)
	}
	if err != nil {
		return err
	}
	_, err = opts.IO.Out.Write(scrub(buf.Bytes()))
	return err
}

// loadChain reads -f ("-" for stdin). A file with errors lists them on
// stderr and is a usage error (exit 2).
func (opts *ChainOptions) loadChain() (*chain.Chain, error) {
	var c *chain.Chain
	var err error
	name := opts.File
	if opts.File == "-" {
		name = "<stdin>"
		if opts.IO.IsStdinTTY() {
			return nil, cmdutil.UsageError("pipe the chain file in, or give its path", "-f - reads the chain file from stdin, which is a terminal")
		}
		data, rerr := io.ReadAll(io.LimitReader(opts.IO.In, chain.MaxFileSize+1))
		if rerr != nil {
			return nil, cmdutil.UsageError("", "reading the chain file from stdin: %v", rerr)
		}
		c, err = chain.ParseWith(name, data, opts.overrides())
	} else {
		c, err = chain.LoadWith(opts.File, opts.overrides())
	}
	var lint *chain.LintError
	switch {
	case err == nil:
		return c, nil
	case errors.As(err, &lint):
		st := cmdutil.NewStyles(opts.IO.ErrOut, opts.IO.ErrColorEnabled())
		n := 0
		for _, p := range lint.Problems {
			sev := st.Warn.Render("warning")
			if p.Severity == chain.SeverityError {
				sev = st.Bad.Render("error")
				n++
			}
			fmt.Fprintf(opts.IO.ErrOut, "%s:%d:%d: %s: %s\n", cmdutil.Printable(name), p.Line, p.Col, sev, cmdutil.Printable(p.Message))
			if p.Fix != "" {
				fmt.Fprintf(opts.IO.ErrOut, "  fix: %s\n", cmdutil.Printable(p.Fix))
			}
		}
		return nil, cmdutil.UsageError("fix the errors above; 'ssoctl chain lint -f "+cmdutil.Printable(opts.File)+"' checks the file again",
			"%s has %s; nothing to walk", cmdutil.Printable(name), plural(n, "error"))
	default:
		return nil, cmdutil.UsageError("check the path given to -f", "%s", cmdutil.Printable(err.Error()))
	}
}

// overrides are the flags that replace values of the chain file.
func (opts *ChainOptions) overrides() chain.Overrides {
	return chain.Overrides{IdPPublicURL: opts.IdPURL, IdPAdminURL: opts.IdPAdminURL}
}

// receiverHosts maps each receiver's name to its URL's host:port.
func receiverHosts(c *chain.Chain) map[string]string {
	m := map[string]string{}
	for _, r := range c.Receivers {
		host, _, _ := splitURL(r.URL)
		m[r.Name] = strings.ToLower(host)
	}
	return m
}

// recheckInterval is the longest receiver recheck interval: the clock jump
// after which every receiver must have asked the IdP again.
func recheckInterval(c *chain.Chain) time.Duration {
	var d time.Duration
	for _, r := range c.Receivers {
		if !r.SharedCookie {
			d = max(d, r.RecheckInterval)
		}
	}
	return d
}

// liveProbes is what probes can use against a live chain: the signing key
// when the file gives one this process can read (not a dev chain's
// generated secret, which only its own process knows), and the IdP's admin
// API to revoke a session. A live chain's clock cannot be moved.
func (opts *ChainOptions) liveProbes(c *chain.Chain, d *chain.Dialer) chain.ProbeOptions {
	p := chain.ProbeOptions{RecheckInterval: recheckInterval(c)}
	env := serve.Env{
		LookupEnv:  opts.LookupEnv,
		ReadFile:   opts.ReadFile,
		Now:        opts.Now,
		HTTPClient: &http.Client{Timeout: opts.Timeout, Transport: &http.Transport{DialContext: d.DialContext}},
		Logger:     slog.New(slog.DiscardHandler),
	}
	if c.Token.Alg == chain.HS256 && c.Token.Secret.IsZero() {
		opts.notef("--probe: the chain's HS256 secret is generated per process, so forged variants are skipped; give token.secret to probe them")
	} else if keys, err := serve.ResolveKeys(c, env, true); err != nil {
		opts.notef("--probe: no signing key (%s), so forged variants are skipped", cmdutil.Printable(err.Error()))
	} else if keys.Signing == nil {
		opts.notef("--probe: the chain gives no signing key, so forged variants are skipped")
	} else {
		p.Signing = keys.Signing
	}
	if c.IdP.AdminURL != "" {
		if idp, err := serve.NewIdentityProvider(c, env); err == nil {
			p.Revoke = idp.Revoke
		}
	}
	return p
}
