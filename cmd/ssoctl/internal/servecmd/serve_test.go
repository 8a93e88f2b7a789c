package servecmd

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/internal/browsertest"
)

func testFactory() (*cmdutil.Factory, *cmdutil.IOStreams) {
	ios, _, _, _ := cmdutil.Test()
	return &cmdutil.Factory{
		IO:        ios,
		LookupEnv: func(string) (string, bool) { return "", false },
		Now:       time.Now,
		Output:    cmdutil.FormatText,
	}, ios
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var held []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range held {
		l.Close()
	}
	return ports
}

// writeChain writes the local chain on the given ports: idp, idp admin,
// issuer, portal, dashboard.
func writeChain(t *testing.T, p []int) string {
	t.Helper()
	yaml := fmt.Sprintf(`version: 1
name: company
dev: true
idp:
  kind: dev
  public_url: http://auth.company.localhost:%d
  admin_url: http://auth.company.localhost:%d
  users:
    - {email: alice@example.com, password: wonderland}
issuer:
  url: http://accounts.company.localhost:%d
token:
  alg: HS256
  secret: dev-only-servecmd-test-secret-0123456789abcdef
receivers:
  - name: portal
    url: http://portal.company2.localhost:%d
  - name: dashboard
    url: http://dashboard.company3.localhost:%d
return_to:
  allow:
    - http://*.company.localhost:%d
    - http://portal.company2.localhost:%d
    - http://dashboard.company3.localhost:%d
`, p[0], p[1], p[2], p[3], p[4], p[2], p[3], p[4])
	path := filepath.Join(t.TempDir(), "chain.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startDev runs serve dev with opts until ctx is done, and returns once
// every role listens; done gets what the run returns.
func startDev(t *testing.T, ctx context.Context, opts *DevOptions) (done <-chan error) {
	t.Helper()
	ready := make(chan struct{})
	opts.ready = func([]*server) { close(ready) }
	ran := make(chan error, 1)
	go func() { ran <- devRun(ctx, opts) }()
	select {
	case <-ready:
	case err := <-ran:
		t.Fatalf("serve dev stopped before it was ready: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve dev not ready after 10s")
	}
	return ran
}

func TestServeDevRunsTheWholeChain(t *testing.T) {
	p := freePorts(t, 5)
	f, ios := testFactory()
	opts := &DevOptions{IO: ios, f: f, common: common{File: writeChain(t, p), LogFormat: "json", LogLevel: "info", Grace: time.Second}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := startDev(t, ctx, opts)

	n := browsertest.NewNet()
	n.Localhost = true
	b := browsertest.New(t, n)
	b.Email, b.Password = "alice@example.com", "wonderland"
	dashboard := fmt.Sprintf("http://dashboard.company3.localhost:%d/", p[4])
	page := b.Visit(fmt.Sprintf("http://accounts.company.localhost:%d/login?return_to=%s", p[2], dashboard))
	if page.URL != dashboard || page.Status != 200 {
		t.Fatalf("walk ended at %s with %d", page.URL, page.Status)
	}
	for _, auth := range []string{
		fmt.Sprintf("http://portal.company2.localhost:%d/auth", p[3]),
		fmt.Sprintf("http://dashboard.company3.localhost:%d/auth", p[4]),
	} {
		if resp, _ := b.Get(auth); resp.StatusCode != 200 {
			t.Errorf("%s = %d, want 200", auth, resp.StatusCode)
		}
	}

	cancel()
	stopsCleanly(t, done, 5*time.Second, "serve dev after a SIGTERM-like cancel")
	out := ios.Out.(interface{ String() string }).String()
	if !strings.Contains(out, "Open http://accounts.company.localhost:") || !strings.Contains(out, "alice@example.com") {
		t.Errorf("stdout does not say what to open:\n%s", out)
	}
	logs := ios.ErrOut.(interface{ String() string }).String()
	if !strings.Contains(logs, `"path":"/sso"`) || strings.Contains(logs, "eyJ") || strings.Contains(logs, "wonderland") {
		t.Errorf("logs miss the /sso line or hold a token or a password:\n%s", logs)
	}
	// Every port is free again.
	for _, port := range p {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Errorf("port %d still held after stop: %v", port, err)
			continue
		}
		l.Close()
	}
}

func TestServePortInUseFailsBeforeServing(t *testing.T) {
	p := freePorts(t, 5)
	busy, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p[3])) // portal's port
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	f, ios := testFactory()
	opts := &DevOptions{IO: ios, f: f, common: common{File: writeChain(t, p), LogFormat: "text", LogLevel: "info", Grace: time.Second}}
	err = devRun(context.Background(), opts)
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || err == nil || !strings.Contains(err.Error(), "portal") {
		t.Fatalf("serve dev with portal's port taken = %v (exit %d), want exit 2 naming portal", err, cmdutil.ExitCode(err))
	}
	for i, port := range p {
		if i == 3 {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Errorf("port %d left held after the failed start: %v", port, err)
			continue
		}
		l.Close()
	}
}

