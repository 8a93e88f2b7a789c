package cmdutil_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
)

// update is accepted, and unused, so that `go test ./cmd/... -update`
// refreshes the golden files of the packages that have them.
var _ = flag.Bool("update", false, "no golden files in this package")

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{name: "nil", err: nil, want: cmdutil.ExitOK},
		{name: "usage", err: cmdutil.UsageError("", "bad flag"), want: cmdutil.ExitUsage},
		{name: "check failed", err: cmdutil.CheckFailed(), want: cmdutil.ExitCheckFailed},
		{name: "failed with message", err: cmdutil.FailedError("", "no token"), want: cmdutil.ExitCheckFailed},
		{name: "unavailable", err: cmdutil.UnavailableError("", errors.New("down")), want: cmdutil.ExitUnavailable},
		{name: "wrapped", err: fmt.Errorf("context: %w", cmdutil.UnavailableError("", errors.New("down"))), want: cmdutil.ExitUnavailable},
		{name: "unclassified is usage", err: errors.New("cobra said no"), want: cmdutil.ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cmdutil.ExitCode(tt.err); got != tt.want {
				t.Errorf("ExitCode = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestExitError(t *testing.T) {
	cause := errors.New("dial tcp: refused")
	err := cmdutil.UnavailableError("check the URL", cause)
	var ee *cmdutil.ExitError
	if !errors.As(err, &ee) || ee.Hint != "check the URL" || ee.Silent {
		t.Fatalf("ExitError = %+v", ee)
	}
	if !errors.Is(err, cause) || err.Error() != cause.Error() {
		t.Errorf("the cause is lost: %v", err)
	}
	silent := cmdutil.CheckFailed()
	if !errors.As(silent, &ee) || !ee.Silent || silent.Error() != "exit 1" {
		t.Errorf("CheckFailed = %+v %q", ee, silent.Error())
	}
	u := cmdutil.UsageError("hint", "--%s is required", "iss")
	if u.Error() != "--iss is required" {
		t.Errorf("UsageError text = %q", u.Error())
	}
}

func TestSince(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "now"},
		{500 * time.Millisecond, "now"},
		{-999 * time.Millisecond, "now"},
		{time.Second, "in 1s"},
		{23 * time.Second, "in 23s"},
		{-23 * time.Second, "23s ago"},
		{59*time.Second + 999*time.Millisecond, "in 59s"},
		{time.Minute, "in 1m"},
		{-3*time.Minute - 30*time.Second, "3m ago"},
		{time.Hour, "in 1h"},
		{-47 * time.Hour, "47h ago"},
		{48 * time.Hour, "in 2d"},
		{-400 * 24 * time.Hour, "400d ago"},
	}
	for _, tt := range tests {
		t.Run(tt.d.String(), func(t *testing.T) {
			if got := cmdutil.Since(now.Add(tt.d), now); got != tt.want {
				t.Errorf("Since(now%+v) = %q, want %q", tt.d, got, tt.want)
			}
		})
	}
}

// TestSystem_noColor: NO_COLOR (any non-empty value, https://no-color.org)
// turns color off even on a terminal.
func TestSystem_noColor(t *testing.T) {
	tests := []struct {
		name      string
		noColor   string
		set       bool
		tty       bool
		wantColor bool
	}{
		{name: "terminal", tty: true, wantColor: true},
		{name: "not a terminal", tty: false, wantColor: false},
		{name: "terminal with NO_COLOR=1", noColor: "1", set: true, tty: true, wantColor: false},
		{name: "terminal with NO_COLOR=false still disables", noColor: "false", set: true, tty: true, wantColor: false},
		{name: "terminal with empty NO_COLOR", noColor: "", set: true, tty: true, wantColor: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.set {
				t.Setenv("NO_COLOR", tt.noColor)
			} else {
				t.Setenv("NO_COLOR", "")
			}
			s := cmdutil.System()
			s.SetStdoutTTY(tt.tty)
			s.SetStderrTTY(tt.tty)
			if got := s.ColorEnabled(); got != tt.wantColor {
				t.Errorf("ColorEnabled = %v, want %v", got, tt.wantColor)
			}
			if got := s.ErrColorEnabled(); got != tt.wantColor {
				t.Errorf("ErrColorEnabled = %v, want %v", got, tt.wantColor)
			}
		})
	}
}

