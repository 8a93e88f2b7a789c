package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/audits"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/ssoctl/ssoctl/internal/testenv"
)

// browserTimeout bounds everything one test does in its browser, from
// launch to the last screenshot.
const browserTimeout = 60 * time.Second

// browser is one headless Chromium for one test, and what it saw: every
// main-frame document request (with redirects), the main frame's
// navigations and the console.
type browser struct {
	t   *testing.T
	ctx context.Context // the tab, under browserTimeout

	mu        sync.Mutex
	changed   chan struct{}             // closed and replaced whenever something is recorded
	closed    bool                      // the test is over: log nothing more
	pending   map[network.RequestID]hop // method and URL of a document request in flight
	hops      []hop
	navigated []string // main-frame URLs, in order
	loaded    bool     // the last main-frame navigation fired its load event
	console   []consoleEntry
}

// hop is one document request of the main frame, as the browser saw it.
type hop struct {
	Method string
	URL    string // a handoff token in the query is redacted
	Status int64  // 0: the request failed (Error says why)
	Error  string
}

func (h hop) String() string {
	if h.Status == 0 {
		return fmt.Sprintf("%s %s: %s", h.Method, h.URL, h.Error)
	}
	return fmt.Sprintf("%s %s %d", h.Method, h.URL, h.Status)
}

// consoleEntry is one console message, uncaught exception or DevTools
// issue.
type consoleEntry struct {
	Source string // "security", "javascript", "network", "console", "exception", "issue", …
	Level  string
	Text   string
	URL    string
}

// CSP reports whether the entry is a Content-Security-Policy violation.
func (e consoleEntry) CSP() bool {
	return strings.Contains(e.Text, "Content Security Policy") || strings.HasPrefix(e.Text, "ContentSecurityPolicyIssue")
}

func (e consoleEntry) String() string {
	s := fmt.Sprintf("[%s %s] %s", e.Source, e.Level, e.Text)
	if e.URL != "" {
		s += " (" + redactURL(e.URL) + ")"
	}
	return s
}

// newBrowser starts headless Chromium for t with hosts resolved to
// 127.0.0.1 and every other name unresolvable, so nothing leaves the
// machine. Cleanup closes the browser and waits for its process to exit.
func newBrowser(t *testing.T, hosts []string, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	exe := chromiumPath(t)
	profile := t.TempDir() // before the cancels: removed after Chromium exits

	var rules []string
	for _, h := range hosts {
		rules = append(rules, "MAP "+h+" 127.0.0.1")
	}
	rules = append(rules, "MAP * ~NOTFOUND")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1024, 768),
		chromedp.Flag("host-resolver-rules", strings.Join(rules, ", ")),
		// A proxy from the environment would see the *.localhost names.
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
	}
	opts = append(opts, extra...)
	b := &browser{t: t, changed: make(chan struct{}), pending: map[network.RequestID]hop{}}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithErrorf(b.logf), chromedp.WithLogf(b.logf))
	// Chromium lives as long as the context of the first Run, so that is
	// tabCtx itself; the timeout bounds the test's actions, not the
	// browser. The launch has chromedp's own limit (20 s to say where its
	// DevTools listen).
	ctx, cancelTimeout := context.WithTimeout(tabCtx, browserTimeout)
	t.Cleanup(func() {
		cancelTimeout()
		// A graceful close lets Chromium finish writing its profile
		// before t.TempDir's cleanup removes it; killing it (what
		// cancelTab alone does) leaves child processes writing there.
		closed := make(chan error, 1)
		go func() { closed <- chromedp.Cancel(tabCtx) }()
		select {
		case err := <-closed:
			if err != nil {
				t.Logf("close Chromium: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Logf("Chromium did not close within 10s; killing it")
		}
		cancelTab()
		cancelAlloc() // kills Chromium if it is still there, and waits for it
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
	})
	b.ctx = ctx
	chromedp.ListenTarget(tabCtx, b.record)

	start := time.Now()
	// The first Run launches the browser. Audits reports CSP violations
	// as issues, besides the console's messages.
	if err := chromedp.Run(tabCtx, audits.Enable()); err != nil {
		t.Fatalf("start Chromium (%s): %v", exe, err)
	}
	t.Logf("Chromium %s started in %s", exe, time.Since(start).Round(time.Millisecond))
	return b
}

// logf takes chromedp's own messages (protocol errors, events it cannot
// decode) into the test's log while the test runs.
func (b *browser) logf(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.t.Logf("chromedp: "+format, args...)
	}
}

