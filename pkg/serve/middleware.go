package serve

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// ObserveOptions configures Observe.
type ObserveOptions struct {
	// Logger receives one line per request; nil means slog.Default().
	Logger *slog.Logger
	// Metrics counts requests by route and status; nil counts nothing.
	Metrics *Metrics
	// Now is the clock for latency; nil means time.Now. The primary
	// use-case for this is testing.
	Now func() time.Time
	// TrustRequestID reuses a well-formed incoming X-Request-Id, for a role
	// behind a proxy that sets one, so one id follows a request through
	// both logs. Off, every request gets a fresh id: a client could
	// otherwise plant the same id on many requests to muddle the logs.
	TrustRequestID bool
}

// HeaderRequestID carries the request id in both directions.
const HeaderRequestID = "X-Request-Id"

// DefaultContentSecurityPolicy is what Observe sends when a handler sets no
// Content-Security-Policy of its own: nothing may load, frame the response
// or post a form anywhere but back to the origin. It suits redirects, JSON,
// forward-auth answers and plain error pages; a handler serving HTML with
// styles or an auto-submitting form sets its own.
const DefaultContentSecurityPolicy = "default-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders go on every response whose handler did not set them.
// Referrer-Policy matters most: a handoff URL carries a token in its query,
// and with no-referrer the page it lands on never leaks it to a third party
// through Referer.
var securityHeaders = [...]struct{ key, value string }{
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "no-referrer"},
	{"X-Frame-Options", "DENY"},
	{"Content-Security-Policy", DefaultContentSecurityPolicy},
}

// Observe wraps a role's handler with what an operator needs from every
// request: a request id (in the response's X-Request-Id, except on a
// Routine success that is not logged, and in RequestID(w)); one log line
// with role, method, path, status, latency_ms, request_id and whatever
// the handler added with Annotate; request metrics;
// X-Content-Type-Options, Referrer-Policy: no-referrer, X-Frame-Options
// and DefaultContentSecurityPolicy unless the handler set them (setting
// one to nil in the header map sends none); and recovery from a panic as
// a plain 500 page naming the request id, the stack going to the log
// only.
//
// The log line holds the path, never the query or any header: a query can
// carry a handoff token and headers carry cookies. The wrapped
// ResponseWriter still supports http.Flusher, http.Hijacker and
// http.ResponseController.
func Observe(role string, next http.Handler, o ObserveOptions) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	ob := &observer{role: role, next: next, o: o}
	if o.Now == nil {
		ob.o.Now, ob.realClock = time.Now, true
	}
	return ob
}

type observer struct {
	role string
	next http.Handler
	o    ObserveOptions
	// realClock is set when Now is time.Now: latency is then read with
	// time.Since, from the monotonic clock alone, which costs less than
	// a second time.Now on every request.
	realClock bool
}

// exchange is one request's state and its wrapped ResponseWriter, in one
// allocation: the id, the status, the attributes the handler adds, and
// backing storage for the header values Observe sets.
type exchange struct {
	http.ResponseWriter
	ob          *observer
	r           *http.Request
	id          string // made by requestID when first needed; guarded by mu
	status      int
	wroteHeader bool
	hijacked    bool
	routine     bool // see Routine
	idSent      bool // the id is in the response's header map (sendRequestID)

	mu    sync.Mutex  // guards id and attrs: a handler may annotate from a goroutine
	attrs []slog.Attr // allocated by the first Annotate: most requests have none

	// hv backs the header values Observe sets: [0] the request id, then
	// one per security header. Each is handed out as its own
	// one-element, full-capacity slice, so an Add by the handler copies
	// instead of writing into a neighbour.
	hv [1 + len(securityHeaders)]string
}

func (ob *observer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := ob.o.Now()
	x := &exchange{ResponseWriter: w, ob: ob, r: r}
	defer ob.finish(x, start)
	ob.next.ServeHTTP(x, r)
}