func TestServeUsageErrors(t *testing.T) {
	p := freePorts(t, 5)
	good := writeChain(t, p)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("version: 1\nname: x\nissuer: {url: http://a.example}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	kratos := filepath.Join(t.TempDir(), "kratos.yaml")
	data, _ := os.ReadFile(good)
	if err := os.WriteFile(kratos, []byte(strings.Replace(strings.Replace(string(data), "kind: dev", "kind: kratos", 1), "  users:\n    - {email: alice@example.com, password: wonderland}\n", "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"no chain file", func() error { return devRun(context.Background(), devOpts(common{})) }, "-f FILE is required"},
		{"missing chain file", func() error { return devRun(context.Background(), devOpts(common{File: "nope.yaml"})) }, "nope.yaml"},
		{"chain file with errors", func() error { return devRun(context.Background(), devOpts(common{File: bad})) }, "bad.yaml:"},
		{"bad log format", func() error {
			return devRun(context.Background(), devOpts(common{File: good, LogFormat: "xml", LogLevel: "info"}))
		}, "--log-format"},
		{"bad log level", func() error {
			return devRun(context.Background(), devOpts(common{File: good, LogFormat: "text", LogLevel: "loud"}))
		}, "--log-level"},
		{"negative drain delay", func() error {
			return devRun(context.Background(), devOpts(common{File: good, DrainDelay: -time.Second}))
		}, "--drain-delay -1s: must not be negative"},
		{"negative grace", func() error { return devRun(context.Background(), devOpts(common{File: good, Grace: -time.Second})) }, "--grace -1s: must not be negative"},
		{"receiver without --name", func() error { return roleRun(context.Background(), roleOpts("receiver", "", good)) }, "--name is required"},
		{"unknown receiver", func() error { return roleRun(context.Background(), roleOpts("receiver", "nope", good)) }, `no receiver named "nope"`},
		{"dev IdP for a Kratos chain", func() error { return roleRun(context.Background(), roleOpts("idp", "", kratos)) }, "runs only the dev IdP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(fmt.Sprint(err), tt.want) {
				t.Errorf("error = %v (exit %d), want exit 2 and %q", err, cmdutil.ExitCode(err), tt.want)
			}
		})
	}
}

func devOpts(c common) *DevOptions {
	f, ios := testFactory()
	if c.LogFormat == "" {
		c.LogFormat, c.LogLevel = "text", "info"
	}
	return &DevOptions{IO: ios, f: f, common: c}
}

func roleOpts(role, name, file string) *RoleOptions {
	f, ios := testFactory()
	return &RoleOptions{IO: ios, f: f, role: role, Name: name, common: common{File: file, LogFormat: "text", LogLevel: "info", Grace: time.Second}}
}