func TestTestStreams(t *testing.T) {
	ios, in, out, errOut := cmdutil.Test()
	if ios.IsStdinTTY() || ios.IsStdoutTTY() || ios.ColorEnabled() {
		t.Error("test streams must start as no terminal and no color")
	}
	in.WriteString("x")
	fmt.Fprint(ios.Out, "o")
	fmt.Fprint(ios.ErrOut, "e")
	if b := make([]byte, 1); func() bool { n, _ := ios.In.Read(b); return n != 1 || b[0] != 'x' }() {
		t.Error("In is not the in buffer")
	}
	if out.String() != "o" || errOut.String() != "e" {
		t.Errorf("out %q err %q", out, errOut)
	}
	ios.SetStdinTTY(true)
	ios.SetStdoutTTY(true)
	if !ios.IsStdinTTY() || !ios.ColorEnabled() {
		t.Error("fake terminal not honoured")
	}
	ios.SetColorDisabled(true)
	if ios.ColorEnabled() {
		t.Error("SetColorDisabled not honoured")
	}
}

func TestStyles(t *testing.T) {
	var buf bytes.Buffer
	plain := cmdutil.NewStyles(&buf, false)
	for _, s := range []string{
		plain.Heading.Render("Claims"), plain.Bad.Render("INVALID"), plain.Good.Render("VALID"),
		plain.Warn.Render("UNVERIFIED"), plain.Code.Render("aud"), plain.Label.Render("iss"), plain.Dim.Render("(x)"),
	} {
		if strings.Contains(s, "\x1b") {
			t.Errorf("plain style wrote an escape: %q", s)
		}
	}
	if got := plain.Label.Render("iss      "); got != "iss      " {
		t.Errorf("plain render changed the text: %q", got)
	}
	color := cmdutil.NewStyles(&buf, true)
	if got := color.Bad.Render("INVALID"); !strings.Contains(got, "\x1b[") || !strings.Contains(got, "INVALID") {
		t.Errorf("color style = %q", got)
	}
}

func TestOutputFormat(t *testing.T) {
	tests := []struct {
		name      string
		output    string
		supported []string
		want      string
		wantCode  int
	}{
		{name: "text by default", output: "text", want: "text"},
		{name: "json", output: "json", want: "json"},
		{name: "unknown", output: "yaml", wantCode: cmdutil.ExitUsage},
		{name: "not supported here", output: "json", supported: []string{"text"}, wantCode: cmdutil.ExitUsage},
		{name: "junit where supported", output: "junit", supported: []string{"text", "json", "junit"}, want: "junit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &cmdutil.Factory{Output: tt.output}
			got, err := f.OutputFormat(tt.supported...)
			if cmdutil.ExitCode(err) != tt.wantCode || got != tt.want {
				t.Errorf("OutputFormat = %q, %v", got, err)
			}
		})
	}
}

func TestWriteJSON(t *testing.T) {
	var buf bytes.Buffer
	doc := map[string]any{"schema_version": cmdutil.SchemaVersion, "b": 2, "a": 1}
	if err := cmdutil.WriteJSON(&buf, doc); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"a\": 1,\n  \"b\": 2,\n  \"schema_version\": 1\n}\n"
	if buf.String() != want {
		t.Errorf("WriteJSON =\n%s\nwant\n%s", buf.String(), want)
	}

	// A token's raw claims pass through as they are, even with a repeated
	// member, so decode -o json can show such a token.
	buf.Reset()
	raw := struct {
		Claims jsontext.Value `json:"claims"`
	}{jsontext.Value(`{"aud":"portal","aud":"dashboard"}`)}
	if err := cmdutil.WriteJSON(&buf, raw); err != nil {
		t.Fatalf("raw JSON with a duplicate member: %v", err)
	}
	if !strings.Contains(buf.String(), `"dashboard"`) {
		t.Errorf("WriteJSON = %s", buf.String())
	}
}