// finish runs deferred after the handler, whether it returned or panicked:
// it answers for a panic, applies the security headers if nothing was
// written, and logs and counts the request.
func (ob *observer) finish(x *exchange, start time.Time) {
	r := x.r
	p := recover()
	var stack []byte
	abort := false
	if p != nil {
		stack = debug.Stack()
		switch {
		case p == http.ErrAbortHandler:
			abort = true // the handler chose to cut the connection
		case x.wroteHeader || x.hijacked:
			// Too late for a 500: cut the connection so the client sees a
			// failure rather than a response that merely looks short.
			abort = true
		default:
			x.serveError()
		}
	}
	if !x.wroteHeader && !x.hijacked {
		x.applyDefaults(http.StatusOK) // nothing written: net/http sends 200 with this header map
	}
	status := x.status
	if status == 0 {
		status = http.StatusOK
	}
	if p != nil && !x.wroteHeader {
		status = http.StatusInternalServerError
	}
	var elapsed time.Duration
	if ob.realClock {
		elapsed = time.Since(start)
	} else {
		elapsed = ob.o.Now().Sub(start)
	}

	ctx := r.Context()
	// A client that hung up first (net/http cancels the request's context)
	// turns an IdP call in flight into a 503: that is not the operator's
	// error to chase.
	clientGone := errors.Is(ctx.Err(), context.Canceled)
	level := slog.LevelInfo
	switch {
	case p != nil, status >= 500 && !clientGone:
		level = slog.LevelError
	case x.quiet(status):
		level = slog.LevelDebug
	}
	if ob.o.Logger.Enabled(ctx, level) {
		var line [16]slog.Attr
		attrs := append(line[:0],
			slog.String("role", ob.role),
			slog.String("method", clip(r.Method, 16)),
			slog.String("path", logPath(r.URL.Path)),
			slog.Int("status", status),
			slog.Float64("latency_ms", float64(elapsed.Microseconds())/1000),
			slog.String("request_id", x.requestID()),
		)
		if clientGone {
			attrs = append(attrs, slog.Bool("client_gone", true))
		}
		x.mu.Lock()
		attrs = append(attrs, x.attrs...)
		x.mu.Unlock()
		if p != nil {
			attrs = append(attrs, slog.String("panic", clip(redact(fmt.Sprint(p)), 512)), slog.String("stack", string(stack)))
		}
		ob.o.Logger.LogAttrs(ctx, level, "request", attrs...)
	}
	if ob.o.Metrics != nil {
		ob.o.Metrics.observe(ob.role, routeOf(r.URL.Path, r.Pattern), status, elapsed.Seconds())
	}
	if abort {
		panic(http.ErrAbortHandler)
	}
}

// requestID returns the request's id, made on first use: a routine
// success that is not logged never needs one.
func (x *exchange) requestID() string {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.id == "" {
		x.id = x.ob.requestID(x.r)
	}
	return x.id
}

// requestID returns the incoming id when trusted and well formed, else a
// fresh random 96-bit one. The ids need to be unique, not secret, so the
// runtime's per-thread ChaCha8 generator (math/rand/v2) serves, without a
// system call.
func (ob *observer) requestID(r *http.Request) string {
	if ob.o.TrustRequestID {
		if v := r.Header[HeaderRequestID]; len(v) == 1 && wellFormedRequestID(v[0]) {
			return v[0]
		}
	}
	var raw [12]byte
	binary.LittleEndian.PutUint64(raw[:8], rand.Uint64())
	binary.LittleEndian.PutUint32(raw[8:], rand.Uint32())
	var out [16]byte
	base64.RawURLEncoding.Encode(out[:], raw[:])
	return string(out[:])
}

// wellFormedRequestID accepts what proxies send (UUIDs, hex, base64, ULIDs)
// and refuses anything that could break a log line, a header or a page.
func wellFormedRequestID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == ':' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

// RequestID returns the id Observe gave the request that w answers, or ""
// outside Observe. Error pages show it so a user's report can be matched
// to the log line.
func RequestID(w http.ResponseWriter) string {
	if x := exchangeOf(w); x != nil {
		return x.requestID()
	}
	return ""
}

// exchangeOf finds Observe's exchange behind w, through writers that wrap
// it and say so with Unwrap (as http.ResponseController expects); nil
// outside Observe. Observe hands it to the handler as its writer rather
// than in the request's context: putting it there would copy every
// request (Request.WithContext), a cost a forward-auth check notices.
func exchangeOf(w http.ResponseWriter) *exchange {
	for {
		switch v := w.(type) {
		case *exchange:
			return v
		case interface{ Unwrap() http.ResponseWriter }:
			w = v.Unwrap()
		default:
			return nil
		}
	}
}

