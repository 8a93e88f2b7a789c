package serve_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/pkg/serve"
)

// logSink collects a logger's output and lets a test wait for a line: with
// a real server the client can have its answer before the line is written.
type logSink struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{}
}

func newLogSink() *logSink { return &logSink{wrote: make(chan struct{}, 64)} }

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.buf.Write(p)
	select {
	case s.wrote <- struct{}{}:
	default:
	}
	return n, err
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// lines parses the JSON lines written so far.
func (s *logSink) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, l)
		}
		out = append(out, m)
	}
	return out
}

// waitLine waits for the first log line (bounded; not a timing assertion).
func (s *logSink) waitLine(t *testing.T) {
	t.Helper()
	select {
	case <-s.wrote:
	case <-time.After(5 * time.Second):
		t.Fatal("no log line after 5s")
	}
}

func (s *logSink) json() *slog.Logger {
	return slog.New(slog.NewJSONHandler(s, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// tickClock moves on by step at every reading, so a request's latency is
// exactly one step.
type tickClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *tickClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

func newTickClock(step time.Duration) *tickClock {
	return &tickClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), step: step}
}

func TestObserveLogsOneLinePerRequest(t *testing.T) {
	tests := []struct {
		name    string
		target  string
		handler http.HandlerFunc
		want    map[string]any // fields the one line must hold, beyond role and method
		absent  []string       // fields it must not hold
		level   string
	}{
		{
			name:   "a handoff the receiver accepted, with the handler's attributes",
			target: "/sso",
			handler: func(w http.ResponseWriter, r *http.Request) {
				serve.Annotate(w, slog.String("chn", "c-123"), slog.String("aud", "portal"))
				serve.Annotate(w, slog.String("result", "accepted"))
				http.Redirect(w, r, "https://dashboard.example/", http.StatusFound)
			},
			want:  map[string]any{"path": "/sso", "status": 302.0, "chn": "c-123", "aud": "portal", "result": "accepted", "latency_ms": 1.5},
			level: "INFO",
		},
		{
			name:    "a handler that writes nothing is logged as the 200 net/http sends",
			target:  "/auth",
			handler: func(http.ResponseWriter, *http.Request) {},
			want:    map[string]any{"path": "/auth", "status": 200.0},
			absent:  []string{"result", "panic"},
			level:   "INFO",
		},
		{
			name:   "a key annotated twice keeps the last value, once",
			target: "/auth",
			handler: func(w http.ResponseWriter, r *http.Request) {
				serve.Annotate(w, slog.String("result", "checking"))
				serve.Annotate(w, slog.String("result", "unauthorized"), slog.String("reason", "no_cookie"))
				w.WriteHeader(http.StatusUnauthorized)
			},
			want:  map[string]any{"status": 401.0, "result": "unauthorized", "reason": "no_cookie"},
			level: "INFO",
		},
		{
			name:   "a handler cannot replace the fields Observe writes",
			target: "/auth?token=secret",
			handler: func(w http.ResponseWriter, r *http.Request) {
				serve.Annotate(w, slog.String("path", r.URL.String()), slog.Int("status", 999))
			},
			want:  map[string]any{"path": "/auth", "status": 200.0},
			level: "INFO",
		},
		{
			name:   "a routine request that succeeds logs at debug level",
			target: "/auth",
			handler: func(w http.ResponseWriter, r *http.Request) {
				serve.Routine(w)
				w.WriteHeader(http.StatusOK)
			},
			want:  map[string]any{"path": "/auth", "status": 200.0},
			level: "DEBUG",
		},
		{
			name:   "a routine request that is refused still logs at info level",
			target: "/auth",
			handler: func(w http.ResponseWriter, r *http.Request) {
				serve.Routine(w)
				serve.Annotate(w, slog.String("result", "unauthorized"))
				w.WriteHeader(http.StatusUnauthorized)
			},
			want:  map[string]any{"status": 401.0, "result": "unauthorized"},
			level: "INFO",
		},
		{
			name:   "a routine request that fails logs at error level",
			target: "/auth",
			handler: func(w http.ResponseWriter, r *http.Request) {
				serve.Routine(w)
				w.WriteHeader(http.StatusServiceUnavailable)
			},
			want:  map[string]any{"status": 503.0},
			level: "ERROR",
		},
		{
			name:   "a dependency failure logs at error level",
			target: "/sso",
			handler: func(w http.ResponseWriter, r *http.Request) {
				serve.Annotate(w, slog.String("result", "unavailable"), slog.String("reason", "idp_unavailable"))
				http.Error(w, "try again", http.StatusServiceUnavailable)
			},
			want:  map[string]any{"status": 503.0, "reason": "idp_unavailable"},
			level: "ERROR",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := newLogSink()
			h := serve.Observe("portal", tt.handler, serve.ObserveOptions{Logger: sink.json(), Now: newTickClock(1500 * time.Microsecond).Now})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.target, nil))

			lines := sink.lines(t)
			if len(lines) != 1 {
				t.Fatalf("%d log lines, want 1:\n%s", len(lines), sink)
			}
			line := lines[0]
			if line["role"] != "portal" || line["method"] != "GET" || line["level"] != tt.level {
				t.Errorf("role, method, level = %v, %v, %v; want portal, GET, %s", line["role"], line["method"], line["level"], tt.level)
			}
			if id := rec.Header().Get(serve.HeaderRequestID); id == "" || line["request_id"] != id {
				t.Errorf("request_id = %v, response header = %q; want the same, non-empty", line["request_id"], id)
			}
			for k, v := range tt.want {
				if line[k] != v {
					t.Errorf("%s = %#v, want %#v", k, line[k], v)
				}
			}
			for _, k := range tt.absent {
				if _, ok := line[k]; ok {
					t.Errorf("%s = %v, want no such field", k, line[k])
				}
			}
		})
	}
}

