// Command soak runs `ssoctl serve dev` on free loopback ports and drives it
// for a while with a few concurrent workers: full logins (the dev IdP's
// form, a handoff through every receiver, /auth with each cookie, logout)
// and hostile requests (garbage, forged, expired, wrong-audience and
// replayed handoffs by GET and POST, open-redirect return_to, tampered
// cookies, wrong methods, oversized tokens and headers). Every request has
// an expected status class; any other answer is counted as unexpected, and
// one is a failure. The server's goroutines (its /metrics go_goroutines)
// and resident memory (/proc/PID/status VmRSS) are sampled after a warm-up
// and at the end, and growth past a bound is a failure too.
//
//	go build -o ssoctl ./cmd/ssoctl && go run ./internal/soak -bin ./ssoctl -duration 60s
//
// scripts/soak.sh wraps it. Exit 0 when clean, 1 on a failure, 2 when the
// soak could not be set up. Host names are dialled through a strict
// chain.Dialer: every role is on 127.0.0.1, and no name reaches DNS.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/publicsuffix"

	"github.com/ssoctl/ssoctl/pkg/chain"
	"github.com/ssoctl/ssoctl/pkg/token"
)

const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	user        = "soak@example.com"
	maxRedirect = 12
)

func main() { os.Exit(run()) }

type options struct {
	bin            string
	duration       time.Duration
	warmup         time.Duration
	workers        int
	maxGoroutines  int
	maxRSSGrowth   int64
	keep           bool
	serverLogLevel string
}

func run() int {
	var o options
	var rssMiB int64
	flag.StringVar(&o.bin, "bin", "", "the ssoctl binary to soak (default: go build ./cmd/ssoctl into a temp dir)")
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "how long to drive the chain after the warm-up")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "load before the first sample, so pools and caches are filled")
	flag.IntVar(&o.workers, "workers", 4, "concurrent workers")
	flag.IntVar(&o.maxGoroutines, "max-goroutine-growth", 50, "fail when the server's goroutines grow by more than this")
	flag.Int64Var(&rssMiB, "max-rss-growth-mib", 64, "fail when the server's RSS grows by more than this many MiB")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (chain file, server log)")
	flag.StringVar(&o.serverLogLevel, "server-log-level", "warn", "the server's --log-level")
	flag.Parse()
	o.maxRSSGrowth = rssMiB << 20
	if flag.NArg() > 0 || o.duration <= 0 || o.workers < 1 {
		fmt.Fprintln(os.Stderr, "usage: soak [-duration 60s] [-workers 4] [-bin PATH]")
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := soak(ctx, o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "soak: %v\n", err)
	}
	return code
}

func soak(ctx context.Context, o options) (int, error) {
	dir, err := os.MkdirTemp("", "ssoctl-soak.")
	if err != nil {
		return exitUsage, err
	}
	if o.keep {
		fmt.Fprintf(os.Stderr, "soak: chain file and server log in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if o.bin == "" {
		o.bin = filepath.Join(dir, "ssoctl")
		build := exec.CommandContext(ctx, "go", "build", "-o", o.bin, "./cmd/ssoctl")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return exitUsage, fmt.Errorf("building ssoctl: %w", err)
		}
	}
	c, err := newChainFile(dir)
	if err != nil {
		return exitUsage, err
	}
	srv, err := startServer(ctx, o, c, dir)
	if err != nil {
		return exitUsage, err
	}
	defer srv.stop()
	s := newSoaker(c, o.workers)
	defer s.transport.CloseIdleConnections()
	if err := s.waitReady(ctx, srv); err != nil {
		return exitUsage, err
	}

	// Warm up, then sample with no client connection held open: each one
	// holds a server goroutine, and the end sample is taken the same way.
	s.drive(ctx, o.warmup, o.workers)
	if ctx.Err() != nil {
		return exitUsage, ctx.Err()
	}
	s.reset()
	startG, startRSS, err := s.sample(ctx, srv, -1)
	if err != nil {
		return exitUsage, err
	}
	began := time.Now()
	s.drive(ctx, o.duration, o.workers)
	elapsed := time.Since(began)
	interrupted := ctx.Err() != nil
	// Let the server wind down connections it is closing (an oversized
	// header's 431 lingers ~500 ms), then sample: the end count may take a
	// few polls, up to 10 s, to fall within the bound. A leak does not
	// fall back, so waiting hides none.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	endG, endRSS, err := s.sample(sctx, srv, startG+o.maxGoroutines)
	if err != nil {
		return exitFailed, err
	}
	if srv.exited() {
		return exitFailed, fmt.Errorf("the server exited during the soak (log: %s)", srv.logPath)
	}

	fails := s.report(os.Stdout, elapsed, startG, endG, startRSS, endRSS, o)
	if n := srv.count("level=ERROR", "panic"); n > 0 {
		fails = append(fails, fmt.Sprintf("the server logged %d errors or panics (log: %s, kept with -keep)", n, srv.logPath))
	}
	if interrupted {
		return exitFailed, errors.New("interrupted")
	}
	if len(fails) > 0 {
		for _, f := range fails {
			fmt.Fprintf(os.Stderr, "soak: FAIL %s\n", f)
		}
		if logs := srv.tail(20); logs != "" {
			fmt.Fprintf(os.Stderr, "soak: the server log's last lines:\n%s", logs)
		}
		return exitFailed, nil
	}
	fmt.Println("soak: ok")
	return exitOK, nil
}