// Routine marks the request w answers as one a machine makes many times a
// second and reads itself: a forward-auth subrequest from nginx, Traefik or
// Caddy, a health probe. When it succeeds (status below 400), its log line
// drops to debug level, since the proxy or orchestrator that asked logs it
// already and a second write per request costs a forward-auth check about
// 15 % of its throughput (docs/PERFORMANCE.md); and Observe leaves out the
// browser-only security headers (X-Frame-Options, Content-Security-Policy,
// Referrer-Policy, X-Content-Type-Options): a successful forward-auth
// answer has no body and never reaches a browser, the proxy copies only
// the headers it is told to. Its X-Request-Id goes too unless debug
// lines are logged, since it would name a line nobody wrote. A refusal
// keeps all of these, because Traefik and Caddy pass a refusal's answer
// on to the browser. Routine does nothing outside Observe.
func Routine(w http.ResponseWriter) {
	if x := exchangeOf(w); x != nil {
		x.routine = true
	}
}

// baseKeys are the attributes Observe writes itself; Annotate ignores them
// so a handler cannot, say, replace the path with a URL and its query.
var baseKeys = map[string]bool{
	"role": true, "method": true, "path": true, "status": true,
	"latency_ms": true, "request_id": true, "panic": true, "stack": true, "client_gone": true,
}

// Annotate adds attributes to the log line of the request w answers, such
// as chn, aud, result and reason; a key given again replaces its value. It
// does nothing outside Observe. A string value that looks like a compact JWS
// (a handoff token) or an Ory session token is logged as "[redacted]": a
// last guard, not a licence to pass secrets.
func Annotate(w http.ResponseWriter, attrs ...slog.Attr) {
	x := exchangeOf(w)
	if x == nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.attrs == nil {
		x.attrs = make([]slog.Attr, 0, 4) // room for the usual chn, aud, result, reason
	}
next:
	for _, a := range attrs {
		if baseKeys[a.Key] {
			continue
		}
		if a.Value.Kind() == slog.KindString {
			if s := a.Value.String(); looksSecret(s) {
				a.Value = slog.StringValue("[redacted]")
			}
		}
		for i := range x.attrs {
			if x.attrs[i].Key == a.Key {
				x.attrs[i] = a
				continue next
			}
		}
		x.attrs = append(x.attrs, a)
	}
}

// looksSecret spots the two bearer secrets a chain handles: a compact JWS
// ("eyJ" is base64url for `{"`) and an Ory session token.
func looksSecret(s string) bool {
	if i := strings.Index(s, "eyJ"); i >= 0 && strings.Count(s[i:], ".") >= 2 {
		return true
	}
	return strings.Contains(s, "ory_st_")
}

// logPath is the path as logged: clipped, and with any segment that looks
// like a secret redacted. A token belongs in a query or a form and a
// cookie value in a header, but a misconfigured client, or someone
// probing, may put either in the path, and a 404's path is logged as sent.
func logPath(p string) string {
	p = clip(p, 256)
	if !strings.Contains(p, "eyJ") && !strings.Contains(p, "ory_st_") && !hasOpaqueRun(p) {
		return p
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if looksSecret(s) || strings.HasPrefix(s, "eyJ") || hasOpaqueRun(s) {
			segs[i] = "[redacted]"
		}
	}
	return strings.Join(segs, "/")
}

// minOpaqueRun is the shortest run of base64 or hex characters that
// hasOpaqueRun takes for a secret: a sealed cookie half, a session token,
// a CSRF token. Routes and file names are shorter or are words.
const minOpaqueRun = 20

// hasOpaqueRun reports whether s holds a run of at least minOpaqueRun
// characters of the base64 alphabets ('-', '_', '+', '=' and '%' too) that
// mixes digits and letters, or upper and lower case: what random bytes
// look like once encoded, and what a path of words does not.
func hasOpaqueRun(s string) bool {
	n, digit, lower, upper := 0, false, false, false
	for i := 0; i <= len(s); i++ {
		var c byte
		if i < len(s) {
			c = s[i]
		}
		switch {
		case '0' <= c && c <= '9':
			digit = true
		case 'a' <= c && c <= 'z':
			lower = true
		case 'A' <= c && c <= 'Z':
			upper = true
		case c == '-' || c == '_' || c == '+' || c == '=' || c == '%':
		default:
			if n >= minOpaqueRun && (digit && (lower || upper) || lower && upper) {
				return true
			}
			n, digit, lower, upper = 0, false, false, false
			continue
		}
		n++
	}
	return false
}