// record is the tab's event listener. It runs on chromedp's event loop,
// so it only records and never blocks.
func (b *browser) record(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if ev.Type != network.ResourceTypeDocument {
			return
		}
		if r := ev.RedirectResponse; r != nil {
			b.hops = append(b.hops, hop{Method: b.pending[ev.RequestID].Method, URL: redactURL(r.URL), Status: r.Status})
		}
		b.pending[ev.RequestID] = hop{Method: ev.Request.Method, URL: redactURL(ev.Request.URL)}
	case *network.EventResponseReceived:
		if ev.Type != network.ResourceTypeDocument {
			return
		}
		b.hops = append(b.hops, hop{Method: b.pending[ev.RequestID].Method, URL: redactURL(ev.Response.URL), Status: ev.Response.Status})
	case *network.EventLoadingFailed:
		if ev.Type != network.ResourceTypeDocument {
			return
		}
		reason := ev.ErrorText
		if ev.BlockedReason != "" {
			reason += " (blocked: " + ev.BlockedReason.String() + ")"
		}
		h := b.pending[ev.RequestID]
		h.Error = reason
		b.hops = append(b.hops, h)
	case *page.EventFrameNavigated:
		if ev.Frame.ParentID != "" {
			return
		}
		b.navigated = append(b.navigated, ev.Frame.URL)
		b.loaded = false
	case *page.EventLoadEventFired:
		b.loaded = true
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range ev.Args {
			switch {
			case a.Description != "":
				parts = append(parts, a.Description)
			case len(a.Value) > 0:
				parts = append(parts, string(a.Value))
			}
		}
		b.console = append(b.console, consoleEntry{Source: "console", Level: ev.Type.String(), Text: strings.Join(parts, " ")})
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		b.console = append(b.console, consoleEntry{Source: "exception", Level: "error", Text: text, URL: d.URL})
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		b.console = append(b.console, consoleEntry{Source: e.Source.String(), Level: e.Level.String(), Text: e.Text, URL: e.URL})
	case *audits.EventIssueAdded:
		if ev.Issue.Code != audits.InspectorIssueCodeContentSecurityPolicyIssue {
			return
		}
		text := "ContentSecurityPolicyIssue"
		var at string
		if d := ev.Issue.Details; d != nil && d.ContentSecurityPolicyIssueDetails != nil {
			c := d.ContentSecurityPolicyIssueDetails
			text += fmt.Sprintf(": %s violates %q", c.ContentSecurityPolicyViolationType, c.ViolatedDirective)
			at = c.BlockedURL
		}
		b.console = append(b.console, consoleEntry{Source: "issue", Level: "error", Text: text, URL: at})
	default:
		return
	}
	close(b.changed)
	b.changed = make(chan struct{})
}

// waitFor blocks until done holds (it runs with b's lock held, on b's
// fields) or the browser's deadline passes, which fails the test.
func (b *browser) waitFor(what string, done func() bool) {
	b.t.Helper()
	for {
		b.mu.Lock()
		ok, changed := done(), b.changed
		b.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-b.ctx.Done():
			b.t.Fatalf("waiting for %s: %v\n%s", what, b.ctx.Err(), b.report())
		}
	}
}

// Hops returns the document requests so far.
func (b *browser) Hops() []hop {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]hop(nil), b.hops...)
}

// Console returns the console so far.
func (b *browser) Console() []consoleEntry {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]consoleEntry(nil), b.console...)
}

// report is what the browser saw, for a failure message.
func (b *browser) report() string {
	var s strings.Builder
	s.WriteString("the browser's document requests:\n")
	for _, h := range b.Hops() {
		fmt.Fprintf(&s, "  %s\n", h)
	}
	if c := b.Console(); len(c) > 0 {
		s.WriteString("its console:\n")
		for _, e := range c {
			fmt.Fprintf(&s, "  %s\n", e)
		}
	}
	return s.String()
}

// screenshot saves the viewport as dir/name.png and returns the path.
func (b *browser) screenshot(dir, name string) string {
	b.t.Helper()
	var png []byte
	if err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot(&png)); err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return path
}

var (
	tokenParam = regexp.MustCompile(`([?&](?:token|logout_token)=)[^&#]*`)
	stateParam = regexp.MustCompile(`((?:[?&]|%3F|%26)state(?:=|%3D)[^&#%]{8})[^&#%]*`)
)

// redactURL hides a handoff token carried in a URL's query, and shortens
// the issuer's sealed state (which holds nothing a log needs).
func redactURL(raw string) string {
	raw = tokenParam.ReplaceAllString(raw, "${1}REDACTED")
	return stateParam.ReplaceAllString(raw, "${1}…")
}

var chromium struct {
	once sync.Once
	path string
	err  error
}

// chromiumPath returns the Chromium to drive: $SSOCTL_CHROMIUM, else what
// scripts/chromium.sh prints (it installs Chromium when none is on PATH).
// Without one the test skips, or fails when CI is true: CI must run the
// browser tests, not skip them quietly.
func chromiumPath(t *testing.T) string {
	t.Helper()
	chromium.once.Do(func() { chromium.path, chromium.err = findChromium(testenv.RepoRoot(t)) })
	if chromium.err != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatalf("no Chromium for the browser tests: %v", chromium.err)
		}
		t.Skipf("no Chromium for the browser tests: %v", chromium.err)
	}
	return chromium.path
}

func findChromium(root string) (string, error) {
	if p := os.Getenv("SSOCTL_CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err == nil {
			return p, nil
		}
		// scripts/chromium.sh says SSOCTL_CHROMIUM is no good and looks on.
	}
	// An install downloads a few hundred megabytes.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "chromium.sh"))
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", errors.New(msg)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	path := strings.TrimSpace(lines[len(lines)-1])
	if path == "" {
		return "", errors.New("scripts/chromium.sh printed no path")
	}
	return path, nil
}

// outputDir is where a test's screenshots go, emptied first:
// $SSOCTL_TEST_OUTPUT/browser/<test>/, or <repo>/.test-output/browser/<test>/.
func outputDir(t *testing.T) string {
	t.Helper()
	base := os.Getenv("SSOCTL_TEST_OUTPUT")
	if base == "" {
		base = filepath.Join(testenv.RepoRoot(t), ".test-output")
	}
	name := strings.Map(func(r rune) rune {
		if r == '/' || r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' {
			return r
		}
		return '_'
	}, t.Name())
	dir := filepath.Join(base, "browser", filepath.FromSlash(name))
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// originOf is rawURL's scheme://host:port.
func originOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	return u.Scheme + "://" + u.Host
}
