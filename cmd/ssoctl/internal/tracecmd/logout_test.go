package tracecmd_test

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
)

// withoutBackchannel writes the example chain with portal's back-channel
// logout switched off.
func withoutBackchannel(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(exampleChain)
	if err != nil {
		t.Fatal(err)
	}
	const line = "    cookie: {name: portal_session, ttl: 8h}\n"
	if !strings.Contains(string(data), line) {
		t.Fatalf("the example chain no longer has %q", line)
	}
	file := filepath.Join(t.TempDir(), "chain.yaml")
	if err := os.WriteFile(file, []byte(strings.Replace(string(data), line, line+"    backchannel_logout: false\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestSandbox_logout(t *testing.T) {
	r := run(t, "", "trace", "chain", "-f", exampleChain, "--sandbox", "--logout")
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"\nLogout\n", "✓ portal     signed out after ", "✓ dashboard  signed out after ", "logout[portal]", "\nPASS 9 steps in "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}

	js := run(t, "", "-o", "json", "trace", "chain", "-f", exampleChain, "--sandbox", "--logout")
	var trace struct {
		Logout struct {
			Final     string `json:"final"`
			Receivers []struct {
				Name      string  `json:"name"`
				SignedOut bool    `json:"signed_out"`
				LagMS     float64 `json:"lag_ms"`
			} `json:"receivers"`
		} `json:"logout"`
	}
	if err := json.Unmarshal([]byte(js.stdout), &trace); err != nil || js.code != 0 {
		t.Fatalf("-o json: exit %d, %v\n%s", js.code, err, js.stdout)
	}
	if n := len(trace.Logout.Receivers); n != 2 {
		t.Fatalf("logout.receivers has %d entries, want 2", n)
	}
	for _, rc := range trace.Logout.Receivers {
		if !rc.SignedOut || rc.LagMS <= 0 {
			t.Errorf("receiver %s: signed_out %v lag_ms %v", rc.Name, rc.SignedOut, rc.LagMS)
		}
	}
}

// TestSandbox_logoutWithoutBackchannel: a receiver that only the IdP
// re-check would sign out stays signed in past the deadline: SSO403, named
// for it, in every output, and exit 1.
func TestSandbox_logoutWithoutBackchannel(t *testing.T) {
	file := withoutBackchannel(t)
	r := run(t, "", "trace", "chain", "-f", file, "--sandbox", "--logout", "--logout-deadline", "500ms")
	if r.code != cmdutil.ExitCheckFailed {
		t.Fatalf("exit %d, want %d\n%s", r.code, cmdutil.ExitCheckFailed, r.stdout)
	}
	for _, want := range []string{
		"SSO403 error after the walk on portal.company2.localhost:8081: receiver still signed in after logout",
		"backchannel_logout: false",
		"✗ portal     still signed in after 500ms (200) SSO403",
		"✓ dashboard  signed out after ",
		"✗ logout[portal]",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}

	j := run(t, "", "trace", "chain", "-f", file, "--sandbox", "--logout", "--logout-deadline", "500ms", "-o", "junit")
	var doc struct {
		Suites []struct {
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(j.stdout), &doc); err != nil || len(doc.Suites) != 1 || j.code != cmdutil.ExitCheckFailed {
		t.Fatalf("-o junit: exit %d, %v", j.code, err)
	}
	failed := map[string]bool{}
	for _, c := range doc.Suites[0].Cases {
		if strings.HasPrefix(c.Name, "logout[") {
			failed[c.Name] = c.Failure != nil
		}
	}
	if !failed["logout[portal]"] || failed["logout[dashboard]"] || len(failed) != 2 {
		t.Errorf("junit logout testcases (name → failed): %v", failed)
	}

	m := run(t, "", "trace", "chain", "-f", file, "--sandbox", "--logout", "--logout-deadline", "500ms", "-o", "mermaid")
	if !strings.Contains(m.stdout, "portal: /auth 200 still signed in SSO403") {
		t.Errorf("-o mermaid does not show portal signed in:\n%s", m.stdout)
	}
}

func TestLogoutUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		err  string
	}{
		{"--logout without -f", []string{"trace", "chain", "--logout", "--start", "http://a.localhost/"}, "--logout needs -f FILE"},
		{"zero deadline", []string{"trace", "chain", "-f", exampleChain, "--sandbox", "--logout", "--logout-deadline", "0s"}, "--logout-deadline 0s: must be more than 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, "", tt.args...)
			if r.code != cmdutil.ExitUsage || !strings.Contains(r.stderr, "ssoctl: "+tt.err) || r.stdout != "" {
				t.Errorf("exit %d, stderr %q; want exit 2 and %q", r.code, r.stderr, tt.err)
			}
		})
	}
}
