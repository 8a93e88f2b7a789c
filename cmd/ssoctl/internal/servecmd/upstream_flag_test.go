package servecmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
)

// TestServeReceiverRefusesABadUpstream runs `serve receiver --upstream`
// through its flags, as the root does: a value that is not an absolute
// http(s) URL of a host, without credentials, a query or a fragment, is a
// usage error (exit 2) whose one line names the flag and the problem, and
// no listener is opened. The error never quotes the value, which could hold
// a password.
func TestServeReceiverRefusesABadUpstream(t *testing.T) {
	p := freePorts(t, 5)
	file := writeChain(t, p)
	tests := []struct {
		name     string
		upstream string
		want     string // the problem, after "--upstream: bad upstream URL: "
	}{
		{name: "empty", upstream: "", want: "empty"},
		{name: "not a URL", upstream: "::not a url", want: "not an absolute http or https URL"},
		{name: "a host:port without a scheme", upstream: "127.0.0.1:3000", want: "not an absolute http or https URL"},
		{name: "a relative path", upstream: "app/v1", want: "not an absolute http or https URL"},
		{name: "an absolute path", upstream: "/app", want: "not an absolute http or https URL"},
		{name: "a scheme-relative URL", upstream: "//127.0.0.1:3000", want: "not an absolute http or https URL"},
		{name: "ftp", upstream: "ftp://127.0.0.1:3000/", want: "not an absolute http or https URL"},
		{name: "a unix socket", upstream: "unix:///run/app.sock", want: "not an absolute http or https URL"},
		{name: "user and password", upstream: "http://admin:hunter2@127.0.0.1:3000", want: "has a user:password@ part"},
		{name: "a user alone", upstream: "http://admin@127.0.0.1:3000", want: "has a user:password@ part"},
		{name: "a query", upstream: "http://127.0.0.1:3000/?debug=1", want: "has a query"},
		{name: "an empty query", upstream: "http://127.0.0.1:3000/?", want: "has a query"},
		{name: "a fragment", upstream: "http://127.0.0.1:3000/#top", want: "has a fragment"},
		{name: "no host", upstream: "http://", want: "no host"},
		{name: "a port and no host", upstream: "http://:3000", want: "no host"},
		{name: "a path and no host", upstream: "https:///app", want: "no host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ios := testFactory()
			cmd := NewCmdServe(f)
			cmd.SilenceErrors, cmd.SilenceUsage = true, true
			var cobraOut bytes.Buffer
			cmd.SetOut(&cobraOut)
			cmd.SetErr(&cobraOut)
			cmd.SetArgs([]string{"receiver", "-f", file, "--name", "portal", "--log-level", "warn", "--upstream=" + tt.upstream})
			// A value wrongly taken starts the receiver, which serves until
			// the context ends and then stops cleanly: a nil error.
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			err := cmd.ExecuteContext(ctx)

			var ee *cmdutil.ExitError
			if !errors.As(err, &ee) || ee.Code != cmdutil.ExitUsage {
				t.Fatalf("--upstream %q: error %v (exit %d), want a usage error (exit 2)\nstdout: %s", tt.upstream, err, cmdutil.ExitCode(err), ios.Out)
			}
			// The root prints "ssoctl: <err>", then "hint: <hint>".
			line := fmt.Sprintf("ssoctl: %v", err)
			if want := "ssoctl: --upstream: bad upstream URL: " + tt.want; !strings.HasPrefix(line, want) || strings.Contains(line, "\n") {
				t.Errorf("error line %q, want one line starting %q", line, want)
			}
			if !strings.Contains(ee.Hint, "--upstream http://") {
				t.Errorf("hint %q does not show a good --upstream", ee.Hint)
			}
			if strings.Contains(line+ee.Hint, "hunter2") {
				t.Errorf("the error quotes the password: %q, hint %q", line, ee.Hint)
			}
			if out := fmt.Sprint(ios.Out); out != "" {
				t.Errorf("stdout %q, want nothing: the receiver said it was listening", out)
			}
			if cobraOut.Len() > 0 {
				t.Errorf("cobra printed %q; the root prints errors once", cobraOut.String())
			}
			// portal's port was never taken (nor left held).
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p[3]))
			if err != nil {
				t.Fatalf("portal's port is held after the refusal: %v", err)
			}
			l.Close()
		})
	}
}