// TestObserveNeverLogsSecrets sends what a handoff request really carries:
// a token in the query, cookies, an Authorization header, and a token a
// careless handler annotates or puts in a panic. None may reach the log.
func TestObserveNeverLogsSecrets(t *testing.T) {
	const (
		tok       = "eyJhbGciOiJIUzI1NiIsInR5cCI6InNzby1oYW5kb2ZmK2p3dCJ9.eyJzaWQiOiJzZWNyZXQtc2lkIn0.c2lnbmF0dXJlLXNlY3JldA"
		cookieVal = "portal-cookie-value-7f3a9"
		kratosTok = "ory_st_0123456789abcdefSECRET"
	)
	const (
		sealedLike = "AuHj4ckGJGE2MGNkZjA3MC0xMmM2.Qm9LrA7hU0x9tWqf3rB2lKc8dZpYvN1sGhE4jXiMoTs"
		hexToken   = "5f0c9a1e7b3d2c4a8e6f0b1d3c5a7e9f"
	)
	secrets := []string{tok, "eyJhbGciOiJIUzI1NiIs", cookieVal, kratosTok, "c2lnbmF0dXJlLXNlY3JldA", "Bearer",
		"AuHj4ckGJGE2MGNkZjA3MC0xMmM2", "Qm9LrA7hU0x9tWqf3rB2lKc8dZpYvN1sGhE4jXiMoTs", hexToken}
	handlers := []struct {
		name    string
		target  string
		handler http.HandlerFunc
	}{
		{
			name:    "token in the query, cookie and authorization headers",
			target:  "/sso?token=" + tok + "&ret=https%3A%2F%2Fapp.example%2F",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusFound) },
		},
		{
			name:   "a handler annotates the token and a session token by mistake",
			target: "/sso?token=" + tok,
			handler: func(w http.ResponseWriter, r *http.Request) {
				serve.Annotate(w, slog.String("reason", "bad token "+r.URL.Query().Get("token")), slog.String("session", kratosTok))
				w.WriteHeader(http.StatusBadRequest)
			},
		},
		{
			name:    "a token in the path",
			target:  "/sso/" + tok,
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) },
		},
		{
			name:    "a sealed cookie value in the path",
			target:  "/" + sealedLike + "/x",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) },
		},
		{
			name:    "a hex CSRF token in the path",
			target:  "/ui/" + hexToken,
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) },
		},
		{
			name:    "a handler panics with the token in its message",
			target:  "/sso?token=" + tok,
			handler: func(w http.ResponseWriter, r *http.Request) { panic("cannot verify " + r.URL.Query().Get("token")) },
		},
	}
	loggers := []struct {
		name string
		new  func(io.Writer) slog.Handler
	}{
		{"json", func(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, nil) }},
		{"text", func(w io.Writer) slog.Handler { return slog.NewTextHandler(w, nil) }},
	}
	for _, lg := range loggers {
		for _, hc := range handlers {
			t.Run(lg.name+"/"+hc.name, func(t *testing.T) {
				sink := newLogSink()
				h := serve.Observe("portal", hc.handler, serve.ObserveOptions{Logger: slog.New(lg.new(sink))})
				req := httptest.NewRequest(http.MethodGet, hc.target, nil)
				req.Header.Set("Cookie", "portal_session="+cookieVal+"; ory_kratos_session="+cookieVal)
				req.Header.Set("Authorization", "Bearer "+kratosTok)
				h.ServeHTTP(httptest.NewRecorder(), req)
				out := sink.String()
				if !strings.Contains(out, "request_id") {
					t.Fatalf("no request line logged: %q", out)
				}
				for _, s := range secrets {
					if strings.Contains(out, s) {
						t.Errorf("log output contains %q:\n%s", s, out)
					}
				}
				if strings.Contains(out, "token=") || strings.Contains(out, "ret=") {
					t.Errorf("log output contains the query:\n%s", out)
				}
			})
		}
	}
}

