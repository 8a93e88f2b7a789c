// Package servecmd implements `ssoctl serve`: the chain's roles as
// long-running HTTP servers, one role per command or all of them at once.
package servecmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/serve"
)

// NewCmdServe returns the `serve` command group.
func NewCmdServe(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve <role>",
		Short: "Run the chain's roles: dev (all of them), issuer, receiver, idp",
		Long: `Run the roles of a chain file as HTTP servers on their listen addresses.

  dev        every role of the file in one process: the quickest way to click
             through a chain in a browser
  issuer     the accounts role: logs users in at the IdP, mints handoff tokens
  receiver   one app domain (--name): takes handoffs, sets its cookie, answers
             forward auth at /auth
  idp        the embedded development identity provider (Kratos API subset)

Every role serves /healthz, /readyz and /metrics, logs one line per request to
stderr (never a token or a cookie value) and shuts down gracefully on SIGTERM.`,
	}
	cmd.AddCommand(newCmdDev(f), newCmdIssuer(f), newCmdReceiver(f), newCmdIdP(f))
	return cmd
}

// common are the flags every serve command has.
type common struct {
	File      string
	LogFormat string
	LogLevel  string
	Grace     time.Duration
}

func (c *common) register(fs *pflag.FlagSet) {
	fs.StringVarP(&c.File, "file", "f", "", "the chain file (required)")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format on stderr: text or json")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.DurationVar(&c.Grace, "grace", 10*time.Second, "how long requests in flight may finish after SIGTERM")
}

func (c *common) load() (*chain.Chain, error) {
	if c.File == "" {
		return nil, cmdutil.UsageError("pass the chain file, e.g. -f examples/local/chain.yaml", "-f FILE is required")
	}
	ch, err := chain.Load(c.File)
	if err != nil {
		var lint *chain.LintError
		if errors.As(err, &lint) {
			return nil, cmdutil.UsageError("'ssoctl chain lint -f "+c.File+"' lists every problem with its fix", "%s", strings.TrimSpace(lint.Error()))
		}
		return nil, cmdutil.UsageError("", "%v", err)
	}
	return ch, nil
}

func (c *common) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, cmdutil.UsageError("", "--log-level %q: use debug, info, warn or error", c.LogLevel)
	}
	o := &slog.HandlerOptions{Level: level}
	switch c.LogFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return nil, cmdutil.UsageError("", "--log-format %q: use text or json", c.LogFormat)
}

// prepare loads the chain and makes the log and the roles' environment:
// what every serve command does first.
func (c *common) prepare(f *cmdutil.Factory, errOut io.Writer) (*chain.Chain, *slog.Logger, serve.Env, error) {
	ch, err := c.load()
	if err != nil {
		return nil, nil, serve.Env{}, err
	}
	log, err := c.logger(errOut)
	if err != nil {
		return nil, nil, serve.Env{}, err
	}
	return ch, log, env(f, ch, log), nil
}

// devIdPServers are the dev IdP's listeners: public, and admin when the
// chain gives it its own.
func devIdPServers(ch *chain.Chain, e serve.Env, log *slog.Logger) ([]*server, error) {
	idp, err := serve.NewDevIdPFromChain(ch, e)
	if err != nil {
		return nil, cmdutil.UsageError("", "%v", err)
	}
	servers := []*server{{role: "idp", url: ch.IdP.PublicURL, listen: ch.IdP.Listen, h: serve.Observe("idp", idp.Public(), serve.ObserveOptions{Logger: log, Now: e.Now})}}
	if ch.IdP.AdminListen != "" && ch.IdP.AdminListen != ch.IdP.Listen {
		servers = append(servers, &server{role: "idp admin", url: ch.IdP.AdminURL, listen: ch.IdP.AdminListen, h: serve.Observe("idp-admin", idp.Admin(), serve.ObserveOptions{Logger: log, Now: e.Now})})
	}
	return servers, nil
}

