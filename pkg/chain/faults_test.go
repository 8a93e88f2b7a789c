package chain

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// faultsDev is a dev chain with two served receivers and a shared_cookie
// one; TestFaultRules appends a faults block.
const faultsDev = `version: 1
name: t
dev: true
idp: {kind: dev, public_url: "http://auth.t.localhost:4433", users: [{email: a@example.com, password: a}]}
issuer: {url: "http://accounts.t.localhost:8080", cookie: {domain: t.localhost}}
receivers:
  - {name: portal, url: "http://portal.localhost:8081"}
  - {name: dashboard, url: "http://dashboard.localhost:8082"}
  - {name: wiki, url: "http://wiki.t.localhost:8083", shared_cookie: true}
return_to: {allow: ["http://*.t.localhost:8080", "http://portal.localhost:8081", "http://dashboard.localhost:8082", "http://wiki.t.localhost:8083"]}
`

func TestFaultRules(t *testing.T) {
	tests := []struct {
		name   string
		faults string // the faults block, appended to faultsDev
		want   string // the one error expected ("line:col: message" prefix); "" when the chain loads
		warned bool   // loads with FaultsWarning
	}{
		{name: "no faults block", faults: "", warned: false},
		{name: "an empty faults block", faults: "faults: {}\n", warned: false},
		{name: "a faults block of nothing", faults: "faults:\n", warned: false},
		{name: "issuer faults", faults: "faults: {issuer: {open_return_to: true, loop_on_callback: true}}\n", warned: true},
		{name: "an issuer that signs out for any link", faults: "faults: {issuer: {logout_without_asking: true}}\n", warned: true},
		{name: "faults switched off", faults: "faults: {issuer: {open_return_to: false}, receivers: {portal: {ignore: [], skip_idp_recheck: false}}}\n", warned: false},
		{name: "a receiver ignoring reasons", faults: "faults: {receivers: {dashboard: {ignore: [audience_mismatch, token_replayed]}}}\n", warned: true},
		{name: "a receiver skipping the re-check", faults: "faults: {receivers: {portal: {skip_idp_recheck: true}}}\n", warned: true},
		{
			name:   "a receiver that does not exist",
			faults: "faults: {receivers: {dashbaord: {skip_idp_recheck: true}}}\n",
			want:   `11:22: faults.receivers names no receiver "dashbaord"; did you mean "dashboard"?`,
		},
		{
			name:   "a receiver nowhere near a name",
			faults: "faults: {receivers: {billing: {skip_idp_recheck: true}}}\n",
			want:   `11:22: faults.receivers names no receiver "billing"; use one of the receivers' names: portal, dashboard`,
		},
		{
			name:   "a shared_cookie receiver",
			faults: "faults: {receivers: {wiki: {skip_idp_recheck: true}}}\n",
			want:   "11:22: faults.receivers.wiki: ssoctl does not serve shared_cookie receivers",
		},
		{
			name:   "a misspelt reason code",
			faults: "faults: {receivers: {portal: {ignore: [token_replay]}}}\n",
			want:   `11:40: faults.receivers.portal.ignore[0] "token_replay" is not a pkg/token reason code; did you mean "token_replayed"?`,
		},
		{
			name:   "part of a reason code",
			faults: "faults: {receivers: {portal: {ignore: [signature]}}}\n",
			want:   `11:40: faults.receivers.portal.ignore[0] "signature" is not a pkg/token reason code; did you mean "signature_invalid"?`,
		},
		{
			name:   "a reason code of an unreadable token",
			faults: "faults: {receivers: {portal: {ignore: [base64_invalid]}}}\n",
			want:   "11:40: faults.receivers.portal.ignore[0] base64_invalid cannot be ignored",
		},
		{
			name:   "a reason code twice",
			faults: "faults: {receivers: {portal: {ignore: [alg_none, alg_none]}}}\n",
			want:   `11:50: faults.receivers.portal.ignore[1] "alg_none" is already listed at ignore[0]`,
		},
		{
			name:   "ignore as one string",
			faults: "faults: {receivers: {portal: {ignore: audience_mismatch}}}\n",
			want:   "11:39: faults.receivers.portal.ignore must be a list, got a string",
		},
		{
			name:   "receivers as a list",
			faults: "faults: {receivers: [portal]}\n",
			want:   "11:21: faults.receivers must be a mapping from receiver name to its faults, got a list",
		},
		{
			name:   "a misspelt issuer fault",
			faults: "faults: {issuer: {open_returnto: true}}\n",
			want:   `11:19: unknown key "open_returnto" in faults.issuer; did you mean "open_return_to"?`,
		},
		{
			name:   "an issuer fault one level too high",
			faults: "faults: {open_return_to: true}\n",
			want:   `11:10: unknown key "open_return_to" in faults; did you mean issuer.open_return_to?`,
		},
		{
			name:   "yes for true",
			faults: "faults: {issuer: {loop_on_callback: yes}}\n",
			want:   "11:37: faults.issuer.loop_on_callback must be true or false, got a string; YAML 1.2 reads yes",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("t.yaml", []byte(faultsDev+tt.faults))
			if tt.want != "" {
				var le *LintError
				if !errors.As(err, &le) {
					t.Fatalf("Parse = %v, want a *LintError with %q", err, tt.want)
				}
				if errs := le.Errors(); len(errs) != 1 || !strings.HasPrefix(errs[0].String(), tt.want) {
					t.Errorf("problems:\n%v\nwant exactly one error starting %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("chain does not load:\n%v", err)
			}
			var warned []string
			for _, w := range c.Warnings {
				if w.Message == FaultsWarning {
					warned = append(warned, w.String())
				}
			}
			if (len(warned) == 1) != tt.warned || len(warned) > 1 {
				t.Errorf("faults warnings %q, want one: %v", warned, tt.warned)
			}
			if tt.warned && !strings.HasPrefix(warned[0], "11:1: warning: ") {
				t.Errorf("warning %q is not at the faults key (11:1)", warned[0])
			}
		})
	}
}

func TestFaultsNeedDev(t *testing.T) {
	for _, tt := range []struct {
		name   string
		faults string
	}{
		{"an issuer fault", "faults:\n  issuer: {open_return_to: true}\n"},
		{"a receiver fault", "faults:\n  receivers: {portal: {ignore: [audience_mismatch]}}\n"},
		{"an empty block", "faults: {}\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(minimalProd+"token: {secret: {env: SSO_SECRET}}\nissuer: {url: \"https://accounts.company.com\"}\nreceivers: [{name: portal, url: \"https://portal.company2.com\"}]\n"+tt.faults))
			var le *LintError
			if !errors.As(err, &le) {
				t.Fatalf("Parse = %v, want a *LintError", err)
			}
			const want = "8:1: faults need dev: true: they make the roles misbehave on purpose; remove the faults block"
			if errs := le.Errors(); len(errs) != 1 || !strings.HasPrefix(errs[0].String(), want) {
				t.Errorf("problems:\n%v\nwant exactly one error starting %q", err, want)
			}
		})
	}
}