// TestObserveClientGone: a request whose client hung up before the answer
// (its context canceled) and failed for it is logged at info level and
// marked client_gone, not as an error; the same failure with the client
// still there is an error.
func TestObserveClientGone(t *testing.T) {
	for _, tt := range []struct {
		name      string
		gone      bool
		wantLevel string
	}{{"client gone", true, "INFO"}, {"client still there", false, "ERROR"}} {
		t.Run(tt.name, func(t *testing.T) {
			sink := newLogSink()
			h := serve.Observe("issuer", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "identity provider unavailable", http.StatusServiceUnavailable)
			}), serve.ObserveOptions{Logger: sink.json()})
			ctx, cancel := context.WithCancel(t.Context())
			if tt.gone {
				cancel()
			} else {
				defer cancel()
			}
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/callback", nil).WithContext(ctx))
			lines := sink.lines(t)
			if len(lines) != 1 || lines[0]["level"] != tt.wantLevel || lines[0]["status"] != 503.0 {
				t.Fatalf("logged %v, want one %s line with status 503", lines, tt.wantLevel)
			}
			if got, want := lines[0]["client_gone"], map[bool]any{true: true, false: nil}[tt.gone]; got != want {
				t.Errorf("client_gone = %v, want %v", got, want)
			}
		})
	}
}

// TestObserveRealClock: with no clock given, latency is the time the
// handler took, read from the monotonic clock. The bound is one way only
// (at least the sleep), so a slow machine cannot fail it.
func TestObserveRealClock(t *testing.T) {
	const nap = 30 * time.Millisecond
	sink := newLogSink()
	h := serve.Observe("portal", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		time.Sleep(nap)
	}), serve.ObserveOptions{Logger: sink.json()})
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/auth", nil))
	lines := sink.lines(t)
	if len(lines) != 1 {
		t.Fatalf("logged %v, want one line", lines)
	}
	got, ok := lines[0]["latency_ms"].(float64)
	if !ok || got < float64(nap.Milliseconds()) || got > 1e6 {
		t.Fatalf("latency_ms = %v, want at least %d (the handler's sleep) and less than 1000 s", lines[0]["latency_ms"], nap.Milliseconds())
	}
}

// TestObserveLogsPlainPaths: redacting opaque path segments must leave the
// paths an operator reads alone.
func TestObserveLogsPlainPaths(t *testing.T) {
	for _, p := range []string{
		"/sso", "/auth", "/.well-known/jwks.json", "/static/app.4f3a2b1c.js",
		"/self-service/login/browser", "/docs/getting-started-with-forward-auth",
		"/users/1234/settings", "/v2/api/items",
	} {
		sink := newLogSink()
		h := serve.Observe("portal", http.NotFoundHandler(), serve.ObserveOptions{Logger: sink.json()})
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, p, nil))
		if lines := sink.lines(t); len(lines) != 1 || lines[0]["path"] != p {
			t.Errorf("%s logged as %v", p, lines)
		}
	}
}

