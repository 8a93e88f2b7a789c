// Package redistest runs a real redis-server for ssoctl's tests, through
// scripts/redis.sh: one per test, on a free loopback port, with a temporary
// working directory and nothing kept on disk. No in-process fake stands in
// for it, so expiry, NX and pub/sub are Redis's own.
//
// When redis-server is not installed the test is skipped, except under CI
// (CI=true), where scripts/redis.sh installs Debian's package and any
// failure fails the test with the reason; -short skips it without trying.
package redistest

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/testenv"
)

// Server is one running redis-server.
type Server struct {
	// URL is redis://127.0.0.1:PORT/0; it stays the same across Stop and
	// Restart.
	URL    string
	dir    string
	script string
	verb   string   // scripts/redis.sh's verb that starts it: start, replica, sentinel, node
	args   []string // after DIR
	env    []string // REDIS_PASSWORD, empty for none
}

// Start starts a redis-server, stops it when the test ends and returns its
// URL.
func Start(t testing.TB) string {
	t.Helper()
	return StartServer(t).URL
}

// StartServer is Start for a test that also stops and restarts Redis.
func StartServer(t testing.TB) *Server {
	t.Helper()
	return startServer(t, "start", nil, "")
}

// startServer runs scripts/redis.sh verb DIR args..., with a password
// when not "", skipping or failing the test as Start does.
func startServer(t testing.TB, verb string, args []string, password string) *Server {
	t.Helper()
	s := newServer(t, t.TempDir(), verb, args, password)
	s.URL = s.start(t)
	return s
}

// newServer is a server in dir that verb starts, once the test may run
// one: it skips as Start does.
func newServer(t testing.TB, dir, verb string, args []string, password string) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("redistest: -short: not starting a real redis-server")
	}
	if _, err := exec.LookPath("redis-server"); err != nil && !testenv.CI() {
		t.Skip("redistest: redis-server is not installed (./scripts/redis.sh install); a failure under CI=true")
	}
	return &Server{
		dir: dir, script: filepath.Join(testenv.RepoRoot(t), "scripts", "redis.sh"),
		verb: verb, args: args, env: []string{"REDIS_PASSWORD=" + password},
	}
}

// start runs the server's verb, stops it when the test ends and returns
// what the script printed. It skips the test on a failure, but under CI,
// where it fails it.
func (s *Server) start(t testing.TB) string {
	t.Helper()
	out, err := s.run(s.verb)
	if err != nil {
		msg := fmt.Sprintf("redistest: %v", err)
		if !testenv.CI() {
			t.Skip(msg + "\n(a failure under CI=true)")
		}
		t.Fatal(msg)
	}
	t.Cleanup(func() {
		if _, err := s.run("stop"); err != nil {
			t.Errorf("redistest: %v", err)
		}
	})
	return out
}

// Addr is the server's host:port.
func (s *Server) Addr() string {
	u, err := url.Parse(s.URL)
	if err != nil {
		return ""
	}
	return u.Host
}

// Stop stops Redis, as a crash or an outage would; clients see their
// connections refused until Restart.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if _, err := s.run("stop"); err != nil {
		t.Fatalf("redistest: %v", err)
	}
}

// Restart starts Redis again on the same port after Stop. It comes back
// empty: the server keeps nothing on disk.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	out, err := s.run(s.verb)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	if out != s.URL {
		t.Fatalf("redistest: restarted at %s, want %s", out, s.URL)
	}
}

// Pause freezes the server (SIGSTOP) without closing anything, as a wedged
// Redis or a network that drops packets would: connections stay open and
// nothing answers until Resume, which the end of the test calls too.
func (s *Server) Pause(t testing.TB) {
	t.Helper()
	s.signal(t, syscall.SIGSTOP)
	t.Cleanup(func() { _ = s.signalErr(syscall.SIGCONT) })
}

// Resume lets a paused server go on (SIGCONT).
func (s *Server) Resume(t testing.TB) {
	t.Helper()
	s.signal(t, syscall.SIGCONT)
}

func (s *Server) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := s.signalErr(sig); err != nil {
		t.Fatalf("redistest: %v", err)
	}
}

func (s *Server) signalErr(sig syscall.Signal) error {
	b, err := os.ReadFile(filepath.Join(s.dir, "redis.pid"))
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("%s: %v", filepath.Join(s.dir, "redis.pid"), err)
	}
	return syscall.Kill(pid, sig)
}

// Log is what redis-server has logged so far, for a failing test to show.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	return string(b)
}

// run calls scripts/redis.sh verb DIR (and the server's arguments, for
// the verb that starts it) and returns its stdout's last line.
func (s *Server) run(verb string) (string, error) {
	// Installing from Debian's mirrors under CI can take a minute.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := []string{verb, s.dir}
	if verb == s.verb {
		args = append(args, s.args...)
	}
	cmd := exec.CommandContext(ctx, s.script, args...)
	cmd.Env = append(os.Environ(), s.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("scripts/redis.sh %s: %v\n%s", verb, err, stderr.String())
	}
	out := strings.TrimSpace(stdout.String())
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	return out, nil
}