// chainFile is the soak's chain: a dev IdP, an issuer and two receivers,
// each on its own free port and its own registrable domain.
type chainFile struct {
	path                              string
	secret                            []byte
	idp, admin, issuer, portal, board string // origins
	dialMap                           map[string]string
}

func newChainFile(dir string) (*chainFile, error) {
	ports := make([]int, 5)
	var lns []net.Listener
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	for _, ln := range lns {
		ln.Close()
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	c := &chainFile{
		path:    filepath.Join(dir, "chain.yaml"),
		secret:  []byte(hex.EncodeToString(raw)),
		idp:     fmt.Sprintf("http://auth.soak.localhost:%d", ports[0]),
		admin:   fmt.Sprintf("http://auth.soak.localhost:%d", ports[1]),
		issuer:  fmt.Sprintf("http://accounts.soak.localhost:%d", ports[2]),
		portal:  fmt.Sprintf("http://portal.soak2.localhost:%d", ports[3]),
		board:   fmt.Sprintf("http://dashboard.soak3.localhost:%d", ports[4]),
		dialMap: map[string]string{},
	}
	for _, o := range []string{c.idp, c.admin, c.issuer, c.portal, c.board} {
		u, _ := url.Parse(o)
		c.dialMap[u.Host] = "127.0.0.1:" + u.Port()
	}
	yaml := fmt.Sprintf(`version: 1
name: soak
dev: true
idp:
  kind: dev
  public_url: %s
  admin_url: %s
  users:
    - {email: %s, password: %s}
issuer:
  url: %s
  cookie: {name: accounts_session, ttl: 8h}
token:
  alg: HS256
  secret: %s
  ttl: 30s
  leeway: 5s
  transport: query
mode: hub
receivers:
  - name: portal
    url: %s
    cookie: {name: portal_session, ttl: 8h}
  - name: dashboard
    url: %s
    cookie: {name: dashboard_session, ttl: 8h}
return_to:
  allow:
    - %s
    - %s
    - %s
store: {memory: {}}
`, c.idp, c.admin, user, password, c.issuer, c.secret, c.portal, c.board, c.issuer, c.portal, c.board)
	return c, os.WriteFile(c.path, []byte(yaml), 0o600)
}

// password is the dev user's; a soak chain is thrown away after the run.
const password = "soak-password-not-a-secret"

// server is the `ssoctl serve dev` under soak.
type server struct {
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	done    chan struct{}
}

func startServer(ctx context.Context, o options, c *chainFile, dir string) (*server, error) {
	logPath := filepath.Join(dir, "server.log")
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(o.bin, "serve", "dev", "-f", c.path, "--log-level", o.serverLogLevel, "--grace", "2s")
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("starting %s: %w", o.bin, err)
	}
	s := &server{cmd: cmd, logPath: logPath, logFile: lf, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	return s, nil
}

func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, then SIGKILL after 5 s, to the server's process group.
func (s *server) stop() {
	pgid := -s.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-s.done
	}
	s.logFile.Close()
}