func TestObserveRequestID(t *testing.T) {
	generated := regexp.MustCompile(`^[A-Za-z0-9_-]{16}$`) // 96 bits, base64url
	tests := []struct {
		name     string
		trust    bool
		incoming []string
		want     string // "" means a freshly generated id
	}{
		{name: "no incoming id: a fresh one"},
		{name: "incoming id ignored when not trusted", incoming: []string{"from-client-1234"}},
		{name: "trusted well-formed UUID is reused", trust: true, incoming: []string{"3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b"}, want: "3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b"},
		{name: "trusted base64 id with + / = is reused", trust: true, incoming: []string{"ab+/cd=="}, want: "ab+/cd=="},
		{name: "trusted id with a space is replaced", trust: true, incoming: []string{"a b"}},
		{name: "trusted id with a newline is replaced", trust: true, incoming: []string{"abc\ninjected=1"}},
		{name: "trusted id with markup is replaced", trust: true, incoming: []string{"<script>"}},
		{name: "trusted id over 128 bytes is replaced", trust: true, incoming: []string{strings.Repeat("a", 129)}},
		{name: "trusted empty id is replaced", trust: true, incoming: []string{""}},
		{name: "two ids are ambiguous and replaced", trust: true, incoming: []string{"one-1", "two-2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := newLogSink()
			var inHandler string
			h := serve.Observe("issuer", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				inHandler = serve.RequestID(w)
			}), serve.ObserveOptions{Logger: sink.json(), TrustRequestID: tt.trust})
			req := httptest.NewRequest(http.MethodGet, "/login", nil)
			for _, v := range tt.incoming {
				req.Header.Add(serve.HeaderRequestID, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			got := rec.Header().Values(serve.HeaderRequestID)
			if len(got) != 1 {
				t.Fatalf("response X-Request-Id = %q, want one value", got)
			}
			if got[0] != inHandler {
				t.Errorf("response id %q, RequestID(w) in the handler %q", got[0], inHandler)
			}
			if logged := sink.lines(t)[0]["request_id"]; logged != got[0] {
				t.Errorf("logged request_id %v, response id %q", logged, got[0])
			}
			switch {
			case tt.want != "" && got[0] != tt.want:
				t.Errorf("id = %q, want the incoming %q", got[0], tt.want)
			case tt.want == "" && !generated.MatchString(got[0]):
				t.Errorf("id = %q, want a fresh 16-character base64url id", got[0])
			}
		})
	}
	t.Run("fresh ids do not repeat", func(t *testing.T) {
		h := serve.Observe("issuer", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), serve.ObserveOptions{Logger: slog.New(slog.DiscardHandler)})
		seen := map[string]bool{}
		for range 10000 {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			id := rec.Header().Get(serve.HeaderRequestID)
			if seen[id] {
				t.Fatalf("id %q given twice", id)
			}
			seen[id] = true
		}
	})
	t.Run("the handler gets the request itself, and finds the id through wrapping writers", func(t *testing.T) {
		sink := newLogSink()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		var got *http.Request
		var viaWrapper, viaOpaque string
		h := serve.Observe("issuer", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = r
			wrapped := unwrapper{w}
			viaWrapper = serve.RequestID(wrapped)
			serve.Annotate(wrapped, slog.String("result", "through a wrapper"))
			viaOpaque = serve.RequestID(opaqueWriter{w})
			serve.Annotate(opaqueWriter{w}, slog.String("reason", "unreachable"))
		}), serve.ObserveOptions{Logger: sink.json()})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got != req {
			t.Error("the handler got a copy of the request")
		}
		if id := rec.Header().Get(serve.HeaderRequestID); viaWrapper != id || viaOpaque != "" {
			t.Errorf("RequestID through Unwrap %q, through an opaque writer %q; want %q and none", viaWrapper, viaOpaque, id)
		}
		line := sink.lines(t)[0]
		if line["result"] != "through a wrapper" || line["reason"] != nil {
			t.Errorf("logged result %v, reason %v", line["result"], line["reason"])
		}
	})
	t.Run("outside Observe there is no id and Annotate does nothing", func(t *testing.T) {
		w := httptest.NewRecorder()
		serve.Annotate(w, slog.String("k", "v"))
		serve.Routine(w)
		if id := serve.RequestID(w); id != "" {
			t.Errorf("RequestID = %q, want empty", id)
		}
	})
}