// redact replaces secrets found in free text (a panic message) word by word.
func redact(s string) string {
	if !strings.Contains(s, "eyJ") && !strings.Contains(s, "ory_st_") {
		return s
	}
	words := strings.Fields(s)
	for i, w := range words {
		if looksSecret(w) || strings.Contains(w, "eyJ") {
			words[i] = "[redacted]"
		}
	}
	return strings.Join(words, " ")
}

// clip bounds an attacker-chosen string before it reaches a log line.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// applyDefaults adds the request id and each security header the handler
// has not set to a response with status code. A Routine request's success
// gets neither, except the id when its log line will be written: an id
// that names no log line matches nothing.
func (x *exchange) applyDefaults(code int) {
	h := x.ResponseWriter.Header()
	quiet := x.quiet(code)
	if !quiet || x.ob.o.Logger.Enabled(x.r.Context(), slog.LevelDebug) {
		x.sendRequestID(h)
	}
	if quiet {
		return
	}
	for i, d := range securityHeaders {
		if _, set := h[d.key]; !set {
			x.hv[i+1] = d.value
			h[d.key] = x.hv[i+1 : i+2 : i+2]
		}
	}
}

// quiet reports whether an answer with status is a Routine success, which
// is logged at debug level and goes without the browser-only headers.
func (x *exchange) quiet(status int) bool { return x.routine && status < 400 }

// sendRequestID puts the request id first in h's X-Request-Id, once,
// before whatever the handler added there; a nil value (the handler
// opting out) sends none.
func (x *exchange) sendRequestID(h http.Header) {
	if x.idSent {
		return
	}
	x.idSent = true
	if v, set := h[HeaderRequestID]; !set || v != nil {
		x.hv[0] = x.requestID()
		h[HeaderRequestID] = append(x.hv[0:1:1], v...)
	}
}

// serveError answers a panicked request that had written nothing. Headers
// the handler set (a cookie, a redirect) are dropped: they belonged to a
// response that never happened.
func (x *exchange) serveError() {
	h := x.ResponseWriter.Header()
	clear(h) // WriteHeader adds the request id and the security headers
	x.idSent = false
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	h["Cache-Control"] = []string{"no-store"}
	x.WriteHeader(http.StatusInternalServerError)
	io.WriteString(x.ResponseWriter, "Internal Server Error\n\nSomething went wrong on our side. If you report it, quote request id "+x.requestID()+".\n")
}

// WriteHeader records the status and applies the security headers before
// the header is sent. 1xx informational answers pass through.
func (x *exchange) WriteHeader(code int) {
	if x.wroteHeader || x.hijacked || (code >= 100 && code < 200 && code != http.StatusSwitchingProtocols) {
		x.ResponseWriter.WriteHeader(code) // net/http reports a superfluous call
		return
	}
	x.wroteHeader = true
	x.status = code
	x.applyDefaults(code)
	x.ResponseWriter.WriteHeader(code)
}

func (x *exchange) Write(p []byte) (int, error) {
	if !x.wroteHeader && !x.hijacked {
		x.WriteHeader(http.StatusOK)
	}
	return x.ResponseWriter.Write(p)
}

// FlushError flushes through to the client (http.ResponseController).
func (x *exchange) FlushError() error {
	if !x.wroteHeader && !x.hijacked {
		x.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(x.ResponseWriter).Flush()
}

// Flush implements http.Flusher, for handlers that assert it.
func (x *exchange) Flush() { _ = x.FlushError() }

// Hijack implements http.Hijacker, for handlers that assert it (WebSocket
// libraries). It fails as the underlying writer does, HTTP/2 for one.
func (x *exchange) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !x.wroteHeader && !x.hijacked {
		// httputil.ReverseProxy writes a proxied upgrade's 101 with this
		// header map after hijacking: it is logged, so it gets the id.
		x.sendRequestID(x.ResponseWriter.Header())
	}
	c, rw, err := http.NewResponseController(x.ResponseWriter).Hijack()
	if err == nil {
		x.hijacked = true
		if !x.wroteHeader {
			x.status = http.StatusSwitchingProtocols
		}
	}
	return c, rw, err
}

// Unwrap lets http.ResponseController reach the writer's other methods
// (deadlines, full duplex).
func (x *exchange) Unwrap() http.ResponseWriter { return x.ResponseWriter }
