package serve_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ssoctl/ssoctl/pkg/serve"
	"github.com/ssoctl/ssoctl/pkg/serve/store"
)

func TestHealthz(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		wantCode int
		wantBody string
	}{
		{name: "GET is ok", method: http.MethodGet, wantCode: 200, wantBody: "ok\n"},
		{name: "HEAD is ok", method: http.MethodHead, wantCode: 200, wantBody: "ok\n"},
		{name: "POST is not a probe", method: http.MethodPost, wantCode: 405, wantBody: "method not allowed\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The IdP being down must not fail liveness: restarting would
			// not bring it back.
			healthz, _ := serve.Health(func(context.Context) error { return serve.ErrIdPUnavailable })
			rec := httptest.NewRecorder()
			healthz.ServeHTTP(rec, httptest.NewRequest(tt.method, "/healthz", nil))
			if rec.Code != tt.wantCode || rec.Body.String() != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body, tt.wantCode, tt.wantBody)
			}
			if tt.wantCode == 405 && rec.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q", rec.Header().Get("Allow"))
			}
		})
	}
}

func TestReadyz(t *testing.T) {
	tests := []struct {
		name      string
		ready     func(context.Context) error
		wantCode  int
		wantBody  string
		wantInLog string   // the detail the operator gets instead
		secret    []string // must not reach the client
	}{
		{name: "no check: ready", wantCode: 200, wantBody: "ready\n"},
		{name: "check passes: ready", ready: func(context.Context) error { return nil }, wantCode: 200, wantBody: "ready\n"},
		{
			name: "the IdP is down: named, its address kept back",
			ready: func(context.Context) error {
				return fmt.Errorf("%w: health check: %w", serve.ErrIdPUnavailable,
					&net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 4434}, Err: errors.New("connection refused")})
			},
			wantCode: 503, wantBody: "identity provider: unavailable\n",
			wantInLog: "connection refused", secret: []string{"10.1.2.3", "4434", "refused"},
		},
		{
			name: "a named dependency: its name, not its error",
			ready: func(context.Context) error {
				return serve.Unavailable("replay store", errors.New("dial redis://default:hunter2@10.0.0.9:6379: i/o timeout"))
			},
			wantCode: 503, wantBody: "replay store: unavailable\n",
			wantInLog: "i/o timeout", secret: []string{"hunter2", "10.0.0.9", "redis://"},
		},
		{
			name: "two dependencies down: both named, once each",
			ready: func(context.Context) error {
				return errors.Join(
					fmt.Errorf("whoami: %w", serve.ErrIdPUnavailable),
					fmt.Errorf("ping: %w", store.ErrUnavailable),
					serve.ErrIdPUnavailable,
				)
			},
			wantCode: 503, wantBody: "identity provider: unavailable\nstore: unavailable\n",
		},
		{
			name:     "an unnamed failure: not ready, and nothing else",
			ready:    func(context.Context) error { return errors.New("template parse: /etc/ssoctl/secret-path.tmpl") },
			wantCode: 503, wantBody: "not ready\n",
			wantInLog: "secret-path.tmpl", secret: []string{"/etc/ssoctl"},
		},
		{
			name:     "a check that ran out of time says so",
			ready:    func(ctx context.Context) error { return fmt.Errorf("ping: %w", context.DeadlineExceeded) },
			wantCode: 503, wantBody: "readiness check: timed out after 2s\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := newLogSink()
			_, readyz := serve.Health(tt.ready)
			h := serve.Observe("portal", readyz, serve.ObserveOptions{Logger: sink.json()})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if rec.Code != tt.wantCode || rec.Body.String() != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body, tt.wantCode, tt.wantBody)
			}
			for _, s := range tt.secret {
				if strings.Contains(rec.Body.String(), s) {
					t.Errorf("body shows %q", s)
				}
			}
			if tt.wantInLog != "" && !strings.Contains(sink.String(), tt.wantInLog) {
				t.Errorf("log lacks the detail %q:\n%s", tt.wantInLog, sink)
			}
		})
	}
}