// TestObserveRequestIDNamesALogLine: a routine success that is not logged
// carries no X-Request-Id (an id that names no line matches nothing, and
// forward auth pays for every header); anything logged carries the id of
// its line, on a real server so only what reaches the client counts.
func TestObserveRequestIDNamesALogLine(t *testing.T) {
	// answer marks the request Routine or not and writes status (0: none).
	answer := func(routine bool, status int) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			if routine {
				serve.Routine(w)
			}
			if status != 0 {
				w.WriteHeader(status)
			}
		}
	}
	tests := []struct {
		name    string
		level   slog.Level
		handler http.HandlerFunc
		wantID  bool
	}{
		{"a routine success at info level: no id", slog.LevelInfo, answer(true, http.StatusOK), false},
		{"a routine success that writes nothing: no id", slog.LevelInfo, answer(true, 0), false},
		{"a routine success with debug lines on: the line's id", slog.LevelDebug, answer(true, http.StatusOK), true},
		{"a routine refusal: the line's id", slog.LevelInfo, answer(true, http.StatusUnauthorized), true},
		{"any other success: the line's id", slog.LevelInfo, answer(false, http.StatusOK), true},
		{"a handler that opts out with nil: none", slog.LevelInfo, func(w http.ResponseWriter, _ *http.Request) {
			w.Header()[serve.HeaderRequestID] = nil
			w.WriteHeader(http.StatusOK)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := newLogSink()
			logger := slog.New(slog.NewJSONHandler(sink, &slog.HandlerOptions{Level: tt.level}))
			srv := httptest.NewServer(serve.Observe("portal", tt.handler, serve.ObserveOptions{Logger: logger}))
			defer srv.Close()
			resp, err := srv.Client().Get(srv.URL + "/auth")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := resp.Header.Values(serve.HeaderRequestID)
			if !tt.wantID {
				if len(got) != 0 {
					t.Errorf("X-Request-Id = %q, want none", got)
				}
				return
			}
			sink.waitLine(t)
			lines := sink.lines(t)
			if len(got) != 1 || len(lines) != 1 || lines[0]["request_id"] != got[0] {
				t.Errorf("X-Request-Id = %q, log lines %v; want one id, the logged one", got, lines)
			}
		})
	}
}

