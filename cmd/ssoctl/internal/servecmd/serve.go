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
	"sync/atomic"
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
stderr (never a token or a cookie value) and shuts down gracefully on SIGTERM.

Several instances behind a load balancer: give --drain-delay the time the
balancer takes to notice a failing /readyz (its probe interval times its
failure threshold; on Kubernetes, a few seconds for the endpoint to go). On
SIGTERM each role then answers /readyz with 503 "shutting down" and closes
each connection after its response, while it goes on serving, for that long;
then the listeners close and requests in flight have --grace to finish. A
second SIGTERM or Ctrl-C cuts the delay short; one during --grace closes
what is still in flight.`,
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
	// DrainDelay is how long the roles go on serving after SIGTERM, with
	// /readyz at 503, before the listeners close.
	DrainDelay time.Duration
}

func (c *common) register(fs *pflag.FlagSet) {
	fs.StringVarP(&c.File, "file", "f", "", "the chain file (required)")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format on stderr: text or json")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.DurationVar(&c.Grace, "grace", 10*time.Second, "how long requests in flight may finish once the listeners close")
	fs.DurationVar(&c.DrainDelay, "drain-delay", 0, "after SIGTERM, go on serving for `DURATION` with /readyz at 503 before the listeners close, so a load balancer moves away first (0: close at once)")
}

func (c *common) load() (*chain.Chain, error) {
	if c.File == "" {
		return nil, cmdutil.UsageError("pass the chain file, e.g. -f examples/local/chain.yaml", "-f FILE is required")
	}
	if c.Grace < 0 {
		return nil, cmdutil.UsageError("give a duration of 0 or more, like --grace 10s", "--grace %s: must not be negative", c.Grace)
	}
	if c.DrainDelay < 0 {
		return nil, cmdutil.UsageError("give a duration of 0 or more, like --drain-delay 5s", "--drain-delay %s: must not be negative", c.DrainDelay)
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
// serves, then serves them all until one fails, ctx is done or SIGTERM or
// SIGINT comes. Then it shuts down: stopping (nil: nothing) marks the roles
// as shutting down, and with c.DrainDelay the servers go on serving that
// long with keep-alive off (a second signal cuts it short), before the
// listeners close and requests in flight get c.Grace to finish (another
// signal cuts that short too, closing their connections).
func run(ctx context.Context, servers []*server, c *common, log *slog.Logger, stopping func(), ready func([]*server)) error {
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
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	// serving ends when the servers are to shut down: after the drain, or
	// at once when one of them fails.
	serving, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	srvs := make([]*http.Server, len(servers))
	errs := make(chan error, len(servers))
	for i, s := range servers {
		srvs[i] = &http.Server{
			Handler:           s.h,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		go func() {
			err := serve.Serve(serving, srvs[i], s.ln, c.Grace)
			if err != nil {
				err = fmt.Errorf("%s: %w", s.role, err)
			}
			cancel() // one role down takes the rest down with it
			errs <- err
		}()
	}
	asked := make(chan struct{}) // closed when a signal or ctx asks for the shutdown
	stopped := make(chan struct{})
	defer close(stopped)
	var cut atomic.Bool // a signal during the grace closed what was in flight
	go func() {
		select {
		case <-signals:
		case <-ctx.Done():
		case <-serving.Done():
			return
		}
		close(asked)
		if stopping != nil {
			stopping()
		}
		drain(serving, srvs, c.DrainDelay, signals, log)
		log.Info("shutting down: no new connections; requests in flight may finish (another signal cuts them short)", "grace", c.Grace.String())
		cancel()
		select {
		case <-signals:
			cut.Store(true)
			log.Warn("another signal: closing the connections of requests still in flight now")
			for _, srv := range srvs {
				_ = srv.Close()
			}
		case <-stopped:
		}
	}()
	if ready != nil {
		ready(servers)
	}
	var first error
	for range servers {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	select {
	case <-asked:
		switch {
		case first != nil:
		case cut.Load():
			// The operator asked for it: not a failure of the run.
			log.Warn("shut down: requests in flight were cut short by a signal during the grace period")
		default:
			log.Info("shut down: every request finished")
		}
	default:
	}
	return first
}

// drain keeps the servers serving for delay after a shutdown was asked
// for, with keep-alive off so that each connection closes after its next
// response and its client dials again, through the load balancer, to an
// instance that is staying. It returns early at a second signal or when
// serving ends.
func drain(serving context.Context, srvs []*http.Server, delay time.Duration, signals <-chan os.Signal, log *slog.Logger) {
	if delay <= 0 {
		return
	}
	for _, srv := range srvs {
		srv.SetKeepAlivesEnabled(false)
	}
	log.Info("draining: /readyz answers 503 and every connection closes after its response; the listeners close after the drain delay (a second signal ends it now)",
		"drain_delay", delay.String())
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-signals:
		log.Info("second signal: the drain delay ends now")
	case <-serving.Done():
	}
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