func TestReadyzBoundsAndSharesChecks(t *testing.T) {
	t.Run("the check gets a deadline of ReadyTimeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var left time.Duration
			_, readyz := serve.Health(func(ctx context.Context) error {
				d, ok := ctx.Deadline()
				if !ok {
					return errors.New("no deadline")
				}
				left = time.Until(d)
				return nil
			})
			rec := httptest.NewRecorder()
			readyz.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if rec.Code != 200 || left != serve.ReadyTimeout {
				t.Errorf("got %d with %s left on the check's clock, want 200 and %s", rec.Code, left, serve.ReadyTimeout)
			}
		})
	})
	t.Run("a check that ignores its context cannot hold the probe", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{})
			_, readyz := serve.Health(func(context.Context) error { <-release; return nil })
			rec := httptest.NewRecorder()
			start := time.Now()
			readyz.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if waited := time.Since(start); rec.Code != 503 || waited != serve.ReadyTimeout {
				t.Errorf("got %d after %s, want 503 after %s", rec.Code, waited, serve.ReadyTimeout)
			}
			if !strings.Contains(rec.Body.String(), "timed out") {
				t.Errorf("body %q", rec.Body)
			}
			close(release)
		})
	})
	t.Run("concurrent probes share one check in flight", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var calls atomic.Int32
			release := make(chan struct{})
			_, readyz := serve.Health(func(context.Context) error {
				calls.Add(1)
				<-release
				return nil
			})
			const probes = 20
			codes := make([]int, probes)
			var wg sync.WaitGroup
			for i := range probes {
				wg.Go(func() {
					rec := httptest.NewRecorder()
					readyz.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
					codes[i] = rec.Code
				})
			}
			synctest.Wait() // every probe is waiting on the check
			if n := calls.Load(); n != 1 {
				t.Errorf("%d checks for %d concurrent probes, want 1", n, probes)
			}
			close(release)
			wg.Wait()
			for i, c := range codes {
				if c != 200 {
					t.Errorf("probe %d: %d", i, c)
				}
			}
			// The next probe starts a check of its own.
			readyz.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if n := calls.Load(); n != 2 {
				t.Errorf("%d checks after a later probe, want 2", n)
			}
		})
	})
}

func TestServeShutsDownGracefully(t *testing.T) {
	tests := []struct {
		name       string
		grace      time.Duration
		finish     bool // the in-flight request finishes within grace
		wantErr    bool
		wantClient string // body the in-flight client gets; "" means an error
	}{
		{name: "an in-flight request completes during shutdown", grace: 10 * time.Second, finish: true, wantClient: "done"},
		{name: "a request still running after grace is cut", grace: 100 * time.Millisecond, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			started := make(chan struct{})
			release := make(chan struct{})
			mux := http.NewServeMux()
			mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
				close(started)
				select {
				case <-release:
				case <-r.Context().Done(): // cut by Close after grace
				}
				_, _ = io.WriteString(w, "done")
			})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			served := make(chan error, 1)
			go func() { served <- serve.Serve(ctx, srv, ln, tt.grace) }()

			type result struct {
				body string
				err  error
			}
			got := make(chan result, 1)
			go func() {
				resp, err := http.Get("http://" + addr + "/slow")
				if err != nil {
					got <- result{err: err}
					return
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				got <- result{string(b), err}
			}()
			<-started
			stop() // SIGTERM

			// The listener closes at once: new connections are refused
			// while the old request is still running.
			refused := false
			for range 100 {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					refused = true
					break
				}
				c.Close()
				time.Sleep(10 * time.Millisecond)
			}
			if !refused {
				t.Error("the listener still accepts connections during shutdown")
			}
			if tt.finish {
				close(release)
			}
			r := <-got
			err = <-served
			if !tt.finish {
				close(release)
			}
			switch {
			case tt.wantClient != "" && (r.err != nil || r.body != tt.wantClient):
				t.Errorf("in-flight client got %q, %v; want %q", r.body, r.err, tt.wantClient)
			case tt.wantClient == "" && r.err == nil && r.body == "done":
				t.Errorf("in-flight client got a whole answer after grace")
			}
			if (err != nil) != tt.wantErr {
				t.Errorf("Serve = %v, want error %v", err, tt.wantErr)
			}
		})
	}
	t.Run("a listener that fails is reported without waiting for ctx", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln.Close()
		err = serve.Serve(context.Background(), &http.Server{}, ln, time.Second)
		if err == nil || errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve on a closed listener = %v, want its accept error", err)
		}
	})
}