// tail is the last n lines of the server's log.
func (s *server) tail(n int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return ""
	}
	lines := strings.SplitAfter(string(b), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}

// count is how many lines of the server's log hold any of subs.
func (s *server) count(subs ...string) int {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return 0
	}
	n := 0
	for line := range strings.Lines(string(b)) {
		for _, sub := range subs {
			if strings.Contains(line, sub) {
				n++
				break
			}
		}
	}
	return n
}

// rss is VmRSS of the server's process, in bytes.
func (s *server) rss() (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS in /proc/PID/status")
}

// soaker holds the client side: one transport whose dialer knows only the
// chain's hosts, the counters, and the keys for forging.
type soaker struct {
	c         *chainFile
	transport *http.Transport
	client    *http.Client // never follows redirects: each hop is checked
	key       *token.Key   // the chain's own secret: well-signed tokens with bad claims
	wrongKey  *token.Key   // another secret: forged signatures

	mu         sync.Mutex
	kinds      map[string]*kindCount
	unexpected []string // the first few, for the report
	nUnexp     atomic.Int64
	nErr       atomic.Int64
	walks      atomic.Int64 // logins that landed, every handoff taken
	logouts    atomic.Int64 // logouts after which every /auth refused
}

type kindCount struct {
	n, unexpected, errs int64
	codes               map[int]int64
}

// kind returns the counts of requests of kind, new ones at first; s.mu
// must be held.
func (s *soaker) kind(kind string) *kindCount {
	k := s.kinds[kind]
	if k == nil {
		k = &kindCount{codes: map[int]int64{}}
		s.kinds[kind] = k
	}
	return k
}

func newSoaker(c *chainFile, workers int) *soaker {
	d := &chain.Dialer{Map: c.dialMap, Strict: true}
	tr := &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConnsPerHost: workers * 2,
		IdleConnTimeout:     30 * time.Second,
	}
	key, err := token.NewHMACKey("", c.secret)
	if err != nil {
		panic(err) // the secret is ours: 64 bytes
	}
	wrong, _ := token.NewHMACKey("", []byte(strings.Repeat("w", 48)))
	return &soaker{
		c: c, transport: tr, key: key, wrongKey: wrong,
		client: &http.Client{Transport: tr, Timeout: 15 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		kinds: map[string]*kindCount{},
	}
}

func (s *soaker) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kinds = map[string]*kindCount{}
	s.unexpected = nil
	s.nUnexp.Store(0)
	s.nErr.Store(0)
	s.walks.Store(0)
	s.logouts.Store(0)
}

func (s *soaker) waitReady(ctx context.Context, srv *server) error {
	deadline := time.Now().Add(20 * time.Second)
	for _, origin := range []string{s.c.idp, s.c.issuer, s.c.portal, s.c.board} {
		for {
			if srv.exited() {
				return fmt.Errorf("ssoctl serve dev exited:\n%s", srv.tail(20))
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, origin+"/healthz", nil)
			resp, err := s.client.Do(req)
			if err == nil {
				resp.Body.Close()
				// The dev IdP has no /healthz: any answer means it listens.
				if resp.StatusCode == http.StatusOK || origin == s.c.idp {
					break
				}
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("%s/healthz did not answer 200 within 20s (last error: %v)", origin, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

// sample reads the server's goroutines from the issuer's /metrics and its
// RSS. With limit ≥ 0 it polls until the count is within limit or ctx ends
// (goroutines of closed connections take a moment to exit).
func (s *soaker) sample(ctx context.Context, srv *server, limit int) (int, int64, error) {
	s.transport.CloseIdleConnections()
	time.Sleep(200 * time.Millisecond)
	var g int
	for {
		var err error
		g, err = s.goroutines(ctx)
		if err != nil {
			return 0, 0, err
		}
		if limit < 0 || g <= limit {
			break
		}
		select {
		case <-ctx.Done():
			goto done
		case <-time.After(250 * time.Millisecond):
		}
	}
done:
	rss, err := srv.rss()
	return g, rss, err
}

func (s *soaker) goroutines(ctx context.Context) (int, error) {
	// A connection of its own, closed after: it is not counted next time.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.c.issuer+"/metrics", nil)
	req.Close = true
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET /metrics: %w", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, errors.New("/metrics has no go_goroutines")
}

// drive runs the workers for d.
func (s *soaker) drive(ctx context.Context, d time.Duration, workers int) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				s.iteration(ctx, i, n)
			}
		})
	}
	wg.Wait()
}