// env is how the roles of ch reach the world from this process. Their
// outbound requests (to the IdP, to a JWKS URL) go to the chain's own host
// names, which map to the roles' listen addresses: *.localhost names never
// need DNS or a hosts file.
func env(f *cmdutil.Factory, ch *chain.Chain, log *slog.Logger) serve.Env {
	d := &chain.Dialer{Map: listenMap(ch)}
	return serve.Env{
		LookupEnv:  f.LookupEnv,
		ReadFile:   os.ReadFile,
		HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 16}},
		Now:        f.Now,
		Logger:     log,
	}
}

// listenMap sends each role's URL host:port to its listen address when the
// two differ and the listen address is on this machine.
func listenMap(ch *chain.Chain) map[string]string {
	m := map[string]string{}
	add := func(rawURL, listen string) {
		if rawURL == "" || listen == "" {
			return
		}
		host := hostPort(rawURL)
		lh, lp, err := net.SplitHostPort(listen)
		if err != nil || host == "" {
			return
		}
		if lh == "" || lh == "0.0.0.0" || lh == "::" {
			lh = "127.0.0.1"
		}
		m[strings.ToLower(host)] = net.JoinHostPort(lh, lp)
	}
	add(ch.IdP.PublicURL, ch.IdP.Listen)
	add(ch.IdP.AdminURL, ch.IdP.AdminListen)
	add(ch.Issuer.URL, ch.Issuer.Listen)
	for _, r := range ch.Receivers {
		add(r.URL, r.Listen)
	}
	return m
}

// hostPort is the host:port a browser dials for rawURL.
func hostPort(rawURL string) string {
	i := strings.Index(rawURL, "://")
	if i < 0 {
		return ""
	}
	hp := rawURL[i+3:]
	if j := strings.IndexAny(hp, "/?#"); j >= 0 {
		hp = hp[:j]
	}
	if _, _, err := net.SplitHostPort(hp); err == nil {
		return hp
	}
	if strings.HasPrefix(rawURL, "https://") {
		return hp + ":443"
	}
	return hp + ":80"
}

// server is one listener and what it serves.
type server struct {
	role   string
	url    string
	listen string
	h      http.Handler
	ln     net.Listener
}

// run listens on every server first, so a port in use fails before anything
// serves, then serves them all until ctx is done or one fails.
func run(ctx context.Context, servers []*server, grace time.Duration, log *slog.Logger, ready func([]*server)) error {
	for _, s := range servers {
		ln, err := net.Listen("tcp", s.listen)
		if err != nil {
			for _, o := range servers {
				if o.ln != nil {
					o.ln.Close()
				}
			}
			return cmdutil.UsageError("stop what is using the port, or set another listen address in the chain file", "%s: %v", s.role, err)
		}
		s.ln = ln
	}
	signalled, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// Said once, when the signal comes: the listeners close now and the
	// requests in flight have grace to finish. Not said on the way out of
	// a run that ended otherwise (stopLog runs before stop).
	stopLog := context.AfterFunc(signalled, func() {
		log.Info("shutting down: no new connections; requests in flight may finish", "grace", grace.String())
	})
	defer stopLog()
	ctx, cancel := context.WithCancel(signalled)
	defer cancel()
	errs := make(chan error, len(servers))
	for _, s := range servers {
		srv := &http.Server{
			Handler:           s.h,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		go func() {
			err := serve.Serve(ctx, srv, s.ln, grace)
			if err != nil {
				err = fmt.Errorf("%s: %w", s.role, err)
			}
			cancel() // one role down takes the rest down with it
			errs <- err
		}()
	}
	if ready != nil {
		ready(servers)
	}
	var first error
	for range servers {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first == nil && signalled.Err() != nil {
		log.Info("shut down: every request finished")
	}
	return first
}

// closeRoles runs once the servers have stopped: it lets the deliveries a
// last /logout started reach the receivers' back-channel (within grace,
// measured from here), then stops the roles' background work and closes
// their Redis pools.
func closeRoles(roles *serve.Roles, grace time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := roles.Drain(ctx); err != nil {
		log.Warn("back-channel logout deliveries still under way at exit; those receivers keep the session until their IdP re-check", "grace", grace.String())
	}
	if err := roles.Close(); err != nil {
		log.Warn("closing the stores", "err", err)
	}
}
