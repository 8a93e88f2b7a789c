package servecmd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/internal/testenv"
)

// get asks url on a connection of its own and returns the status, the body
// and whether the server said it will close the connection.
func get(t *testing.T, url string) (int, string, bool, error) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: false}}
	defer c.CloseIdleConnections()
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", false, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Close, nil
}

// A real SIGTERM with --drain-delay: every role's /readyz turns 503
// "shutting down" while the roles go on serving, each connection closing
// after its response; a second SIGTERM ends the delay, long before it
// would have run out, and the process stops cleanly. No other test of this
// package runs in parallel, so the signals reach this run only.
func TestServeDevDrainsOnSIGTERM(t *testing.T) {
	p := freePorts(t, 5)
	f, ios := testFactory()
	opts := &DevOptions{IO: ios, f: f, common: common{File: writeChain(t, p), LogFormat: "text", LogLevel: "info",
		Grace: time.Second, DrainDelay: time.Minute}}
	done := startDev(t, context.Background(), opts)
	portal := fmt.Sprintf("http://127.0.0.1:%d", p[3])
	issuer := fmt.Sprintf("http://127.0.0.1:%d", p[2])
	if code, body, _, err := get(t, portal+"/readyz"); err != nil || code != http.StatusOK {
		t.Fatalf("portal /readyz before SIGTERM = %d %q %v, want 200", code, body, err)
	}

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body, closing, err := get(t, portal+"/readyz")
		if err == nil && code == http.StatusServiceUnavailable {
			if body != "shutting down\n" || !closing {
				t.Errorf("portal /readyz while draining = %d %q, connection closing %v; want 503 \"shutting down\" and Connection: close", code, body, closing)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("portal /readyz 5s after SIGTERM = %d %q %v, want 503", code, body, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Still serving, on new connections: only readiness changed.
	for _, tc := range []struct{ url, want string }{
		{issuer + "/readyz", "shutting down\n"},
		{issuer + "/healthz", "ok\n"},
		{portal + "/healthz", "ok\n"},
	} {
		code, body, closing, err := get(t, tc.url)
		if err != nil || body != tc.want || !closing {
			t.Errorf("%s while draining = %d %q (closing %v, %v), want %q on a connection that closes", tc.url, code, body, closing, err, tc.want)
		}
	}
	select {
	case err := <-done:
		t.Fatalf("serve dev stopped during its drain delay: %v", err)
	default:
	}

	secondSignalStops(t, done, 20*time.Second, "serve dev", "its drain delay is a minute")
	if _, _, _, err := get(t, portal+"/healthz"); err == nil {
		t.Error("portal still answers after the stop")
	}
	logs := ios.ErrOut.(interface{ String() string }).String()
	for _, want := range []string{"draining: /readyz answers 503", "drain_delay=1m0s", "second signal: the drain delay ends now", "shut down: every request finished", "reason=shutting_down"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q:\n%s", want, logs)
		}
	}
}

// Without --drain-delay the listeners close at once, as before: the first
// cancel stops the run, and no drain is logged.
func TestServeDevWithoutDrainDelayStopsAtOnce(t *testing.T) {
	p := freePorts(t, 5)
	f, ios := testFactory()
	opts := &DevOptions{IO: ios, f: f, common: common{File: writeChain(t, p), LogFormat: "text", LogLevel: "info", Grace: time.Second}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := startDev(t, ctx, opts)
	cancel()
	stopsCleanly(t, done, 5*time.Second, "serve dev after cancel")
	if logs := ios.ErrOut.(interface{ String() string }).String(); strings.Contains(logs, "draining") || !strings.Contains(logs, "shutting down: no new connections") {
		t.Errorf("logs of a stop without a drain delay:\n%s", logs)
	}
}

// A signal during the grace period closes what is still in flight instead
// of waiting the grace out: the operator who presses Ctrl-C twice gets the
// prompt back. The log says the requests were cut short.
func TestSignalDuringGraceCutsRequestsShort(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release // a request that would outlast the grace
	})
	srv := &server{role: "slow", listen: "127.0.0.1:0", h: h}
	logs := &testenv.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []*server{srv}, &common{Grace: time.Minute}, log, nil,
			func(s []*server) { addr <- s[0].ln.Addr().String() })
	}()
	url := "http://" + <-addr + "/"
	inFlight := make(chan error, 1)
	go func() {
		_, _, _, err := get(t, url)
		inFlight <- err
	}()
	<-entered

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "shutting down: no new connections") {
		if time.Now().After(deadline) {
			t.Fatalf("no shutdown 5s after SIGTERM:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("run returned with a request in flight and a minute of grace left: %v", err)
	case <-time.After(200 * time.Millisecond):
	}

	// A stop without error: the operator asked for it.
	secondSignalStops(t, done, 10*time.Second, "run", "its grace is a minute")
	if err := <-inFlight; err == nil {
		t.Error("the request in flight got an answer; its connection should have been closed")
	}
	for _, want := range []string{"another signal: closing the connections", "requests in flight were cut short"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), "every request finished") {
		t.Errorf("the log says every request finished:\n%s", logs.String())
	}
}

// secondSignalStops sends this process a second SIGTERM and wants what
// (whose done channel this is) to stop without error within limit, which
// is well short of why, the wait it would otherwise sit out.
func secondSignalStops(t *testing.T, done <-chan error, limit time.Duration, what, why string) {
	t.Helper()
	began := time.Now()
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopsCleanly(t, done, limit, what+" after a second SIGTERM ("+why+")")
	t.Logf("stopped %s after the second SIGTERM", time.Since(began).Round(time.Millisecond))
}

// stopsCleanly wants the run whose done channel this is (what says which,
// and after what) to end without error within limit.
func stopsCleanly(t *testing.T, done <-chan error, limit time.Duration, what string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%s = %v, want a clean stop", what, err)
		}
	case <-time.After(limit):
		t.Fatalf("%s: still running after %s", what, limit)
	}
}