// class is an expected status class: 2 for 2xx, 3 for 3xx, 4 for 4xx; 0
// when the caller checks the answer itself (a walk's hops).
type class int

// do sends req and counts it under kind: an answer outside want is
// unexpected. A transport error is counted as an error unless ctx is done
// (the soak's end cuts requests short). The body is read and returned.
func (s *soaker) do(ctx context.Context, kind string, want class, req *http.Request) (*http.Response, []byte) {
	resp, err := s.client.Do(req.WithContext(ctx))
	var body []byte
	if err == nil {
		body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
	}
	if ctx.Err() != nil {
		return nil, nil // not counted: the run ended mid-request
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.kind(kind)
	k.n++
	if err != nil {
		k.errs++
		s.nErr.Add(1)
		s.note(fmt.Sprintf("%s %s %s: %v", kind, req.Method, redactURL(req.URL), err))
		return nil, nil
	}
	k.codes[resp.StatusCode]++
	if want != 0 && class(resp.StatusCode/100) != want {
		k.unexpected++
		s.nUnexp.Add(1)
		s.note(fmt.Sprintf("%s %s %s: %d, want %dxx", kind, req.Method, redactURL(req.URL), resp.StatusCode, want))
	}
	return resp, body
}

func (s *soaker) note(msg string) {
	if len(s.unexpected) < 10 {
		s.unexpected = append(s.unexpected, msg)
	}
}

// redactURL drops the query: it may hold a token.
func redactURL(u *url.URL) string {
	c := *u
	if c.RawQuery != "" {
		c.RawQuery = "…"
	}
	return c.String()
}

func get(rawURL string) *http.Request {
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		panic(err)
	}
	return req
}