func TestObserveSecurityHeaders(t *testing.T) {
	defaults := map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
		"Content-Security-Policy": serve.DefaultContentSecurityPolicy,
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    map[string][]string // headers that differ from the defaults; nil value: absent
	}{
		{
			name:    "a redirect gets every default",
			handler: func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/next", http.StatusFound) },
		},
		{
			name:    "a handler that writes nothing gets every default",
			handler: func(http.ResponseWriter, *http.Request) {},
		},
		{
			name:    "a body written without WriteHeader gets every default",
			handler: func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello") },
		},
		{
			name: "a handler's own policy wins",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'nonce-abc'")
				w.Header().Set("X-Frame-Options", "SAMEORIGIN")
			},
			want: map[string][]string{
				"Content-Security-Policy": {"default-src 'self'; script-src 'nonce-abc'"},
				"X-Frame-Options":         {"SAMEORIGIN"},
			},
		},
		{
			name: "a proxied response's headers are not doubled",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				// httputil.ReverseProxy copies upstream headers with Add.
				w.Header().Add("Referrer-Policy", "strict-origin")
				w.WriteHeader(http.StatusOK)
			},
			want: map[string][]string{"Referrer-Policy": {"strict-origin"}},
		},
		{
			name: "a handler opts out of one header by setting it to nil",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header()["X-Frame-Options"] = nil
			},
			want: map[string][]string{"X-Frame-Options": nil},
		},
		{
			name: "a routine answer that succeeds goes to a proxy, not a browser: none",
			handler: func(w http.ResponseWriter, r *http.Request) {
				serve.Routine(w)
				w.WriteHeader(http.StatusOK)
			},
			want: map[string][]string{
				"X-Content-Type-Options": nil, "Referrer-Policy": nil, "X-Frame-Options": nil, "Content-Security-Policy": nil,
			},
		},
		{
			name:    "a routine answer that writes nothing: none",
			handler: func(w http.ResponseWriter, _ *http.Request) { serve.Routine(w) },
			want: map[string][]string{
				"X-Content-Type-Options": nil, "Referrer-Policy": nil, "X-Frame-Options": nil, "Content-Security-Policy": nil,
			},
		},
		{
			name: "a routine answer that refuses may reach the browser (Traefik, Caddy): every default",
			handler: func(w http.ResponseWriter, r *http.Request) {
				serve.Routine(w)
				w.WriteHeader(http.StatusUnauthorized)
			},
		},
		{
			name: "adding to the request id does not write into another header",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Add(serve.HeaderRequestID, "extra")
				w.WriteHeader(http.StatusNoContent)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A real server: only it shows what reaches the client.
			srv := httptest.NewServer(serve.Observe("portal", tt.handler, serve.ObserveOptions{Logger: slog.New(slog.DiscardHandler)}))
			defer srv.Close()
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Transport.RoundTrip(req) // no redirect following
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			for k, v := range defaults {
				want := []string{v}
				if w, ok := tt.want[k]; ok {
					want = w
				}
				if got := resp.Header.Values(k); strings.Join(got, "|") != strings.Join(want, "|") {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestObservePanic(t *testing.T) {
	const secret = "eyJhbGciOiJIUzI1NiJ9.eyJzaWQiOiJ4In0.sig"
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int  // what the client sees; 0: the connection is cut
		wantLogged int  // status in the log line
		wantStack  bool // the log line carries a stack
	}{
		{
			name: "panic before writing: a plain 500 naming the request id",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.SetCookie(w, &http.Cookie{Name: "portal_session", Value: "half-made"})
				w.Header().Set("Location", "/somewhere")
				panic("verifying " + secret)
			},
			wantStatus: 500, wantLogged: 500, wantStack: true,
		},
		{
			name: "panic after the header went out: the connection is cut, not a short 200",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusOK)
				_, _ = io.WriteString(w, "partial")
				w.(http.Flusher).Flush()
				panic("midway")
			},
			wantLogged: 200, wantStack: true,
		},
		{
			name:       "http.ErrAbortHandler still aborts, and is logged",
			handler:    func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) },
			wantLogged: 500, wantStack: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := newLogSink()
			srv := httptest.NewUnstartedServer(serve.Observe("portal", tt.handler, serve.ObserveOptions{Logger: sink.json()}))
			srv.Config.ErrorLog = log.New(io.Discard, "", 0) // net/http's own "aborting" notes
			srv.Start()
			defer srv.Close()

			resp, err := srv.Client().Get(srv.URL + "/sso?token=" + secret)
			var body []byte
			if err == nil {
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			switch {
			case tt.wantStatus == 0 && err == nil:
				t.Errorf("client got %d %q, want the connection cut", resp.StatusCode, body)
			case tt.wantStatus != 0 && err != nil:
				t.Fatalf("client: %v", err)
			case tt.wantStatus != 0:
				id := resp.Header.Get(serve.HeaderRequestID)
				if resp.StatusCode != tt.wantStatus || id == "" || !strings.Contains(string(body), id) {
					t.Errorf("got %d %q with request id %q; want %d naming the id", resp.StatusCode, body, id, tt.wantStatus)
				}
				for _, leak := range []string{"goroutine", ".go:", "verifying", secret} {
					if strings.Contains(string(body), leak) {
						t.Errorf("500 page shows %q: %s", leak, body)
					}
				}
				if c := resp.Header.Get("Set-Cookie"); c != "" {
					t.Errorf("500 page sets the panicked handler's cookie %q", c)
				}
				if l := resp.Header.Get("Location"); l != "" {
					t.Errorf("500 page keeps the panicked handler's Location %q", l)
				}
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("500 page Content-Type %q, nosniff %q", ct, resp.Header.Get("X-Content-Type-Options"))
				}
			}

			sink.waitLine(t)
			lines := sink.lines(t)
			if len(lines) != 1 {
				t.Fatalf("%d log lines, want 1:\n%s", len(lines), sink)
			}
			line := lines[0]
			if line["status"] != float64(tt.wantLogged) || line["level"] != "ERROR" {
				t.Errorf("logged status %v level %v, want %d ERROR", line["status"], line["level"], tt.wantLogged)
			}
			stack, _ := line["stack"].(string)
			if tt.wantStack != strings.Contains(stack, "middleware_test.go") {
				t.Errorf("stack in log = %v, want %v:\n%s", stack != "", tt.wantStack, stack)
			}
			if strings.Contains(sink.String(), secret) {
				t.Errorf("the token in the panic message reached the log")
			}
		})
	}
}

