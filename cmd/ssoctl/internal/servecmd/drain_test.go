package servecmd

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
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

	began := time.Now()
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve dev after a second SIGTERM = %v, want a clean stop", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve dev still running 20s after a second SIGTERM; its drain delay is a minute")
	}
	t.Logf("stopped %s after the second SIGTERM", time.Since(began).Round(time.Millisecond))
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
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve dev after cancel = %v, want a clean stop", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve dev did not stop")
	}
	if logs := ios.ErrOut.(interface{ String() string }).String(); strings.Contains(logs, "draining") || !strings.Contains(logs, "shutting down: no new connections") {
		t.Errorf("logs of a stop without a drain delay:\n%s", logs)
	}
}