func postForm(rawURL string, v url.Values) *http.Request {
	req, err := http.NewRequest(http.MethodPost, rawURL, strings.NewReader(v.Encode()))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

// browser is one worker's walk: a jar, and the handoff URLs it saw.
type browser struct {
	s        *soaker
	jar      *cookiejar.Jar
	handoffs []string
}

// send sends req with the jar's cookies and stores what it sets.
func (b *browser) send(ctx context.Context, kind string, want class, req *http.Request) (*http.Response, []byte) {
	for _, c := range b.jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	resp, body := b.s.do(ctx, kind, want, req)
	if resp != nil {
		if rc := resp.Cookies(); len(rc) > 0 {
			b.jar.SetCookies(req.URL, rc)
		}
	}
	return resp, body
}

// follow sends req and follows redirects (each hop a 3xx) to a page that
// must answer 2xx. It returns the final URL and body, "" when the walk
// broke (already counted).
func (b *browser) follow(ctx context.Context, kind string, req *http.Request) (*url.URL, []byte) {
	for range maxRedirect {
		if strings.HasSuffix(req.URL.Path, chain.SSOPath) && req.URL.Query().Has(chain.TokenParam) {
			b.handoffs = append(b.handoffs, req.URL.String())
		}
		resp, body := b.send(ctx, kind, 0, req) // class checked below
		if resp == nil {
			return nil, nil
		}
		loc := resp.Header.Get("Location")
		if resp.StatusCode/100 == 3 && loc != "" {
			next, err := req.URL.Parse(loc)
			if err != nil {
				b.s.fail(kind, "bad Location %q", loc)
				return nil, nil
			}
			req = get(next.String())
			continue
		}
		if resp.StatusCode/100 != 2 {
			b.s.fail(kind, "%s %s: %d in a valid walk", req.Method, redactURL(req.URL), resp.StatusCode)
			return nil, nil
		}
		return req.URL, body
	}
	b.s.fail(kind, "more than %d redirects", maxRedirect)
	return nil, nil
}

// fail counts a walk that went wrong where do left the check to its
// caller (class 0).
func (s *soaker) fail(kind, format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.kind(kind)
	k.unexpected++
	s.nUnexp.Add(1)
	s.note(kind + ": " + fmt.Sprintf(format, args...))
}

// iteration is one login walk, the hostile requests that use what it left
// (its handoffs to replay, its cookie to tamper with), the stateless hostile
// requests, and logout.
func (s *soaker) iteration(ctx context.Context, worker, n int) {
	jar, _ := cookiejar.New(&cookiejar.Options{PublicSuffixList: publicsuffix.List})
	b := &browser{s: s, jar: jar}
	final := s.c.board + "/"
	start := get(s.c.issuer + chain.LoginPath + "?" + url.Values{chain.ReturnToParam: {final}}.Encode())
	if !b.login(ctx, start, final) {
		return
	}
	s.walks.Add(1)
	b.send(ctx, "auth", 2, get(s.c.portal+"/auth"))
	b.send(ctx, "auth", 2, get(s.c.board+"/auth"))
	b.send(ctx, "auth", 2, get(s.c.portal+"/whoami"))

	// Replays of this walk's handoffs: each jti was consumed.
	for _, h := range b.handoffs {
		s.do(ctx, "sso-replayed", 4, get(h))
		u, _ := url.Parse(h)
		q := u.Query()
		u.RawQuery = ""
		s.do(ctx, "sso-replayed", 4, postForm(u.String(), url.Values{chain.TokenParam: {q.Get(chain.TokenParam)}}))
	}
	// A tampered copy of portal's cookie, in a jar of its own.
	if pu, _ := url.Parse(s.c.portal); pu != nil {
		for _, c := range jar.Cookies(pu) {
			if c.Name != "portal_session" {
				continue
			}
			req := get(s.c.portal + "/auth")
			req.AddCookie(&http.Cookie{Name: c.Name, Value: tamper(c.Value)})
			s.do(ctx, "auth-tampered", 4, req)
		}
	}
	s.hostile(ctx, worker, n)

	// Logout everywhere, then the receivers' /auth must refuse the cookies.
	if _, body := b.follow(ctx, "logout", get(s.c.issuer+chain.LogoutPath)); body == nil {
		return
	}
	r1, _ := b.send(ctx, "auth-after-logout", 4, get(s.c.portal+"/auth"))
	r2, _ := b.send(ctx, "auth-after-logout", 4, get(s.c.board+"/auth"))
	if r1 != nil && r2 != nil && r1.StatusCode/100 == 4 && r2.StatusCode/100 == 4 {
		s.logouts.Add(1)
	}
}

// login starts at the issuer, signs in at the dev IdP's form and follows
// the handoffs to final.
func (b *browser) login(ctx context.Context, start *http.Request, final string) bool {
	u, body := b.follow(ctx, "walk", start)
	if body == nil {
		return false
	}
	f, ok := findForm(body, "password")
	if !ok {
		b.s.fail("walk", "no login form at %s", redactURL(u))
		return false
	}
	f.values.Set("email", user)
	f.values.Set("password", password)
	action, err := u.Parse(f.action)
	if err != nil {
		b.s.fail("walk", "bad form action %q", f.action)
		return false
	}
	// The form's POST is a hop too: follow sends GETs after it.
	resp, _ := b.send(ctx, "walk", 3, postForm(action.String(), f.values))
	if resp == nil || resp.StatusCode/100 != 3 {
		return false
	}
	next, err := action.Parse(resp.Header.Get("Location"))
	if err != nil {
		b.s.fail("walk", "bad Location after login")
		return false
	}
	landed, body := b.follow(ctx, "walk", get(next.String()))
	if body == nil {
		return false
	}
	if landed.String() != final {
		b.s.fail("walk", "landed on %s, want %s", redactURL(landed), final)
		return false
	}
	if len(b.handoffs) != 2 {
		b.s.fail("walk", "%d handoffs, want 2 (one per receiver)", len(b.handoffs))
		return false
	}
	return true
}

// hostile sends requests that must all be refused with a 4xx: they need no
// session.
func (s *soaker) hostile(ctx context.Context, worker, n int) {
	now := time.Now()
	mint := func(key *token.Key, aud string, ttl time.Duration, at time.Time) string {
		tok, _, err := token.Mint(key, token.MintOptions{Issuer: s.c.issuer, Audience: aud,
			Subject: "soak", SessionID: "soak-session", TTL: ttl, Now: func() time.Time { return at }})
		if err != nil {
			panic(err)
		}
		return tok
	}
	tokens := map[string]string{
		"sso-garbage":   "not-a-token",
		"sso-forged":    mint(s.wrongKey, "portal", 30*time.Second, now),
		"sso-wrong-aud": mint(s.key, "dashboard", 30*time.Second, now),
		"sso-expired":   mint(s.key, "portal", 30*time.Second, now.Add(-10*time.Minute)),
		"sso-alg-none":  algNone(s.c.issuer),
		"sso-oversized": mint(s.key, "portal", 30*time.Second, now) + strings.Repeat("A", 16<<10),
	}
	for _, kind := range slices.Sorted(maps.Keys(tokens)) {
		tok := tokens[kind]
		s.do(ctx, kind, 4, get(s.c.portal+chain.SSOPath+"?"+url.Values{chain.TokenParam: {tok}}.Encode()))
		s.do(ctx, kind, 4, postForm(s.c.portal+chain.SSOPath, url.Values{chain.TokenParam: {tok}}))
	}
	s.do(ctx, "sso-missing", 4, get(s.c.board+chain.SSOPath))

	for _, rt := range []string{
		"https://evil.example/", "//evil.example/", "https:evil.example", "javascript:alert(1)",
		s.c.portal + "@evil.example/", "http://evil.example\\@" + strings.TrimPrefix(s.c.portal, "http://"),
		s.c.portal + "/%0d%0aSet-Cookie:x=1", "http://portal.soak2.localhost.evil.example/",
	} {
		s.do(ctx, "login-open-redirect", 4, get(s.c.issuer+chain.LoginPath+"?"+url.Values{chain.ReturnToParam: {rt}}.Encode()))
	}

	for _, v := range []string{"garbage", "", strings.Repeat("x", 4096), "a.b.c", base64.RawURLEncoding.EncodeToString([]byte(`{"sid":"x"}`))} {
		req := get(s.c.portal + "/auth")
		req.Header.Set("Cookie", "portal_session="+v)
		s.do(ctx, "auth-forged-cookie", 4, req)
	}

	for _, m := range []struct{ method, url string }{
		{http.MethodDelete, s.c.portal + chain.SSOPath},
		{http.MethodPut, s.c.board + chain.SSOPath},
		{http.MethodPost, s.c.issuer + chain.LoginPath},
		{http.MethodPost, s.c.issuer + chain.ContinuePath},
		{http.MethodDelete, s.c.issuer + "/callback"},
	} {
		req, _ := http.NewRequest(m.method, m.url, nil)
		s.do(ctx, "wrong-method", 4, req)
	}

	// Headers: 64 KiB of cookies is under net/http's 1 MiB limit and must
	// still be refused as no session; past the limit, 431. The oversized
	// request goes on a connection of its own (the server closes it).
	req := get(s.c.board + "/auth")
	req.Header.Set("Cookie", "dashboard_session="+strings.Repeat("y", 64<<10))
	s.do(ctx, "big-header", 4, req)
	if n%4 == worker%4 {
		req := get(s.c.board + "/auth")
		req.Close = true
		req.Header.Set("X-Soak-Padding", strings.Repeat("z", 1<<20+8<<10))
		s.do(ctx, "oversized-header", 4, req)
	}
}

// tamper flips one character in the middle of v.
func tamper(v string) string {
	if v == "" {
		return "x"
	}
	b := []byte(v)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func algNone(iss string) string {
	enc := base64.RawURLEncoding.EncodeToString
	now := time.Now().Unix()
	return enc([]byte(`{"alg":"none","typ":"sso-handoff+jwt"}`)) + "." +
		enc(fmt.Appendf(nil, `{"iss":%q,"aud":"portal","sub":"soak","sid":"s","jti":"%d","iat":%d,"exp":%d}`, iss, now, now, now+30)) + "."
}

// form is an HTML form's action and its fields' values.
type form struct {
	action string
	values url.Values
}

// findForm returns the first form with a field named field.
func findForm(body []byte, field string) (form, bool) {
	doc, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		return form{}, false
	}
	var found *form
	var walk func(n *html.Node, cur *form)
	walk = func(n *html.Node, cur *form) {
		if found != nil {
			return
		}
		if n.Type == html.ElementNode && n.Data == "form" {
			cur = &form{action: attr(n, "action"), values: url.Values{}}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c, cur)
			}
			if cur.values.Has(field) {
				found = cur
			}
			return
		}
		if cur != nil && n.Type == html.ElementNode && (n.Data == "input" || n.Data == "button") && attr(n, "name") != "" {
			cur.values.Set(attr(n, "name"), attr(n, "value"))
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, cur)
		}
	}
	walk(doc, nil)
	if found == nil {
		return form{}, false
	}
	return *found, true
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// report prints the summary table and returns the failures.
func (s *soaker) report(w io.Writer, elapsed time.Duration, g0, g1 int, r0, r1 int64, o options) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "kind\trequests\tunexpected\terrors\t  statuses\n")
	var total, unexp, errs int64
	for _, k := range slices.Sorted(maps.Keys(s.kinds)) {
		c := s.kinds[k]
		var codes []string
		for _, code := range slices.Sorted(maps.Keys(c.codes)) {
			codes = append(codes, fmt.Sprintf("%d×%d", code, c.codes[code]))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t  %s\n", k, c.n, c.unexpected, c.errs, strings.Join(codes, " "))
		total += c.n
		unexp += c.unexpected
		errs += c.errs
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%d\t  \n", total, unexp, errs)
	tw.Flush()
	mib := func(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	fmt.Fprintf(w, "\nduration     %s, %d workers\n", elapsed.Round(time.Millisecond), o.workers)
	fmt.Fprintf(w, "req/s        %.0f\n", float64(total)/elapsed.Seconds())
	fmt.Fprintf(w, "walks        %d logins through every receiver, %d logouts\n", s.walks.Load(), s.logouts.Load())
	fmt.Fprintf(w, "goroutines   %d → %d (%+d; bound +%d)\n", g0, g1, g1-g0, o.maxGoroutines)
	fmt.Fprintf(w, "RSS          %s → %s (%+.1f MiB; bound +%d MiB)\n", mib(r0), mib(r1), float64(r1-r0)/(1<<20), o.maxRSSGrowth>>20)
	for _, u := range s.unexpected {
		fmt.Fprintf(w, "  unexpected: %s\n", u)
	}
	var fails []string
	if unexp > 0 {
		fails = append(fails, fmt.Sprintf("%d unexpected statuses", unexp))
	}
	if errs > 0 {
		fails = append(fails, fmt.Sprintf("%d requests failed without an answer", errs))
	}
	if s.walks.Load() == 0 || s.logouts.Load() == 0 {
		fails = append(fails, "no login walk and logout completed")
	}
	if g1-g0 > o.maxGoroutines {
		fails = append(fails, fmt.Sprintf("goroutines grew by %d (bound %d)", g1-g0, o.maxGoroutines))
	}
	if r1-r0 > o.maxRSSGrowth {
		fails = append(fails, fmt.Sprintf("RSS grew by %s (bound %d MiB)", mib(r1-r0), o.maxRSSGrowth>>20))
	}
	return fails
}