func TestObserveKeepsTheWritersInterfaces(t *testing.T) {
	tests := []struct {
		name    string
		handler func(t *testing.T, proceed <-chan struct{}) http.HandlerFunc
		check   func(t *testing.T, resp *http.Response, proceed chan<- struct{})
	}{
		{
			name: "http.Flusher delivers the first chunk before the handler returns",
			handler: func(t *testing.T, proceed <-chan struct{}) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					f, ok := w.(http.Flusher)
					if !ok {
						t.Error("the wrapped writer is not an http.Flusher")
						return
					}
					_, _ = io.WriteString(w, "first\n")
					f.Flush()
					waitOrGone(r, proceed) // the client must read "first" while we wait
					_, _ = io.WriteString(w, "second\n")
				}
			},
			check: func(t *testing.T, resp *http.Response, proceed chan<- struct{}) {
				r := bufio.NewReader(resp.Body)
				line, err := r.ReadString('\n')
				close(proceed)
				if line != "first\n" || err != nil {
					t.Fatalf("first chunk %q, %v", line, err)
				}
				if rest, _ := io.ReadAll(r); string(rest) != "second\n" {
					t.Errorf("rest %q", rest)
				}
				if resp.Header.Get("Referrer-Policy") != "no-referrer" {
					t.Error("flushing first lost the security headers")
				}
			},
		},
		{
			name: "http.ResponseController flushes and sets deadlines through Unwrap",
			handler: func(t *testing.T, proceed <-chan struct{}) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					rc := http.NewResponseController(w)
					if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
						t.Errorf("SetWriteDeadline: %v", err)
					}
					_, _ = io.WriteString(w, "first\n")
					if err := rc.Flush(); err != nil {
						t.Errorf("Flush: %v", err)
					}
					waitOrGone(r, proceed)
				}
			},
			check: func(t *testing.T, resp *http.Response, proceed chan<- struct{}) {
				line, err := bufio.NewReader(resp.Body).ReadString('\n')
				close(proceed)
				if line != "first\n" || err != nil {
					t.Errorf("first chunk %q, %v", line, err)
				}
			},
		},
		{
			name: "a hijacked answer written with the header map (a proxied upgrade) carries the request id",
			handler: func(t *testing.T, _ <-chan struct{}) http.HandlerFunc {
				return func(w http.ResponseWriter, _ *http.Request) {
					conn, buf, err := w.(http.Hijacker).Hijack()
					if err != nil {
						t.Errorf("Hijack: %v", err)
						return
					}
					defer conn.Close()
					// as httputil.ReverseProxy writes a 101: its status line, then w.Header()
					_, _ = buf.WriteString("HTTP/1.1 200 OK\r\n")
					_ = w.Header().Write(buf)
					_, _ = buf.WriteString("Content-Length: 6\r\nConnection: close\r\n\r\nraw ok")
					_ = buf.Flush()
				}
			},
			check: func(t *testing.T, resp *http.Response, proceed chan<- struct{}) {
				close(proceed)
				if got := resp.Header.Values(serve.HeaderRequestID); len(got) != 1 || got[0] == "" {
					t.Errorf("X-Request-Id = %q, want one id", got)
				}
			},
		},
		{
			name: "http.Hijacker hands over the connection",
			handler: func(t *testing.T, _ <-chan struct{}) http.HandlerFunc {
				return func(w http.ResponseWriter, _ *http.Request) {
					hj, ok := w.(http.Hijacker)
					if !ok {
						t.Error("the wrapped writer is not an http.Hijacker")
						return
					}
					conn, buf, err := hj.Hijack()
					if err != nil {
						t.Errorf("Hijack: %v", err)
						return
					}
					defer conn.Close()
					_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nraw ok")
					_ = buf.Flush()
				}
			},
			check: func(t *testing.T, resp *http.Response, proceed chan<- struct{}) {
				close(proceed)
				if body, _ := io.ReadAll(resp.Body); string(body) != "raw ok" {
					t.Errorf("body %q", body)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proceed := make(chan struct{})
			sink := newLogSink()
			srv := httptest.NewServer(serve.Observe("portal", tt.handler(t, proceed), serve.ObserveOptions{Logger: sink.json()}))
			defer srv.Close()
			// A flush that does not reach the client fails the read at
			// the client's timeout instead of hanging the test.
			client := srv.Client()
			client.Timeout = 10 * time.Second
			resp, err := client.Get(srv.URL + "/stream")
			if err != nil {
				close(proceed)
				t.Fatal(err)
			}
			defer resp.Body.Close()
			tt.check(t, resp, proceed)
			sink.waitLine(t)
			if n := len(sink.lines(t)); n != 1 {
				t.Errorf("%d log lines, want 1", n)
			}
		})
	}
}