// The roles read faults through IssuerFaults and ReceiverFaults, which
// give nothing outside dev, whatever a Chain built in Go holds.
func TestFaultAccessorsOnlyInDev(t *testing.T) {
	c, err := Parse("t.yaml", []byte(faultsDev+"faults:\n  issuer: {loop_on_callback: true}\n  receivers:\n    portal: {ignore: [audience_mismatch], skip_idp_recheck: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	outsideDev := *c
	outsideDev.Dev = false
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"issuer faults", c.IssuerFaults(), IssuerFaults{LoopOnCallback: true}},
		{"portal's faults", c.ReceiverFaults("portal"), ReceiverFaults{Ignore: []string{"audience_mismatch"}, SkipIdPRecheck: true}},
		{"dashboard has none", c.ReceiverFaults("dashboard"), ReceiverFaults{}},
		{"portal ignores audience_mismatch", c.ReceiverFaults("portal").Ignores("audience_mismatch"), true},
		{"portal does not ignore token_expired", c.ReceiverFaults("portal").Ignores("token_expired"), false},
		{"some fault is on", c.Faults.Any(), true},
		{"no issuer faults outside dev", outsideDev.IssuerFaults(), IssuerFaults{}},
		{"no receiver faults outside dev", outsideDev.ReceiverFaults("portal"), ReceiverFaults{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
}

func TestParseReturnTo(t *testing.T) {
	for _, tt := range []struct {
		raw  string
		want string // canonical form; "" when refused
	}{
		{"https://evil.example", "https://evil.example/"},
		{"HTTPS://Evil.Example:443/a?b=c", "https://evil.example/a?b=c"},
		{"http://portal.company2.localhost:8081/x", "http://portal.company2.localhost:8081/x"},
		{"//evil.example/", ""},
		{"https:evil.example", ""},
		{"https://good.example@evil.example/", ""},
		{`https://good.example\@evil.example/`, ""},
		{"https://evil.example/%0d%0aSet-Cookie:x", ""},
		{"javascript:alert(1)", ""},
		{"/relative", ""},
	} {
		t.Run(tt.raw, func(t *testing.T) {
			u, err := ParseReturnTo(tt.raw)
			switch {
			case tt.want == "" && !errors.Is(err, ErrReturnToRefused):
				t.Errorf("ParseReturnTo = %v, %v; want refused", u, err)
			case tt.want != "" && (err != nil || u.String() != tt.want):
				t.Errorf("ParseReturnTo = %v, %v; want %s", u, err, tt.want)
			}
		})
	}
}

// TestBrokenExamples: every chain file of examples/broken loads (lint exits
// 0; warnings are fine), is examples/local/chain.yaml changed in one
// place, says at the top what is broken, what trace reports and the fix,
// and has a row in the README.
func TestBrokenExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/broken/*.yaml")
	if err != nil || len(files) < 5 {
		t.Fatalf("examples/broken has %d chain files: %v", len(files), err)
	}
	local, err := os.ReadFile("../../examples/local/chain.yaml")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../examples/broken/README.md")
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]bool{}
	for _, k := range FindingKinds() {
		codes[k.Code] = true
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			c, err := Load(file)
			if err != nil {
				t.Fatalf("chain lint would fail:\n%v", err)
			}
			if !c.Dev {
				t.Error("not a dev chain")
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			header, body := splitHeader(string(data))
			for _, want := range []string{"BROKEN ON PURPOSE", "# Broken:", "# Trace: SSO", "# Fix:", "ssoctl trace chain -f examples/broken/" + name + " --sandbox --probe"} {
				if !strings.Contains(header, want) {
					t.Errorf("the comment at the top does not say %q", want)
				}
			}
			code := header[strings.Index(header, "# Trace: ")+len("# Trace: "):][:6]
			if !codes[code] {
				t.Errorf("the comment names %s, which is not in the findings catalog", code)
			}
			if !strings.Contains(string(readme), "["+name+"]("+name+")") || !strings.Contains(string(readme), code) {
				t.Errorf("README.md has no row linking %s with %s", name, code)
			}
			_, localBody := splitHeader(string(local))
			added, removed := lineDiff(localBody, body)
			if len(added) == 0 || len(added) > 4 || len(removed) > 2 {
				t.Errorf("not examples/local/chain.yaml changed in one place:\nadded %q\nremoved %q", added, removed)
			}
		})
	}
}

// splitHeader splits a chain file into its leading comment and the rest.
func splitHeader(s string) (header, body string) {
	i := strings.Index(s, "\nversion:")
	if i < 0 {
		return "", s
	}
	return s[:i+1], s[i+1:]
}

// lineDiff lists the lines of b that a does not have, and of a that b does
// not have.
func lineDiff(a, b string) (added, removed []string) {
	count := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(b, "\n") {
		if count[l] > 0 {
			count[l]--
			continue
		}
		added = append(added, l)
	}
	for l, n := range count {
		for range n {
			removed = append(removed, l)
		}
	}
	return added, removed
}
