package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ssoctl/ssoctl/pkg/serve/store"
	"github.com/ssoctl/ssoctl/pkg/token"
)

// ReadyTimeout bounds one readiness check: a probe that hangs is as bad as
// one that fails, and orchestrators give up after a few seconds anyway.
const ReadyTimeout = 2 * time.Second

// DependencyError names the dependency behind a readiness failure, so
// /readyz can say which one is down without repeating err, whose text may
// hold addresses or URLs.
type DependencyError struct {
	Name string // what an operator calls it: "identity provider", "replay store"
	Err  error
}

// Unavailable marks err as the failure of the dependency called name.
func Unavailable(name string, err error) error { return &DependencyError{Name: name, Err: err} }

func (e *DependencyError) Error() string { return e.Name + ": " + e.Err.Error() }
func (e *DependencyError) Unwrap() error { return e.Err }

// knownDependencies names the failures the package's own sentinels stand
// for, so a ready func can return them unwrapped.
var knownDependencies = []struct {
	err  error
	name string
}{
	{ErrIdPUnavailable, "identity provider"},
	{store.ErrUnavailable, "store"},
	{token.ErrKeysUnavailable, "verification keys"},
	{token.ErrReplayStoreUnavailable, "replay store"},
}

// ErrShuttingDown is a role's readiness once its process has begun to shut
// down (Roles.Stopping): /readyz answers 503 "shutting down" so that load
// balancers send new requests elsewhere while requests still arrive.
var ErrShuttingDown = errors.New("shutting down")

// Health returns the /healthz and /readyz handlers.
//
// /healthz answers 200 "ok" for as long as the process serves: it is the
// liveness probe, and restarting a role because its IdP is down would not
// bring the IdP back.
//
// /readyz runs ready (nil: always ready) within ReadyTimeout and answers 200
// "ready", or 503 naming each failing dependency ("identity provider:
// unavailable") and nothing more; the full error goes to the request's log
// line. Concurrent probes share one check in flight, so a flood of /readyz
// requests cannot become a flood against the IdP.
func Health(ready func(ctx context.Context) error) (healthz, readyz http.Handler) {
	healthz = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !probeMethod(w, r) {
			return
		}
		plain(w, http.StatusOK, "ok\n")
	})
	c := &readiness{check: ready}
	readyz = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !probeMethod(w, r) {
			return
		}
		err := c.run(r.Context())
		if err == nil {
			plain(w, http.StatusOK, "ready\n")
			return
		}
		if errors.Is(err, ErrShuttingDown) {
			Annotate(w, slog.String("reason", "shutting_down"))
			plain(w, http.StatusServiceUnavailable, "shutting down\n")
			return
		}
		Annotate(w, slog.String("reason", "not_ready"), slog.String("error", clip(redact(err.Error()), 512)))
		plain(w, http.StatusServiceUnavailable, notReadyMessage(err))
	})
	return healthz, readyz
}

func probeMethod(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	plain(w, http.StatusMethodNotAllowed, "method not allowed\n")
	return false
}

func plain(w http.ResponseWriter, code int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}

// readiness coalesces concurrent checks into one.
type readiness struct {
	check func(ctx context.Context) error

	mu       sync.Mutex
	inflight *readyCall
}

type readyCall struct {
	done chan struct{}
	err  error
}

// run returns the result of a check that started no earlier than this
// call, or an error when the caller goes away or ReadyTimeout passes first
// (a check that ignores its context cannot hold a probe). The check itself
// is not tied to the first caller's context: one probe hanging up must not
// fail the others.
func (c *readiness) run(ctx context.Context) error {
	if c.check == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, ReadyTimeout)
	defer cancel()
	c.mu.Lock()
	call := c.inflight
	if call == nil {
		call = &readyCall{done: make(chan struct{})}
		c.inflight = call
		go func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ReadyTimeout)
			defer cancel()
			err := c.check(cctx)
			c.mu.Lock()
			c.inflight = nil
			c.mu.Unlock()
			call.err = err
			close(call.done)
		}()
	}
	c.mu.Unlock()
	select {
	case <-call.done:
		return call.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// notReadyMessage names what failed, one line per dependency, without the
// errors' own text.
func notReadyMessage(err error) string {
	var names []string
	add := func(n string) {
		for _, have := range names {
			if have == n {
				return
			}
		}
		names = append(names, n)
	}
	var walk func(error)
	walk = func(e error) {
		if dep, ok := e.(*DependencyError); ok {
			add(dep.Name)
			return
		}
		for _, k := range knownDependencies {
			if e == k.err {
				add(k.name)
				return
			}
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			if inner := u.Unwrap(); inner != nil {
				walk(inner)
				return
			}
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				if inner != nil {
					walk(inner)
				}
			}
			return
		}
		if errors.Is(e, context.DeadlineExceeded) {
			add(fmt.Sprintf("readiness check: timed out after %s", ReadyTimeout))
		}
	}
	walk(err)
	if len(names) == 0 {
		return "not ready\n"
	}
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n)
		if !strings.HasPrefix(n, "readiness check:") {
			b.WriteString(": unavailable")
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// Serve serves srv on ln until ctx is done (the caller ties ctx to SIGTERM
// and SIGINT), then shuts down gracefully: the listener closes at once, so
// a load balancer moves on, while requests in flight get up to grace to
// finish. Connections still busy after grace are closed and Serve returns
// an error saying so. It returns nil after a clean
// shutdown and srv.Serve's error if serving fails before ctx is done.
//
// Requests do not inherit ctx: a SIGTERM must let them finish, not cancel
// them.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		if errors.Is(err, http.ErrServerClosed) {
			return nil // someone else shut srv down
		}
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		_ = srv.Close() // grace is over: cut what is left
		err = fmt.Errorf("graceful shutdown: requests still running after %s were cut short: %w", grace, err)
	}
	if serr := <-served; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return errors.Join(serr, err)
	}
	return err
}