// waitOrGone waits for the test to let the handler go on, or for the
// client to hang up.
func waitOrGone(r *http.Request, proceed <-chan struct{}) {
	select {
	case <-proceed:
	case <-r.Context().Done():
	}
}

func TestAnnotateFromManyGoroutines(t *testing.T) {
	sink := newLogSink()
	h := serve.Observe("portal", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() { serve.Annotate(w, slog.Int("k"+string(rune('a'+i)), i)) })
		}
		wg.Wait()
	}), serve.ObserveOptions{Logger: sink.json()})
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	line := sink.lines(t)[0]
	for i := range 20 {
		if k := "k" + string(rune('a'+i)); line[k] != float64(i) {
			t.Errorf("%s = %v, want %d", k, line[k], i)
		}
	}
}

// BenchmarkObserve compares a trivial handler (what forward auth costs at
// its cheapest) bare and behind Observe, with logging discarded, logged as
// JSON, and with metrics.
func BenchmarkObserve(b *testing.B) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serve.Annotate(w, slog.String("result", "ok"))
		w.WriteHeader(http.StatusOK)
	})
	bare := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	discard := slog.New(slog.DiscardHandler)
	jsonLog := slog.New(slog.NewJSONHandler(io.Discard, nil))
	cases := []struct {
		name string
		h    http.Handler
	}{
		{"bare", bare},
		{"observe/log-off", serve.Observe("portal", ok, serve.ObserveOptions{Logger: discard})},
		{"observe/log-json", serve.Observe("portal", ok, serve.ObserveOptions{Logger: jsonLog})},
		{"observe/log-json+metrics", serve.Observe("portal", ok, serve.ObserveOptions{Logger: jsonLog, Metrics: serve.NewMetrics()})},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/auth", nil)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := &benchWriter{h: http.Header{}}
				for pb.Next() {
					clear(w.h)
					c.h.ServeHTTP(w, req)
				}
			})
		})
	}
}

// benchWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the wrapper rather than httptest.ResponseRecorder.
type benchWriter struct{ h http.Header }

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *benchWriter) WriteHeader(int)             {}

// unwrapper wraps a ResponseWriter as middleware does, saying so with
// Unwrap; opaqueWriter hides the one it wraps.
type (
	unwrapper    struct{ http.ResponseWriter }
	opaqueWriter struct{ http.ResponseWriter }
)

func (u unwrapper) Unwrap() http.ResponseWriter { return u.ResponseWriter }
